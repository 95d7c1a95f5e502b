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
    let bound = tree::listening_ports();
    if bound.is_empty() {
        return Vec::new();
    }
    let inodes: BTreeSet<u64> = bound.iter().map(|(_, i)| *i).collect();
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

fn describe(pid: i32) -> String {
    let cmd = tree::cmdline_of(pid);
    if cmd.is_empty() {
        "command unknown".into()
    } else {
        cmd.chars().take(80).collect()
    }
}
