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

pub(crate) mod actor;
pub(crate) mod backoff;
pub mod clawdbot;
pub(crate) mod handoff;
mod lines;
pub(crate) mod phase;
pub mod policy;
pub(crate) mod probe;
pub mod state;
mod view;

pub use phase::Phase;
pub use state::ExitKind;
pub use view::InstanceView;

use crate::instance::policy::ExitResult;
use std::time::{Duration, SystemTime};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// A snapshot of one instance, published after every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    /// Profile name.
    pub profile: String,
    /// The coarse state.
    pub state: Phase,
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
    /// How the last exit came about; `None` before the first exit.
    pub last_exit_kind: Option<state::ExitKind>,
    /// Spawn → ready of the last start that became ready.
    pub last_ready_after: Option<Duration>,
    /// Why a parked instance is parked (the gateway's own error line).
    pub reason: Option<String>,
    /// Whether the actor has finished (after a shutdown).
    pub finished: bool,
    /// The OpenClaw (or Clawdbot) version of the last spawn, e.g. `2026.9.6`, read from its
    /// package's `package.json` at spawn ([`crate::fleet::versions::detect`]); `None` before the first
    /// spawn and when unknown (a wrapper script, a plain process).
    pub version: Option<String>,
    /// What the last periodic probe round of the running gateway found; `None` before the
    /// first round of this run and while no gateway runs.
    pub last_round: Option<ProbeRound>,
    /// How the running gateway's readiness and liveness are judged; `None` while no gateway
    /// runs and for a plain process.
    pub probe_via: Option<ProbeVia>,
}

/// How an instance's readiness and liveness are judged, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeVia {
    /// OpenClaw's `GET /readyz` (readiness) and `GET /healthz` (liveness).
    Http,
    /// clawdbot's own health: the WebSocket `connect` handshake and `health` call of
    /// [`clawdbot::health`].
    Health,
    /// clawdbot without its health call, because clawherd cannot authenticate (the reason, a
    /// sentence): readiness by the `connect.challenge` event ([`probe::clawdbot_challenge`]),
    /// liveness by `GET /tools/invoke` answering 405 ([`probe::clawdbot_http_alive`]).
    Challenge(String),
}

impl std::fmt::Display for ProbeVia {
    /// `http`, `health`, or `challenge (REASON)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeVia::Http => f.write_str("http"),
            ProbeVia::Health => f.write_str("health"),
            ProbeVia::Challenge(why) => write!(f, "challenge ({why})"),
        }
    }
}

/// One periodic probe round's findings, kept so that `status` can report health signals without
/// probing every gateway again (1,000 instances would be 2,000 HTTP requests per call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRound {
    /// When the round ended.
    pub at: Instant,
    /// Liveness: `GET /healthz` answered 200 (clawdbot: its `health` call was answered, or
    /// without it, its POST-only route answered 405).
    pub live: bool,
    /// The body of the `GET /readyz` answer (OpenClaw's JSON with `failing`, `suppressed` and
    /// `eventLoop`, at most [`probe::MAX_BODY_BYTES`]); `None` without an answer, and for
    /// clawdbot, which has no such route.
    pub ready_body: Option<bytes::Bytes>,
}

/// A request to an instance, in the imperative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Bring it up.
    Start,
    /// Bring it down.
    Stop,
    /// Stop if running, then start.
    Restart,
    /// Bring it down and end the actor.
    Shutdown,
}

/// A control on its way to the actor, with the ticket that resolves once it was applied.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) control: Control,
    pub(crate) applied: Option<oneshot::Sender<()>>,
}

/// What [`InstanceHandle::wait_for`] waits for (s6-svc's `-wU` and `-wD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Ready (`GET /readyz` answered 200), not merely spawned.
    Ready,
    /// Stopped, or parked (nothing runs and nothing will until asked).
    Stopped,
}

impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Goal::Ready => "ready",
            Goal::Stopped => "stopped",
        })
    }
}

