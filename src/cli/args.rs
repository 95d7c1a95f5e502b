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
    /// `control.socket` or `<run_dir>/clawherd.sock`.
    #[arg(short = 'f', long = "file", default_value = "fleet.yaml", env = "CLAWHERD_FLEET")]
    pub file: PathBuf,
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

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prove the fleet isolated, then run every gateway in the foreground until SIGTERM/SIGINT.
    /// SIGHUP reloads the fleet file.
    Run {
        /// The fleet file.
        #[arg(default_value = "fleet.yaml", env = "CLAWHERD_FLEET")]
        file: PathBuf,
        /// Do not mirror gateway output to stdout (it still goes to the per-instance log files).
        #[arg(long)]
        quiet: bool,
    },
    /// Prove the fleet isolated: paths, ports, OpenClaw config keys, ports bound and state dirs
    /// locked on this host. Exit 0 when clean, 78 otherwise.
    Check {
        /// The fleet file.
        #[arg(default_value = "fleet.yaml", env = "CLAWHERD_FLEET")]
        file: PathBuf,
        /// Skip the checks against this host (bound ports, locked state dirs).
        #[arg(long)]
        no_host_ports: bool,
    },
    /// Print the port plan: instance, listener, port or range, source.
    Ports {
        /// The fleet file.
        #[arg(default_value = "fleet.yaml", env = "CLAWHERD_FLEET")]
        file: PathBuf,
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
    /// complete from the fleet file (`-f`, `$CLAWHERD_FLEET`, else ./fleet.yaml).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from the command-line definition.
    Man,
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
