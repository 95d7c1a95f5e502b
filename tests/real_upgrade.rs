//! A real upgrade of the example fleet from openclaw@2026.9.5 to 2026.9.6: both versions are
//! installed by `clawherd install` into a temporary store (npm from the registry, with the npm
//! cache under `.tools/npm-cache`), the fleet (a copy of config-examples/ on ports 48789 and
//! 49789) runs 2026.9.5 through `openclaw_version`, then `clawherd upgrade --all` moves it to
//! 2026.9.6, rescue first. Prints the upgrade's timeline (step, seconds) and the seconds during
//! which neither gateway answered `/readyz` with 200 (goal 0), measured by polling both.
//!
//! Skipped (with a message) without `.tools/bin/node` and `.tools/bin/openclaw` (scripts/bootstrap).
//! Minutes long: two installs of ~650 MiB and four gateway boots.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::*;

const BOOT: Duration = Duration::from_secs(300);
const MAIN_PORT: u16 = 48789;
const RESCUE_PORT: u16 = 49789;

/// `clawherd ARGS` with `.tools/bin` first on PATH and the npm cache under `.tools/`.
fn clawherd(args: &[&str], path: &str, cache: &Path) -> (i32, String) {
    clawherd_printing(args, &[("PATH", path), ("npm_config_cache", &cache.to_string_lossy())])
}

#[test]
fn upgrade_the_example_fleet_from_2026_9_5_to_2026_9_6() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(path) = real_tools_path() else {
        return;
    };
    let cache = root.join(".tools/npm-cache");
    wait_until("ports 48789 and 49789 are free", BOOT, || {
        !port_listened(MAIN_PORT) && !port_listened(RESCUE_PORT)
    });

    let dir = tempfile::tempdir().expect("tempdir");
    for f in ["fleet.yaml", "main.openclaw.json5", "rescue.openclaw.json5"] {
        let text = std::fs::read_to_string(root.join("config-examples").join(f)).expect("read example");
        let text = text
            .replace("18789", &MAIN_PORT.to_string())
            .replace("19789", &RESCUE_PORT.to_string());
        let text = text.replace("defaults:\n", "defaults:\n  openclaw_version: \"2026.9.5\"\n");
        std::fs::write(dir.path().join(f), text).expect("write copy");
    }
    let fleet = dir.path().join("fleet.yaml");
    let f = fleet.to_string_lossy().into_owned();

    let t = Instant::now();
    assert_eq!(clawherd(&["install", "openclaw@2026.9.5", "-f", &f], &path, &cache).0, 0);
    eprintln!("figure: install openclaw@2026.9.5: {:.1} s", t.elapsed().as_secs_f64());

    let d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);
    let main = d.wait_event(0, "ready", "main", BOOT);
    let rescue = d.wait_event(0, "ready", "rescue", BOOT);
    assert!(main.pid.is_some() && rescue.pid.is_some());
    let (_, status) = clawherd(&["status", "-f", &f], &path, &cache);
    let on = |status: &str, v: &str| {
        status
            .lines()
            .filter(|l| l.starts_with("main") || l.starts_with("rescue"))
            .all(|l| l.contains(v))
    };
    assert!(on(&status, "2026.9.5"), "{status}");

    let stop = Arc::new(AtomicBool::new(false));
    let gap = readiness_gap([MAIN_PORT, RESCUE_PORT], stop.clone());
    let t = Instant::now();
    let (mark, since) = (d.mark(), std::time::SystemTime::now());
    let (code, timeline) = clawherd(&["upgrade", "--all", "--to", "openclaw@2026.9.6", "-f", &f], &path, &cache);
    let total = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let gap = gap.join().expect("gap thread");
    assert_eq!(code, 0, "{timeline}\nclawherd's log:\n{}", d.log_text());
    let (_, status) = clawherd(&["status", "-f", &f], &path, &cache);
    assert!(on(&status, "2026.9.6"), "{status}");
    let rescue_ready = timeline.find("rescue: ready on 2026.9.6").expect("rescue upgraded");
    let main_stopped = timeline.find("main: stopped").expect("main upgraded");
    assert!(rescue_ready < main_stopped, "rescue first:\n{timeline}");
    eprintln!("timeline of the upgrade (seconds since it began):\n{timeline}");
    // The daemon's rollouts (rescue's, then main's) finish after their soak.
    let rollouts = |d: &Daemon| {
        d.events()
            .iter()
            .skip(mark.events)
            .filter(|e| e.kind() == "rollout_finished")
            .count()
    };
    wait_until("both rollouts finished", BOOT, || rollouts(&d) >= 2);
    print_timeline("upgrade 2026.9.5 -> 2026.9.6", &d, mark, since);
    eprintln!(
        "figure: upgrade 2026.9.5 -> 2026.9.6 (install of 2026.9.6 included): {total:.1} s; neither main nor rescue ready: {gap:.1} s"
    );
}
