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
pub(crate) fn paths_for(fleet: &Fleet) -> BTreeSet<PathBuf> {
    paths_of(fleet.settings.watch, &fleet.path, fleet.instances.iter().map(|(_, plan)| plan))
}

/// The files whose change triggers a reload: every instance's OpenClaw config (from `plans`),
/// and with `watch: true` (`watch_fleet`) the fleet file at `fleet_path` too.
pub(crate) fn paths_of<'a>(watch_fleet: bool, fleet_path: &Path, plans: impl Iterator<Item = &'a Plan>) -> BTreeSet<PathBuf> {
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
pub(crate) struct Watching {
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
/// a file no longer in the set no longer triggers a reload. While the set is empty (plain
/// processes without `watch: true`) no inotify watcher exists, nor its thread. Ends when
/// `paths`' sender is gone. When inotify is unavailable that is logged, and tried again at the
/// next change of the set.
pub(crate) fn start(mut paths: watch::Receiver<BTreeSet<PathBuf>>, requests: mpsc::Sender<Request>) -> Watching {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let task = tokio::spawn(async move {
        let mut watching = Folders::new(tx);
        watching.follow(paths.borrow_and_update().clone());
        loop {
            tokio::select! {
                changed = paths.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = paths.borrow_and_update().clone();
                    watching.follow(now);
                }
                Some(()) = rx.recv() => {
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
    Watching { task }
}

/// The inotify watcher (while there is something to watch), the folders it watches, and the
/// files whose events count.
struct Folders {
    watcher: Option<notify::RecommendedWatcher>,
    dirs: BTreeSet<PathBuf>,
    wanted: Arc<RwLock<BTreeSet<PathBuf>>>,
    /// Told of an event on a wanted file (a full channel already means "reload pending").
    tx: mpsc::Sender<()>,
}

impl Folders {
    fn new(tx: mpsc::Sender<()>) -> Self {
        Folders {
            watcher: None,
            dirs: BTreeSet::new(),
            wanted: Arc::default(),
            tx,
        }
    }

    /// The watcher, created on first need; `None` (logged) when inotify is unavailable.
    fn watcher(&mut self) -> Option<&mut notify::RecommendedWatcher> {
        if self.watcher.is_none() {
            let (tx, seen) = (self.tx.clone(), self.wanted.clone());
            let handler = move |res: notify::Result<notify::Event>| {
                if let Ok(ev) = res
                    && !ev.kind.is_access()
                    && seen.read().is_ok_and(|w| ev.paths.iter().any(|p| w.contains(p)))
                {
                    let _ = tx.try_send(());
                }
            };
            match notify::recommended_watcher(handler) {
                Ok(w) => self.watcher = Some(w),
                Err(e) => tracing::error!(error = %e, "cannot watch the fleet files; reload on file change is off until the next reload"),
            }
        }
        self.watcher.as_mut()
    }

    /// Watches the folders of `paths` (those watched already stay, those no longer needed are
    /// dropped) and makes `paths` the files whose events count; with no paths, drops the
    /// watcher. A folder that cannot be watched is logged and tried again at the next change.
    fn follow(&mut self, paths: BTreeSet<PathBuf>) {
        if let Ok(mut w) = self.wanted.write() {
            w.clone_from(&paths);
        }
        if paths.is_empty() {
            self.watcher = None;
            self.dirs.clear();
            tracing::debug!("nothing to watch");
            return;
        }
        let new_dirs: BTreeSet<PathBuf> = paths.iter().filter_map(|p| p.parent().map(PathBuf::from)).collect();
        let old = std::mem::take(&mut self.dirs);
        let Some(watcher) = self.watcher() else { return };
        for d in old.difference(&new_dirs) {
            // A folder that is gone is no longer watched anyway.
            let _ = watcher.unwatch(d);
        }
        let mut dirs: BTreeSet<PathBuf> = old.intersection(&new_dirs).cloned().collect();
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
        self.dirs = dirs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threads of this process named as notify's inotify thread (`comm` holds 15 bytes of its
    /// name; nextest runs each test in a process of its own).
    fn inotify_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("notify-rs inoti")))
                    .count()
            })
            .unwrap_or(0)
    }

    /// No watcher (and no thread) while there is nothing to watch; one as soon as a reload
    /// brings a file, gone again when none is left; an edit of a watched file asks for a reload.
    #[test]
    fn a_watcher_exists_only_while_there_is_something_to_watch() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let file = dir.path().join("openclaw.json");
            std::fs::write(&file, "{}").expect("write");
            let (set, paths) = watch::channel(BTreeSet::new());
            let (requests, mut asked) = mpsc::channel(4);
            let _watching = start(paths, requests);
            let until = |want: usize| async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                while inotify_threads() != want && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                inotify_threads()
            };
            tokio::task::yield_now().await;
            assert_eq!(until(0).await, 0, "nothing to watch: no inotify thread");
            set.send_replace([file.clone()].into());
            assert_eq!(until(1).await, 1, "a file to watch: one inotify thread");
            std::fs::write(&file, "{gateway: {}}").expect("edit");
            let reload = tokio::time::timeout(Duration::from_secs(30), asked.recv()).await;
            assert!(matches!(reload, Ok(Some(Request::Reload(None, _)))), "an edit asks for a reload");
            set.send_replace(BTreeSet::new());
            assert_eq!(until(0).await, 0, "nothing left to watch: the thread is gone");
        });
    }
}
