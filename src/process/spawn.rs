//! Spawning a gateway by its plan: the exact argv, environment and cwd of a [`Launch`], a new
//! process group with the gateway as leader (so one `killpg` reaches it and its in-group
//! workers), stdin from /dev/null and stdout/stderr piped to clawherd.
//!
//! `process_group(0)` keeps std's `posix_spawn` fast path (no `pre_exec`). On that path the
//! parent waits inside `posix_spawn` until the child has exec'd, so when more instances start
//! at once than there are CPUs (a large fleet's start, a reload) [`spawn_parallel`] runs their
//! spawns on tokio's blocking pool; fewer spawns (a restart, a main + rescue fleet) stay on the
//! runtime thread, which saves the hand-off to threads. A spawning thread mostly waits while
//! the kernel builds the child's image, so the pool runs up to four spawns per CPU: on the
//! 2-CPU bench machine, 50 instances started in 38.0 ms with 8 at once against 43.0 ms with 2
//! (median of 20 interleaved runs; the bash loop took 38.2 ms in the same runs).
//!
//! A gateway with [`Credentials`] (the profile's `user:`) drops root in the child between fork
//! and exec, as supervisord's `user=` or s6-setuidgid do: `setgroups`, `setgid`, then `setuid`.
//! That needs a `pre_exec` hook, so such a spawn takes std's fork/exec path instead of
//! `posix_spawn`. A working directory clawherd creates for it belongs to that user.

use nix::unistd::{Gid, Uid};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

/// What a spawn needs to know: the exact argv, the whole environment (nothing is inherited) and
/// the working directory. The fleet's plan implements it; this module knows nothing of fleets.
pub(crate) trait Launch {
    /// `argv[0]` is the program, looked up on the environment's `PATH`; an empty argv fails
    /// with [`SpawnError::Exec`].
    fn argv(&self) -> &[String];
    /// The child's whole environment: (name, value), each name once.
    fn env(&self) -> impl Iterator<Item = (&str, &str)>;
    /// The child's working directory, created if missing.
    fn cwd(&self) -> &Path;
    /// The user and groups the child runs as; `None` (the default) keeps clawherd's.
    fn credentials(&self) -> Option<&Credentials> {
        None
    }
}

/// The identity a child switches to before exec, as numbers (the fleet looked the names up).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    /// User id (`setuid`).
    pub uid: u32,
    /// Primary group id (`setgid`).
    pub gid: u32,
    /// Supplementary group ids (`setgroups`), the primary one among them as `getgrouplist`
    /// gives it.
    pub groups: Vec<u32>,
}

/// The number of CPUs (at least 1, at most 8).
fn cpus() -> usize {
    static CPUS: OnceLock<usize> = OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
}

/// Spawns that may run at once on the blocking pool: four per CPU (see the module doc).
fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(4 * cpus()))
}

/// Instances inside [`spawn_parallel`] right now.
static WANTING: AtomicUsize = AtomicUsize::new(0);

/// Counts one instance in [`WANTING`] while it lives.
struct Wanting;

impl Wanting {
    /// Counts one more; returns the guard and how many were counted before it.
    fn new() -> (Self, usize) {
        (Wanting, WANTING.fetch_add(1, Ordering::SeqCst))
    }
}

