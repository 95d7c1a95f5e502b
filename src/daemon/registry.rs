//! The registry of running daemons: what makes one fleet file one daemon, whatever its
//! `run_dir` and `control.socket` say.
//!
//! A daemon holds an exclusive `flock` on `<key>.lock` for its whole life, where `<key>` is a
//! hash of the fleet file's canonical path, in a fixed folder ([`dirs`]): `/run/clawherd/` for
//! root, `$XDG_RUNTIME_DIR/clawherd/` for anyone else, or a private `/tmp/clawherd-<uid>/` when
//! neither is usable. Beside the lock it writes `<key>.json` ([`Record`]: fleet file, pid and
//! start time, control socket, run dir, start time), which clients read to find its socket, so
//! an edited `control.socket` or `run_dir`, or a fleet file that is broken or gone, still leads
//! to the running daemon. A second `clawherd run` of the same fleet file finds the lock held and
//! stops there, before it could take the first one's gateways for leftovers.
//!
//! The daemon removes its record and lock file when it ends (a locker checks that the file it
//! locked is still the one at the path, so removing it is safe); a record left by a SIGKILLed
//! daemon is recognised as stale by its pid and start time.

use crate::process::tree::DaemonId;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a running daemon tells its clients (`<key>.json`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// The fleet file, canonical.
    pub fleet: PathBuf,
    /// The daemon's pid.
    pub pid: i32,
    /// The daemon's start time in clock ticks since boot (against pid reuse).
    pub starttime: u64,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its run dir (captured output, events).
    pub run_dir: PathBuf,
    /// When it started, RFC 3339.
    pub started: String,
}

impl Record {
    /// Whether the daemon this record names still runs (same pid, same start time).
    pub fn is_live(&self) -> bool {
        DaemonId {
            pid: self.pid,
            starttime: self.starttime,
        }
        .is_alive()
    }
}

/// Why a daemon could not register.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Another daemon holds the fleet's lock (sysexits 69).
    #[error("another clawherd already serves this fleet ({}): {}\n  hint: talk to it (`clawherd status -f {}`), or stop it first{}",
        fleet.display(),
        match (record.as_ref().map(|r| r.pid), record.as_ref().map(|r| r.socket.display())) {
            (Some(pid), Some(socket)) => format!("pid {pid}, control socket {socket}"),
            _ => format!("its pid is not recorded yet; the lock is {}", lock.display()),
        },
        fleet.display(),
        record.as_ref().map_or(String::new(), |r| format!(" (`kill {}`)", r.pid)))]
    Held {
        /// The fleet file.
        fleet: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The running daemon's record, when it could be read.
        record: Option<Box<Record>>,
    },
    /// No registry folder is usable, or the lock or record cannot be written.
    #[error("cannot use the daemon registry at {}: {source}\n  hint: check that folder's owner and mode (a private folder of clawherd's user)", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The registration of this daemon: the lock, held until drop, and the record, removed then.
#[derive(Debug)]
pub struct Registration {
    /// Held for the daemon's life; released when dropped (or when the process dies).
    _lock: Flock<File>,
    lock: PathBuf,
    record: PathBuf,
    fleet: PathBuf,
}

/// The canonical form of `fleet`, the key of its registration: the real path of the file, or,
/// when the file is gone, the real path of its folder joined with its name.
pub fn canonical(fleet: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(fleet) {
        return p;
    }
    let abs = std::path::absolute(fleet).unwrap_or_else(|_| fleet.to_path_buf());
    match (abs.parent().and_then(|d| std::fs::canonicalize(d).ok()), abs.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => abs,
    }
}

