//! Reading the process table from `/proc`: who belongs to an instance, and who owns a socket.
//!
//! An instance's tree is the union of (1) its leader's process group, (2) the leader's
//! descendants by parent pid, and (3) every process whose environment carries the instance's
//! `CLAWHERD_INSTANCE` marker. OpenClaw's spawn broker runs in its own session (facts §4), so
//! (1) misses it; after the leader dies its children re-parent to us (subreaper), so (2) misses
//! them; (3) finds them, and also finds leftovers after clawherd itself was SIGKILLed.
//! A marker can be scrubbed by a tool that clears its environment; cgroups would close that gap.

use procfs::process::{FDTarget, Process};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The variable clawherd sets in every child to find its tree later.
pub const MARKER_VAR: &str = "CLAWHERD_INSTANCE";

/// One process as read from `/proc/PID/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// Process id.
    pub pid: i32,
    /// Parent pid.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// Start time in clock ticks since boot; with `pid` it identifies a process across pid reuse.
    pub starttime: u64,
    /// Command name (`comm`, 15 chars).
    pub comm: String,
    /// State letter (`R`, `S`, `Z`, ...).
    pub state: char,
}

fn info(s: procfs::process::Stat) -> ProcInfo {
    ProcInfo {
        pid: s.pid,
        ppid: s.ppid,
        pgrp: s.pgrp,
        session: s.session,
        starttime: s.starttime,
        comm: s.comm,
        state: s.state,
    }
}

/// Every process visible now. Processes that vanish while reading are skipped.
pub fn snapshot() -> Vec<ProcInfo> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok).filter_map(|p| p.stat().ok()).map(info).collect()
}

/// The `CLAWHERD_INSTANCE` marker of `pid`, if readable.
pub fn marker_of(pid: i32) -> Option<String> {
    let env = Process::new(pid).ok()?.environ().ok()?;
    env.get(std::ffi::OsStr::new(MARKER_VAR)).map(|v| v.to_string_lossy().into_owned())
}

/// The command line of `pid`, joined with spaces (the gateway rewrites its title, so this may
/// be just `openclaw-gateway`).
pub fn cmdline_of(pid: i32) -> String {
    Process::new(pid).and_then(|p| p.cmdline()).map(|v| v.join(" ")).unwrap_or_default()
}

/// Members of an instance's tree (see the module doc), excluding clawherd itself and zombies.
/// `leader` is the gateway's pid (= its process group) if one is running.
pub fn tree_members(procs: &[ProcInfo], leader: Option<i32>, marker: &str) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let mut members: BTreeMap<i32, ProcInfo> = BTreeMap::new();
    if let Some(leader) = leader {
        let mut frontier = vec![leader];
        let mut children: HashMap<i32, Vec<&ProcInfo>> = HashMap::new();
        for p in procs {
            children.entry(p.ppid).or_default().push(p);
        }
        for p in procs.iter().filter(|p| p.pgrp == leader || p.pid == leader) {
            members.insert(p.pid, p.clone());
            frontier.push(p.pid);
        }
        let mut seen = BTreeSet::new();
        while let Some(pid) = frontier.pop() {
            if !seen.insert(pid) {
                continue;
            }
            for c in children.get(&pid).into_iter().flatten() {
                members.insert(c.pid, (*c).clone());
                frontier.push(c.pid);
            }
        }
    }
    for p in procs {
        if !members.contains_key(&p.pid) && p.pid != me && marker_of(p.pid).as_deref() == Some(marker) {
            members.insert(p.pid, p.clone());
        }
    }
    members.into_values().filter(|p| p.pid != me && p.state != 'Z').collect()
}

/// Direct children of `pid` (of all its threads), from `/proc/PID/task/*/children`
/// (CONFIG_PROC_CHILDREN). Empty if `pid` is gone.
pub fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    out
}

/// `/proc/PID/stat` of one process, if it exists.
pub fn stat_of(pid: i32) -> Option<ProcInfo> {
    Process::new(pid).ok()?.stat().ok().map(info)
}

/// The live tree of an instance, cheaply: the leader and its descendants, plus clawherd's own
/// children that carry `marker` and are not a registered gateway (`is_leader`), with their
/// descendants. Complete while clawherd is the subreaper: every orphan of the tree lands on
/// clawherd, so nothing else needs to be read. Zombies are excluded. For processes left by an
/// earlier clawherd (re-parented to init), use [`tree_members`] over a full [`snapshot`].
pub fn live_tree(leader: Option<i32>, marker: &str, is_leader: &dyn Fn(i32) -> bool) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let mut roots: Vec<i32> = leader.into_iter().collect();
    for c in children_of(me) {
        if Some(c) != leader && !is_leader(c) && marker_of(c).as_deref() == Some(marker) {
            roots.push(c);
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while let Some(pid) = roots.pop() {
        if pid == me || !seen.insert(pid) {
            continue;
        }
        if let Some(info) = stat_of(pid) {
            roots.extend(children_of(pid));
            if info.state != 'Z' {
                out.push(info);
            }
        }
    }
    out
}

/// Every process (pid) whose marker names a profile of the fleet whose markers end in
/// `@<fleet path>`, grouped by marker. Used at start to find leftovers of a SIGKILLed clawherd.
pub fn marked_processes(procs: &[ProcInfo], fleet_suffix: &str) -> BTreeMap<String, Vec<ProcInfo>> {
    let me = std::process::id() as i32;
    let mut out: BTreeMap<String, Vec<ProcInfo>> = BTreeMap::new();
    for p in procs.iter().filter(|p| p.pid != me && p.state != 'Z') {
        if let Some(m) = marker_of(p.pid).filter(|m| m.ends_with(fleet_suffix)) {
            out.entry(m).or_default().push(p.clone());
        }
    }
    out
}

/// The pid holding each of `inodes` open, for processes we may read. Unknown inodes are absent.
pub fn socket_owners(inodes: &BTreeSet<u64>) -> HashMap<u64, i32> {
    let mut owners = HashMap::new();
    let Ok(all) = procfs::process::all_processes() else { return owners };
    for p in all.filter_map(Result::ok) {
        let Ok(fds) = p.fd() else { continue };
        for fd in fds.filter_map(Result::ok) {
            if let FDTarget::Socket(inode) = fd.target
                && inodes.contains(&inode)
            {
                owners.entry(inode).or_insert(p.pid);
            }
        }
    }
    owners
}
