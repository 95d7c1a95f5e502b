//! Subreaper and reaping of orphans.
//!
//! `prctl(PR_SET_CHILD_SUBREAPER)`: "a subreaper fulfills the role of init(1) for its
//! descendant processes. When a process becomes orphaned, that process will be reparented to
//! the nearest still living ancestor subreaper" (prctl(2)). So a gateway's workers that outlive
//! it come back to us, where we can kill and reap them, instead of to init.
//!
//! tokio reaps the gateways it spawned (through a pidfd). Everything else that dies as our child
//! is reaped here on SIGCHLD. Reaping with `waitpid(-1)` would steal a gateway's status from
//! tokio, so this reaps only zombies whose pid is not a registered leader. A spawn and its
//! registration happen under the shared side of a gate whose exclusive side the reaping scan
//! takes, so a fresh leader is never mistaken for an orphan, while spawns on different threads
//! still run side by side.
//!
//! A zombie in clawherd's own process group is never taken either: gateways start in process
//! groups of their own (`process_group(0)`), so everything adopted from their trees is outside
//! ours, while a child that the program embedding the daemon spawned itself (std's `Command`
//! keeps the parent's group) is left for the code that waits for it.

use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// Pids of gateways tokio owns. A `std` mutex, held only to read or update the set.
static LEADERS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Spawns hold the shared side from fork to registration; the orphan scan holds the exclusive
/// side. Never held across an `.await`.
static SPAWN_GATE: RwLock<()> = RwLock::new(());

/// Makes this process a child subreaper (Linux ≥ 3.4).
///
/// Errors: the `prctl` failure (e.g. not Linux).
pub(crate) fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Runs `spawn` under the shared side of the spawn gate and registers the pid it returns.
pub(crate) fn spawn_leader<T>(spawn: impl FnOnce() -> std::io::Result<(T, i32)>) -> std::io::Result<T> {
    let _gate = SPAWN_GATE.read().unwrap_or_else(|e| e.into_inner());
    let (value, pid) = spawn()?;
    LEADERS.lock().unwrap_or_else(|e| e.into_inner()).insert(pid);
    Ok(value)
}

/// Forgets a leader once tokio has reaped it.
pub(crate) fn forget_leader(pid: i32) {
    LEADERS.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
}

/// Whether `pid` is a gateway tokio owns.
pub(crate) fn is_leader(pid: i32) -> bool {
    LEADERS.lock().unwrap_or_else(|e| e.into_inner()).contains(&pid)
}

/// Reaps every zombie child of ours that is not a registered leader and not in our own process
/// group; returns their pids. Reads only our own children (`/proc/self/task/*/children`), not
/// the whole process table.
pub(crate) fn reap_orphans() -> Vec<i32> {
    let me = std::process::id() as i32;
    let own_group = nix::unistd::getpgrp().as_raw();
    let _gate = SPAWN_GATE.write().unwrap_or_else(|e| e.into_inner());
    let leaders = LEADERS.lock().unwrap_or_else(|e| e.into_inner());
    let mut reaped = Vec::new();
    for pid in super::tree::children_of(me).into_iter().filter(|c| !leaders.contains(c)) {
        if super::tree::stat_of(pid).is_some_and(|p| p.state == 'Z' && p.pgrp != own_group)
            && let Ok(status) = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG))
            && status.pid().is_some()
        {
            reaped.push(pid);
        }
    }
    reaped
}

/// How long the reaper lets SIGCHLDs gather before it scans. When a fleet stops at once, every
/// gateway's exit sends one, and each scan reads the list of all of clawherd's children: one
/// scan per burst, not one per exit. An orphan stays a zombie that much longer.
pub(crate) const COALESCE: Duration = Duration::from_millis(10);

/// Reaps orphans after every SIGCHLD (at most one scan per [`COALESCE`]) until the task is
/// dropped. Signals coalesce, so each one means "re-check", and one scan reaps all that are
/// waiting.
///
/// Errors: the SIGCHLD handler cannot be installed.
pub(crate) async fn run() -> std::io::Result<()> {
    let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
    loop {
        sigchld.recv().await;
        tokio::time::sleep(COALESCE).await;
        for pid in reap_orphans() {
            tracing::debug!(pid, "reaped orphan");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    /// Waits (generously) until `pid` is a zombie.
    fn until_zombie(pid: i32) {
        let end = Instant::now() + Duration::from_secs(60);
        while super::super::tree::stat_of(pid).is_none_or(|p| p.state != 'Z') {
            assert!(Instant::now() < end, "{pid} never became a zombie");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_child_of_the_embedding_program_is_left_to_it() {
        // std's Command keeps our process group: the embedding program's own child.
        let mut own = std::process::Command::new("true").spawn().expect("true");
        until_zombie(own.id() as i32);
        assert!(!reap_orphans().contains(&(own.id() as i32)));
        assert!(own.wait().expect("its owner still reaps it").success());
    }

    #[test]
    #[allow(clippy::zombie_processes, reason = "reap_orphans is what reaps it, and the test checks that")]
    fn an_orphan_from_another_process_group_is_reaped() {
        // Stands for a gateway's worker adopted by the subreaper: outside our process group.
        let adopted = std::process::Command::new("true").process_group(0).spawn().expect("true");
        let pid = adopted.id() as i32;
        until_zombie(pid);
        assert_eq!(reap_orphans(), vec![pid]);
    }
}
