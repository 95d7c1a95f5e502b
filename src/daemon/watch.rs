//! Reload on file change (inotify through `notify`): with `watch: true` when the fleet file or
//! one of the instances' OpenClaw configs changes; without it, when one of the configs changes
//! (an OpenClaw config edit is applied by the gateway itself unless `gateway.reload.mode` is
//! `"off"`, so clawherd proves it at once: docs/rollout.md). Events are debounced: a burst of
//! writes (an editor's save) gives one reload, half a second after the last event. The set of
//! files follows the fleet: the supervisor publishes it after every reload ([`paths_of`]), and
//! the watcher watches the folders of the new set from then on.

use crate::control::Request;
use crate::fleet::{Fleet, Plan};
use notify::{RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Quiet time after the last event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// The files whose change triggers a reload for `fleet` before its instances are launched
/// ([`paths_of`] of its settings, path and plans).
pub fn paths_for(fleet: &Fleet) -> BTreeSet<PathBuf> {
    paths_of(fleet.settings.watch, &fleet.path, fleet.instances.iter().map(|(_, plan)| plan))
}

/// The files whose change triggers a reload: every instance's OpenClaw config (from `plans`),
/// and with `watch: true` (`watch_fleet`) the fleet file at `fleet_path` too.
pub fn paths_of<'a>(watch_fleet: bool, fleet_path: &Path, plans: impl Iterator<Item = &'a Plan>) -> BTreeSet<PathBuf> {
    let mut paths: BTreeSet<PathBuf> = plans
        .filter_map(|plan| plan.gateway.as_ref())
        .map(|g| g.config.value.clone())
        .collect();
    if watch_fleet {
        paths.insert(fleet_path.to_path_buf());
    }
    paths
}

/// A running watcher; dropping it stops watching and ends its task.
pub struct Watching {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches the folders of the current set of `paths` (editors replace files, so the file itself
/// is not enough) and sends [`Request::Reload`] after each debounced burst of events on one of
/// them. The set is followed: when `paths` changes (a reload added or removed a profile, or
/// moved a config), the folders of the new set are watched and those no longer needed are not;
/// a file no longer in the set no longer triggers a reload. Ends when `paths`' sender is gone.
/// `None` (logged) when inotify is unavailable.
pub fn start(mut paths: watch::Receiver<BTreeSet<PathBuf>>, requests: mpsc::Sender<Request>) -> Option<Watching> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let wanted: Arc<RwLock<BTreeSet<PathBuf>>> = Arc::default();
    let seen = wanted.clone();
    let handler = move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && !ev.kind.is_access()
            && seen.read().is_ok_and(|w| ev.paths.iter().any(|p| w.contains(p)))
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
    let task = tokio::spawn(async move {
        let mut dirs = BTreeSet::new();
        let first = paths.borrow_and_update().clone();
        follow(&mut watcher, &mut dirs, &wanted, first);
        loop {
            tokio::select! {
                changed = paths.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = paths.borrow_and_update().clone();
                    follow(&mut watcher, &mut dirs, &wanted, now);
                }
                event = rx.recv() => {
                    if event.is_none() {
                        return;
                    }
                    // Debounce: wait until no event came for DEBOUNCE.
                    while tokio::time::timeout(DEBOUNCE, rx.recv()).await.is_ok_and(|e| e.is_some()) {}
                    tracing::info!("a watched file changed: reloading the fleet file");
                    if requests.send(Request::Reload(None, Default::default())).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Some(Watching { task })
}

/// Makes `watcher` watch the folders of `paths` (the ones in `dirs` are watched already; `dirs`
/// becomes the new set) and `wanted` hold `paths`. A folder that cannot be watched is logged and
/// tried again at the next change.
fn follow(watcher: &mut impl Watcher, dirs: &mut BTreeSet<PathBuf>, wanted: &RwLock<BTreeSet<PathBuf>>, paths: BTreeSet<PathBuf>) {
    let new_dirs: BTreeSet<PathBuf> = paths.iter().filter_map(|p| p.parent().map(PathBuf::from)).collect();
    for d in dirs.difference(&new_dirs) {
        // A folder that is gone is no longer watched anyway.
        let _ = watcher.unwatch(d);
    }
    dirs.retain(|d| new_dirs.contains(d));
    for d in new_dirs {
        if dirs.contains(&d) {
            continue;
        }
        match watcher.watch(&d, RecursiveMode::NonRecursive) {
            Ok(()) => {
                dirs.insert(d);
            }
            Err(e) => tracing::warn!(dir = %d.display(), error = %e, "cannot watch folder"),
        }
    }
    tracing::debug!(files = paths.len(), folders = dirs.len(), "watching");
    if let Ok(mut w) = wanted.write() {
        *w = paths;
    }
}