/// Why a wait ended without reaching its goal. The status at that moment comes with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// Parked on a configuration error (the gateway's own error line).
    #[error("instance parked on a configuration error: {0}")]
    Parked(String),
    /// In a crash loop (the last exit); it keeps retrying at the slow cadence.
    #[error("instance is in a crash loop (last exit: {0}); it keeps retrying at the slow cadence")]
    CrashLoop(String),
    /// Stopped while waiting for ready (the last exit).
    #[error("instance stopped (last exit: {0})")]
    Stopped(String),
    /// The actor ended (the fleet is stopping, or a reload removed the profile).
    #[error("the instance ended")]
    Ended,
    /// The deadline passed first.
    #[error("not {goal} within {:.1} s (state {phase})", .after.as_secs_f64())]
    TimedOut {
        /// What was awaited.
        goal: Goal,
        /// How long was waited.
        after: Duration,
        /// The phase at the deadline.
        phase: Phase,
    },
}

#[cfg(test)]
impl InstanceStatus {
    /// A status of `profile` in `state` and nothing else known, for tests.
    pub(crate) fn stub(profile: &str, state: Phase) -> Self {
        InstanceStatus {
            profile: profile.into(),
            state,
            pid: None,
            started_at: None,
            ready_at: None,
            restarts: 0,
            last_exit: None,
            last_exit_at: None,
            last_exit_kind: None,
            last_ready_after: None,
            reason: None,
            finished: false,
            version: None,
            last_round: None,
            probe_via: None,
        }
    }
}

#[cfg(test)]
impl InstanceHandle {
    /// A handle to no actor, for tests: in `state`, its controls come out of the receiver, its
    /// status changes through the sender (dropping it ends the "actor").
    pub(crate) fn stub(profile: &str, state: Phase) -> (Self, flume::Receiver<Message>, watch::Sender<InstanceStatus>) {
        let (tx, rx) = flume::bounded(16);
        let (status_tx, status) = watch::channel(InstanceStatus::stub(profile, state));
        let handle = InstanceHandle {
            profile: profile.into(),
            tx,
            status,
        };
        (handle, rx, status_tx)
    }
}

/// Handle to an instance actor. Cloning is cheap; the actor ends after [`Control::Shutdown`]
/// or when every handle is dropped (it then stops its gateway first).
///
/// Controls come in two forms: [`InstanceHandle::send`] queues one and returns, and
/// [`InstanceHandle::apply`] resolves once the actor has applied it (watchexec's `Ticket`), so
/// the status read right after shows its effect. [`InstanceHandle::start`], `stop` and
/// `restart` apply and then [`InstanceHandle::wait_for`] the goal.
#[derive(Debug, Clone)]
pub struct InstanceHandle {
    /// Profile name.
    pub profile: String,
    tx: flume::Sender<Message>,
    status: watch::Receiver<InstanceStatus>,
}

impl InstanceHandle {
    /// Queues a control; false if the actor is gone.
    pub async fn send(&self, control: Control) -> bool {
        self.tx.send_async(Message { control, applied: None }).await.is_ok()
    }

    /// Queues a control if the actor's queue has room, without waiting: `None` once queued (or
    /// when the actor is gone), the control back when the queue is full.
    pub(crate) fn try_send(&self, control: Control) -> Option<Control> {
        match self.tx.try_send(Message { control, applied: None }) {
            Err(flume::TrySendError::Full(m)) => Some(m.control),
            Ok(()) | Err(flume::TrySendError::Disconnected(_)) => None,
        }
    }

