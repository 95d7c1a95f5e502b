//! The proof of a change: the changed instance must become ready within
//! `rollout.verify_timeout` ([`ready`]) and then stay ready for `rollout.soak` ([`soak`]).

use crate::instance::{Goal, InstanceHandle, InstanceStatus, Phase, WaitError};
use crate::observe::events::{FleetEvent, What};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Why a change failed its proof. [`Failure::reason`] is the text of `rolled_back`'s `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Exit 78 with a configuration error (the gateway's own line).
    Parked(String),
    /// Too many starts in the crash-loop window (the last exit).
    CrashLoop(String),
    /// Not ready within the deadline (the phase at the deadline).
    NotReady {
        /// `verify_timeout`.
        after: Duration,
        /// The phase then.
        phase: Phase,
    },
    /// Stopped while it was awaited (the last exit).
    Stopped(String),
    /// Exited without being asked during the soak (the exit).
    ExitedInSoak(String),
    /// Liveness failed during the soak.
    LivenessInSoak(u32),
}

impl Failure {
    /// One line for events and logs: `parked: ...`, `crash loop (last exit: ...)`, `not ready
    /// within 2m (state starting)`, `exited during the soak (...)`, `liveness failed during the
    /// soak (3 probes in a row)`.
    pub(crate) fn reason(&self) -> String {
        match self {
            Failure::Parked(line) => format!("parked on a configuration error: {line}"),
            Failure::CrashLoop(last) => format!("crash loop (last exit: {last})"),
            Failure::NotReady { after, phase } => format!(
                "not ready within {} (state {phase})",
                humantime::format_duration(Duration::from_secs(after.as_secs()))
            ),
            Failure::Stopped(last) => format!("stopped while being verified (last exit: {last})"),
            Failure::ExitedInSoak(exit) => format!("exited during the soak ({exit})"),
            Failure::LivenessInSoak(n) => format!("liveness failed during the soak ({n} probes in a row)"),
        }
    }

    /// The gateway's own error line when the failure carries it (a parked instance's).
    pub(crate) fn gateway_line(&self) -> Option<&str> {
        match self {
            Failure::Parked(line) => Some(line),
            _ => None,
        }
    }
}

/// Waits until `handle` is ready, at most `timeout` from now. Call it right after the instance
/// was launched or started (a status from before that would be mistaken for the outcome).
///
/// Returns the time it took. Errors: the [`Failure`] (parked, crash loop, stopped, not ready in
/// time); `None` inside when the actor ended (the fleet is stopping: nothing to judge).
pub(crate) async fn ready(handle: &InstanceHandle, timeout: Duration) -> Result<Duration, Option<Failure>> {
    let started = Instant::now();
    match handle.wait_for(Goal::Ready, crate::process::later(started, timeout)).await {
        Ok(_) => Ok(started.elapsed()),
        Err((_, e)) => Err(match e {
            WaitError::Parked(line) => Some(Failure::Parked(line)),
            WaitError::CrashLoop(last) => Some(Failure::CrashLoop(last)),
            WaitError::Stopped(last) => Some(Failure::Stopped(last)),
            WaitError::TimedOut { phase, .. } => Some(Failure::NotReady { after: timeout, phase }),
            WaitError::Ended => None,
        }),
    }
}

/// How a soak ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Soak {
    /// Ready for the whole soak: the change is proved.
    Stable,
    /// It failed during the soak.
    Failed(Failure),
    /// Someone else acted on the instance (a requested stop or restart), or its actor ended:
    /// the soak proves nothing, and nothing is rolled back.
    Interrupted,
}

/// Watches the ready instance `handle` for `soak`: an exit it did not ask for, or a liveness
/// failure, fails it; a requested stop or restart interrupts it. `events` is subscribed when it
/// became ready (earlier events, such as the exits of failed starts before it, would be judged
/// too); what happened in between is judged from the status at the end.
pub(crate) async fn soak(handle: &InstanceHandle, events: &mut broadcast::Receiver<FleetEvent>, soak: Duration) -> Soak {
    let end = crate::process::later(Instant::now(), soak);
    let pid = handle.status().pid;
    loop {
        let event = tokio::select! {
            () = tokio::time::sleep_until(end) => break,
            e = events.recv() => e,
        };
        match event {
            Ok(e) if e.profile.as_deref() == Some(handle.profile.as_str()) => match judge(&e) {
                Some(verdict) => return verdict,
                None => continue,
            },
            Ok(_) => continue,
            // Missed events: judge from the status below.
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return Soak::Interrupted,
        }
    }
    judge_status(&handle.status(), pid)
}

/// The last-known-good prover's judgement of one instance from samples of its status (the
/// fleet's provers run in one task that reads every unproved instance's status a few times a
/// second, instead of a task per instance waking on each change): proved once the same gateway
/// (same pid) was seen ready and then ready or briefly unready at every sample for `soak`.
/// Unlike [`soak`], it does not tell a failure from an interruption (a liveness restart reads
/// as a stop): it only needs "proved or not". A state between two samples that leaves the
/// gateway running is missed, and harmlessly: only `unready` does, and it is stable; every
/// other way out of `ready` ends the gateway, and the next pid is another gateway.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proving {
    /// The gateway being soaked (its pid) and when its soak is over.
    soaking: Option<(Option<i32>, Instant)>,
}

impl Proving {
    /// Takes the sample `s` read at `now`; `true` once proved (see [`Proving`]). A soak that
    /// fails starts again at the next sample that shows the instance ready.
    pub(crate) fn sample(&mut self, s: &InstanceStatus, now: Instant, soak: Duration) -> bool {
        if let Some((pid, _)) = self.soaking
            && judge_status(s, pid) != Soak::Stable
        {
            self.soaking = None;
        }
        if self.soaking.is_none() && s.state == Phase::Ready {
            self.soaking = Some((s.pid, crate::process::later(now, soak)));
        }
        self.soaking.is_some_and(|(_, due)| now >= due)
    }
}

