//! The legacy generation for real (issue 13): clawdbot@2026.1.24-3 on Node 24, installed into
//! `.tools/` by `scripts/bootstrap`, under clawherd with `flavor: clawdbot`. A clawdbot gateway
//! takes ~10-60 s and ~500 MiB to boot on a loaded 2-core machine, so these tests run one at a
//! time (a lock here, and the `real-gateway` nextest group) with deadlines of minutes, on ports
//! 28789 and 29789 so they never meet the openclaw tests' 18789/19789. They print the figures
//! they observe.
//!
//! Without `.tools/bin/clawdbot` they fail with a hint, unless CLAWHERD_SKIP_REAL_GATEWAY=1.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::*;

/// One real fleet at a time: they share ports 28789 and 29789.
static SERIAL: Mutex<()> = Mutex::new(());
const BOOT: Duration = Duration::from_secs(300);
const STOP: Duration = Duration::from_secs(120);
const MAIN_PORT: u16 = 28789;
const RESCUE_PORT: u16 = 29789;

/// PATH with `.tools/bin` first, or None when the tests are to be skipped.
fn tools_path() -> Option<String> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin");
    if !tools.join("clawdbot").exists() {
        if std::env::var_os("CLAWHERD_SKIP_REAL_GATEWAY").is_some() {
            eprintln!("skipping: CLAWHERD_SKIP_REAL_GATEWAY is set and {} is missing", tools.display());
            return None;
        }
        panic!(
            "{} is missing: run scripts/bootstrap first (or set CLAWHERD_SKIP_REAL_GATEWAY=1)",
            tools.join("clawdbot").display()
        );
    }
    Some(format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default()))
}

/// main's gateway token (`gateway.auth.token` in its config); rescue's gateway has no auth.
const MAIN_TOKEN: &str = "real-clawdbot-test-token";

/// A two-instance clawdbot fleet in a temp dir (its own HOME, so `~/clawd` is private), each
/// gateway with its own workspace, canvas root and log file; main's gateway wants
/// [`MAIN_TOKEN`], rescue's no auth; `main_extra` is put into main's config.
fn clawdbot_fleet(main_extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("home")).expect("home");
    let main_auth = format!(", auth: {{ token: \"{MAIN_TOKEN}\" }}");
    for (name, port, auth, extra) in [("main", MAIN_PORT, main_auth.as_str(), main_extra), ("rescue", RESCUE_PORT, "", "")] {
        let config = format!(
            "{{\n  gateway: {{ mode: \"local\", port: {port}, bind: \"loopback\"{auth} }},\n  logging: {{ file: \"logs/clawdbot.log\" }},\n  agents: {{ defaults: {{ workspace: \"workspace\" }} }},\n  canvasHost: {{ root: \"canvas\" }},\n{extra}}}\n"
        );
        std::fs::write(dir.path().join(format!("{name}.json5")), config).expect("write config");
    }
    let fleet = format!(
        "version: 1\ndefaults:\n  flavor: clawdbot\n  env:\n    HOME: {home}\nprofiles:\n  main:\n    role: main\n    port: {MAIN_PORT}\n    state_dir: state/main\n    config: main.json5\n  rescue:\n    role: rescue\n    openclaw_profile: rescue\n    port: {RESCUE_PORT}\n    state_dir: state/rescue\n    config: rescue.json5\n",
        home = dir.path().join("home").display()
    );
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, fleet).expect("write fleet");
    (dir, path)
}

fn after_s(e: &clawherd::observe::events::FleetEvent) -> f64 {
    match e.what {
        clawherd::observe::events::What::Ready { after_s } => after_s,
        _ => f64::NAN,
    }
}