impl Drop for Wanting {
    fn drop(&mut self) {
        WANTING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// [`spawn`], side by side with other instances that spawn at the same moment: after one yield
/// (which lets the other instances started together queue up), a spawn runs right here when
/// no more instances are spawning than there are CPUs (a restart, a main + rescue fleet: no
/// thread is involved); a larger burst runs on tokio's blocking pool, at most four per CPU at a
/// time. An instance that finds as many others spawning as there are CPUs already is part of
/// a larger burst: it goes to the pool without the yield, so a fleet's first spawn does not
/// wait until every other instance of the fleet was polled once. Same result and errors as
/// [`spawn`]; a spawn cancelled by the runtime's shutdown is reported as [`SpawnError::Exec`].
pub(crate) async fn spawn_parallel<L: Launch + Send + Sync + 'static>(plan: Arc<L>) -> Result<(Child, i32), SpawnError> {
    let (_wanting, others) = Wanting::new();
    if others < cpus() {
        tokio::task::yield_now().await;
        if WANTING.load(Ordering::SeqCst) <= cpus() {
            return spawn(plan.as_ref());
        }
    }
    // The semaphore is never closed; were it closed, the spawn would only run unthrottled.
    let _slot = slots().acquire().await.ok();
    let program = plan.argv().first().cloned().unwrap_or_default();
    match tokio::task::spawn_blocking(move || spawn(plan.as_ref())).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(SpawnError::Exec {
            program,
            source: std::io::Error::other(format!("the spawn was cancelled: {e}")),
        }),
    }
}

/// Why a spawn failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    /// The working directory could not be created.
    #[error("cannot create working directory {path}: {source}")]
    Cwd { path: String, source: std::io::Error },
    /// The program could not be started (not found on PATH, not executable).
    #[error("cannot start `{program}`: {source} (is it installed and on PATH? run scripts/bootstrap for the pinned openclaw)")]
    Exec { program: String, source: std::io::Error },
}

/// Starts the program of `plan`; returns the child and its pid (= its process group id).
///
/// Errors: [`SpawnError`].
pub(crate) fn spawn<L: Launch>(plan: &L) -> Result<(Child, i32), SpawnError> {
    let cwd = plan.cwd();
    // Only root switches; any other clawherd runs a `user:` gateway only as itself (the fleet's
    // proof refuses anything else), so there is nothing to switch.
    let switch = plan.credentials().filter(|_| nix::unistd::geteuid().is_root());
    create_cwd(cwd, switch).map_err(|source| SpawnError::Cwd {
        path: cwd.display().to_string(),
        source,
    })?;
    let Some((program, args)) = plan.argv().split_first() else {
        return Err(SpawnError::Exec {
            program: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
        });
    };
    let program = program.clone();
    let mut cmd = Command::new(&program);
    cmd.args(args)
        .env_clear()
        .envs(plan.env())
        .current_dir(cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    if let Some(c) = switch {
        let groups: Vec<Gid> = c.groups.iter().map(|g| Gid::from_raw(*g)).collect();
        let (uid, gid) = (Uid::from_raw(c.uid), Gid::from_raw(c.gid));
        // SAFETY: runs in the forked child before exec; it only makes three system calls (no
        // allocation, no lock: `groups` was built before the fork) and returns their errors.
        unsafe {
            cmd.pre_exec(move || {
                nix::unistd::setgroups(&groups)?;
                nix::unistd::setgid(gid)?;
                nix::unistd::setuid(uid)?;
                Ok(())
            });
        }
    }
    super::reaper::spawn_leader(|| {
        let child = cmd.spawn()?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        Ok(((child, pid), pid))
    })
    .map_err(|source| SpawnError::Exec { program, source })
}

/// Creates `cwd` with its missing parents; with `owner` each folder created here is given to
/// that uid and gid, so that a gateway that runs as another user can write into it.
fn create_cwd(cwd: &Path, owner: Option<&Credentials>) -> std::io::Result<()> {
    // The common case, every spawn after the first: one `statx`, where `create_dir_all` makes a
    // failing `mkdir` and then the same `statx` (as there, a symlink to a folder counts).
    if cwd.is_dir() {
        return Ok(());
    }
    let Some(c) = owner else {
        return std::fs::create_dir_all(cwd);
    };
    let missing: Vec<&Path> = cwd.ancestors().take_while(|p| !p.exists()).collect();
    std::fs::create_dir_all(cwd)?;
    for dir in missing.into_iter().rev() {
        std::os::unix::fs::chown(dir, Some(c.uid), Some(c.gid))?;
    }
    Ok(())
}
