//! `clawherd init`: find the OpenClaw profiles already on this host and write a fleet file for
//! them, then run the isolation proof on it so a clash (two profiles whose port footprints
//! meet, a shared log file) is pointed out before anything runs.
//!
//! Where OpenClaw keeps a profile (docs/openclaw.md, "Identity"; `resolveStateDir` in `dist/paths-*.mjs`): the
//! default profile in `~/.openclaw`, a named one in `~/.openclaw-NAME`, both under
//! `$OPENCLAW_HOME` instead of `~` when that is set; the config is `<state>/openclaw.json` (an
//! existing legacy `clawdbot.json` when that is missing). A legacy `~/.clawdbot` is the default
//! profile of the Clawdbot generation and is taken only when there is no `~/.openclaw` (with
//! one, today's OpenClaw ignores it); a `~/.clawdbot-NAME` is a named legacy profile.

use crate::fleet::openclaw::{self, read_config};
use crate::fleet::validate::valid_profile_name;
use crate::fleet::{Flavor, FleetError, LoadContext, Role, load_str};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One OpenClaw profile found on the host, with the fleet entry proposed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundProfile {
    /// Proposed fleet profile name: `main` for the default profile, else the OpenClaw profile
    /// name (lowercase), with `-2`, `-3`... when taken.
    pub name: String,
    /// The OpenClaw profile; `None` is the default profile.
    pub openclaw_profile: Option<String>,
    /// `openclaw`, or `clawdbot` for a legacy `~/.clawdbot`.
    pub flavor: Flavor,
    /// Proposed role: `main` for the default profile (or, without one, a profile named `main`),
    /// `rescue` for every other.
    pub role: Role,
    /// Why that role, written as a comment in the fleet file.
    pub role_reason: String,
    /// The state dir found (absolute).
    pub state_dir: PathBuf,
    /// The config file OpenClaw would read in it (may not exist).
    pub config: PathBuf,
    /// Whether `config` exists.
    pub config_exists: bool,
    /// `gateway.port` from the config, when set and valid.
    pub port: Option<u16>,
    /// The `$OPENCLAW_HOME` it was found under, when that is not `home`; written as the
    /// profile's `env: {OPENCLAW_HOME: ...}` (clawherd scrubs inherited `OPENCLAW_*` variables,
    /// so the gateway sees this home only through the fleet file).
    pub openclaw_home: Option<PathBuf>,
    /// The home directory the fleet's default paths are derived from (`~` = `$HOME`).
    pub home: PathBuf,
    /// A problem with the config (unreadable, not JSON5, a `gateway.port` that is no port).
    pub problem: Option<String>,
}

impl FoundProfile {
    /// The state dir clawherd derives for this entry without a `state_dir:` key.
    fn derived_state_dir(&self) -> PathBuf {
        let home = self.openclaw_home.as_deref().unwrap_or(&self.home);
        openclaw::default_state_dir(self.flavor, self.openclaw_profile.as_deref(), home)
    }

    /// Whether the fleet entry needs an explicit `state_dir:`.
    pub(crate) fn explicit_state_dir(&self) -> bool {
        self.derived_state_dir() != self.state_dir
    }

    /// Whether the fleet entry needs an explicit `config:`.
    pub(crate) fn explicit_config(&self) -> bool {
        openclaw::default_config_path(self.flavor, &self.state_dir) != self.config
    }
}

