//! The event stream: what happened to the fleet, as structured facts in the past tense
//! (`spawned`, `ready`, `unready`, `exited`, `restart_scheduled`, `crash_loop`, `parked`,
//! `liveness_failed`, `failover`, `failback`, `hook_failed`, `reloaded`, `rolled_back`, ...).
//!
//! Each event goes to `<run_dir>/events.jsonl` (one JSON object per line, rotated at 10 MiB with
//! 2 kept), to followers of `clawherd events -F`, and to a ring of the last [`RECENT`] events for
//! `clawherd events -n`. Writing never blocks the runtime: the file is written by a thread fed
//! through a bounded channel.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

/// Events kept in memory for `events -n`.
pub const RECENT: usize = 1000;
/// Rotate the events file past this size (bytes).
const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// At most this many waiting lines are written to the events file at once (a few hundred
/// bytes each).
const BATCH: usize = 256;

/// One event: when, which instance, one human line, and what happened with its details.
///
/// JSON: `{"ts", "profile", "pid", "message", "kind", "detail": {...}}`; `detail` is absent for
/// kinds that carry none. `kind` and the fields of `detail` are stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetEvent {
    /// RFC 3339 time with milliseconds.
    pub ts: String,
    /// The profile concerned, if any.
    pub profile: Option<String>,
    /// The gateway pid concerned, if any.
    pub pid: Option<i32>,
    /// One human line.
    pub message: String,
    /// What happened, with its details.
    #[serde(flatten)]
    pub what: What,
}

/// How an instance's exit came about, as `status` (`last_exit_kind`) and the `exited` event
/// (`exit_kind`) report it; serialized in lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitKind {
    /// clawherd stopped it as asked: a stop or restart by an operator, a reload or rollout, a
    /// failback of a cold standby.
    Requested,
    /// clawherd stopped it on its own because it failed its liveness probe
    /// (`health.failure_threshold` failed `GET /healthz` in a row), to restart it.
    Unhealthy,
    /// Nobody asked: a crash, a kill from outside, an exit on its own, or a failed spawn.
    Crash,
    /// OpenClaw's own restart: the gateway exited after recording a restart hand-off that
    /// clawherd consumed (`accepted`; see `instance::handoff`).
    Handoff,
}

impl ExitKind {
    /// The JSON string: `requested`, `unhealthy`, `crash` or `handoff`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitKind::Requested => "requested",
            ExitKind::Unhealthy => "unhealthy",
            ExitKind::Crash => "crash",
            ExitKind::Handoff => "handoff",
        }
    }
}

