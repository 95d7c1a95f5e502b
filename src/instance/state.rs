//! The pure core of an instance: its state, what it wants, and `step(event) -> actions`.
//!
//! No I/O and no clock reads happen here; the actor ([`super::actor`]) feeds events with the
//! current time and carries out the actions. Every (state, event) pair is matched explicitly,
//! as s6-supervise's `actions[state][event]` table: there is no `_ =>` arm.

use crate::fleet::RestartSettings;
use crate::instance::backoff::Backoff;
use crate::instance::policy::ExitResult;
use crate::process::later;
use std::time::Duration;
use tokio::time::Instant;

/// After SIGKILL, how long to wait for the leader's exit before reporting it stuck.
pub const KILL_WAIT: Duration = Duration::from_secs(10);

/// What the operator wants (s6's `flagwantup`), kept apart from what is (the state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Keep it running.
    Up,
    /// Keep it stopped.
    Down,
}

/// What to do once a stop completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStop {
    /// Stay stopped.
    StayDown,
    /// Start again (a restart).
    Start,
}

/// How far a stop has escalated (systemd's `SERVICE_STOP_SIGTERM` and `SERVICE_STOP_SIGKILL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM (and SIGCONT) sent to the process group.
    Term,
    /// SIGKILL sent to every member of the tree.
    Kill,
}

/// Why clawherd is stopping a gateway: recorded as the exit's [`ExitKind`] when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// A stop or restart asked of clawherd (an operator, a reload, a rollout, a failback):
    /// [`ExitKind::Requested`].
    Asked,
    /// The gateway failed its liveness probe: [`ExitKind::Unhealthy`]. A stop or restart asked
    /// while this stop runs does not change it (the signal was sent for the failed probe).
    Liveness,
}

impl StopCause {
    /// The exit kind a stop for this cause records.
    pub fn exit_kind(self) -> ExitKind {
        match self {
            StopCause::Asked => ExitKind::Requested,
            StopCause::Liveness => ExitKind::Unhealthy,
        }
    }
}

/// The instance's state. Data that exists only in one state lives in its variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No gateway runs.
    Stopped,
    /// Spawned, not ready yet (`/readyz` not 200).
    Starting {
        /// Gateway pid.
        pid: i32,
        /// Spawn time.
        since: Instant,
    },
    /// Ready (`/readyz` answered 200).
    Ready {
        /// Gateway pid.
        pid: i32,
        /// Spawn time.
        since: Instant,
        /// Time readiness was last gained.
        ready_at: Instant,
    },
    /// Was ready, `/readyz` now fails (a channel down, draining, a plugin reload); alive.
    Unready {
        /// Gateway pid.
        pid: i32,
        /// Spawn time.
        since: Instant,
        /// Time readiness was lost.
        unready_at: Instant,
    },
    /// Being stopped: `signal` was sent; the stop timer escalates SIGTERM to SIGKILL and
    /// reports a gateway that outlives SIGKILL.
    Stopping {
        /// Gateway pid.
        pid: i32,
        /// Spawn time.
        since: Instant,
        /// What follows the stop.
        then: AfterStop,
        /// The last signal sent.
        signal: StopSignal,
        /// Why it is being stopped.
        cause: StopCause,
    },
    /// Waiting before the next start.
    AutoRestart {
        /// When the next start happens.
        at: Instant,
    },
    /// Crash loop: too many starts in the window. Reported loudly and retried at the slow
    /// cadence (`restart.crash_loop.retry_every`), never given up for good.
    CrashLoop {
        /// When the next attempt happens.
        at: Instant,
    },
    /// Exited 78 with a real configuration error (not the state-dir lock case): stays down until
    /// an operator starts it or the fleet is reloaded.
    Parked {
        /// The gateway's own error line.
        reason: String,
    },
}

impl State {
    /// The coarse state shown to operators (systemd's state translation).
    pub fn phase(&self) -> super::Phase {
        use super::Phase;
        match self {
            State::Stopped => Phase::Stopped,
            State::Starting { .. } => Phase::Starting,
            State::Ready { .. } => Phase::Ready,
            State::Unready { .. } => Phase::Unready,
            State::Stopping { .. } => Phase::Stopping,
            State::AutoRestart { .. } => Phase::Backoff,
            State::CrashLoop { .. } => Phase::CrashLoop,
            State::Parked { .. } => Phase::Parked,
        }
    }

    /// The gateway's pid while one runs.
    pub fn pid(&self) -> Option<i32> {
        match self {
            State::Starting { pid, .. } | State::Ready { pid, .. } | State::Unready { pid, .. } | State::Stopping { pid, .. } => Some(*pid),
            State::Stopped | State::AutoRestart { .. } | State::CrashLoop { .. } | State::Parked { .. } => None,
        }
    }
}