/// The file name stem of `fleet`'s lock and record: 64-bit FNV-1a of its canonical path, in hex.
pub fn key(fleet: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical(fleet).as_os_str().as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The registry folders, in the order they are tried: `/run/clawherd` (root, or the user a
/// system service runs as, when systemd's `RuntimeDirectory=clawherd` made it theirs),
/// `$XDG_RUNTIME_DIR/clawherd` (others, when set), `/tmp/clawherd-<uid>`.
pub fn dirs() -> Vec<PathBuf> {
    let uid = nix::unistd::geteuid();
    let system = PathBuf::from(SYSTEM_DIR);
    let mut out = Vec::new();
    if uid.is_root() || std::fs::symlink_metadata(&system).is_ok_and(|m| m.is_dir() && m.uid() == uid.as_raw()) {
        out.push(system);
    }
    if !uid.is_root()
        && let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty())
    {
        out.push(PathBuf::from(x).join("clawherd"));
    }
    out.push(PathBuf::from(format!("/tmp/clawherd-{}", uid.as_raw())));
    out
}

/// The registry folder of daemons run as root or as a system service's user.
const SYSTEM_DIR: &str = "/run/clawherd";

/// Creates `dir` if needed and checks that it is ours: a real folder (not a symlink), owned by
/// this user, and not writable by anyone else (`/tmp/clawherd-<uid>` must be 0700, as anyone
/// could have made it first).
fn usable(dir: &Path) -> std::io::Result<()> {
    let private = dir.starts_with("/tmp");
    let mode = if private { 0o700 } else { 0o755 };
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    let bad = |why: &str| Err(std::io::Error::other(format!("{} {why}", dir.display())));
    if !meta.is_dir() {
        return bad("is not a folder");
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return bad("belongs to another user");
    }
    let forbidden = if private { 0o077 } else { 0o022 };
    if meta.permissions().mode() & forbidden != 0 {
        return bad(&format!("has mode {:o}", meta.permissions().mode() & 0o777));
    }
    Ok(())
}

/// Takes the lock of `fleet` for this process, in the first usable registry folder.
///
/// Errors: [`RegistryError::Held`] when another daemon holds it (with its record when
/// readable); [`RegistryError::Io`] when no folder is usable or the lock file cannot be opened.
pub fn acquire(fleet: &Path) -> Result<Registration, RegistryError> {
    let key = key(fleet);
    let mut last = None;
    for dir in dirs() {
        if let Err(source) = usable(&dir) {
            last = Some(RegistryError::Io { path: dir, source });
            continue;
        }
        let lock = dir.join(format!("{key}.lock"));
        return lock_file(&lock, &canonical(fleet)).map(|held| Registration {
            _lock: held,
            lock: lock.clone(),
            record: dir.join(format!("{key}.json")),
            fleet: canonical(fleet),
        });
    }
    Err(last.unwrap_or_else(|| RegistryError::Io {
        path: PathBuf::from("/tmp"),
        source: std::io::Error::other("no registry folder"),
    }))
}

/// Opens (creating) and locks `lock`. The daemon before may remove the file while another
/// process holds it open: a lock taken on a file no longer at `lock` is worthless, so it is
/// taken again on the file now there (bounded: the file changes only when a daemon ends).
/// `fleet` names the fleet file in a [`RegistryError::Held`].
fn lock_file(lock: &Path, fleet: &Path) -> Result<Flock<File>, RegistryError> {
    let io = |source| RegistryError::Io {
        path: lock.to_path_buf(),
        source,
    };
    for _ in 0..8 {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(lock)
            .map_err(io)?;
        let held = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(held) => held,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(RegistryError::Held {
                    fleet: fleet.to_path_buf(),
                    record: read(&lock.with_extension("json")).map(Box::new),
                    lock: lock.to_path_buf(),
                });
            }
            Err((_, e)) => return Err(io(e.into())),
        };
        let ours = held.metadata().map_err(io)?.ino();
        if std::fs::metadata(lock).is_ok_and(|m| m.ino() == ours) {
            return Ok(held);
        }
    }
    Err(io(std::io::Error::other("the lock file keeps being replaced")))
}

impl Registration {
    /// Writes this daemon's record (atomically: a temporary file renamed over it), readable by
    /// all who may read the folder, so members of `control.group` find the socket too.
    ///
    /// Errors: [`RegistryError::Io`].
    pub fn publish(&self, socket: &Path, run_dir: &Path) -> Result<(), RegistryError> {
        let me = DaemonId::current();
        let record = Record {
            fleet: self.fleet.clone(),
            pid: me.pid,
            starttime: me.starttime,
            socket: socket.to_path_buf(),
            run_dir: run_dir.to_path_buf(),
            started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        let io = |source| RegistryError::Io {
            path: self.record.clone(),
            source,
        };
        let text = serde_json::to_vec_pretty(&record).map_err(|e| io(e.into()))?;
        let tmp = self.record.with_extension(format!("json.{}", me.pid));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&text).map_err(io)?;
        std::fs::rename(&tmp, &self.record).map_err(io)
    }
}

