//! The supervisor: the one task that owns the set of instances (their handles, profiles and
//! plans). It makes itself subreaper, takes down leftovers of an earlier clawherd (all at once,
//! answering status meanwhile: [`clear_leftovers`]), starts every instance, answers requests (a
//! snapshot of the instances for the control API, a reload), and on shutdown stops every
//! instance gracefully and waits until every tree is gone.
//!
//! Reload re-reads and re-proves the fleet file. An invalid fleet changes nothing. A valid one is
//! applied as a difference: removed profiles are stopped, added ones started, and only profiles
//! whose gateway would run differently (command, environment, cwd, paths, ports, restart or stop
//! settings) are restarted; the others keep their pids. A changed gateway starts again only
//! once its old tree is gone. While a reload waits for that (up to a gateway's whole drain),
//! status requests are still answered, with the stopping instances in them; a second reload
//! waits for the first, and the reply comes when the reload is complete.

use crate::control::ReloadOptions;
use crate::control::Request;
use crate::control::protocol::{EarlierRollout, ReloadResponse};
use crate::fleet::{self, Fleet, FleetError, LoadContext, Plan, Profile};
use crate::instance::actor::spawn_actor;
use crate::instance::{Control, InstanceView};
use crate::observe::events::{EventSink, FleetEvent, What};
use crate::observe::logs::OutputSink;
use crate::process::{group, reaper, tree};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{error, info, warn};

mod apply;
pub(crate) use apply::{Applied, Outcome};

/// Grace given to leftovers of an earlier clawherd before SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(10);

/// Why the supervisor could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SupervisorError {
    /// Becoming subreaper or installing SIGCHLD handling failed.
    #[error("cannot set up process supervision: {0}")]
    Setup(String),
}

struct Managed {
    view: InstanceView,
    task: JoinHandle<()>,
    /// The content of its OpenClaw config file when it was launched (none without a file).
    config: Option<String>,
}

/// What an instance last ran successfully: its profile and plan, and its config file's content.
#[derive(Debug, Clone)]
struct Known {
    profile: Arc<Profile>,
    plan: Arc<Plan>,
    config: Option<String>,
}

/// The last-known-good of every instance, by profile name; shared with the [`prove`] tasks.
type KnownStore = Arc<std::sync::Mutex<BTreeMap<String, Known>>>;

/// The running fleet, owned by the supervisor task.
pub(crate) struct Supervisor {
    fleet: Fleet,
    managed: BTreeMap<String, Managed>,
    output: OutputSink,
    events: EventSink,
    reaper: JoinHandle<std::io::Result<()>>,
    /// The standbys whose failover controller runs, by the standby's name, with the pair it
    /// was made for (see [`Supervisor::start_controllers`]).
    controllers: BTreeMap<String, PairKey>,
    /// The one task that drives every failover controller ([`crate::failover::run`]), and what
    /// it is told; aborted on shutdown.
    failover: (mpsc::UnboundedSender<crate::failover::Told>, JoinHandle<()>),
    /// Instances a reload is stopping (removed, or changed and not yet started again).
    retiring: Vec<InstanceView>,
    /// The current set of instances ([`Supervisor::views`]), published on every change for
    /// tasks that follow the fleet through reloads (the systemd notify task).
    roster: watch::Sender<Vec<InstanceView>>,
    /// The last-known-good of each instance (docs/rollout.md).
    known: KnownStore,
    /// The one task that proves the first run of each launched instance ([`prove`]), and what
    /// it is told.
    provers: (mpsc::UnboundedSender<Prover>, JoinHandle<()>),
    /// Actors a rollout stopped whose trees may still be ending ([`Supervisor::shutdown`]
    /// waits for them when clawherd stops in the middle of a rollout).
    retired: Vec<JoinHandle<()>>,
    /// What each instance's rollout is doing, for status (`verifying`, `soaking`, `rolled
    /// back: ...`).
    rollout_notes: crate::control::RolloutNotes,
    /// Each standby's failover controller state, for status.
    failover_board: crate::failover::Board,
    /// The running fleet's warnings, for status: set at start and by every applied reload.
    fleet_warnings: crate::control::server::FleetWarnings,
    /// The hooks run for `rolled_back` events.
    hook_tasks: tokio::task::JoinSet<()>,
    /// The files whose change triggers a reload ([`super::watch::paths_of`] of the current
    /// fleet), published at start and after every reload for the file watcher.
    watched: watch::Sender<std::collections::BTreeSet<std::path::PathBuf>>,
    /// The profiles an earlier daemon's rollout had not finished (its journal in `run_dir`):
    /// launched without being started, for [`Supervisor::resume_rollout`].
    resume: Vec<String>,
}

/// A reload between [`Supervisor::reload_begin`] and [`Supervisor::reload_finish`].
pub(crate) struct PendingReload {
    report: ReloadResponse,
    fleet: Fleet,
    instances: Vec<(Profile, Plan)>,
    stopping: Vec<JoinHandle<()>>,
}

impl PendingReload {
    /// The stopped instances' tasks, for [`Supervisor::shutdown`] when clawherd stops before
    /// the reload finished (the added and changed instances are then never started).
    pub(crate) fn into_stopping(self) -> Vec<JoinHandle<()>> {
        self.stopping
    }

    /// Resolves once every instance the reload stopped has ended (its whole tree gone).
    /// Cancel-safe: it can be polled again after a `select!` dropped it.
    pub(crate) async fn stopped(&mut self) {
        for task in &mut self.stopping {
            if !task.is_finished() {
                let _ = task.await;
            }
        }
    }
}

/// `fleet`'s warnings as `check` prints them, redacted: what `reload` and `status` answer.
fn rendered_warnings(fleet: &Fleet) -> Vec<String> {
    fleet
        .warnings
        .0
        .iter()
        .map(|w| crate::observe::redact::redact_text(&w.to_string()))
        .collect()
}

