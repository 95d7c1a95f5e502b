//! The fleet-core scenarios against the real OpenClaw gateway (openclaw@2026.9.6 on Node 24,
//! installed into `.tools/` by `scripts/bootstrap`). A gateway takes ~10-40 s and ~800 MiB to
//! boot on a loaded 2-core machine, so these tests run one at a time (a lock here, and a
//! nextest test group) with deadlines of minutes. They print the figures they observe.
//!
//! Without `.tools/bin/openclaw` they fail with a hint, unless CLAWHERD_SKIP_REAL_GATEWAY=1.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::*;

/// One real fleet at a time: they share the documented ports 18789 and 19789.
static SERIAL: Mutex<()> = Mutex::new(());
const BOOT: Duration = Duration::from_secs(300);
const STOP: Duration = Duration::from_secs(120);

/// PATH with `.tools/bin` first, or None when the tests are to be skipped.
fn tools_path() -> Option<String> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin");
    if !tools.join("openclaw").exists() {
        if std::env::var_os("CLAWHERD_SKIP_REAL_GATEWAY").is_some() {
            eprintln!("skipping: CLAWHERD_SKIP_REAL_GATEWAY is set and {} is missing", tools.display());
            return None;
        }
        panic!(
            "{} is missing: run scripts/bootstrap first (or set CLAWHERD_SKIP_REAL_GATEWAY=1)",
            tools.join("openclaw").display()
        );
    }
    Some(format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default()))
}

/// A copy of the example fleet (fleet file and both OpenClaw configs) in a temp dir, so the
/// repository's config-examples/state is not touched.
fn example_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples");
    for f in ["fleet.yaml", "main.openclaw.json5", "rescue.openclaw.json5"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy example");
    }
    let path = dir.path().join("fleet.yaml");
    (dir, path)
}

