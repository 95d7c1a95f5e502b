//! The fleet: profiles as declared, validated and proved isolated.
//!
//! Loading is a pipeline (process-compose's loader): [`file`](mod@file) parses the YAML with
//! locations, [`validate`] applies defaults and checks each value, [`plan`] reads each profile's
//! OpenClaw config and computes its effective paths and ports (each with its source), [`isolation`]
//! proves that no two instances share a path or a port, [`ownership`] that file modes keep the
//! instances of profiles with their own `user:` apart, and [`host`] checks the plan against ports
//! already bound on this host. Only the result, [`Fleet`], leaves this module. Beside the
//! pipeline: [`discover`] finds existing profiles for `init`, and [`versions`] keeps OpenClaw
//! versions side by side (the `openclaw_version` key, the store, pins, snapshots).

pub(crate) mod clawdbot_auth;
pub mod diagnostic;
pub(crate) mod discover;
pub(crate) mod env;
pub(crate) mod expand;
pub(crate) mod file;
pub mod host;
pub(crate) mod isolation;
pub(crate) mod locate;
pub(crate) mod openclaw;
pub(crate) mod ownership;
pub(crate) mod plan;
pub(crate) mod ranges;
pub(crate) mod read;
pub mod validate;
pub(crate) mod versions;
pub(crate) mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use diagnostic::{Diagnostic, Diagnostics, Place, Severity};
pub use env::Env;
pub use plan::{Listener, PathKind, Plan, PortRange, Source, Sourced};
pub use read::{ReadError, read_bounded, read_bounded_bytes};

/// What a profile is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// The main bot.
    Main,
    /// The isolated rescue bot that can repair main.
    Rescue,
}

impl Role {
    /// The fleet-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Rescue => "rescue",
        }
    }
}

/// Which generation of the gateway a profile runs; decides env names, file names and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Flavor {
    /// Today's OpenClaw (`OPENCLAW_*`, `openclaw.json`, ports base, base+2, base+10, base+11..=base+110).
    OpenClaw,
    /// The older Moltbot/Clawdbot generation (`CLAWDBOT_*`, `clawdbot.json`, `browser.controlPort`,
    /// `canvasHost.port` = base+4, CDP controlPort+9..=controlPort+108).
    Clawdbot,
    /// Any other program next to the gateways (a tunnel, a browser, a benchmark child): its
    /// command as written, its declared `port`/`ports` proved like any other, ready once spawned.
    Process,
}

impl Flavor {
    /// The fleet-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::OpenClaw => "openclaw",
            Flavor::Clawdbot => "clawdbot",
            Flavor::Process => "process",
        }
    }

    /// Prefix of the gateway's environment variables (`OPENCLAW` or `CLAWDBOT`). This and the two
    /// helpers below are only asked for gateways; a plain process shares OpenClaw's answers.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Flavor::OpenClaw | Flavor::Process => "OPENCLAW",
            Flavor::Clawdbot => "CLAWDBOT",
        }
    }

    /// State dir name under home for the default profile (`.openclaw` / `.clawdbot`).
    pub fn home_dir_name(self) -> &'static str {
        match self {
            Flavor::OpenClaw | Flavor::Process => ".openclaw",
            Flavor::Clawdbot => ".clawdbot",
        }
    }

    /// Config file name inside the state dir (`openclaw.json` / `clawdbot.json`).
    pub fn config_file_name(self) -> &'static str {
        match self {
            Flavor::OpenClaw | Flavor::Process => "openclaw.json",
            Flavor::Clawdbot => "clawdbot.json",
        }
    }
}

/// When an exited gateway is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RestartPolicy {
    /// Every exit clawherd did not ask for.
    Always,
    /// Non-zero exits, deaths by signal and failed spawns; exit 0 counts as a deliberate stop
    /// (so OpenClaw's exit-0 restart hand-back, docs/openclaw.md "Restart hand-off", is not followed).
    OnFailure,
    /// Never; the instance stays stopped.
    Never,
}

