//! The fleet-core scenarios against the real OpenClaw gateway (openclaw@2026.9.6 on Node 24,
//! installed into `.tools/` by `scripts/bootstrap`). A gateway takes ~10-40 s and ~800 MiB to
//! boot on a loaded 2-core machine, so these tests run one at a time (a lock here, and a
//! nextest test group) with deadlines of minutes. They print the figures they observe.
//!
//! Without `.tools/bin/openclaw` they fail with a hint, unless CLAWHERD_SKIP_REAL_GATEWAY=1.

#[path = "support/mod.rs"]
mod support;

use clawherd::observe::events::What;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::*;

/// One real fleet at a time: they share the documented ports 18789 and 19789.
static SERIAL: Mutex<()> = Mutex::new(());
const BOOT: Duration = Duration::from_secs(300);
const STOP: Duration = Duration::from_secs(120);

/// PATH with `.tools/bin` first, or None when the tests are to be skipped. Every test of this
/// file starts here, so it also waits until the documented ports are free: the previous test's
/// gateways are gone (its `Drop` waits), but anything else holding them would make clawherd
/// refuse the fleet, and the wait says so plainly.
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
    wait_until("ports 18789 and 19789 are free", BOOT, || {
        !port_listened(18789) && !port_listened(19789)
    });
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

/// Seconds from spawn to ready, from a `ready` event.
fn after_s(e: &clawherd::observe::events::FleetEvent) -> f64 {
    match e.what {
        clawherd::observe::events::What::Ready { after_s } => after_s,
        _ => f64::NAN,
    }
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

/// The example fleet (a copy), running under clawherd with both gateways ready. Bind every
/// field: a field left to `..` is dropped at once (the daemon killed, the folder removed).
struct Booted {
    dir: tempfile::TempDir,
    fleet: PathBuf,
    d: Daemon,
    main_pid: i32,
    rescue_pid: i32,
}

/// Starts a copy of the example fleet (with `prefix` put before the fleet file's text) and
/// waits until both gateways are ready; prints the boot figures. None when skipped.
fn boot_example(prefix: &str) -> Option<Booted> {
    let path = tools_path()?;
    let (dir, fleet) = example_copy();
    let text = std::fs::read_to_string(&fleet).expect("read");
    std::fs::write(&fleet, format!("{prefix}{text}")).expect("write");
    let started = Instant::now();
    let d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);
    let main_ready = d.wait_event(0, "ready", "main", BOOT);
    let rescue_ready = d.wait_event(0, "ready", "rescue", BOOT);
    assert_eq!(http_status(18789, "/readyz"), Some(200));
    assert_eq!(http_status(19789, "/readyz"), Some(200));
    eprintln!(
        "figure: spawn -> ready: main {:.1} s, rescue {:.1} s (both started together; {:.1} s since clawherd started)",
        after_s(&main_ready),
        after_s(&rescue_ready),
        started.elapsed().as_secs_f64()
    );
    Some(Booted {
        main_pid: main_ready.pid.expect("pid"),
        rescue_pid: rescue_ready.pid.expect("pid"),
        dir,
        fleet,
        d,
    })
}

/// `clawherd ARGS FLEET` (a local command such as `ports`): exit code, stdout, stderr.
fn cli_of_local(args: &[&str], fleet: &Path) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(clawherd_bin())
        .args(args)
        .arg(fleet)
        .output()
        .expect("clawherd");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `clawherd ARGS -f FLEET`: exit code, stdout, stderr.