impl Supervisor {
    /// Sets up supervision (subreaper, SIGCHLD reaping) for `fleet`; returns at once. Nothing
    /// is started yet: [`clear_leftovers`], then [`Supervisor::launch_all`].
    ///
    /// Errors: [`SupervisorError::Setup`].
    pub(crate) async fn start(fleet: Fleet, output: OutputSink, events: EventSink) -> Result<Self, SupervisorError> {
        reaper::become_subreaper().map_err(|e| SupervisorError::Setup(format!("PR_SET_CHILD_SUBREAPER: {e}")))?;
        // Install SIGCHLD handling before any child exists.
        let reaper = tokio::spawn(reaper::run());
        tokio::task::yield_now().await;
        let watched = watch::Sender::new(super::watch::paths_for(&fleet));
        let fleet_warnings = crate::control::server::FleetWarnings::default();
        fleet_warnings.set(rendered_warnings(&fleet));
        let known = KnownStore::default();
        let (prover_tx, prover_rx) = mpsc::unbounded_channel();
        let provers = tokio::spawn(prove(prover_rx, known.clone(), events.clone(), fleet.settings.run_dir.clone()));
        let failover_board = crate::failover::Board::default();
        let (failover_tx, failover_rx) = mpsc::unbounded_channel();
        let failover = tokio::spawn(crate::failover::run(failover_rx, events.clone(), failover_board.clone()));
        Ok(Supervisor {
            fleet,
            managed: BTreeMap::new(),
            output,
            events,
            reaper,
            controllers: BTreeMap::new(),
            failover: (failover_tx, failover),
            retiring: Vec::new(),
            roster: watch::Sender::new(Vec::new()),
            known,
            provers: (prover_tx, provers),
            retired: Vec::new(),
            rollout_notes: crate::control::RolloutNotes::default(),
            failover_board,
            fleet_warnings,
            hook_tasks: tokio::task::JoinSet::new(),
            watched,
            resume: Vec::new(),
        })
    }

    /// Starts every instance of the fleet given to [`Supervisor::start`] and the failover
    /// controllers; once leftovers are gone ([`clear_leftovers`]). The instances a rollout of an
    /// earlier daemon had not finished (its journal is still in `run_dir`) are launched but not
    /// started: [`Supervisor::resume_rollout`] starts them in the rollout's order.
    pub(crate) async fn launch_all(&mut self) {
        let unfinished: std::collections::HashSet<String> = match crate::daemon::rollout::lkg::load_journal(&self.fleet.settings.run_dir) {
            Ok(j) => j.map(|j| j.remaining().into_iter().collect()).unwrap_or_default(),
            Err(e) => {
                warn!(error = %e, "the rollout journal is unusable: ignored, every instance starts as usual (remove the file)");
                Default::default()
            }
        };
        // The instances move into their actors and views; `fleet` keeps the settings.
        for (profile, plan) in std::mem::take(&mut self.fleet.instances) {
            if unfinished.contains(&profile.name) {
                self.resume.push(profile.name.clone());
                self.launch_arc(Arc::new(profile), Arc::new(plan), false).await;
            } else {
                self.launch(profile, plan).await;
            }
        }
        // Once, not per launch: each roster is a copy of every view (1,000 launches made half a
        // million copies).
        self.publish();
        self.start_controllers(&[], None);
    }

    /// A receiver of the files whose change triggers a reload, updated after every reload
    /// (for [`super::watch::start`]). Closed once the supervisor is gone.
    pub(crate) fn watched(&self) -> watch::Receiver<std::collections::BTreeSet<std::path::PathBuf>> {
        self.watched.subscribe()
    }

    /// Starts the failover controller of every standby profile that has none, and keeps the
    /// others: a controller lives as long as its pair is the same. It is replaced when the
    /// standby or its main was (re)launched (`relaunched`: added or restarted by a reload), or
    /// when the pair's settings or the hooks changed; it ends with its standby. A kept
    /// controller keeps what it knows (main was ready before, a failover in progress), so a
    /// reload while main is restarting after a crash does not turn that restart into a first
    /// boot with `startup_grace`.
    fn start_controllers(&mut self, relaunched: &[String], cover: Option<&str>) {
        let mut old = std::mem::take(&mut self.controllers);
        let hooks = Arc::new(self.fleet.settings.hooks.clone());
        for (name, m) in &self.managed {
            let Some(sb) = &m.view.profile.standby else { continue };
            let Some(main) = self.managed.get(&sb.standby_for) else { continue };
            let key = PairKey {
                main: sb.standby_for.clone(),
                settings: crate::failover::PairSettings {
                    mode: sb.mode,
                    failover_after: sb.failover_after,
                    failback_after: sb.failback_after,
                    main_startup_grace: main.view.profile.health.startup_grace,
                },
                hooks: self.fleet.settings.hooks.clone(),
            };
            // A controller ends by itself when either actor ended.
            if let Some(k) = old.remove(name)
                && k == key
                && !relaunched.contains(name)
                && !relaunched.contains(&sb.standby_for)
                && !m.view.handle.ended()
                && !main.view.handle.ended()
            {
                self.controllers.insert(name.clone(), k);
                continue;
            }
            let pair = crate::failover::Pair {
                standby: m.view.handle.clone(),
                main: main.view.handle.clone(),
                settings: key.settings,
                standby_is_cover: cover == Some(name.as_str()),
                hooks: hooks.clone(),
            };
            let _ = self.failover.0.send(crate::failover::Told::Drive(pair));
            self.controllers.insert(name.clone(), key);
        }
        for (name, _) in old {
            let _ = self.failover.0.send(crate::failover::Told::Forget(name));
        }
        self.failover_board.retain(|name| self.controllers.contains_key(name));
    }

    /// Ends the failover controller of `standby`, if it has one (its running hooks aborted).
    fn forget_controller(&mut self, standby: &str) {
        if self.controllers.remove(standby).is_some() {
            let _ = self.failover.0.send(crate::failover::Told::Forget(standby.to_string()));
        }
    }

    /// Launches a new instance (start-up, added by a reload); its first proved run becomes its
    /// last-known-good ([`prove`]).
    async fn launch(&mut self, profile: Profile, plan: Plan) {
        let handle = self.launch_arc(Arc::new(profile), Arc::new(plan), true).await;
        let Some(m) = self.managed.get_mut(&handle.profile) else { return };
        let known = Known {
            profile: m.view.profile.clone(),
            plan: m.view.plan.clone(),
            config: m.config.clone(),
        };
        let _ = self.provers.0.send(Prover::Prove(handle.subscribe(), known));
    }

