//! The pure core of an instance: its state, what it wants, and `step(event) -> actions`.
//!
//! No I/O and no clock reads happen here; the actor ([`super::actor`]) feeds events with the
//! current time and carries out the actions. Every (state, event) pair is matched explicitly,
//! as s6-supervise's `actions[state][event]` table: there is no `_ =>` arm.

use crate::fleet::RestartSettings;
use crate::restart::backoff::Backoff;
use crate::restart::policy::ExitResult;
use std::time::Duration;
use tokio::time::Instant;

/// Grace for the rest of a tree after its leader died, before SIGKILL.
pub const TREE_GRACE: Duration = Duration::from_secs(2);

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
        /// Time readiness was first seen.
        ready_at: Instant,
    },
    /// SIGTERM sent to the process group; SIGKILL when the stop timer fires.
    StopSigterm {
        /// Gateway pid.
        pid: i32,
        /// Spawn time.
        since: Instant,
        /// What follows the stop.
        then: AfterStop,
    },
    /// SIGKILL sent to the whole tree.
    StopSigkill {
        /// Gateway pid.
        pid: i32,
        /// Spawn time.
        since: Instant,
        /// What follows the stop.
        then: AfterStop,
    },
    /// Waiting before the next start.
    AutoRestart {
        /// When the next start happens.
        at: Instant,
    },
    /// Crash loop: too many starts in the window; stays down until an operator starts it.
    Failed,
}

impl State {
    /// The coarse name shown to operators (systemd's state translation).
    pub fn name(&self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting { .. } => "starting",
            State::Ready { .. } => "ready",
            State::StopSigterm { .. } | State::StopSigkill { .. } => "stopping",
            State::AutoRestart { .. } => "backoff",
            State::Failed => "failed",
        }
    }

    /// The gateway's pid while one runs.
    pub fn pid(&self) -> Option<i32> {
        match self {
            State::Starting { pid, .. } | State::Ready { pid, .. } | State::StopSigterm { pid, .. } | State::StopSigkill { pid, .. } => {
                Some(*pid)
            }
            State::Stopped | State::AutoRestart { .. } | State::Failed => None,
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
    Exited(ExitResult),
    /// `/readyz` answered 200.
    BecameReady,
    /// The stop timer fired.
    StopTimerFired,
    /// The backoff timer fired.
    BackoffElapsed,
}

/// What the actor must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Spawn the gateway and feed back `Spawned`/`SpawnFailed`.
    Spawn,
    /// SIGTERM to the gateway's process group.
    SignalTerm,
    /// SIGKILL to every member of the tree.
    KillTree,
    /// Take down what is left of the tree after the leader exited (SIGTERM, grace, SIGKILL), and
    /// wait until it is gone before anything else: a new gateway on a state dir whose old owner
    /// still lives exits 78 (facts §6).
    CleanupTree,
    /// Arm the stop timer.
    ArmStopTimer(Duration),
    /// Arm the backoff timer for this delay.
    ArmBackoff(Duration),
    /// Clear any armed timer.
    ClearTimer,
    /// Report the exit (with uptime) to the log.
    LogExit {
        /// How it ended.
        result: ExitResult,
        /// Whether clawherd had asked for it.
        requested: bool,
        /// Time since spawn.
        uptime: Duration,
    },
    /// Report that a restart is scheduled.
    LogBackoff(Duration),
    /// Report the crash loop (loudly).
    LogCrashLoop {
        /// Starts within the window.
        starts: usize,
        /// The window.
        window: Duration,
    },
    /// Report readiness.
    LogReady {
        /// Spawn → ready.
        after: Duration,
    },
}

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
    /// The last spawn → ready time.
    pub last_ready_after: Option<Duration>,
    backoff: Backoff,
    stop_timeout: Duration,
}

impl Machine {
    /// A stopped instance.
    pub fn new(restart: RestartSettings, stop_timeout: Duration) -> Self {
        Machine {
            state: State::Stopped,
            want: Want::Down,
            restarts: 0,
            last_exit: None,
            last_ready_after: None,
            backoff: Backoff::new(restart),
            stop_timeout,
        }
    }