/// Inputs to the machine: requests in the imperative, facts in the past tense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Operator/supervisor: bring it up.
    Start,
    /// Operator/supervisor: bring it down.
    Stop,
    /// Operator: stop (if running) and start again.
    Restart,
    /// The gateway was spawned with this pid.
    Spawned {
        /// Its pid.
        pid: i32,
    },
    /// The spawn failed.
    SpawnFailed,
    /// The gateway (leader) exited.
    Exited {
        /// How.
        result: ExitResult,
        /// For an exit 78 the actor judged a real configuration error: the gateway's error line.
        config_error: Option<String>,
        /// For an exit 0 not asked for: OpenClaw's restart-handoff consume answered `accepted`,
        /// so the gateway asked to be restarted (see [`super::handoff`]).
        handed_back: bool,
    },
    /// `/readyz` answered 200.
    BecameReady,
    /// `/readyz` failed `failure_threshold` times in a row after readiness.
    BecameUnready,
    /// `/healthz` failed `failure_threshold` times in a row (hung, or not answering).
    LivenessFailed,
    /// The stop timer fired.
    StopTimerFired,
    /// The backoff (or crash-loop retry) timer fired.
    BackoffElapsed,
}

/// An exit clawherd did not ask for, as [`Event::Exited`] carries it.
struct Exit {
    result: ExitResult,
    config_error: Option<String>,
    handed_back: bool,
}

/// What to tell the log and the event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The gateway exited.
    Exited {
        /// How it ended.
        result: ExitResult,
        /// How it came about (clawherd asked for it unless [`ExitKind::Crash`] or
        /// [`ExitKind::Handoff`]).
        kind: ExitKind,
        /// Time since spawn.
        uptime: Duration,
    },
    /// Readiness reached.
    Ready {
        /// Spawn → ready.
        after: Duration,
    },
    /// Readiness lost.
    Unready,
    /// A restart is scheduled after this delay.
    Backoff(Duration),
    /// Crash loop entered (or continued); next attempt after `retry_in`.
    CrashLoop {
        /// Starts within the window.
        starts: usize,
        /// The window.
        window: Duration,
        /// Slow cadence.
        retry_in: Duration,
    },
    /// Parked on a configuration error.
    Parked {
        /// The gateway's error line.
        reason: String,
    },
    /// Liveness failed: restarting.
    LivenessRestart,
    /// The gateway outlived SIGKILL's wait.
    StuckAfterKill,
}

/// What the actor must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Spawn the gateway and feed back `Spawned`/`SpawnFailed`.
    Spawn,
    /// SIGTERM (then SIGCONT, so a stopped process can handle it) to the gateway's process group.
    SignalTerm,
    /// SIGKILL to every member of the tree.
    KillTree,
    /// Take down what is left of the tree after the leader exited (SIGTERM, grace, SIGKILL), and
    /// spawn nothing until it is gone: a new gateway on a state dir whose old owner still lives
    /// exits 78 (docs/openclaw.md, "Shared state between instances"). The actor runs it in
    /// flight: controls and status are answered meanwhile, and a [`Action::Spawn`] waits.
    CleanupTree,
    /// Arm the stop timer.
    ArmStopTimer(Duration),
    /// Arm the backoff timer for this delay.
    ArmBackoff(Duration),
    /// Clear any armed timer.
    ClearTimer,
    /// Tell the log and the event stream.
    Report(Report),
}

pub use crate::observe::events::ExitKind;

/// One instance's machine: state, want, counters and the backoff tally.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Current state.
    pub state: State,
    /// Intent.
    pub want: Want,
    /// Automatic restarts so far.
    pub restarts: u32,
    /// The last exit and when.
    pub last_exit: Option<(ExitResult, Instant)>,
    /// How the last exit came about (set with `last_exit`).
    pub last_exit_kind: Option<ExitKind>,
    /// The last spawn → ready time.
    pub last_ready_after: Option<Duration>,
    backoff: Backoff,
    stop_timeout: Duration,
    liveness_stop_timeout: Duration,
}

impl Machine {
    /// A stopped instance. `liveness_stop_timeout` bounds the graceful stop of a gateway that
    /// failed its liveness probe (a hung one would otherwise hold the full `stop_timeout`).
    pub fn new(restart: RestartSettings, stop_timeout: Duration, liveness_stop_timeout: Duration) -> Self {
        Machine {
            state: State::Stopped,
            want: Want::Down,
            restarts: 0,
            last_exit: None,
            last_exit_kind: None,
            last_ready_after: None,
            backoff: Backoff::new(restart),
            stop_timeout,
            liveness_stop_timeout: liveness_stop_timeout.min(stop_timeout),
        }
    }

