//! The isolation proof: no path of an instance lies on or inside another's and no port or range
//! intersects another's. Every violation is reported, each with a concrete fix; instances that
//! share one path, base port, pinned port or CDP endpoint get one error naming them all (the
//! first [`MAX_NAMED`], then a count), so the output stays bounded however many share it.
//!
//! OpenClaw's checklist (`docs/gateway/multiple-gateways.md`) asks for separate config, state
//! dir and workspace, a unique `gateway.port`, derived ports that never overlap and unshared
//! `browser.cdpUrl`s. Its rule of thumb "base ports at least 20 apart" is not enough: an
//! instance may use base..=base+110 (CDP range base+11..=base+110, `resolveBrowserConfig` in
//! `dist/config-*.mjs`), so this module proves disjointness of the actual sets and suggests a
//! base port whose whole footprint is free.
//!
//! Cost: near-linear in the number of instances. Paths are grouped in a hash map and each path
//! looks up its ancestors (depth lookups); base ports are sorted and each is compared with the
//! lower ones within reach of a footprint (at most 110 port values); pinned ports are stabbing
//! queries over listeners sorted by their first port; CDP URLs are grouped by endpoint.

use super::diagnostic::{Diagnostic, Place};
use super::openclaw::Endpoint;
use super::plan::{Listener, PathKind, Plan, PortRange, Source, Sourced};
use super::{Flavor, Profile};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Lowest base port suggested in a fix (below are privileged ports).
const MIN_SUGGESTED_PORT: u32 = 1024;

/// At most this many profiles are named in one grouped error; the others are counted.
pub(crate) const MAX_NAMED: usize = 10;

/// Proves the fleet's instances isolated; returns every violation (empty = proved).
pub(crate) fn prove(instances: &[(Profile, Plan)]) -> Vec<Diagnostic> {
    let items: Vec<(&Plan, &Place)> = instances.iter().map(|(p, plan)| (plan, &p.place)).collect();
    prove_plans(&items)
}

/// [`prove`] over plans and the place each profile is declared at.
pub(crate) fn prove_plans(items: &[(&Plan, &Place)]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (plan, place) in items {
        out.extend(check_port_bounds(plan, place));
        out.extend(check_own_pins(plan, place));
    }
    out.extend(check_paths(items));
    let occupancy = Occupancy::new(items.iter().flat_map(|(p, _)| p.listeners.iter().map(|l| l.range)));
    out.extend(check_base_ports(items, &occupancy));
    out.extend(check_pinned_ports(items));
    out.extend(check_cdp_urls(items));
    out
}

/// `'a', 'b', ... and N more`: the first [`MAX_NAMED`] profile names, quoted, then a count.
fn name_list(names: &[String]) -> String {
    label_list(&names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>())
}

/// The first [`MAX_NAMED`] labels, then a count of the others.
fn label_list(labels: &[String]) -> String {
    let mut out = labels.iter().take(MAX_NAMED).cloned().collect::<Vec<_>>().join(", ");
    if labels.len() > MAX_NAMED {
        out.push_str(&format!(" and {} more", labels.len() - MAX_NAMED));
    }
    out
}

fn check_port_bounds(plan: &Plan, place: &Place) -> Vec<Diagnostic> {
    // Only base-relative listeners can pass 65535; they exist only with a base port.
    let Some(base) = &plan.base_port else { return Vec::new() };
    let footprint = top_offset(plan);
    plan.listeners
        .iter()
        .filter(|l| l.range.hi > 65535)
        .map(|l| {
            Diagnostic::error(base.source.place_or(place), format!("{} {} goes past port 65535", l.name, l.range))
                .profile(&plan.profile)
                .key("port")
                .note(format!("base port {} comes from {}", base.value, base.source))
                .hint(format!("use a base port of at most {}", 65535 - footprint))
        })
        .collect()
}

/// The highest offset of a base-relative listener (0 without any).
fn top_offset(plan: &Plan) -> u32 {
    plan.listeners
        .iter()
        .filter_map(|l| l.base_offset.map(|(_, hi)| hi))
        .max()
        .unwrap_or(0)
}

/// Pinned ports (explicit cdpPort/cdpUrl, controlPort, canvasHost.port) of one instance must be
/// unique within it too.
fn check_own_pins(plan: &Plan, place: &Place) -> Vec<Diagnostic> {
    let pinned: Vec<&Listener> = plan.listeners.iter().filter(|l| l.base_offset.is_none()).collect();
    let mut out = Vec::new();
    for (i, a) in pinned.iter().enumerate() {
        for b in pinned.iter().skip(i + 1) {
            if a.range.overlaps(&b.range) {
                out.push(
                    Diagnostic::error(
                        b.source.place_or(place),
                        format!("{} {} is the same port as {} {}", b.name, b.range, a.name, a.range),
                    )
                    .profile(&plan.profile)
                    .note(format!("{} comes from {}; {} comes from {}", b.name, b.source, a.name, a.source))
                    .hint("give each browser profile its own cdpPort/cdpUrl"),
                );
            }
        }
    }
    out
}

/// One path of one instance, resolved as the kernel would.
struct PathEntry {
    item: usize,
    /// Its place in the instance's [`Plan::paths`].
    index: usize,
    kind: PathKind,
    path: PathBuf,
}

/// Shared paths (one error per path) and paths on or inside another instance's (one error per
/// pair of paths), found through a map of every resolved path.
fn check_paths(items: &[(&Plan, &Place)]) -> Vec<Diagnostic> {
    let mut resolver = Resolver::default();
    let entries: Vec<PathEntry> = items
        .iter()
        .enumerate()
        .flat_map(|(item, (p, _))| {
            p.paths()
                .into_iter()
                .enumerate()
                .map(move |(index, (kind, s))| (item, index, kind, s))
        })
        .map(|(item, index, kind, s)| PathEntry {
            item,
            index,
            kind,
            path: resolver.resolve(&s.value),
        })
        .collect();
    // Entries are in item order, so each group is too. A hash map: each path looks up each of
    // its ancestors, and hashing a path is far cheaper than the component-wise comparisons of a
    // sorted map (most of this function's time at 1,000 profiles when it was a `BTreeMap`).
    let mut by_path: HashMap<&Path, Vec<&PathEntry>> = HashMap::with_capacity(entries.len());
    for e in &entries {
        by_path.entry(e.path.as_path()).or_default().push(e);
    }
    // The errors of each path, reported in path order whatever the map's order.
    let mut found: Vec<(&Path, Vec<Diagnostic>)> = Vec::new();
    for (path, group) in &by_path {
        let mut here: Vec<Diagnostic> = same_path(items, group).into_iter().collect();
        // Nearest container first, as the ancestors come.
        for container in path.ancestors().skip(1).filter_map(|a| by_path.get(a)) {
            here.extend(nested_path(items, group, container));
        }
        if !here.is_empty() {
            found.push((path, here));
        }
    }
    found.sort_by(|a, b| a.0.cmp(b.0));
    found.into_iter().flat_map(|(_, d)| d).collect()
}