/// Restart settings of one profile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestartSettings {
    /// The policy.
    pub policy: RestartPolicy,
    /// First backoff delay.
    pub backoff_initial: Duration,
    /// Largest backoff delay.
    pub backoff_max: Duration,
    /// Uptime after which the backoff goes back to `backoff_initial`.
    pub backoff_reset_after: Duration,
    /// Starts allowed within `crash_loop_window`; one more is a crash loop.
    pub crash_loop_max_starts: u32,
    /// Sliding window of the crash-loop tally.
    pub crash_loop_window: Duration,
    /// Slow cadence of retries while in a crash loop.
    pub crash_loop_retry: Duration,
}

/// Liveness and readiness probing of one profile (process-compose / Kubernetes terms).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealthSettings {
    /// Probe period once ready (or once `startup_grace` is over).
    pub period: Duration,
    /// Timeout of one probe.
    pub timeout: Duration,
    /// Consecutive failures that count: liveness → restart, readiness → unready.
    pub failure_threshold: u32,
    /// Liveness is not judged during this time after spawn unless the gateway got ready before:
    /// a slow boot is never killed.
    pub startup_grace: Duration,
    /// Graceful stop budget of a liveness restart before SIGKILL.
    pub kill_after: Duration,
    /// Whether liveness is probed at all.
    pub liveness: bool,
}

/// Whether a standby runs all the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StandbyMode {
    /// Always running (OpenClaw's documented rescue bot).
    Hot,
    /// Started only while the profile it stands by for is down; stopped after failback.
    Cold,
}

/// A profile that stands by for another.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Standby {
    /// The protected profile.
    pub standby_for: String,
    /// Hot or cold.
    pub mode: StandbyMode,
    /// Protected profile not ready this long → failover.
    pub failover_after: Duration,
    /// Protected profile ready again this long → failback.
    pub failback_after: Duration,
}

/// Which variables of clawherd's own environment a child inherits (fleet key `env_inherit`,
/// docs/fleet-file.md "Environment"). Whatever the choice, [`plan::SCRUBBED_ENV`] is never
/// inherited and the profile's `env:` and clawherd's own variables are set over the result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EnvInherit {
    /// [`plan::INHERITED_ENV`] plus these names or patterns (`*` matches any run of characters,
    /// `AWS_*`); empty for the plain `allowlist`. The default.
    Allowlist(Vec<String>),
    /// Everything (`env_inherit: all`): the behaviour of a plain fork/exec.
    All,
}

impl Default for EnvInherit {
    /// The built-in allowlist with no extra names.
    fn default() -> Self {
        EnvInherit::Allowlist(Vec::new())
    }
}

impl EnvInherit {
    /// Whether a variable named `name` of clawherd's environment is passed on to a child.
    pub fn passes(&self, name: &str) -> bool {
        if plan::scrubbed(name) {
            return false;
        }
        match self {
            EnvInherit::All => true,
            EnvInherit::Allowlist(extra) => {
                plan::inherited_by_default(name) || extra.iter().any(|pattern| plan::env_pattern_matches(pattern, name))
            }
        }
    }
}

/// Hooks run on failover and failback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Command (program and arguments) run with the event in its environment.
    pub command: Option<Vec<String>>,
    /// `http://` URL the event is POSTed to as JSON.
    pub url: Option<String>,
    /// Timeout of one run.
    pub timeout: Duration,
    /// What the command inherits of clawherd's environment: `defaults.env_inherit`, so that a
    /// hook sees the same variables as a gateway of the fleet (plus its `CLAWHERD_*` event).
    pub env_inherit: EnvInherit,
}

/// The Unix user and group a profile's gateway runs as (`user:`/`group:`), as the user and
/// group databases had them when the fleet was loaded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunAs {
    /// User name.
    pub user: String,
    /// Group name: `group:`, else the user's primary group (its gid as text when it has no name).
    pub group: String,
    /// uid, gid and supplementary groups (`getgrouplist` of the user and gid) set in the child
    /// before exec.
    pub credentials: crate::process::spawn::Credentials,
    /// The user's home directory (passwd): the gateway's `HOME`, what `~` means for it and where
    /// its default state dir is.
    pub home: PathBuf,
    /// Where `user:` is written.
    pub place: Place,
}

