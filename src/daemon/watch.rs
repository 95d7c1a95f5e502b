//! Reload on file change (inotify through `notify`): with `watch: true` when the fleet file or
//! one of the instances' OpenClaw configs changes; without it, when one of the configs changes
//! (an OpenClaw config edit is applied by the gateway itself unless `gateway.reload.mode` is
//! `"off"`, so clawherd proves it at once: docs/rollout.md). Events are debounced: a burst of
//! writes (an editor's save) gives one reload, half a second after the last event.

use crate::control::Request;
use crate::fleet::Fleet;
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Quiet time after the last event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// The files whose change triggers a reload: with `watch: true` the fleet file and every
/// instance's config ([`watched_paths`]), without it the configs only ([`config_paths`]).
pub fn paths_for(fleet: &Fleet) -> BTreeSet<PathBuf> {
    if fleet.settings.watch {
        watched_paths(fleet)
    } else {
        config_paths(fleet)
    }
}

/// The files whose change triggers a reload with `watch: true`: the fleet file and every
/// instance's config.
pub fn watched_paths(fleet: &Fleet) -> BTreeSet<PathBuf> {
    let mut paths = config_paths(fleet);
    paths.insert(fleet.path.clone());
    paths
}

/// Every instance's OpenClaw config file: watched even without `watch: true`.
pub fn config_paths(fleet: &Fleet) -> BTreeSet<PathBuf> {
    fleet
        .instances
        .iter()
        .filter_map(|(_, plan)| plan.gateway.as_ref())
        .map(|g| g.config.value.clone())
        .collect()
}

/// A running watcher; dropping it stops watching and ends its task.
pub struct Watching {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches the folders of `paths` (editors replace files, so the file itself is not enough) and
/// sends [`Request::Reload`] after each debounced burst of events on one of `paths`. `None`
/// when `paths` is empty, or (logged) when inotify is unavailable. The set is fixed at start: configs added by a later
/// reload are watched from the next start of clawherd.
pub fn start(paths: BTreeSet<PathBuf>, requests: mpsc::Sender<Request>) -> Option<Watching> {
    if paths.is_empty() {
        return None;
    }
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let wanted = paths.clone();
    let handler = move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && !ev.kind.is_access()
            && ev.paths.iter().any(|p| wanted.contains(p))
        {
            // A full channel already means "reload pending".
            let _ = tx.try_send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch the fleet files; reload on file change is off");
            return None;
        }
    };
    let dirs: BTreeSet<PathBuf> = paths.iter().filter_map(|p| p.parent().map(PathBuf::from)).collect();
    for d in &dirs {
        if let Err(e) = watcher.watch(d, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %d.display(), error = %e, "cannot watch folder");
        }
    }
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Debounce: wait until no event came for DEBOUNCE.
            while tokio::time::timeout(DEBOUNCE, rx.recv()).await.is_ok_and(|e| e.is_some()) {}
            tracing::info!("a watched file changed: reloading the fleet file");
            if requests.send(Request::Reload(None)).await.is_err() {
                return;
            }
        }
    });
    Some(Watching { _watcher: watcher, task })
}