    /// Spawns the actor of `profile` and, with `start`, starts it (a cold standby is only
    /// started by its failover controller or a rollout). Returns its handle. The roster is not
    /// published: the caller does it once its launches are done.
    async fn launch_arc(&mut self, profile: Arc<Profile>, plan: Arc<Plan>, start: bool) -> crate::instance::InstanceHandle {
        let marker = self.fleet.instance_marker(&profile.name);
        let config = plan
            .gateway
            .as_ref()
            .and_then(|g| crate::daemon::rollout::files::content(&g.config.value));
        let (handle, task) = spawn_actor(&profile, plan.clone(), marker.clone(), self.output.clone(), self.events.clone());
        // A cold standby runs only while the profile it stands by for is down.
        if start && !is_cold(&profile) {
            handle.send(Control::Start).await;
        }
        self.managed.insert(
            profile.name.clone(),
            Managed {
                view: InstanceView {
                    profile,
                    plan,
                    marker,
                    handle: handle.clone(),
                    retiring: false,
                },
                task,
                config,
            },
        );
        handle
    }

    /// What each instance's rollout does, shared (for the control API's status).
    pub(crate) fn rollout_notes(&self) -> crate::control::RolloutNotes {
        self.rollout_notes.clone()
    }

    /// Each standby's failover controller state, shared (for the control API's status).
    pub(crate) fn failover_board(&self) -> crate::failover::Board {
        self.failover_board.clone()
    }

    /// The running fleet's warnings, shared (for the control API's status).
    pub(crate) fn fleet_warnings(&self) -> crate::control::server::FleetWarnings {
        self.fleet_warnings.clone()
    }

    /// A receiver of the current set of instances, updated whenever an instance is launched or
    /// retired (start-up, reloads, shutdown). Closed once the supervisor is gone.
    pub(crate) fn roster(&self) -> watch::Receiver<Vec<InstanceView>> {
        self.roster.subscribe()
    }

    /// Publishes [`Supervisor::views`] to the roster's receivers.
    fn publish(&self) {
        self.roster.send_replace(self.views());
    }

    /// Every instance, in profile order, including those a reload is stopping.
    pub(crate) fn views(&self) -> Vec<InstanceView> {
        let mut views: Vec<InstanceView> = self
            .managed
            .values()
            .map(|m| m.view.clone())
            .chain(self.retiring.iter().cloned())
            .collect();
        views.sort_by(|a, b| a.profile.name.cmp(&b.profile.name));
        views
    }