/// What happened: facts in the past tense (or a state entered), each with its details.
/// Durations are seconds (`_s`), as fractional numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum What {
    /// A gateway was spawned; `port` is its base port (none for a plain process without one).
    Spawned {
        /// Base port.
        port: Option<u16>,
    },
    /// The spawn failed (the message says why).
    SpawnFailed,
    /// The gateway (its process-group leader) exited.
    Exited {
        /// Whether clawherd had asked for it (a stop, a restart, a failed liveness probe):
        /// `exit_kind` is `requested` or `unhealthy`.
        requested: bool,
        /// How it came about; absent from the events of a daemon older than the field.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_kind: Option<ExitKind>,
        /// Seconds since spawn.
        uptime_s: f64,
        /// Exit code, for a normal exit.
        code: Option<i32>,
        /// Signal number, for a death by signal.
        signal: Option<i32>,
    },
    /// `GET /readyz` answered 200.
    Ready {
        /// Seconds from spawn to ready.
        after_s: f64,
    },
    /// Readiness was lost.
    Unready,
    /// A restart was scheduled after a backoff delay.
    RestartScheduled {
        /// The delay, seconds.
        delay_s: f64,
        /// Automatic restarts so far.
        restarts: u32,
    },
    /// Too many starts in the crash-loop window; retried at the slow cadence.
    CrashLoop {
        /// Starts within the window.
        starts: usize,
        /// The window, seconds.
        window_s: u64,
        /// Seconds to the next attempt.
        retry_in_s: u64,
    },
    /// Exit 78 with a real configuration error: parked until a start or a reload.
    Parked {
        /// The gateway's own error line.
        reason: String,
    },
    /// Being restarted, for `cause` (today only `liveness`).
    Restarting {
        /// Why.
        cause: String,
    },
    /// `GET /healthz` failed `failures` times in a row.
    LivenessFailed {
        /// Failures in a row.
        failures: u32,
        /// The probe period, seconds.
        period_s: f64,
    },
    /// The gateway outlived SIGKILL (uninterruptible sleep?).
    Stuck,
    /// OpenClaw's restart hand-off was accepted: the gateway asked to be restarted.
    RestartHandoff {
        /// The reason the gateway recorded.
        reason: Option<String>,
    },
    /// The standby took over from the profile it stands by for.
    Failover {
        /// The protected profile (main).
        standby_for: String,
        /// Why main counts as down.
        reason: String,
        /// `hot` or `cold`.
        mode: String,
    },
    /// The standby answered `/readyz` after a failover.
    StandbyReady {
        /// Seconds from the failover.
        after_failover_s: f64,
    },
    /// Main was ready again for `failback_after`: back to normal.
    Failback {
        /// The protected profile (main).
        standby_for: String,
        /// `hot` or `cold`.
        mode: String,
    },
    /// A failover hook failed (the message says how).
    HookFailed {
        /// The kind of the event the hook ran for.
        event: String,
        /// `command` or `url`.
        hook: String,
    },
    /// A reload was applied.
    Reloaded {
        /// Profiles started.
        added: Vec<String>,
        /// Profiles stopped.
        removed: Vec<String>,
        /// Profiles restarted because they changed.
        restarted: Vec<String>,
        /// Profiles kept running.
        unchanged: Vec<String>,
    },
    /// A reload was refused; the fleet keeps running unchanged.
    ReloadRefused {
        /// The rendered errors.
        errors: String,
    },
    /// The instance's run was ready and then stable for its soak: recorded as its
    /// last-known-good (the first proved run after clawherd started it).
    KnownGood {
        /// The soak, seconds.
        soak_s: f64,
    },
    /// A rollout of changed instances began; they are changed one at a time in `order`
    /// (standbys first, as canaries).
    RolloutStarted {
        /// The changed profiles, in the order they are applied.
        order: Vec<String>,
    },
    /// A changed instance is being restarted with its change.
    ChangeApplying {
        /// The standby that was made ready first to cover it, if any.
        covered_by: Option<String>,
    },
    /// A change was proved: ready within `verify_timeout` and stable for the soak; it is now
    /// the instance's last-known-good.
    ChangeVerified {
        /// Seconds from the restart to ready.
        ready_after_s: f64,
        /// The soak, seconds.
        soak_s: f64,
    },
    /// A change was not applied: the standby that must cover main was not ready.
    ChangeHeld {
        /// Why.
        reason: String,
    },
    /// A changed instance failed its verification and was (or, with `rollback: false`, was
    /// not) put back on its last-known-good profile and config.
    RolledBack {
        /// Why the change failed (`parked`, `crash loop`, `not ready within ...`, `exited
        /// during the soak`, `liveness failed during the soak`).
        reason: String,
        /// The gateway's own last error line, when it printed one.
        error: Option<String>,
        /// Where the refused config file was kept (`<config>.rejected-<timestamp>`), if kept.
        rejected_config: Option<String>,
        /// Whether the last-known-good config content was written back. `false` when it was
        /// unchanged, when there is none, or when the file changed during the rollout (a user
        /// edit, never overwritten).
        config_restored: bool,
        /// Whether the instance was restarted on its last-known-good (`false` with
        /// `rollback: false`, or without a last-known-good).
        restarted: bool,
    },
    /// A rollout ended.
    RolloutFinished {
        /// Profiles whose change was verified.
        verified: Vec<String>,
        /// Profiles rolled back (or failed with `rollback: false`).
        rolled_back: Vec<String>,
        /// Profiles whose change was held.
        held: Vec<String>,
    },
    /// Sent to one follower of the event stream only (never recorded): it fell so far behind
    /// that `count` events were dropped for it rather than slowing the daemon down; they are in
    /// the events file and in `GET /v1/events?n=`.
    EventsSkipped {
        /// How many events this follower missed.
        count: u64,
    },
}

