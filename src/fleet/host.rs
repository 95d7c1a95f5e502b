//! Checks a plan against this host: a port of the plan already bound by a process outside the
//! fleet means the gateway would fail to bind (exit 1 after ~16.5 s, facts §2) or, worse, a
//! CDP client would talk to somebody else's browser.

use super::diagnostic::Diagnostic;
use super::isolation::suggest_base;
use super::plan::PortRange;
use super::{Plan, Profile};
use crate::process::tree;
use std::collections::BTreeSet;

/// One diagnostic per listener that meets a port bound by a process that is not this instance's
/// own (its `CLAWHERD_INSTANCE` marker is `marker_for(profile)`). Names the owner's pid and
/// command when readable, and the nearest free base port.
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
    let mut out = Vec::new();
    for (profile, plan) in instances {
        let own = marker_for(&profile.name);
        let foreign: Vec<(u16, Option<i32>)> = bound
            .iter()
            .map(|(port, inode)| (*port, owners.get(inode).copied()))
            .filter(|(_, owner)| owner.is_none_or(|pid| tree::marker_of(pid).as_deref() != Some(own.as_str())))
            .collect();
        let mut taken: Vec<PortRange> = foreign.iter().map(|(p, _)| PortRange::single(u32::from(*p))).collect();
        taken.extend(
            instances
                .iter()
                .filter(|(p, _)| p.name != profile.name)
                .flat_map(|(_, pl)| pl.listeners.iter().map(|l| l.range)),
        );
        for l in &plan.listeners {
            let hits: Vec<&(u16, Option<i32>)> = foreign.iter().filter(|(p, _)| l.range.contains(u32::from(*p))).collect();
            let Some((port, owner)) = hits.first() else { continue };
            let who = match owner {
                Some(pid) => format!("pid {pid} ({})", describe(*pid)),
                None => "a process clawherd cannot inspect (another user or namespace)".to_string(),
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
            let fix = match (l.base_offset, suggest_base(plan, &taken)) {
                (Some(_), Some(b)) => format!(
                    "stop that process, or set profile '{}' base port to {b} (free of every bound and planned port)",
                    profile.name
                ),
                _ => format!("stop that process, or move {} elsewhere", l.source),
            };
            out.push(d.hint(fix));
        }
    }
    out
}

/// One diagnostic per instance whose state dir is held by a live gateway that is not this
/// instance's: OpenClaw records its owner in `$STATE/tmp/openclaw-<uid>/gateway.state.lock`
/// (`dist/gateway-lock-*.mjs`), and a second gateway on a live state dir exits 78 in 1-3 s
/// (facts §6). A stale lock (dead pid, or a pid now used by something that is not a gateway of
/// that state dir) is ignored, as OpenClaw does.
pub fn check_state_dirs(instances: &[(Profile, Plan)], marker_for: &dyn Fn(&str) -> String) -> Vec<Diagnostic> {
    let uid = nix::unistd::geteuid();
    let mut out = Vec::new();
    for (profile, plan) in instances {
        let Some(g) = &plan.gateway else { continue };
        let lock = g.state_dir.value.join(format!("tmp/openclaw-{uid}/gateway.state.lock"));
        let Some(pid) = super::read_bounded(&lock)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("pid")?.as_i64())
        else {
            continue;
        };
        let pid = pid as i32;
        if tree::marker_of(pid).as_deref() == Some(marker_for(&profile.name).as_str()) || !holds_state_dir(pid, &g.state_dir.value) {
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
