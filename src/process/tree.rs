//! Reading the process table from `/proc`: who belongs to an instance, and who owns a socket.
//!
//! An instance's tree is the union of (1) its leader's process group, (2) the leader's
//! descendants by parent pid, and (3) every process whose environment carries the instance's
//! `CLAWHERD_INSTANCE` marker. OpenClaw's spawn broker runs in its own session (docs/openclaw.md, "Lifecycle"), so
//! (1) misses it; after the leader dies its children re-parent to us (subreaper), so (2) misses
//! them; (3) finds them, and also finds leftovers after clawherd itself was SIGKILLed.
//! A marker can be scrubbed by a tool that clears its environment; cgroups would close that gap.

use procfs::process::{FDTarget, Process};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The variable clawherd sets in every child to find its tree later.
#[cfg_attr(not(test), allow(dead_code, reason = "only the unit tests use it"))]
pub(crate) const MARKER_VAR: &str = "CLAWHERD_INSTANCE";

/// `MARKER_VAR=`, as it starts an entry of `/proc/PID/environ`.
const MARKER_PREFIX: &[u8] = b"CLAWHERD_INSTANCE=";

/// One clawherd daemon, told apart from any later process that reuses its pid by its start
/// time: the owner written into every marker, so that a process whose daemon still lives is
/// never taken for a leftover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DaemonId {
    /// The daemon's pid.
    pub pid: i32,
    /// Its start time in clock ticks since boot (`/proc/PID/stat` field 22); 0 when it could
    /// not be read, and then only the pid is compared.
    pub starttime: u64,
}

impl DaemonId {
    /// This process, read once from `/proc/self/stat`.
    pub(crate) fn current() -> DaemonId {
        static ME: std::sync::OnceLock<DaemonId> = std::sync::OnceLock::new();
        *ME.get_or_init(|| {
            let pid = std::process::id() as i32;
            DaemonId {
                pid,
                starttime: stat_of(pid).map_or(0, |p| p.starttime),
            }
        })
    }

    /// Whether this daemon still runs: its pid names a live process (not a zombie) with the
    /// same start time.
    pub(crate) fn is_alive(self) -> bool {
        stat_of(self.pid).is_some_and(|p| p.state != 'Z' && (self.starttime == 0 || p.starttime == self.starttime))
    }
}

/// A parsed `CLAWHERD_INSTANCE` value: `<pid>.<starttime>:<profile>@<fleet file>`, where the
/// part before `:` names the daemon that spawned the process ([`DaemonId`]). Markers of older
/// clawherds (`<profile>@<fleet file>`) parse with no daemon, so they are leftovers whenever
/// they are found at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The daemon that spawned the process, when the marker names it.
    pub daemon: Option<DaemonId>,
    /// `<profile>@<fleet file>`: which instance of which fleet, whichever daemon runs it.
    pub instance: String,
}

impl Marker {
    /// The marker of `profile` of the fleet file at `fleet`, spawned by `daemon`.
    pub(crate) fn new(daemon: DaemonId, profile: &str, fleet: &std::path::Path) -> Marker {
        Marker {
            daemon: Some(daemon),
            instance: format!("{profile}@{}", fleet.display()),
        }
    }

    /// Reads a marker. A value without a well-formed daemon part is taken whole as the
    /// instance (an older clawherd's marker, or a foreign one), never refused.
    pub(crate) fn parse(value: &str) -> Marker {
        let (head, _) = value.split_once('@').unwrap_or((value, ""));
        let daemon = head.split_once(':').and_then(|(d, _)| {
            let (pid, start) = d.split_once('.')?;
            Some(DaemonId {
                pid: pid.parse().ok().filter(|p: &i32| *p > 0)?,
                starttime: start.parse().ok()?,
            })
        });
        match (daemon, value.split_once(':')) {
            (Some(d), Some((_, instance))) => Marker {
                daemon: Some(d),
                instance: instance.to_string(),
            },
            _ => Marker {
                daemon: None,
                instance: value.to_string(),
            },
        }
    }
}

impl std::fmt::Display for Marker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.daemon {
            Some(d) => write!(f, "{}.{}:{}", d.pid, d.starttime, self.instance),
            None => f.write_str(&self.instance),
        }
    }
}