fn path_of(plan: &Plan, index: usize) -> Option<&Sourced<PathBuf>> {
    plan.paths().into_iter().nth(index).map(|(_, s)| s)
}

/// What the path is, as the errors name it: its kind, or for an agent's path whose agent.
fn label(kind: PathKind, plan: &Plan, path: &Sourced<PathBuf>) -> String {
    match plan.agent_path(path) {
        Some(a) if kind == PathKind::AgentDir => format!("agent dir of agent '{}'", a.agent),
        Some(a) => format!("workspace of agent '{}'", a.agent),
        None => kind.as_str().to_string(),
    }
}

/// The error about `path` of `plan`: at the agent's key in the config for an agent's path (with
/// that key), else at the value's origin.
fn path_error(plan: &Plan, path: &Sourced<PathBuf>, profile_place: &Place, message: String) -> Diagnostic {
    match plan.agent_path(path) {
        Some(a) => Diagnostic::error(a.place.clone(), message)
            .profile(&plan.profile)
            .key(a.key.as_str()),
        None => Diagnostic::error(path.source.place_or(profile_place), message).profile(&plan.profile),
    }
}

/// The error of one pair: `b`'s path `relation` `a`'s, reported on `b`.
fn path_pair(items: &[(&Plan, &Place)], a: &PathEntry, b: &PathEntry, relation: &str) -> Option<Diagnostic> {
    let (plan_a, _) = items.get(a.item)?;
    let (plan_b, place_b) = items.get(b.item)?;
    let (path_a, path_b) = (path_of(plan_a, a.index)?, path_of(plan_b, b.index)?);
    let (label_a, label_b) = (label(a.kind, plan_a, path_a), label(b.kind, plan_b, path_b));
    let message = format!(
        "{label_b} {} {relation} the {label_a} of profile '{}' ({})",
        b.path.display(),
        plan_a.profile,
        a.path.display()
    );
    let d = path_error(plan_b, path_b, place_b, message)
        .note(format!("'{}' {label_b} comes from {}", plan_b.profile, path_b.source))
        .note(format!("'{}' {label_a} comes from {}", plan_a.profile, path_a.source))
        .hint(path_fix(b.kind, plan_b, path_b));
    Some(d)
}

/// Quoted profile names of `group` (one per instance, in order), with the kind when kinds differ.
fn entry_names(items: &[(&Plan, &Place)], group: &[&PathEntry]) -> Vec<String> {
    let mixed = group.iter().any(|e| Some(e.kind) != group.first().map(|f| f.kind));
    let mut names: Vec<String> = Vec::new();
    let mut last = None;
    for e in group {
        let Some((plan, _)) = items.get(e.item) else { continue };
        if mixed {
            names.push(format!("'{}' ({})", plan.profile, e.kind.as_str()));
        } else if last != Some(e.item) {
            names.push(format!("'{}'", plan.profile));
        }
        last = Some(e.item);
    }
    names
}

/// One error for a path held by more than one instance.
fn same_path(items: &[(&Plan, &Place)], group: &[&PathEntry]) -> Option<Diagnostic> {
    let first = group.first()?;
    let second = group.iter().find(|e| e.item != first.item)?;
    if group.len() == 2 {
        return path_pair(items, first, second, "is the same as");
    }
    let (plan, place) = items.get(second.item)?;
    let path = path_of(plan, second.index)?;
    let what = label(second.kind, plan, path);
    let names = entry_names(items, group);
    let profiles = {
        let mut v: Vec<usize> = group.iter().map(|e| e.item).collect();
        v.dedup();
        v.len()
    };
    let message = format!(
        "{what} {} is shared by {profiles} profiles: {}",
        second.path.display(),
        label_list(&names)
    );
    let d = path_error(plan, path, place, message)
        .note(format!("'{}' {what} comes from {}", plan.profile, path.source))
        .note("every profile named here needs one of its own, except one")
        .hint(path_fix(second.kind, plan, path));
    Some(d)
}

/// One error for the paths of `inside` that lie inside the path of `container`, across instances.
fn nested_path(items: &[(&Plan, &Place)], inside: &[&PathEntry], container: &[&PathEntry]) -> Option<Diagnostic> {
    // The first pair of different instances; without one, it is an instance's own layout.
    let (i, c) = inside
        .iter()
        .find_map(|i| container.iter().find(|c| c.item != i.item).map(|c| (*i, *c)))?;
    if inside.len() == 1 && container.len() == 1 {
        return if i.item > c.item {
            path_pair(items, c, i, "lies inside")
        } else {
            path_pair(items, i, c, "contains")
        };
    }
    let (plan, place) = items.get(i.item)?;
    let path = path_of(plan, i.index)?;
    let what = label(i.kind, plan, path);
    let message = format!(
        "{what} {} of {} lies inside the {} {} of {}",
        i.path.display(),
        label_list(&entry_names(items, inside)),
        c.kind.as_str(),
        c.path.display(),
        label_list(&entry_names(items, container)),
    );
    let d = path_error(plan, path, place, message)
        .note(format!("'{}' {what} comes from {}", plan.profile, path.source))
        .hint(path_fix(i.kind, plan, path));
    Some(d)
}

fn path_fix(kind: PathKind, plan: &Plan, path: &Sourced<PathBuf>) -> String {
    let name = &plan.profile;
    // Path clashes only exist between gateways.
    let Some(g) = &plan.gateway else { return String::new() };
    if let Some(a) = plan.agent_path(path) {
        let what = if kind == PathKind::AgentDir { "agentDir" } else { "workspace" };
        return format!(
            "set {} in {} to a folder of agent '{}''s own, outside every other instance's paths (an agent without a {what} gets {})",
            a.key,
            g.config.value.display(),
            a.agent,
            match (kind, g.flavor) {
                (PathKind::AgentDir, _) => "<state dir>/agents/<id>/agent".to_string(),
                (_, Flavor::Clawdbot) => format!("~/clawd-{} in clawdbot, shared by every instance with the same HOME", a.agent),
                _ => "a folder inside the instance's own workspace or state dir".to_string(),
            }
        );
    }
    match kind {
        PathKind::Config => {
            format!("give profile '{name}' a config of its own with `config:` (or its own `state_dir:`/`openclaw_profile:`)")
        }
        PathKind::StateDir => match g.state_dir.source {
            Source::Fleet { .. } => {
                format!("change `state_dir:` of profile '{name}' to a folder outside every other instance's paths")
            }
            _ => format!("give profile '{name}' a state dir of its own with `state_dir:` or `openclaw_profile: {name}`"),
        },
        PathKind::Workspace if g.flavor == Flavor::Clawdbot => format!(
            "set agents.defaults.workspace in {} to a folder outside every other instance's paths (clawdbot reads no workspace variable)",
            g.config.value.display()
        ),
        PathKind::Workspace => format!(
            "set agents.defaults.workspace in {} (or `workspace:`) to a folder outside every other instance's paths",
            g.config.value.display()
        ),
        PathKind::CanvasRoot => format!(
            "set canvasHost.root in {} to a folder of its own, e.g. {} (clawdbot's default ~/clawd/canvas ignores the workspace)",
            g.config.value.display(),
            g.state_dir.value.join("canvas").display()
        ),
        PathKind::LogFile => format!(
            "set logging.file in {} to a file of its own, e.g. {}",
            g.config.value.display(),
            g.state_dir.value.join("logs/gateway.log").display()
        ),
        // Agents' paths are answered above; one that is not found has no better fix.
        PathKind::AgentWorkspace | PathKind::AgentDir => {
            format!(
                "give each agent of profile '{name}' a workspace of its own in {}",
                g.config.value.display()
            )
        }
    }
}

