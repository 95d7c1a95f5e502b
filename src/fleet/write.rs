//! Writing the files clawherd keeps beside an operator's files and under `run_dir` (pins,
//! last-known-good records, the rollout journal, rejected configs, exported units) without ever
//! writing through a link someone planted there, and without half-written content.
//!
//! - [`replace`]: the new content goes into a fresh temporary file beside the target (created
//!   exclusively, so a symlink or file planted under the temporary name is never followed or
//!   reused), then is renamed over the target. A symlink at the target is replaced, not followed;
//!   the mode is the one asked for even when the target existed with another.
//! - [`create_new`]: the target must not exist at all (no file, no symlink, dangling or not):
//!   an operator's file is never overwritten.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` (mode `mode`, e.g. `0o600`) through a temporary file renamed over
/// it: a crash leaves the old or the new content, never half of one.
///
/// Errors: the temporary file cannot be created or written (its folder is missing, read-only or
/// full), or the rename fails (`path` is a folder: `EISDIR`); the temporary file is removed.
pub(crate) fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    via_temporary(path, bytes, mode, None)
}

/// [`replace`] for a file someone else reads: the replacement keeps the owner, group and mode
/// of the file it replaces (an operator's OpenClaw config, which a gateway running as its own
/// `user:` must still read after clawherd, as root, writes it back); `mode` applies only when
/// there was no file. Ownership is kept where the process may set it (root; anyone for their
/// own files).
///
/// Errors: as [`replace`]; also when the owner cannot be set although the process is root.
pub(crate) fn replace_keeping_owner(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(old) => via_temporary(path, bytes, old.mode() & 0o7777, Some((old.uid(), old.gid()))),
        Err(_) => replace(path, bytes, mode),
    }
}

/// Writes a fresh temporary file beside `path` (mode `mode` less the umask; with `owner`, that
/// owner where it may be set and exactly `mode`), then renames it over `path`; the temporary
/// file is removed on failure.
fn via_temporary(path: &Path, bytes: &[u8], mode: u32, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = temporary(path);
    // A stale temporary of an earlier process with this pid (or anything planted under its
    // name) is removed, not opened: removing a symlink removes the link itself.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = write_exclusive(&tmp, bytes, mode)
        .and_then(|()| match owner {
            // The old file's exact mode: the umask narrowed it at creation.
            Some((uid, gid)) => {
                keep_owner(&tmp, uid, gid).and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)))
            }
            None => Ok(()),
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Gives `path` (not followed if a link) the owner `uid`:`gid`; a process that may not (not
/// root) leaves it as it is.
///
/// Errors: the change failed for another reason than permission.
pub(crate) fn keep_owner(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    match std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && !nix::unistd::geteuid().is_root() => Ok(()),
        other => other,
    }
}

/// Creates `path` with `bytes` (mode `mode`); fails if anything is there already, including a
/// symlink (never followed).
///
/// Errors: `AlreadyExists` when the name is taken; the file cannot be created or written (a
/// partly written file is removed).
pub(crate) fn create_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let written = write_exclusive(path, bytes, mode);
    if let Err(e) = &written
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Names tried by [`create_numbered`] for one base name.
pub(crate) const MAX_NUMBERED: u32 = 100;

/// Creates `base` with `bytes` (mode `mode`) as [`create_new`] does, or when that name is taken,
/// `<base>-2`, `<base>-3`, ... up to [`MAX_NUMBERED`] names: for copies kept beside an
/// operator's file (`<config>.rejected-<time>`), which must never replace one. Returns the name
/// used.
///
/// Errors: a name could not be written, or every name is taken.
pub(crate) fn create_numbered(base: &Path, bytes: &[u8], mode: u32) -> std::io::Result<PathBuf> {
    for n in 1..=MAX_NUMBERED {
        let path = match n {
            1 => base.to_path_buf(),
            n => PathBuf::from(format!("{}-{n}", base.display())),
        };
        match create_new(&path, bytes, mode) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{} and {MAX_NUMBERED} variants of it exist already", base.display()),
    ))
}

/// `O_CREAT | O_EXCL | O_NOFOLLOW`, write, `fsync`.
fn write_exclusive(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// `.<name>.tmp-<pid>` beside `path`.
fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A symlink planted under the temporary name, or at the target, is never written through.
    #[test]
    fn replace_never_writes_through_a_planted_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        let target = dir.path().join("pins.json");
        std::os::unix::fs::symlink(&victim, temporary(&target)).expect("plant tmp link");
        replace(&target, b"new", 0o600).expect("replace");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new");
        std::fs::remove_file(&target).expect("rm");
        std::os::unix::fs::symlink(&victim, &target).expect("plant target link");
        replace(&target, b"newer", 0o600).expect("replace");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        let meta = std::fs::symlink_metadata(&target).expect("stat");
        assert!(meta.is_file(), "the link itself is replaced");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(!temporary(&target).exists());
    }

    /// An existing file keeps its content; the mode asked for applies to the replacement.
    #[test]
    fn replace_sets_the_mode_of_an_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("main.env");
        std::fs::write(&target, "old").expect("write");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        replace(&target, b"KEY=\n", 0o600).expect("replace");
        let meta = std::fs::metadata(&target).expect("stat");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let e = replace(dir.path(), b"x", 0o600).expect_err("a folder is not replaced");
        assert!(e.raw_os_error().is_some(), "{e}");
    }

    /// Nothing already at the name is overwritten, a dangling symlink included.
    #[test]
    fn create_new_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("c.json.rejected-1");
        std::fs::write(&target, "user's").expect("write");
        let e = create_new(&target, b"ours", 0o600).expect_err("taken");
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "user's");
        let link = dir.path().join("c.json.rejected-2");
        let elsewhere = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, &link).expect("link");
        assert!(create_new(&link, b"ours", 0o600).is_err());
        assert!(!elsewhere.exists(), "the dangling link was not followed");
    }
}
