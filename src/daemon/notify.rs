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

/// Whether every instance of `views` that must be up (all but cold standbys) is ready.
fn fleet_up(views: &[InstanceView]) -> bool {
    views
        .iter()
        .filter(|v| !is_cold(v))
        .all(|v| v.handle.status().state == Phase::Ready)
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
pub(crate) async fn settled(roster: watch::Receiver<Vec<InstanceView>>) {
    let mut watched = Watched::new(roster);
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        watched.refresh();
        if fleet_up(&watched.views) {
            return;
        }
        tokio::select! {
            alive = watched.changed() => if !alive { return },
            () = tokio::time::sleep_until(deadline) => return,
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
