//! The fleets under `config-examples/` load as documented: the demo fleet and the home-dir layout
//! are proved isolated, and every fleet in `config-examples/broken/` fails with the diagnostic its
//! `# expect:` lines name, and with nothing else.

use clawherd::fleet::{FleetError, LoadContext, load};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples")
}

/// clawherd's real environment, but with `HOME` moved to `home` so that no fleet ever reads the
/// real `~/.openclaw*`, and without the host-port probe so that results do not depend on what
/// happens to listen on this machine.
fn context(home: &Path) -> LoadContext {
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    env.insert("HOME".into(), home.display().to_string());
    LoadContext {
        env,
        check_host_ports: false,
    }
}

fn temp_home() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary HOME")
}

#[test]
fn demo_fleet_is_proved_isolated() {
    let home = temp_home();
    let path = examples().join("fleet.yaml");
    let fleet = match load(&path, &context(home.path())) {
        Ok(f) => f,
        Err(e) => panic!("{} must load:\n{e}", path.display()),
    };
    assert!(
        fleet.warnings.0.is_empty(),
        "the demo fleet must load without warnings:\n{}",
        fleet.warnings
    );
    let names: Vec<&str> = fleet.instances.iter().map(|(p, _)| p.name.as_str()).collect();
    assert_eq!(names, ["main", "rescue"]);

    let (_, main) = fleet.get("main").expect("profile main");
    let (rescue_profile, rescue) = fleet.get("rescue").expect("profile rescue");
    assert_eq!(main.port().expect("port"), 18789);
    assert_eq!(rescue.port().expect("port"), 19789);
    assert_eq!(rescue_profile.openclaw_profile.as_deref(), Some("rescue"));

    let dir = examples();
    assert_eq!(main.gateway.as_ref().expect("gateway").state_dir.value, dir.join("state/main"));
    assert_eq!(rescue.gateway.as_ref().expect("gateway").state_dir.value, dir.join("state/rescue"));
    assert_ne!(
        main.gateway.as_ref().expect("gateway").state_dir.value,
        rescue.gateway.as_ref().expect("gateway").state_dir.value
    );
    for (name, plan) in [("main", main), ("rescue", rescue)] {
        let state = dir.join("state").join(name);
        assert_eq!(
            plan.gateway.as_ref().expect("gateway").config.value,
            dir.join(format!("{name}.openclaw.json5"))
        );
        assert!(plan.gateway.as_ref().expect("gateway").config_exists, "{name}: config must exist");
        // ${CLAWHERD_FLEET_DIR} in the configs resolves to the fleet file's folder.
        assert_eq!(
            plan.gateway.as_ref().expect("gateway").workspace.value,
            state.join("workspace"),
            "{name}: workspace"
        );
        assert_eq!(
            plan.gateway.as_ref().expect("gateway").log_file.value,
            state.join("logs/openclaw.log"),
            "{name}: log file"
        );
        // Every path stays inside the example folder: the demo touches nothing in $HOME.
        for (kind, p) in plan.paths() {
            assert!(
                p.value.starts_with(&dir),
                "{name}: {} {} leaves {}",
                kind.as_str(),
                p.value.display(),
                dir.display()
            );
        }
    }
}

#[test]
fn home_layout_is_proved_isolated_with_a_temporary_home() {
    let home = temp_home();
    let path = examples().join("home-layout/fleet.yaml");
    let fleet = match load(&path, &context(home.path())) {
        Ok(f) => f,
        Err(e) => panic!("{} must load:\n{e}", path.display()),
    };
    let (_, main) = fleet.get("main").expect("profile main");
    let (_, rescue) = fleet.get("rescue").expect("profile rescue");
    assert_eq!(main.port().expect("port"), 18789);
    assert_eq!(rescue.port().expect("port"), 19789);
    assert_eq!(
        main.gateway.as_ref().expect("gateway").state_dir.value,
        home.path().join(".openclaw")
    );
    assert_eq!(
        rescue.gateway.as_ref().expect("gateway").state_dir.value,
        home.path().join(".openclaw-rescue")
    );
    assert_eq!(
        main.gateway.as_ref().expect("gateway").config.value,
        home.path().join(".openclaw/openclaw.json")
    );
    assert_eq!(
        rescue.gateway.as_ref().expect("gateway").config.value,
        home.path().join(".openclaw-rescue/openclaw.json")
    );
    assert_ne!(
        main.gateway.as_ref().expect("gateway").log_file.value,
        rescue.gateway.as_ref().expect("gateway").log_file.value
    );
}

/// The `# expect:` lines at the top of a broken fleet: substrings its error must contain.
fn expectations(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# expect:"))
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn every_broken_fleet_fails_with_its_expected_error_only() {
    let dir = examples().join("broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read config-examples/broken")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 11, "expected a broken fleet per rule, found {files:?}");

    let home = temp_home();
    let ctx = context(home.path());
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().expect("file name").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).expect("read a broken fleet");
        let expected = expectations(&text);
        if expected.is_empty() {
            failures.push(format!("{name}: no `# expect:` line at the top"));
            continue;
        }
        match load(file, &ctx) {
            Ok(_) => failures.push(format!("{name}: loaded, but must fail with {expected:?}")),
            Err(FleetError::Read { source, .. }) => failures.push(format!("{name}: cannot be read: {source}")),
            Err(FleetError::Invalid(d)) => {
                let rendered = d.to_string();
                for want in &expected {
                    if !rendered.contains(want.as_str()) {
                        failures.push(format!("{name}: error lacks {want:?}:\n{rendered}"));
                    }
                }
                // One rule broken, one diagnostic: no second error, no warning to distract.
                if d.0.len() != 1 {
                    failures.push(format!("{name}: {} diagnostics, expected exactly 1:\n{rendered}", d.0.len()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