/// Whether a base-relative listener of `a` meets one of `b`.
fn base_relative_overlap(a: &Plan, b: &Plan) -> bool {
    let rel = |p: &'_ Plan| {
        p.listeners
            .iter()
            .filter(|l| l.base_offset.is_some())
            .map(|l| l.range)
            .collect::<Vec<_>>()
    };
    let rb = rel(b);
    rel(a).iter().any(|x| rb.iter().any(|y| x.overlaps(y)))
}

/// Clashes of base-relative ports: instances on one base port get one error per base port;
/// a base port whose ports meet those of lower bases gets one error naming them all. In a run
/// of bases that meet one another, the first [`MAX_NAMED`] such errors are given in full and the
/// rest as one summary, so the output stays bounded.
fn check_base_ports(items: &[(&Plan, &Place)], occupancy: &Occupancy) -> Vec<Diagnostic> {
    let mut bases: Vec<(u16, usize)> = items
        .iter()
        .enumerate()
        .filter(|(_, (p, _))| p.listeners.iter().any(|l| l.base_offset.is_some()))
        .filter_map(|(i, (p, _))| Some((p.port()?, i)))
        .collect();
    bases.sort_unstable();
    let groups: Vec<&[(u16, usize)]> = bases.chunk_by(|a, b| a.0 == b.0).collect();
    let reach = items.iter().map(|(p, _)| top_offset(p)).max().unwrap_or(0);
    let mut out = Vec::new();
    let mut run = Run::default();
    for (k, group) in groups.iter().enumerate() {
        let members: Vec<usize> = group.iter().map(|(_, i)| *i).collect();
        let Some(&(base, mover)) = group.first() else { continue };
        match members.as_slice() {
            [a, b] => out.extend(base_clash(items, *b, &[*a], occupancy)),
            [_, second, ..] => out.extend(shared_base(items, base, &members, *second, occupancy)),
            _ => {}
        }
        // Lower bases within reach of a footprint whose ports meet this base's.
        let lower: Vec<usize> = groups
            .iter()
            .take(k)
            .rev()
            .take_while(|g| g.first().is_some_and(|(b, _)| u32::from(*b) + reach >= u32::from(base)))
            .flat_map(|g| g.iter().map(|(_, i)| *i))
            .filter(|o| matches!((items.get(*o), items.get(mover)), (Some((a, _)), Some((b, _))) if base_relative_overlap(a, b)))
            .collect();
        if lower.is_empty() {
            out.extend(run.finish(items, occupancy));
            continue;
        }
        if run.reported >= MAX_NAMED {
            run.overflow.extend(members);
        } else if members.len() == 1 {
            run.reported += 1;
            out.extend(base_clash(items, mover, &lower, occupancy));
        } else {
            run.reported += 1;
            out.extend(base_clash_group(items, &members, &lower, occupancy));
        }
    }
    out.extend(run.finish(items, occupancy));
    out
}

/// A run of base ports that meet one another: how many errors were given in full, and the
/// instances past that.
#[derive(Default)]
struct Run {
    reported: usize,
    overflow: Vec<usize>,
}

impl Run {
    /// The summary of the instances past the first errors of the run, if any; starts a new run.
    fn finish(&mut self, items: &[(&Plan, &Place)], occupancy: &Occupancy) -> Option<Diagnostic> {
        let run = std::mem::take(self);
        let (first, place) = items.get(*run.overflow.first()?)?;
        let names: Vec<String> = run
            .overflow
            .iter()
            .filter_map(|i| items.get(*i))
            .map(|(p, _)| p.profile.clone())
            .collect();
        let bases: Vec<u16> = run.overflow.iter().filter_map(|i| items.get(*i)?.0.port()).collect();
        let src = &first.base_port.as_ref()?.source;
        let d = Diagnostic::error(
            src.place_or(place),
            format!(
                "ports of {} more profiles (bases {}-{}) intersect those of the profiles below them: {}",
                names.len(),
                bases.iter().min().copied().unwrap_or(0),
                bases.iter().max().copied().unwrap_or(0),
                name_list(&names)
            ),
        )
        .profile(&first.profile)
        .key("port")
        .note(format!(
            "the {MAX_NAMED} errors above show how this run of base ports meets; every base needs its own footprint (base..=base+110)"
        ))
        .hint(base_hint(first, occupancy));
        Some(d)
    }
}

/// `profile 'x' base port to N (...)` or the no-free-base hint, for `mover`.
fn base_hint(mover: &Plan, occupancy: &Occupancy) -> String {
    let also_config = match &mover.gateway {
        Some(g) if g.config_exists => format!(" and gateway.port in {}", g.config.value.display()),
        _ => String::new(),
    };
    match occupancy.suggest_base(mover, true) {
        Some(port) => format!(
            "set profile '{}' base port to {port}{also_config} (the nearest base whose whole footprint is free), or keep bases ≥ 120 apart",
            mover.profile
        ),
        None => "no free base port exists for this footprint; reduce the fleet or pin browser ports".to_string(),
    }
}

fn footprint(p: &Plan) -> PortRange {
    let base = p.port().map_or(0, u32::from);
    PortRange {
        lo: base,
        hi: base + top_offset(p),
    }
}