    /// The instance's restart policy.
    pub fn restart_policy(&self) -> crate::fleet::RestartPolicy {
        self.backoff.settings().policy
    }

    /// Applies `event` at `now`; returns the actions to carry out, in order. Each event group
    /// has its own function, which decides every state explicitly (no `_ =>` arm).
    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Action> {
        match event {
            Event::Start => self.on_start(),
            Event::Restart => self.on_restart(),
            Event::Stop => self.on_stop(),
            Event::Spawned { pid } => self.on_spawned(pid, now),
            Event::SpawnFailed => self.on_spawn_failed(now),
            Event::BecameReady => self.on_ready(now),
            Event::BecameUnready => self.on_unready(now),
            Event::LivenessFailed => self.on_liveness_failed(),
            Event::Exited {
                result,
                config_error,
                handed_back,
            } => self.on_exit(
                Exit {
                    result,
                    config_error,
                    handed_back,
                },
                now,
            ),
            Event::StopTimerFired => self.on_stop_timer(),
            Event::BackoffElapsed => self.on_backoff_elapsed(),
        }
    }

    /// Begins a graceful stop of a running gateway: SIGTERM, then the stop timer.
    fn begin_stop(&mut self, pid: i32, since: Instant, then: AfterStop, cause: StopCause, timeout: Duration) -> Vec<Action> {
        self.state = State::Stopping {
            pid,
            since,
            then,
            signal: StopSignal::Term,
            cause,
        };
        vec![Action::SignalTerm, Action::ArmStopTimer(timeout)]
    }

    fn on_start(&mut self) -> Vec<Action> {
        use State as S;
        self.want = Want::Up;
        match &mut self.state {
            S::Stopped | S::Parked { .. } => {
                self.backoff.reset();
                vec![Action::Spawn]
            }
            S::CrashLoop { .. } => {
                // An operator's start: try now, with a fresh tally.
                self.backoff.reset();
                vec![Action::ClearTimer, Action::Spawn]
            }
            S::Stopping { then, .. } => {
                *then = AfterStop::Start;
                vec![]
            }
            S::AutoRestart { .. } | S::Starting { .. } | S::Ready { .. } | S::Unready { .. } => vec![],
        }
    }

    fn on_restart(&mut self) -> Vec<Action> {
        use State as S;
        self.want = Want::Up;
        match self.state.clone() {
            S::Stopped | S::Parked { .. } => {
                self.backoff.reset();
                vec![Action::Spawn]
            }
            S::AutoRestart { .. } | S::CrashLoop { .. } => {
                self.backoff.reset();
                vec![Action::ClearTimer, Action::Spawn]
            }
            S::Stopping {
                pid, since, signal, cause, ..
            } => {
                self.state = S::Stopping {
                    pid,
                    since,
                    then: AfterStop::Start,
                    signal,
                    cause,
                };
                vec![]
            }
            S::Starting { pid, since } | S::Ready { pid, since, .. } | S::Unready { pid, since, .. } => {
                self.begin_stop(pid, since, AfterStop::Start, StopCause::Asked, self.stop_timeout)
            }
        }
    }

    fn on_stop(&mut self) -> Vec<Action> {
        use State as S;
        self.want = Want::Down;
        match &mut self.state {
            S::Starting { pid, since } | S::Ready { pid, since, .. } | S::Unready { pid, since, .. } => {
                let (pid, since) = (*pid, *since);
                self.begin_stop(pid, since, AfterStop::StayDown, StopCause::Asked, self.stop_timeout)
            }
            S::Stopping { then, .. } => {
                // A second SIGTERM does not hurry OpenClaw (docs/openclaw.md, "Lifecycle"); the
                // stop timer escalates.
                *then = AfterStop::StayDown;
                vec![]
            }
            S::AutoRestart { .. } | S::CrashLoop { .. } => {
                self.state = S::Stopped;
                vec![Action::ClearTimer]
            }
            S::Stopped | S::Parked { .. } => {
                self.state = S::Stopped;
                vec![]
            }
        }
    }