impl What {
    /// The stable `kind` name, as serialized.
    pub fn kind(&self) -> &'static str {
        match self {
            What::Spawned { .. } => "spawned",
            What::SpawnFailed => "spawn_failed",
            What::Exited { .. } => "exited",
            What::Ready { .. } => "ready",
            What::Unready => "unready",
            What::RestartScheduled { .. } => "restart_scheduled",
            What::CrashLoop { .. } => "crash_loop",
            What::Parked { .. } => "parked",
            What::Restarting { .. } => "restarting",
            What::LivenessFailed { .. } => "liveness_failed",
            What::Stuck => "stuck",
            What::RestartHandoff { .. } => "restart_handoff",
            What::Failover { .. } => "failover",
            What::StandbyReady { .. } => "standby_ready",
            What::Failback { .. } => "failback",
            What::HookFailed { .. } => "hook_failed",
            What::Reloaded { .. } => "reloaded",
            What::ReloadRefused { .. } => "reload_refused",
            What::KnownGood { .. } => "known_good",
            What::RolloutStarted { .. } => "rollout_started",
            What::ChangeApplying { .. } => "change_applying",
            What::ChangeVerified { .. } => "change_verified",
            What::ChangeHeld { .. } => "change_held",
            What::RolledBack { .. } => "rolled_back",
            What::RolloutFinished { .. } => "rollout_finished",
            What::EventsSkipped { .. } => "events_skipped",
        }
    }
}

impl FleetEvent {
    /// The line that marks where a run of a gateway ends or begins in its log, for a `spawned`
    /// or `exited` event of a profile (`None` for any other): `---- main: new run, pid 8,
    /// spawned 2026-12-01T10:00:05.000Z ----`, `---- main: run ended, pid 7, exited with code 1
    /// after 5s, 2026-12-01T10:00:04.000Z ----` (the event's time ends it). `clawherd logs`
    /// prints it, and the daemon sends it in a followed log stream (`marks=true`).
    pub fn run_marker(&self) -> Option<String> {
        let profile = self.profile.as_deref()?;
        let pid = self.pid.map_or(String::new(), |p| format!(", pid {p}"));
        let when = &self.ts;
        match &self.what {
            What::Spawned { .. } => Some(format!("---- {profile}: new run{pid}, spawned {when} ----")),
            What::Exited {
                requested,
                exit_kind,
                uptime_s,
                code,
                signal,
            } => {
                let how = match (code, signal) {
                    (Some(c), _) => format!("exited with code {c}"),
                    (None, Some(s)) => format!("killed by signal {s}"),
                    (None, None) => "ended".to_string(),
                };
                let asked = match (exit_kind, requested) {
                    (Some(ExitKind::Unhealthy), _) => "stopped by clawherd after failed liveness probes, ",
                    (_, true) => "stopped by clawherd, ",
                    (_, false) => "",
                };
                let ran = Duration::try_from_secs_f64(uptime_s.max(0.0)).unwrap_or_default();
                let ran = humantime::format_duration(Duration::from_secs(ran.as_secs()));
                Some(format!("---- {profile}: run ended{pid}, {asked}{how} after {ran}, {when} ----"))
            }
            _ => None,
        }
    }

    /// An event stamped now. Its message and the free-text fields of `what` (a parked reason,
    /// OpenClaw's handoff reason, a refused reload's errors) pass through
    /// [`redact_text`](crate::observe::redact::redact_text): they may quote a gateway's output
    /// or a value written in a file, and events go to a file, followers and hooks.
    pub fn new(mut what: What, profile: Option<&str>, pid: Option<i32>, message: impl Into<String>) -> Self {
        use crate::observe::redact::redact_text;
        match &mut what {
            What::Parked { reason } => *reason = redact_text(reason),
            What::RestartHandoff { reason: Some(reason) } => *reason = redact_text(reason),
            What::ReloadRefused { errors } => *errors = redact_text(errors),
            _ => {}
        }
        FleetEvent {
            ts: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            profile: profile.map(str::to_string),
            pid,
            message: redact_text(&message.into()),
            what,
        }
    }

    /// The stable `kind` name.
    pub fn kind(&self) -> &'static str {
        self.what.kind()
    }
}

/// What the events file's writer takes from its queue: an event's line, or a request to answer
/// once everything queued before it is written.
enum ToFile {
    Line(String),
    Flush(SyncSender<()>),
}