fn after_s(line: &str) -> f64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("after_s="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// (1) the example fleet comes up and both /readyz answer 200; (2) SIGKILL of main's gateway
/// brings main back to ready while rescue keeps its pid; (3) SIGTERM to clawherd exits 0 and
/// leaves nothing of either gateway tree.
#[test]
fn example_fleet_comes_up_recovers_main_and_stops_clean() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = tools_path() else { return };
    let (dir, fleet) = example_copy();
    let started = Instant::now();
    let mut d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);

    // (1)
    let (_, main_ready) = d.wait_line_from(0, &["profile=main", ": ready "], BOOT);
    let (_, rescue_ready) = d.wait_line_from(0, &["profile=rescue", ": ready "], BOOT);
    assert_eq!(http_status(18789, "/readyz"), Some(200));
    assert_eq!(http_status(19789, "/readyz"), Some(200));
    let main_pid = field(&main_ready, "pid").expect("pid");
    let rescue_pid = field(&rescue_ready, "pid").expect("pid");
    eprintln!(
        "figure: spawn -> ready: main {:.1} s, rescue {:.1} s (both started together; {:.1} s since clawherd started)",
        after_s(&main_ready),
        after_s(&rescue_ready),
        started.elapsed().as_secs_f64()
    );
    eprintln!("figure: clawherd RSS with 2 ready gateways: {} KiB", rss_kib(d.child.id()));
    // Each gateway's own file log went where its config says, not to the shared /tmp default.
    wait_until("main's own log file", BOOT, || {
        dir.path().join("state/main/logs/openclaw.log").exists()
    });

    // Operate through the control socket: status shows both ready with their trees' memory;
    // restart rescue through the CLI changes only rescue's pid; `logs -F` shows the lines the
    // new gateway writes.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(clawherd_bin())
            .args(args)
            .arg("-f")
            .arg(&fleet)
            .output()
            .expect("clawherd");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mut status_ms = Vec::new();
    let mut status = serde_json::Value::Null;
    for _ in 0..5 {
        let t = Instant::now();
        let (code, out, err) = cli(&["status", "--json"]);
        status_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(code, Some(0), "{err}");
        status = serde_json::from_str(&out).expect("json");
    }
    status_ms.sort_by(f64::total_cmp);
    for i in status["instances"].as_array().expect("instances") {
        assert_eq!(i["state"], "ready", "{i}");
        assert_eq!(i["live"], true, "{i}");
        assert!(
            i["tree"]["rss_bytes"].as_u64().expect("rss") > 100 << 20,
            "a real gateway tree uses > 100 MiB: {i}"
        );
    }
    let (_, table, _) = cli(&["status"]);
    eprintln!(
        "figure: `clawherd status` median {:.0} ms (5 calls; includes the 200 ms CPU window)\n{table}",
        status_ms[2]
    );
    let mut follower = std::process::Command::new(clawherd_bin())
        .args(["logs", "rescue", "-F", "-n", "0", "-f"])
        .arg(&fleet)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("logs -F");
    let follower_out = follower.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(follower_out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let (code, out, err) = cli(&["restart", "rescue", "--timeout", "5m"]);
    eprintln!(
        "figure: `clawherd restart rescue` -> ready {:.1} s ({})",
        t.elapsed().as_secs_f64(),
        out.trim()
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let (_, out, _) = cli(&["status", "--json"]);
    let after: serde_json::Value = serde_json::from_str(&out).expect("json");
    let pid = |v: &serde_json::Value, p: &str| {
        v["instances"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["profile"] == p))
            .and_then(|i| i["pid"].as_i64())
    };
    assert_eq!(pid(&after, "main"), Some(i64::from(main_pid)), "main untouched by rescue's restart");
    assert_ne!(pid(&after, "rescue"), Some(i64::from(rescue_pid)));
    let rescue_pid = pid(&after, "rescue").expect("rescue pid") as i32;
    let end = Instant::now() + BOOT;
    let followed = loop {
        match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(l) if l.contains("[gateway]") => break l,
            Ok(_) => {}
            Err(e) => panic!("logs -F showed no gateway line: {e}"),
        }
    };
    eprintln!("figure: logs -F rescue showed: {followed}");
    let _ = follower.kill();
    let _ = follower.wait();

    // (2)
    let mark = d.mark();
    let killed = Instant::now();
    signal(main_pid, 9);
    let new_pid = d.wait_spawned(mark, "main", BOOT);
    let respawn = killed.elapsed();
    let (_, ready_again) = d.wait_line_from(mark, &["profile=main", ": ready "], BOOT);
    let ready = killed.elapsed();
    assert_ne!(new_pid, main_pid);
    assert_eq!(http_status(18789, "/readyz"), Some(200));
    assert!(alive(rescue_pid), "rescue's gateway must not be touched");
    assert!(
        !d.log_text_from(mark).contains("profile=rescue}: exited"),
        "rescue must not restart when main dies"
    );
    eprintln!(
        "figure: kill -9 main -> respawned {:.3} s, -> ready again {:.1} s (spawn -> ready {:.1} s)",
        respawn.as_secs_f64(),
        ready.as_secs_f64(),
        after_s(&ready_again)
    );
    assert!(zombies_of(d.child.id() as i32).is_empty());

    // (3)
    let stopping = Instant::now();
    d.signal(15);
    let status = d.wait_exit(STOP);
    eprintln!("figure: SIGTERM -> clawherd exited {:.1} s", stopping.elapsed().as_secs_f64());
    assert_eq!(status.code(), Some(0), "log:\n{}", d.log_text());
    let left = marked_pids(&format!("@{}", fleet.display()));
    assert!(left.is_empty(), "processes of the fleet left after stop: {left:?}");
    assert!(!alive(rescue_pid) && !alive(new_pid));
    assert_eq!(http_status(18789, "/healthz"), None);
    assert_eq!(http_status(19789, "/healthz"), None);
    assert!(
        d.log_text().contains("profile=main}: exited as asked result=exit 0"),
        "graceful stop:\n{}",
        d.log_text()
    );
}

/// (4) a broken fleet with the real gateway command exits 78 and spawns nothing.
#[test]
fn broken_fleet_exits_78_and_spawns_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = tools_path() else { return };
    let (dir, fleet) = example_copy();
    let text = std::fs::read_to_string(&fleet).expect("read").replace("port: 19789", "port: 18809");
    std::fs::write(&fleet, text).expect("write");
    let out = std::process::Command::new(clawherd_bin())
        .args(["run", "--quiet"])
        .arg(&fleet)
        .env("PATH", &path)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("intersect") && err.contains("base port to 18900"), "{err}");
    assert!(marked_pids(&format!("@{}", fleet.display())).is_empty());
    assert!(!dir.path().join("state").exists(), "no gateway ran");
}
