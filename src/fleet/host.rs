//! Checks a plan against this host: a port of the plan already bound by a process outside the
//! fleet means the gateway would fail to bind (exit 1 after ~16.5 s, OpenClaw's bind retry in
//! `dist/run-*.mjs`) or, worse, a CDP client would talk to somebody else's browser.

use super::diagnostic::Diagnostic;
use super::isolation::Occupancy;
use super::plan::{GatewayPaths, OPENCLAW_PORTS, PortRange};
use super::{Flavor, Plan, Profile};
use crate::process::tree;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One diagnostic per listener that meets a port bound by a process that is not this instance's
/// own (its `CLAWHERD_INSTANCE` marker names the instance of `marker_for(profile)`, whichever
/// daemon spawned it: a running daemon's or a dead one's leftover). Names the owner's pid and
/// command when readable (and the fleet and profile when it is another clawherd fleet's
/// gateway), and the nearest base port whose whole footprint is free of every planned port and of
/// the footprint a gateway on each bound port may use (base..=base+110).
pub fn check_bound_ports(instances: &[(Profile, Plan)], marker_for: &dyn Fn(&str) -> String) -> Vec<Diagnostic> {
    let bound = crate::process::listeners::listening_ports();
    if bound.is_empty() {
        return Vec::new();
    }
    // Owners are looked up (a walk over every process's fds) only for bound ports the plan meets.
    let planned = |port: u16| {
        instances
            .iter()
            .any(|(_, plan)| plan.listeners.iter().any(|l| l.range.contains(u32::from(port))))
    };
    let inodes: BTreeSet<u64> = bound.iter().filter(|(p, _)| planned(*p)).map(|(_, i)| *i).collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let owners = tree::socket_owners(&inodes);
    let markers: BTreeMap<i32, Option<String>> = owners.values().map(|pid| (*pid, tree::marker_of(*pid))).collect();
    // A marker names its daemon too; the instance part says whose gateway it is.
    let instance_of = |pid: i32| markers.get(&pid).cloned().flatten().map(|m| tree::Marker::parse(&m).instance);
    let ours: BTreeSet<String> = instances
        .iter()
        .map(|(p, _)| tree::Marker::parse(&marker_for(&p.name)).instance)
        .collect();
    // Hints avoid every planned listener and the footprint of every port bound outside the fleet.
    let occupancy = std::cell::OnceCell::new();
    let occupancy = || {
        occupancy.get_or_init(|| {
            let foreign = bound.iter().filter(|(_, inode)| {
                let instance = owners.get(inode).and_then(|pid| instance_of(*pid));
                instance.is_none_or(|i| !ours.contains(&i))
            });
            let footprints = foreign.map(|(p, _)| PortRange {
                lo: u32::from(*p),
                hi: u32::from(*p) + gateway_reach(),
            });
            let planned = instances.iter().flat_map(|(_, pl)| pl.listeners.iter().map(|l| l.range));
            Occupancy::new(footprints.chain(planned))
        })
    };
    let mut out = Vec::new();
    for (profile, plan) in instances {
        let own = tree::Marker::parse(&marker_for(&profile.name)).instance;
        let foreign: Vec<(u16, Option<i32>)> = bound
            .iter()
            .map(|(port, inode)| (*port, owners.get(inode).copied()))
            .filter(|(_, owner)| owner.is_none_or(|pid| instance_of(pid).as_deref() != Some(own.as_str())))
            .collect();
        for l in &plan.listeners {
            let hits: Vec<&(u16, Option<i32>)> = foreign.iter().filter(|(p, _)| l.range.contains(u32::from(*p))).collect();
            let Some((port, owner)) = hits.first() else { continue };
            let holder = owner.map(|pid| Holder::of(pid, markers.get(&pid).cloned().flatten()));
            let who = match &holder {
                Some(h) => h.to_string(),
                None => "a process clawherd cannot inspect (another user, another namespace, or one still exiting)".to_string(),
            };
            let mut d = Diagnostic::error(
                l.source.place_or(&profile.place),
                format!("port {port} of {} {} is already bound on this host by {who}", l.name, l.range),
            )
            .profile(&profile.name)
            .key("port");
            if hits.len() > 1 {
                d = d.note(format!("{} ports of this range are bound", hits.len()));
            }
            let stop = match &holder {
                Some(Holder::Clawherd { profile: p, fleet, .. }) => format!("stop it (`clawherd stop {p} -f {fleet}`)"),
                _ => "stop that process".to_string(),
            };
            let fix = match (l.base_offset, occupancy().suggest_base(plan, true)) {
                (Some(_), Some(b)) => format!(
                    "{stop}, or set profile '{}' base port to {b} (its whole footprint is free of every bound and planned port)",
                    profile.name
                ),
                _ => format!("{stop}, or move {} elsewhere", l.source),
            };
            out.push(d.hint(fix));
        }
    }
    out
}