/// One error on `mover` whose base-relative ports meet those of `others` (lower bases, or the
/// first instance on the same base): with one other, every meeting pair of listeners as a note.
fn base_clash(items: &[(&Plan, &Place)], mover: usize, others: &[usize], occupancy: &Occupancy) -> Option<Diagnostic> {
    let (m, m_place) = items.get(mover)?;
    let m_base = m.base_port.as_ref()?;
    let first = others.first().and_then(|o| items.get(*o))?.0;
    let describe = |p: &Plan| {
        format!(
            "profile '{}' (base {}, footprint {})",
            p.profile,
            p.port().unwrap_or(0),
            footprint(p)
        )
    };
    let message = if others.len() == 1 {
        format!("ports of {} intersect those of {}", describe(m), describe(first))
    } else {
        let names: Vec<String> = others
            .iter()
            .filter_map(|o| items.get(*o))
            .map(|(p, _)| p.profile.clone())
            .collect();
        format!(
            "ports of {} intersect those of {} profiles: {} (the nearest: {})",
            describe(m),
            others.len(),
            name_list(&names),
            describe(first)
        )
    };
    let mut d = Diagnostic::error(m_base.source.place_or(m_place), message)
        .profile(&m.profile)
        .key("port");
    for lm in m.listeners.iter().filter(|l| l.base_offset.is_some()) {
        for lo in first
            .listeners
            .iter()
            .filter(|l| l.base_offset.is_some() && l.range.overlaps(&lm.range))
        {
            d = d.note(format!(
                "'{}' {} {} ({}) meets '{}' {} {} ({})",
                m.profile, lm.name, lm.range, lm.source, first.profile, lo.name, lo.range, lo.source
            ));
        }
    }
    let gap = m_base.value.abs_diff(first.port().unwrap_or(0));
    if (20..120).contains(&gap) {
        d = d.note(format!(
            "the bases are {gap} apart, which meets OpenClaw's documented \"at least 20 apart\", but a gateway may use base..=base+110: keep bases at least 120 apart"
        ));
    }
    Some(d.hint(base_hint(m, occupancy)))
}

/// One error for three or more instances on one base port, on the second of them.
fn shared_base(items: &[(&Plan, &Place)], base: u16, members: &[usize], second: usize, occupancy: &Occupancy) -> Option<Diagnostic> {
    let (m, place) = items.get(second)?;
    let names: Vec<String> = members
        .iter()
        .filter_map(|i| items.get(*i))
        .map(|(p, _)| p.profile.clone())
        .collect();
    let src = &m.base_port.as_ref()?.source;
    let d = Diagnostic::error(
        src.place_or(place),
        format!(
            "base port {base} (footprint {}) is shared by {} profiles: {}",
            footprint(m),
            members.len(),
            name_list(&names)
        ),
    )
    .profile(&m.profile)
    .key("port")
    .note(format!("'{}' base port comes from {src}", m.profile))
    .note("every profile named here needs a base port of its own, except one, with bases at least 120 apart")
    .hint(base_hint(m, occupancy));
    Some(d)
}

/// Several instances on one base port whose ports meet those of lower bases: one error.
fn base_clash_group(items: &[(&Plan, &Place)], members: &[usize], lower: &[usize], occupancy: &Occupancy) -> Option<Diagnostic> {
    let (m, place) = items.get(*members.first()?)?;
    let names = |ids: &[usize]| {
        ids.iter()
            .filter_map(|i| items.get(*i))
            .map(|(p, _)| p.profile.clone())
            .collect::<Vec<_>>()
    };
    let src = &m.base_port.as_ref()?.source;
    let d = Diagnostic::error(
        src.place_or(place),
        format!(
            "ports of profiles {} (base {}, footprint {}) intersect those of profiles {}",
            name_list(&names(members)),
            m.port().unwrap_or(0),
            footprint(m),
            name_list(&names(lower))
        ),
    )
    .profile(&m.profile)
    .key("port")
    .hint(base_hint(m, occupancy));
    Some(d)
}

/// Clashes of pinned ports (a config key's port): one error per pinned port, naming every
/// listener of other instances it meets. Two pins on one port are reported on the earlier
/// instance; a later pin on a port an earlier instance pins too reports only what else it meets.
fn check_pinned_ports(items: &[(&Plan, &Place)]) -> Vec<Diagnostic> {
    // Every listener, by first port, for stabbing queries.
    let mut all: Vec<(PortRange, usize, &Listener)> = items
        .iter()
        .enumerate()
        .flat_map(|(i, (p, _))| p.listeners.iter().map(move |l| (l.range, i, l)))
        .collect();
    all.sort_by_key(|(r, i, _)| (r.lo, *i));
    let width = all.iter().map(|(r, _, _)| r.hi - r.lo).max().unwrap_or(0);
    let mut first_pin: BTreeMap<PortRange, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, (owner, place)) in items.iter().enumerate() {
        for pin in owner.listeners.iter().filter(|l| l.base_offset.is_none()) {
            let earlier_pin = *first_pin.entry(pin.range).or_insert(i) < i;
            let start = all.partition_point(|(r, _, _)| r.lo + width < pin.range.lo);
            let end = all.partition_point(|(r, _, _)| r.lo <= pin.range.hi);
            let hits: Vec<(usize, &Listener)> = all
                .get(start..end)
                .unwrap_or_default()
                .iter()
                .filter(|(r, x, l)| {
                    *x != i
                        && r.overlaps(&pin.range)
                        && !(pin.connects && l.connects)
                        && (l.base_offset.is_some() || (*x > i && !earlier_pin))
                })
                .map(|(_, x, l)| (*x, *l))
                .collect();
            out.extend(pinned_clash(items, (owner, pin, place), &hits));
        }
    }
    out
}

/// The error for `pinned` (a port fixed by a config key of `owner`) meeting `hits` of others.
fn pinned_clash(
    items: &[(&Plan, &Place)],
    (owner, pinned, owner_place): (&Plan, &Listener, &Place),
    hits: &[(usize, &Listener)],
) -> Option<Diagnostic> {
    let (other, hit) = hits.first().and_then(|(x, l)| Some((items.get(*x)?.0, *l)))?;
    let key = match &pinned.source {
        Source::Config { key, .. } => key.clone(),
        _ => "port".to_string(),
    };
    let verb = if pinned.connects { "points into" } else { "lies in" };
    let mut message = format!(
        "{} {} {verb} profile '{}''s {} {}",
        pinned.name, pinned.range, other.profile, hit.name, hit.range
    );
    if hits.len() > 1 {
        let names: Vec<String> = hits
            .iter()
            .skip(1)
            .filter_map(|(x, l)| Some(format!("'{}''s {} {}", items.get(*x)?.0.profile, l.name, l.range)))
            .collect();
        message.push_str(&format!(" and {} other listener(s): {}", names.len(), label_list(&names)));
    }
    let d = Diagnostic::error(pinned.source.place_or(owner_place), message)
        .profile(&owner.profile)
        .key(key)
        .note(format!("'{}' {} comes from {}", other.profile, hit.name, hit.source))
        .hint(format!(
            "move {} to a port outside every other instance's ports (see `clawherd ports`)",
            pinned.source
        ));
    Some(d)
}

/// Ports taken by a set of ranges, as prefix sums of how many ranges cover each port, so that
/// "is any port of this range taken by somebody else" costs O(1) plus the size of one plan.
pub(crate) struct Occupancy {
    /// `sums[p]` = number of (range, port) coverings of ports below `p`.
    sums: Vec<u64>,
}