    /// Applies `event` at `now`; returns the actions to carry out, in order.
    pub fn step(&mut self, event: Event, now: Instant) -> Vec<Action> {
        use Event as E;
        use State as S;
        let state = self.state.clone();
        match (state, event) {
            // Start requests.
            (S::Stopped | S::Failed, E::Start | E::Restart) => {
                self.want = Want::Up;
                self.backoff.reset();
                vec![Action::Spawn]
            }
            (S::AutoRestart { .. }, E::Restart) => {
                self.want = Want::Up;
                vec![Action::ClearTimer, Action::Spawn]
            }
            (S::AutoRestart { .. } | S::Starting { .. } | S::Ready { .. }, E::Start) => {
                self.want = Want::Up;
                vec![]
            }
            (S::StopSigterm { pid, since, .. }, E::Start | E::Restart) => {
                self.want = Want::Up;
                self.state = S::StopSigterm {
                    pid,
                    since,
                    then: AfterStop::Start,
                };
                vec![]
            }
            (S::StopSigkill { pid, since, .. }, E::Start | E::Restart) => {
                self.want = Want::Up;
                self.state = S::StopSigkill {
                    pid,
                    since,
                    then: AfterStop::Start,
                };
                vec![]
            }
            (S::Starting { pid, since } | S::Ready { pid, since, .. }, E::Restart) => {
                self.want = Want::Up;
                self.state = S::StopSigterm {
                    pid,
                    since,
                    then: AfterStop::Start,
                };
                vec![Action::SignalTerm, Action::ArmStopTimer(self.stop_timeout)]
            }

            // Stop requests.
            (S::Starting { pid, since } | S::Ready { pid, since, .. }, E::Stop) => {
                self.want = Want::Down;
                self.state = S::StopSigterm {
                    pid,
                    since,
                    then: AfterStop::StayDown,
                };
                vec![Action::SignalTerm, Action::ArmStopTimer(self.stop_timeout)]
            }
            (S::StopSigterm { pid, since, .. }, E::Stop) => {
                // A second SIGTERM does not hurry OpenClaw (facts §4); the timer escalates.
                self.want = Want::Down;
                self.state = S::StopSigterm {
                    pid,
                    since,
                    then: AfterStop::StayDown,
                };
                vec![]
            }
            (S::StopSigkill { pid, since, .. }, E::Stop) => {
                self.want = Want::Down;
                self.state = S::StopSigkill {
                    pid,
                    since,
                    then: AfterStop::StayDown,
                };
                vec![]
            }
            (S::AutoRestart { .. }, E::Stop) => {
                self.want = Want::Down;
                self.state = S::Stopped;
                vec![Action::ClearTimer]
            }
            (S::Stopped | S::Failed, E::Stop) => {
                self.want = Want::Down;
                self.state = S::Stopped;
                vec![]
            }

            // Spawn results.
            (
                S::Stopped
                | S::Failed
                | S::AutoRestart { .. }
                | S::Starting { .. }
                | S::Ready { .. }
                | S::StopSigterm { .. }
                | S::StopSigkill { .. },
                E::Spawned { pid },
            ) => {
                self.backoff.record_start(now);
                self.state = S::Starting { pid, since: now };
                vec![]
            }
            (
                S::Stopped
                | S::Failed
                | S::AutoRestart { .. }
                | S::Starting { .. }
                | S::Ready { .. }
                | S::StopSigterm { .. }
                | S::StopSigkill { .. },
                E::SpawnFailed,
            ) => {
                self.backoff.record_start(now);
                self.after_unrequested_exit(ExitResult::SpawnFailed, Duration::ZERO, false, now)
            }

            // Readiness.
            (S::Starting { pid, since }, E::BecameReady) => {
                let after = now.duration_since(since);
                self.last_ready_after = Some(after);
                self.state = S::Ready { pid, since, ready_at: now };
                vec![Action::LogReady { after }]
            }
            (
                S::Stopped | S::Failed | S::AutoRestart { .. } | S::Ready { .. } | S::StopSigterm { .. } | S::StopSigkill { .. },
                E::BecameReady,
            ) => vec![],

            // Exits.
            (S::Starting { since, .. }, E::Exited(result)) => self.after_unrequested_exit(result, now.duration_since(since), false, now),
            (S::Ready { since, .. }, E::Exited(result)) => self.after_unrequested_exit(result, now.duration_since(since), true, now),
            (S::StopSigterm { since, then, .. } | S::StopSigkill { since, then, .. }, E::Exited(result)) => {
                self.last_exit = Some((result, now));
                let mut actions = vec![
                    Action::ClearTimer,
                    Action::LogExit {
                        result,
                        requested: true,
                        uptime: now.duration_since(since),
                    },
                    Action::CleanupTree,
                ];
                self.state = S::Stopped;
                if then == AfterStop::Start {
                    actions.push(Action::Spawn);
                }
                actions
            }
            (S::Stopped | S::Failed | S::AutoRestart { .. }, E::Exited(_)) => vec![],

            // Timers.
            (S::StopSigterm { pid, since, then }, E::StopTimerFired) => {
                self.state = S::StopSigkill { pid, since, then };
                vec![Action::KillTree, Action::ArmStopTimer(KILL_WAIT)]
            }
            (S::StopSigkill { pid, .. }, E::StopTimerFired) => {
                tracing::error!(pid, "gateway survived SIGKILL; still waiting for its exit");
                vec![Action::KillTree, Action::ArmStopTimer(KILL_WAIT)]
            }
            (S::Stopped | S::Failed | S::AutoRestart { .. } | S::Starting { .. } | S::Ready { .. }, E::StopTimerFired) => vec![],
            (S::AutoRestart { .. }, E::BackoffElapsed) => vec![Action::Spawn],
            (
                S::Stopped | S::Failed | S::Starting { .. } | S::Ready { .. } | S::StopSigterm { .. } | S::StopSigkill { .. },
                E::BackoffElapsed,
            ) => vec![],
        }
    }

