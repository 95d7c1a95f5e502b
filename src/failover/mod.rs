//! Failover: one controller per standby profile (a rescue bot, or any profile with
//! `standby_for`). It watches the protected profile (main) and:
//!
//! - counts main as **down** when it is in a crash loop or parked (at once), or not ready for
//!   longer than `failover_after` (a restart or a hang that lasts), counted from when it stopped
//!   being ready. A main that has not been ready yet since it was started (with the fleet, by
//!   `clawherd start`, or by a reload) is booting, not down: its boot is given its
//!   `health.startup_grace` when that is longer than `failover_after`, as liveness gives it. So a
//!   cold rescue is not started beside a main that merely takes 20 s to boot;
//! - on failover makes sure the standby is up (a cold one is started), records a `failover`
//!   event with the reason, runs the hooks, and records `standby_ready` once the standby serves
//!   `/readyz`; main's own supervision keeps trying to bring it back meanwhile;
//! - fails back when main has been ready again for `failback_after`: a cold standby is stopped
//!   gracefully, a hot one stays; `failback` event and hooks.
//!
//! Hysteresis on both edges (the two delays) prevents flapping. A deliberately stopped main
//! (`clawherd stop main`) is not "down". The decision core ([`Controller`]) is pure and tested
//! on paused time; [`run`] carries out its actions.

