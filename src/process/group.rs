//! Signalling an instance's process group and tree, and waiting for the tree to be gone.
//!
//! A stop is SIGTERM to the gateway's process group (`killpg`), the stop timeout, then SIGKILL
//! to every member of the tree ([`super::tree::tree_members`]), which includes the spawn broker
//! that lives in its own session (docs/openclaw.md, "Lifecycle"). Never SIGHUP (no handler: immediate death, 129) or
//! SIGUSR1 (opens the Node inspector on the shared port 9229).

use super::tree::{self, ProcInfo};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::time::Duration;
use tokio::time::Instant;

/// How often the tree is re-read while waiting for it to be gone (bounded by a deadline).
const TREE_POLL: Duration = Duration::from_millis(25);

/// Sends `sig` to process group `pgid`; a group already gone is not an error.
pub(crate) fn signal_group(pgid: i32, sig: Signal) {
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid, signal = %sig, error = %e, "killpg failed"),
    }
}

/// Where to look for an instance's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The live tree under clawherd (leader's descendants and clawherd's own marked orphans):
    /// a few `/proc` reads, used for every exit and stop.
    Live,
    /// Every process on the host carrying the marker: leftovers of an earlier clawherd, which
    /// were re-parented to init.
    #[allow(
        dead_code,
        reason = "nothing chooses this scope today (not even the tests); kept with the host scan it uses"
    )]
    Host,
}

fn members(scope: Scope, leader: Option<i32>, marker: &str) -> Vec<ProcInfo> {
    match scope {
        Scope::Live => tree::live_tree(leader, marker, &super::reaper::is_leader),
        Scope::Host => tree::tree_members(&tree::snapshot(), leader, marker),
    }
}

/// Sends `sig` to each member, after checking that the pid still names the same process
/// (same start time), so a recycled pid is never signalled.
pub(crate) fn signal_members(members: &[ProcInfo], sig: Signal) {
    for m in members {
        if tree::stat_of(m.pid).is_some_and(|p| p.starttime == m.starttime) {
            let _ = kill(Pid::from_raw(m.pid), sig);
        }
    }
}

/// Brings the rest of a tree down after its leader exited: SIGTERM (and SIGCONT, so a stopped
/// one can act on it) to every member, then SIGKILL to those still there after `grace`, then
/// waits (bounded) until none is left. Returns the members that were found at first.
pub(crate) async fn take_down(scope: Scope, leader: Option<i32>, marker: &str, grace: Duration) -> Vec<ProcInfo> {
    let found = match scope {
        // The first look shares its read of clawherd's children with the take-downs that start
        // in the same turn (a fleet's shutdown starts one per instance).
        Scope::Live => {
            let orphans = tree::shared_orphans(super::reaper::is_leader).await;
            tree::live_trees_with(&orphans, &[(leader, marker)]).pop().unwrap_or_default()
        }
        Scope::Host => members(scope, leader, marker),
    };
    if found.is_empty() {
        return found;
    }
    signal_members(&found, Signal::SIGTERM);
    signal_members(&found, Signal::SIGCONT);
    if !wait_gone(scope, leader, marker, super::later(Instant::now(), grace)).await {
        let left = members(scope, leader, marker);
        signal_members(&left, Signal::SIGKILL);
        if !wait_gone(scope, leader, marker, Instant::now() + Duration::from_secs(10)).await {
            tracing::error!(marker, "processes survived SIGKILL for 10 s (uninterruptible sleep?)");
        }
    }
    found
}

/// Like [`take_down`], for many trees at once, as `find` lists them (read again on every poll,
/// so a member spawned meanwhile is found too): SIGTERM (and SIGCONT) to all of them together,
/// one shared `grace`, SIGKILL to all that are left, then waits (bounded, 10 s) until `find`
/// lists nothing. Takes at most `grace` + 10 s, however many trees there are. Returns the
/// processes found at first.
pub(crate) async fn take_down_together(find: impl Fn() -> Vec<ProcInfo>, grace: Duration) -> Vec<ProcInfo> {
    let found = find();
    if found.is_empty() {
        return found;
    }
    signal_members(&found, Signal::SIGTERM);
    signal_members(&found, Signal::SIGCONT);
    let gone_by = |deadline: Instant| {
        let find = &find;
        async move {
            loop {
                if find().is_empty() {
                    return true;
                }
                if Instant::now() >= deadline {
                    return false;
                }
                tokio::time::sleep(TREE_POLL).await;
            }
        }
    };
    if !gone_by(Instant::now() + grace).await {
        signal_members(&find(), Signal::SIGKILL);
        if !gone_by(Instant::now() + Duration::from_secs(10)).await {
            tracing::error!("processes survived SIGKILL for 10 s (uninterruptible sleep?)");
        }
    }
    found
}

/// SIGKILLs every member of the live tree at once and waits (bounded, 10 s) until none is left.
pub(crate) async fn kill_all(leader: Option<i32>, marker: &str) {
    let found = members(Scope::Live, leader, marker);
    signal_members(&found, Signal::SIGKILL);
    if let Some(l) = leader {
        signal_group(l, Signal::SIGKILL);
    }
    let _ = wait_gone(Scope::Live, leader, marker, Instant::now() + Duration::from_secs(10)).await;
}

/// Waits until the tree has no member, or `deadline`; true if it is gone.
pub(crate) async fn wait_gone(scope: Scope, leader: Option<i32>, marker: &str, deadline: Instant) -> bool {
    loop {
        if members(scope, leader, marker).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(TREE_POLL).await;
    }
}