/// One validated profile: what the operator declared, defaults applied, nothing derived yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// Fleet profile name (`main`, `rescue`, ...).
    pub name: String,
    /// Where the profile is declared in the fleet file.
    pub place: Place,
    /// Main or rescue.
    pub role: Role,
    /// Gateway generation.
    pub flavor: Flavor,
    /// OpenClaw profile name; `None` is the default profile.
    pub openclaw_profile: Option<String>,
    /// Explicit config file (absolute).
    pub config: Option<Sourced<PathBuf>>,
    /// Explicit state dir (absolute).
    pub state_dir: Option<Sourced<PathBuf>>,
    /// Explicit workspace (absolute).
    pub workspace: Option<Sourced<PathBuf>>,
    /// Explicit base port.
    pub port: Option<Sourced<u16>>,
    /// Further declared ports (`flavor: process` only).
    pub ports: Vec<Sourced<u16>>,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Extra arguments after clawherd's own.
    pub args: Vec<String>,
    /// Extra environment (expanded), merged over the defaults.
    pub env: BTreeMap<String, String>,
    /// Which variables of clawherd's environment the child inherits (`env_inherit`).
    pub env_inherit: EnvInherit,
    /// Explicit working directory (absolute); default the state dir.
    pub cwd: Option<PathBuf>,
    /// The user and group the gateway runs as; `None` runs it as clawherd's own.
    pub run_as: Option<RunAs>,
    /// Restart settings.
    pub restart: RestartSettings,
    /// Graceful stop budget before SIGKILL.
    pub stop_timeout: Duration,
    /// What the gateway left behind when it exited (processes of its tree still alive) gets this
    /// long between SIGTERM and SIGKILL (fleet key `leftover_grace`, default 2 s).
    pub leftover_grace: Duration,
    /// Probing.
    pub health: HealthSettings,
    /// Failover role, when this profile stands by for another.
    pub standby: Option<Standby>,
    /// How a change to this profile is verified and rolled back.
    pub rollout: RolloutSettings,
}

/// How a change to a profile is rolled out (the `rollout:` block; docs/rollout.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RolloutSettings {
    /// How long the changed instance may take to become ready (default 2 min).
    pub verify_timeout: Duration,
    /// How long it must then stay ready without an exit or a liveness failure (default 30 s).
    pub soak: Duration,
    /// Whether a failed change is rolled back to the last-known-good (default true).
    pub rollback: bool,
}

impl Default for RolloutSettings {
    /// 2 min to become ready, 30 s of soak, rollback on.
    fn default() -> Self {
        RolloutSettings {
            verify_timeout: Duration::from_secs(120),
            soak: Duration::from_secs(30),
            rollback: true,
        }
    }
}

/// Size rotation of each instance's captured output (`<run_dir>/logs/<profile>.log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate when the current file would exceed this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept (`<profile>.log.1` is the newest).
    pub keep: u32,
}

impl Default for Rotation {
    /// 10 MiB × (5 kept + 1 current) = at most 60 MiB per instance.
    fn default() -> Self {
        Rotation {
            max_bytes: 10 * 1024 * 1024,
            keep: 5,
        }
    }
}

/// Fleet-level settings of a fleet file (everything but the profiles), defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    /// Folder for clawherd's own files (captured output, events).
    pub run_dir: PathBuf,
    /// Rotation of captured gateway output.
    pub rotation: Rotation,
    /// The control socket.
    pub socket: PathBuf,
    /// A group allowed on the control socket (name, gid).
    pub socket_group: Option<(String, u32)>,
    /// Whether file changes trigger a reload.
    pub watch: bool,
    /// Failover hooks.
    pub hooks: Hooks,
    /// TCP address serving only `GET /metrics`.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// A validated, planned and proved fleet: the only form the supervisor sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    /// The fleet file (absolute, as given; not canonicalized).
    pub path: PathBuf,
    /// Folder of the fleet file; relative paths in it are relative to this.
    pub dir: PathBuf,
    /// Profiles with their plans, in name order. The supervisor moves them into its instances
    /// (empty in the fleet it keeps).
    pub instances: Vec<(Profile, Plan)>,
    /// Fleet-level settings.
    pub settings: FleetSettings,
    /// Warnings found while loading (errors make loading fail instead).
    pub warnings: Diagnostics,
}

impl Fleet {
    /// The marker clawherd puts into every child's environment as `CLAWHERD_INSTANCE`
    /// ([`instance_marker`] of this fleet file).
    pub fn instance_marker(&self, profile: &str) -> String {
        instance_marker(&self.path, profile)
    }

