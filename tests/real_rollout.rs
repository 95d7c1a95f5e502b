//! The automatic rollbacks against real OpenClaw gateways (openclaw@2026.9.6 on Node 24 from
//! `.tools/`): a copy of the example fleet on ports 38789 and 39789 with
//! `rollout: {verify_timeout: 4m, soak: 10s}`, one daemon for three changes in a row:
//!
//! 1. a config key the gateway refuses (`bogusKey: true` under `gateway:` in main's config) and
//!    `clawherd reload`: exit 78, main parked and rolled back to its last-known-good config (the
//!    file byte-identical to the original, the refused one kept as `<config>.rejected-<ts>`),
//!    the rescue bot ready throughout;
//! 2. a change that works (an environment variable of main): `change_verified`;
//! 3. a failing upgrade, `clawherd upgrade rescue --to openclaw@2026.9.99`: exit 1, rescue back
//!    on 2026.9.6 and ready, no pin left, main not touched.
//!
//! The upgrade's version is a store entry made here, not a registry package: its program passes
//! `doctor` and exits 1 at once for `gateway run` with the message a release needing a newer
//! Node prints. No registry version is practical for this: every openclaw 2026.x release needs
//! Node `>=24.16.0` (what `.tools/` has) or refuses at install (`--engine-strict`), so it never
//! reaches a start; `openclaw@0.0.1` is an empty placeholder with no program; and an old release
//! that might refuse the config is another ~650 MiB install (minutes per CI run) with no promise
//! of how it fails.
//!
//! Each part prints its timeline (`figure:` lines: event kind, profile, seconds since the
//! command) and the seconds during which neither gateway answered `/readyz` with 200, polled
//! every 100 ms (must be 0: the change of one side never touches the other).
//!
//! Skipped (with a message) without `.tools/bin/node` and `.tools/bin/openclaw` (scripts/bootstrap).

#[path = "support/mod.rs"]
mod support;

use clawherd::observe::events::{FleetEvent, What};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use support::*;

const BOOT: Duration = Duration::from_secs(300);
const MAIN_PORT: u16 = 38789;
const RESCUE_PORT: u16 = 39789;
/// The version of the store entry that cannot start here.
const BROKEN: &str = "2026.9.99";

/// `clawherd ARGS -f FLEET` with `path` as PATH: exit code and stdout (both streams printed).
fn clawherd(args: &[&str], fleet: &Path, path: &str) -> (i32, String) {
    let f = fleet.to_string_lossy();
    clawherd_printing(&[args, &["-f", &f]].concat(), &[("PATH", path)])
}

/// Runs `act` while both `/readyz` are polled; returns its result and the seconds neither was ready.
fn with_gap<T>(act: impl FnOnce() -> T) -> (T, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let poller = readiness_gap([MAIN_PORT, RESCUE_PORT], stop.clone());
    let out = act();
    stop.store(true, Ordering::SeqCst);
    (out, poller.join().expect("gap thread"))
}

/// The events of `profile` from `from` on, by kind.
fn kinds_of(d: &Daemon, from: Mark, profile: &str) -> Vec<&'static str> {
    d.events()
        .iter()
        .skip(from.events)
        .filter(|e| e.profile.as_deref() == Some(profile))
        .map(FleetEvent::kind)
        .collect()
}

/// A copy of the example fleet on this test's ports, with a short soak.
fn example_copy(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples");
    for f in ["fleet.yaml", "main.openclaw.json5", "rescue.openclaw.json5"] {
        let text = std::fs::read_to_string(src.join(f)).expect("read example");
        let text = text
            .replace("18789", &MAIN_PORT.to_string())
            .replace("19789", &RESCUE_PORT.to_string())
            .replace("defaults:\n", "defaults:\n  rollout: {verify_timeout: 4m, soak: 10s}\n");
        std::fs::write(dir.join(f), text).expect("write copy");
    }
    dir.join("fleet.yaml")
}

