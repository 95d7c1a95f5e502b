//! The rollout driver (docs/rollout.md): applies the changed instances of a reload one at a
//! time in [`crate::daemon::rollout::plan::order`], each covered by its standby, proves each change
//! ([`crate::daemon::rollout::verify`]) and rolls a failed one back to its last-known-good; and, at
//! start, resumes a rollout an earlier daemon left unfinished.

use super::{Known, Supervisor, is_cold, record_known};
use crate::daemon::rollout::files::{self, Restore};
use crate::daemon::rollout::verify::{self, Failure, Soak};
use crate::daemon::rollout::{lkg, plan};
use crate::fleet::{Plan, Profile, RolloutSettings};
use crate::instance::{Control, Goal, InstanceHandle, Phase};
use crate::observe::events::{FleetEvent, What};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{info, warn};

/// What a rollout did, by profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Changes proved.
    pub verified: Vec<String>,
    /// Changes that failed (rolled back unless `rollback: false`).
    pub rolled_back: Vec<String>,
    /// Changes not applied: the covering standby was not ready.
    pub held: Vec<String>,
}

/// A rollout's answer channel: sent once the last change is ready (before its soak) or when
/// the rollout ends, whichever comes first, with the outcome so far.
pub(crate) type Applied = Option<oneshot::Sender<Outcome>>;

impl Supervisor {
    /// Rolls out `changes` (new profiles and plans of running instances, from
    /// [`Supervisor::reload_finish`]): in [`plan::order`], one at a time, each covered by its
    /// standby, proved and rolled back on failure. Keeps a journal in `run_dir` while it runs.
    /// Cancel-safe in the sense that matters: dropped in the middle (clawherd stops), the
    /// instances it stopped are still awaited by [`Supervisor::shutdown`], and the journal
    /// lets the next daemon resume.
    /// `caller_rolls_back`: profiles whose failed change is recorded but left for the caller to
    /// put back ([`crate::control::ReloadOptions::caller_rolls_back`]).
    pub(crate) async fn roll_out(&mut self, changes: Vec<(Profile, Plan)>, applied: Applied, caller_rolls_back: &[String]) -> Outcome {
        self.roll(changes, applied, false, caller_rolls_back).await
    }

    /// [`Supervisor::roll_out`]; `resumed`: the changes are those an earlier daemon left
    /// unfinished, launched but not started ([`Supervisor::resume_rollout`]).
    async fn roll(&mut self, changes: Vec<(Profile, Plan)>, mut applied: Applied, resumed: bool, caller_rolls_back: &[String]) -> Outcome {
        let members: Vec<plan::Member> = self
            .managed
            .values()
            .map(|m| m.view.profile.clone())
            .filter(|p| !changes.iter().any(|(c, _)| c.name == p.name))
            .chain(changes.iter().map(|(p, _)| Arc::new(p.clone())))
            .map(|p| plan::Member {
                name: p.name.clone(),
                standby_for: p.standby.as_ref().map(|s| s.standby_for.clone()),
                cold: is_cold(&p),
            })
            .collect();
        let names: Vec<String> = changes.iter().map(|(p, _)| p.name.clone()).collect();
        let steps = plan::order(&names, &members);
        let mut changes: BTreeMap<String, (Profile, Plan)> = changes.into_iter().map(|c| (c.0.name.clone(), c)).collect();
        let run_dir = self.fleet.settings.run_dir.clone();
        let order: Vec<String> = steps.iter().map(|s| s.name.clone()).collect();
        let mut journal = lkg::Journal {
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            order: order.clone(),
            done: Vec::new(),
        };
        self.save_journal(&journal);
        info!(?order, resumed, "rolling out, one at a time");
        let intro = if resumed {
            "resuming the rollout an earlier clawherd left unfinished: "
        } else {
            ""
        };
        self.events.emit(FleetEvent::new(
            What::RolloutStarted { order: order.clone() },
            None,
            None,
            format!("{intro}rolling out {}, one at a time", order.join(", ")),
        ));
        let mut out = Outcome::default();
        let last = steps.len();
        for (i, step) in steps.into_iter().enumerate() {
            let Some((profile, plan)) = changes.remove(&step.name) else {
                continue;
            };
            let applied = if i + 1 == last { applied.take() } else { None };
            let caller = caller_rolls_back.contains(&step.name);
            self.apply_step(&step, profile, plan, &mut out, applied, caller).await;
            journal.done.push(step.name);
            self.save_journal(&journal);
        }
        if let Some(a) = applied.take() {
            let _ = a.send(out.clone());
        }
        if resumed {
            self.start_held(&out.held).await;
        }
        lkg::end_journal(&run_dir);
        self.finished(out)
    }

