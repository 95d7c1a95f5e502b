//! The isolation proof: over every pair of instances, no path lies on or inside another's and no
//! port or range intersects another's. Every violation is reported, each with a concrete fix.
//!
//! OpenClaw's checklist (`docs/gateway/multiple-gateways.md`) asks for separate config, state
//! dir and workspace, a unique `gateway.port`, derived ports that never overlap and unshared
//! `browser.cdpUrl`s. Its rule of thumb "base ports at least 20 apart" is not enough: an
//! instance may use base..=base+110 (CDP range base+11..=base+110, facts §2), so this module
//! proves disjointness of the actual sets and suggests a base port whose whole footprint is free.

use super::Profile;
use super::diagnostic::{Diagnostic, Place};
use super::plan::{Listener, PathKind, Plan, PortRange};
use std::path::{Path, PathBuf};

/// Lowest base port suggested in a fix (below are privileged ports).
const MIN_SUGGESTED_PORT: u32 = 1024;

/// Proves the fleet's instances isolated; returns every violation (empty = proved).
pub fn prove(instances: &[(Profile, Plan)]) -> Vec<Diagnostic> {
    let items: Vec<(&Plan, &Place)> = instances.iter().map(|(p, plan)| (plan, &p.place)).collect();
    prove_plans(&items)
}

/// [`prove`] over plans and the place each profile is declared at.
pub fn prove_plans(items: &[(&Plan, &Place)]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (plan, place) in items {
        out.extend(check_port_bounds(plan, place));
        out.extend(check_own_pins(plan, place));
    }
    let resolved: Vec<Vec<(PathKind, PathBuf)>> = items
        .iter()
        .map(|(p, _)| p.paths().into_iter().map(|(k, s)| (k, resolve_existing(&s.value))).collect())
        .collect();
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            out.extend(check_paths(items[i], &resolved[i], items[j], &resolved[j]));
            out.extend(check_ports(items, i, j));
            out.extend(check_cdp_urls(items[i], items[j]));
        }
    }
    out
}