/// Finds the OpenClaw profiles under `home` (the user's home, `$HOME`) and under
/// `openclaw_home` (`$OPENCLAW_HOME`, if set), in that order: `.openclaw` (default profile),
/// `.openclaw-NAME` (named profiles, NAME following OpenClaw's name rule; `default` means the
/// default profile and is skipped), and a legacy `.clawdbot` when there is no `.openclaw` beside
/// it. A named dir counts only if it holds a config, a `state/` or a `workspace/` folder (so a
/// stray `~/.openclaw-backup` file or empty folder is left out). Configs are read as JSON5 for
/// `gateway.port`; a config that cannot be read is reported in [`FoundProfile::problem`], not
/// dropped. The same folder reached twice (a symlink, `OPENCLAW_HOME` = `HOME`) is listed once.
///
/// Order of the result: the `main`-role profile first, then by fleet name.
pub(crate) fn discover(home: &Path, openclaw_home: Option<&Path>) -> Vec<FoundProfile> {
    // (state dir, openclaw profile, flavor, OPENCLAW_HOME it came from)
    let mut candidates: Vec<(PathBuf, Option<String>, Flavor, Option<PathBuf>)> = Vec::new();
    let mut roots = vec![(home.to_path_buf(), None)];
    if let Some(oh) = openclaw_home.filter(|oh| canonical(oh) != canonical(home)) {
        roots.push((oh.to_path_buf(), Some(oh.to_path_buf())));
    }
    for (root, via) in &roots {
        let default = root.join(".openclaw");
        let legacy = root.join(".clawdbot");
        if default.is_dir() {
            candidates.push((default, None, Flavor::OpenClaw, via.clone()));
        } else if legacy.is_dir() {
            candidates.push((legacy, None, Flavor::Clawdbot, via.clone()));
        }
        let Ok(entries) = std::fs::read_dir(root) else { continue };
        // Named profiles of both generations: `.openclaw-NAME`, and the legacy `.clawdbot-NAME`
        // (clawdbot's `resolveStateDir` for CLAWDBOT_PROFILE=NAME, dist/config/paths.js).
        let mut named: Vec<(Flavor, String, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let file_name = e.file_name().into_string().ok()?;
                let (flavor, name) = match file_name.strip_prefix(".openclaw-") {
                    Some(n) => (Flavor::OpenClaw, n.to_string()),
                    None => (Flavor::Clawdbot, file_name.strip_prefix(".clawdbot-")?.to_string()),
                };
                let path = e.path();
                let lower = name.to_ascii_lowercase();
                (valid_profile_name(&lower) && lower != "default" && looks_like_state_dir(&path)).then_some((flavor, name, path))
            })
            .collect();
        named.sort_by(|a, b| (a.0 == Flavor::Clawdbot, &a.1).cmp(&(b.0 == Flavor::Clawdbot, &b.1)));
        for (flavor, name, path) in named {
            candidates.push((path, Some(name), flavor, via.clone()));
        }
    }

    let mut seen = Vec::new();
    let mut found: Vec<FoundProfile> = Vec::new();
    for (state_dir, oc_profile, flavor, via) in candidates {
        let key = canonical(&state_dir);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let config = openclaw::default_config_path(flavor, &state_dir);
        let (port, problem) = match read_config(&config) {
            Ok(c) => match c.get("gateway.port") {
                None => (None, None),
                Some(v) => match v.as_u64().and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0) {
                    Some(p) => (Some(p), None),
                    None => (None, Some(format!("gateway.port {v} is not a port (1-65535)"))),
                },
            },
            Err(e) => {
                let at = e.position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default();
                (None, Some(format!("{}{at}: {}", config.display(), e.message)))
            }
        };
        found.push(FoundProfile {
            name: String::new(),
            openclaw_profile: oc_profile,
            flavor,
            role: Role::Rescue,
            role_reason: String::new(),
            config_exists: config.is_file(),
            state_dir,
            config,
            port,
            openclaw_home: via,
            home: home.to_path_buf(),
            problem,
        });
    }
    assign_roles_and_names(&mut found);
    found.sort_by(|a, b| (a.role != Role::Main, &a.name).cmp(&(b.role != Role::Main, &b.name)));
    found
}

