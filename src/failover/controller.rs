//! The pure decision core of one standby: [`Controller`] takes main's health and the time and
//! returns what to do ([`FoAction`]); no I/O, no clock reads, tested on paused time.

use crate::fleet::StandbyMode;
use crate::instance::{InstanceStatus, Phase};
use crate::process::later;
use std::time::Duration;
use tokio::time::Instant;

/// The pair's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairState {
    /// Main is ready (or deliberately stopped).
    Normal,
    /// Main is not ready since `since`; failover when that lasts `limit`.
    Suspect {
        /// When main stopped being ready (or was started, for a first boot).
        since: Instant,
        /// `failover_after`, or for a first boot the longer of it and main's startup grace.
        limit: Duration,
    },
    /// Failed over at `since`.
    FailedOver { since: Instant },
    /// Failed over, and main is ready again since `ready_since`; failback when that lasts.
    Recovering {
        /// When main got ready again.
        ready_since: Instant,
        /// When the failover happened.
        failed_over: Instant,
    },
}

/// What the controller asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FoAction {
    /// Make sure the standby runs.
    StartStandby,
    /// Stop the (cold) standby gracefully.
    StopStandby,
    /// Record a failover with its reason, and run the hooks.
    FailedOver(String),
    /// Record a failback, and run the hooks.
    FailedBack,
}

/// The pure decision core of one pair.
#[derive(Debug, Clone)]
pub(crate) struct Controller {
    pub state: PairState,
    mode: StandbyMode,
    failover_after: Duration,
    failback_after: Duration,
    /// Main's `health.startup_grace`: how long a first boot may take.
    startup_grace: Duration,
    /// Whether main has been ready since it was last (re)started deliberately.
    main_was_ready: bool,
}

/// How main looks to the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MainHealth {
    Ready,
    /// Deliberately stopped: not a reason to fail over.
    Stopped,
    /// Crash loop or parked: down at once.
    Down,
    /// Starting, unready, backing off, stopping: down once it lasts.
    NotReady,
}

impl MainHealth {
    /// From an instance status.
    pub(crate) fn of(status: &InstanceStatus) -> Self {
        match status.state {
            Phase::Ready => MainHealth::Ready,
            Phase::Stopped => MainHealth::Stopped,
            Phase::CrashLoop | Phase::Parked => MainHealth::Down,
            Phase::Starting | Phase::Unready | Phase::Stopping | Phase::Backoff => MainHealth::NotReady,
        }
    }
}

impl Controller {
    /// A controller in `Normal`, or in `FailedOver` when a cold standby already runs (after a
    /// reload during a failover). `startup_grace` is main's `health.startup_grace`.
    pub(crate) fn new(
        mode: StandbyMode,
        failover_after: Duration,
        failback_after: Duration,
        startup_grace: Duration,
        standby_running: bool,
        now: Instant,
    ) -> Self {
        let state = if mode == StandbyMode::Cold && standby_running {
            PairState::FailedOver { since: now }
        } else {
            PairState::Normal
        };
        Controller {
            state,
            mode,
            failover_after,
            failback_after,
            startup_grace,
            main_was_ready: false,
        }
    }

