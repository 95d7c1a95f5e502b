//! The task that runs one standby's [`Controller`]: it watches main's and the standby's status,
//! feeds the controller, starts and stops the standby, records events and runs the hooks.

use super::controller::{Controller, FoAction, MainHealth, PairState};
use super::hooks::hooks_for;
use crate::fleet::{Hooks, StandbyMode};
use crate::instance::{Control, InstanceHandle, Phase};
use crate::observe::events::{EventSink, FleetEvent, What};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};

/// One pair as the supervisor sets it up.
pub(crate) struct Pair {
    /// The standby.
    pub standby: InstanceHandle,
    /// The protected profile.
    pub main: InstanceHandle,
    /// How the controller decides.
    pub settings: PairSettings,
    /// The standby runs, but as the cover a rollout started, not after a failover: the
    /// controller judges the pair from `Normal` (so a main left down announces its failover:
    /// event, hooks, metric) instead of taking the running cold standby for a failover done.
    pub standby_is_cover: bool,
}

/// A pair's settings, from the standby's profile and main's `health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairSettings {
    /// Hot or cold.
    pub mode: StandbyMode,
    /// Main down this long → failover.
    pub failover_after: Duration,
    /// Main ready this long → failback.
    pub failback_after: Duration,
    /// Main's `health.startup_grace` (see the module doc).
    pub main_startup_grace: Duration,
}

/// Runs the controller of `pair` until aborted (the supervisor owns the task), publishing its
/// state in `board` after each decision.
pub(crate) async fn run(pair: Pair, events: EventSink, hooks: Hooks, board: Board) {
    let slot = board.register(&pair.standby.profile);
    drop(board);
    let mut main_rx = pair.main.subscribe();
    let mut standby_rx = pair.standby.subscribe();
    let standby_running = standby_rx.borrow().pid.is_some() && !pair.standby_is_cover;
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
        if let Ok(mut s) = slot.lock() {
            s.clone_from(&c.state);
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

/// `hot` or `cold`, as events and `status` write a standby's mode.
pub(crate) fn mode_name(m: StandbyMode) -> &'static str {
    match m {
        StandbyMode::Hot => "hot",
        StandbyMode::Cold => "cold",
    }
}

/// Each standby's controller state, by standby profile name, for `status` (the failover clock,
/// whether it has taken over): written by the controller tasks after each decision, read by the
/// control API. Cheap to clone (shared). Each controller writes its own slot, so a replaced
/// controller still ending cannot overwrite its successor's state; the supervisor drops the
/// slots of standbys that no longer have a controller ([`Board::retain`]).
#[derive(Debug, Clone, Default)]
pub struct Board(Arc<Mutex<BTreeMap<String, Slot>>>);

/// One controller's published state (see [`Board`]).
type Slot = Arc<Mutex<PairState>>;

impl Board {
    /// A fresh slot for `standby`'s new controller, replacing the old one's.
    pub fn register(&self, standby: &str) -> Slot {
        let slot = Slot::new(Mutex::new(PairState::Normal));
        if let Ok(mut m) = self.0.lock() {
            m.insert(standby.to_string(), slot.clone());
        }
        slot
    }

    /// Keeps only the slots of the standbys `keep` says yes to.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|k, _| keep(k));
        }
    }

    /// `standby`'s controller state now; `None` when it has no controller (its main is not
    /// in the fleet, or before the supervisor started it).
    pub fn get(&self, standby: &str) -> Option<PairState> {
        let slot = self.0.lock().ok()?.get(standby)?.clone();
        slot.lock().ok().map(|s| s.clone())
    }
}
