//! The event stream: what happened to the fleet, as structured facts in the past tense
//! (`spawned`, `ready`, `unready`, `exited`, `restart_scheduled`, `crash_loop`, `parked`,
//! `liveness_failed`, `failover`, `failback`, `hook_failed`, `reloaded`, ...).
//!
//! Each event goes to `<run_dir>/events.jsonl` (one JSON object per line, rotated at 10 MiB with
//! 2 kept), to followers of `clawherd events -F`, and to a ring of the last [`RECENT`] events for
//! `clawherd events -n`. Writing never blocks the runtime: the file is written by a thread fed
//! through a bounded channel.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::broadcast;

/// Events kept in memory for `events -n`.
pub const RECENT: usize = 1000;
/// Rotate the events file past this size (bytes).
const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetEvent {
    /// RFC 3339 time with milliseconds.
    pub ts: String,
    /// What happened (snake_case, past tense or a state entered).
    pub kind: String,
    /// The profile concerned, if any.
    pub profile: Option<String>,
    /// The gateway pid concerned, if any.
    pub pid: Option<i32>,
    /// One human line.
    pub message: String,
    /// Structured details (exit code, delay, reason, standby, ...).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

impl FleetEvent {
    /// An event stamped now.
    pub fn new(kind: &str, profile: Option<&str>, pid: Option<i32>, message: impl Into<String>, detail: serde_json::Value) -> Self {
        FleetEvent {
            ts: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            kind: kind.to_string(),
            profile: profile.map(str::to_string),
            pid,
            message: message.into(),
            detail,
        }
    }
}

/// Handle to the event stream; cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    file: Option<SyncSender<String>>,
    follow: broadcast::Sender<FleetEvent>,
    /// A `std` mutex: held only to push or copy, never across an `.await`.
    recent: Arc<Mutex<VecDeque<FleetEvent>>>,
}

impl EventSink {
    /// Starts the stream; `file` is the JSON-lines file (None: memory only, for tests).
    pub fn start(file: Option<PathBuf>) -> Self {
        let (follow, _) = broadcast::channel(256);
        let file = file.map(|path| {
            let (tx, rx) = sync_channel::<String>(256);
            std::thread::Builder::new()
                .name("clawherd-events".into())
                .spawn(move || {
                    // A full disk is reported once per 10 s, not once per event.
                    let mut losses = crate::observe::logs::Losses::default();
                    for line in rx {
                        match append(&path, &line) {
                            Ok(()) => {
                                if let Some(note) = losses.note() {
                                    tracing::warn!(path = %path.display(), "events file writable again: {note}");
                                    losses = Default::default();
                                }
                            }
                            Err(e) => {
                                if let Some(r) = losses.lost(&e, std::time::Instant::now()) {
                                    tracing::error!(path = %path.display(), "cannot write the events file: {r}");
                                }
                            }
                        }
                    }
                })
                .expect("spawn events thread");
            tx
        });
        EventSink {
            file,
            follow,
            recent: Arc::new(Mutex::new(VecDeque::with_capacity(RECENT))),
        }
    }

    /// Records `event`.
    pub fn emit(&self, event: FleetEvent) {
        if let (Some(tx), Ok(line)) = (&self.file, serde_json::to_string(&event))
            && let Err(TrySendError::Full(_)) = tx.try_send(line)
        {
            tracing::warn!("events file writer fell behind; an event was not written to the file");
        }
        {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        let _ = self.follow.send(event);
    }

    /// The last `n` events, oldest first.
    pub fn recent(&self, n: usize) -> Vec<FleetEvent> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().skip(recent.len().saturating_sub(n)).cloned().collect()
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FleetEvent> {
        self.follow.subscribe()
    }
}

fn append(path: &PathBuf, line: &str) -> std::io::Result<()> {
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
    writeln!(f, "{line}")
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
                "ready",
                Some("main"),
                Some(i),
                format!("ready {i}"),
                serde_json::json!({"after_s": 1.5}),
            ));
        }
        assert_eq!(sink.recent(2).iter().map(|e| e.pid).collect::<Vec<_>>(), [Some(1), Some(2)]);
        assert_eq!(rx.try_recv().expect("followed").message, "ready 0");
        // The file thread writes asynchronously: wait (bounded) for the third line.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() == 3 {
                let e: FleetEvent = serde_json::from_str(text.lines().next().expect("line")).expect("json");
                assert_eq!(
                    (e.kind.as_str(), e.profile.as_deref(), e.detail["after_s"].as_f64()),
                    ("ready", Some("main"), Some(1.5))
                );
                break;
            }
            assert!(std::time::Instant::now() < deadline, "events file not written: {text}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