    /// Tells the named instances to stop and end, and returns their actors' tasks, which end
    /// once each tree is gone. Their views stay in [`Supervisor::views`] (as `stopping`) until
    /// [`Supervisor::reload_finish`].
    async fn retire(&mut self, names: &[String]) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        for n in names {
            if let Some(m) = self.managed.remove(n) {
                let _ = self.provers.0.send(Prover::Forget(n.clone()));
                m.view.handle.send(Control::Shutdown).await;
                tasks.push(m.task);
                self.retiring.push(InstanceView { retiring: true, ..m.view });
            }
        }
        self.publish();
        tasks
    }

    /// The first half of a reload (see the module doc): re-reads and re-proves the fleet file, works out the
    /// difference, and tells removed and changed instances to stop. The caller waits on
    /// [`PendingReload::stopped`] (answering status requests meanwhile) and then calls
    /// [`Supervisor::reload_finish`], which starts the new and changed instances: a changed
    /// gateway is started again only once its old tree is gone (same state dir and ports).
    ///
    /// Errors: the rendered diagnostics of an invalid fleet; nothing was changed then.
    pub(crate) async fn reload_begin(&mut self) -> Result<PendingReload, String> {
        // Off the runtime thread: reading the files, the proof and the host scan take time, and
        // the instances' actors must go on meanwhile.
        let path = self.fleet.path.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let loaded = fleet::load(&path, &LoadContext::from_process());
            if let Ok(f) = &loaded {
                // The new fleet's descriptors fit in at most one growth of the table, and a
                // growth that waits for the kernel waits here, not on the runtime thread.
                crate::process::limits::reserve_descriptors(crate::process::limits::descriptors_for(f.instances.len()));
            }
            loaded
        })
        .await
        .map_err(|e| format!("the reload could not run: {e}"))?;
        let mut new = match loaded {
            Ok(f) => f,
            Err(FleetError::Invalid(d)) => {
                let text = d.to_string();
                error!(
                    errors = d.error_count(),
                    "reload refused, the fleet keeps running unchanged:\n{}",
                    crate::observe::redact::redact_text(&text)
                );
                self.events.emit(FleetEvent::new(
                    What::ReloadRefused { errors: text.clone() },
                    None,
                    None,
                    format!("{} error(s); the fleet keeps running unchanged", d.error_count()),
                ));
                self.refused_live_changes(&text);
                return Err(text);
            }
            Err(e) => {
                error!(error = %e, "reload refused, the fleet keeps running unchanged");
                return Err(e.to_string());
            }
        };
        let new_instances = std::mem::take(&mut new.instances);
        let mut report = ReloadResponse {
            warnings: rendered_warnings(&new),
            ..ReloadResponse::default()
        };
        if new.settings.socket != self.fleet.settings.socket {
            report.needs_restart.push("control.socket".into());
        }
        if new.settings.run_dir != self.fleet.settings.run_dir {
            report.needs_restart.push("run_dir".into());
        }
        if new.settings.rotation != self.fleet.settings.rotation {
            report.needs_restart.push("logs".into());
        }
        let new_by_name: BTreeMap<&str, &(Profile, Plan)> = new_instances.iter().map(|i| (i.0.name.as_str(), i)).collect();
        for (name, m) in &self.managed {
            match new_by_name.get(name.as_str()) {
                None => report.removed.push(name.clone()),
                Some((p, plan))
                    if same_runtime((&m.view.profile, &m.view.plan), (p, plan))
                        && plan
                            .gateway
                            .as_ref()
                            .and_then(|g| crate::daemon::rollout::files::content(&g.config.value))
                            == m.config =>
                {
                    report.unchanged.push(name.clone())
                }
                Some(_) => report.restarted.push(name.clone()),
            }
        }
        report.added = new_instances
            .iter()
            .map(|(p, _)| p.name.clone())
            .filter(|n| !self.managed.contains_key(n))
            .collect();
        // A removed profile's last-known-good goes with it (a profile added again later under
        // that name starts afresh).
        if let Ok(mut k) = self.known.lock() {
            for n in &report.removed {
                k.remove(n);
            }
        }
        for n in &report.removed {
            self.rollout_notes.set(n, None);
        }
        // Changed instances are restarted by the rollout, one at a time, after the reload.
        let retiring = report.removed.clone();
        let stopping = self.retire(&retiring).await;
        Ok(PendingReload {
            report,
            fleet: new,
            instances: new_instances,
            stopping,
        })
    }

    /// The second half of a reload (see [`Supervisor::reload_begin`]), once
    /// [`PendingReload::stopped`] returned: starts added instances, keeps the fresh plans of
    /// unchanged ones, retries parked ones, and updates the failover controllers. Returns what
    /// changed, and the new profiles and plans of the changed instances, for
    /// [`Supervisor::roll_out`] (they still run their old setup).
    pub(crate) async fn reload_finish(&mut self, pending: PendingReload) -> (ReloadResponse, Vec<(Profile, Plan)>) {
        let PendingReload {
            report,
            fleet: new,
            instances: new_instances,
            stopping,
        } = pending;
        debug_assert!(stopping.iter().all(JoinHandle::is_finished), "reload_finish before stopped()");
        self.retiring.clear();
        self.publish();
        // The new configs (added profiles, moved config paths) are watched from now on, and
        // those of removed profiles no longer are.
        let watched = super::watch::paths_of(new.settings.watch, &new.path, new_instances.iter().map(|(_, plan)| plan));
        self.watched.send_if_modified(|w| {
            let changed = *w != watched;
            *w = watched;
            changed
        });
        let mut changes = Vec::new();
        for (profile, plan) in new_instances {
            if report.added.contains(&profile.name) {
                self.launch(profile, plan).await;
            } else if report.restarted.contains(&profile.name) {
                changes.push((profile, plan));
            } else if let Some(m) = self.managed.get_mut(&profile.name) {
                // Same gateway; keep the fresh plan (its sources may point at moved lines).
                m.view.profile = Arc::new(profile);
                m.view.plan = Arc::new(plan);
            }
        }
        self.fleet_warnings.set(report.warnings.clone());
        self.fleet = new;
        self.publish();
        // Parked instances wait for a reload: try them again (changed ones: by the rollout).
        for (name, m) in &self.managed {
            if m.view.handle.status().state == crate::instance::Phase::Parked && !report.restarted.contains(name) {
                m.view.handle.send(Control::Start).await;
            }
        }
        self.start_controllers(&report.added, None);
        // The old fleet, its plans and the proof's tables are free now.
        crate::process::trim::heap_churned();
        info!(added = ?report.added, removed = ?report.removed, restarted = ?report.restarted, unchanged = report.unchanged.len(), "reloaded");
        self.events.emit(FleetEvent::new(
            What::Reloaded {
                added: report.added.clone(),
                removed: report.removed.clone(),
                restarted: report.restarted.clone(),
                unchanged: report.unchanged.clone(),
            },
            None,
            None,
            format!(
                "added {:?}, removed {:?}, restarted {:?}",
                report.added, report.removed, report.restarted
            ),
        ));
        if !report.needs_restart.is_empty() {
            warn!(settings = ?report.needs_restart, "these fleet settings changed but apply only when clawherd restarts");
        }
        (report, changes)
    }

    /// Stops every instance at once (SIGTERM, stop timeout, SIGKILL), waits for every actor to
    /// end and reaps what is left.
    /// `stopping`: the tasks of a reload that was still waiting for them, if any.
    pub(crate) async fn shutdown(mut self, stopping: Vec<JoinHandle<()>>) {
        self.controllers.clear();
        self.failover.1.abort();
        self.provers.1.abort();
        let names: Vec<String> = self.managed.keys().cloned().collect();
        let retired = std::mem::take(&mut self.retired);
        for task in self.retire(&names).await.into_iter().chain(stopping).chain(retired) {
            if !task.is_finished() {
                let _ = task.await;
            }
        }
        reaper::reap_orphans();
        self.reaper.abort();
    }
}

/// What a failover controller was made for: when any of it changes, the controller is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PairKey {
    main: String,
    settings: crate::failover::PairSettings,
    hooks: crate::fleet::Hooks,
}

/// Whether `profile` is a cold standby (started only to cover the profile it stands by for).
fn is_cold(profile: &Profile) -> bool {
    profile.standby.as_ref().is_some_and(|s| s.mode == crate::fleet::StandbyMode::Cold)
}

/// How often [`prove`] reads the status of each instance it proves.
const PROVE_EVERY: Duration = Duration::from_millis(500);

/// What the supervisor tells the [`prove`] task.
enum Prover {
    /// Prove the first run of a launched instance (its status, and what it runs).
    Prove(watch::Receiver<crate::instance::InstanceStatus>, Known),
    /// The instance was retired (removed, or replaced by a rollout): it is proved no more.
    Forget(String),
}