/// The events file's writer thread: the lines waiting when it wakes, or when it ends a nap
/// ([`crate::observe::logs::Batching`]), are written together, one open and one write for a
/// burst (a fleet's start or stop emits one event per instance at once), not one each. A full
/// disk is reported once per 10 s, not once per event.
fn file_writer(path: &PathBuf, rx: Receiver<ToFile>) {
    let mut rx = crate::observe::logs::Batching::new(rx);
    let mut losses = crate::observe::logs::Losses::default();
    let mut batch = String::new();
    let mut acks = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.clear();
        let mut lines = 0;
        for item in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv()).take(BATCH - 1)) {
            match item {
                ToFile::Line(line) => {
                    batch.push_str(&line);
                    batch.push('\n');
                    lines += 1;
                }
                ToFile::Flush(ack) => acks.push(ack),
            }
        }
        if lines > 0 {
            match append(path, &batch) {
                Ok(()) => {
                    if let Some(note) = losses.note() {
                        tracing::warn!(path = %path.display(), "events file writable again: {note}");
                        losses = Default::default();
                    }
                }
                Err(e) => {
                    let now = std::time::Instant::now();
                    for _ in 0..lines {
                        if let Some(r) = losses.lost(&e, now) {
                            tracing::error!(path = %path.display(), "cannot write the events file: {r}");
                        }
                    }
                }
            }
        }
        for ack in acks.drain(..) {
            let _ = ack.try_send(());
        }
    }
}

/// Handle to the event stream; cheap to clone: one shared allocation, so the copy each
/// instance actor holds is a pointer.
#[derive(Clone)]
pub struct EventSink(Arc<Stream>);

/// What [`EventSink`] shares.
struct Stream {
    file: Option<SyncSender<ToFile>>,
    follow: broadcast::Sender<FleetEvent>,
    /// A `std` mutex: held only to push or copy, never across an `.await`.
    recent: Mutex<VecDeque<FleetEvent>>,
}

