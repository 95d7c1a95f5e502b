//! Instances: one actor task per profile that alone owns its gateway process, state and timers
//! (watchexec's `Job`, s6-supervise).
//!
//! # Theory of operation
//! The actor task of [`actor::spawn_actor`] selects over four sources: the gateway's exit (tokio's
//! child wait, through a pidfd: an event, never a poll), control requests from an
//! [`InstanceHandle`], the one armed timer (stop escalation or backoff) and the in-flight readiness
//! probe. Each source becomes an [`state::Event`]; the pure [`state::Machine`] returns
//! [`state::Action`]s; the actor carries them out and publishes an [`InstanceStatus`] snapshot on a
//! `watch` channel. Everyone else holds an [`InstanceHandle`]: controls in, status out.

pub mod actor;
pub mod backoff;
pub mod handoff;
pub mod policy;
pub mod probe;
pub mod state;
mod view;

pub use view::InstanceView;

use crate::instance::policy::ExitResult;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot, watch};

/// A snapshot of one instance, published after every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    /// Profile name.
    pub profile: String,
    /// Coarse state name (`stopped`, `starting`, `ready`, `unready`, `stopping`, `backoff`,
    /// `crash-loop`, `parked`).
    pub state: &'static str,
    /// Gateway pid while one runs.
    pub pid: Option<i32>,
    /// When the running gateway was spawned.
    pub started_at: Option<SystemTime>,
    /// When the running gateway became ready (None while not ready).
    pub ready_at: Option<SystemTime>,
    /// Automatic restarts so far.
    pub restarts: u32,
    /// The last exit.
    pub last_exit: Option<ExitResult>,
    /// When the last exit happened.
    pub last_exit_at: Option<SystemTime>,
    /// Spawn → ready of the last start that became ready.
    pub last_ready_after: Option<Duration>,
    /// Why a parked instance is parked (the gateway's own error line).
    pub reason: Option<String>,
    /// Whether the actor has finished (after a shutdown).
    pub finished: bool,
}

/// A request to an instance.
#[derive(Debug)]
pub enum Control {
    /// Bring it up.
    Start,
    /// Bring it down; the reply fires once it is stopped.
    Stop(Option<oneshot::Sender<()>>),
    /// Stop if running, then start.
    Restart,
    /// Bring it down and end the actor.
    Shutdown,
}

/// Handle to an instance actor. Cloning is cheap; the actor ends after [`Control::Shutdown`]
/// or when every handle is dropped (it then stops its gateway first).
#[derive(Debug, Clone)]
pub struct InstanceHandle {
    /// Profile name.
    pub profile: String,
    tx: mpsc::Sender<Control>,
    status: watch::Receiver<InstanceStatus>,
}

impl InstanceHandle {
    /// Queues a control; false if the actor is gone.
    pub async fn send(&self, c: Control) -> bool {
        self.tx.send(c).await.is_ok()
    }

    /// The latest status.
    pub fn status(&self) -> InstanceStatus {
        self.status.borrow().clone()
    }

    /// A receiver of status changes.
    pub fn subscribe(&self) -> watch::Receiver<InstanceStatus> {
        self.status.clone()
    }

    /// Stops the instance and waits until it is stopped.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.send(Control::Stop(Some(tx))).await {
            let _ = rx.await;
        }
    }
}