fn cli_of(fleet: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(clawherd_bin())
        .args(args)
        .arg("-f")
        .arg(fleet)
        .output()
        .expect("clawherd");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example fleet comes up, both `/readyz` answer 200, each gateway logs to its own file;
/// main's tree listens only on ports `clawherd ports` plans; SIGTERM to clawherd exits 0 and leaves nothing of either gateway tree.
#[test]
fn example_fleet_comes_up_ready_and_stops_clean() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(Booted {
        dir,
        fleet,
        mut d,
        main_pid,
        rescue_pid,
    }) = boot_example("")
    else {
        return;
    };
    eprintln!("figure: clawherd RSS with 2 ready gateways: {} KiB", rss_kib(d.child.id()));
    // What main's whole tree listens on, against `clawherd ports` (issue 13): every bound TCP port
    // is planned; the base port is bound; planned ports not bound are printed (the CDP range
    // opens only when a browser starts).
    let (_, ports_out, _) = cli_of_local(&["ports"], &fleet);
    let plan = planned(&ports_out, "main");
    let tree = marked_pids(&format!(":main@{}", fleet.display()));
    let bound = listening_ports(&tree);
    eprintln!("clawherd ports:\n{ports_out}figure: main's gateway tree {tree:?} listens on {bound:?}");
    for p in &bound {
        assert!(
            plan.iter().any(|(_, lo, hi)| lo <= p && p <= hi),
            "port {p} is bound but not planned: {plan:?}"
        );
    }
    assert!(bound.contains(&18789), "{bound:?}");
    for (name, lo, hi) in &plan {
        if !bound.iter().any(|p| lo <= p && p <= hi) {
            eprintln!("figure: planned but not bound now: {name} {lo}-{hi}");
        }
    }
    // Each gateway's own file log went where its config says, not to the shared /tmp default.
    wait_until("main's own log file", BOOT, || {
        dir.path().join("state/main/logs/openclaw.log").exists()
    });
    let mark = d.mark();
    let stopping = Instant::now();
    d.signal(15);
    let status = d.wait_exit(STOP);
    eprintln!("figure: SIGTERM -> clawherd exited {:.1} s", stopping.elapsed().as_secs_f64());
    assert_eq!(status.code(), Some(0), "log:\n{}", d.log_text());
    let left = marked_pids(&format!("@{}", fleet.display()));
    assert!(left.is_empty(), "processes of the fleet left after stop: {left:?}");
    assert!(!alive(rescue_pid) && !alive(main_pid));
    assert_eq!(http_status(18789, "/healthz"), None);
    assert_eq!(http_status(19789, "/healthz"), None);
    let exited = d.wait_event(mark, "exited", "main", STOP);
    assert_eq!(exited.pid, Some(main_pid), "the exit names its gateway");
    assert!(
        matches!(
            exited.what,
            clawherd::observe::events::What::Exited {
                requested: true,
                code: Some(0),
                ..
            }
        ),
        "graceful stop: {exited:?}"
    );
}

/// SIGKILL of main's gateway brings main back to ready while rescue keeps its pid and is not
/// restarted; no zombie is left.
#[test]
fn kill_9_of_main_brings_main_back_and_leaves_rescue_alone() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(Booted {
        dir: _dir,
        fleet: _fleet,
        d,
        main_pid,
        rescue_pid,
    }) = boot_example("")
    else {
        return;
    };
    let mark = d.mark();
    let killed = Instant::now();
    signal(main_pid, 9);
    let new_pid = d.wait_spawned(mark, "main", BOOT);
    let respawn = killed.elapsed();
    let ready_again = d.wait_event(mark, "ready", "main", BOOT);
    let ready = killed.elapsed();
    assert_ne!(new_pid, main_pid);
    assert_eq!(http_status(18789, "/readyz"), Some(200));
    assert!(alive(rescue_pid), "rescue's gateway must not be touched");
    let rescue_exits: Vec<_> = d.events()[mark.events..]
        .iter()
        .filter(|e| e.kind() == "exited" && e.profile.as_deref() == Some("rescue"))
        .cloned()
        .collect();
    assert!(rescue_exits.is_empty(), "rescue must not restart when main dies: {rescue_exits:?}");
    eprintln!(
        "figure: kill -9 main -> respawned {:.3} s, -> ready again {:.1} s (spawn -> ready {:.1} s)",
        respawn.as_secs_f64(),
        ready.as_secs_f64(),
        after_s(&ready_again)
    );
    assert!(zombies_of(d.child.id() as i32).is_empty());
}