impl EventSink {
    /// Starts the stream; `file` is the JSON-lines file (None: memory only, for tests).
    pub fn start(file: Option<PathBuf>) -> Self {
        let (follow, _) = broadcast::channel(256);
        let file = file.map(|path| {
            let (tx, rx) = sync_channel::<ToFile>(256);
            #[allow(
                clippy::expect_used,
                reason = "once, at the daemon's start-up before any gateway runs: no thread means no supervision to lose"
            )]
            std::thread::Builder::new()
                .name("clawherd-events".into())
                .spawn(move || file_writer(&path, rx))
                .expect("spawn events thread");
            tx
        });
        EventSink(Arc::new(Stream {
            file,
            follow,
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
        }))
    }

    /// Records `event`.
    pub fn emit(&self, event: FleetEvent) {
        if let (Some(tx), Ok(line)) = (&self.0.file, serde_json::to_string(&event))
            && let Err(TrySendError::Full(_)) = tx.try_send(ToFile::Line(line))
        {
            tracing::warn!("events file writer fell behind; an event was not written to the file");
        }
        {
            let mut recent = self.0.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        let _ = self.0.follow.send(event);
    }

    /// The last `n` events, oldest first.
    pub fn recent(&self, n: usize) -> Vec<FleetEvent> {
        let recent = self.0.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().skip(recent.len().saturating_sub(n)).cloned().collect()
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FleetEvent> {
        self.0.follow.subscribe()
    }

    /// Waits, blocking, at most `within` until the events emitted so far are in the events file
    /// (the daemon's last step before it exits); false when time ran out first.
    pub fn flush(&self, within: Duration) -> bool {
        self.0
            .file
            .as_ref()
            .is_none_or(|tx| crate::observe::logs::flush_queue(tx, ToFile::Flush, std::time::Instant::now() + within))
    }
}

/// Appends `lines` (whole lines, each ending in `\n`) to the events file at `path`, rotating
/// it first when it is past [`MAX_FILE_BYTES`] (so it can pass that by one batch).
fn append(path: &PathBuf, lines: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FILE_BYTES) {
        let old2 = path.with_extension("jsonl.2");
        let old1 = path.with_extension("jsonl.1");
        let _ = std::fs::rename(&old1, &old2);
        std::fs::rename(path, &old1)?;
    }
    // 0600 (0640 with `control.group`): events name profiles, pids and reasons.
    let mut f = crate::observe::logs::open_append(path)?;
    f.write_all(lines.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_to_file_ring_and_followers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let sink = EventSink::start(Some(path.clone()));
        let mut rx = sink.subscribe();
        for i in 0..3 {
            sink.emit(FleetEvent::new(
                What::Ready { after_s: 1.5 },
                Some("main"),
                Some(i),
                format!("ready {i}"),
            ));
        }
        assert_eq!(sink.recent(2).iter().map(|e| e.pid).collect::<Vec<_>>(), [Some(1), Some(2)]);
        assert_eq!(rx.try_recv().expect("followed").message, "ready 0");
        // The file thread writes asynchronously: wait (bounded) for the third line.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() == 3 {
                let first = text.lines().next().expect("line");
                let e: FleetEvent = serde_json::from_str(first).expect("json");
                assert_eq!(
                    (e.kind(), e.profile.as_deref(), e.what.clone()),
                    ("ready", Some("main"), What::Ready { after_s: 1.5 })
                );
                // The wire format: `kind` beside the common fields, details under `detail`.
                let v: serde_json::Value = serde_json::from_str(first).expect("json");
                assert_eq!((v["kind"].as_str(), v["detail"]["after_s"].as_f64()), (Some("ready"), Some(1.5)));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "events file not written: {text}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// `flush` returns once every event emitted before it is in the file (the daemon's last
    /// step): no wait-and-see, the file is complete when it returns.
    #[test]
    fn flush_returns_once_the_file_holds_every_event_emitted_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let sink = EventSink::start(Some(path.clone()));
        for round in 0..5 {
            for i in 0..200 {
                sink.emit(FleetEvent::new(What::Ready { after_s: 0.1 }, Some("main"), Some(i), "ready"));
            }
            assert!(sink.flush(Duration::from_secs(60)), "flushed in time");
            let text = std::fs::read_to_string(&path).expect("events file");
            assert_eq!(text.lines().count(), 200 * (round + 1));
        }
        // Without a file there is nothing to wait for.
        assert!(EventSink::start(None).flush(Duration::ZERO));
    }

    /// Regression (hardening issue): a parked gateway's error line, a refused reload's errors
    /// and a spawn failure's message reached the events file, followers and hooks in clear.
    #[test]
    fn events_carry_no_secrets() {
        let e = FleetEvent::new(
            What::Parked {
                reason: "Invalid config: OPENAI_KEY=sk-proj-abcdefghijklmnop".into(),
            },
            Some("main"),
            None,
            "cannot spawn `gw --token hunter2`",
        );
        let line = serde_json::to_string(&e).expect("json");
        for secret in ["sk-proj-abcdefghijklmnop", "hunter2"] {
            assert!(!line.contains(secret), "{line}");
        }
        let refused = FleetEvent::new(
            What::ReloadRefused {
                errors: "fleet.yaml:3:9: error: `ghp_0123456789abcdefghij` is not a port".into(),
            },
            None,
            None,
            "1 error(s)",
        );
        assert_eq!(
            refused.what,
            What::ReloadRefused {
                errors: "fleet.yaml:3:9: error: `<redacted>` is not a port".into()
            }
        );
    }

    #[test]
    fn every_kind_round_trips_and_detail_less_kinds_have_none() {
        let all = [
            What::Spawned { port: Some(18789) },
            What::SpawnFailed,
            What::Exited {
                requested: false,
                exit_kind: Some(ExitKind::Crash),
                uptime_s: 1.5,
                code: Some(1),
                signal: None,
            },
            What::Unready,
            What::Stuck,
            What::Reloaded {
                added: vec!["a".into()],
                removed: vec![],
                restarted: vec![],
                unchanged: vec![],
            },
        ];
        for what in all {
            let e = FleetEvent::new(what.clone(), Some("main"), Some(7), "m");
            let line = serde_json::to_string(&e).expect("json");
            let back: FleetEvent = serde_json::from_str(&line).expect("parse");
            assert_eq!(back, e, "{line}");
            let v: serde_json::Value = serde_json::from_str(&line).expect("json");
            assert_eq!(v["kind"].as_str(), Some(what.kind()));
            assert_eq!(
                v.get("detail").is_none(),
                matches!(what, What::SpawnFailed | What::Unready | What::Stuck),
                "{line}"
            );
        }
    }
}
