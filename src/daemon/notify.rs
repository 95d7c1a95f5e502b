//! clawherd as a systemd service (`Type=notify`): `READY=1` once every instance that must be up
//! (all but cold standbys) is ready, or after [`READY_TIMEOUT`] with a `STATUS=` naming the
//! laggards; `STATUS=` kept current with a one-line fleet summary; `WATCHDOG=1` at half of
//! `WatchdogSec`; `RELOADING=1`/`READY=1` around reloads and `STOPPING=1` at shutdown (the last
//! two are sent by [`crate::daemon::supervisor::serve`]). Nothing runs without `NOTIFY_SOCKET`.
//!
//! The task watches the supervisor's *current* set of instances (its roster), not the set it
//! had at start-up: a reload that replaces an instance gives the task the new instance's status,
//! so `STATUS=` and `WATCHDOG=1` go on (they froze before, and systemd's watchdog then killed a
//! healthy daemon).

use crate::instance::InstanceView;
use crate::instance::{InstanceStatus, Phase};
use crate::systemd::notify::Notifier;
use futures_util::future::select_all;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Longest wait for readiness before `READY=1` is sent anyway (below the units'
/// `TimeoutStartSec=90`), with the laggards in `STATUS=`.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(80);

/// The one-line fleet summary: `2/2 ready: main ready, rescue ready (cold)`.
pub(crate) fn summary(views: &[InstanceView]) -> String {
    let statuses: Vec<(InstanceStatus, bool)> = views.iter().map(|v| (v.handle.status(), is_cold(v))).collect();
    let must: Vec<&(InstanceStatus, bool)> = statuses.iter().filter(|(_, cold)| !cold).collect();
    let ready = must.iter().filter(|(s, _)| s.state == Phase::Ready).count();
    let parts: Vec<String> = statuses
        .iter()
        .map(|(s, cold)| format!("{} {}{}", s.profile, s.state, if *cold { " (cold)" } else { "" }))
        .collect();
    format!("{ready}/{} ready: {}", must.len(), parts.join(", "))
}

fn is_cold(v: &InstanceView) -> bool {
    v.profile
        .standby
        .as_ref()
        .is_some_and(|s| s.mode == crate::fleet::StandbyMode::Cold)
}

/// Whether every instance of `views` that must be up (all but cold standbys) is ready. Reads
/// each status in place (no copy of it).
fn fleet_up(views: &[InstanceView]) -> bool {
    views
        .iter()
        .filter(|v| !is_cold(v))
        .all(|v| v.handle.with_status(|s| s.state == Phase::Ready))
}

/// The roster and the status of every instance on it: wakes on any change of either.
struct Watched {
    roster: watch::Receiver<Vec<InstanceView>>,
    views: Vec<InstanceView>,
    statuses: Vec<watch::Receiver<InstanceStatus>>,
}

impl Watched {
    fn new(mut roster: watch::Receiver<Vec<InstanceView>>) -> Self {
        let views = roster.borrow_and_update().clone();
        let statuses = views.iter().map(|v| v.handle.subscribe()).collect();
        Watched { roster, views, statuses }
    }

    /// Takes the latest roster if it changed and marks every status as seen, so that
    /// [`Watched::changed`] waits for the next change.
    fn refresh(&mut self) {
        if self.roster.has_changed().unwrap_or(false) {
            self.views = self.roster.borrow_and_update().clone();
            self.statuses = self.views.iter().map(|v| v.handle.subscribe()).collect();
        }
        for rx in &mut self.statuses {
            rx.borrow_and_update();
        }
    }

    /// Waits for a new roster; false once the supervisor is gone. `changed()` marks the new
    /// roster as seen, so [`Watched::refresh`]'s `has_changed()` would
    /// miss it and keep the old views for good (STATUS= frozen after a reload that replaced an
    /// instance): mark it unseen again for `refresh` to take.
    async fn roster_changed_of(roster: &mut watch::Receiver<Vec<InstanceView>>) -> bool {
        let alive = roster.changed().await.is_ok();
        if alive {
            roster.mark_changed();
        }
        alive
    }

    /// Waits for a change of the roster or of an instance's status. False once the supervisor
    /// is gone (its roster closed). An instance whose actor ended stops being watched until the
    /// roster changes (the supervisor publishes a new roster when it replaces one).
    async fn changed(&mut self) -> bool {
        loop {
            if self.statuses.is_empty() {
                return Self::roster_changed_of(&mut self.roster).await;
            }
            let ended = {
                let any_status = select_all(self.statuses.iter_mut().map(|rx| Box::pin(rx.changed())));
                tokio::select! {
                    alive = Self::roster_changed_of(&mut self.roster) => return alive,
                    (r, i, _) = any_status => match r {
                        Ok(()) => return true,
                        Err(_) => i,
                    },
                }
            };
            // That actor ended: its last status stays in `views`; stop waiting on it.
            self.statuses.swap_remove(ended);
        }
    }
}

/// Resolves once every instance of the roster that must be up (all but cold standbys) is ready,
/// or after [`READY_TIMEOUT`], whichever comes first: the moment start-up is over.
pub(crate) async fn settled(mut roster: watch::Receiver<Vec<InstanceView>>) {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    tokio::select! {
        () = all_up(&mut roster) => {}
        () = tokio::time::sleep_until(deadline) => {}
    }
}

/// Resolves once every instance of the roster that must be up is ready at the same moment, or
/// once the roster is closed (the supervisor is gone). Waits on one instance at a time, so a
/// wake-up concerns the one instance waited on: a start-up of N instances costs O(N) wake-ups
/// and status reads. A wait on every instance at once (`select_all` over N receivers, rebuilt
/// after each change, as [`Watched::changed`] does for `STATUS=`) cost O(N) per status change
/// on the runtime thread, between the spawns: O(N²) over a start-up, 30,000 boxed futures and
/// status copies at 100 instances. An instance whose actor ended is not waited on (its status
/// is final); the fleet is then not up until the roster changes, as before.
async fn all_up(roster: &mut watch::Receiver<Vec<InstanceView>>) {
    'roster: loop {
        let views = roster.borrow_and_update().clone();
        loop {
            for v in views.iter().filter(|v| !is_cold(v)) {
                let mut status = v.handle.subscribe();
                loop {
                    if status.borrow_and_update().state == Phase::Ready {
                        break;
                    }
                    tokio::select! {
                        changed = status.changed() => match changed {
                            Ok(()) => {}
                            // Ended: its last status stays, and no change will come.
                            Err(_) => break,
                        },
                        alive = roster.changed() => match alive {
                            Ok(()) => continue 'roster,
                            Err(_) => return,
                        },
                    }
                }
            }
            if fleet_up(&views) {
                return;
            }
            // Not all ready although each was when its turn came: one fell back meanwhile
            // (go round again, waiting on it), or only ended actors are not ready (nothing
            // changes until the roster does).
            let only_ended = views
                .iter()
                .filter(|v| !is_cold(v))
                .all(|v| v.handle.ended() || v.handle.with_status(|s| s.state == Phase::Ready));
            if only_ended {
                if roster.changed().await.is_err() {
                    return;
                }
                continue 'roster;
            }
        }
    }
}

