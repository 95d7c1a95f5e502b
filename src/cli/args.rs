//! The command line (clap derive); each subcommand's help is its doc comment.

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;
use std::path::PathBuf;

/// Supervisor for fleets of OpenClaw gateways: proves their isolation, keeps them up.
#[derive(Debug, Parser)]
#[command(name = "clawherd", version, about, long_about = None)]
pub struct Cli {
    /// Log filter for clawherd's own messages (tracing env-filter syntax), e.g. `debug`.
    #[arg(long, global = true, env = "CLAWHERD_LOG", default_value = "info")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How a client command finds the daemon: the fleet file's socket, or an explicit one.
#[derive(Debug, Args)]
pub struct Target {
    /// The fleet file whose daemon to talk to: the daemon running it is found through its
    /// registry record (even after the file was edited or removed), else by the file's
    /// `control.socket` or `<run_dir>/clawherd.sock`. Default: ./fleet.yaml,
    /// $XDG_CONFIG_HOME/clawherd/fleet.yaml, /etc/clawherd/fleet.yaml, whichever exists first,
    /// else the one running daemon.
    #[arg(short = 'f', long = "file", env = "CLAWHERD_FLEET")]
    pub file: Option<PathBuf>,
    /// The control socket, overriding --file.
    #[arg(long, env = "CLAWHERD_SOCKET")]
    pub socket: Option<PathBuf>,
}

/// Which instances an action applies to.
#[derive(Debug, Args)]
pub struct Selection {
    /// Profile names.
    #[arg(required_unless_present = "all", conflicts_with = "all", add = ArgValueCompleter::new(super::complete::profiles))]
    pub profiles: Vec<String>,
    /// Every profile of the fleet (one after another).
    #[arg(long)]
    pub all: bool,
    /// Return once the request is queued instead of waiting for ready (or stopped).
    #[arg(long)]
    pub no_wait: bool,
    /// Longest wait per instance, e.g. `90s`, `5m`.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

/// What `clawherd upgrade` is asked: which profiles, to which version, with which waits.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Profile names (default with --all: every profile of the package's flavor).
    #[arg(required_unless_present_any = ["all", "unpin"], conflicts_with = "all")]
    pub profiles: Vec<String>,
    /// Every profile of the package's flavor.
    #[arg(long)]
    pub all: bool,
    /// The version, e.g. `openclaw@2026.9.6`.
    #[arg(long, required_unless_present = "unpin")]
    pub to: Option<String>,
    /// Remove the pins of the named profiles (all with none named) instead, so the fleet
    /// file's `openclaw_version` applies again after the reload.
    #[arg(long, conflicts_with_all = ["to", "all"])]
    pub unpin: bool,
    /// Go on without a snapshot when a state dir is too large to copy (no automatic
    /// restore of the state then).
    #[arg(long)]
    pub force: bool,
    /// Longest wait per step (stop, doctor, ready), e.g. `5m`.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Longest npm run.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub install_timeout: std::time::Duration,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prove the fleet isolated, then run every gateway in the foreground until SIGTERM/SIGINT.
    /// SIGHUP reloads the fleet file.
    Run {
        /// The fleet file (default: $CLAWHERD_FLEET, ./fleet.yaml,
        /// $XDG_CONFIG_HOME/clawherd/fleet.yaml, /etc/clawherd/fleet.yaml, the running daemon's).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// The fleet file, as other commands take it.
        #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "file")]
        file_flag: Option<PathBuf>,
        /// Do not mirror gateway output to stdout (it still goes to the per-instance log files).
        #[arg(long)]
        quiet: bool,
    },
    /// Prove the fleet isolated: paths, ports, OpenClaw config keys, ports bound and state dirs
    /// locked on this host. Exit 0 when clean, 78 otherwise.
    Check {
        /// The fleet file (default: $CLAWHERD_FLEET, ./fleet.yaml,
        /// $XDG_CONFIG_HOME/clawherd/fleet.yaml, /etc/clawherd/fleet.yaml, the running daemon's).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// The fleet file, as other commands take it.
        #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "file")]
        file_flag: Option<PathBuf>,
        /// Skip the checks against this host (bound ports, locked state dirs).
        #[arg(long)]
        no_host_ports: bool,
    },
    /// Print the port plan: instance, listener, port or range, source.
    Ports {
        /// The fleet file (default: $CLAWHERD_FLEET, ./fleet.yaml,
        /// $XDG_CONFIG_HOME/clawherd/fleet.yaml, /etc/clawherd/fleet.yaml, the running daemon's).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// The fleet file, as other commands take it.
        #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "file")]
        file_flag: Option<PathBuf>,
        /// Draw each instance's ports on one axis, with the free gaps between them.
        #[arg(long)]
        chart: bool,
    },
    /// Show every instance (or one): state, pid, uptime, restarts, last exit, port, readiness,
    /// liveness, CPU and memory of its whole process tree, OpenClaw's own signals.
    Status {
        /// Only this profile.
        #[arg(add = ArgValueCompleter::new(super::complete::profiles))]
        profile: Option<String>,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// Start instances and wait until ready.
    Start {
        /// Which instances.
        #[command(flatten)]
        sel: Selection,
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// Stop instances gracefully (SIGTERM, stop timeout, SIGKILL) and wait until stopped.
    Stop {
        /// Which instances.
        #[command(flatten)]
        sel: Selection,
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// Restart instances (one after another with --all) and wait until each is ready again.
    Restart {
        /// Which instances.
        #[command(flatten)]
        sel: Selection,
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// Show captured gateway output; several profiles are merged by time and prefixed.
    Logs {
        /// Profile names (default: all).
        #[arg(add = ArgValueCompleter::new(super::complete::profiles))]
        profiles: Vec<String>,
        /// Keep printing new lines (across log rotation) until interrupted.
        #[arg(short = 'F', long)]
        follow: bool,
        /// Lines to show first.
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: usize,
        /// Only lines from this long ago (`10m`) or since this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// Show the event stream (spawned, ready, exited, crash_loop, parked, failover, failback,
    /// liveness_failed, ...): the last N, then new ones with -F.
    Events {
        /// Keep printing new events until interrupted.
        #[arg(short = 'F', long)]
        follow: bool,
        /// Events to show first.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
        /// Print JSON lines as the API gives them.
        #[arg(long)]
        json: bool,
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// Find the OpenClaw profiles that exist on this host (~/.openclaw, ~/.openclaw-*,
    /// $OPENCLAW_HOME, legacy ~/.clawdbot), write a fleet file with roles proposed, and run the
    /// isolation proof on it. Exit 0 when proved, 78 when it found a clash (the file is written
    /// either way, unless it exists).
    Init {
        /// Where to write the fleet file.
        #[arg(default_value = "fleet.yaml")]
        file: PathBuf,
        /// The home to search (default $HOME).
        #[arg(long)]
        home: Option<PathBuf>,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
        /// Print the fleet file instead of writing it.
        #[arg(long)]
        stdout: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell). It registers
    /// clawherd with the shell, which then asks `clawherd` itself at each TAB: profile names
    /// complete from the fleet file's running daemon (its current instances), else from the
    /// file (`-f`, `$CLAWHERD_FLEET`, ./fleet.yaml, then the XDG and /etc fleet files).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from the command-line definition.
    Man,
    /// Install an OpenClaw version into clawherd's store (`<run_dir>/versions/openclaw@VERSION`)
    /// with npm from the registry, side by side with the others; an installed version is never
    /// written over. Needs Node (>= 24.16 for openclaw) and npm on PATH. Then set
    /// `openclaw_version: "VERSION"` in the fleet file, or run `clawherd upgrade`.
    Install {
        /// `openclaw@VERSION`, `clawdbot@VERSION`, or a dist-tag such as `openclaw@latest`.
        spec: String,
        /// The fleet file whose `run_dir` holds the store (default: $CLAWHERD_FLEET, ./fleet.yaml,
        /// $XDG_CONFIG_HOME/clawherd/fleet.yaml, /etc/clawherd/fleet.yaml, the running daemon's).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        /// Longest npm run, e.g. `30m`.
        #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Upgrade (or downgrade) profiles to an OpenClaw version: install it, then one profile at a
    /// time, standbys first: stop it, snapshot its state dir and config, run the new version's
    /// `doctor --non-interactive --fix` (what `openclaw update` runs), pin the version
    /// (`<run_dir>/versions/pins.json`; the fleet file is not edited), reload, and wait until
    /// ready. A profile that fails gets its snapshot and previous version back.
    Upgrade {
        /// What to upgrade, to which version.
        #[command(flatten)]
        upgrade: UpgradeArgs,
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// Re-read and re-prove the fleet file; apply only the difference. An invalid file changes
    /// nothing and its errors are printed. Exit 78 then.
    Reload {
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// A live view of the fleet in the terminal: instances (state, pid, CPU and RSS with their
    /// history, OpenClaw's signals), failover pairs, the port map, events and the selected
    /// instance's log; start, stop and restart from the keyboard (`?` lists the keys).
    Top {
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
    /// Prove the fleet, then write it for an engine that runs it without clawherd: Kubernetes
    /// (OpenClaw operator resources, or plain StatefulSets and Services) or systemd units.
    /// Exit 78 for a fleet that does not prove (nothing is written).
    Export {
        /// What to export to.
        #[command(subcommand)]
        target: ExportTarget,
    },
    /// Print the exact command line, working directory and environment clawherd uses for a
    /// profile, as shell lines to run the gateway by hand. Secret-looking values are redacted.
    Env {
        /// The profile.
        #[arg(add = ArgValueCompleter::new(super::complete::profiles))]
        profile: String,
        /// Print secret-looking values too.
        #[arg(long)]
        show_secrets: bool,
        /// Which daemon.
        #[command(flatten)]
        target: Target,
    },
}

/// Targets of `clawherd export`.
#[derive(Debug, Subcommand)]
pub enum ExportTarget {
    /// One `OpenClawInstance` per profile for the OpenClaw Kubernetes operator (or, with --plain,
    /// a StatefulSet and a Service), main and its standby on different nodes, probes and grace
    /// period from the fleet, a volume per state dir, secrets as Secret references with a Secret
    /// skeleton (`secrets.yaml`) naming their keys.
    Kubernetes {
        /// The fleet file (default: $CLAWHERD_FLEET, ./fleet.yaml,
        /// $XDG_CONFIG_HOME/clawherd/fleet.yaml, /etc/clawherd/fleet.yaml, the running daemon's).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// The fleet file, as other commands take it.
        #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "file")]
        file_flag: Option<PathBuf>,
        /// StatefulSets and Services instead of operator resources.
        #[arg(long)]
        plain: bool,
        /// Namespace of every object (default: none, kubectl's current one).
        #[arg(long)]
        namespace: Option<String>,
        /// A folder for one file per profile plus secrets.yaml; `-` (the default) prints one YAML stream.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Size of each state dir's volume, a Kubernetes quantity such as `10Gi` or `500M`.
        #[arg(long, default_value = "10Gi")]
        storage: String,
        /// Gateway image of --plain StatefulSets.
        #[arg(long, default_value = "ghcr.io/openclaw/openclaw:latest")]
        image: String,
    },
    /// One systemd unit per profile, named as OpenClaw names its own gateway units
    /// (`openclaw-gateway-<profile>.service`), carrying the proven command line and environment,
    /// restart policy and stop timeout; secrets go to `<unit>.env` skeletons.
    Systemd {
        /// The fleet file (default: $CLAWHERD_FLEET, ./fleet.yaml,
        /// $XDG_CONFIG_HOME/clawherd/fleet.yaml, /etc/clawherd/fleet.yaml, the running daemon's).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// The fleet file, as other commands take it.
        #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "file")]
        file_flag: Option<PathBuf>,
        /// A folder for the unit files; `-` (the default) prints them, each after a `# FILE` line.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
}