/// Records the first proved run of each launched instance as its last-known-good: once it is
/// ready and then stable for its `rollout.soak` (judged from samples of its status every
/// [`PROVE_EVERY`], [`crate::daemon::rollout::verify::Proving`]), `known` goes into `store` and
/// `run_dir/lkg/`, and a `known_good` event is recorded. A run that fails its soak is followed
/// by the next one. One task for the whole fleet, with a few dozen bytes per unproved instance:
/// a task per instance held about 1.4 KB each through its soak. An instance is dropped when it
/// is proved, retired ([`Prover::Forget`]) or its actor ended. Ends when the supervisor is gone,
/// or when aborted (shutdown).
async fn prove(mut told: mpsc::UnboundedReceiver<Prover>, store: KnownStore, events: EventSink, run_dir: std::path::PathBuf) {
    type Unproved = (
        watch::Receiver<crate::instance::InstanceStatus>,
        Known,
        crate::daemon::rollout::verify::Proving,
    );
    let mut unproved: BTreeMap<String, Unproved> = BTreeMap::new();
    let mut every = tokio::time::interval(PROVE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = told.recv() => match message {
                Some(Prover::Prove(status, known)) => {
                    let name = status.borrow().profile.clone();
                    unproved.insert(name, (status, known, Default::default()));
                }
                Some(Prover::Forget(name)) => {
                    unproved.remove(&name);
                }
                None => return,
            },
            _ = every.tick(), if !unproved.is_empty() => {
                let now = Instant::now();
                let mut proved = Vec::new();
                unproved.retain(|name, (status, known, proving)| {
                    // The actor ended: nothing more to prove.
                    if status.has_changed().is_err() {
                        return false;
                    }
                    let s = status.borrow_and_update();
                    if proving.sample(&s, now, known.profile.rollout.soak) {
                        proved.push((name.clone(), known.clone(), s.pid));
                        return false;
                    }
                    true
                });
                for (name, known, pid) in &proved {
                    record_known(&store, &run_dir, name, known.clone());
                    events.emit(FleetEvent::new(
                        What::KnownGood {
                            soak_s: known.profile.rollout.soak.as_secs_f64(),
                        },
                        Some(name),
                        *pid,
                        format!("ready and stable for {:?}: recorded as last-known-good", known.profile.rollout.soak),
                    ));
                }
                if !proved.is_empty() {
                    // The soaks of a fleet end together: one trim gives their memory back.
                    crate::process::trim::heap_churned();
                }
            }
        }
    }
}

/// Keeps `known` as `profile`'s last-known-good, in memory and in `run_dir/lkg/<profile>.json`
/// (a write failure is logged: the rollback still has the copy in memory).
fn record_known(store: &KnownStore, run_dir: &std::path::Path, profile: &str, known: Known) {
    let record = crate::daemon::rollout::lkg::Record {
        at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        profile: profile.to_string(),
        effective: crate::daemon::rollout::lkg::Effective::of(&known.plan),
        config_path: known.plan.gateway.as_ref().map(|g| g.config.value.clone()),
        config: known.config.clone(),
        setup: Some(crate::daemon::rollout::lkg::Setup {
            profile: (*known.profile).clone(),
            plan: (*known.plan).clone(),
        }),
    };
    if let Err(e) = crate::daemon::rollout::lkg::record(run_dir, record) {
        warn!(profile, error = %e, "cannot write the last-known-good record");
    }
    if let Ok(mut k) = store.lock() {
        k.insert(profile.to_string(), known);
    }
}

/// Whether two versions of a profile run the same gateway the same way: same argv, user and
/// groups, environment, cwd, effective paths, ports, and restart/stop settings. Places in the files do not matter.
fn same_runtime(a: (&Profile, &Plan), b: (&Profile, &Plan)) -> bool {
    let ports = |p: &Plan| p.listeners.iter().map(|l| l.range).collect::<Vec<_>>();
    let paths = |p: &Plan| p.paths().into_iter().map(|(_, s)| s.value.clone()).collect::<Vec<_>>();
    a.1.argv == b.1.argv
        && a.1.credentials == b.1.credentials
        && a.1.env == b.1.env
        && a.1.cwd == b.1.cwd
        && paths(a.1) == paths(b.1)
        && ports(a.1) == ports(b.1)
        && a.0.restart == b.0.restart
        && a.0.stop_timeout == b.0.stop_timeout
        && a.0.leftover_grace == b.0.leftover_grace
        && a.0.role == b.0.role
        && a.0.flavor == b.0.flavor
}

/// A caller waiting for the answer to a reload (none for SIGHUP and the file watch).
pub(crate) type ReloadReply = Option<oneshot::Sender<Result<ReloadResponse, String>>>;

/// A reload asked for: who waits for its answer, and how its rollout treats failed changes.
pub(crate) type Asked = (ReloadReply, ReloadOptions);

/// A reload waiting for its turn, and the rollout that was in progress when it was asked for
/// (once that rollout is over): its caller learns that verdict too, as the rollout may have
/// applied the very change it asked for (a config edit is rolled out by the file watch at once).
type Deferred = (Asked, Option<EarlierRollout>);

/// Gives the reloads deferred from `mark` on (those asked for during the rollout `out`,
/// started by `started_by`) its verdict.
fn attach(deferred: &mut std::collections::VecDeque<Deferred>, mark: usize, started_by: &str, out: &Outcome) {
    for (_, earlier) in deferred.iter_mut().skip(mark) {
        if earlier.is_none() {
            *earlier = Some(EarlierRollout {
                started_by: started_by.to_string(),
                verified: out.verified.clone(),
                rolled_back: out.rolled_back.clone(),
                held: out.held.clone(),
            });
        }
    }
}