/// Starts the notify task over the supervisor's roster; `None` without `NOTIFY_SOCKET`. The task
/// sends `READY=1` once, then keeps `STATUS=` current and pings the watchdog at half of
/// `WatchdogSec`, through reloads; the caller owns and aborts it.
pub(crate) fn start(notifier: Arc<Notifier>, roster: watch::Receiver<Vec<InstanceView>>) -> Option<JoinHandle<()>> {
    if !notifier.is_active() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut watched = Watched::new(roster);
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let mut sent_ready = false;
        let mut last_status = String::new();
        let ping = notifier.watchdog_ping_period();
        let mut next_ping = ping.map(|p| tokio::time::Instant::now() + p);
        let mut alive = true;
        loop {
            watched.refresh();
            let status = summary(&watched.views);
            if !sent_ready && (fleet_up(&watched.views) || tokio::time::Instant::now() >= deadline) {
                let text = if fleet_up(&watched.views) {
                    status.clone()
                } else {
                    format!("not all ready after {}s: {status}", READY_TIMEOUT.as_secs())
                };
                if let Err(e) = notifier.ready(&text) {
                    tracing::warn!(error = %e, "sd_notify READY failed");
                }
                sent_ready = true;
                last_status = status.clone();
            } else if status != last_status {
                let _ = notifier.status(&status);
                last_status = status;
            }
            let wake_ready = async {
                if sent_ready {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep_until(deadline).await
                }
            };
            let wake_ping = async {
                match next_ping {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let change = async {
                if alive {
                    watched.changed().await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                still = change => {
                    // The supervisor is gone (shutting down): keep pinging the watchdog until
                    // the caller aborts this task.
                    alive = still;
                }
                () = wake_ready => {}
                () = wake_ping => {
                    let _ = notifier.watchdog();
                    next_ping = ping.map(|p| tokio::time::Instant::now() + p);
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::InstanceHandle;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The profiles and plans of a fleet of `process` instances `a`, `b`, `c` and a cold
    /// standby `cold` (for `a`).
    fn profiles() -> Vec<(Arc<crate::fleet::Profile>, Arc<crate::fleet::Plan>)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = crate::fleet::LoadContext {
            env: [("HOME".to_string(), dir.path().display().to_string())].into(),
            check_host_ports: false,
        };
        let mut yaml = String::from("version: 1\nprofiles:\n");
        for (name, extra) in [
            ("a", "role: main"),
            ("b", "role: rescue"),
            ("c", "role: rescue"),
            ("cold", "role: rescue\n    standby_for: a\n    standby: cold"),
        ] {
            yaml.push_str(&format!("  {name}:\n    {extra}\n    flavor: process\n    command: [\"true\"]\n"));
        }
        let fleet = crate::fleet::load_str(&dir.path().join("fleet.yaml"), &yaml, &ctx).expect("fleet");
        fleet.instances.into_iter().map(|(p, plan)| (Arc::new(p), Arc::new(plan))).collect()
    }

    /// Views of stub actors, all `starting`, and the senders of their statuses by name.
    fn roster() -> (Vec<InstanceView>, std::collections::BTreeMap<String, watch::Sender<InstanceStatus>>) {
        let mut senders = std::collections::BTreeMap::new();
        let views = profiles()
            .into_iter()
            .map(|(profile, plan)| {
                let (handle, _controls, status) = InstanceHandle::stub(&profile.name, Phase::Starting);
                senders.insert(profile.name.clone(), status);
                InstanceView {
                    marker: profile.name.clone(),
                    profile,
                    plan,
                    retiring: false,
                    handle,
                }
            })
            .collect();
        (views, senders)
    }

    fn set(senders: &std::collections::BTreeMap<String, watch::Sender<InstanceStatus>>, name: &str, state: Phase) {
        senders[name].send_modify(|s| s.state = state);
    }

    /// Lets the task under test run until it waits (a current-thread runtime runs nothing else).
    async fn let_run() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    /// Runs `settled` on `rx` in a task; the flag turns true once it resolved.
    fn spawn_settled(rx: watch::Receiver<Vec<InstanceView>>) -> (Arc<AtomicBool>, JoinHandle<()>) {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let task = tokio::spawn(async move {
            settled(rx).await;
            flag.store(true, Ordering::SeqCst);
        });
        (done, task)
    }

    async fn finishes(task: JoinHandle<()>) {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("settled did not resolve")
            .expect("settled panicked");
    }

    #[tokio::test]
    async fn settled_waits_until_every_warm_instance_is_ready_at_once() {
        let (views, senders) = roster();
        let (_roster_tx, rx) = watch::channel(views);
        let (done, task) = spawn_settled(rx);
        // Out of roster order, and `a` falls back once `b` and `c` were waited for.
        set(&senders, "c", Phase::Ready);
        set(&senders, "a", Phase::Ready);
        let_run().await;
        assert!(!done.load(Ordering::SeqCst), "resolved with b starting");
        set(&senders, "a", Phase::Starting);
        set(&senders, "b", Phase::Ready);
        let_run().await;
        assert!(!done.load(Ordering::SeqCst), "resolved with a starting again");
        // The cold standby stays `starting`: it is not waited for.
        set(&senders, "a", Phase::Ready);
        finishes(task).await;
    }

    #[tokio::test]
    async fn an_ended_actor_holds_the_fleet_until_the_roster_changes() {
        let (views, mut senders) = roster();
        let (roster_tx, rx) = watch::channel(views.clone());
        let (done, task) = spawn_settled(rx);
        set(&senders, "a", Phase::Ready);
        set(&senders, "c", Phase::Ready);
        // `b`'s actor ends while starting: its status is final. The wait must neither resolve
        // nor spin (a spin would never let this task run again).
        drop(senders.remove("b"));
        let_run().await;
        assert!(!done.load(Ordering::SeqCst), "resolved with b ended while starting");
        // A reload replaces the roster without `b`.
        roster_tx.send_replace(views.into_iter().filter(|v| v.profile.name != "b").collect());
        finishes(task).await;
    }

    #[tokio::test]
    async fn settled_ends_with_the_supervisor() {
        let (views, _senders) = roster();
        let (roster_tx, rx) = watch::channel(views);
        let (_done, task) = spawn_settled(rx);
        let_run().await;
        drop(roster_tx);
        finishes(task).await;
    }
}