/// The instance part (`<profile>@<fleet file>`) of the marker of `pid`, whichever daemon
/// spawned it; `None` as for [`marker_of`].
pub(crate) fn instance_of(pid: i32) -> Option<String> {
    marker_of(pid).map(|m| Marker::parse(&m).instance)
}

/// One process as read from `/proc/PID/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcInfo {
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
    /// Resident set size, pages (`procfs::page_size()` bytes each).
    pub rss_pages: u64,
    /// User + system CPU time, clock ticks.
    pub cpu_ticks: u64,
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
        rss_pages: s.rss,
        cpu_ticks: s.utime + s.stime,
    }
}

/// Every process visible now. Processes that vanish while reading are skipped.
pub(crate) fn snapshot() -> Vec<ProcInfo> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok).filter_map(|p| p.stat().ok()).map(info).collect()
}

/// The `CLAWHERD_INSTANCE` marker of `pid`, if readable: one open and read of
/// `/proc/PID/environ` (the environment the process was started with). `None` when the process
/// is gone, is not ours to read (another user's, without CAP_SYS_PTRACE), is a kernel thread
/// (empty environment), or carries no marker.
pub(crate) fn marker_of(pid: i32) -> Option<String> {
    let environ = read_proc(&format!("/proc/{pid}/environ"), 4096)?;
    marker_in(&environ).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The whole content of a `/proc` file, read into a buffer of `capacity` bytes to begin with
/// (grown as needed). A `/proc` file reports size 0, so reading it as a regular file
/// (`read_to_string`) would first `statx` it and then read it in pieces of 32, 32, 64, ... bytes:
/// nine system calls for an environment of 2 KB, where this makes three (open, read, EOF).
fn read_proc(path: &str, capacity: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut content = Vec::with_capacity(capacity);
    std::fs::File::open(path).ok()?.read_to_end(&mut content).ok()?;
    Some(content)
}

/// The value of `CLAWHERD_INSTANCE` in a NUL-separated environment block (the format of
/// `/proc/PID/environ`); the first one wins, as `getenv` does.
fn marker_in(environ: &[u8]) -> Option<&[u8]> {
    environ.split(|b| *b == 0).find_map(|kv| kv.strip_prefix(MARKER_PREFIX))
}

/// The command line of `pid`, joined with spaces (the gateway rewrites its title, so this may
/// be just `openclaw-gateway`).
pub(crate) fn cmdline_of(pid: i32) -> String {
    Process::new(pid).and_then(|p| p.cmdline()).map(|v| v.join(" ")).unwrap_or_default()
}

/// Members of an instance's tree (see the module doc), excluding clawherd itself and zombies.
/// `leader` is the gateway's pid (= its process group) if one is running.
pub(crate) fn tree_members(procs: &[ProcInfo], leader: Option<i32>, marker: &str) -> Vec<ProcInfo> {
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
pub(crate) fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        // About 7 bytes per child: one read for a few hundred children.
        if let Some(text) = t.path().join("children").to_str().and_then(|p| read_proc(p, 4096)) {
            out.extend(
                text.split(u8::is_ascii_whitespace)
                    .filter_map(|p| std::str::from_utf8(p).ok()?.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// `/proc/PID/stat` of one process, if it exists.
pub(crate) fn stat_of(pid: i32) -> Option<ProcInfo> {
    Process::new(pid).ok()?.stat().ok().map(info)
}

/// The live tree of an instance, cheaply: the leader and its descendants, plus clawherd's own
/// children that carry `marker` and are not a registered gateway (`is_leader`), with their
/// descendants. Complete while clawherd is the subreaper: every orphan of the tree lands on
/// clawherd, so nothing else needs to be read. Zombies are excluded. For processes left by an
/// earlier clawherd (re-parented to init), use [`tree_members`] over a full [`snapshot`].
pub(crate) fn live_tree(leader: Option<i32>, marker: &str, is_leader: &dyn Fn(i32) -> bool) -> Vec<ProcInfo> {
    live_trees(&[(leader, marker)], is_leader).into_iter().next().unwrap_or_default()
}

/// [`live_tree`] of several instances, each given as (leader, marker), in their order. clawherd's
/// own children are read once for all of them (a whole-fleet `status` of 1,000 instances would
/// otherwise read the list of 1,000 children 1,000 times).
pub(crate) fn live_trees(instances: &[(Option<i32>, &str)], is_leader: &dyn Fn(i32) -> bool) -> Vec<Vec<ProcInfo>> {
    live_trees_with(&own_orphans(is_leader), instances)
}

/// clawherd's own children that are not gateways (`is_leader`), each with its marker: orphans
/// of some tree. Children without a marker are left out.
fn own_orphans(is_leader: &dyn Fn(i32) -> bool) -> Orphans {
    let me = std::process::id() as i32;
    children_of(me)
        .into_iter()
        .filter(|c| !is_leader(*c))
        .filter_map(|c| Some((c, marker_of(c)?)))
        .collect()
}

/// clawherd's children that are not gateways, with their markers ([`own_orphans`]).
pub(crate) type Orphans = Vec<(i32, String)>;

/// The reads of [`shared_orphans`].
struct Census {
    /// Requests made so far.
    asked: u64,
    /// The last read, and the requests it answers (those made before it began).
    last: Option<(u64, std::sync::Arc<Orphans>)>,
}

static CENSUS: std::sync::Mutex<Census> = std::sync::Mutex::new(Census { asked: 0, last: None });

/// [`own_orphans`], read once for every caller that asks in the same turn of the runtime: the
/// caller yields once, and a read that began after its request answers it too. Each read
/// lists all of clawherd's children (1,000 at 1,000 instances): when a whole fleet stops, every
/// instance's take-down asks within a few turns, and one read per turn replaces one per
/// instance. A read that began after the request sees every process that was clawherd's child
/// when it was made (an exited gateway's children were re-parented before its exit showed).
/// `is_leader` tells the gateways apart; every caller passes the same one (the daemon's
/// registry of gateways), as a read answers them all.
pub(crate) async fn shared_orphans(is_leader: fn(i32) -> bool) -> std::sync::Arc<Orphans> {
    let census = || CENSUS.lock().unwrap_or_else(|e| e.into_inner());
    let ticket = {
        let mut c = census();
        c.asked += 1;
        c.asked
    };
    tokio::task::yield_now().await;
    let asked = {
        let c = census();
        if let Some((answers, read)) = &c.last
            && *answers >= ticket
        {
            return read.clone();
        }
        c.asked
    };
    let read = std::sync::Arc::new(own_orphans(&is_leader));
    let mut c = census();
    if c.last.as_ref().is_none_or(|(answers, _)| *answers < asked) {
        c.last = Some((asked, read.clone()));
    }
    read
}

/// [`live_trees`] from a list of orphans already read.
pub(crate) fn live_trees_with(orphans: &[(i32, String)], instances: &[(Option<i32>, &str)]) -> Vec<Vec<ProcInfo>> {
    let me = std::process::id() as i32;
    instances
        .iter()
        .map(|(leader, marker)| {
            let mut roots: Vec<i32> = leader.iter().copied().collect();
            roots.extend(orphans.iter().filter(|(c, m)| Some(*c) != *leader && m == marker).map(|(c, _)| *c));
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
        })
        .collect()
}

/// Every live process (not a zombie, not clawherd) whose marker names a profile of the fleet
/// whose markers end in `@<fleet path>`, grouped by marker. Used at start to find leftovers of
/// a SIGKILLed clawherd, before anything is spawned.
///
/// One pass over `/proc` that reads each process's environment and nothing else; only a
/// process that carries such a marker has its `stat` read. This is on the start-up path of
/// every `clawherd run`, which reads every process on the host: a full [`snapshot`] first
/// would open each process twice more.
pub(crate) fn marked_processes(fleet_suffix: &str) -> BTreeMap<String, Vec<ProcInfo>> {
    let me = std::process::id() as i32;
    let mut out: BTreeMap<String, Vec<ProcInfo>> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Some(marker) = marker_of(pid).filter(|m| m.ends_with(fleet_suffix)) else {
            continue;
        };
        if let Some(p) = stat_of(pid).filter(|p| p.state != 'Z') {
            out.entry(marker).or_default().push(p);
        }
    }
    out
}

/// The pid holding each of `inodes` open, for processes we may read. Unknown inodes are absent.
pub(crate) fn socket_owners(inodes: &BTreeSet<u64>) -> HashMap<u64, i32> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_found_in_an_environment_block_wherever_it_is() {
        assert_eq!(MARKER_PREFIX, format!("{MARKER_VAR}=").as_bytes());
        assert_eq!(
            marker_in(b"CLAWHERD_INSTANCE=main@/f.yaml\0PATH=/bin\0"),
            Some(&b"main@/f.yaml"[..])
        );
        assert_eq!(
            marker_in(b"PATH=/bin\0CLAWHERD_INSTANCE=rescue@/f.yaml"),
            Some(&b"rescue@/f.yaml"[..])
        );
        assert_eq!(marker_in(b"A=1\0CLAWHERD_INSTANCE=\0"), Some(&b""[..]));
        // Only a whole key matches, and the first occurrence wins (as getenv).
        assert_eq!(marker_in(b"XCLAWHERD_INSTANCE=no\0CLAWHERD_INSTANCEX=no\0"), None);
        assert_eq!(marker_in(b"CLAWHERD_INSTANCE=a\0CLAWHERD_INSTANCE=b\0"), Some(&b"a"[..]));
        assert_eq!(marker_in(b""), None);
    }

    #[test]
    fn a_marker_names_its_daemon_and_older_markers_still_parse() {
        let me = DaemonId::current();
        assert!(me.is_alive());
        assert!(me.starttime > 0, "start time read from /proc/self/stat");
        let m = Marker::new(me, "main", std::path::Path::new("/srv/a@b:c/fleet.yaml"));
        let text = m.to_string();
        assert_eq!(text, format!("{}.{}:main@/srv/a@b:c/fleet.yaml", me.pid, me.starttime));
        assert_eq!(Marker::parse(&text), m);
        // An older clawherd's marker: no daemon, the whole value is the instance.
        let old = Marker::parse("main@/srv/a:b/fleet.yaml");
        assert_eq!((old.daemon, old.instance.as_str()), (None, "main@/srv/a:b/fleet.yaml"));
        assert_eq!(Marker::parse("x.y:main@/f").daemon, None);
        assert_eq!(Marker::parse("").instance, "");
        // Same pid, another start time: the pid was reused, that daemon is dead.
        assert!(
            !DaemonId {
                starttime: me.starttime + 1,
                ..me
            }
            .is_alive()
        );
    }

    /// `sleep 30` carrying `marker`, in a process group of its own with `own_group` (as an
    /// orphan adopted from a gateway's tree); returned once its marker can be read (`spawn`
    /// returns once the child is inside execve, and the kernel fills in the new image's
    /// environment a moment later: until then /proc/PID/environ reads empty).
    fn marked_sleeper(marker: &str, own_group: bool) -> (std::process::Child, i32) {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30").env(MARKER_VAR, marker);
        if own_group {
            cmd.process_group(0);
        }
        let child = cmd.spawn().expect("spawn sleep");
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while marker_of(pid).is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        (child, pid)
    }

    #[tokio::test]
    async fn a_shared_read_of_the_orphans_is_never_older_than_the_request() {
        let marker = format!("orphan-{}@/tmp/tree-census.yaml", std::process::id());
        let mine = |o: &[(i32, String)]| o.iter().filter(|(_, m)| *m == marker).count();
        let no_gateway = |_| false;
        // A read made before the orphan existed...
        assert_eq!(mine(&shared_orphans(no_gateway).await), 0);
        // ...does not answer a request made after: the orphan, carrying the marker, is seen.
        let (mut child, _) = marked_sleeper(&marker, true);
        // Two requests in the same turn (they share one read) both see it.
        let (a, b) = tokio::join!(shared_orphans(no_gateway), shared_orphans(no_gateway));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!((mine(&a), mine(&b)), (1, 1), "{a:?}");
    }

    #[test]
    fn a_marked_child_is_found_by_its_fleet_suffix_and_nothing_else_is() {
        let suffix = format!("@/tmp/tree-test-{}.yaml", std::process::id());
        let (mut child, pid) = marked_sleeper(&format!("p1{suffix}"), false);
        assert_eq!(marker_of(pid).as_deref(), Some(format!("p1{suffix}").as_str()));
        let found = marked_processes(&suffix);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[&format!("p1{suffix}")].iter().map(|p| p.pid).collect::<Vec<_>>(), vec![pid]);
        assert!(marked_processes(&format!("{suffix}.other")).is_empty());
        assert_eq!(marker_of(std::process::id() as i32), None);
    }
}
