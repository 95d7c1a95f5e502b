//! A copy of what a version change may rewrite, taken before it: the instance's state dir
//! (sessions, credentials, databases: OpenClaw's state migrations and `doctor --fix` write
//! there, `dist/state-migrations.*.mjs`) and its config file (`doctor --fix` rewrites it), so
//! that a failed upgrade can put them back for the previous version.
//!
//! Taken only while the instance is stopped (a live gateway writes its databases). Bounded: a
//! state dir larger than [`Limits`] is not copied and the caller must decide (`--force`).
//! Symlinks are copied as links; sockets, FIFOs and devices are skipped.

use std::path::{Path, PathBuf};

/// How much a snapshot may copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Total bytes of regular files.
    pub bytes: u64,
    /// Files, folders and links.
    pub entries: u64,
}

/// The default [`Limits`]: 2 GiB in 200 000 entries.
pub(crate) const LIMITS: Limits = Limits {
    bytes: 2 << 30,
    entries: 200_000,
};

/// A snapshot on disk: `<dir>/state/` and `<dir>/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The snapshot's folder.
    pub dir: PathBuf,
    /// The state dir it copied.
    pub state_dir: PathBuf,
    /// The config file it copied (`None`: it did not exist).
    pub config: Option<PathBuf>,
}

