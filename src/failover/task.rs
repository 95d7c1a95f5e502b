//! The one task that drives every standby's [`Controller`]: it watches each pair's main and
//! standby status, feeds the pair's controller, starts and stops the standby, records events
//! and runs the hooks.

use super::controller::{Controller, FoAction, MainHealth, PairState};
use super::hooks::hooks_for;
use crate::fleet::{Hooks, StandbyMode};
use crate::instance::{Control, InstanceHandle, InstanceStatus, Phase};
use crate::observe::events::{EventSink, FleetEvent, What};
use futures_util::StreamExt;
use futures_util::future::{AbortHandle, Abortable};
use futures_util::stream::FuturesUnordered;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
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
    /// The fleet's hooks, run on failover and failback.
    pub hooks: Arc<Hooks>,
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

/// What the supervisor tells the failover task ([`run`]).
pub(crate) enum Told {
    /// Drive this pair's controller from now on, in place of the standby's current one (which
    /// ends, its running hooks aborted).
    Drive(Pair),
    /// The standby (by name) has no controller any more: its current one ends, its running
    /// hooks aborted.
    Forget(String),
}

/// A controller the task drives: its pair, its decision core and what it waits for.
struct Driven {
    pair: Pair,
    controller: Controller,
    /// A failover waiting for its standby to be ready: when it happened.
    awaiting_standby: Option<Instant>,
    /// Where the controller's state is published for `status`.
    slot: Slot,
    /// The controller's pending deadline, as entered in the task's timetable.
    deadline: Option<Instant>,
    /// Ends the wait for the pair's next status change ([`wait`]).
    wait: AbortHandle,
    /// The hooks it started that may still run.
    hook_runs: Vec<tokio::task::AbortHandle>,
    /// The control waiting for room in the standby's queue, if any ([`send_aside`]).
    sending: Option<Sending>,
}

impl Drop for Driven {
    /// A controller that ends takes its wait and its hooks with it (as the task per pair that
    /// was aborted did); its control waiting aside goes with it too ([`Sending`]).
    fn drop(&mut self) {
        self.wait.abort();
        for h in &self.hook_runs {
            h.abort();
        }
    }
}

/// A control waiting aside for room in a standby's queue: dropping it aborts it, so a
/// controller that ends sends nothing more.
struct Sending(tokio::task::JoinHandle<()>);

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Queues `control` for `standby` now if its queue has room; otherwise it waits aside, in
/// place of the control waiting before it (each says whether the standby runs: the last one
/// is what counts, and one waits at most per standby). The one task never waits for a
/// standby's queue: a full one (an actor busy while controls pile up) would hold every other
/// pair's decisions back, and the controller's end ([`Told::Forget`]) with them.
fn send_aside(sending: &mut Option<Sending>, standby: &InstanceHandle, control: Control) {
    // The one waiting is dropped first: had it gone into the queue already, this one follows it.
    *sending = None;
    if let Some(control) = standby.try_send(control) {
        let standby = standby.clone();
        *sending = Some(Sending(tokio::spawn(async move {
            standby.send(control).await;
        })));
    }
}

/// Which controller a wait belongs to (a fresh number each time the task drives a pair).
type Id = u64;
/// What a pair's wait returns: its id, both receivers back, and whether both actors still run.
type Woken = (Id, [watch::Receiver<InstanceStatus>; 2], bool);

/// The wait of pair `id` for the next change of either status (main's, the standby's), which
/// says `false` once either actor ended; and what ends it early.
fn wait(id: Id, mut rx: [watch::Receiver<InstanceStatus>; 2]) -> (Abortable<impl Future<Output = Woken>>, AbortHandle) {
    let (abort, registration) = AbortHandle::new_pair();
    let fut = async move {
        let [main, standby] = &mut rx;
        let open = tokio::select! {
            r = main.changed() => r.is_ok(),
            r = standby.changed() => r.is_ok(),
        };
        (id, rx, open)
    };
    (Abortable::new(fut, registration), abort)
}