use crate::fleet::{Hooks, StandbyMode};
use crate::instance::{Control, InstanceHandle, InstanceStatus, Phase};
use crate::observe::events::{EventSink, FleetEvent, What};
use crate::process::later;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};

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
    FailedOver {
        /// When.
        since: Instant,
    },
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
pub enum FoAction {
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
pub struct Controller {
    /// Current state.
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
pub enum MainHealth {
    /// Ready.
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
    pub fn of(status: &InstanceStatus) -> Self {
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
    pub fn new(
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
    pub fn deadline(&self) -> Option<Instant> {
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
    pub fn on_main(&mut self, health: MainHealth, now: Instant) -> Vec<FoAction> {
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
    pub fn tick(&mut self, now: Instant) -> Vec<FoAction> {
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

/// One pair as the supervisor sets it up.
pub struct Pair {
    /// The standby.
    pub standby: InstanceHandle,
    /// The protected profile.
    pub main: InstanceHandle,
    /// How the controller decides.
    pub settings: PairSettings,
}

/// A pair's settings, from the standby's profile and main's `health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairSettings {
    /// Hot or cold.
    pub mode: StandbyMode,
    /// Main down this long → failover.
    pub failover_after: Duration,
    /// Main ready this long → failback.
    pub failback_after: Duration,
    /// Main's `health.startup_grace` (see the module doc).
    pub main_startup_grace: Duration,
}

/// Runs the controller of `pair` until aborted (the supervisor owns the task).
pub async fn run(pair: Pair, events: EventSink, hooks: Hooks) {
    let mut main_rx = pair.main.subscribe();
    let mut standby_rx = pair.standby.subscribe();
    let standby_running = standby_rx.borrow().pid.is_some();
    let settings = pair.settings;
    let mut c = Controller::new(
        settings.mode,
        settings.failover_after,
        settings.failback_after,
        settings.main_startup_grace,
        standby_running,
        Instant::now(),
    );
    // A failover waiting for its standby to be ready: when it happened.
    let mut awaiting_standby: Option<Instant> = None;
    let (main_name, standby_name) = (pair.main.profile.clone(), pair.standby.profile.clone());
    let mut hook_tasks = tokio::task::JoinSet::new();
    loop {
        let health = MainHealth::of(&main_rx.borrow_and_update());
        let mut actions = c.on_main(health, Instant::now());
        actions.extend(c.tick(Instant::now()));
        for a in actions {
            match a {
                FoAction::StartStandby => {
                    pair.standby.send(Control::Start).await;
                }
                FoAction::StopStandby => {
                    pair.standby.send(Control::Stop).await;
                }
                FoAction::FailedOver(reason) => {
                    crate::observe::metrics::FAILOVERS
                        .get_or_create(&crate::observe::metrics::profile_label(&standby_name))
                        .inc();
                    warn!(standby = %standby_name, protects = %main_name, %reason, "FAILOVER to the standby");
                    let message = format!("{main_name} down ({reason}); {standby_name} takes over");
                    let what = What::Failover {
                        standby_for: main_name.clone(),
                        reason,
                        mode: mode_name(settings.mode).into(),
                    };
                    let e = FleetEvent::new(what, Some(&standby_name), None, message);
                    hooks_for(&mut hook_tasks, &hooks, &events, &e);
                    events.emit(e);
                    awaiting_standby = Some(Instant::now());
                }
                FoAction::FailedBack => {
                    info!(standby = %standby_name, protects = %main_name, "failback: main is ready again");
                    let what = What::Failback {
                        standby_for: main_name.clone(),
                        mode: mode_name(settings.mode).into(),
                    };
                    let e = FleetEvent::new(
                        what,
                        Some(&standby_name),
                        None,
                        format!("{main_name} ready again; failback from {standby_name}"),
                    );
                    hooks_for(&mut hook_tasks, &hooks, &events, &e);
                    events.emit(e);
                    awaiting_standby = None;
                }
            }
        }
        if let Some(at) = awaiting_standby {
            let s = standby_rx.borrow_and_update().clone();
            if s.state == Phase::Ready {
                let took = at.elapsed().as_secs_f64();
                info!(standby = %standby_name, took_s = took, "standby ready after failover");
                events.emit(FleetEvent::new(
                    What::StandbyReady { after_failover_s: took },
                    Some(&standby_name),
                    s.pid,
                    format!("{standby_name} serves /readyz {took:.1} s after failover"),
                ));
                awaiting_standby = None;
            }
        }
        let deadline = c.deadline();
        tokio::select! {
            r = main_rx.changed() => if r.is_err() { break },
            r = standby_rx.changed() => if r.is_err() { break },
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {}
            Some(_) = hook_tasks.join_next(), if !hook_tasks.is_empty() => {}
        }
    }
}

fn mode_name(m: StandbyMode) -> &'static str {
    match m {
        StandbyMode::Hot => "hot",
        StandbyMode::Cold => "cold",
    }
}

/// Starts the hooks for `event` (a command with the event in its environment, an HTTP POST);
/// failures become `hook_failed` events. Owned by the controller's `JoinSet`.
fn hooks_for(tasks: &mut tokio::task::JoinSet<()>, hooks: &Hooks, events: &EventSink, event: &FleetEvent) {
    let body = serde_json::to_string(event).unwrap_or_default();
    if let Some(cmd) = hooks.command.clone() {
        let (events, event, body, timeout) = (events.clone(), event.clone(), body.clone(), hooks.timeout);
        tasks.spawn(async move {
            let (standby_for, reason) = match &event.what {
                What::Failover { standby_for, reason, .. } => (standby_for.as_str(), reason.as_str()),
                What::Failback { standby_for, .. } => (standby_for.as_str(), ""),
                _ => ("", ""),
            };
            let mut c = tokio::process::Command::new(&cmd[0]);
            c.args(&cmd[1..])
                .env("CLAWHERD_EVENT", event.kind())
                .env("CLAWHERD_EVENT_JSON", &body)
                .env("CLAWHERD_STANDBY", event.profile.clone().unwrap_or_default())
                .env("CLAWHERD_STANDBY_FOR", standby_for)
                .env("CLAWHERD_REASON", reason);
            // Registered with the reaper, so the orphan reaper never takes its exit status.
            let result = match crate::process::tool::run(&mut c, timeout).await {
                Ok((s, out)) => {
                    let out = String::from_utf8_lossy(&out);
                    if !out.trim().is_empty() {
                        info!(hook = %cmd[0], event = %event.kind(), output = %out.trim_end(), "hook command output");
                    }
                    if s.success() {
                        Ok(())
                    } else {
                        Err(format!("hook command {} ended with {s}", cmd[0]))
                    }
                }
                Err(e) => Err(format!("hook command: {e}")),
            };
            report_hook(&events, &event, "command", result);
        });
    }
    if let Some(url) = hooks.url.clone() {
        let (events, event, timeout) = (events.clone(), event.clone(), hooks.timeout);
        tasks.spawn(async move {
            let result = tokio::time::timeout(timeout, post(&url, body)).await.unwrap_or_else(|_| {
                Err(format!(
                    "POST {} took longer than {timeout:?}",
                    crate::observe::redact::redact_value(&url).0
                ))
            });
            report_hook(&events, &event, "url", result);
        });
    }
}

fn report_hook(events: &EventSink, event: &FleetEvent, what: &str, result: Result<(), String>) {
    match result {
        Ok(()) => info!(event = %event.kind(), hook = what, "hook ran"),
        Err(e) => {
            warn!(event = %event.kind(), hook = what, error = %e, "hook failed");
            let failed = What::HookFailed {
                event: event.kind().into(),
                hook: what.into(),
            };
            events.emit(FleetEvent::new(failed, event.profile.as_deref(), None, e));
        }
    }
}

/// POSTs `body` as JSON to an `http://host[:port]/path` URL; a 2xx answer is success.
async fn post(url: &str, body: String) -> Result<(), String> {
    use crate::process::http::{self, Target};
    // The URL may carry a password (`http://user:pass@host/`): errors show it masked.
    let shown = crate::observe::redact::redact_value(url).0;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{shown}: only http:// is supported"))?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let req = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| format!("POST {shown}: {e}"))?;
    let res = http::send(&Target::Tcp(addr), req)
        .await
        .map_err(|e| format!("POST {shown}: {e}"))?;
    if !(200..300).contains(&res.status()) {
        let status = hyper::StatusCode::from_u16(res.status()).map_or_else(|_| res.status().to_string(), |s| s.to_string());
        return Err(format!("POST {shown}: HTTP {status}"));
    }
    // The answer's body means nothing to us; read (a bounded part of) it so the receiver
    // finishes writing before the connection closes.
    let _ = res.bytes(HOOK_BODY_BYTES).await;
    Ok(())
}

/// The most of a hook's answer that is read (and thrown away).
const HOOK_BODY_BYTES: usize = 64 * 1024;

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