    /// An exit (or failed spawn) clawherd did not ask for: log, clean the tree, then restart per
    /// policy with backoff, or end in `Failed` on a crash loop.
    fn after_unrequested_exit(&mut self, result: ExitResult, uptime: Duration, was_ready: bool, now: Instant) -> Vec<Action> {
        self.last_exit = Some((result, now));
        let mut actions = vec![Action::LogExit {
            result,
            requested: false,
            uptime,
        }];
        if result != ExitResult::SpawnFailed {
            actions.push(Action::CleanupTree);
        }
        if self.want == Want::Down || !self.backoff.settings().policy.should_restart(result) {
            self.want = Want::Down;
            self.state = State::Stopped;
            return actions;
        }
        if self.backoff.crash_loop(now) {
            let window = self.backoff.settings().crash_loop_window;
            actions.push(Action::LogCrashLoop {
                starts: self.backoff.starts_in_window(),
                window,
            });
            self.state = State::Failed;
            return actions;
        }
        // The restart hand-back (exit 0 from a ready gateway) asks to be restarted now.
        let delay = if was_ready && result.is_clean() {
            Duration::ZERO
        } else {
            self.backoff.next_delay(uptime)
        };
        self.restarts += 1;
        self.state = State::AutoRestart { at: now + delay };
        actions.extend([Action::LogBackoff(delay), Action::ArmBackoff(delay)]);
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
        }
    }

    fn machine(policy: RestartPolicy) -> Machine {
        Machine::new(settings(policy), Duration::from_secs(30))
    }

    /// Runs `events` one second apart and returns the final state name and the actions of the
    /// last event.
    fn run(m: &mut Machine, events: &[Event]) -> (&'static str, Vec<Action>) {
        let t0 = Instant::now();
        let mut last = Vec::new();
        for (i, e) in events.iter().enumerate() {
            last = m.step(e.clone(), t0 + Duration::from_secs(i as u64));
        }
        (m.state.name(), last)
    }

    #[tokio::test(start_paused = true)]
    async fn transition_table() {
        use Event as E;
        let spawned = E::Spawned { pid: 10 };
        type Case = (&'static str, RestartPolicy, Vec<Event>, &'static str, Vec<Action>);
        let cases: Vec<Case> = vec![
            (
                "start spawns",
                RestartPolicy::Always,
                vec![E::Start],
                "stopped",
                vec![Action::Spawn],
            ),
            (
                "spawned is starting",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone()],
                "starting",
                vec![],
            ),
            (
                "ready",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::BecameReady],
                "ready",
                vec![Action::LogReady {
                    after: Duration::from_secs(1),
                }],
            ),
            (
                "stop sends SIGTERM and arms timer",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::BecameReady, E::Stop],
                "stopping",
                vec![Action::SignalTerm, Action::ArmStopTimer(Duration::from_secs(30))],
            ),
            (
                "second stop does not resend",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::Stop, E::Stop],
                "stopping",
                vec![],
            ),
            (
                "stop timeout escalates to SIGKILL",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::Stop, E::StopTimerFired],
                "stopping",
                vec![Action::KillTree, Action::ArmStopTimer(KILL_WAIT)],
            ),
            (
                "requested exit stays down and cleans the tree",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::Stop, E::Exited(ExitResult::Code(0))],
                "stopped",
                vec![
                    Action::ClearTimer,
                    Action::LogExit {
                        result: ExitResult::Code(0),
                        requested: true,
                        uptime: Duration::from_secs(2),
                    },
                    Action::CleanupTree,
                ],
            ),
            (
                "crash restarts after backoff",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::Exited(ExitResult::Signal(9))],
                "backoff",
                vec![
                    Action::LogExit {
                        result: ExitResult::Signal(9),
                        requested: false,
                        uptime: Duration::from_secs(1),
                    },
                    Action::CleanupTree,
                    Action::LogBackoff(Duration::from_secs(1)),
                    Action::ArmBackoff(Duration::from_secs(1)),
                ],
            ),
            (
                "backoff elapsed spawns",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::Exited(ExitResult::Code(1)), E::BackoffElapsed],
                "backoff",
                vec![Action::Spawn],
            ),
            (
                "hand-back from ready restarts at once",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::BecameReady, E::Exited(ExitResult::Code(0))],
                "backoff",
                vec![
                    Action::LogExit {
                        result: ExitResult::Code(0),
                        requested: false,
                        uptime: Duration::from_secs(2),
                    },
                    Action::CleanupTree,
                    Action::LogBackoff(Duration::ZERO),
                    Action::ArmBackoff(Duration::ZERO),
                ],
            ),
            (
                "on-failure leaves exit 0 down",
                RestartPolicy::OnFailure,
                vec![E::Start, spawned.clone(), E::Exited(ExitResult::Code(0))],
                "stopped",
                vec![
                    Action::LogExit {
                        result: ExitResult::Code(0),
                        requested: false,
                        uptime: Duration::from_secs(1),
                    },
                    Action::CleanupTree,
                ],
            ),
            (
                "never stays down",
                RestartPolicy::Never,
                vec![E::Start, spawned.clone(), E::Exited(ExitResult::Code(3))],
                "stopped",
                vec![
                    Action::LogExit {
                        result: ExitResult::Code(3),
                        requested: false,
                        uptime: Duration::from_secs(1),
                    },
                    Action::CleanupTree,
                ],
            ),
            (
                "stop during backoff",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::Exited(ExitResult::Code(1)), E::Stop],
                "stopped",
                vec![Action::ClearTimer],
            ),
            (
                "restart of a running one stops then starts",
                RestartPolicy::Always,
                vec![
                    E::Start,
                    spawned.clone(),
                    E::BecameReady,
                    E::Restart,
                    E::Exited(ExitResult::Code(0)),
                ],
                "stopped",
                vec![
                    Action::ClearTimer,
                    Action::LogExit {
                        result: ExitResult::Code(0),
                        requested: true,
                        uptime: Duration::from_secs(3),
                    },
                    Action::CleanupTree,
                    Action::Spawn,
                ],
            ),
            (
                "spawn failure backs off",
                RestartPolicy::Always,
                vec![E::Start, E::SpawnFailed],
                "backoff",
                vec![
                    Action::LogExit {
                        result: ExitResult::SpawnFailed,
                        requested: false,
                        uptime: Duration::ZERO,
                    },
                    Action::LogBackoff(Duration::from_secs(1)),
                    Action::ArmBackoff(Duration::from_secs(1)),
                ],
            ),
            (
                "stale timers are ignored",
                RestartPolicy::Always,
                vec![E::Start, spawned.clone(), E::BackoffElapsed, E::StopTimerFired],
                "starting",
                vec![],
            ),
            (
                "exit while stopped is ignored",
                RestartPolicy::Always,
                vec![E::Exited(ExitResult::Code(1))],
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

    #[tokio::test(start_paused = true)]
    async fn crash_loop_ends_in_failed_and_start_clears_it() {
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
            let actions = tick(&mut m, E::Exited(ExitResult::Code(1)));
            if i < 2 {
                assert_eq!(m.state.name(), "backoff", "exit {i}");
                tick(&mut m, E::BackoffElapsed);
            } else {
                assert_eq!(m.state, State::Failed);
                assert!(
                    actions.contains(&Action::LogCrashLoop {
                        starts: 3,
                        window: Duration::from_secs(300)
                    }),
                    "{actions:?}"
                );
            }
        }
        assert_eq!(m.restarts, 2);
        assert_eq!(tick(&mut m, E::Start), vec![Action::Spawn]);
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
        );
        let t0 = Instant::now();
        m.step(E::Start, t0);
        let mut delays = Vec::new();
        for i in 0..5u64 {
            let t = t0 + Duration::from_secs(100 * i);
            m.step(E::Spawned { pid: 1 }, t);
            let actions = m.step(E::Exited(ExitResult::Code(1)), t + Duration::from_secs(1));
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
