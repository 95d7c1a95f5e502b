//! The state every handler shares ([`AppState`]): the supervisor's request channel, the output
//! and event sinks, the fleet file, the access policy, and the small shared readings status
//! shows (CPU history, rollout notes, fleet warnings, failover board).

use super::Request;
use super::access::AccessPolicy;
use crate::observe::logs;
use crate::process::usage;
use axum::extract::FromRef;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The supervisor task.
    pub requests: mpsc::Sender<Request>,
    /// The output writers (for `logs --follow`).
    pub output: logs::OutputSink,
    /// Rotated files kept (for `logs` reading).
    pub keep: u32,
    /// The fleet file.
    pub fleet_path: PathBuf,
    /// Who may connect.
    pub access: AccessPolicy,
    /// The event stream.
    pub events: crate::observe::events::EventSink,
    /// CPU readings of the previous `status` call.
    pub cpu: Arc<std::sync::Mutex<usage::CpuHistory>>,
    /// What each instance's rollout does, for status.
    pub rollout: crate::control::RolloutNotes,
    /// The running fleet's warnings, for status.
    pub warnings: FleetWarnings,
    /// Each standby's failover controller state, for status.
    pub failover: crate::failover::Board,
}

/// The running fleet's warnings, rendered as `check` prints them and redacted: set by the
/// supervisor at start and by every applied reload, read by `status`. A handle; clones share.
#[derive(Debug, Clone, Default)]
pub struct FleetWarnings(Arc<std::sync::Mutex<Vec<String>>>);

impl FleetWarnings {
    /// Replaces the warnings.
    pub fn set(&self, warnings: Vec<String>) {
        if let Ok(mut w) = self.0.lock() {
            *w = warnings;
        }
    }

    /// The warnings now.
    pub fn get(&self) -> Vec<String> {
        self.0.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl FromRef<AppState> for mpsc::Sender<Request> {
    fn from_ref(state: &AppState) -> Self {
        state.requests.clone()
    }
}

impl FromRef<AppState> for AccessPolicy {
    fn from_ref(state: &AppState) -> Self {
        state.access
    }
}