/// How far above its base port a gateway may listen: the top of OpenClaw's port layout (110).
fn gateway_reach() -> u32 {
    OPENCLAW_PORTS.iter().map(|r| r.offset.1).max().unwrap_or(0)
}

/// The process holding a bound port.
enum Holder {
    /// A gateway of another clawherd fleet (its `CLAWHERD_INSTANCE` marker `<profile>@<fleet file>`).
    Clawherd {
        /// Its pid.
        pid: i32,
        /// The profile in that fleet.
        profile: String,
        /// That fleet's file.
        fleet: String,
    },
    /// Any other process.
    Other(i32),
}

impl Holder {
    fn of(pid: i32, marker: Option<String>) -> Holder {
        let instance = marker.map(|m| tree::Marker::parse(&m).instance);
        match instance.as_deref().and_then(|m| m.split_once('@')) {
            Some((profile, fleet)) => Holder::Clawherd {
                pid,
                profile: profile.to_string(),
                fleet: fleet.to_string(),
            },
            None => Holder::Other(pid),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Clawherd { pid, profile, fleet } => {
                write!(
                    f,
                    "pid {pid}, profile '{profile}' of the clawherd fleet {fleet} ({})",
                    describe(*pid)
                )
            }
            Holder::Other(pid) => write!(f, "pid {pid} ({})", describe(*pid)),
        }
    }
}

/// One diagnostic per instance whose state dir is held by a live gateway that is not this
/// instance's: OpenClaw records its owner in `$STATE/tmp/openclaw-<uid>/gateway.state.lock`
/// (`dist/gateway-lock-*.mjs`), and a second gateway on a live state dir exits 78 in 1-3 s
/// (observed with openclaw@2026.9.6). A stale lock (dead pid, or a pid now used by something that is not a gateway of
/// that state dir) is ignored, as OpenClaw does.
pub fn check_state_dirs(instances: &[(Profile, Plan)], marker_for: &dyn Fn(&str) -> String) -> Vec<Diagnostic> {
    let uid = nix::unistd::geteuid();
    let mut out = Vec::new();
    for (profile, plan) in instances {
        let Some(g) = &plan.gateway else { continue };
        if g.flavor == Flavor::Clawdbot {
            out.extend(check_clawdbot_lock(profile, plan, g, marker_for));
            continue;
        }
        // The gateway names its lock after its own uid: the profile's `user:` when set.
        let uid = plan.credentials.as_ref().map_or(uid.as_raw(), |c| c.uid);
        let lock = g.state_dir.value.join(format!("tmp/openclaw-{uid}/gateway.state.lock"));
        let Some(pid) = super::read_bounded(&lock)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("pid")?.as_i64())
        else {
            continue;
        };
        let pid = pid as i32;
        let own = tree::Marker::parse(&marker_for(&profile.name)).instance;
        if tree::instance_of(pid).as_deref() == Some(own.as_str()) || !holds_state_dir(pid, &g.state_dir.value) {
            continue;
        }
        out.push(
            Diagnostic::error(g.state_dir.source.place_or(&profile.place), format!("state dir {} is in use by a gateway clawherd did not start: pid {pid} ({})", g.state_dir.value.display(), describe(pid)))
                .profile(&profile.name)
                .key("state_dir")
                .note(format!("its lock is {}", lock.display()))
                .hint(format!("stop that gateway first (`kill {pid}`, or `openclaw gateway stop` / disable its service unit), or give this profile another state dir")),
        );
    }
    out
}

/// clawdbot's gateway lock for a config file: `<tmpdir>/clawdbot-<uid>/gateway.<first 8 hex digits
/// of sha1(config path)>.lock`, tmpdir being `TMPDIR` or `/tmp` as Node's `os.tmpdir()` gives it
/// (`resolveGatewayLockPath`, clawdbot's dist/infra/gateway-lock.js; `resolveGatewayLockDir`,
/// dist/config/paths.js). Keyed by config path: two gateways on one state dir both run.
pub fn clawdbot_lock_path(config: &Path, tmpdir: &Path, uid: u32) -> PathBuf {
    let digest = sha1_hex(config.as_os_str().as_encoded_bytes());
    tmpdir.join(format!("clawdbot-{uid}/gateway.{}.lock", &digest[..8]))
}