/// Drives the controller of every pair the supervisor tells it about ([`Told`]) until the
/// supervisor is gone or the task is aborted, publishing each controller's state in `board`
/// after each of its decisions. One task for the fleet: a task per pair held about 1.5 KB.
/// Each controller decides as its own task did: at every change of its main's or its
/// standby's status and at its deadline; it ends when either actor ended, or when told.
pub(crate) async fn run(mut told: mpsc::UnboundedReceiver<Told>, events: EventSink, board: Board) {
    // Boxed: a map node holds room for 11 values, and a `Driven` is about 340 bytes.
    let mut driven: BTreeMap<Id, Box<Driven>> = BTreeMap::new();
    // The standby's name → the id of its controller.
    let mut by_standby: BTreeMap<String, Id> = BTreeMap::new();
    // Pending deadlines, earliest first.
    let mut timetable: BTreeSet<(Instant, Id)> = BTreeSet::new();
    // Each driven pair's wait for its next status change.
    let mut waits = FuturesUnordered::new();
    let mut hook_tasks = tokio::task::JoinSet::new();
    let mut next_id: Id = 0;
    loop {
        let first = timetable.first().map(|(at, _)| *at);
        // Told first: a controller the supervisor took back decides nothing more.
        let due: Vec<Id> = tokio::select! {
            biased;
            message = told.recv() => match message {
                Some(Told::Drive(pair)) => {
                    next_id += 1;
                    let id = next_id;
                    if let Some(old) = by_standby.insert(pair.standby.profile.clone(), id) {
                        forget(&mut driven, &mut timetable, old);
                    }
                    let slot = board.register(&pair.standby.profile);
                    let standby_running = pair.standby.with_status(|s| s.pid.is_some()) && !pair.standby_is_cover;
                    let s = pair.settings;
                    let controller = Controller::new(s.mode, s.failover_after, s.failback_after, s.main_startup_grace, standby_running, Instant::now());
                    let (w, abort) = wait(id, [pair.main.subscribe(), pair.standby.subscribe()]);
                    waits.push(w);
                    driven.insert(id, Box::new(Driven { pair, controller, awaiting_standby: None, slot, deadline: None, wait: abort, hook_runs: Vec::new(), sending: None }));
                    vec![id]
                }
                Some(Told::Forget(name)) => {
                    if let Some(id) = by_standby.remove(&name) {
                        // Its state leaves `status` with it (the supervisor's clear-up may have
                        // run before this task registered the slot).
                        if let Some(d) = driven.get(&id) {
                            board.release(&name, &d.slot);
                        }
                        forget(&mut driven, &mut timetable, id);
                    }
                    continue;
                }
                None => return,
            },
            Some(woken) = waits.next(), if !waits.is_empty() => {
                // An aborted wait (its controller ended) is `Err`.
                let Ok((id, rx, open)) = woken else { continue };
                if !open {
                    if let Some(d) = driven.get(&id) {
                        by_standby.remove(&d.pair.standby.profile);
                    }
                    forget(&mut driven, &mut timetable, id);
                    continue;
                }
                let Some(d) = driven.get_mut(&id) else { continue };
                let (w, abort) = wait(id, rx);
                waits.push(w);
                d.wait = abort;
                vec![id]
            }
            () = sleep_until(first) => {
                let now = Instant::now();
                let mut due = Vec::new();
                while let Some(&(at, id)) = timetable.first() && at <= now {
                    timetable.pop_first();
                    if let Some(d) = driven.get_mut(&id) {
                        d.deadline = None;
                    }
                    due.push(id);
                }
                due
            }
            Some(_) = hook_tasks.join_next(), if !hook_tasks.is_empty() => continue,
        };
        for id in due {
            let Some(d) = driven.get_mut(&id) else { continue };
            d.step(&events, &mut hook_tasks);
            let deadline = d.controller.deadline();
            if deadline != d.deadline {
                if let Some(old) = d.deadline {
                    timetable.remove(&(old, id));
                }
                if let Some(new) = deadline {
                    timetable.insert((new, id));
                }
                d.deadline = deadline;
            }
        }
    }
}