    /// Queues a control and resolves once the actor has applied it; the returned status shows
    /// its effect (for a restart of a running gateway: `stopping`).
    ///
    /// Errors: [`WaitError::Ended`] if the actor is gone or ends before applying it.
    pub async fn apply(&self, control: Control) -> Result<InstanceStatus, WaitError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send_async(Message {
                control,
                applied: Some(tx),
            })
            .await
            .map_err(|_| WaitError::Ended)?;
        rx.await.map_err(|_| WaitError::Ended)?;
        Ok(self.status())
    }

    /// The latest status.
    pub fn status(&self) -> InstanceStatus {
        self.status.borrow().clone()
    }

    /// `f` of the latest status, read in place (no copy of it).
    pub(crate) fn with_status<R>(&self, f: impl FnOnce(&InstanceStatus) -> R) -> R {
        f(&self.status.borrow())
    }

    /// Whether the actor has ended (its status is final).
    pub(crate) fn ended(&self) -> bool {
        self.status.has_changed().is_err()
    }

    /// A receiver of status changes.
    pub fn subscribe(&self) -> watch::Receiver<InstanceStatus> {
        self.status.clone()
    }

    /// Waits until the instance reaches `goal`, judging from the current status on: for
    /// [`Goal::Ready`], `parked`, `crash-loop` and `stopped` end the wait with the reason; for
    /// [`Goal::Stopped`], `stopped` and `parked` both count. Call it after [`Self::apply`], so
    /// that a status from before the control is not mistaken for its outcome.
    ///
    /// Errors: [`WaitError`], with the status at that moment.
    pub async fn wait_for(&self, goal: Goal, deadline: Instant) -> Result<InstanceStatus, (InstanceStatus, WaitError)> {
        let mut rx = self.subscribe();
        let started = Instant::now();
        loop {
            let s = rx.borrow_and_update().clone();
            let last = || s.last_exit.map(|e| e.to_string()).unwrap_or_else(|| "none".into());
            let verdict = match (goal, s.state) {
                (Goal::Ready, Phase::Ready) | (Goal::Stopped, Phase::Stopped | Phase::Parked) => Some(Ok(())),
                (Goal::Ready, Phase::Parked) => Some(Err(WaitError::Parked(s.reason.clone().unwrap_or_default()))),
                (Goal::Ready, Phase::CrashLoop) => Some(Err(WaitError::CrashLoop(last()))),
                (Goal::Ready, Phase::Stopped) => Some(Err(WaitError::Stopped(last()))),
                (Goal::Ready, Phase::Starting | Phase::Unready | Phase::Stopping | Phase::Backoff)
                | (Goal::Stopped, Phase::Starting | Phase::Ready | Phase::Unready | Phase::Stopping | Phase::Backoff | Phase::CrashLoop) => {
                    None
                }
            };
            match verdict {
                Some(Ok(())) => return Ok(s),
                Some(Err(e)) => return Err((s, e)),
                None => {}
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() {
                    return Err((s, WaitError::Ended));
                },
                () = tokio::time::sleep_until(deadline) => {
                    let phase = s.state;
                    return Err((s, WaitError::TimedOut { goal, after: started.elapsed(), phase }));
                }
            }
        }
    }

    /// Starts the instance and waits until it is ready (at once if it already is).
    ///
    /// Errors: see [`Self::wait_for`].
    pub async fn start(&self, deadline: Instant) -> Result<InstanceStatus, (InstanceStatus, WaitError)> {
        self.apply_and_wait(Control::Start, Goal::Ready, deadline).await
    }

    /// Stops the instance and waits until it is stopped.
    ///
    /// Errors: see [`Self::wait_for`].
    pub async fn stop(&self, deadline: Instant) -> Result<InstanceStatus, (InstanceStatus, WaitError)> {
        self.apply_and_wait(Control::Stop, Goal::Stopped, deadline).await
    }

    /// Restarts the instance (stop if running, then start) and waits until the new gateway is
    /// ready.
    ///
    /// Errors: see [`Self::wait_for`].
    pub async fn restart(&self, deadline: Instant) -> Result<InstanceStatus, (InstanceStatus, WaitError)> {
        self.apply_and_wait(Control::Restart, Goal::Ready, deadline).await
    }

    async fn apply_and_wait(&self, control: Control, goal: Goal, deadline: Instant) -> Result<InstanceStatus, (InstanceStatus, WaitError)> {
        if let Err(e) = self.apply(control).await {
            return Err((self.status(), e));
        }
        self.wait_for(goal, deadline).await
    }
}