/// A hand-started clawdbot gateway on this instance's config: its lock names a live pid that is
/// not this instance's. The real gateway would wait 5 s for the lock and exit 1 ("lock timeout").
fn check_clawdbot_lock(profile: &Profile, plan: &Plan, g: &GatewayPaths, marker_for: &dyn Fn(&str) -> String) -> Option<Diagnostic> {
    let tmpdir = plan
        .env
        .get("TMPDIR")
        .filter(|t| !t.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let uid = plan.credentials.as_ref().map_or(nix::unistd::geteuid().as_raw(), |c| c.uid);
    let lock = clawdbot_lock_path(&g.config.value, &tmpdir, uid);
    let pid = super::read_bounded(&lock)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("pid")?.as_i64())? as i32;
    let own = tree::Marker::parse(&marker_for(&profile.name)).instance;
    if tree::instance_of(pid).as_deref() == Some(own.as_str()) || !holds_clawdbot_config(pid, &g.config.value) {
        return None;
    }
    let d = Diagnostic::error(
        g.config.source.place_or(&profile.place),
        format!(
            "config {} is in use by a clawdbot gateway clawherd did not start: pid {pid} ({})",
            g.config.value.display(),
            describe(pid)
        ),
    )
    .profile(&profile.name)
    .key(g.config.source.key().unwrap_or("config"))
    .note(format!(
        "its lock is {}; clawdbot waits 5 s for it and exits 1 (\"lock timeout\")",
        lock.display()
    ))
    .hint(format!(
        "stop that gateway first (`kill {pid}`, or disable its service unit), or give this profile a config file of its own"
    ));
    Some(d)
}

/// Whether `pid` is alive and a clawdbot gateway of `config` (its environment names that config,
/// or its command line is clawdbot's).
fn holds_clawdbot_config(pid: i32, config: &Path) -> bool {
    let Ok(proc_) = procfs::process::Process::new(pid) else {
        return false;
    };
    if proc_.stat().map(|s| s.state == 'Z').unwrap_or(true) {
        return false;
    }
    let env_match = proc_.environ().ok().is_some_and(|env| {
        env.get(std::ffi::OsStr::new("CLAWDBOT_CONFIG_PATH"))
            .is_some_and(|v| super::isolation::resolve_existing(Path::new(v)) == super::isolation::resolve_existing(config))
    });
    env_match || describe(pid).contains("clawdbot")
}

/// SHA-1 of `data` as 40 lowercase hex digits (the `sha1` crate); only to name clawdbot's lock
/// file the way it does (`createHash("sha1")`), not for anything that needs a secure hash.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `pid` is alive and is a gateway of `state_dir` (its environment names that state dir,
/// or its command line is an OpenClaw gateway).
fn holds_state_dir(pid: i32, state_dir: &std::path::Path) -> bool {
    let Ok(proc_) = procfs::process::Process::new(pid) else {
        return false;
    };
    if proc_.stat().map(|s| s.state == 'Z').unwrap_or(true) {
        return false;
    }
    let env_match = proc_.environ().ok().is_some_and(|env| {
        ["OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"]
            .iter()
            .filter_map(|k| env.get(std::ffi::OsStr::new(k)))
            .any(|v| super::isolation::resolve_existing(std::path::Path::new(v)) == super::isolation::resolve_existing(state_dir))
    });
    env_match || describe(pid).contains("openclaw")
}

fn describe(pid: i32) -> String {
    let cmd = tree::cmdline_of(pid);
    if cmd.is_empty() {
        "command unknown".into()
    } else {
        cmd.chars().take(80).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_the_standard_vectors() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(sha1_hex(long), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    }

    /// Issue 13: clawdbot's lock is keyed by the config path, in the temp dir, not the state dir.
    #[test]
    fn clawdbot_lock_is_keyed_by_config_path() {
        let p = clawdbot_lock_path(Path::new("/home/u/.clawdbot/clawdbot.json"), Path::new("/tmp"), 1000);
        let want = &sha1_hex(b"/home/u/.clawdbot/clawdbot.json")[..8];
        assert_eq!(p, PathBuf::from(format!("/tmp/clawdbot-1000/gateway.{want}.lock")));
    }
}