/// The verdict of one event of the soaked instance, `None` when it changes nothing.
fn judge(e: &FleetEvent) -> Option<Soak> {
    match &e.what {
        What::LivenessFailed { failures, .. } => Some(Soak::Failed(Failure::LivenessInSoak(*failures))),
        What::Exited { requested: false, .. } => Some(Soak::Failed(Failure::ExitedInSoak(e.message.clone()))),
        What::Exited { requested: true, .. } => Some(Soak::Interrupted),
        What::Parked { reason } => Some(Soak::Failed(Failure::Parked(reason.clone()))),
        _ => None,
    }
}

/// The verdict at the end of a soak from the status alone (events may have been missed): the
/// same gateway still runs and is ready (or briefly unready) → stable.
fn judge_status(s: &InstanceStatus, pid: Option<i32>) -> Soak {
    match s.state {
        Phase::Ready | Phase::Unready if s.pid == pid => Soak::Stable,
        Phase::Stopped | Phase::Stopping => Soak::Interrupted,
        Phase::Parked => Soak::Failed(Failure::Parked(s.reason.clone().unwrap_or_default())),
        _ => Soak::Failed(Failure::ExitedInSoak(format!(
            "state {} at the end of the soak, pid {:?} → {:?}",
            s.state, pid, s.pid
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(what: What) -> FleetEvent {
        FleetEvent::new(what, Some("main"), Some(1), "m")
    }

    /// Every event that matters during a soak, judged.
    #[test]
    fn soak_verdicts() {
        let exited = |requested| What::Exited {
            requested,
            exit_kind: None,
            uptime_s: 1.0,
            code: Some(1),
            signal: None,
        };
        assert_eq!(judge(&event(exited(false))), Some(Soak::Failed(Failure::ExitedInSoak("m".into()))));
        assert_eq!(judge(&event(exited(true))), Some(Soak::Interrupted));
        let liveness = What::LivenessFailed {
            failures: 3,
            period_s: 1.0,
        };
        assert_eq!(judge(&event(liveness)), Some(Soak::Failed(Failure::LivenessInSoak(3))));
        assert_eq!(judge(&event(What::Unready)), None);
    }

    fn status(state: Phase, pid: Option<i32>) -> InstanceStatus {
        InstanceStatus {
            pid,
            reason: Some("bad key".into()),
            ..InstanceStatus::stub("main", state)
        }
    }

    /// At the end of a soak the same ready gateway is stable; another pid is a failure; a stop
    /// is an interruption.
    #[test]
    fn end_of_soak_from_status() {
        assert_eq!(judge_status(&status(Phase::Ready, Some(5)), Some(5)), Soak::Stable);
        assert!(matches!(judge_status(&status(Phase::Ready, Some(6)), Some(5)), Soak::Failed(_)));
        assert_eq!(judge_status(&status(Phase::Stopped, None), Some(5)), Soak::Interrupted);
        assert_eq!(
            judge_status(&status(Phase::Parked, None), Some(5)),
            Soak::Failed(Failure::Parked("bad key".into()))
        );
    }

    /// The prover's soak judged from samples of the status: the same gateway ready (or
    /// briefly unready) at every sample for the whole soak is proved; another pid or a stop
    /// starts the soak again; a soak begins only at a ready sample.
    #[test]
    fn proving_judges_samples_of_the_status() {
        let soak = Duration::from_secs(30);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut p = Proving::default();
        // Not ready yet: no soak begins.
        assert!(!p.sample(&status(Phase::Starting, Some(5)), at(0), soak));
        assert!(!p.sample(&status(Phase::Unready, Some(5)), at(1), soak));
        // Ready at 2, briefly unready, ready again: proved at 32, not before.
        assert!(!p.sample(&status(Phase::Ready, Some(5)), at(2), soak));
        assert!(!p.sample(&status(Phase::Unready, Some(5)), at(10), soak));
        assert!(!p.sample(&status(Phase::Ready, Some(5)), at(31), soak));
        assert!(p.sample(&status(Phase::Ready, Some(5)), at(32), soak));
        // Restarted (another pid) or stopping: the soak starts again from the next ready sample.
        for next in [status(Phase::Ready, Some(6)), status(Phase::Stopping, Some(5))] {
            let mut p = Proving::default();
            assert!(!p.sample(&status(Phase::Ready, Some(5)), at(0), soak));
            let again = next.state == Phase::Ready;
            assert!(!p.sample(&next, at(20), soak));
            assert!(!p.sample(&status(Phase::Ready, Some(6)), at(31), soak));
            // A new pid ready at 20 is proved at 50; a stop then ready at 31 at 61.
            assert_eq!(p.sample(&status(Phase::Ready, Some(6)), at(50), soak), again);
            assert!(p.sample(&status(Phase::Ready, Some(6)), at(61), soak));
        }
        // A soak of zero proves at the first ready sample.
        assert!(Proving::default().sample(&status(Phase::Ready, Some(5)), at(0), Duration::ZERO));
    }

    /// The reasons read as one line each.
    #[test]
    fn reasons() {
        let f = Failure::NotReady {
            after: Duration::from_millis(120_500),
            phase: Phase::Starting,
        };
        assert_eq!(f.reason(), "not ready within 2m (state starting)");
        assert_eq!(Failure::Parked("x".into()).gateway_line(), Some("x"));
    }
}