/// Ports past 65535 exist in plans (to be reported); the table reaches this far.
const PORT_TABLE: usize = 65536 + 256;

impl Occupancy {
    /// The occupancy of `ranges` (ports past the table's end are ignored).
    pub(crate) fn new(ranges: impl IntoIterator<Item = PortRange>) -> Self {
        let mut diff = vec![0i64; PORT_TABLE + 1];
        for r in ranges {
            let lo = (r.lo as usize).min(PORT_TABLE);
            let hi = (r.hi as usize + 1).min(PORT_TABLE);
            if let (Some(a), true) = (diff.get_mut(lo), lo < hi) {
                *a += 1;
            }
            if let (Some(b), true) = (diff.get_mut(hi), lo < hi) {
                *b -= 1;
            }
        }
        let mut sums = Vec::with_capacity(PORT_TABLE + 1);
        let (mut cover, mut total) = (0i64, 0u64);
        sums.push(0);
        for d in diff.iter().take(PORT_TABLE) {
            cover += d;
            total += cover.max(0) as u64;
            sums.push(total);
        }
        Occupancy { sums }
    }

    /// Coverings of the ports of `r`.
    fn covered(&self, r: PortRange) -> u64 {
        let at = |p: u32| self.sums.get((p as usize).min(PORT_TABLE)).copied().unwrap_or(0);
        at(r.hi.saturating_add(1)).saturating_sub(at(r.lo))
    }

    /// The base port nearest to `plan`'s whose whole footprint (base..=base+top offset, gaps
    /// included), moved with it, meets no taken port and stays within 1024..=65535. With
    /// `counted_self`, `plan`'s own base-relative listeners are part of the occupancy and do
    /// not count against it. `None` if no such base exists or `plan` has no base port.
    pub(crate) fn suggest_base(&self, plan: &Plan, counted_self: bool) -> Option<u16> {
        let base = u32::from(plan.port()?);
        let top = top_offset(plan);
        let own: Vec<PortRange> = if counted_self {
            plan.listeners.iter().filter(|l| l.base_offset.is_some()).map(|l| l.range).collect()
        } else {
            Vec::new()
        };
        let own_pins: Vec<PortRange> = plan.listeners.iter().filter(|l| l.base_offset.is_none()).map(|l| l.range).collect();
        let fits = |cand: u32| {
            let r = PortRange { lo: cand, hi: cand + top };
            let mine: u64 = own
                .iter()
                .map(|o| u64::from(o.hi.min(r.hi).saturating_sub(o.lo.max(r.lo)) + 1) * u64::from(o.overlaps(&r)))
                .sum();
            cand >= MIN_SUGGESTED_PORT
                && cand + top <= 65535
                && self.covered(r) <= mine
                && (counted_self || !own_pins.iter().any(|p| p.overlaps(&r)))
        };
        (1..=65535u32).find_map(|d| {
            let up = base + d;
            let down = base.checked_sub(d);
            if fits(up) {
                u16::try_from(up).ok()
            } else {
                down.filter(|c| fits(*c)).and_then(|c| u16::try_from(c).ok())
            }
        })
    }
}

/// The base port nearest to `plan`'s whose whole footprint (base..=base+110 for OpenClaw, gaps
/// included), moved with it, meets none of `taken` nor the plan's own pinned ports, and stays
/// within 1024..=65535. `None` if none exists.
#[cfg_attr(not(test), allow(dead_code, reason = "only the unit tests use it"))]
pub(crate) fn suggest_base(plan: &Plan, taken: &[PortRange]) -> Option<u16> {
    Occupancy::new(taken.iter().copied()).suggest_base(plan, false)
}

/// CDP URLs of different instances that reach one endpoint (any spelling): one error per endpoint.
fn check_cdp_urls(items: &[(&Plan, &Place)]) -> Vec<Diagnostic> {
    let mut by_endpoint: BTreeMap<Endpoint, Vec<(usize, &Sourced<String>)>> = BTreeMap::new();
    for (i, (p, _)) in items.iter().enumerate() {
        for u in &p.cdp_urls {
            if let Some(ep) = Endpoint::of_url(&u.value) {
                by_endpoint.entry(ep).or_default().push((i, u));
            }
        }
    }
    by_endpoint.iter().filter_map(|(ep, group)| shared_cdp(items, ep, group)).collect()
}

fn shared_cdp(items: &[(&Plan, &Place)], ep: &Endpoint, group: &[(usize, &Sourced<String>)]) -> Option<Diagnostic> {
    let (ia, ua) = group.first()?;
    let (ib, ub) = group.iter().find(|(i, _)| i != ia)?;
    let (a, _) = items.get(*ia)?;
    let (b, place_b) = items.get(*ib)?;
    let norm = |u: &str| u.trim().trim_end_matches('/').to_ascii_lowercase();
    let message = if group.len() > 2 {
        let names: Vec<String> = group.iter().filter_map(|(i, _)| Some(items.get(*i)?.0.profile.clone())).collect();
        format!("CDP URL {} reaches {ep}, as do the CDP URLs of {}", ub.value, name_list(&names))
    } else if norm(&ua.value) == norm(&ub.value) {
        format!("CDP URL {} is also used by profile '{}'", ub.value, a.profile)
    } else {
        format!("CDP URL {} reaches {ep}, as does profile '{}''s {}", ub.value, a.profile, ua.value)
    };
    let d = Diagnostic::error(ub.source.place_or(place_b), message)
        .profile(&b.profile)
        .note(format!("'{}' has it from {}", a.profile, ua.source))
        .hint("two gateways driving one browser fight over its tabs; give each instance its own browser (cdpUrl) or drop the key to use the managed one");
    Some(d)
}

/// The path as the kernel would resolve it, so two spellings of one place compare equal: the
/// existing prefix is resolved component by component (symlinks followed, `..` applied to the
/// resolved path, as `open(2)` does), then the part that does not exist yet is applied lexically.
/// `lnk/../x` with `lnk` → `real/deep` is `real/x`, not `./x`. The file system is only read.
pub(crate) fn resolve_existing(p: &Path) -> PathBuf {
    Resolver::default().resolve(p)
}

/// [`resolve_existing`] for many paths: each existing prefix is looked at once (one `lstat`,
/// and a `realpath` only for a symlink), however many paths share it. A fleet's paths share
/// most of their prefixes, so 1,000 profiles cost a few `lstat`s each instead of a `realpath`
/// per component (which reads every component again: 38 failed `readlink`s per profile).
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    /// Canonical prefix with one more component → what it is.
    seen: std::collections::HashMap<PathBuf, Step>,
}