    /// When [`Controller::tick`] must run next, if a delay is pending.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.state {
            PairState::Suspect { since, limit } => Some(later(since, limit)),
            PairState::Recovering { ready_since, .. } => Some(later(ready_since, self.failback_after)),
            PairState::Normal | PairState::FailedOver { .. } => None,
        }
    }

    fn failover(&mut self, reason: String, now: Instant) -> Vec<FoAction> {
        self.state = PairState::FailedOver { since: now };
        vec![FoAction::StartStandby, FoAction::FailedOver(reason)]
    }

    /// Main's health changed (or was re-read) at `now`.
    pub(crate) fn on_main(&mut self, health: MainHealth, now: Instant) -> Vec<FoAction> {
        use MainHealth as H;
        use PairState as P;
        match health {
            H::Ready => self.main_was_ready = true,
            H::Stopped => self.main_was_ready = false,
            H::Down | H::NotReady => {}
        }
        match (self.state.clone(), health) {
            (P::Normal | P::Suspect { .. }, H::Down) => self.failover("main is in a crash loop or parked".into(), now),
            (P::Normal, H::NotReady) => {
                let limit = if self.main_was_ready {
                    self.failover_after
                } else {
                    self.failover_after.max(self.startup_grace)
                };
                self.state = P::Suspect { since: now, limit };
                vec![]
            }
            (P::Suspect { .. }, H::Ready | H::Stopped) => {
                self.state = P::Normal;
                vec![]
            }
            (P::Normal, H::Ready | H::Stopped) | (P::Suspect { .. }, H::NotReady) => vec![],
            (P::FailedOver { since }, H::Ready) => {
                self.state = P::Recovering {
                    ready_since: now,
                    failed_over: since,
                };
                vec![]
            }
            (P::FailedOver { .. }, H::Down | H::NotReady | H::Stopped) => vec![],
            (P::Recovering { failed_over, .. }, H::Down | H::NotReady | H::Stopped) => {
                self.state = P::FailedOver { since: failed_over };
                vec![]
            }
            (P::Recovering { .. }, H::Ready) => vec![],
        }
    }

    /// A pending delay may have passed at `now`.
    pub(crate) fn tick(&mut self, now: Instant) -> Vec<FoAction> {
        match self.state {
            PairState::Suspect { since, limit } if now >= later(since, limit) => {
                let waited = humantime::format_duration(Duration::from_secs(now.duration_since(since).as_secs()));
                let reason = if self.main_was_ready {
                    format!("main not ready for {waited}")
                } else {
                    format!("main not ready {waited} after its start")
                };
                self.failover(reason, now)
            }
            PairState::Recovering { ready_since, .. } if now >= later(ready_since, self.failback_after) => {
                self.state = PairState::Normal;
                let mut actions = vec![FoAction::FailedBack];
                if self.mode == StandbyMode::Cold {
                    actions.insert(0, FoAction::StopStandby);
                }
                actions
            }
            PairState::Normal | PairState::Suspect { .. } | PairState::FailedOver { .. } | PairState::Recovering { .. } => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MainHealth as H;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[tokio::test(start_paused = true)]
    async fn not_ready_must_last_before_failover_and_ready_must_last_before_failback() {
        let t0 = Instant::now();
        let mut c = Controller::new(StandbyMode::Cold, secs(60), secs(30), secs(300), false, t0);
        assert!(c.on_main(H::Ready, t0).is_empty());
        assert!(c.on_main(H::NotReady, t0 + secs(1)).is_empty());
        assert_eq!(c.deadline(), Some(t0 + secs(61)));
        // Ready again before the delay: no failover (hysteresis on the down edge).
        assert!(c.on_main(H::Ready, t0 + secs(30)).is_empty());
        assert_eq!(c.state, PairState::Normal);
        c.on_main(H::NotReady, t0 + secs(40));
        assert!(c.tick(t0 + secs(99)).is_empty());
        let a = c.tick(t0 + secs(100));
        assert_eq!(
            a,
            vec![FoAction::StartStandby, FoAction::FailedOver("main not ready for 1m".into())]
        );
        // Flapping main during recovery does not fail back (hysteresis on the up edge).
        c.on_main(H::Ready, t0 + secs(110));
        c.on_main(H::NotReady, t0 + secs(120));
        assert!(matches!(c.state, PairState::FailedOver { .. }));
        c.on_main(H::Ready, t0 + secs(130));
        assert!(c.tick(t0 + secs(159)).is_empty());
        assert_eq!(c.tick(t0 + secs(160)), vec![FoAction::StopStandby, FoAction::FailedBack]);
        assert_eq!(c.state, PairState::Normal);
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_boot_gets_its_startup_grace_a_restart_does_not() {
        let t0 = Instant::now();
        let mut c = Controller::new(StandbyMode::Cold, secs(2), secs(5), secs(30), false, t0);
        // Fleet start: main boots for 20 s, longer than failover_after but within its grace.
        assert!(c.on_main(H::NotReady, t0).is_empty());
        assert_eq!(c.deadline(), Some(t0 + secs(30)));
        assert!(c.tick(t0 + secs(20)).is_empty());
        assert!(c.on_main(H::Ready, t0 + secs(20)).is_empty());
        assert_eq!(c.state, PairState::Normal);
        // Killed after it had been ready: its reboot is downtime, failover_after applies.
        c.on_main(H::NotReady, t0 + secs(40));
        assert_eq!(c.deadline(), Some(t0 + secs(42)));
        assert_eq!(
            c.tick(t0 + secs(42)),
            vec![FoAction::StartStandby, FoAction::FailedOver("main not ready for 2s".into())]
        );
        // Stopped deliberately and started again: a first boot once more; a boot that never
        // gets ready fails over when the grace is over.
        let mut c = Controller::new(StandbyMode::Cold, secs(2), secs(5), secs(30), false, t0);
        c.on_main(H::Ready, t0);
        c.on_main(H::Stopped, t0 + secs(1));
        c.on_main(H::NotReady, t0 + secs(2));
        assert!(c.tick(t0 + secs(31)).is_empty());
        assert_eq!(
            c.tick(t0 + secs(32)),
            vec![
                FoAction::StartStandby,
                FoAction::FailedOver("main not ready 30s after its start".into())
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn crash_loop_or_parked_fails_over_at_once_hot_standby_stays() {
        let t0 = Instant::now();
        let mut c = Controller::new(StandbyMode::Hot, secs(60), secs(10), secs(300), false, t0);
        assert_eq!(
            c.on_main(H::Down, t0),
            vec![
                FoAction::StartStandby,
                FoAction::FailedOver("main is in a crash loop or parked".into())
            ]
        );
        c.on_main(H::Ready, t0 + secs(5));
        assert_eq!(c.tick(t0 + secs(15)), vec![FoAction::FailedBack], "a hot standby is not stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn deliberate_stop_is_not_down_and_reload_during_failover_resumes_it() {
        let t0 = Instant::now();
        let mut c = Controller::new(StandbyMode::Cold, secs(5), secs(5), secs(300), false, t0);
        c.on_main(H::Stopped, t0);
        assert!(c.tick(t0 + secs(100)).is_empty());
        assert_eq!(c.state, PairState::Normal);
        let resumed = Controller::new(StandbyMode::Cold, secs(5), secs(5), secs(300), true, t0);
        assert!(matches!(resumed.state, PairState::FailedOver { .. }));
    }
}