/// Operating a real fleet through the control socket: status shows both ready with their trees'
/// memory; Prometheus metrics parse; `restart rescue` changes only rescue's pid; `logs -F`
/// shows the lines the new gateway writes.
#[test]
fn real_fleet_status_metrics_restart_and_follow() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free")
        .local_addr()
        .expect("addr")
        .port();
    let Some(Booted {
        dir: _dir,
        d: _d,
        fleet,
        main_pid,
        rescue_pid,
    }) = boot_example(&format!("metrics: {{listen: \"127.0.0.1:{metrics_port}\"}}\n"))
    else {
        return;
    };
    let cli = |args: &[&str]| cli_of(&fleet, args);
    // Probe lag: the gateway's own "[gateway] ready" line (stamped by clawherd as it read it) to
    // clawherd's `ready` event.
    let (_, logs, _) = cli(&["logs", "main", "-n", "1000"]);
    let (_, events, _) = cli(&["events", "--json", "-n", "200"]);
    let gateway_ready = logs
        .lines()
        .find(|l| l.contains("[gateway] ready"))
        .and_then(clawherd::observe::logs::line_time);
    let clawherd_ready = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["kind"] == "ready" && e["profile"] == "main")
        .and_then(|e| e["ts"].as_str().and_then(|t| humantime::parse_rfc3339_weak(t).ok()));
    if let (Some(g), Some(c)) = (gateway_ready, clawherd_ready) {
        let lag = c.duration_since(g).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(-1.0);
        eprintln!("figure: probe lag (gateway's \"[gateway] ready\" line -> clawherd's ready event): {lag:.0} ms");
    }
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
    // Prometheus metrics of the real fleet, scraped and parsed.
    let scrape = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).expect("metrics listener");
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("read");
        body
    };
    let value = |name: &str| {
        scrape
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok()))
            .unwrap_or_else(|| panic!("{name} missing:\n{scrape}"))
    };
    for p in ["main", "rescue"] {
        assert_eq!(value(&format!("clawherd_instance_ready{{profile=\"{p}\"}}")), 1.0);
        assert!(value(&format!("clawherd_instance_tree_rss_bytes{{profile=\"{p}\"}}")) > 100.0 * 1024.0 * 1024.0);
    }
    let sample: Vec<&str> = scrape
        .lines()
        .filter(|l| l.starts_with("clawherd_instance_") && l.contains("main"))
        .collect();
    eprintln!("figure: metrics sample:\n{}", sample.join("\n"));
    // A call a second after the previous one reports CPU since then, without a window of its
    // own: the elapsed second is what is measured, not a wait for something to happen.
    std::thread::sleep(Duration::from_secs(1));
    let t = Instant::now();
    let (_, table, _) = cli(&["status"]);
    eprintln!(
        "figure: `clawherd status` median {:.0} ms (5 calls in a row, each measuring CPU over its own 200 ms window); \
         {:.0} ms 1 s after the previous call (CPU since then)\n{table}",
        status_ms[2],
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut follower = std::process::Command::new(clawherd_bin())
        .args(["logs", "rescue", "-F", "-n", "1", "-f"])
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
    // The follower is subscribed before the last line of history (`-n 1`) is sent to it.
    rx.recv_timeout(BOOT).expect("the last line of history");
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
}

/// A broken fleet with the real gateway command exits 78 and spawns nothing.
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

/// A copy of the example fleet with fast probes on main and a cold rescue; returns the dir and
/// the fleet file.
fn failover_copy() -> (tempfile::TempDir, PathBuf) {
    let (dir, fleet) = example_copy();
    let text = std::fs::read_to_string(&fleet).expect("read");
    let text = text.replacen(
        "    config: main.openclaw.json5\n",
        "    config: main.openclaw.json5\n    health: {period: 2s, timeout: 2s, failure_threshold: 3, kill_after: 10s}\n",
        1,
    );
    let text = text.replacen(
        "    config: rescue.openclaw.json5\n",
        "    config: rescue.openclaw.json5\n    standby: cold\n    failover_after: 60s\n    failback_after: 5s\n",
        1,
    );
    std::fs::write(&fleet, text).expect("write");
    (dir, fleet)
}

fn cli(fleet: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["-f".to_string(), fleet.display().to_string()]);
    run_clawherd(&all)
}

