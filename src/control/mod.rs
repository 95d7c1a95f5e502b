//! The control API: HTTP/1.1 with JSON over a Unix socket (axum), so every CLI command is a thin
//! client and `curl --unix-socket` works too. Version 1 lives under `/v1/`.
//!
//! | method and path | body / query | answer |
//! |---|---|---|
//! | `GET /v1/status` | `?profile=NAME` (optional) | [`protocol::StatusResponse`] |
//! | `POST /v1/instances/{profile}/{start,stop,restart}` | `?wait=ready\|stopped\|none&timeout_s=N` | [`protocol::ActionResponse`]; 504 when the wait timed out, 409 when the instance failed |
//! | `POST /v1/reload` | `?caller_rolls_back=A,B` (optional, see [`ReloadOptions`]) | [`protocol::ReloadResponse`]; 422 with the located errors when the new fleet is invalid (nothing changes) |
//! | `GET /v1/instances/{profile}/env` | `?show_secrets=true` | [`protocol::EnvResponse`] |
//! | `GET /v1/logs` | `?profile=A&profile=B&n=100&since=RFC3339&follow=true` | `text/plain`, one line per captured line, streamed while `follow` |
//! | `GET /metrics` | | Prometheus/OpenMetrics text ([`crate::observe::metrics`]) |
//! | `GET /v1/events` | `?n=100&follow=true` | JSON lines of [`crate::observe::events::FleetEvent`], streamed while `follow` |
//!
//! Errors are [`protocol::ErrorResponse`] with a non-2xx status. The socket is mode 0600 (0660
//! with `control.group`) and every connection's peer credentials (`SO_PEERCRED`) are checked:
//! clawherd's own user, root, and members of `control.group` are allowed, anyone else gets 403.

pub(crate) mod access;
pub(crate) mod bind;
pub mod client;
pub(crate) mod handlers;
pub mod protocol;
pub(crate) mod reply;
pub(crate) mod routes;
pub mod server;
pub(crate) mod state;

use crate::instance::InstanceView;
use protocol::ReloadResponse;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// How a reload's rollout treats the changes it applies (default: as the fleet file says).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadOptions {
    /// Profiles whose change, if it fails its proof, the rollout records (`rolled_back` with
    /// `restarted: false`) but neither restores nor restarts: the caller puts them back itself,
    /// as it can restore more than the daemon can. `clawherd upgrade` asks this for the profile
    /// it upgrades: it restores the state dir from its snapshot before the previous version
    /// runs again, so the previous version never runs on what the new version's doctor migrated
    /// and boots once (docs/upgrades.md). Query `caller_rolls_back=A,B` of `POST /v1/reload`.
    pub caller_rolls_back: Vec<String>,
}

/// What the control API (and SIGHUP, and the file watch) asks of the supervisor task, which
/// answers each on its oneshot.
#[derive(Debug)]
pub enum Request {
    /// Reply with a view of every instance.
    Instances(oneshot::Sender<Vec<InstanceView>>),
    /// Re-read, re-prove and apply the fleet file; reply with what changed, or the located errors.
    Reload(Option<oneshot::Sender<Result<ReloadResponse, String>>>, ReloadOptions),
    /// Reply once no reload is in progress (at once when none is): an action on an instance a
    /// reload is replacing waits for this, then acts on the new instance.
    ReloadDone(oneshot::Sender<()>),
}

/// What each instance's rollout is doing, by profile name, for `status`: written by the
/// supervisor's rollout (`daemon::rollout`), read by the control API. Cheap to clone (shared).
///
/// A note is one line: `verifying`, `soaking`, `verified`, `rolled back: <reason>`, `held:
/// <reason>`; it stays until the next rollout of that instance.
#[derive(Debug, Clone, Default)]
pub struct RolloutNotes(Arc<Mutex<BTreeMap<String, String>>>);

impl RolloutNotes {
    /// Sets (or with `None` clears) `profile`'s note.
    pub fn set(&self, profile: &str, note: Option<String>) {
        if let Ok(mut m) = self.0.lock() {
            match note {
                Some(n) => m.insert(profile.to_string(), n),
                None => m.remove(profile),
            };
        }
    }

    /// `profile`'s note.
    pub fn get(&self, profile: &str) -> Option<String> {
        self.0.lock().ok().and_then(|m| m.get(profile).cloned())
    }
}