/// What a canonical directory plus one component is.
#[derive(Debug, Clone)]
enum Step {
    /// Exists and is not a symlink: canonical as it is.
    AsIs,
    /// A symlink: its canonical target.
    Elsewhere(PathBuf),
    /// Does not exist (or cannot be read).
    Missing,
}

impl Resolver {
    /// As [`resolve_existing`].
    pub(crate) fn resolve(&mut self, p: &Path) -> PathBuf {
        use std::path::Component;
        let mut out = PathBuf::new();
        let mut exists = true;
        for c in p.components() {
            match c {
                Component::Prefix(_) | Component::RootDir => out.push(c.as_os_str()),
                Component::CurDir => {}
                // `out` is canonical while it exists, so its parent is the kernel's `..`.
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(name) => {
                    out.push(name);
                    if exists {
                        match self.step(&out) {
                            Step::AsIs => {}
                            Step::Elsewhere(canon) => out = canon.clone(),
                            Step::Missing => exists = false,
                        }
                    }
                }
            }
        }
        out
    }

    /// `path` is a canonical directory plus one component: what it is, looked at once.
    fn step(&mut self, path: &Path) -> &Step {
        if !self.seen.contains_key(path) {
            let step = match std::fs::symlink_metadata(path) {
                Ok(m) if !m.file_type().is_symlink() && path.is_absolute() => Step::AsIs,
                Ok(_) => path.canonicalize().map_or(Step::Missing, Step::Elsewhere),
                Err(_) => Step::Missing,
            };
            self.seen.insert(path.to_path_buf(), step);
        }
        self.seen.get(path).unwrap_or(&Step::Missing)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fleet::plan::{GatewayPaths, Source, Sourced};
    use proptest::prelude::*;

    /// A synthetic openclaw-flavor plan: base, base+2, base+10, base+11..=base+110, plus pins.
    pub(crate) fn plan(name: &str, base: u16, pins: &[u32], root: &Path) -> Plan {
        let derived = |n: &str, lo: u32, hi: u32| Listener {
            name: n.into(),
            range: PortRange {
                lo: u32::from(base) + lo,
                hi: u32::from(base) + hi,
            },
            source: Source::Derived(n.to_string().into()),
            base_offset: Some((lo, hi)),
            connects: false,
        };
        let mut listeners = vec![
            derived("gateway", 0, 0),
            derived("browser control", 2, 2),
            derived("relay", 10, 10),
            derived("CDP range", 11, 110),
        ];
        for (i, p) in pins.iter().enumerate() {
            listeners.push(Listener {
                name: format!("pin{i}"),
                range: PortRange::single(*p),
                source: Source::Derived("pin".into()),
                base_offset: None,
                connects: false,
            });
        }
        let s = |p: PathBuf| Sourced {
            value: p,
            source: Source::Derived("test".into()),
        };
        let state = root.join(name);
        Plan {
            profile: name.into(),
            gateway: Some(GatewayPaths {
                flavor: Flavor::OpenClaw,
                config: s(state.join("openclaw.json")),
                config_exists: false,
                state_dir: s(state.clone()),
                workspace: s(state.join("workspace")),
                log_file: s(state.join("gateway.log")),
                canvas_root: None,
                agents: Vec::new(),
                reloads_itself: false,
            }),
            base_port: Some(Sourced {
                value: base,
                source: Source::Derived("test".into()),
            }),
            listeners,
            cdp_urls: Vec::new(),
            cwd: state,
            env: crate::fleet::Env::default(),
            argv: Vec::new(),
            credentials: None,
        }
    }

    fn run(plans: &[Plan]) -> Vec<Diagnostic> {
        let place = Place::file(Path::new("fleet.yaml"));
        let items: Vec<(&Plan, &Place)> = plans.iter().map(|p| (p, &place)).collect();
        prove_plans(&items)
    }

    #[test]
    fn docs_spacing_of_twenty_is_not_enough() {
        let root = Path::new("/nonexistent-root");
        let d = run(&[plan("main", 18789, &[], root), plan("rescue", 18809, &[], root)]);
        assert_eq!(d.len(), 1, "{d:?}");
        let text = d[0].to_string();
        assert!(
            text.contains(
                "profile 'rescue' (base 18809, footprint 18809-18919) intersect those of profile 'main' (base 18789, footprint 18789-18899)"
            ),
            "{text}"
        );
        assert!(text.contains("at least 20 apart"), "{text}");
        assert!(text.contains("set profile 'rescue' base port to 18900"), "{text}");
    }

    #[test]
    fn documented_pair_is_clean_and_120_apart_is_enough() {
        let root = Path::new("/nonexistent-root");
        assert!(run(&[plan("main", 18789, &[], root), plan("rescue", 19789, &[], root)]).is_empty());
        assert!(run(&[plan("main", 18789, &[], root), plan("rescue", 18900, &[], root)]).is_empty());
        assert_eq!(run(&[plan("main", 18789, &[], root), plan("rescue", 18899, &[], root)]).len(), 1);
    }

    #[test]
    fn pinned_cdp_port_inside_other_range_is_reported_with_pin_fix() {
        let root = Path::new("/nonexistent-root");
        let d = run(&[plan("main", 18789, &[], root), plan("rescue", 19789, &[18850], root)]);
        assert_eq!(d.len(), 1);
        let text = d[0].to_string();
        assert!(
            text.contains("profile 'rescue': port: pin0 18850 lies in profile 'main''s CDP range 18800-18899"),
            "{text}"
        );
        assert!(text.contains("hint: move pin"), "{text}");
    }

    #[test]
    fn ports_past_65535_are_reported() {
        let root = Path::new("/nonexistent-root");
        let d = run(&[plan("main", 65500, &[], root)]);
        assert!(
            d.iter().all(|d| d.to_string().contains("use a base port of at most 65425")),
            "{d:?}"
        );
        assert_eq!(d.len(), 1, "only the CDP range 65511-65610 goes past: {d:?}");
    }

    #[test]
    fn shared_and_nested_paths_are_reported() {
        let root = Path::new("/nonexistent-root");
        let mut b = plan("rescue", 19789, &[], root);
        b.gateway.as_mut().expect("gateway").state_dir.value = root.join("main/nested");
        b.gateway.as_mut().expect("gateway").log_file.value = root.join("main/gateway.log");
        let d = run(&[plan("main", 18789, &[], root), b]);
        let all: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert!(
            all.iter()
                .any(|t| t.contains("state dir /nonexistent-root/main/nested lies inside the state dir of profile 'main'")),
            "{all:#?}"
        );
        assert!(
            all.iter().any(
                |t| t.contains("log file /nonexistent-root/main/gateway.log is the same as the log file of profile 'main'")
                    && t.contains("set logging.file")
            ),
            "{all:#?}"
        );
    }

    /// Errors of different paths come in path order (the paths are grouped in a hash map):
    /// the same fleet gives the same output every time.
    #[test]
    fn path_errors_come_in_path_order() {
        let root = Path::new("/nonexistent-root");
        // Pairs of profiles sharing one state dir each, declared in the reverse of path order.
        let mut plans = Vec::new();
        for (i, dir) in ["z", "m", "c", "a"].iter().enumerate() {
            for who in ["x", "y"] {
                let mut p = plan(
                    &format!("{who}{i}"),
                    10_000 + 200 * u16::try_from(plans.len()).expect("small"),
                    &[],
                    root,
                );
                let g = p.gateway.as_mut().expect("gateway");
                g.state_dir.value = root.join(dir);
                plans.push(p);
            }
        }
        let shared: Vec<String> = run(&plans)
            .iter()
            .map(ToString::to_string)
            .filter_map(|t| {
                t.split_once("state dir /nonexistent-root/")
                    .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string))
            })
            .collect();
        assert_eq!(shared, ["a", "c", "m", "z"]);
    }

    /// Issue 13: an agent's workspace is one of the instance's paths: on another instance's
    /// workspace it is refused at the agent's key, naming both profiles, both paths and the key
    /// to set; an agent of the same instance inside its own workspace is not a clash.
    #[test]
    fn agent_workspace_on_another_instances_workspace_is_refused_at_its_key() {
        let root = Path::new("/nonexistent-root");
        let cfg = root.join("rescue/openclaw.json");
        let agent = |name: &str, path: PathBuf| crate::fleet::plan::AgentPath {
            kind: PathKind::AgentWorkspace,
            agent: name.into(),
            key: "agents.list[3].workspace".into(),
            place: Place::at(&cfg, 12, 7),
            path: Sourced::new(
                path,
                Source::Config {
                    file: cfg.as_path().into(),
                    key: "agents.list[3].workspace".into(),
                },
            ),
        };
        let main = plan("main", 18789, &[], root);
        let mut rescue = plan("rescue", 19789, &[], root);
        let g = rescue.gateway.as_mut().expect("gateway");
        g.agents.push(agent("own", root.join("rescue/workspace/own")));
        g.agents.push(agent("ops", root.join("main/workspace")));
        let d = run(&[main, rescue]);
        assert!(d.iter().all(|d| !d.message.contains("agent 'own'")), "{d:#?}");
        let text = d.first().map(ToString::to_string).unwrap_or_default();
        assert!(
            text.starts_with("/nonexistent-root/rescue/openclaw.json:12:7: error: profile 'rescue': agents.list[3].workspace: workspace of agent 'ops' /nonexistent-root/main/workspace is the same as the workspace of profile 'main' (/nonexistent-root/main/workspace)"),
            "{text}"
        );
        assert!(
            text.contains("hint: set agents.list[3].workspace in /nonexistent-root/rescue/openclaw.json"),
            "{text}"
        );
    }

    #[test]
    fn one_resolver_for_many_paths_answers_as_a_fresh_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("real/deep")).expect("mkdir");
        std::os::unix::fs::symlink(dir.path().join("real/deep"), dir.path().join("lnk")).expect("symlink");
        let paths = ["lnk/../x", "real/deep/y", "lnk/y", "missing/../real", "real/./deep/../deep", "lnk"];
        let mut shared = Resolver::default();
        for p in paths.iter().chain(paths.iter()) {
            let p = dir.path().join(p);
            assert_eq!(shared.resolve(&p), resolve_existing(&p), "{}", p.display());
        }
        let real = dir.path().canonicalize().expect("canon");
        assert_eq!(shared.resolve(&dir.path().join("lnk/y")), real.join("real/deep/y"));
    }

    #[test]
    fn symlinked_and_dotdot_paths_compare_equal() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("real")).expect("mkdir");
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).expect("symlink");
        let a = resolve_existing(&dir.path().join("link/state/x"));
        let b = resolve_existing(&dir.path().join("other/../real/state/x"));
        assert_eq!(a, b);
        let mut p1 = plan("main", 18789, &[], dir.path());
        p1.gateway.as_mut().expect("gateway").state_dir.value = dir.path().join("link/state");
        let mut p2 = plan("rescue", 19789, &[], dir.path());
        p2.gateway.as_mut().expect("gateway").state_dir.value = dir.path().join("real/state");
        assert!(
            run(&[p1, p2])
                .iter()
                .any(|d| d.to_string().contains("is the same as the state dir"))
        );
    }

    /// Regression (issue 12): `lnk/../x` with `lnk` → `real/deep` is `real/x` for the kernel;
    /// the proof removed `..` first and saw `./x`, so a clash with main on `real/x` passed.
    #[test]
    fn dotdot_after_a_symlink_follows_the_symlink_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("real/deep")).expect("mkdir");
        std::os::unix::fs::symlink(dir.path().join("real/deep"), dir.path().join("lnk")).expect("symlink");
        let real = dir.path().canonicalize().expect("canonical tempdir");
        assert_eq!(resolve_existing(&dir.path().join("lnk/../x")), real.join("real/x"));
        assert_eq!(resolve_existing(&dir.path().join("lnk/../x/y/../z")), real.join("real/x/z"));
        let mut p1 = plan("main", 18789, &[], dir.path());
        p1.gateway.as_mut().expect("gateway").state_dir.value = dir.path().join("real/x");
        let mut p2 = plan("rescue", 19789, &[], dir.path());
        p2.gateway.as_mut().expect("gateway").state_dir.value = dir.path().join("lnk/../x");
        let d = run(&[p1, p2]);
        assert!(
            d.iter()
                .any(|d| d.to_string().contains("is the same as the state dir of profile 'main'")),
            "{d:#?}"
        );
    }

    #[test]
    fn shared_cdp_url_is_reported() {
        let root = Path::new("/nonexistent-root");
        let mut a = plan("main", 18789, &[], root);
        let mut b = plan("rescue", 19789, &[], root);
        let url = |u: &str| Sourced {
            value: u.to_string(),
            source: Source::Derived("t".into()),
        };
        a.cdp_urls.push(url("http://10.0.0.5:9222"));
        b.cdp_urls.push(url("http://10.0.0.5:9222/"));
        assert!(
            run(&[a, b])
                .iter()
                .any(|d| d.message.contains("CDP URL http://10.0.0.5:9222/ is also used by profile 'main'"))
        );
    }

    /// Regression (issue 12): CDP URLs were compared as strings, so two spellings of one
    /// endpoint passed.
    #[test]
    fn cdp_urls_reaching_one_endpoint_clash_whatever_the_spelling() {
        let root = Path::new("/nonexistent-root");
        let url = |u: &str| Sourced {
            value: u.to_string(),
            source: Source::Derived("t".into()),
        };
        for (x, y) in [
            ("http://localhost:9222", "ws://127.0.0.1:9222/devtools/browser/abc"),
            ("http://[::1]:9222/json", "http://0.0.0.0:9222"),
            ("http://chrome.example", "ws://CHROME.example:80/x?y"),
        ] {
            let mut a = plan("main", 18789, &[], root);
            let mut b = plan("rescue", 19789, &[], root);
            a.cdp_urls.push(url(x));
            b.cdp_urls.push(url(y));
            let d = run(&[a, b]);
            assert!(
                d.iter()
                    .any(|d| d.message.contains(&format!("CDP URL {y} reaches")) && d.message.contains("profile 'main''s")),
                "{x} vs {y}: {d:#?}"
            );
        }
        let mut a = plan("main", 18789, &[], root);
        let mut b = plan("rescue", 19789, &[], root);
        a.cdp_urls.push(url("http://chrome.example"));
        b.cdp_urls.push(url("https://chrome.example"));
        assert!(run(&[a, b]).is_empty());
    }

    /// Three instances on one base port or one pinned port: one error each, naming all three.
    #[test]
    fn shared_base_and_shared_pin_are_one_error_each() {
        let root = Path::new("/nonexistent-root");
        let d = run(&[
            plan("a", 18789, &[], root),
            plan("b", 18789, &[], root),
            plan("c", 18789, &[], root),
        ]);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(
            d[0].message
                .contains("base port 18789 (footprint 18789-18899) is shared by 3 profiles: 'a', 'b', 'c'"),
            "{d:#?}"
        );
        let d = run(&[
            plan("a", 20000, &[9222], root),
            plan("b", 21000, &[9222], root),
            plan("c", 22000, &[9222], root),
        ]);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(
            d[0].message
                .contains("pin0 9222 lies in profile 'b''s pin0 9222 and 1 other listener(s): 'c''s pin0 9222"),
            "{d:#?}"
        );
    }

    /// A fleet file of `n` gateways all on base 18789 and one state dir (so sharing config,
    /// workspace and log file too).
    pub(crate) fn clashing_fleet(n: usize) -> String {
        let mut y = String::from("version: 1\ndefaults:\n  args: [--allow-unconfigured]\n  state_dir: shared\nprofiles:\n");
        for i in 0..n {
            let role = if i == 0 { "main" } else { "rescue" };
            y.push_str(&format!("  p{i}:\n    role: {role}\n    port: 18789\n"));
        }
        y
    }

    /// Regression (issue 12): 400 profiles on one base port printed 92 MB of errors and 1,000
    /// sharing a state dir 1.3 GB (one error per pair, each pair's notes). Now one error per
    /// shared path or port, each naming at most ten profiles.
    #[test]
    fn thousand_clashing_profiles_give_bounded_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = crate::fleet::LoadContext {
            env: [("HOME".to_string(), dir.path().display().to_string())].into(),
            check_host_ports: false,
        };
        let started = std::time::Instant::now();
        let Err(e) = crate::fleet::load_str(&dir.path().join("fleet.yaml"), &clashing_fleet(1000), &ctx) else {
            panic!("accepted")
        };
        let text = e.to_string();
        eprintln!(
            "1000 clashing profiles: {} bytes of errors in {:?} (debug build)",
            text.len(),
            started.elapsed()
        );
        assert!(text.len() < 8 * 1024, "{} bytes:\n{text}", text.len());
        assert!(
            text.contains("base port 18789 (footprint 18789-18899) is shared by 1000 profiles: 'p0', 'p1', 'p10'"),
            "{text}"
        );
        assert!(text.contains("state dir") && text.contains("and 990 more"), "{text}");
    }

    /// 1,000 gateways on bases 1 apart (every one meets its 110 neighbours): at most
    /// `MAX_NAMED` + 1 errors for the run, not one per profile.
    #[test]
    fn a_long_run_of_meeting_bases_gives_bounded_output() {
        let root = Path::new("/nonexistent-root");
        let plans: Vec<Plan> = (0..1000u16)
            .map(|i| {
                let mut p = plan(&format!("p{i}"), 20_000 + i, &[], root);
                p.gateway.as_mut().expect("gateway").state_dir.value = root.join(format!("s{i}"));
                for (k, s) in [("c", 0), ("w", 1), ("l", 2)] {
                    let g = p.gateway.as_mut().expect("gateway");
                    let v = root.join(format!("s{i}/{k}"));
                    match s {
                        0 => g.config.value = v,
                        1 => g.workspace.value = v,
                        _ => g.log_file.value = v,
                    }
                }
                p
            })
            .collect();
        let d = run(&plans);
        let bytes: usize = d.iter().map(|d| d.to_string().len()).sum();
        assert!(d.len() <= MAX_NAMED + 1, "{} errors", d.len());
        assert!(bytes < 16 * 1024, "{bytes} bytes");
        assert!(
            d.iter()
                .any(|d| d.message.contains("ports of 989 more profiles (bases 20011-20999)")),
            "{d:#?}"
        );
    }

    fn ports_of(p: &Plan) -> std::collections::BTreeSet<u32> {
        p.listeners.iter().flat_map(|l| l.range.lo..=l.range.hi).collect()
    }

    proptest! {
        /// A port clash between two instances is reported iff their computed port sets intersect
        /// (brute-force oracle over every port).
        #[test]
        fn port_clash_iff_sets_intersect(bases in proptest::collection::vec(1024u16..1600, 2..5), pins in proptest::collection::vec(proptest::option::of(1024u32..1800), 2..5)) {
            let root = Path::new("/nonexistent-root");
            let plans: Vec<Plan> = bases.iter().enumerate().map(|(i, b)| {
                let pin: Vec<u32> = pins.get(i).copied().flatten().into_iter().collect();
                plan(&format!("p{i}"), *b, &pin, root)
            }).collect();
            let d = run(&plans);
            for i in 0..plans.len() {
                for j in i + 1..plans.len() {
                    let oracle = !ports_of(&plans[i]).is_disjoint(&ports_of(&plans[j]));
                    let (a, b) = (&plans[i].profile, &plans[j].profile);
                    let names = |x: &str, d: &Diagnostic| d.profile.as_deref() == Some(x) || d.message.contains(&format!("'{x}'"));
                    let reported = d.iter().any(|d| names(a, d) && names(b, d));
                    prop_assert_eq!(oracle, reported, "pair {} {}: {:?}", a, b, d);
                }
            }
        }

        /// A suggested base port really is free: re-proving with it removes the clash.
        #[test]
        fn suggested_base_is_free(a in 1024u16..3000, b in 1024u16..3000) {
            let root = Path::new("/nonexistent-root");
            let pa = plan("a", a, &[], root);
            let pb = plan("b", b, &[], root);
            let taken: Vec<PortRange> = pa.listeners.iter().map(|l| l.range).collect();
            let s = suggest_base(&pb, &taken).expect("a free base exists");
            prop_assert!(run(&[pa, plan("b", s, &[], root)]).is_empty());
        }
    }
}