/// `clawherd ARGS FLEET` (local commands) or `clawherd ARGS -f FLEET`: exit code and stdout
/// (stderr after it when `stderr`).
fn cli_full(args: &[&str], fleet: &Path, flag: bool, stderr: bool) -> (Option<i32>, String) {
    let mut c = std::process::Command::new(clawherd_bin());
    c.args(args);
    if flag {
        c.arg("-f");
    }
    let out = c.arg(fleet).output().expect("clawherd");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    if stderr {
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    (out.status.code(), text)
}

fn cli(args: &[&str], fleet: &Path, flag: bool) -> (Option<i32>, String) {
    cli_full(args, fleet, flag, false)
}

/// A two-instance clawdbot fleet comes up ready by the gateway's own `health` call (main's with
/// its token, rescue's without auth), which leaves no line in the gateways' logs; what
/// main's gateway listens on is what `clawherd ports` plans (every bound port planned, every
/// planned port bound except the CDP range, which opens only with a browser); kill -9 of main's
/// gateway brings main back to ready and leaves rescue alone; SIGTERM to clawherd leaves nothing
/// of either tree, the (absent) wrapper included. One boot for all four, to keep CI short.
#[test]
fn clawdbot_fleet_ready_ports_kill_9_and_clean_stop() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = tools_path() else { return };
    let (dir, fleet) = clawdbot_fleet("");
    let started = Instant::now();
    let mut d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);
    let main_ready = d.wait_event(0, "ready", "main", BOOT);
    let rescue_ready = d.wait_event(0, "ready", "rescue", BOOT);
    eprintln!(
        "figure: spawn -> ready: main {:.1} s, rescue {:.1} s ({:.1} s since clawherd started)",
        after_s(&main_ready),
        after_s(&rescue_ready),
        started.elapsed().as_secs_f64()
    );
    let main_pid = main_ready.pid.expect("pid");
    let rescue_pid = rescue_ready.pid.expect("pid");
    // Judged by the health call, not the challenge fallback (issue 13).
    assert_eq!(probes(&fleet), ["health", "health"], "log:\n{}", d.log_text());
    health_call_figure();

    // `status`: both ready and live (by the health call; no /healthz in this version).
    let (_, status) = cli(&["status"], &fleet, true);
    eprintln!("{status}");
    // Columns found by their header, not their place (the table grows: VERSION, NOTES).
    let header: Vec<&str> = status.lines().next().unwrap_or_default().split_whitespace().collect();
    let state_col = header.iter().position(|h| *h == "STATE").expect("a STATE column");
    for name in ["main ", "rescue "] {
        let row = status.lines().find(|l| l.starts_with(name)).expect("a row");
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols.get(state_col), Some(&"ready"), "{status}");
        assert_eq!(cols.get(2), Some(&"2026.1.24-3"), "the legacy package's version: {status}");
        assert!(cols.iter().filter(|c| **c == "yes").count() >= 2, "ready and live: {status}");
    }

    // No wrapper: the gateway is clawherd's child, alone in its tree.
    let marker = format!("@{}", fleet.display());
    let tree = marked_pids(&marker);
    assert_eq!(tree.len(), 2, "one process per gateway (CLAWDBOT_NO_RESPAWN=1): {tree:?}");

    // Bound vs planned, for main (the relay starts a moment after the control server).
    let (code, ports_out) = cli(&["ports"], &fleet, false);
    assert_eq!(code, Some(0));
    eprintln!("clawherd ports:\n{ports_out}");
    let plan = planned(&ports_out, "main");
    let singles: BTreeSet<u32> = plan.iter().filter(|(_, lo, hi)| lo == hi).map(|(_, lo, _)| *lo).collect();
    let mut bound = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        bound = listening_ports(&[main_pid]);
        if singles.is_subset(&bound) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("figure: main's gateway listens on {bound:?}");
    for p in &bound {
        assert!(
            plan.iter().any(|(_, lo, hi)| lo <= p && p <= hi),
            "port {p} is bound but not planned: {plan:?}"
        );
    }
    assert!(singles.is_subset(&bound), "planned {singles:?}, bound {bound:?}");
    assert!(!bound.contains(&(u32::from(MAIN_PORT) + 4)), "no canvas port on base+4");
    assert!(ports_out.contains("not planned: main canvas host 28793"), "{ports_out}");

    // kill -9 of main's gateway.
    let mark = d.mark();
    let killed = Instant::now();
    signal(main_pid, 9);
    let new_pid = d.wait_spawned(mark, "main", BOOT);
    let ready_again = d.wait_event(mark, "ready", "main", BOOT);
    assert_ne!(new_pid, main_pid);
    assert!(alive(rescue_pid), "rescue's gateway must not be touched");
    let rescue_exits = d.events()[mark.events..]
        .iter()
        .filter(|e| e.kind() == "exited" && e.profile.as_deref() == Some("rescue"))
        .count();
    assert_eq!(rescue_exits, 0, "rescue must not restart when main dies");
    eprintln!(
        "figure: kill -9 main -> ready again {:.1} s (spawn -> ready {:.1} s)",
        killed.elapsed().as_secs_f64(),
        after_s(&ready_again)
    );

    // Still by the health call after the restart; and in the whole run (several periodic rounds)
    // no probe left a warning in either gateway's output.
    assert_eq!(probes(&fleet), ["health", "health"]);
    let run_dir = fleet.parent().expect("dir").join(".clawherd/logs");
    for name in ["main", "rescue"] {
        let out = std::fs::read_to_string(run_dir.join(format!("{name}.log"))).expect("gateway output");
        for noise in ["closed before connect", "unauthorized", "invalid handshake"] {
            assert!(!out.contains(noise), "{name}'s gateway logged {noise:?}:\n{out}");
        }
    }

    // SIGTERM: nothing left.
    let stopping = Instant::now();
    d.signal(15);
    let status = d.wait_exit(STOP);
    eprintln!("figure: SIGTERM -> clawherd exited {:.1} s", stopping.elapsed().as_secs_f64());
    assert_eq!(status.code(), Some(0), "log:\n{}", d.log_text());
    let left = marked_pids(&marker);
    assert!(left.is_empty(), "processes of the fleet left after stop: {left:?}");
    assert!(listening_ports(&[new_pid, rescue_pid]).is_empty());
    drop(dir);
}

