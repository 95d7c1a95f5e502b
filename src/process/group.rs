//! Signalling an instance's process group and tree, and waiting for the tree to be gone.
//!
//! A stop is SIGTERM to the gateway's process group (`killpg`), the stop timeout, then SIGKILL
//! to every member of the tree ([`super::tree::tree_members`]), which includes the spawn broker
//! that lives in its own session (facts §4). Never SIGHUP (no handler: immediate death, 129) or
//! SIGUSR1 (opens the Node inspector on the shared port 9229).

use super::tree::{self, ProcInfo};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::time::Duration;
use tokio::time::Instant;

/// How often the tree is re-read while waiting for it to be gone (bounded by a deadline).
const TREE_POLL: Duration = Duration::from_millis(25);

/// Sends `sig` to process group `pgid`; a group already gone is not an error.
pub fn signal_group(pgid: i32, sig: Signal) {
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid, signal = %sig, error = %e, "killpg failed"),
    }
}

/// Sends `sig` to each member, after checking that the pid still names the same process
/// (same start time), so a recycled pid is never signalled.
pub fn signal_members(members: &[ProcInfo], sig: Signal) {
    let now = tree::snapshot();
    for m in members {
        let same = now.iter().any(|p| p.pid == m.pid && p.starttime == m.starttime);
        if same {
            let _ = kill(Pid::from_raw(m.pid), sig);
        }
    }
}

/// Brings the rest of a tree down after its leader exited: SIGTERM to every member, then
/// SIGKILL to those still there after `grace`, then waits (bounded) until none is left.
/// Returns the members that were found at first.
pub async fn take_down(leader: Option<i32>, marker: &str, grace: Duration) -> Vec<ProcInfo> {
    let members = tree::tree_members(&tree::snapshot(), leader, marker);
    if members.is_empty() {
        return members;
    }
    signal_members(&members, Signal::SIGTERM);
    signal_members(&members, Signal::SIGCONT);
    if !wait_gone(leader, marker, Instant::now() + grace).await {
        let left = tree::tree_members(&tree::snapshot(), leader, marker);
        signal_members(&left, Signal::SIGKILL);
        if !wait_gone(leader, marker, Instant::now() + Duration::from_secs(10)).await {
            tracing::error!(marker, "processes survived SIGKILL for 10 s (uninterruptible sleep?)");
        }
    }
    members
}

/// SIGKILLs every member of the tree at once and waits (bounded, 10 s) until none is left.
pub async fn kill_all(leader: Option<i32>, marker: &str) {
    let members = tree::tree_members(&tree::snapshot(), leader, marker);
    signal_members(&members, Signal::SIGKILL);
    if let Some(l) = leader {
        signal_group(l, Signal::SIGKILL);
    }
    let _ = wait_gone(leader, marker, Instant::now() + Duration::from_secs(10)).await;
}

/// Waits until the tree has no member, or `deadline`; true if it is gone.
pub async fn wait_gone(leader: Option<i32>, marker: &str, deadline: Instant) -> bool {
    loop {
        if tree::tree_members(&tree::snapshot(), leader, marker).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(TREE_POLL).await;
    }
}