/// Runs the supervisor task until `shutdown` resolves: answers `requests`, then stops the fleet.
/// The whole life of `clawherd run` after set-up. `held`: reloads asked for before, done first.
/// A rollout an earlier daemon left unfinished is resumed first ([`Supervisor::resume_rollout`]);
/// a reload's changes are rolled out ([`Supervisor::roll_out`]) while requests keep being
/// answered, and its caller is answered once the last change is ready.
pub(crate) async fn serve(
    mut sup: Supervisor,
    mut requests: mpsc::Receiver<Request>,
    held: Vec<Asked>,
    shutdown: impl Future<Output = ()>,
    notifier: &crate::systemd::notify::Notifier,
) {
    tokio::pin!(shutdown);
    // Reload requests that came while a reload waited for its stopped instances.
    let mut deferred: std::collections::VecDeque<Deferred> = held.into_iter().map(|r| (r, None)).collect();
    // The tasks of a reload interrupted by shutdown.
    let mut stopping = Vec::new();
    // Callers waiting for the reload in progress to finish.
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    'serve: {
        if matches!(crate::daemon::rollout::lkg::load_journal(&sup.fleet.settings.run_dir), Ok(Some(_))) {
            let roster = sup.roster();
            let s = &mut sup;
            let mark = deferred.len();
            let Some(out) = drive(
                move |_| s.resume_rollout(),
                &mut requests,
                &roster,
                &mut deferred,
                &mut waiting,
                shutdown.as_mut(),
                None,
            )
            .await
            else {
                break 'serve;
            };
            attach(&mut deferred, mark, "a daemon restart", &out);
        }
        loop {
            let (req, earlier) = match deferred.pop_front() {
                Some(((reply, options), earlier)) => (Some(Request::Reload(reply, options)), earlier),
                None => tokio::select! {
                    () = &mut shutdown => break 'serve,
                    req = requests.recv() => (req, None),
                },
            };
            match req {
                Some(Request::Instances(reply)) => {
                    let _ = reply.send(sup.views());
                }
                Some(Request::ReloadDone(reply)) => {
                    let _ = reply.send(());
                }
                Some(Request::Reload(reply, options)) => {
                    // The reloads asked for from now on wait for this one and its rollout.
                    let mark = deferred.len();
                    let started_by = if reply.is_some() {
                        "another reload"
                    } else {
                        "a file change or SIGHUP"
                    };
                    let _ = notifier.reloading();
                    let mut pending = match sup.reload_begin().await {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = notifier.ready(&crate::daemon::notify::summary(&sup.views()));
                            if let Some(r) = reply {
                                let _ = r.send(Err(e));
                            }
                            continue;
                        }
                    };
                    // Stopping a gateway can take its whole drain; status keeps being answered.
                    if !wait_stopped(&mut pending, &sup, &mut requests, &mut deferred, &mut waiting, shutdown.as_mut()).await {
                        stopping = pending.into_stopping();
                        break 'serve;
                    }
                    let (result, changes) = sup.reload_finish(pending).await;
                    // systemd's reload ends once the new fleet is accepted: the rollout that
                    // follows (verify, then a soak of 30 s by default) shows in STATUS= and the
                    // events, and must not hold `systemctl reload` and the unit's other jobs.
                    let _ = notifier.ready(&crate::daemon::notify::summary(&sup.views()));
                    let answer = Answer { reply, result, earlier };
                    if changes.is_empty() {
                        answer.send(&mut waiting, None);
                    } else {
                        let roster = sup.roster();
                        let s = &mut sup;
                        let caller = &options.caller_rolls_back;
                        let Some(out) = drive(
                            move |applied| s.roll_out(changes, applied, caller),
                            &mut requests,
                            &roster,
                            &mut deferred,
                            &mut waiting,
                            shutdown.as_mut(),
                            Some(answer),
                        )
                        .await
                        else {
                            break 'serve;
                        };
                        attach(&mut deferred, mark, started_by, &out);
                    }
                }
                None => break 'serve,
            }
        }
    }
    info!("stopping every instance");
    let _ = notifier.stopping();
    sup.shutdown(stopping).await;
    info!("all instances stopped");
}

/// Waits until the instances `pending` stopped have ended, answering requests meanwhile
/// (status from `sup`, reloads deferred, "reload done" held in `waiting`). False when
/// `shutdown` came first.
async fn wait_stopped(
    pending: &mut PendingReload,
    sup: &Supervisor,
    requests: &mut mpsc::Receiver<Request>,
    deferred: &mut std::collections::VecDeque<Deferred>,
    waiting: &mut Vec<oneshot::Sender<()>>,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> bool {
    loop {
        tokio::select! {
            () = pending.stopped() => return true,
            () = shutdown.as_mut() => return false,
            req = requests.recv() => match req {
                Some(Request::Instances(r)) => {
                    let _ = r.send(sup.views());
                }
                Some(Request::Reload(r, o)) => deferred.push_back(((r, o), None)),
                Some(Request::ReloadDone(r)) => waiting.push(r),
                None => {
                    pending.stopped().await;
                    return true;
                }
            },
        }
    }
}

/// The answer a reload owes its caller.
struct Answer {
    reply: ReloadReply,
    result: ReloadResponse,
    /// The rollout in progress when the reload was asked for, and its verdict.
    earlier: Option<EarlierRollout>,
}

impl Answer {
    /// Answers the caller with `result` and what the rollout did so far, plus the verdict of
    /// the earlier rollout on the profiles this reload did not restart again (that rollout
    /// applied their change), and lets the actions that waited for this reload act on the new
    /// instances.
    fn send(self, waiting: &mut Vec<oneshot::Sender<()>>, outcome: Option<Outcome>) {
        let mut result = self.result;
        if let Some(o) = outcome {
            result.rolled_back = o.rolled_back;
            result.held = o.held;
        }
        if let Some(e) = &self.earlier {
            for (theirs, ours) in [(&e.rolled_back, &mut result.rolled_back), (&e.held, &mut result.held)] {
                for p in theirs {
                    if !result.restarted.contains(p) && !ours.contains(p) {
                        ours.push(p.clone());
                    }
                }
            }
        }
        result.earlier = self.earlier;
        for r in waiting.drain(..) {
            let _ = r.send(());
        }
        if let Some(r) = self.reply {
            let _ = r.send(Ok(result));
        }
    }
}

/// Runs a rollout `work` to its end while answering requests: status from `roster`, further
/// reloads deferred, "reload done" once `answer` was sent (it is sent when the rollout says the
/// last change is applied, or at its end). `None` when `shutdown` came first (the rollout is
/// dropped; its journal stays for the next daemon).
async fn drive<F: Future<Output = Outcome>>(
    work: impl FnOnce(Applied) -> F,
    requests: &mut mpsc::Receiver<Request>,
    roster: &watch::Receiver<Vec<InstanceView>>,
    deferred: &mut std::collections::VecDeque<Deferred>,
    waiting: &mut Vec<oneshot::Sender<()>>,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    answer: Option<Answer>,
) -> Option<Outcome> {
    let (tx, mut applied) = oneshot::channel::<Outcome>();
    let work = work(Some(tx));
    tokio::pin!(work);
    let mut answer = answer;
    // Once every sender is gone, only the rollout is left to wait for.
    let mut open = true;
    // Until `applied` resolved (a oneshot is polled to completion once).
    let mut listening = true;
    loop {
        tokio::select! {
            out = &mut work => {
                if let Some(a) = answer.take() {
                    a.send(waiting, Some(out.clone()));
                }
                return Some(out);
            }
            o = &mut applied, if listening && answer.is_some() => {
                // A rollout that drops the sender unsent (a failed last step) answers at its end.
                listening = false;
                if let Ok(o) = o
                    && let Some(a) = answer.take()
                {
                    a.send(waiting, Some(o));
                }
            }
            () = shutdown.as_mut() => return None,
            req = requests.recv(), if open => match req {
                Some(Request::Instances(r)) => {
                    let _ = r.send(roster.borrow().clone());
                }
                Some(Request::Reload(r, o)) => deferred.push_back(((r, o), None)),
                Some(Request::ReloadDone(r)) => {
                    if answer.is_some() {
                        waiting.push(r);
                    } else {
                        let _ = r.send(());
                    }
                }
                None => open = false,
            },
        }
    }
}

/// Takes down leftovers of an earlier clawherd ([`take_down_leftovers`]) while answering
/// `requests`: status sees no instance yet, actions find none, a reload is held and returned
/// (the caller passes it to [`serve`]), "reload done" is answered at once. Returns `None` when
/// `shutdown` resolved first (then nothing must be started).
///
/// Errors: [`OtherDaemon`] (then nothing must be started either).
pub(crate) async fn clear_leftovers(
    sup: &Supervisor,
    requests: &mut mpsc::Receiver<Request>,
    shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Option<Vec<Asked>>, OtherDaemon> {
    let work = take_down_leftovers(&sup.fleet);
    tokio::pin!(work);
    let mut shutdown = shutdown;
    let mut held = Vec::new();
    loop {
        tokio::select! {
            result = &mut work => return result.map(|()| Some(held)),
            () = shutdown.as_mut() => return Ok(None),
            req = requests.recv() => match req {
                Some(Request::Instances(r)) => {
                    let _ = r.send(sup.views());
                }
                Some(Request::ReloadDone(r)) => {
                    let _ = r.send(());
                }
                Some(Request::Reload(r, o)) => held.push((r, o)),
                None => return (&mut work).await.map(|()| Some(held)),
            },
        }
    }
}

/// Gateways of this fleet run under another clawherd that is alive (one this daemon's registry
/// lock cannot see: started as another user, or in another mount namespace).
#[derive(Debug, thiserror::Error)]
#[error(
    "another clawherd already serves this fleet: pid {pid} runs {instances}\n  hint: stop it first (`kill {pid}`); it was started as another user or with another registry, so its lock was not seen"
)]
pub struct OtherDaemon {
    /// The other daemon's pid.
    pub pid: i32,
    /// The markers of its processes, comma-separated.
    pub instances: String,
}

