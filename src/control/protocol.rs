//! Request and response bodies of control API version 1 (JSON). Field names are stable; new
//! fields may be added. Times are RFC 3339 UTC strings, durations seconds, sizes bytes.

use crate::instance::{ExitKind, Phase};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The API version served under `/v1/`.
pub const API_VERSION: u32 = 1;

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusResponse {
    /// [`API_VERSION`].
    pub api: u32,
    /// The fleet file.
    pub fleet: String,
    /// clawherd's pid.
    pub pid: u32,
    /// clawherd's own resident memory, bytes.
    pub rss_bytes: u64,
    /// One row per instance, in profile order.
    pub instances: Vec<InstanceReport>,
    /// The running fleet's warnings (those of the proof at start, or of the last applied
    /// reload), each rendered as `check` prints it (`file:line:col: warning: ...` and its hint)
    /// and redacted; empty when there are none. Missing in answers of older daemons.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One instance in [`StatusResponse`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstanceReport {
    /// Profile name.
    pub profile: String,
    /// `main` or `rescue`.
    pub role: String,
    /// `openclaw` or `clawdbot`.
    pub flavor: String,
    /// `starting`, `ready`, `unready`, `stopping`, `backoff`, `crash-loop`, `parked`, `stopped`.
    pub state: Phase,
    /// Why it is parked: the gateway's own error line.
    pub reason: Option<String>,
    /// Gateway pid while one runs.
    pub pid: Option<i32>,
    /// Seconds since the running gateway was spawned.
    pub uptime_s: Option<f64>,
    /// Automatic restarts since clawherd started (or since the profile was reloaded).
    pub restarts: u32,
    /// The last exit, e.g. `exit 1` or `killed by signal 9 (SIGKILL)`.
    pub last_exit: Option<String>,
    /// When it happened.
    pub last_exit_at: Option<String>,
    /// How the last exit came about: `requested` (clawherd stopped it as asked: an operator's
    /// stop or restart, a reload, a failback), `unhealthy` (clawherd stopped it to restart it
    /// after failed liveness probes), `crash` (nobody asked: a crash, a
    /// kill from outside, an exit on its own, a failed spawn) or `handoff` (OpenClaw's own
    /// restart: the gateway recorded a restart hand-off, see docs/openclaw.md); `None` before
    /// the first exit and from an older daemon.
    #[serde(default)]
    pub last_exit_kind: Option<ExitKind>,
    /// Base port (a plain process may have none).
    pub base_port: Option<u16>,
    /// Readiness: `GET /readyz` answered 200 (as the instance's state says).
    pub ready: bool,
    /// Liveness now: `GET /healthz` answered 200; `None` when no gateway runs.
    pub live: Option<bool>,
    /// The whole tree (gateway + workers).
    pub tree: TreeReport,
    /// What the gateway itself reports in `/readyz`, when it answers with details.
    pub openclaw: Option<OpenClawSignals>,
    /// The OpenClaw (or Clawdbot) version its last spawn ran, e.g. `2026.9.6`, read at spawn
    /// from the package its command belongs to; `None` when unknown (absent from an older
    /// daemon's answer).
    #[serde(default)]
    pub version: Option<String>,
    /// What its latest rollout did or does (`verifying`, `soaking`, `verified`, `rolled back:
    /// <reason>`, `held: <reason>`); none before its first rollout (docs/rollout.md).
    #[serde(default)]
    pub rollout: Option<String>,
    /// How readiness and liveness of the running gateway are judged: `http` (OpenClaw's
    /// `/readyz` and `/healthz`), `health` (clawdbot's WebSocket `health` call), or `challenge
    /// (REASON)` (clawdbot when clawherd cannot authenticate: its `connect.challenge` event and
    /// `GET /tools/invoke`); `None` while nothing runs, for a plain process, and from an older
    /// daemon.
    #[serde(default)]
    pub probe: Option<String>,
    /// For a standby (a profile with `standby_for`, e.g. the rescue bot): whom it covers and its
    /// failover controller's state; `None` for any other profile and from an older daemon.
    #[serde(default)]
    pub standby: Option<StandbyReport>,
    /// Its planned ports, as `clawherd ports` lists them (the isolation proof's footprint);
    /// empty from an older daemon.
    #[serde(default)]
    pub ports: Vec<PortReport>,
}

/// One planned port or range of an instance in [`InstanceReport`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortReport {
    /// What it is: `gateway (HTTP, WebSocket, canvas)`, `browser control`, `managed Chrome CDP
    /// range`, ...
    pub name: String,
    /// First port.
    pub lo: u16,
    /// Last port (inclusive; `lo` for one port).
    pub hi: u16,
    /// A port the instance connects to (a loopback `cdpUrl`) rather than listens on.
    pub connects: bool,
}