    fn on_spawned(&mut self, pid: i32, now: Instant) -> Vec<Action> {
        use State as S;
        match self.state {
            S::Stopped | S::Parked { .. } | S::AutoRestart { .. } | S::CrashLoop { .. } => {
                self.backoff.record_start(now);
                self.state = S::Starting { pid, since: now };
                vec![]
            }
            // A spawn is only asked for where no gateway runs, and its result is fed back at
            // once; a running state keeps its own gateway.
            S::Starting { .. } | S::Ready { .. } | S::Unready { .. } | S::Stopping { .. } => vec![],
        }
    }

    fn on_spawn_failed(&mut self, now: Instant) -> Vec<Action> {
        use State as S;
        match self.state {
            S::Stopped | S::Parked { .. } | S::AutoRestart { .. } | S::CrashLoop { .. } => {
                self.backoff.record_start(now);
                let exit = Exit {
                    result: ExitResult::SpawnFailed,
                    config_error: None,
                    handed_back: false,
                };
                self.after_unrequested_exit(exit, Duration::ZERO, None, now)
            }
            // As for `Spawned`: a running state keeps its own gateway.
            S::Starting { .. } | S::Ready { .. } | S::Unready { .. } | S::Stopping { .. } => vec![],
        }
    }

    fn on_ready(&mut self, now: Instant) -> Vec<Action> {
        use State as S;
        match self.state {
            S::Starting { pid, since } => {
                let after = now.duration_since(since);
                self.last_ready_after = Some(after);
                self.state = S::Ready { pid, since, ready_at: now };
                vec![Action::Report(Report::Ready { after })]
            }
            S::Unready { pid, since, .. } => {
                self.state = S::Ready { pid, since, ready_at: now };
                vec![Action::Report(Report::Ready {
                    after: now.duration_since(since),
                })]
            }
            S::Stopped | S::Parked { .. } | S::AutoRestart { .. } | S::CrashLoop { .. } | S::Ready { .. } | S::Stopping { .. } => vec![],
        }
    }

    fn on_unready(&mut self, now: Instant) -> Vec<Action> {
        use State as S;
        match self.state {
            S::Ready { pid, since, .. } => {
                self.state = S::Unready {
                    pid,
                    since,
                    unready_at: now,
                };
                vec![Action::Report(Report::Unready)]
            }
            S::Stopped
            | S::Parked { .. }
            | S::AutoRestart { .. }
            | S::CrashLoop { .. }
            | S::Starting { .. }
            | S::Unready { .. }
            | S::Stopping { .. } => {
                vec![]
            }
        }
    }

    fn on_liveness_failed(&mut self) -> Vec<Action> {
        use State as S;
        match self.state {
            S::Starting { pid, since } | S::Ready { pid, since, .. } | S::Unready { pid, since, .. } => {
                self.restarts += 1;
                let mut actions = vec![Action::Report(Report::LivenessRestart)];
                actions.extend(self.begin_stop(pid, since, AfterStop::Start, StopCause::Liveness, self.liveness_stop_timeout));
                actions
            }
            S::Stopped | S::Parked { .. } | S::AutoRestart { .. } | S::CrashLoop { .. } | S::Stopping { .. } => vec![],
        }
    }

    fn on_exit(&mut self, exit: Exit, now: Instant) -> Vec<Action> {
        use State as S;
        match self.state {
            S::Starting { since, .. } | S::Ready { since, .. } | S::Unready { since, .. } => {
                let ready_for = match self.state {
                    S::Ready { ready_at, .. } => Some(now.duration_since(ready_at)),
                    S::Unready { .. } => Some(Duration::ZERO),
                    S::Stopped
                    | S::Parked { .. }
                    | S::AutoRestart { .. }
                    | S::CrashLoop { .. }
                    | S::Starting { .. }
                    | S::Stopping { .. } => None,
                };
                self.after_unrequested_exit(exit, now.duration_since(since), ready_for, now)
            }
            S::Stopping { since, then, cause, .. } => {
                self.last_exit = Some((exit.result, now));
                self.last_exit_kind = Some(cause.exit_kind());
                let mut actions = vec![
                    Action::ClearTimer,
                    Action::Report(Report::Exited {
                        result: exit.result,
                        kind: cause.exit_kind(),
                        uptime: now.duration_since(since),
                    }),
                    Action::CleanupTree,
                ];
                self.state = S::Stopped;
                if then == AfterStop::Start {
                    actions.push(Action::Spawn);
                }
                actions
            }
            S::Stopped | S::Parked { .. } | S::AutoRestart { .. } | S::CrashLoop { .. } => vec![],
        }
    }