/// Finds processes that carry a marker of this fleet whose daemon is dead (left by a clawherd
/// that was SIGKILLed: gateways, spawn brokers, tools) and takes them all down together:
/// SIGTERM to each, one shared grace of 10 s, then SIGKILL ([`group::take_down_together`]).
/// A gateway left running on a state dir would make the new one exit 78, and one on a port
/// would make it exit 1. Old markers that name no daemon are leftovers.
///
/// Errors: [`OtherDaemon`] when a process's marker names another daemon that still runs: its
/// gateways are not leftovers, nothing is taken down, and this daemon must not start.
pub(crate) async fn take_down_leftovers(fleet: &Fleet) -> Result<(), OtherDaemon> {
    take_down_marked(&format!("@{}", fleet.path.display())).await
}

/// The first look for leftovers of a fleet ([`scan_early`]): the `@<fleet file>` suffix it
/// looked for and its answer to come.
type EarlyScan = (String, oneshot::Receiver<BTreeMap<String, Vec<tree::ProcInfo>>>);

/// The early look of this process, until [`take_down_marked`] of its suffix takes it.
static EARLY_SCAN: std::sync::Mutex<Option<EarlyScan>> = std::sync::Mutex::new(None);

/// Starts the first look for leftovers of the fleet file at `fleet_file` (made absolute, as
/// the fleet's load makes it) on a thread of its own: the walk over `/proc` that reads every
/// process's environment then runs beside the fleet's load and proof, on another CPU, instead of
/// after them. [`take_down_leftovers`] of the same fleet file uses its answer for its first
/// look (whether any process carries a marker of the fleet, whose daemon then counts as alive
/// or not when it is asked); the take-down itself reads `/proc` afresh, as before. Only a
/// process that already carries a marker of the fleet can start another one that does (the
/// marker is inherited), so a look taken earlier misses none. Call it only once the fleet's
/// registry lock is held (no other daemon of this registry starts gateways of the fleet
/// meanwhile), or the registry cannot be used (no lock then, before or after the look). A
/// thread that cannot be started leaves the look to the take-down.
pub(crate) fn scan_early(fleet_file: &std::path::Path) {
    let Ok(path) = std::path::absolute(fleet_file) else { return };
    let suffix = format!("@{}", path.display());
    let (tx, rx) = oneshot::channel();
    let looked_for = suffix.clone();
    let scan = std::thread::Builder::new().name("clawherd-scan".into()).spawn(move || {
        let _ = tx.send(tree::marked_processes(&looked_for));
    });
    if scan.is_ok() {
        *EARLY_SCAN.lock().unwrap_or_else(|e| e.into_inner()) = Some((suffix, rx));
    }
}

/// The answer of the early look for `suffix` ([`scan_early`]), if one was started; else a look
/// made now.
async fn first_look(suffix: &str) -> BTreeMap<String, Vec<tree::ProcInfo>> {
    let early = EARLY_SCAN.lock().unwrap_or_else(|e| e.into_inner()).take_if(|(s, _)| s == suffix);
    if let Some((_, answer)) = early
        && let Ok(found) = answer.await
    {
        return found;
    }
    tree::marked_processes(suffix)
}