/// Main: the first default profile, else a profile named `main`; every other is rescue. Fleet
/// names: `main` for the default profile, the OpenClaw name otherwise, made unique.
fn assign_roles_and_names(found: &mut [FoundProfile]) {
    let main_idx = found
        .iter()
        .position(|f| f.openclaw_profile.is_none())
        .or_else(|| found.iter().position(|f| f.openclaw_profile.as_deref() == Some("main")));
    let mut taken: Vec<String> = Vec::new();
    for (i, f) in found.iter_mut().enumerate() {
        let base = match &f.openclaw_profile {
            None => "main".to_string(),
            Some(n) => n.to_ascii_lowercase(),
        };
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        taken.push(name.clone());
        f.name = name;
        let what = match (&f.openclaw_profile, f.flavor) {
            (None, Flavor::Clawdbot) => "the default profile of the legacy Clawdbot generation".to_string(),
            (None, _) => "OpenClaw's default profile".to_string(),
            (Some(n), _) => format!("OpenClaw profile '{n}'"),
        };
        if Some(i) == main_idx {
            f.role = Role::Main;
            f.role_reason = format!("{what}: the main bot");
        } else if f.openclaw_profile.as_deref().is_some_and(|n| n.eq_ignore_ascii_case("rescue")) {
            f.role = Role::Rescue;
            f.role_reason = format!("{what}: the isolated rescue bot");
        } else {
            f.role = Role::Rescue;
            f.role_reason =
                format!("{what}: proposed as `rescue`, a second gateway beside main; write `role: main` if it is a primary bot of its own");
        }
    }
}

fn looks_like_state_dir(p: &Path) -> bool {
    p.is_dir()
        && (p.join("openclaw.json").is_file()
            || p.join("clawdbot.json").is_file()
            || p.join("state").is_dir()
            || p.join("workspace").is_dir())
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Writes a fleet file (YAML, `version: 1`) for `found`, commented: per profile where it was
/// found, its config and port, why it got its role, and any config problem. Keys written:
/// `role`, `flavor` (only `clawdbot`), `openclaw_profile`, `state_dir`/`config` only where
/// clawherd would not derive the same path itself, `env: {OPENCLAW_HOME}` for profiles found under
/// `$OPENCLAW_HOME`, and `port` when the config sets `gateway.port` (the same value, so no
/// "differs" warning). Without a `gateway.port` the gateway's own default applies and the
/// comment names it. Paths under `home` are written `~/...`.
///
/// The text is accepted by [`crate::fleet::load_str`] syntactically; whether it proves isolated
/// is for [`proof_report`] to say. With nothing found, the file has an empty `profiles: {}`
/// and an example in comments (loading it reports that no profile is declared).
pub(crate) fn render_fleet(found: &[FoundProfile]) -> String {
    let mut out = String::new();
    out.push_str("# clawherd fleet file, written by `clawherd init` from the OpenClaw profiles found on this host.\n");
    out.push_str("# Prove it with `clawherd check FILE`, run it with `clawherd run FILE`.\n");
    if let Some(home) = found.first().map(|f| &f.home) {
        let _ = writeln!(
            out,
            "# `~` below is $HOME of whoever runs clawherd; these profiles were found with HOME={}.",
            home.display()
        );
    }
    out.push_str("version: 1\n");
    out.push_str("# run_dir: .clawherd        # clawherd's own files (captured output, control socket), beside this file\n");
    if found.is_empty() {
        out.push_str("# No OpenClaw profile (~/.openclaw, ~/.openclaw-NAME, ~/.clawdbot) was found. For example:\n");
        out.push_str("#   main:\n#     role: main\n#     openclaw_profile: default\n#     port: 18789\n");
        out.push_str("profiles: {}\n");
        return out;
    }
    out.push_str("profiles:\n");
    for f in found {
        let _ = writeln!(out, "  {}:", f.name);
        let _ = writeln!(out, "    # {}", f.role_reason);
        let _ = writeln!(out, "    # state dir {}", f.state_dir.display());
        let config_note = if f.config_exists {
            ""
        } else {
            " (missing: the gateway would exit 78 until it exists)"
        };
        let _ = writeln!(out, "    # config {}{config_note}", f.config.display());
        if let Some(p) = &f.problem {
            let _ = writeln!(out, "    # PROBLEM: {p}");
        }
        let _ = writeln!(out, "    role: {}", f.role.as_str());
        if f.flavor != Flavor::OpenClaw {
            let _ = writeln!(
                out,
                "    flavor: {}  # today's `openclaw` also runs a ~/.clawdbot; then write `flavor: openclaw`",
                f.flavor.as_str()
            );
        }
        let _ = writeln!(
            out,
            "    openclaw_profile: {}",
            yaml_str(f.openclaw_profile.as_deref().unwrap_or("default"))
        );
        if let Some(oh) = &f.openclaw_home {
            let _ = writeln!(out, "    env: {{OPENCLAW_HOME: {}}}", yaml_str(&oh.display().to_string()));
        }
        if f.explicit_state_dir() {
            let _ = writeln!(out, "    state_dir: {}", yaml_path(&f.state_dir, &f.home));
        }
        if f.explicit_config() {
            let _ = writeln!(out, "    config: {}", yaml_path(&f.config, &f.home));
        }
        match (f.port, &f.openclaw_profile) {
            (Some(p), _) => {
                let _ = writeln!(out, "    port: {p}  # gateway.port in the config");
            }
            (None, Some(n)) => {
                let _ = writeln!(
                    out,
                    "    # port: {}  (no gateway.port: OpenClaw's hash of '{n}' applies)",
                    openclaw::profile_port_hash(n)
                );
            }
            (None, None) => {
                let _ = writeln!(
                    out,
                    "    # port: {}  (no gateway.port: OpenClaw's default applies)",
                    openclaw::DEFAULT_BASE_PORT
                );
            }
        }
    }
    out
}

/// The outcome of proving a fleet text: whether it is proved, and what to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProofReport {
    /// True when the fleet loads and proves isolated (warnings allowed).
    pub proved: bool,
    /// What to print: every problem with its place, clash and fix, then a summary line; or the
    /// warnings and "isolation proved for N instance(s)".
    pub text: String,
}