    fn on_stop_timer(&mut self) -> Vec<Action> {
        use State as S;
        match &mut self.state {
            S::Stopping { signal, .. } => {
                let report = match signal {
                    StopSignal::Term => None,
                    StopSignal::Kill => Some(Action::Report(Report::StuckAfterKill)),
                };
                *signal = StopSignal::Kill;
                report
                    .into_iter()
                    .chain([Action::KillTree, Action::ArmStopTimer(KILL_WAIT)])
                    .collect()
            }
            S::Stopped
            | S::Parked { .. }
            | S::AutoRestart { .. }
            | S::CrashLoop { .. }
            | S::Starting { .. }
            | S::Ready { .. }
            | S::Unready { .. } => vec![],
        }
    }

    fn on_backoff_elapsed(&mut self) -> Vec<Action> {
        use State as S;
        match self.state {
            S::AutoRestart { .. } | S::CrashLoop { .. } => vec![Action::Spawn],
            S::Stopped | S::Parked { .. } | S::Starting { .. } | S::Ready { .. } | S::Unready { .. } | S::Stopping { .. } => vec![],
        }
    }

    /// An exit (or failed spawn) clawherd did not ask for: report, clean the tree, then park on a
    /// configuration error, restart per policy with backoff, or enter the crash loop (slow retry).
    fn after_unrequested_exit(&mut self, exit: Exit, uptime: Duration, ready_for: Option<Duration>, now: Instant) -> Vec<Action> {
        let Exit {
            result,
            config_error,
            handed_back,
        } = exit;
        let was_ready = ready_for.is_some();
        self.last_exit = Some((result, now));
        let kind = if handed_back { ExitKind::Handoff } else { ExitKind::Crash };
        self.last_exit_kind = Some(kind);
        let mut actions = vec![Action::Report(Report::Exited { result, kind, uptime })];
        if result != ExitResult::SpawnFailed {
            actions.push(Action::CleanupTree);
        }
        if self.want == Want::Down || !self.backoff.settings().policy.should_restart(result, handed_back) {
            self.want = Want::Down;
            self.state = State::Stopped;
            return actions;
        }
        if let Some(reason) = config_error {
            actions.push(Action::Report(Report::Parked { reason: reason.clone() }));
            self.state = State::Parked { reason };
            return actions;
        }
        self.restarts += 1;
        if self.backoff.crash_loop(now) {
            let settings = self.backoff.settings();
            let (window, retry_in) = (settings.crash_loop_window, settings.crash_loop_retry);
            actions.push(Action::Report(Report::CrashLoop {
                starts: self.backoff.starts_in_window(),
                window,
                retry_in,
            }));
            self.state = State::CrashLoop { at: later(now, retry_in) };
            actions.push(Action::ArmBackoff(retry_in));
            return actions;
        }
        // The restart hand-back (exit 0 from a ready gateway) asks to be restarted now.
        let delay = if handed_back || (was_ready && result.is_clean()) {
            Duration::ZERO
        } else {
            self.backoff.next_delay(uptime, ready_for.unwrap_or_default())
        };
        self.state = State::AutoRestart { at: later(now, delay) };
        actions.extend([Action::Report(Report::Backoff(delay)), Action::ArmBackoff(delay)]);
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::RestartPolicy;

    fn settings(policy: RestartPolicy) -> RestartSettings {
        RestartSettings {
            policy,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
            backoff_reset_after: Duration::from_secs(60),
            crash_loop_max_starts: 3,
            crash_loop_window: Duration::from_secs(300),
            crash_loop_retry: Duration::from_secs(120),
        }
    }

    fn machine(policy: RestartPolicy) -> Machine {
        Machine::new(settings(policy), Duration::from_secs(30), Duration::from_secs(5))
    }

    fn exited(result: ExitResult) -> Event {
        Event::Exited {
            result,
            config_error: None,
            handed_back: false,
        }
    }

    fn exit_report(result: ExitResult, kind: ExitKind, uptime: u64) -> Action {
        Action::Report(Report::Exited {
            result,
            kind,
            uptime: Duration::from_secs(uptime),
        })
    }

    /// Runs `events` one second apart and returns the final state name and the actions of the
    /// last event.
    fn run(m: &mut Machine, events: &[Event]) -> (&'static str, Vec<Action>) {
        let t0 = Instant::now();
        let mut last = Vec::new();
        for (i, e) in events.iter().enumerate() {
            last = m.step(e.clone(), t0 + Duration::from_secs(i as u64));
        }
        (m.state.phase().as_str(), last)
    }

    /// Regression (hardening issue): `300000000000y` as a stop timeout, backoff or crash-loop
    /// retry overflowed `Instant + Duration` and aborted the daemon.
    #[tokio::test(start_paused = true)]
    async fn huge_delays_never_overflow_the_clock() {
        let huge = Duration::from_secs(u64::MAX / 4);
        let mut s = settings(RestartPolicy::Always);
        (s.backoff_initial, s.backoff_max, s.crash_loop_retry) = (huge, huge, huge);
        s.crash_loop_max_starts = 1;
        let mut m = Machine::new(s, huge, huge);
        let (phase, _) = run(&mut m, &[Event::Start, Event::Spawned { pid: 1 }, exited(ExitResult::Code(1))]);
        assert_eq!(phase, "crash-loop");
        let (phase, actions) = run(&mut m, &[Event::Start, Event::Spawned { pid: 2 }, Event::Stop]);
        assert_eq!((phase, actions), ("stopping", vec![Action::SignalTerm, Action::ArmStopTimer(huge)]));
        let now = Instant::now();
        assert!(later(now, huge) > now && later(now, Duration::MAX) > now);
    }

    #[tokio::test(start_paused = true)]
    #[allow(clippy::too_many_lines, reason = "the transition table reads best as one table")]
    async fn transition_table() {
        use Event as E;
        use RestartPolicy as P;
        let spawned = E::Spawned { pid: 10 };
        let backoff = |d: u64| {
            vec![
                Action::Report(Report::Backoff(Duration::from_secs(d))),
                Action::ArmBackoff(Duration::from_secs(d)),
            ]
        };
        type Case = (&'static str, RestartPolicy, Vec<Event>, &'static str, Vec<Action>);
        let cases: Vec<Case> = vec![
            ("start spawns", P::Always, vec![E::Start], "stopped", vec![Action::Spawn]),
            (
                "spawned is starting",
                P::Always,
                vec![E::Start, spawned.clone()],
                "starting",
                vec![],
            ),
            (
                "ready",
                P::Always,
                vec![E::Start, spawned.clone(), E::BecameReady],
                "ready",
                vec![Action::Report(Report::Ready {
                    after: Duration::from_secs(1),
                })],
            ),
            (
                "unready",
                P::Always,
                vec![E::Start, spawned.clone(), E::BecameReady, E::BecameUnready],
                "unready",
                vec![Action::Report(Report::Unready)],
            ),
            (
                "ready again",
                P::Always,
                vec![E::Start, spawned.clone(), E::BecameReady, E::BecameUnready, E::BecameReady],
                "ready",
                vec![Action::Report(Report::Ready {
                    after: Duration::from_secs(3),
                })],
            ),
            (
                "stop sends SIGTERM and arms timer",
                P::Always,
                vec![E::Start, spawned.clone(), E::BecameReady, E::Stop],
                "stopping",
                vec![Action::SignalTerm, Action::ArmStopTimer(Duration::from_secs(30))],
            ),
            (
                "second stop does not resend",
                P::Always,
                vec![E::Start, spawned.clone(), E::Stop, E::Stop],
                "stopping",
                vec![],
            ),
            (
                "stop timeout escalates to SIGKILL",
                P::Always,
                vec![E::Start, spawned.clone(), E::Stop, E::StopTimerFired],
                "stopping",
                vec![Action::KillTree, Action::ArmStopTimer(KILL_WAIT)],
            ),
            (
                "requested exit stays down and cleans the tree",
                P::Always,
                vec![E::Start, spawned.clone(), E::Stop, exited(ExitResult::Code(0))],
                "stopped",
                vec![
                    Action::ClearTimer,
                    exit_report(ExitResult::Code(0), ExitKind::Requested, 2),
                    Action::CleanupTree,
                ],
            ),
            (
                "crash restarts after backoff",
                P::Always,
                vec![E::Start, spawned.clone(), exited(ExitResult::Signal(9))],
                "backoff",
                [
                    vec![exit_report(ExitResult::Signal(9), ExitKind::Crash, 1), Action::CleanupTree],
                    backoff(1),
                ]
                .concat(),
            ),
            (
                "backoff elapsed spawns",
                P::Always,
                vec![E::Start, spawned.clone(), exited(ExitResult::Code(1)), E::BackoffElapsed],
                "backoff",
                vec![Action::Spawn],
            ),
            (
                "hand-back from ready restarts at once",
                P::Always,
                vec![E::Start, spawned.clone(), E::BecameReady, exited(ExitResult::Code(0))],
                "backoff",
                [
                    vec![exit_report(ExitResult::Code(0), ExitKind::Crash, 2), Action::CleanupTree],
                    backoff(0),
                ]
                .concat(),
            ),
            (
                "on-failure restarts a handed-back exit 0 at once",
                P::OnFailure,
                vec![
                    E::Start,
                    spawned.clone(),
                    E::BecameReady,
                    E::Exited {
                        result: ExitResult::Code(0),
                        config_error: None,
                        handed_back: true,
                    },
                ],
                "backoff",
                [
                    vec![exit_report(ExitResult::Code(0), ExitKind::Handoff, 2), Action::CleanupTree],
                    backoff(0),
                ]
                .concat(),
            ),
            (
                "never leaves even a handed-back exit 0 down",
                P::Never,
                vec![
                    E::Start,
                    spawned.clone(),
                    E::Exited {
                        result: ExitResult::Code(0),
                        config_error: None,
                        handed_back: true,
                    },
                ],
                "stopped",
                vec![exit_report(ExitResult::Code(0), ExitKind::Handoff, 1), Action::CleanupTree],
            ),
            (
                "on-failure leaves exit 0 down",
                P::OnFailure,
                vec![E::Start, spawned.clone(), exited(ExitResult::Code(0))],
                "stopped",
                vec![exit_report(ExitResult::Code(0), ExitKind::Crash, 1), Action::CleanupTree],
            ),
            (
                "never stays down",
                P::Never,
                vec![E::Start, spawned.clone(), exited(ExitResult::Code(3))],
                "stopped",
                vec![exit_report(ExitResult::Code(3), ExitKind::Crash, 1), Action::CleanupTree],
            ),
            (
                "stop during backoff",
                P::Always,
                vec![E::Start, spawned.clone(), exited(ExitResult::Code(1)), E::Stop],
                "stopped",
                vec![Action::ClearTimer],
            ),
            (
                "restart of a running one stops then starts",
                P::Always,
                vec![E::Start, spawned.clone(), E::BecameReady, E::Restart, exited(ExitResult::Code(0))],
                "stopped",
                vec![
                    Action::ClearTimer,
                    exit_report(ExitResult::Code(0), ExitKind::Requested, 3),
                    Action::CleanupTree,
                    Action::Spawn,
                ],
            ),
            (
                "spawn failure backs off",
                P::Always,
                vec![E::Start, E::SpawnFailed],
                "backoff",
                [vec![exit_report(ExitResult::SpawnFailed, ExitKind::Crash, 0)], backoff(1)].concat(),
            ),
            (
                "liveness failure restarts with the short stop budget",
                P::Always,
                vec![E::Start, spawned.clone(), E::BecameReady, E::LivenessFailed],
                "stopping",
                vec![
                    Action::Report(Report::LivenessRestart),
                    Action::SignalTerm,
                    Action::ArmStopTimer(Duration::from_secs(5)),
                ],
            ),
            (
                "config error parks",
                P::Always,
                vec![
                    E::Start,
                    spawned.clone(),
                    E::Exited {
                        result: ExitResult::Code(78),
                        config_error: Some("Invalid config".into()),
                        handed_back: false,
                    },
                ],
                "parked",
                vec![
                    exit_report(ExitResult::Code(78), ExitKind::Crash, 1),
                    Action::CleanupTree,
                    Action::Report(Report::Parked {
                        reason: "Invalid config".into(),
                    }),
                ],
            ),
            (
                "a parked one waits for an operator",
                P::Always,
                vec![
                    E::Start,
                    spawned.clone(),
                    E::Exited {
                        result: ExitResult::Code(78),
                        config_error: Some("x".into()),
                        handed_back: false,
                    },
                    E::BackoffElapsed,
                ],
                "parked",
                vec![],
            ),
            (
                "start leaves parked",
                P::Always,
                vec![
                    E::Start,
                    spawned.clone(),
                    E::Exited {
                        result: ExitResult::Code(78),
                        config_error: Some("x".into()),
                        handed_back: false,
                    },
                    E::Start,
                ],
                "parked",
                vec![Action::Spawn],
            ),
            (
                "78 in the lock case is a plain failure",
                P::Always,
                vec![E::Start, spawned.clone(), exited(ExitResult::Code(78))],
                "backoff",
                [
                    vec![exit_report(ExitResult::Code(78), ExitKind::Crash, 1), Action::CleanupTree],
                    backoff(1),
                ]
                .concat(),
            ),
            (
                "stale timers are ignored",
                P::Always,
                vec![E::Start, spawned.clone(), E::BackoffElapsed, E::StopTimerFired],
                "starting",
                vec![],
            ),
            (
                "exit while stopped is ignored",
                P::Always,
                vec![exited(ExitResult::Code(1))],
                "stopped",
                vec![],
            ),
        ];
        for (name, policy, events, want_state, want_actions) in cases {
            let mut m = machine(policy);
            let (state, actions) = run(&mut m, &events);
            assert_eq!(state, want_state, "{name}: state");
            assert_eq!(actions, want_actions, "{name}: actions");
        }
    }

    /// Issue 15: a restart after failed liveness probes was recorded as `requested`, like an
    /// operator's restart; it is `unhealthy`, and stays so when an operator's stop or restart
    /// comes while that stop runs. An operator's restart is `requested`.
    #[tokio::test(start_paused = true)]
    async fn a_liveness_restart_is_unhealthy_not_requested() {
        use Event as E;
        let mut m = machine(RestartPolicy::Always);
        let up = [E::Start, E::Spawned { pid: 10 }, E::BecameReady];
        let (_, actions) = run(&mut m, &[&up[..], &[E::LivenessFailed, exited(ExitResult::Signal(15))]].concat());
        assert_eq!(
            actions,
            vec![
                Action::ClearTimer,
                exit_report(ExitResult::Signal(15), ExitKind::Unhealthy, 3),
                Action::CleanupTree,
                Action::Spawn
            ]
        );
        assert_eq!(m.last_exit_kind, Some(ExitKind::Unhealthy));

        let mut m = machine(RestartPolicy::Always);
        run(
            &mut m,
            &[&up[..], &[E::LivenessFailed, E::Restart, exited(ExitResult::Signal(15))]].concat(),
        );
        assert_eq!(
            m.last_exit_kind,
            Some(ExitKind::Unhealthy),
            "the stop was sent for the failed probe"
        );

        let mut m = machine(RestartPolicy::Always);
        run(&mut m, &[&up[..], &[E::Restart, exited(ExitResult::Signal(15))]].concat());
        assert_eq!(m.last_exit_kind, Some(ExitKind::Requested));
        assert_eq!(serde_json::to_string(&ExitKind::Unhealthy).ok().as_deref(), Some("\"unhealthy\""));
    }

    #[tokio::test(start_paused = true)]
    async fn crash_loop_retries_at_the_slow_cadence_and_start_clears_it() {
        use Event as E;
        let mut m = machine(RestartPolicy::Always);
        let t0 = Instant::now();
        let mut t = t0;
        let mut tick = |m: &mut Machine, e: Event| {
            t += Duration::from_secs(1);
            m.step(e, t)
        };
        tick(&mut m, E::Start);
        for i in 0..3 {
            tick(&mut m, E::Spawned { pid: 100 + i });
            let actions = tick(&mut m, exited(ExitResult::Code(1)));
            if i < 2 {
                assert_eq!(m.state.phase().as_str(), "backoff", "exit {i}");
                tick(&mut m, E::BackoffElapsed);
            } else {
                assert_eq!(m.state.phase().as_str(), "crash-loop");
                let retry = Duration::from_secs(120);
                assert!(
                    actions.contains(&Action::Report(Report::CrashLoop {
                        starts: 3,
                        window: Duration::from_secs(300),
                        retry_in: retry
                    })),
                    "{actions:?}"
                );
                assert!(
                    actions.contains(&Action::ArmBackoff(retry)),
                    "keeps retrying at the slow cadence: {actions:?}"
                );
            }
        }
        assert_eq!(tick(&mut m, E::BackoffElapsed), vec![Action::Spawn], "the slow retry spawns");
        tick(&mut m, E::Spawned { pid: 200 });
        tick(&mut m, exited(ExitResult::Code(1)));
        assert_eq!(m.state.phase().as_str(), "crash-loop", "still looping: back to the slow cadence");
        assert_eq!(
            tick(&mut m, E::Start),
            vec![Action::ClearTimer, Action::Spawn],
            "an operator's start tries now"
        );
        assert_eq!(m.restarts, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_between_quick_failures() {
        use Event as E;
        let mut m = Machine::new(
            RestartSettings {
                crash_loop_max_starts: 100,
                ..settings(RestartPolicy::Always)
            },
            Duration::from_secs(30),
            Duration::from_secs(5),
        );
        let t0 = Instant::now();
        m.step(E::Start, t0);
        let mut delays = Vec::new();
        for i in 0..5u64 {
            let t = t0 + Duration::from_secs(100 * i);
            m.step(E::Spawned { pid: 1 }, t);
            let actions = m.step(exited(ExitResult::Code(1)), t + Duration::from_secs(1));
            delays.extend(
                actions
                    .iter()
                    .filter_map(|a| if let Action::ArmBackoff(d) = a { Some(d.as_secs()) } else { None }),
            );
            m.step(E::BackoffElapsed, t + Duration::from_secs(50));
        }
        assert_eq!(delays, [1, 2, 4, 8, 8]);
    }
}