/// Puts a store entry `openclaw@BROKEN` under `run_dir`: a package.json that names it and a
/// program that passes `doctor` and exits 1 at once for anything else.
fn broken_store_entry(run_dir: &Path) {
    let pkg = run_dir.join(format!("versions/openclaw@{BROKEN}/node_modules/openclaw"));
    let bin = run_dir.join(format!("versions/openclaw@{BROKEN}/node_modules/.bin"));
    std::fs::create_dir_all(&pkg).expect("store entry");
    std::fs::create_dir_all(&bin).expect("store entry");
    std::fs::write(
        pkg.join("package.json"),
        format!("{{\"name\": \"openclaw\", \"version\": \"{BROKEN}\"}}\n"),
    )
    .expect("package.json");
    let script = pkg.join("openclaw.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = doctor ]; then echo 'doctor: nothing to migrate'; exit 0; fi\n\
             echo \"openclaw@{BROKEN}: Node.js $(node --version 2>/dev/null) is not supported; requires >=26.1.0\" >&2\nexit 1\n"
        ),
    )
    .expect("program");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::os::unix::fs::symlink("../openclaw/openclaw.sh", bin.join("openclaw")).expect("symlink");
}

#[test]
fn refused_config_rolls_back_a_working_change_is_verified_a_broken_upgrade_rolls_back() {
    let Some(path) = real_tools_path() else {
        return;
    };
    wait_until("ports 38789 and 39789 are free", BOOT, || {
        !port_listened(MAIN_PORT) && !port_listened(RESCUE_PORT)
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = example_copy(dir.path());
    let main_config = dir.path().join("main.openclaw.json5");
    let d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);
    d.wait_event(0, "ready", "main", BOOT);
    d.wait_event(0, "ready", "rescue", BOOT);
    // Both have a last-known-good before the first change.
    d.wait_event(0, "known_good", "main", BOOT);
    d.wait_event(0, "known_good", "rescue", BOOT);
    let rescue_pid = d.wait_ready(0, "rescue", BOOT);

    // 1. A config key the gateway refuses.
    let original = std::fs::read(&main_config).expect("read config");
    let bad = String::from_utf8_lossy(&original).replace("mode: \"local\",", "mode: \"local\",\n    bogusKey: true,");
    assert_ne!(bad.as_bytes(), original.as_slice());
    std::fs::write(&main_config, &bad).expect("write bad config");
    let mark = d.mark();
    let since = SystemTime::now();
    let ((code, answer), gap) = with_gap(|| {
        let out = clawherd(&["reload"], &fleet, &path);
        d.wait_event(mark, "rolled_back", "main", BOOT);
        d.wait_ready(mark, "main", BOOT);
        out
    });
    print_timeline("refused config", &d, mark, since);
    eprintln!("figure: refused config: neither main nor rescue ready: {gap:.1} s");
    // Every config is watched: the daemon's own reload, 0.5 s after the write, can come before
    // this one on a loaded host. This reload then waits for that rollout and finds the config
    // back on its last-known-good: nothing to change, exit 0. The rollout is the same.
    if answer.contains("restarted main") {
        assert_eq!(code, 78, "log:\n{}", d.log_text());
    } else {
        eprintln!("the config watcher's reload applied the edit before `clawherd reload`");
        assert_eq!(code, 0, "log:\n{}", d.log_text());
    }
    let kinds = kinds_of(&d, mark, "main");
    let pos = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or_else(|| panic!("no {k}: {kinds:?}"));
    assert!(
        pos("change_applying") < pos("parked") && pos("parked") < pos("rolled_back"),
        "{kinds:?}"
    );
    let rolled = d.wait_event(mark, "rolled_back", "main", BOOT);
    let What::RolledBack {
        reason,
        error,
        rejected_config,
        config_restored,
        restarted,
    } = &rolled.what
    else {
        unreachable!()
    };
    assert!(reason.starts_with("parked"), "{reason}");
    assert!(
        error.as_deref().is_some_and(|e| e.contains("bogusKey")),
        "the gateway's own line: {error:?}"
    );
    assert!(*config_restored && *restarted);
    assert_eq!(
        std::fs::read(&main_config).expect("read config"),
        original,
        "config back byte for byte"
    );
    let rejected = rejected_config.as_deref().expect("rejected config kept");
    assert!(rejected.contains("main.openclaw.json5.rejected-"), "{rejected}");
    assert_eq!(std::fs::read_to_string(rejected).expect("rejected file"), bad);
    assert_eq!(http_status(MAIN_PORT, "/readyz"), Some(200));
    assert!(kinds_of(&d, mark, "rescue").is_empty(), "rescue was not touched");
    assert_eq!(gap, 0.0, "a moment when neither was ready");

    // 2. A change that works: an environment variable of main.
    let text = std::fs::read_to_string(&fleet).expect("read fleet");
    let text = text.replace("    role: main\n", "    role: main\n    env:\n      REAL_ROLLOUT_CHANGE: \"1\"\n");
    std::fs::write(&fleet, text).expect("write fleet");
    let mark = d.mark();
    let since = SystemTime::now();
    let ((code, _), gap) = with_gap(|| {
        let out = clawherd(&["reload"], &fleet, &path);
        d.wait_event(mark, "change_verified", "main", BOOT);
        out
    });
    print_timeline("working change", &d, mark, since);
    eprintln!("figure: working change: neither main nor rescue ready: {gap:.1} s");
    assert_eq!(code, 0, "log:\n{}", d.log_text());
    assert!(!kinds_of(&d, mark, "main").contains(&"rolled_back"));
    assert!(kinds_of(&d, mark, "rescue").is_empty(), "rescue was not touched");
    assert_eq!(gap, 0.0, "a moment when neither was ready");

    // 3. A failing upgrade of the rescue bot (the canary): main is not touched.
    let main_pid = d.wait_ready(mark, "main", BOOT);
    broken_store_entry(&dir.path().join(".clawherd"));
    let mark = d.mark();
    let since = SystemTime::now();
    let t = Instant::now();
    let ((code, timeline), gap) = with_gap(|| clawherd(&["upgrade", "rescue", "--to", &format!("openclaw@{BROKEN}")], &fleet, &path));
    let total = t.elapsed().as_secs_f64();
    print_timeline("failing upgrade", &d, mark, since);
    eprintln!("upgrade's own timeline:\n{timeline}");
    eprintln!("figure: failing upgrade: {total:.1} s; neither main nor rescue ready: {gap:.1} s");
    assert_eq!(code, 1, "log:\n{}", d.log_text());
    // The daemon's rollout found the crash loop and put rescue back first; the upgrade then
    // restored the pin and the snapshot.
    let rolled = d.wait_event(mark, "rolled_back", "rescue", BOOT);
    let What::RolledBack { reason, error, .. } = &rolled.what else {
        unreachable!()
    };
    eprintln!("rescue's rollback: {reason}; the gateway's line: {error:?}");
    assert!(reason.starts_with("crash loop"), "{reason}");
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.starts_with(&format!("openclaw@{BROKEN}: ")) && e.contains("is not supported")),
        "the failed program's own line: {error:?}"
    );
    wait_until("rescue ready again", BOOT, || http_status(RESCUE_PORT, "/readyz") == Some(200));
    let (_, status) = clawherd(&["status"], &fleet, &path);
    let rescue_line = status.lines().find(|l| l.starts_with("rescue")).expect("rescue in status");
    assert!(rescue_line.contains("2026.9.6"), "{status}");
    let pins = std::fs::read_to_string(dir.path().join(".clawherd/versions/pins.json")).unwrap_or_default();
    assert!(!pins.contains("rescue"), "pin restored: {pins}");
    assert_ne!(d.wait_ready(mark, "rescue", BOOT), rescue_pid);
    assert!(kinds_of(&d, mark, "main").is_empty(), "main was not touched");
    assert!(alive(main_pid));
    assert_eq!(gap, 0.0, "a moment when neither was ready");
}