    /// After a resumed rollout: the instances whose change was held (no standby ready to cover)
    /// never started, as the earlier daemon's old gateway is gone. Each goes back to its whole
    /// last-known-good, profile and config (the config never over an edit: [`files::restore`];
    /// after an edit, the fleet file's profile runs with it, as a reload would roll out) and is
    /// started, uncovered: a main kept down would leave the pair with neither side ready.
    /// Without a last-known-good it starts as the fleet file says.
    async fn start_held(&mut self, held: &[String]) {
        for name in held {
            let Some(m) = self.managed.get(name) else { continue };
            let (mut profile, mut plan, launched) = (m.view.profile.clone(), m.view.plan.clone(), m.config.clone());
            let good = self.known.lock().ok().and_then(|k| k.get(name).cloned());
            let restore = match (plan.gateway.as_ref(), &good) {
                (Some(g), Some(good)) => files::restore(&g.config.value, launched.as_deref(), good.config.as_deref()),
                _ => Restore::AlreadyGood,
            };
            if let Some(good) = good
                && matches!(restore, Restore::Restored | Restore::AlreadyGood)
            {
                (profile, plan) = (good.profile, good.plan);
            }
            warn!(profile = %name, restore = ?restore, "its change was held after a daemon restart: starting it on its last-known-good, uncovered");
            self.note(name, "held after a daemon restart: started on its last-known-good");
            let _ = self.replace(name, profile, plan).await;
        }
    }

    /// Records the end of a rollout (event and log) and returns `out`.
    fn finished(&self, out: Outcome) -> Outcome {
        info!(verified = ?out.verified, rolled_back = ?out.rolled_back, held = ?out.held, "rollout finished");
        self.events.emit(FleetEvent::new(
            What::RolloutFinished {
                verified: out.verified.clone(),
                rolled_back: out.rolled_back.clone(),
                held: out.held.clone(),
            },
            None,
            None,
            format!(
                "rollout finished: verified {:?}, rolled back {:?}, held {:?}",
                out.verified, out.rolled_back, out.held
            ),
        ));
        out
    }

    fn save_journal(&self, j: &lkg::Journal) {
        if let Err(e) = lkg::save_journal(&self.fleet.settings.run_dir, j) {
            warn!(error = %e, "cannot write the rollout journal; a daemon restart would not resume this rollout");
        }
    }

    /// Sets `profile`'s rollout note for status (see [`crate::control::RolloutNotes`]).
    fn note(&self, profile: &str, note: impl Into<String>) {
        self.rollout_notes.set(profile, Some(note.into()));
    }