fn check_port_bounds(plan: &Plan, place: &Place) -> Vec<Diagnostic> {
    // Only base-relative listeners can pass 65535; they exist only with a base port.
    let Some(base) = &plan.base_port else { return Vec::new() };
    let footprint = plan
        .listeners
        .iter()
        .filter_map(|l| l.base_offset.map(|(_, hi)| hi))
        .max()
        .unwrap_or(0);
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

/// Pinned ports (explicit cdpPort/cdpUrl, controlPort, canvasHost.port) of one instance must be
/// unique within it too.
fn check_own_pins(plan: &Plan, place: &Place) -> Vec<Diagnostic> {
    let pinned: Vec<&Listener> = plan.listeners.iter().filter(|l| l.base_offset.is_none()).collect();
    let mut out = Vec::new();
    for (i, a) in pinned.iter().enumerate() {
        for b in &pinned[i + 1..] {
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

fn check_paths(a: (&Plan, &Place), ra: &[(PathKind, PathBuf)], b: (&Plan, &Place), rb: &[(PathKind, PathBuf)]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (ka, pa) in ra {
        for (kb, pb) in rb {
            let relation = if pa == pb {
                "is the same as"
            } else if pb.starts_with(pa) {
                "lies inside"
            } else if pa.starts_with(pb) {
                "contains"
            } else {
                continue;
            };
            // Report on b (the later profile), pointing at where b's value came from.
            let (plan_a, _) = a;
            let (plan_b, place_b) = b;
            let src_b = plan_b.paths().into_iter().find(|(k, _)| k == kb).map(|(_, s)| s.source.clone());
            let src_a = plan_a.paths().into_iter().find(|(k, _)| k == ka).map(|(_, s)| s.source.clone());
            let (Some(src_a), Some(src_b)) = (src_a, src_b) else { continue };
            out.push(
                Diagnostic::error(
                    src_b.place_or(place_b),
                    format!(
                        "{} {} {relation} the {} of profile '{}' ({})",
                        kb.as_str(),
                        pb.display(),
                        ka.as_str(),
                        plan_a.profile,
                        pa.display()
                    ),
                )
                .profile(&plan_b.profile)
                .note(format!("'{}' {} comes from {}", plan_b.profile, kb.as_str(), src_b))
                .note(format!("'{}' {} comes from {}", plan_a.profile, ka.as_str(), src_a))
                .hint(path_fix(*kb, plan_b)),
            );
        }
    }
    out
}

fn path_fix(kind: PathKind, plan: &Plan) -> String {
    let name = &plan.profile;
    // Path clashes only exist between gateways.
    let Some(g) = &plan.gateway else { return String::new() };
    match kind {
        PathKind::Config => {
            format!("give profile '{name}' a config of its own with `config:` (or its own `state_dir:`/`openclaw_profile:`)")
        }
        PathKind::StateDir => match g.state_dir.source {
            super::plan::Source::Fleet { .. } => {
                format!("change `state_dir:` of profile '{name}' to a folder outside every other instance's paths")
            }
            _ => format!("give profile '{name}' a state dir of its own with `state_dir:` or `openclaw_profile: {name}`"),
        },
        PathKind::Workspace => format!(
            "set agents.defaults.workspace in {} (or `workspace:`) to a folder outside every other instance's paths",
            g.config.value.display()
        ),
        PathKind::LogFile => format!(
            "set logging.file in {} to a file of its own, e.g. {}",
            g.config.value.display(),
            g.state_dir.value.join("logs/gateway.log").display()
        ),
    }
}

fn check_ports(items: &[(&Plan, &Place)], i: usize, j: usize) -> Vec<Diagnostic> {
    let (a, place_a) = items[i];
    let (b, place_b) = items[j];
    let mut base_clashes = Vec::new();
    let mut out = Vec::new();
    for la in &a.listeners {
        for lb in &b.listeners {
            if !la.range.overlaps(&lb.range) || (la.connects && lb.connects) {
                continue;
            }
            match (la.base_offset, lb.base_offset) {
                (Some(_), Some(_)) => base_clashes.push((la, lb)),
                // A pinned port (config key) meets the other side: the fix is that key.
                (None, _) => out.push(pinned_clash((a, la, place_a), (b, lb))),
                (Some(_), None) => out.push(pinned_clash((b, lb, place_b), (a, la))),
            }
        }
    }
    // Base-relative listeners exist only with a base port.
    let (Some(base_a), Some(base_b)) = (&a.base_port, &b.base_port) else {
        return out;
    };
    if base_clashes.is_empty() {
        return out;
    }
    // Move the instance with the higher base port (ties: the later one), keeping e.g. main on
    // the documented 18789.
    let (mover, mover_base, other, other_base, mover_place) = if base_b.value >= base_a.value {
        (b, base_b, a, base_a, place_b)
    } else {
        (a, base_a, b, base_b, place_a)
    };
    let footprint = |p: &Plan, base: u16| {
        let offsets = p.listeners.iter().filter_map(|l| l.base_offset);
        let hi = offsets.map(|o| o.1).max().unwrap_or(0);
        PortRange {
            lo: u32::from(base),
            hi: u32::from(base) + hi,
        }
    };
    let mut d = Diagnostic::error(
        mover_base.source.place_or(mover_place),
        format!(
            "ports of profile '{}' (base {}, footprint {}) intersect those of profile '{}' (base {}, footprint {})",
            mover.profile,
            mover_base.value,
            footprint(mover, mover_base.value),
            other.profile,
            other_base.value,
            footprint(other, other_base.value)
        ),
    )
    .profile(&mover.profile)
    .key("port");
    for (la, lb) in &base_clashes {
        let (lm, lo) = if std::ptr::eq(mover, a) { (la, lb) } else { (lb, la) };
        d = d.note(format!(
            "'{}' {} {} ({}) meets '{}' {} {} ({})",
            mover.profile, lm.name, lm.range, lm.source, other.profile, lo.name, lo.range, lo.source
        ));
    }
    let gap = mover_base.value.abs_diff(other_base.value);
    if (20..120).contains(&gap) {
        d = d.note(format!(
            "the bases are {gap} apart, which meets OpenClaw's documented \"at least 20 apart\", but a gateway may use base..=base+110: keep bases at least 120 apart"
        ));
    }
    let taken: Vec<PortRange> = items
        .iter()
        .filter(|(p, _)| !std::ptr::eq(*p, mover))
        .flat_map(|(p, _)| p.listeners.iter().map(|l| l.range))
        .collect();
    let also_config = match &mover.gateway {
        Some(g) if g.config_exists => format!(" and gateway.port in {}", g.config.value.display()),
        _ => String::new(),
    };
    d = match suggest_base(mover, &taken) {
        Some(port) => d.hint(format!(
            "set profile '{}' base port to {port}{also_config} (the nearest base whose whole footprint is free), or keep bases ≥ 120 apart",
            mover.profile
        )),
        None => d.hint("no free base port exists for this footprint; reduce the fleet or pin browser ports"),
    };
    out.push(d);
    out
}

/// A clash where `pinned` (a port fixed by a config key of `owner`) meets `hit` of `other`.
fn pinned_clash((owner, pinned, owner_place): (&Plan, &Listener, &Place), (other, hit): (&Plan, &Listener)) -> Diagnostic {
    let key = match &pinned.source {
        super::plan::Source::Config { key, .. } => key.clone(),
        _ => "port".to_string(),
    };
    let verb = if pinned.connects { "points into" } else { "lies in" };
    Diagnostic::error(
        pinned.source.place_or(owner_place),
        format!(
            "{} {} {verb} profile '{}''s {} {}",
            pinned.name, pinned.range, other.profile, hit.name, hit.range
        ),
    )
    .profile(&owner.profile)
    .key(key)
    .note(format!("'{}' {} comes from {}", other.profile, hit.name, hit.source))
    .hint(format!(
        "move {} to a port outside every other instance's ports (see `clawherd ports`)",
        pinned.source
    ))
}

/// The base port nearest to `plan`'s whose base-relative listeners, moved with it, meet none of
/// `taken` nor the plan's own pinned ports, and stay within 1024..=65535. `None` if none exists.
pub fn suggest_base(plan: &Plan, taken: &[PortRange]) -> Option<u16> {
    let base = u32::from(plan.port()?);
    let offsets: Vec<(u32, u32)> = plan.listeners.iter().filter_map(|l| l.base_offset).collect();
    let pinned: Vec<PortRange> = plan.listeners.iter().filter(|l| l.base_offset.is_none()).map(|l| l.range).collect();
    let top = offsets.iter().map(|o| o.1).max().unwrap_or(0);
    let fits = |cand: u32| {
        cand >= MIN_SUGGESTED_PORT
            && cand + top <= 65535
            && offsets.iter().all(|(lo, hi)| {
                let r = PortRange {
                    lo: cand + lo,
                    hi: cand + hi,
                };
                !taken.iter().chain(&pinned).any(|t| t.overlaps(&r))
            })
    };
    (1..=65535u32).find_map(|d| {
        let up = base + d;
        let down = base.checked_sub(d);
        if fits(up) {
            Some(up as u16)
        } else {
            down.filter(|c| fits(*c)).map(|c| c as u16)
        }
    })
}

fn check_cdp_urls(a: (&Plan, &Place), b: (&Plan, &Place)) -> Vec<Diagnostic> {
    let norm = |u: &str| u.trim().trim_end_matches('/').to_ascii_lowercase();
    let mut out = Vec::new();
    for ua in &a.0.cdp_urls {
        for ub in &b.0.cdp_urls {
            if norm(&ua.value) == norm(&ub.value) {
                out.push(
                    Diagnostic::error(ub.source.place_or(b.1), format!("CDP URL {} is also used by profile '{}'", ub.value, a.0.profile))
                        .profile(&b.0.profile)
                        .note(format!("'{}' has it from {}", a.0.profile, ua.source))
                        .hint("two gateways driving one browser fight over its tabs; give each instance its own browser (cdpUrl) or drop the key to use the managed one"),
                );
            }
        }
    }
    out
}

/// The path as the kernel would resolve it, so two spellings of one place compare equal: the
/// existing prefix is resolved component by component (symlinks followed, `..` applied to the
/// resolved path, as `open(2)` does), then the part that does not exist yet is applied lexically.
/// `lnk/../x` with `lnk` → `real/deep` is `real/x`, not `./x`. The file system is only read.
pub fn resolve_existing(p: &Path) -> PathBuf {
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
                    match out.canonicalize() {
                        Ok(canon) => out = canon,
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fleet::plan::{GatewayPaths, Source, Sourced};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A synthetic openclaw-flavor plan: base, base+2, base+10, base+11..=base+110, plus pins.
    pub(crate) fn plan(name: &str, base: u16, pins: &[u32], root: &Path) -> Plan {
        let derived = |n: &str, lo: u32, hi: u32| Listener {
            name: n.into(),
            range: PortRange {
                lo: u32::from(base) + lo,
                hi: u32::from(base) + hi,
            },
            source: Source::Derived(n.into()),
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
                config: s(state.join("openclaw.json")),
                config_exists: false,
                state_dir: s(state.clone()),
                workspace: s(state.join("workspace")),
                log_file: s(state.join("gateway.log")),
            }),
            base_port: Some(Sourced {
                value: base,
                source: Source::Derived("test".into()),
            }),
            listeners,
            cdp_urls: Vec::new(),
            cwd: state,
            env: BTreeMap::new(),
            argv: Vec::new(),
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
                    let names = |x: &str, d: &Diagnostic| d.profile.as_deref() == Some(x) || d.message.contains(&format!("profile '{x}'"));
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