/// [`take_down_leftovers`] of the processes whose marker ends in `suffix`.
async fn take_down_marked(suffix: &str) -> Result<(), OtherDaemon> {
    let me = tree::DaemonId::current();
    let mut found = first_look(suffix).await;
    let mut others: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    found.retain(|marker, _| match tree::Marker::parse(marker).daemon {
        Some(d) if d.is_alive() => {
            if d.pid != me.pid {
                others.entry(d.pid).or_default().push(marker.clone());
            }
            false
        }
        _ => true,
    });
    if let Some((pid, markers)) = others.into_iter().next() {
        return Err(OtherDaemon {
            pid,
            instances: markers.join(", "),
        });
    }
    if found.is_empty() {
        return Ok(());
    }
    for (marker, procs) in &found {
        let desc: Vec<String> = procs.iter().map(|p| format!("{} ({})", p.pid, p.comm)).collect();
        warn!(instance = %marker, processes = %desc.join(", "), "found leftovers of an earlier clawherd; taking them down");
    }
    let started = Instant::now();
    group::take_down_together(|| leftovers(suffix).into_values().flatten().collect(), LEFTOVER_GRACE).await;
    info!(
        instances = found.len(),
        took_ms = started.elapsed().as_millis() as u64,
        "leftovers gone"
    );
    reaper::reap_orphans();
    Ok(())
}

/// The live processes whose marker ends in `suffix` (`@<fleet file>`) and names no daemon that
/// still runs (a dead one, or none: an older clawherd's marker), grouped by marker.
fn leftovers(suffix: &str) -> BTreeMap<String, Vec<tree::ProcInfo>> {
    let mut found = tree::marked_processes(suffix);
    found.retain(|marker, _| !tree::Marker::parse(marker).daemon.is_some_and(|d| d.is_alive()));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::tree::{DaemonId, MARKER_VAR, Marker};

    /// The early look ([`scan_early`]) is taken by the take-down of its own fleet file only, and
    /// what it found is taken down: a leftover (an older clawherd's marker, naming no daemon)
    /// that runs before the look is gone after the take-down, and a take-down of another fleet
    /// file leaves the look in place.
    #[tokio::test]
    async fn the_early_look_is_taken_by_its_fleet_and_its_leftover_taken_down() {
        let fleet = std::path::PathBuf::from(format!("/tmp/early-look-test-{}.yaml", std::process::id()));
        let suffix = format!("@{}", fleet.display());
        let mut leftover = marked_sleeper(&format!("old{suffix}"));
        let pid = leftover.id() as i32;
        scan_early(&fleet);
        let other = format!("@/tmp/early-look-other-{}.yaml", std::process::id());
        take_down_marked(&other).await.expect("nothing of the other fleet runs");
        let kept = EARLY_SCAN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|(s, _)| *s == suffix);
        let result = take_down_marked(&suffix).await;
        let taken = EARLY_SCAN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_none_or(|(s, _)| *s != suffix);
        let alive = tree::stat_of(pid).is_some_and(|p| p.state != 'Z');
        let _ = leftover.kill();
        let status = leftover.wait().expect("wait for the stand-in");
        result.expect("a leftover, no other daemon");
        assert!(kept, "another fleet's take-down took the early look");
        assert!(taken, "the fleet's take-down did not take its early look");
        assert!(!alive, "the leftover still runs");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc_sigterm()), "{status:?}");
    }

    /// SIGTERM's number.
    fn libc_sigterm() -> i32 {
        nix::sys::signal::Signal::SIGTERM as i32
    }

    /// A `sleep 30` carrying `marker` as its `CLAWHERD_INSTANCE`, once its environment is
    /// readable in `/proc` (a moment after `spawn` returns; at most 30 s).
    fn marked_sleeper(marker: &str) -> std::process::Child {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .env(MARKER_VAR, marker)
            .spawn()
            .expect("spawn a marked stand-in");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while tree::marker_of(child.id() as i32).is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        child
    }

    /// Only processes whose daemon is dead are leftovers: a marker naming a live daemon (here
    /// this test process) is another clawherd's gateway and is left alone; a marker naming a
    /// dead one (same pid, another start time: a reused pid), or no daemon (an older
    /// clawherd's marker), is a leftover.
    #[test]
    fn leftovers_are_only_processes_whose_daemon_is_dead() {
        let fleet = std::path::PathBuf::from(format!("/tmp/leftover-test-{}.yaml", std::process::id()));
        let suffix = format!("@{}", fleet.display());
        let live = DaemonId::current();
        let dead = DaemonId {
            starttime: live.starttime.wrapping_add(1),
            ..live
        };
        let markers = [
            Marker::new(live, "live", &fleet).to_string(),
            Marker::new(dead, "dead", &fleet).to_string(),
            format!("old{suffix}"),
        ];
        let mut children: Vec<std::process::Child> = markers
            .iter()
            .map(|m| {
                std::process::Command::new("sleep")
                    .arg("30")
                    .env(MARKER_VAR, m)
                    .spawn()
                    .expect("spawn sleep")
            })
            .collect();
        // The new image's environment is readable a moment after `spawn` returns.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while children.iter().any(|c| tree::marker_of(c.id() as i32).is_none()) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let found = leftovers(&suffix);
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let names: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(names, [markers[1].as_str(), markers[2].as_str()], "{found:?}");
    }

    /// Gateways of this fleet whose daemon is another clawherd that is alive (one whose lock
    /// this daemon could not see) make the start fail with that daemon's pid; nothing of
    /// theirs is taken down.
    #[tokio::test]
    async fn gateways_of_another_live_daemon_stop_the_start() {
        let suffix = format!("@/tmp/other-daemon-test-{}.yaml", std::process::id());
        let mut daemon = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn daemon stand-in");
        let dpid = daemon.id() as i32;
        let other = DaemonId {
            pid: dpid,
            starttime: tree::stat_of(dpid).expect("stat").starttime,
        };
        let marker = format!("{}.{}:main{suffix}", other.pid, other.starttime);
        let mut gateway = marked_sleeper(&marker);
        let gpid = gateway.id() as i32;
        let result = take_down_marked(&suffix).await;
        let still = tree::stat_of(gpid).is_some_and(|p| p.state != 'Z');
        for c in [&mut daemon, &mut gateway] {
            let _ = c.kill();
            let _ = c.wait();
        }
        let e = result.expect_err("another live daemon runs this fleet");
        assert_eq!((e.pid, e.instances.as_str()), (dpid, marker.as_str()));
        assert!(e.to_string().contains(&format!("pid {dpid}")), "{e}");
        assert!(still, "the other daemon's gateway is left alone");
    }
}