impl Drop for Registration {
    /// Removes the record (if it is still this daemon's) and the lock file, while the lock is
    /// still held (see `lock_file` for why that is safe); the lock is released just after.
    fn drop(&mut self) {
        if read(&self.record).is_some_and(|r| r.pid == DaemonId::current().pid) {
            let _ = std::fs::remove_file(&self.record);
        }
        let _ = std::fs::remove_file(&self.lock);
    }
}

fn read(path: &Path) -> Option<Record> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The record of the daemon running `fleet`, if one runs: looked up in this user's registry
/// folders ([`dirs`]) and in `/run/clawherd` (a system daemon's, for members of its
/// `control.group`), only in folders owned by root or this user, so nobody else can point a
/// client elsewhere. A stale record, whose daemon died, is ignored.
pub fn find(fleet: &Path) -> Option<Record> {
    let key = key(fleet);
    client_folders()
        .iter()
        .filter_map(|d| read(&d.join(format!("{key}.json"))))
        .find(Record::is_live)
}

/// Every live daemon a client of this user can find (see [`find`] for the folders), at most
/// one record per fleet file, in folder order. What `clawherd status` without `-f` talks to
/// when exactly one runs.
pub fn running() -> Vec<Record> {
    let mut out: Vec<Record> = Vec::new();
    for dir in client_folders() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten().take(MAX_RECORDS) {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Some(r) = read(&path)
                && !out.iter().any(|o| o.fleet == r.fleet)
                && r.is_live()
            {
                out.push(r);
            }
        }
    }
    out
}

/// Most entries [`running`] reads per folder: a registry folder holds two files per daemon.
const MAX_RECORDS: usize = 10_000;

/// The folders clients look in: this user's [`dirs`] and `/run/clawherd`, only those owned by
/// root or this user.
fn client_folders() -> Vec<PathBuf> {
    let me = nix::unistd::geteuid().as_raw();
    let mut folders = dirs();
    if !folders.iter().any(|d| d == Path::new(SYSTEM_DIR)) {
        folders.push(PathBuf::from(SYSTEM_DIR));
    }
    folders.retain(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir() && (m.uid() == 0 || m.uid() == me)));
    folders
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_file_not_its_spelling() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("fleet.yaml");
        std::fs::write(&f, "version: 1\n").expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let spelled = dir.path().join("sub/../fleet.yaml");
        assert_eq!(key(&f), key(&spelled));
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&f, &link).expect("symlink");
        assert_eq!(key(&f), key(&link));
        // A deleted file keeps its key (its folder's real path and its name).
        let before = key(&f);
        std::fs::remove_file(&f).expect("rm");
        assert_eq!(key(&f), before);
        assert_ne!(key(&f), key(&dir.path().join("other.yaml")));
    }

    #[test]
    fn a_second_registration_of_the_same_fleet_is_refused_and_names_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("fleet.yaml");
        std::fs::write(&f, "version: 1\n").expect("write");
        let first = acquire(&f).expect("first registration");
        first.publish(Path::new("/x/clawherd.sock"), dir.path()).expect("publish");
        let found = find(&f).expect("record found");
        assert_eq!(
            (found.pid, found.socket.as_path()),
            (std::process::id() as i32, Path::new("/x/clawherd.sock"))
        );
        // flock locks belong to the open file description: a second open in this process
        // conflicts just as another process's would.
        match acquire(&f) {
            Err(e @ RegistryError::Held { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&format!("pid {}", std::process::id())), "{text}");
                assert!(text.contains("/x/clawherd.sock"), "{text}");
            }
            other => panic!("second registration: {other:?}"),
        }
        let lock = first.lock.clone();
        drop(first);
        assert!(find(&f).is_none(), "the record goes with the daemon");
        assert!(!lock.exists(), "and so does the lock file");
        let again = acquire(&f).expect("free again");
        drop(again);
    }

    #[test]
    fn a_record_of_a_dead_daemon_is_not_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("fleet.yaml");
        std::fs::write(&f, "version: 1\n").expect("write");
        let reg = acquire(&f).expect("registration");
        reg.publish(Path::new("/x.sock"), dir.path()).expect("publish");
        let mut r = read(&reg.record).expect("record");
        r.starttime = r.starttime.wrapping_add(1);
        std::fs::write(&reg.record, serde_json::to_vec(&r).expect("json")).expect("write");
        assert!(find(&f).is_none(), "same pid, another start time: a dead daemon's record");
    }
}
