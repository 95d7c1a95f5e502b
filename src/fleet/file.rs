//! Raw serde model of the fleet file (YAML, `version: 1`).
//!
//! This is the *low-level* form (ripgrep's `lowargs`): exactly what the operator wrote, with the
//! line and column of every value kept through [`Spanned`]. Nothing outside `fleet/` sees it;
//! [`super::validate`] turns it into a [`super::Fleet`]. Every struct refuses unknown keys, and all
//! keys are `snake_case`. Durations are humantime strings (`"10s"`, `"2m"`).

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// The whole fleet file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    /// Format version; only `1` exists.
    pub version: Spanned<u32>,
    /// Folder for clawherd's own per-instance files (captured output). Relative to the fleet
    /// file's folder; default `.clawherd` beside the fleet file.
    #[serde(default)]
    pub run_dir: Option<Spanned<String>>,
    /// Rotation of the captured gateway output.
    #[serde(default)]
    pub logs: Option<LogsFile>,
    /// The control socket.
    #[serde(default)]
    pub control: Option<ControlFile>,
    /// Re-read and re-prove the fleet when the fleet file or an OpenClaw config changes.
    #[serde(default)]
    pub watch: Option<Spanned<bool>>,
    /// Run on failover and failback.
    #[serde(default)]
    pub hooks: Option<HooksFile>,
    /// Prometheus metrics over TCP.
    #[serde(default)]
    pub metrics: Option<MetricsFile>,
    /// Settings every profile inherits unless it sets them itself.
    #[serde(default)]
    pub defaults: Option<ProfileFile>,
    /// The profiles, by name (`^[a-z0-9][a-z0-9_-]{0,63}$`, OpenClaw's profile-name rule).
    pub profiles: BTreeMap<String, Spanned<ProfileFile>>,
}

/// One profile as written (or the `defaults:` block). Every field is optional here; defaults are
/// applied in [`super::validate`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// `main` or `rescue`.
    pub role: Option<Spanned<String>>,
    /// `openclaw` (today's gateway) or `clawdbot` (the Moltbot/Clawdbot generation).
    pub flavor: Option<Spanned<String>>,
    /// Which OpenClaw profile this is: `default` or a name, as `openclaw --profile NAME` takes.
    pub openclaw_profile: Option<Spanned<String>>,
    /// Explicit OpenClaw config file; overrides the profile's `<state_dir>/openclaw.json`.
    pub config: Option<Spanned<String>>,
    /// Explicit state dir; overrides `~/.openclaw[-NAME]`.
    pub state_dir: Option<Spanned<String>>,
    /// Explicit agent workspace; passed as `OPENCLAW_WORKSPACE_DIR`.
    pub workspace: Option<Spanned<String>>,
    /// Explicit base port; passed as `--port` and `OPENCLAW_GATEWAY_PORT`.
    pub port: Option<Spanned<u16>>,
    /// Further declared ports of a `flavor: process` child.
    pub ports: Option<Spanned<Vec<u16>>>,
    /// Gateway command line (program and arguments); default `[openclaw, gateway, run]`.
    pub command: Option<Spanned<Vec<String>>>,
    /// Extra arguments appended after `command` (and after clawherd's `--port`).
    pub args: Option<Spanned<Vec<String>>>,
    /// Extra environment for the gateway. Merged over `defaults.env` key by key.
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    /// Restart policy, backoff and crash-loop limit.
    pub restart: Option<RestartFile>,
    /// Time a graceful stop may take before SIGKILL, e.g. `"30s"`.
    pub stop_timeout: Option<Spanned<String>>,
    /// Working directory of the gateway; default its state dir.
    pub cwd: Option<Spanned<String>>,
    /// Liveness and readiness probing.
    pub health: Option<HealthFile>,
    /// The profile this one stands by for (failover target); default: the `main`-role profile
    /// for a `rescue`-role profile.
    pub standby_for: Option<Spanned<String>>,
    /// `hot` (always running) or `cold` (started only while the profile it stands by for is down).
    pub standby: Option<Spanned<String>>,
    /// How long the protected profile may be not ready before failover, e.g. `60s`.
    pub failover_after: Option<Spanned<String>>,
    /// How long the protected profile must be ready again before failback, e.g. `60s`.
    pub failback_after: Option<Spanned<String>>,
}

/// `health:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthFile {
    /// Probe period once ready, e.g. `10s`.
    pub period: Option<Spanned<String>>,
    /// Timeout of one probe, e.g. `5s`.
    pub timeout: Option<Spanned<String>>,
    /// Consecutive failures that count (liveness: restart; readiness: unready).
    pub failure_threshold: Option<Spanned<u32>>,
    /// Liveness is not judged before this much time after spawn unless ready earlier, e.g. `5m`.
    pub startup_grace: Option<Spanned<String>>,
    /// Graceful stop budget of a liveness restart before SIGKILL, e.g. `15s`.
    pub kill_after: Option<Spanned<String>>,
    /// `false` turns liveness probing off.
    pub liveness: Option<Spanned<bool>>,
}

/// `metrics:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// `host:port` of a TCP listener serving only `GET /metrics`, e.g. `127.0.0.1:9464`.
    pub listen: Option<Spanned<String>>,
}

/// `hooks:` block (fleet level): run on failover and failback.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksFile {
    /// A command run with the event in its environment (`CLAWHERD_EVENT`, ...).
    pub command: Option<Spanned<Vec<String>>>,
    /// An `http://` URL that receives the event as a JSON POST.
    pub url: Option<Spanned<String>>,
    /// Timeout of one hook run, e.g. `10s`.
    pub timeout: Option<Spanned<String>>,
}

/// `restart:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartFile {
    /// `always`, `on-failure` or `never`.
    pub policy: Option<Spanned<String>>,
    /// Delay growth between restarts.
    pub backoff: Option<BackoffFile>,
    /// How many starts within a window make a crash loop.
    pub crash_loop: Option<CrashLoopFile>,
}

/// `restart.backoff:` block; all durations.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffFile {
    /// First delay after a failure, e.g. `"1s"`.
    pub initial: Option<Spanned<String>>,
    /// Largest delay, e.g. `"60s"`.
    pub max: Option<Spanned<String>>,
    /// Uptime after which the delay goes back to `initial`, e.g. `"60s"`.
    pub reset_after: Option<Spanned<String>>,
}

/// `restart.crash_loop:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashLoopFile {
    /// Starts allowed within `window` (count).
    pub max_starts: Option<Spanned<u32>>,
    /// The sliding window, e.g. `"5m"`.
    pub window: Option<Spanned<String>>,
    /// The slow cadence of retries while in a crash loop, e.g. `"5m"`.
    pub retry_every: Option<Spanned<String>>,
}

/// `logs:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsFile {
    /// Rotate a file when it would grow past this size: bytes, or `10MiB`, `500KB`.
    pub max_size: Option<Spanned<String>>,
    /// Rotated files kept per instance.
    pub keep: Option<Spanned<u32>>,
}

/// `control:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlFile {
    /// Path of the Unix socket; default `<run_dir>/clawherd.sock`.
    pub socket: Option<Spanned<String>>,
    /// A group whose members may use the socket too (mode 0660 instead of 0600).
    pub group: Option<Spanned<String>>,
}