/// Loads `text` as the fleet file at `path` (which need not exist; it anchors relative paths
/// and names the file in diagnostics) with `ctx`, and reports the isolation proof as
/// `clawherd check` would. Never fails: every problem, a read error included, is in the text.
pub(crate) fn proof_report(path: &Path, text: &str, ctx: &LoadContext) -> ProofReport {
    match load_str(path, text, ctx) {
        Ok(fleet) => {
            let mut text = String::new();
            if !fleet.warnings.0.is_empty() {
                let _ = writeln!(text, "{}", fleet.warnings);
            }
            let _ = write!(
                text,
                "{}: isolation proved for {} instance(s)",
                path.display(),
                fleet.instances.len()
            );
            ProofReport { proved: true, text }
        }
        Err(FleetError::Invalid(d)) => ProofReport {
            proved: false,
            text: format!(
                "{d}\n\n{}: {} problem(s) found; fix them (the hints say how) before `clawherd run`",
                path.display(),
                d.error_count()
            ),
        },
        Err(e @ FleetError::Read { .. }) => ProofReport {
            proved: false,
            text: e.to_string(),
        },
    }
}

/// A YAML scalar for `s`: plain when it is safe, else double-quoted (JSON escaping is valid
/// YAML), with `${` written `$${` so the fleet's `${VAR}` expansion leaves it alone.
fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-~".contains(c))
        && !s.starts_with('-')
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "~" | "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | ".inf" | ".nan"
        );
    let s = s.replace("${", "$${");
    if plain {
        s
    } else {
        serde_json::to_string(&s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// A path for the fleet file: `~/rest` when under `home`, else absolute.
fn yaml_path(p: &Path, home: &Path) -> String {
    match p.strip_prefix(home) {
        Ok(rest) if !rest.as_os_str().is_empty() => {
            let rest = rest.display().to_string();
            let quoted = yaml_str(&rest);
            if quoted == rest {
                format!("~/{rest}")
            } else {
                yaml_str(&format!("~/{rest}"))
            }
        }
        _ => yaml_str(&p.display().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn write_config(home: &Path, dir: &str, port: u16) {
        let d = home.join(dir);
        std::fs::create_dir_all(&d).expect("mkdir");
        let text = format!(
            "// written by the test\n{{gateway: {{mode: \"local\", port: {port}, bind: \"loopback\", auth: {{mode: \"none\"}}}},}}\n"
        );
        std::fs::write(d.join("openclaw.json"), text).expect("write config");
    }

    fn ctx(home: &Path) -> LoadContext {
        LoadContext {
            env: BTreeMap::from([("HOME".to_string(), home.display().to_string())]),
            check_host_ports: false,
        }
    }

    #[test]
    fn finds_default_and_rescue_and_the_rendered_fleet_proves_clean() {
        let home = tempfile::tempdir().expect("tempdir");
        write_config(home.path(), ".openclaw", 18789);
        write_config(home.path(), ".openclaw-rescue", 19789);
        // Not profiles: a file, an empty folder, `default`, an invalid name.
        std::fs::write(home.path().join(".openclaw-notes"), "x").expect("file");
        std::fs::create_dir(home.path().join(".openclaw-empty")).expect("dir");
        write_config(home.path(), ".openclaw-default", 20000);
        write_config(home.path(), ".openclaw-Bad!", 20000);

        let found = discover(home.path(), None);
        let summary: Vec<_> = found
            .iter()
            .map(|f| (f.name.as_str(), f.role, f.openclaw_profile.as_deref(), f.port))
            .collect();
        assert_eq!(
            summary,
            [
                ("main", Role::Main, None, Some(18789)),
                ("rescue", Role::Rescue, Some("rescue"), Some(19789))
            ]
        );
        assert_eq!(found[1].state_dir, home.path().join(".openclaw-rescue"));
        assert_eq!(found[1].config, home.path().join(".openclaw-rescue/openclaw.json"));
        assert!(!found[0].explicit_state_dir() && !found[0].explicit_config());

        let text = render_fleet(&found);
        assert!(text.contains("openclaw_profile: rescue\n"), "{text}");
        assert!(!text.contains("state_dir:"), "only non-default paths are written:\n{text}");
        let fleet_path = home.path().join("fleet.yaml");
        let fleet = load_str(&fleet_path, &text, &ctx(home.path())).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
        assert_eq!(fleet.instances.len(), 2);
        let (main, main_plan) = fleet.get("main").expect("main");
        assert_eq!(main.role, Role::Main);
        assert_eq!(main_plan.port(), Some(18789));
        let (_, rescue_plan) = fleet.get("rescue").expect("rescue");
        assert_eq!(rescue_plan.port(), Some(19789));
        let report = proof_report(&fleet_path, &text, &ctx(home.path()));
        assert!(report.proved, "{}", report.text);
        assert!(report.text.ends_with("isolation proved for 2 instance(s)"), "{}", report.text);
    }

    #[test]
    fn ports_20_apart_are_pointed_out() {
        let home = tempfile::tempdir().expect("tempdir");
        write_config(home.path(), ".openclaw", 18789);
        write_config(home.path(), ".openclaw-ops", 18809);
        let found = discover(home.path(), None);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].name, "ops");
        assert_eq!(found[1].role, Role::Rescue);
        assert!(found[1].role_reason.contains("role: main"), "{}", found[1].role_reason);
        let text = render_fleet(&found);
        let fleet_path = home.path().join("fleet.yaml");
        let Err(FleetError::Invalid(d)) = load_str(&fleet_path, &text, &ctx(home.path())) else {
            panic!("the clash must fail the proof:\n{text}");
        };
        assert!(d.to_string().contains("intersect"), "{d}");
        let report = proof_report(&fleet_path, &text, &ctx(home.path()));
        assert!(!report.proved);
        assert!(report.text.contains("intersect"), "{}", report.text);
        assert!(report.text.contains("hint:"), "{}", report.text);
    }

    #[test]
    fn legacy_clawdbot_openclaw_home_and_broken_configs() {
        let home = tempfile::tempdir().expect("tempdir");
        let oc_home = tempfile::tempdir().expect("tempdir");
        // Legacy default profile: no ~/.openclaw.
        let legacy = home.path().join(".clawdbot");
        std::fs::create_dir(&legacy).expect("mkdir");
        std::fs::write(legacy.join("clawdbot.json"), "{gateway: {port: 18789}}").expect("write");
        // A named profile without gateway.port, and one with a broken config, under OPENCLAW_HOME.
        std::fs::create_dir_all(oc_home.path().join(".openclaw-ops/workspace")).expect("mkdir");
        std::fs::create_dir_all(oc_home.path().join(".openclaw-broken")).expect("mkdir");
        std::fs::write(oc_home.path().join(".openclaw-broken/openclaw.json"), "{gateway: ").expect("write");

        let found = discover(home.path(), Some(oc_home.path()));
        let names: Vec<_> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["main", "broken", "ops"]);
        assert_eq!(found[0].flavor, Flavor::Clawdbot);
        assert_eq!(found[0].config, legacy.join("clawdbot.json"));
        assert_eq!(found[0].port, Some(18789));
        assert!(
            found[1].problem.as_deref().is_some_and(|p| p.contains("JSON5")),
            "{:?}",
            found[1].problem
        );
        assert_eq!(found[2].port, None);
        assert_eq!(found[2].openclaw_home.as_deref(), Some(oc_home.path()));
        assert!(!found[2].explicit_state_dir(), "OPENCLAW_HOME in env gives the same state dir");

        let text = render_fleet(&found);
        assert!(text.contains("flavor: clawdbot"), "{text}");
        assert!(text.contains(&format!("# port: {}", openclaw::profile_port_hash("ops"))), "{text}");
        assert!(text.contains("PROBLEM:"), "{text}");
        // The broken config fails the proof, located in that file; everything else is fine.
        let fleet_path = home.path().join("fleet.yaml");
        let report = proof_report(&fleet_path, &text, &ctx(home.path()));
        assert!(!report.proved);
        assert!(report.text.contains(".openclaw-broken/openclaw.json"), "{}", report.text);
        assert!(report.text.contains("1 problem(s)"), "{}", report.text);
    }

    /// Issue 13: `init` finds named legacy profiles (`~/.clawdbot-NAME`) as `flavor: clawdbot`.
    #[test]
    fn named_legacy_clawdbot_profiles_are_found() {
        let home = tempfile::tempdir().expect("tempdir");
        write_config(home.path(), ".openclaw", 18789);
        let legacy = home.path().join(".clawdbot-work");
        std::fs::create_dir(&legacy).expect("mkdir");
        std::fs::write(legacy.join("clawdbot.json"), "{gateway: {port: 20789}}").expect("write");
        let found = discover(home.path(), None);
        let work = found.iter().find(|f| f.name == "work").expect("the legacy profile");
        assert_eq!(work.flavor, Flavor::Clawdbot);
        assert_eq!(work.config, legacy.join("clawdbot.json"));
        assert_eq!(work.port, Some(20789));
        let text = render_fleet(&found);
        assert!(text.contains("flavor: clawdbot"), "{text}");
    }

    #[test]
    fn nothing_found_renders_a_template() {
        let home = tempfile::tempdir().expect("tempdir");
        let found = discover(home.path(), None);
        assert!(found.is_empty());
        let text = render_fleet(&found);
        let report = proof_report(&home.path().join("fleet.yaml"), &text, &ctx(home.path()));
        assert!(!report.proved);
        assert!(report.text.contains("no profiles"), "{}", report.text);
    }

    #[test]
    fn yaml_scalars_are_quoted_when_needed() {
        assert_eq!(yaml_str("rescue"), "rescue");
        assert_eq!(yaml_str("yes"), "\"yes\"");
        assert_eq!(yaml_str("123"), "\"123\"");
        assert_eq!(yaml_str("-x"), "\"-x\"");
        assert_eq!(yaml_str("/srv/my bots"), "\"/srv/my bots\"");
        assert_eq!(yaml_str("/a/${X}"), "\"/a/$${X}\"");
        assert_eq!(yaml_path(Path::new("/h/.openclaw-x"), Path::new("/h")), "~/.openclaw-x");
        assert_eq!(yaml_path(Path::new("/h/my dir"), Path::new("/h")), "\"~/my dir\"");
        assert_eq!(yaml_path(Path::new("/srv/x"), Path::new("/h")), "/srv/x");
    }
}