    /// One step: cover, restart with the change, prove, roll back on failure (`caller`: the
    /// caller of the reload rolls it back itself; only recorded then). Pushes the result into
    /// `out`; sends `applied` once the change is ready (or the step is over).
    async fn apply_step(&mut self, step: &plan::Step, profile: Profile, plan: Plan, out: &mut Outcome, applied: Applied, caller: bool) {
        let name = profile.name.clone();
        let settings = profile.rollout;
        // What to come back to: the last proved run, else the running one if it is ready.
        let good = self.good_of(&name);
        // The rollout owns the pair until the step is done: no failover or failback meanwhile.
        for n in [Some(name.as_str()), step.cover.as_ref().map(|c| c.standby.as_str())]
            .into_iter()
            .flatten()
        {
            self.forget_controller(n);
        }
        let (started_cover, covered_by) = match self.cover(&name, step, settings.verify_timeout).await {
            Ok(c) => c,
            Err(()) => {
                out.held.push(name);
                if let Some(a) = applied {
                    let _ = a.send(out.clone());
                }
                return;
            }
        };
        let message = match &covered_by {
            Some(s) => format!("restarting with the change; {s} is ready and covers"),
            None => "restarting with the change".to_string(),
        };
        info!(profile = %name, covered_by = ?covered_by, "applying the change");
        self.events
            .emit(FleetEvent::new(What::ChangeApplying { covered_by }, Some(&name), None, message));
        self.note(&name, "verifying");
        let handle = self.replace(&name, Arc::new(profile), Arc::new(plan)).await;
        // The changed gateway's output starts about here: the previous run's (its shutdown,
        // older errors) is not the change's error line.
        let since = SystemTime::now();
        let launched = self.managed.get(&name).and_then(|m| m.config.clone());
        let verdict = match verify::ready(&handle, settings.verify_timeout).await {
            Ok(after) => {
                self.note(&name, "soaking");
                let mut rx = self.events.subscribe();
                let mut answer = out.clone();
                answer.verified.push(name.clone());
                if let Some(a) = applied {
                    let _ = a.send(answer);
                }
                match verify::soak(&handle, &mut rx, settings.soak).await {
                    Soak::Stable => Ok(Some(after)),
                    Soak::Interrupted => Ok(None),
                    Soak::Failed(f) => Err(Some(f)),
                }
            }
            Err(f) => Err(f),
        };
        match verdict {
            Ok(Some(after)) => {
                self.verified(&name, after, settings.soak);
                out.verified.push(name.clone());
            }
            Ok(None) | Err(None) => {
                info!(profile = %name, "the change's soak was interrupted (a stop or restart was asked for); nothing to judge");
                self.note(&name, "interrupted");
            }
            Err(Some(f)) => {
                self.roll_back(&name, &f, launched, good, settings, since, caller).await;
                out.rolled_back.push(name.clone());
            }
        }
        // The cold standby started to cover goes back down once main is ready again; a changed
        // cold standby, started to be proved, too (unless its main needs it).
        let main_ready = |s: &Self, n: &str| s.managed.get(n).is_some_and(|m| m.view.handle.status().state == Phase::Ready);
        // A cover left running (main did not come back) is judged afresh by the pair's
        // controller: main down, so it announces the failover (event, hooks) and keeps it.
        let mut cover_left = None;
        if let Some(sb) = started_cover {
            if main_ready(self, &name) {
                sb.send(Control::Stop).await;
            } else {
                cover_left = Some(sb.profile.clone());
            }
        }
        if let Some(sb) = self.managed.get(&name).and_then(|m| m.view.profile.standby.clone())
            && sb.mode == crate::fleet::StandbyMode::Cold
            && main_ready(self, &sb.standby_for)
        {
            handle.send(Control::Stop).await;
        }
        self.start_controllers(std::slice::from_ref(&name), cover_left.as_deref());
    }

    /// Makes the standby of `step` (if any) ready to cover `name`: a cold one is started, a hot
    /// one awaited, up to `timeout`. Returns the cold standby to stop again afterwards and the
    /// covering standby's name. Errors: the standby is not ready (recorded as `change_held`;
    /// the change must not be applied).
    async fn cover(&mut self, name: &str, step: &plan::Step, timeout: Duration) -> Result<(Option<InstanceHandle>, Option<String>), ()> {
        let Some(cover) = &step.cover else { return Ok((None, None)) };
        let Some(sb) = self.managed.get(&cover.standby).map(|m| m.view.handle.clone()) else {
            return Ok((None, None));
        };
        self.note(name, format!("waiting for {} to cover", cover.standby));
        let deadline = crate::process::later(Instant::now(), timeout);
        let ready = if cover.cold {
            sb.start(deadline).await
        } else {
            sb.wait_for(Goal::Ready, deadline).await
        };
        if let Err((_, e)) = ready {
            let reason = format!("{} must cover {name} but is not ready: {e}", cover.standby);
            warn!(profile = %name, %reason, "change held");
            self.note(name, format!("held: {reason}"));
            self.events.emit(FleetEvent::new(
                What::ChangeHeld { reason: reason.clone() },
                Some(name),
                None,
                format!("change not applied: {reason}"),
            ));
            if cover.cold {
                sb.send(Control::Stop).await;
            }
            self.start_controllers(&[], None);
            return Err(());
        }
        // A cold standby covers for the step only: it goes down again once main is ready.
        Ok((cover.cold.then_some(sb), Some(cover.standby.clone())))
    }