/// A standby's pair in [`InstanceReport`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StandbyReport {
    /// The profile it stands by for (its `standby_for`).
    pub covers: String,
    /// `hot` (always running) or `cold` (started only on failover).
    pub mode: String,
    /// Seconds until the failover, while the covered profile is not ready but not yet for
    /// `failover_after` (or its first boot's `health.startup_grace`); `None` otherwise.
    pub failover_in_s: Option<f64>,
    /// Whether the standby has taken over: failed over, not yet failed back.
    pub failed_over: bool,
}

/// Resource use of an instance's process tree.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct TreeReport {
    /// Processes in the tree.
    pub processes: usize,
    /// Sum of resident memory, bytes.
    pub rss_bytes: u64,
    /// CPU use, percent of one core, averaged over `cpu_span_s`.
    pub cpu_percent: f64,
    /// Seconds `cpu_percent` is averaged over: since the previous whole-fleet status call when
    /// that was 0.5 to 60 s ago and every process of the tree was already seen then, else the
    /// call's own sampling window (0.2 s).
    #[serde(default)]
    pub cpu_span_s: f64,
}

/// OpenClaw's own view from `/readyz` (OpenClaw answers it from `dist/gateway-http-route-contracts-*.mjs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OpenClawSignals {
    /// `failing` reasons (`startup-sidecars`, `gateway-draining`, channel ids, ...).
    pub failing: Vec<String>,
    /// Channels whose auto-start OpenClaw's restart-loop breaker suppressed.
    pub suppressed: Vec<String>,
    /// `eventLoop.degraded`: informational, never a reason to restart.
    pub event_loop_degraded: Option<bool>,
}

/// What a `POST /v1/instances/{profile}/{action}` waits for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WaitFor {
    /// Until ready (start, restart).
    Ready,
    /// Until stopped (stop).
    Stopped,
    /// Return once queued.
    None,
}

/// Answer to an action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionResponse {
    /// Profile.
    pub profile: String,
    /// `start`, `stop` or `restart`.
    pub action: String,
    /// State when answering.
    pub state: Phase,
    /// Pid when answering.
    pub pid: Option<i32>,
    /// Seconds spent waiting.
    pub waited_s: f64,
    /// Why the wait ended badly, if it did (timeout, failed, stopped).
    pub problem: Option<String>,
}

/// Answer to `POST /v1/reload`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReloadResponse {
    /// Profiles started.
    pub added: Vec<String>,
    /// Profiles stopped and dropped.
    pub removed: Vec<String>,
    /// Profiles restarted because their gateway's command, environment, paths, ports or
    /// OpenClaw config content changed (rolled out one at a time: docs/rollout.md).
    pub restarted: Vec<String>,
    /// Profiles left alone (same pid).
    pub unchanged: Vec<String>,
    /// Fleet-level settings that changed but apply only at the next start (socket, run dir, logs).
    pub needs_restart: Vec<String>,
    /// The new fleet's warnings, each rendered as `check` prints it (`file:line:col: warning:
    /// ...` with its `note:`/`hint:` lines), secrets redacted. Empty from a daemon that predates
    /// the field.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Changed profiles whose change failed its verification (rolled back unless
    /// `rollout.rollback: false`), as known when the answer was sent: the last one's soak may
    /// still be running then (its outcome is in the events).
    #[serde(default)]
    pub rolled_back: Vec<String>,
    /// Changed profiles whose change was not applied because their standby was not ready to
    /// cover them.
    #[serde(default)]
    pub held: Vec<String>,
    /// The rollout that was in progress when this reload was asked for (started by the file
    /// watch, SIGHUP, a rollout resumed after a daemon restart, or another caller's reload), with
    /// its verdict. Such a rollout may have applied the very change this reload asked for, so its
    /// rolled-back and held profiles that this reload did not restart again are in
    /// [`ReloadResponse::rolled_back`] and [`ReloadResponse::held`] too. `None` when nothing was
    /// in progress (or from a daemon that predates the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier: Option<EarlierRollout>,
}

/// A rollout that ran before a reload's own, and what it concluded (see
/// [`ReloadResponse::earlier`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EarlierRollout {
    /// What started it: `a file change or SIGHUP`, `another reload`, or `a daemon restart`
    /// (the rollout an earlier daemon left unfinished).
    pub started_by: String,
    /// Profiles whose change it proved.
    pub verified: Vec<String>,
    /// Profiles whose change failed its proof (rolled back unless `rollout.rollback: false`).
    pub rolled_back: Vec<String>,
    /// Profiles whose change it did not apply (no standby ready to cover them).
    pub held: Vec<String>,
}

/// `GET /v1/instances/{profile}/env`: how clawherd runs the gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvResponse {
    /// Profile.
    pub profile: String,
    /// Program and arguments; values of secret-named flags and secret-looking arguments
    /// redacted unless asked.
    pub argv: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// The whole environment; secret values replaced by `<redacted>` (URL passwords by `***`)
    /// unless asked.
    pub env: BTreeMap<String, String>,
    /// Variables, flags (`--token`) and arguments (`argv[N]`) whose values were redacted.
    pub redacted: Vec<String>,
}

/// Any non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: String,
    /// How to fix it, when known.
    pub hint: Option<String>,
}