/// Why a snapshot or restore failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SnapshotError {
    /// The state dir is larger than the limits.
    #[error("{path} holds more than {} MiB or {} entries: too large to snapshot", .limits.bytes >> 20, .limits.entries)]
    TooLarge {
        /// The state dir.
        path: PathBuf,
        /// The limits.
        limits: Limits,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies `state_dir` and `config` into `dir` (which must not exist: an existing one is an
/// error and is left as it is). A missing state dir is recorded as empty.
///
/// Errors: [`SnapshotError::TooLarge`] before anything is copied; [`SnapshotError::Io`] (the
/// partial copy is removed).
pub(crate) fn take(dir: &Path, state_dir: &Path, config: &Path, limits: Limits) -> Result<Snapshot, SnapshotError> {
    let mut seen = (0u64, 0u64);
    if state_dir.exists() {
        measure(state_dir, &mut seen, limits)?;
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    // Not `create_dir_all`: an existing folder (an earlier snapshot of the same name) must
    // fail here, before the clean-up below could remove it.
    std::fs::create_dir(dir).map_err(io(dir))?;
    let result = copy_in(dir, state_dir, config);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn copy_in(dir: &Path, state_dir: &Path, config: &Path) -> Result<Snapshot, SnapshotError> {
    let state = dir.join("state");
    if state_dir.exists() {
        copy_tree(state_dir, &state)?;
    } else {
        std::fs::create_dir(&state).map_err(io(&state))?;
    }
    let config_copy = dir.join("config");
    let config = match std::fs::copy(config, &config_copy) {
        Ok(_) => Some(config.to_path_buf()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(config)(e)),
    };
    Ok(Snapshot {
        dir: dir.to_path_buf(),
        state_dir: state_dir.to_path_buf(),
        config,
    })
}

/// Puts the snapshot back: the current state dir is moved aside to `<state_dir>.rejected-<tag>`
/// and the config copied to `<config>.rejected-<tag>` (mode 0600; `-2`, `-3`, ... when that
/// name is taken: kept, never deleted, never over another file), then the copies are restored.
/// Returns the paths kept aside.
///
/// Errors: [`SnapshotError::Io`].
pub(crate) fn restore(s: &Snapshot, config: &Path, tag: &str) -> Result<Vec<PathBuf>, SnapshotError> {
    let mut kept = Vec::new();
    let aside = |p: &Path| PathBuf::from(format!("{}.rejected-{tag}", p.display()));
    if s.state_dir.exists() {
        let to = aside(&s.state_dir);
        std::fs::rename(&s.state_dir, &to).map_err(io(&s.state_dir))?;
        kept.push(to);
    }
    copy_tree(&s.dir.join("state"), &s.state_dir)?;
    // A config inside the state dir came back with it; one outside is restored on its own.
    if !config.starts_with(&s.state_dir) {
        if config.exists() {
            // Kept with `create_numbered`: never over an operator's file of that name, never
            // through a link planted there.
            let bytes = crate::fleet::read_bounded_bytes(config).map_err(|e| SnapshotError::Io {
                path: config.to_path_buf(),
                source: std::io::Error::other(e),
            })?;
            let to = crate::fleet::write::create_numbered(&aside(config), &bytes, 0o600).map_err(io(config))?;
            kept.push(to);
        }
        match &s.config {
            Some(_) => {
                std::fs::copy(s.dir.join("config"), config).map_err(io(config))?;
            }
            None => {
                let _ = std::fs::remove_file(config);
            }
        }
    }
    Ok(kept)
}

/// Counts `dir`'s entries and bytes into `seen`, failing past `limits`.
fn measure(dir: &Path, seen: &mut (u64, u64), limits: Limits) -> Result<(), SnapshotError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let meta = entry.metadata().map_err(io(&entry.path()))?;
        seen.0 += 1;
        seen.1 += if meta.is_file() { meta.len() } else { 0 };
        if seen.0 > limits.entries || seen.1 > limits.bytes {
            return Err(SnapshotError::TooLarge {
                path: dir.to_path_buf(),
                limits,
            });
        }
        if meta.is_dir() {
            measure(&entry.path(), seen, limits)?;
        }
    }
    Ok(())
}

/// Copies the tree `from` to `to` (created), keeping file modes, owners (where the process may
/// set them: as root, so that the state dir of a gateway with its own `user:` comes back as that
/// user's) and symlinks.
fn copy_tree(from: &Path, to: &Path) -> Result<(), SnapshotError> {
    use std::os::unix::fs::MetadataExt;
    std::fs::create_dir(to).map_err(io(to))?;
    let meta = std::fs::metadata(from).map_err(io(from))?;
    std::fs::set_permissions(to, meta.permissions()).map_err(io(to))?;
    crate::fleet::write::keep_owner(to, meta.uid(), meta.gid()).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(io(&src))?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
            continue;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&src).map_err(io(&src))?;
            std::os::unix::fs::symlink(target, &dst).map_err(io(&dst))?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        } else {
            continue;
        }
        let meta = entry.metadata().map_err(io(&src))?;
        crate::fleet::write::keep_owner(&dst, meta.uid(), meta.gid()).map_err(io(&dst))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_then_restore_keeps_the_rejected_copy() {
        let t = tempfile::tempdir().expect("tempdir");
        let state = t.path().join("state");
        std::fs::create_dir_all(state.join("agents")).expect("mkdir");
        std::fs::write(state.join("agents/db"), "old").expect("write");
        std::os::unix::fs::symlink("agents/db", state.join("link")).expect("link");
        let config = t.path().join("main.json5");
        std::fs::write(&config, "{old: 1}").expect("write");
        let s = take(&t.path().join("snap"), &state, &config, LIMITS).expect("snapshot");
        std::fs::write(state.join("agents/db"), "migrated").expect("write");
        std::fs::write(state.join("new-file"), "x").expect("write");
        std::fs::write(&config, "{new: 1}").expect("write");
        let kept = restore(&s, &config, "1").expect("restore");
        assert_eq!(std::fs::read_to_string(state.join("agents/db")).expect("read"), "old");
        assert_eq!(std::fs::read_to_string(state.join("link")).expect("read through link"), "old");
        assert!(!state.join("new-file").exists());
        assert_eq!(std::fs::read_to_string(&config).expect("read"), "{old: 1}");
        assert_eq!(kept.len(), 2);
        assert_eq!(
            std::fs::read_to_string(t.path().join("main.json5.rejected-1")).expect("kept"),
            "{new: 1}"
        );
        assert!(t.path().join("state.rejected-1/new-file").exists());
    }

    /// A snapshot is never taken into (and on failure removed with) an existing folder, and
    /// the rejected config never replaces a file or follows a link of its name.
    #[test]
    fn existing_snapshots_and_files_are_left_alone() {
        let t = tempfile::tempdir().expect("tempdir");
        let state = t.path().join("state");
        std::fs::create_dir_all(&state).expect("mkdir");
        let config = t.path().join("main.json5");
        std::fs::write(&config, "{old: 1}").expect("write");
        let snap = t.path().join("snap");
        let s = take(&snap, &state, &config, LIMITS).expect("snapshot");
        assert!(take(&snap, &state, &config, LIMITS).is_err(), "the name is taken");
        assert!(
            snap.join("state").is_dir() && snap.join("config").is_file(),
            "the first one is intact"
        );
        std::fs::write(&config, "{new: 1}").expect("write");
        let victim = t.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        std::os::unix::fs::symlink(&victim, t.path().join("main.json5.rejected-7")).expect("plant");
        let kept = restore(&s, &config, "7").expect("restore");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        let aside = t.path().join("main.json5.rejected-7-2");
        assert!(kept.contains(&aside), "{kept:?}");
        assert_eq!(std::fs::read_to_string(&aside).expect("read"), "{new: 1}");
    }

    /// A state dir owned by the gateway's own user comes back owned by it (checked where the
    /// test runs as root, the only case where clawherd could change it).
    #[test]
    fn owners_are_kept_through_take_and_restore() {
        use std::os::unix::fs::MetadataExt;
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let t = tempfile::tempdir().expect("tempdir");
        let state = t.path().join("state");
        std::fs::create_dir_all(state.join("agents")).expect("mkdir");
        std::fs::write(state.join("agents/db"), "old").expect("write");
        for p in [state.clone(), state.join("agents"), state.join("agents/db")] {
            std::os::unix::fs::chown(&p, Some(4321), Some(4322)).expect("chown");
        }
        let config = t.path().join("main.json5");
        let s = take(&t.path().join("snap"), &state, &config, LIMITS).expect("snapshot");
        restore(&s, &config, "1").expect("restore");
        for p in [state.clone(), state.join("agents"), state.join("agents/db")] {
            let m = std::fs::metadata(&p).expect("stat");
            assert_eq!((m.uid(), m.gid()), (4321, 4322), "{}", p.display());
        }
    }

    #[test]
    fn too_large_copies_nothing() {
        let t = tempfile::tempdir().expect("tempdir");
        let state = t.path().join("state");
        std::fs::create_dir_all(&state).expect("mkdir");
        std::fs::write(state.join("big"), vec![0u8; 4096]).expect("write");
        let tiny = Limits { bytes: 1024, entries: 10 };
        let e = take(&t.path().join("snap"), &state, &t.path().join("c"), tiny).expect_err("too large");
        assert!(matches!(e, SnapshotError::TooLarge { .. }), "{e}");
        assert!(!t.path().join("snap").exists());
    }
}