    /// Records the proved change of `name` (ready after `after`) as its last-known-good:
    /// memory, `run_dir/lkg/`, status note and `change_verified`.
    fn verified(&mut self, name: &str, after: Duration, soak: Duration) {
        if let Some(m) = self.managed.get(name) {
            let known = Known {
                profile: m.view.profile.clone(),
                plan: m.view.plan.clone(),
                config: m.config.clone(),
            };
            record_known(&self.known, &self.fleet.settings.run_dir, name, known);
        }
        info!(profile = %name, "change verified");
        self.note(name, "verified");
        let pid = self.managed.get(name).and_then(|m| m.view.handle.status().pid);
        self.events.emit(FleetEvent::new(
            What::ChangeVerified {
                ready_after_s: after.as_secs_f64(),
                soak_s: soak.as_secs_f64(),
            },
            Some(name),
            pid,
            format!(
                "ready after {:.1} s and stable for {soak:?}: the new last-known-good",
                after.as_secs_f64()
            ),
        ));
    }

    /// The last-known-good to roll `name` back to: its last proved run, else its running setup
    /// when that is ready (not soaked yet, but what runs well now).
    fn good_of(&self, name: &str) -> Option<Known> {
        let proved = self.known.lock().ok().and_then(|k| k.get(name).cloned());
        proved.or_else(|| {
            self.managed
                .get(name)
                .filter(|m| m.view.handle.status().state == Phase::Ready)
                .map(|m| Known {
                    profile: m.view.profile.clone(),
                    plan: m.view.plan.clone(),
                    config: m.config.clone(),
                })
        })
    }

    /// Stops `name`'s instance, waits until its tree is gone, and launches it with `profile`
    /// and `plan`, started (a cold standby too: it is being proved). Returns the new handle.
    async fn replace(&mut self, name: &str, profile: Arc<Profile>, plan: Arc<Plan>) -> InstanceHandle {
        let tasks = self.retire(&[name.to_string()]).await;
        self.retired.extend(tasks);
        // Kept in `retired` while awaited, so that a shutdown in between still waits for them.
        for t in &mut self.retired {
            if !t.is_finished() {
                let _ = t.await;
            }
        }
        self.retired.clear();
        self.retiring.retain(|v| v.profile.name != name);
        let handle = self.launch_arc(profile, plan, true).await;
        self.publish();
        // Applied (not only queued), so that the status read next is the new gateway's.
        let _ = handle.apply(Control::Start).await;
        handle
    }

    /// Rolls `name` back after `failure`: keeps the refused config beside the original, writes
    /// the last-known-good content back (never over an edit made meanwhile), restarts the
    /// instance on its last-known-good profile, and records `rolled_back` (event, metric,
    /// status note). With `rollback: false`, no last-known-good or `caller` (the caller of the
    /// reload puts it back itself), only records. The gateway's error line is looked for in its
    /// output from `since` (when the change was started) on.
    #[allow(clippy::too_many_arguments)]
    async fn roll_back(
        &mut self,
        name: &str,
        failure: &Failure,
        launched: Option<String>,
        good: Option<Known>,
        settings: RolloutSettings,
        since: SystemTime,
        caller: bool,
    ) {
        let (rollback, timeout) = (settings.rollback, settings.verify_timeout);
        let reason = failure.reason();
        let error = failure
            .gateway_line()
            .map(str::to_string)
            .or_else(|| self.last_error_line(name, since));
        let config = self
            .managed
            .get(name)
            .and_then(|m| m.view.plan.gateway.as_ref().map(|g| g.config.value.clone()));
        let good_config = good.as_ref().and_then(|g| g.config.clone());
        let mut rejected = None;
        if let (Some(path), Some(bad)) = (&config, &launched)
            && good.is_some()
            && good_config.as_ref() != Some(bad)
        {
            match files::keep_rejected(path, bad) {
                Ok(p) => rejected = Some(p.display().to_string()),
                Err(e) => warn!(profile = %name, error = %e, "cannot keep the rejected config"),
            }
        }
        let mut restored = false;
        let mut restarted = false;
        let mut notes = Vec::new();
        match (&good, rollback) {
            _ if caller => notes.push(
                "left for the caller of the reload to put back, as it asked (`clawherd upgrade` restores the state snapshot and the previous version, then starts it once)"
                    .to_string(),
            ),
            (_, false) => notes.push("rollback is off (`rollout.rollback: false`): left as is".to_string()),
            (None, true) => notes.push("no last-known-good to go back to: left as is".to_string()),
            (Some(good), true) => {
                let restore = match &config {
                    Some(path) => files::restore(path, launched.as_deref(), good_config.as_deref()),
                    None => Restore::AlreadyGood,
                };
                match restore {
                    Restore::Restored | Restore::AlreadyGood => {
                        restored = restore == Restore::Restored;
                        let h = self.replace(name, good.profile.clone(), good.plan.clone()).await;
                        restarted = true;
                        let deadline = crate::process::later(Instant::now(), timeout);
                        if let Err((_, e)) = h.wait_for(Goal::Ready, deadline).await {
                            notes.push(format!("the last-known-good is not ready either: {e}"));
                        }
                    }
                    Restore::EditedMeanwhile => notes.push(
                        "the config file changed during the rollout: the edit was left as is (not overwritten), and the instance was not restarted; reload to roll the edit out"
                            .to_string(),
                    ),
                    Restore::Failed(e) => notes.push(format!("cannot write the last-known-good config back: {e}")),
                }
            }
        }
        let (config_restored, rejected_config) = (restored, rejected);
        self.record_rolled_back(
            name,
            What::RolledBack {
                reason,
                error,
                rejected_config,
                config_restored,
                restarted,
            },
            &notes,
        );
    }