/// OpenClaw's restart-handoff contract against the real gateway: under `on-failure`, SIGUSR2
/// makes the gateway write its handoff and exit 0 (docs/openclaw.md, "Restart hand-off"); clawherd asks
/// `openclaw gateway restart-handoff consume --expected-pid`, gets `accepted`, and restarts it
/// at once. A SIGTERM stop by clawherd afterwards is not mistaken for a hand-back.
#[test]
fn on_failure_restarts_a_real_restart_handoff() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = tools_path() else { return };
    let (_dir, fleet) = example_copy();
    let text = std::fs::read_to_string(&fleet).expect("read");
    let cut = text.find("\n  rescue:\n").expect("rescue profile");
    let text = text[..cut].replacen("    policy: always\n", "    policy: on-failure\n", 1) + "\n";
    assert!(text.contains("policy: on-failure"), "{text}");
    std::fs::write(&fleet, text).expect("write");
    let d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);
    let pid = d.wait_ready(0, "main", BOOT);
    let mark = d.mark();
    let asked = Instant::now();
    signal(pid, 12); // SIGUSR2: a full restart, handed back to the external supervisor
    d.wait_line_from(mark, &["profile=main", "asking OpenClaw whether it was a restart hand-back"], BOOT);
    let exited = asked.elapsed();
    let line = d.wait_event(mark, "restart_handoff", "main", BOOT).message;
    let consumed = asked.elapsed();
    let (_, scheduled) = d.wait_event_from(
        mark,
        "restart_scheduled of main",
        |e| e.profile.as_deref() == Some("main") && e.kind() == "restart_scheduled",
        BOOT,
    );
    assert!(
        matches!(scheduled.what, What::RestartScheduled { delay_s, .. } if delay_s == 0.0),
        "a handed-back restart is at once: {scheduled:?}"
    );
    let new_pid = d.wait_ready(mark, "main", BOOT);
    assert_ne!(new_pid, pid);
    eprintln!(
        "figure: real SIGUSR2 -> exit 0 {:.1} s, restart-handoff consumed {:.1} s, ready again {:.1} s ({line})",
        exited.as_secs_f64(),
        consumed.as_secs_f64(),
        asked.elapsed().as_secs_f64()
    );
    let (code, _, err) = cli(&fleet, &["stop", "main"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !d.log_text_from(mark).contains("not a restart hand-back"),
        "a requested stop is not asked about"
    );
}

/// Issue 5 against real gateways: SIGSTOP main → detected and restarted within the bound; main
/// made to fail with a config OpenClaw rejects (exit 78) → parked → the cold rescue comes up and
/// serves /readyz; config repaired and reloaded → main back, failback stops the cold rescue.
#[test]
fn hung_main_restarts_and_broken_main_fails_over_to_cold_rescue() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = tools_path() else { return };
    let (dir, fleet) = failover_copy();
    let d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);
    let main_pid = d.wait_ready(0, "main", BOOT);
    assert!(
        !d.events()
            .iter()
            .any(|e| e.kind() == "spawned" && e.profile.as_deref() == Some("rescue")),
        "a cold rescue does not start with the fleet"
    );

    // Hang.
    let mark = d.mark();
    let stopped = Instant::now();
    signal(main_pid, 19);
    d.wait_event(mark, "liveness_failed", "main", BOOT);
    let detected = stopped.elapsed();
    let new_pid = d.wait_ready(mark, "main", BOOT);
    assert_ne!(new_pid, main_pid);
    assert!(!alive(main_pid));
    eprintln!(
        "figure: real gateway SIGSTOP -> detected {:.1} s (bound: period 2 s × 3 + timeouts), -> ready again {:.1} s",
        detected.as_secs_f64(),
        stopped.elapsed().as_secs_f64()
    );

    // Break main's config with a key OpenClaw's strict schema refuses (exit 78), restart it.
    let cfg = dir.path().join("main.openclaw.json5");
    let good = std::fs::read_to_string(&cfg).expect("read");
    std::fs::write(&cfg, good.replacen("gateway: {", "gateway: {\n    notAKey: true,", 1)).expect("write");
    let mark = d.mark();
    let broke = Instant::now();
    let (code, _, _) = cli(&fleet, &["restart", "main", "--no-wait"]);
    assert_eq!(code, 0);
    let parked = d.wait_event(mark, "parked", "main", BOOT).message;
    assert!(
        parked.contains("notAKey") || parked.to_lowercase().contains("invalid"),
        "the gateway's own line: {parked}"
    );
    d.wait_event(mark, "failover", "rescue", BOOT);
    let rescue_pid = d.wait_ready(mark, "rescue", BOOT);
    assert_eq!(http_status(19789, "/readyz"), Some(200));
    eprintln!(
        "figure: real cold failover: main restart with broken config -> rescue ready {:.1} s",
        broke.elapsed().as_secs_f64()
    );
    let (_, status, _) = cli(&fleet, &["status"]);
    eprintln!("{status}");
    assert!(status.contains("parked"), "{status}");

    // Repair and reload: main comes back, then failback stops the cold rescue.
    std::fs::write(&cfg, &good).expect("write");
    let mark = d.mark();
    let (code, _, err) = cli(&fleet, &["reload"]);
    assert_eq!(code, 0, "{err}");
    d.wait_ready(mark, "main", BOOT);
    d.wait_event(mark, "failback", "rescue", BOOT);
    let exited = d.wait_event(mark, "exited", "rescue", BOOT);
    assert!(matches!(exited.what, What::Exited { requested: true, .. }), "{exited:?}");
    assert!(!alive(rescue_pid));
    let (_, events, _) = cli(&fleet, &["events", "-n", "200"]);
    for kind in ["liveness_failed", "parked", "failover", "standby_ready", "failback"] {
        assert!(events.contains(kind), "{kind} missing:\n{events}");
    }
}