/// Ends controller `id`: its wait, its deadline and its hooks go.
fn forget(driven: &mut BTreeMap<Id, Box<Driven>>, timetable: &mut BTreeSet<(Instant, Id)>, id: Id) {
    if let Some(d) = driven.remove(&id)
        && let Some(at) = d.deadline
    {
        timetable.remove(&(at, id));
    }
}

/// Sleeps until `at`; forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Driven {
    /// One decision of the controller, on the statuses now: what its own task did at each wake.
    fn step(&mut self, events: &EventSink, hook_tasks: &mut tokio::task::JoinSet<()>) {
        let pair = &self.pair;
        let (main_name, standby_name) = (&pair.main.profile, &pair.standby.profile);
        let mode = pair.settings.mode;
        self.hook_runs.retain(|h| !h.is_finished());
        let health = pair.main.with_status(MainHealth::of);
        let mut actions = self.controller.on_main(health, Instant::now());
        actions.extend(self.controller.tick(Instant::now()));
        for a in actions {
            match a {
                FoAction::StartStandby => send_aside(&mut self.sending, &pair.standby, Control::Start),
                FoAction::StopStandby => send_aside(&mut self.sending, &pair.standby, Control::Stop),
                FoAction::FailedOver(reason) => {
                    crate::observe::metrics::FAILOVERS
                        .get_or_create(&crate::observe::metrics::profile_label(standby_name))
                        .inc();
                    warn!(standby = %standby_name, protects = %main_name, %reason, "FAILOVER to the standby");
                    let message = format!("{main_name} down ({reason}); {standby_name} takes over");
                    let what = What::Failover {
                        standby_for: main_name.clone(),
                        reason,
                        mode: mode_name(mode).into(),
                    };
                    let e = FleetEvent::new(what, Some(standby_name), None, message);
                    self.hook_runs.extend(hooks_for(hook_tasks, &pair.hooks, events, &e));
                    events.emit(e);
                    self.awaiting_standby = Some(Instant::now());
                }
                FoAction::FailedBack => {
                    info!(standby = %standby_name, protects = %main_name, "failback: main is ready again");
                    let what = What::Failback {
                        standby_for: main_name.clone(),
                        mode: mode_name(mode).into(),
                    };
                    let e = FleetEvent::new(
                        what,
                        Some(standby_name),
                        None,
                        format!("{main_name} ready again; failback from {standby_name}"),
                    );
                    self.hook_runs.extend(hooks_for(hook_tasks, &pair.hooks, events, &e));
                    events.emit(e);
                    self.awaiting_standby = None;
                }
            }
        }
        if let Ok(mut s) = self.slot.lock() {
            s.clone_from(&self.controller.state);
        }
        if let Some(at) = self.awaiting_standby
            && let Some(pid) = pair.standby.with_status(|s| (s.state == Phase::Ready).then_some(s.pid))
        {
            let took = at.elapsed().as_secs_f64();
            info!(standby = %standby_name, took_s = took, "standby ready after failover");
            events.emit(FleetEvent::new(
                What::StandbyReady { after_failover_s: took },
                Some(standby_name),
                pid,
                format!("{standby_name} serves /readyz {took:.1} s after failover"),
            ));
            self.awaiting_standby = None;
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
/// whether it has taken over): written by the failover task after each decision, read by the
/// control API. Cheap to clone (shared). Each controller writes its own slot, so a replaced
/// controller cannot overwrite its successor's state; the supervisor drops the slots of
/// standbys that no longer have a controller ([`Board::retain`]).
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

    /// Drops `standby`'s slot if it is still `slot` (a successor's is left alone).
    pub(crate) fn release(&self, standby: &str, slot: &Slot) {
        if let Ok(mut m) = self.0.lock()
            && m.get(standby).is_some_and(|s| Arc::ptr_eq(s, slot))
        {
            m.remove(standby);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::Message;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A pair of stub instances, main ready and a stopped cold standby, driven by the task
    /// behind `told`: the standby's controls, main's status sender and the standby's come back.
    fn drive(
        told: &mpsc::UnboundedSender<Told>,
        main: &str,
    ) -> (
        flume::Receiver<Message>,
        watch::Sender<InstanceStatus>,
        watch::Sender<InstanceStatus>,
    ) {
        let (main, _, main_status) = InstanceHandle::stub(main, Phase::Ready);
        let (standby, controls, standby_status) = InstanceHandle::stub(&format!("{}-rescue", main.profile), Phase::Stopped);
        told.send(Told::Drive(cold_pair(main, standby))).ok();
        (controls, main_status, standby_status)
    }

    /// `standby` as the cold standby of `main`: failover after 10 s, failback after 5 s.
    fn cold_pair(main: InstanceHandle, standby: InstanceHandle) -> Pair {
        let settings = PairSettings {
            mode: StandbyMode::Cold,
            failover_after: secs(10),
            failback_after: secs(5),
            main_startup_grace: Duration::ZERO,
        };
        Pair {
            standby,
            main,
            settings,
            standby_is_cover: false,
            hooks: Arc::new(Hooks::default()),
        }
    }

    async fn next_control(controls: &flume::Receiver<Message>) -> Control {
        match tokio::time::timeout(secs(3600), controls.recv_async()).await {
            Ok(Ok(m)) => m.control,
            other => panic!("no control: {other:?}"),
        }
    }

    fn kinds(events: &EventSink, standby: &str) -> Vec<&'static str> {
        events
            .recent(100)
            .iter()
            .filter(|e| e.profile.as_deref() == Some(standby))
            .map(|e| e.kind())
            .collect()
    }

    /// Regression: the one task awaited each control it sent, so a standby whose control queue
    /// was full (16 controls its actor had not taken yet) held every other pair's failover
    /// back, and a Forget could not end the stuck controller. A task per pair only held its
    /// own pair. The control now waits aside (the last one), and goes with its controller.
    #[tokio::test(start_paused = true)]
    async fn a_standby_whose_controls_queue_is_full_holds_no_other_pair_back() {
        let events = EventSink::start(None);
        let (told, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(rx, events.clone(), Board::default()));
        let (a_main, _, a_main_status) = InstanceHandle::stub("a", Phase::Ready);
        let (a_standby, a_controls, _a_standby_status) = InstanceHandle::stub("a-rescue", Phase::Stopped);
        let a_filler = a_standby.clone();
        // a's standby takes no control: its queue is full.
        for _ in 0..16 {
            assert!(a_filler.send(Control::Restart).await);
        }
        told.send(Told::Drive(cold_pair(a_main, a_standby))).ok();
        let (b_controls, b_main, _b_standby) = drive(&told, "b");

        // a fails over: its Start waits for room in a's queue.
        a_main_status.send_modify(|s| s.state = Phase::CrashLoop);
        tokio::time::sleep(secs(1)).await;
        // b fails over all the same.
        b_main.send_modify(|s| s.state = Phase::CrashLoop);
        assert_eq!(next_control(&b_controls).await, Control::Start);
        assert_eq!(kinds(&events, "b-rescue"), ["failover"]);

        // a's Start comes once its actor takes the controls queued before it.
        for _ in 0..16 {
            assert_eq!(next_control(&a_controls).await, Control::Restart);
        }
        assert_eq!(next_control(&a_controls).await, Control::Start);

        // Full again: a's failback (cold: Stop) waits, then its next failover's Start takes
        // its place (one control waits at most): the standby gets only the Start.
        for _ in 0..16 {
            assert!(a_filler.send(Control::Restart).await);
        }
        a_main_status.send_modify(|s| s.state = Phase::Ready);
        tokio::time::sleep(secs(60)).await;
        a_main_status.send_modify(|s| s.state = Phase::CrashLoop);
        tokio::time::sleep(secs(1)).await;
        assert_eq!(kinds(&events, "a-rescue"), ["failover", "failback", "failover"]);
        for _ in 0..16 {
            assert_eq!(next_control(&a_controls).await, Control::Restart);
        }
        assert_eq!(next_control(&a_controls).await, Control::Start);
        tokio::time::sleep(secs(60)).await;
        assert!(a_controls.is_empty());

        // Full again, a's failback (cold: Stop) waits; forgotten meanwhile, its Stop never comes.
        for _ in 0..16 {
            assert!(a_filler.send(Control::Restart).await);
        }
        a_main_status.send_modify(|s| s.state = Phase::Ready);
        tokio::time::sleep(secs(60)).await;
        assert_eq!(kinds(&events, "a-rescue"), ["failover", "failback", "failover", "failback"]);
        told.send(Told::Forget("a-rescue".into())).ok();
        tokio::time::sleep(secs(1)).await;
        for _ in 0..16 {
            assert_eq!(next_control(&a_controls).await, Control::Restart);
        }
        tokio::time::sleep(secs(60)).await;
        assert!(a_controls.is_empty(), "a forgotten controller's control went out");
        drop(told);
        task.await.ok();
    }

    #[tokio::test(start_paused = true)]
    async fn one_task_drives_each_pair_by_itself_and_forgets_a_pair_when_told() {
        let events = EventSink::start(None);
        let board = Board::default();
        let (told, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(rx, events.clone(), board.clone()));
        let (a_controls, a_main, _a_standby) = drive(&told, "a");
        let (b_controls, b_main, _b_standby) = drive(&told, "b");

        // a crash-loops: its standby starts at once; b's does not.
        a_main.send_modify(|s| s.state = Phase::CrashLoop);
        assert_eq!(next_control(&a_controls).await, Control::Start);
        assert_eq!(kinds(&events, "a-rescue"), ["failover"]);
        assert!(b_controls.is_empty());

        // b is not ready: its failover comes once that lasted `failover_after` (paused clock).
        let t0 = Instant::now();
        b_main.send_modify(|s| s.state = Phase::Unready);
        tokio::task::yield_now().await;
        assert!(matches!(board.get("b-rescue"), Some(PairState::Suspect { .. })));
        assert_eq!(next_control(&b_controls).await, Control::Start);
        assert_eq!(Instant::now().duration_since(t0), secs(10));
        assert_eq!(kinds(&events, "b-rescue"), ["failover"]);

        // a's controller is taken back: its wait on a's statuses goes with it at once (nothing
        // else of the task holds a receiver of a's main then), and a ready main no longer fails
        // back.
        assert!(a_main.receiver_count() > 0);
        told.send(Told::Forget("a-rescue".into())).ok();
        // The paused clock does not move while this yields: a bounded number of turns.
        for _ in 0..1000 {
            if a_main.receiver_count() == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(a_main.receiver_count(), 0, "a forgotten controller still waits on its main");
        assert_eq!(board.get("a-rescue"), None, "a forgotten controller's state left status");
        a_main.send_modify(|s| s.state = Phase::Ready);
        tokio::time::sleep(secs(60)).await;
        assert!(a_controls.is_empty());
        assert_eq!(kinds(&events, "a-rescue"), ["failover"]);

        // b ready again: failback once that lasted `failback_after`, the cold standby stopped.
        let t1 = Instant::now();
        b_main.send_modify(|s| s.state = Phase::Ready);
        assert_eq!(next_control(&b_controls).await, Control::Stop);
        assert_eq!(Instant::now().duration_since(t1), secs(5));
        assert_eq!(kinds(&events, "b-rescue"), ["failover", "failback"]);

        // b's main ends: its controller ends with it; the task goes on until told is closed.
        drop(b_main);
        tokio::task::yield_now().await;
        drop(told);
        task.await.ok();
    }
}