    /// Records a `rolled_back` (`what`) of `name`: the metric, the status note, the log, the
    /// hooks and the event, whose message says what was done and `notes`.
    fn record_rolled_back(&mut self, name: &str, what: What, notes: &[String]) {
        let What::RolledBack {
            reason,
            rejected_config,
            restarted,
            error,
            ..
        } = &what
        else {
            return;
        };
        crate::observe::metrics::ROLLBACKS
            .get_or_create(&crate::observe::metrics::profile_label(name))
            .inc();
        let mut message = format!("change failed: {reason}");
        if *restarted {
            message.push_str("; back on the last-known-good");
        }
        if let Some(r) = rejected_config {
            message.push_str(&format!("; the rejected config is kept as {r}"));
        }
        for n in notes {
            message.push_str("; ");
            message.push_str(n);
        }
        warn!(profile = %name, %message, error = ?error, "ROLLED BACK");
        self.note(name, format!("rolled back: {reason}"));
        let pid = self.managed.get(name).and_then(|m| m.view.handle.status().pid);
        let event = FleetEvent::new(what, Some(name), pid, message);
        while self.hook_tasks.try_join_next().is_some() {}
        crate::failover::hooks::hooks_for(&mut self.hook_tasks, &self.fleet.settings.hooks, &self.events, &event);
        self.events.emit(event);
    }

    /// After a reload the proof refused (`errors`): an instance whose OpenClaw config changed
    /// since it was started, and whose OpenClaw applies config edits by itself
    /// (`gateway.reload.mode` not `"off"`), is running a change clawherd refuses. That is a
    /// failed change: with `rollout.rollback` the refused content is kept as
    /// `<config>.rejected-<timestamp>` and the content it was started with is written back
    /// (never over a newer edit), which OpenClaw applies in turn; `rolled_back` records it
    /// (`restarted: false`). A config with `gateway.reload.mode: "off"` is left alone: the
    /// gateway ignores the edit, and `reload_refused` already says why it was refused.
    pub(super) fn refused_live_changes(&mut self, errors: &str) {
        let first = errors.lines().next().unwrap_or_default().to_string();
        let live: Vec<(String, std::path::PathBuf, Option<String>, bool)> = self
            .managed
            .iter()
            .filter_map(|(name, m)| {
                let path = m.view.plan.gateway.as_ref()?.config.value.clone();
                let changed = files::content(&path) != m.config && files::reloads_itself(&path);
                changed.then(|| (name.clone(), path, m.config.clone(), m.view.profile.rollout.rollback))
            })
            .collect();
        for (name, path, good, rollback) in live {
            let now = files::content(&path);
            let mut rejected = None;
            let mut restored = false;
            let mut notes = Vec::new();
            match (rollback, &now, &good) {
                (true, Some(bad), Some(good)) => {
                    rejected = files::keep_rejected(&path, bad).ok().map(|p| p.display().to_string());
                    match files::restore(&path, now.as_deref(), Some(good)) {
                        Restore::Restored => {
                            restored = true;
                            notes.push("the config it was started with was written back; OpenClaw applies it in turn".to_string());
                        }
                        Restore::AlreadyGood => {}
                        Restore::EditedMeanwhile => notes.push("the config changed again meanwhile: left as is".to_string()),
                        Restore::Failed(e) => notes.push(format!("cannot write the config back: {e}")),
                    }
                }
                (false, _, _) => notes.push("rollback is off (`rollout.rollback: false`): left as is".to_string()),
                _ => notes.push("no config to go back to: left as is".to_string()),
            }
            let reason = format!("a live config change (OpenClaw applies edits itself) that clawherd refuses: {first}");
            let what = What::RolledBack {
                reason,
                error: None,
                rejected_config: rejected,
                config_restored: restored,
                restarted: false,
            };
            self.record_rolled_back(&name, what, &notes);
        }
    }