/// At least 20 random signals (SIGKILL, SIGTERM, SIGSTOP) to real gateways and their spawn
/// brokers; after each the fleet must be ready again; at the end no zombie, no orphan, no
/// duplicate gateway on a state dir.
#[test]
fn twenty_random_kills_of_real_gateways() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = tools_path() else { return };
    let (_dir, fleet) = example_copy();
    let text = std::fs::read_to_string(&fleet).expect("read").replace(
        "  stop_timeout: 60s\n",
        "  stop_timeout: 60s\n  health: {period: 2s, timeout: 2s, failure_threshold: 3, kill_after: 10s}\n",
    );
    // Twenty kills in a few minutes would be a crash loop under the example's 6 starts per 5 min
    // (which then waits 5 min, as designed); here every kill must be recovered from at once.
    let text = text.replace("max_starts: 6", "max_starts: 1000");
    std::fs::write(&fleet, text).expect("write");
    let suffix = format!("@{}", fleet.display());
    let d = Daemon::start_with(&fleet, &[("PATH", &path)], &[]);
    d.wait_ready(0, "main", BOOT);
    d.wait_ready(0, "rescue", BOOT);
    let mut seed: u64 = 0x0c1a_57e5;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    let signals = [(9, "SIGKILL"), (15, "SIGTERM"), (19, "SIGSTOP")];
    let started = Instant::now();
    let mut log = Vec::new();
    for round in 0..20 {
        let pids = marked_pids(&suffix);
        let pid = pids[next(pids.len())];
        let (sig, name) = signals[next(signals.len())];
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        signal(pid, sig);
        log.push(format!("{round}: {name} {pid} ({})", comm.trim()));
        let fleet_arg = fleet.display().to_string();
        // A signalled gateway leader is never the one that counts as ready again (a status
        // read before the signal took effect would still show it ready).
        wait_until(&format!("fleet ready after round {round}"), BOOT, || {
            let (code, out, _) = run_clawherd(&["status", "--json", "-f", &fleet_arg]);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
            code == 0
                && v["instances"].as_array().is_some_and(|a| {
                    a.iter()
                        .all(|i| i["state"] == "ready" && i["live"] == true && i["pid"].as_i64() != Some(i64::from(pid)))
                })
        });
    }
    let clawherd = d.child.id() as i32;
    assert!(zombies_of(clawherd).is_empty());
    // Gateways per state dir, once a gateway that the last round signalled is gone (a dying one
    // loses its environment before it exits): exactly one each, never two.
    let gateways_per_state = || {
        let mut per_state: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for pid in marked_pids(&suffix) {
            if std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim() == "openclaw-gatewa" {
                let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                let state = String::from_utf8_lossy(&env)
                    .split('\0')
                    .find_map(|kv| kv.strip_prefix("OPENCLAW_STATE_DIR=").map(str::to_string))
                    .unwrap_or_default();
                *per_state.entry(state).or_default() += 1;
            }
        }
        per_state
    };
    wait_until("one gateway per state dir", BOOT, || {
        let p = gateways_per_state();
        p.len() == 2 && p.values().all(|n| *n == 1)
    });
    let per_state = gateways_per_state();
    assert_eq!(per_state.len(), 2, "{per_state:?}");
    assert!(
        per_state.values().all(|n| *n == 1),
        "duplicate gateway on a state dir: {per_state:?}"
    );
    eprintln!(
        "figure: real chaos 20 signals in {:.0} s, fleet ready after each: {}",
        started.elapsed().as_secs_f64(),
        log.join("; ")
    );
}
