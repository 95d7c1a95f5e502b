//! clawherd as a systemd service (`Type=notify`): `READY=1` once every instance that must be up
//! (all but cold standbys) is ready, or after [`READY_TIMEOUT`] with a `STATUS=` naming the
//! laggards; `STATUS=` kept current with a one-line fleet summary; `WATCHDOG=1` at half of
//! `WatchdogSec`; `RELOADING=1`/`READY=1` around reloads and `STOPPING=1` at shutdown (the last
//! two are sent by [`crate::supervisor::serve`]). Nothing runs without `NOTIFY_SOCKET`.

use crate::instance::InstanceStatus;
use crate::supervisor::InstanceView;
use crate::systemd::Notifier;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Longest wait for readiness before `READY=1` is sent anyway (below the units'
/// `TimeoutStartSec=90`), with the laggards in `STATUS=`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(80);

/// The one-line fleet summary: `2/2 ready: main ready, rescue ready (cold)`.
pub fn summary(views: &[InstanceView]) -> String {
    let statuses: Vec<(InstanceStatus, bool)> = views.iter().map(|v| (v.handle.status(), is_cold(v))).collect();
    let must: Vec<&(InstanceStatus, bool)> = statuses.iter().filter(|(_, cold)| !cold).collect();
    let ready = must.iter().filter(|(s, _)| s.state == "ready").count();
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
    views.iter().filter(|v| !is_cold(v)).all(|v| v.handle.status().state == "ready")
}

/// Resolves once every instance of `views` that must be up (all but cold standbys) is ready, or
/// after [`READY_TIMEOUT`], whichever comes first: the moment start-up is over.
pub async fn settled(views: &[InstanceView]) {
    let mut rxs: Vec<_> = views.iter().map(|v| v.handle.subscribe()).collect();
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        for rx in &mut rxs {
            rx.borrow_and_update();
        }
        if fleet_up(views) {
            return;
        }
        let changed = futures_util::future::select_all(rxs.iter_mut().map(|rx| Box::pin(rx.changed())));
        tokio::select! {
            (r, _, _) = changed => if r.is_err() { return },
            () = tokio::time::sleep_until(deadline) => return,
        }
    }
}

/// Starts the notify task for `views` (the instances at start-up); `None` without
/// `NOTIFY_SOCKET`. The task sends `READY=1` once, then keeps `STATUS=` current and pings the
/// watchdog; the caller owns and aborts it.
pub fn start(notifier: Arc<Notifier>, views: Vec<InstanceView>) -> Option<JoinHandle<()>> {
    if !notifier.is_active() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut rxs: Vec<_> = views.iter().map(|v| v.handle.subscribe()).collect();
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let mut sent_ready = false;
        let mut last_status = String::new();
        let ping = notifier.watchdog_ping_period();
        let mut next_ping = ping.map(|p| tokio::time::Instant::now() + p);
        loop {
            // Mark every status as seen, so `changed()` below waits for the next change.
            for rx in &mut rxs {
                rx.borrow_and_update();
            }
            let status = summary(&views);
            if !sent_ready && (fleet_up(&views) || tokio::time::Instant::now() >= deadline) {
                let text = if fleet_up(&views) {
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
            let changed = futures_util::future::select_all(rxs.iter_mut().map(|rx| Box::pin(rx.changed())));
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
            tokio::select! {
                (r, _, _) = changed => if r.is_err() { return },
                () = wake_ready => {}
                () = wake_ping => {
                    let _ = notifier.watchdog();
                    next_ping = ping.map(|p| tokio::time::Instant::now() + p);
                }
            }
        }
    }))
}