    /// The gateway's own last error line in its captured output (the most telling of the last
    /// 40 lines stamped at or after `since`), if any, without clawherd's capture stamp (the
    /// event has its own time), as the parked line is.
    fn last_error_line(&self, name: &str, since: SystemTime) -> Option<String> {
        use crate::observe::logs;
        let keep = self.fleet.settings.rotation.keep;
        let lines = logs::tail(self.output.dir(), name, 40, Some(since), keep).ok()?;
        if lines.is_empty() {
            return None;
        }
        let unstamped: Vec<&str> = lines
            .iter()
            .map(|l| match l.split_once(' ') {
                Some((stamp, rest)) if logs::line_time(stamp).is_some() => rest,
                _ => l.as_str(),
            })
            .collect();
        crate::instance::actor::classify_exit_78(&unstamped)
    }

    /// Resumes the rollout an earlier daemon left unfinished (`run_dir/rollout.json`): the
    /// instances it had not finished were launched but not started ([`Supervisor::launch_all`]),
    /// and are now rolled out as a fresh rollout would ([`Supervisor::roll_out`]): in order,
    /// standbys first, main only with its standby ready to cover, each proved, and rolled back
    /// on failure to its newest `run_dir/lkg/` record, whole: the profile and plan it holds and
    /// its config content (a record without a profile, from an older clawherd, counts only when
    /// the fleet file's profile runs the same way; otherwise the failure is left as is). A held
    /// change is started on its last-known-good, uncovered (docs/rollout.md). So
    /// the pair is never restarted at once, and never left half-applied. Nothing (an empty
    /// outcome) when there was nothing to resume.
    pub(crate) async fn resume_rollout(&mut self) -> Outcome {
        let run_dir = self.fleet.settings.run_dir.clone();
        let names = std::mem::take(&mut self.resume);
        let mut changes = Vec::new();
        for name in &names {
            let Some(m) = self.managed.get(name) else { continue };
            // The whole recorded last-known-good, profile and config: the fleet file now says
            // the change, so its profile is not what to go back to.
            let config_path = m.view.plan.gateway.as_ref().map(|g| g.config.value.as_path());
            let known = lkg::latest(&run_dir, name).and_then(|r| match r.setup {
                Some(s) => Some(Known {
                    profile: Arc::new(s.profile),
                    plan: Arc::new(s.plan),
                    config: r.config,
                }),
                // A record without its setup (an older clawherd's): only when the fleet file's
                // profile runs the same way, on the same config file (a record of another file
                // is no content for this one), is the pair whole.
                None if r.config_path.as_deref() == config_path && r.effective == lkg::Effective::of(&m.view.plan) => {
                    Some(Known {
                        profile: m.view.profile.clone(),
                        plan: m.view.plan.clone(),
                        config: r.config,
                    })
                }
                None => {
                    warn!(profile = %name, "its last-known-good record has no profile (an older clawherd wrote it) and does not match the fleet file's profile and config file: a failed change cannot be rolled back whole, so it will be left as is");
                    None
                }
            });
            if let (Some(known), Ok(mut k)) = (known, self.known.lock()) {
                k.insert(name.clone(), known);
            }
            changes.push(((*m.view.profile).clone(), (*m.view.plan).clone()));
        }
        if changes.is_empty() {
            lkg::end_journal(&run_dir);
            return Outcome::default();
        }
        warn!(?names, "resuming the rollout an earlier clawherd left unfinished");
        self.roll(changes, None, true, &[]).await
    }
}