    /// The instance of profile `name`.
    pub fn get(&self, name: &str) -> Option<&(Profile, Plan)> {
        self.instances.iter().find(|(p, _)| p.name == name)
    }
}

/// The marker clawherd puts into every child's environment as `CLAWHERD_INSTANCE`, so that
/// the whole tree of an instance, setsid'd workers included, can be found in `/proc` later,
/// even after clawherd itself was SIGKILLed: `<pid>.<starttime>:<profile>@<fleet file path>`,
/// naming this process as the daemon that runs it (see [`crate::process::tree::Marker`]). The
/// one place a marker is made: plans, the supervisor and the host checks all use it.
pub fn instance_marker(fleet: &Path, profile: &str) -> String {
    crate::process::tree::Marker::new(crate::process::tree::DaemonId::current(), profile, fleet).to_string()
}

/// Everything needed from the outside world to load a fleet: clawherd's own environment and a
/// probe of ports bound on the host. Tests pass fixed values.
pub struct LoadContext {
    /// clawherd's environment (for `${VAR}`, `HOME`, and what children inherit).
    pub env: BTreeMap<String, String>,
    /// Whether to check the plan against this host: ports already bound (`/proc/net/tcp*`) and
    /// state dirs locked by a live gateway that is not the fleet's.
    pub check_host_ports: bool,
}

impl LoadContext {
    /// The real process environment, with the host-port check on.
    pub fn from_process() -> Self {
        LoadContext {
            env: std::env::vars().collect(),
            check_host_ports: true,
        }
    }
}

/// Why a fleet could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The fleet file cannot be read.
    #[error("{}: cannot read the fleet file: {source}\n  hint: {}, or pass the file as `clawherd check PATH`", path.display(), source.hint())]
    Read {
        /// The fleet file.
        path: PathBuf,
        /// Why: OS error, not a regular file, too large, not UTF-8.
        source: ReadError,
    },
    /// Problems in the fleet file, the OpenClaw configs, or the isolation proof.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Loads, validates, plans and proves the fleet file at `path`.
///
/// Errors: [`FleetError::Read`] when the file cannot be read; [`FleetError::Invalid`] with every
/// problem found (syntax, unknown keys, bad values, unreadable OpenClaw configs, isolation
/// clashes, ports bound by foreign processes) otherwise. Warnings alone do not fail.
pub fn load(path: &Path, ctx: &LoadContext) -> Result<Fleet, FleetError> {
    let path = std::path::absolute(path).map_err(|e| FleetError::Read {
        path: path.to_path_buf(),
        source: ReadError::Open(e),
    })?;
    let bytes = read_bounded_bytes(&path).map_err(|source| FleetError::Read {
        path: path.clone(),
        source,
    })?;
    let text = validate::decode(&path, bytes).map_err(FleetError::Invalid)?;
    load_str(&path, &text, ctx)
}

/// Like [`load`], from text already read; `path` names the file in diagnostics and anchors
/// relative paths.
pub fn load_str(path: &Path, text: &str, ctx: &LoadContext) -> Result<Fleet, FleetError> {
    let validated = validate::validate(path, text, &ctx.env).map_err(FleetError::Invalid)?;
    let mut diags = validated.warnings;
    let marker_for = |name: &str| instance_marker(path, name);
    let mut instances = Vec::new();
    let mut parent_env = plan::ParentEnv::new(&ctx.env);
    for profile in validated.profiles {
        match plan::plan(&profile, &validated.dir, &mut parent_env, &marker_for(&profile.name)) {
            Ok((plan, warnings)) => {
                diags.0.extend(warnings);
                instances.push((profile, plan));
            }
            Err(errors) => diags.0.extend(errors),
        }
    }
    if !diags.has_errors() {
        diags.0.extend(isolation::prove(&instances));
        diags.0.extend(ownership::check(&instances));
    }
    if !diags.has_errors() && ctx.check_host_ports {
        diags.0.extend(host::check_bound_ports(&instances, &marker_for));
        diags.0.extend(host::check_state_dirs(&instances, &marker_for));
    }
    if diags.has_errors() {
        diags.0.sort_by_key(|d| std::cmp::Reverse(d.severity));
        return Err(FleetError::Invalid(diags));
    }
    Ok(Fleet {
        path: path.to_path_buf(),
        dir: validated.dir,
        instances,
        settings: validated.settings,
        warnings: diags,
    })
}