/// The `probe` of each instance in `status --json` (main, rescue).
fn probes(fleet: &Path) -> Vec<String> {
    let (code, out) = cli(&["status", "--json"], fleet, true);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("status JSON");
    v["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["probe"].as_str().unwrap_or("none").to_string())
        .collect()
}

/// Prints how long one health exchange with main's real gateway takes (challenge, connect with
/// the token, health, close), median of 10, against the 2.4 s of a `clawdbot gateway health` run.
fn health_call_figure() {
    use clawherd::instance::clawdbot::{Credentials, Health, health};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let credentials = Credentials::Token(MAIN_TOKEN.into());
    let mut took: Vec<f64> = (0..10)
        .map(|_| {
            let t = Instant::now();
            let answer = rt.block_on(health(MAIN_PORT, &credentials, Duration::from_secs(30)));
            assert_eq!(answer, Health::Healthy);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    took.sort_by(f64::total_cmp);
    eprintln!(
        "figure: one health call to main's gateway: median {:.1} ms, max {:.1} ms (10 calls)",
        took[5], took[9]
    );
}

/// A config with a key clawdbot's strict schema does not know: the gateway exits 1, and
/// clawherd parks main with the gateway's own error line instead of restarting it; rescue runs.
#[test]
fn clawdbot_unknown_key_parks_with_the_gateways_line() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = tools_path() else { return };
    let (_dir, fleet) = clawdbot_fleet("  bogusKey: 1,\n");
    let mut d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);
    let parked = d.wait_event(0, "parked", "main", BOOT);
    eprintln!("parked: {}", parked.message);
    let (code, status) = cli(&["status"], &fleet, true);
    assert_eq!(code, Some(0));
    eprintln!("{status}");
    let main_line = status.lines().find(|l| l.starts_with("main ")).expect("main's row");
    assert!(main_line.contains("parked"), "{status}");
    assert!(status.contains("Unrecognized key: \"bogusKey\""), "{status}");
    let spawns = d
        .events()
        .iter()
        .filter(|e| e.kind() == "spawned" && e.profile.as_deref() == Some("main"))
        .count();
    assert_eq!(spawns, 1, "a parked config error is not restarted");
    d.signal(15);
    assert_eq!(d.wait_exit(STOP).code(), Some(0));
}

/// A clawdbot gateway started by hand on main's config (on another port, so only its lock
/// meets the fleet): `clawherd check` finds it through clawdbot's real lock,
/// `<tmp>/clawdbot-<uid>/gateway.<sha1(config path)>.lock`, and names its pid.
#[test]
fn clawdbot_hand_started_gateway_on_the_config_is_found_by_its_lock() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = tools_path() else { return };
    let (dir, fleet) = clawdbot_fleet("");
    let config = dir.path().join("main.json5");
    let mut hand = std::process::Command::new("clawdbot")
        .args(["gateway", "run", "--port", "27789"])
        // Its relative logging.file resolves against the cwd: keep it in the temp dir.
        .current_dir(dir.path())
        .env("PATH", &path)
        .env("HOME", dir.path().join("home"))
        .env("CLAWDBOT_NO_RESPAWN", "1")
        .env("CLAWDBOT_CONFIG_PATH", &config)
        .env("CLAWDBOT_STATE_DIR", dir.path().join("hand-state"))
        .env("CLAWDBOT_GATEWAY_PORT", "27789")
        .env_remove("TMPDIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn clawdbot");
    let pid = hand.id();
    let lock = clawherd::fleet::host::clawdbot_lock_path(&config, Path::new("/tmp"), nix::unistd::geteuid().as_raw());
    wait_until("the hand-started gateway's lock", BOOT, || {
        std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&format!("\"pid\":{pid},")))
    });
    let (code, out) = cli_full(&["check"], &fleet, false, true);
    signal(pid as i32, 15);
    let _ = hand.wait();
    eprintln!("{out}");
    assert_eq!(code, Some(78), "{out}");
    assert!(
        out.contains("in use by a clawdbot gateway clawherd did not start") && out.contains(&format!("pid {pid}")),
        "{out}"
    );
    assert!(out.contains(&lock.display().to_string()), "{out}");
}
