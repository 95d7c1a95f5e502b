//! Operating a running fleet from the shell through the control socket (stand-in gateways):
//! status, start/stop/restart, logs, reload (command, SIGHUP, watch), env, access control.

use crate::support::*;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const D: Duration = FAKE_DEADLINE;

/// `clawherd ARGS -f FLEET`: exit code, stdout, stderr.
fn cli(fleet: &TestFleet, args: &[&str]) -> (i32, String, String) {
    let fleet_path = fleet.path.to_string_lossy();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-f", &fleet_path]);
    run_clawherd(&all)
}

fn status_json(fleet: &TestFleet) -> serde_json::Value {
    let (code, out, err) = cli(fleet, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("status is JSON")
}

fn pid_of(status: &serde_json::Value, profile: &str) -> Option<i64> {
    status["instances"].as_array()?.iter().find(|i| i["profile"] == profile)?["pid"].as_i64()
}

fn pair(salt: u32) -> (TestFleet, Daemon, u16, u16) {
    let a = free_base(salt);
    let b = free_base(salt + 1);
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    let fleet = TestFleet::fake(
        &[
            TestProfile::new("main", "main", a).env("FAKE_SPAWN_WORKER", "1"),
            TestProfile::new("rescue", "rescue", b),
        ],
        "",
    );
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    d.wait_ready(0, "rescue", D);
    (fleet, d, a, b)
}

#[test]
fn status_json_has_the_documented_shape_and_the_table_reads_well() {
    let (fleet, _d, a, _) = pair(41);
    let s = status_json(&fleet);
    assert_eq!(s["api"], 1);
    assert!(s["rss_bytes"].as_u64().expect("rss") > 0);
    let main = &s["instances"][0];
    for key in [
        "profile",
        "role",
        "flavor",
        "state",
        "pid",
        "uptime_s",
        "restarts",
        "last_exit",
        "last_exit_at",
        "base_port",
        "ready",
        "live",
        "tree",
        "openclaw",
    ] {
        assert!(main.get(key).is_some(), "missing {key} in {main}");
    }
    assert_eq!(main["profile"], "main");
    assert_eq!(main["state"], "ready");
    assert_eq!(main["ready"], true);
    assert_eq!(main["live"], true);
    assert_eq!(main["base_port"], a);
    assert_eq!(main["tree"]["processes"], 2, "gateway and its worker (own session) are one tree");
    assert!(main["tree"]["rss_bytes"].as_u64().expect("rss") > 0);
    assert_eq!(main["openclaw"]["failing"], serde_json::json!([]));
    let (code, table, _) = cli(&fleet, &["status"]);
    assert_eq!(code, 0);
    assert!(table.starts_with("PROFILE  ROLE"), "{table}");
    assert!(table.lines().nth(1).expect("row").contains("ready"), "{table}");
    // Secrets never appear in status.
    assert!(!table.contains("s3cret"));
    let (code, _, err) = cli(&fleet, &["status", "mian"]);
    assert_eq!(code, 64);
    assert!(err.contains("no profile `mian`") && err.contains("did you mean `main`?"), "{err}");
}

#[test]
fn restart_through_the_cli_changes_only_that_pid() {
    let (fleet, _d, _, b) = pair(43);
    let before = status_json(&fleet);
    let (code, out, err) = cli(&fleet, &["restart", "rescue"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("rescue: ready pid "), "{out}");
    let after = status_json(&fleet);
    assert_ne!(pid_of(&before, "rescue"), pid_of(&after, "rescue"));
    assert_eq!(pid_of(&before, "main"), pid_of(&after, "main"));
    assert_eq!(http_status(b, "/readyz"), Some(200), "restart waited for ready");
    // Issue 15: status tells how the last exit came about, and whom a standby covers.
    let rescue = &after["instances"][1];
    assert_eq!(rescue["last_exit_kind"], "requested", "{rescue}");
    assert_eq!(
        rescue["standby"],
        serde_json::json!({"covers": "main", "mode": "hot", "failover_in_s": null, "failed_over": false}),
        "{rescue}"
    );
    let main = &after["instances"][0];
    assert!(main["last_exit_kind"].is_null() && main["standby"].is_null(), "{main}");
}

/// Issue 15: a gateway killed from outside is a `crash` in status's `last_exit_kind`.
#[test]
fn status_tells_a_crash_from_a_requested_exit() {
    let (fleet, d, _, _) = pair(147);
    let main = pid_of(&status_json(&fleet), "main").expect("main runs");
    let mark = d.mark();
    signal(i32::try_from(main).expect("a pid"), 9);
    d.wait_ready(mark, "main", D);
    let s = status_json(&fleet);
    assert_eq!(s["instances"][0]["last_exit_kind"], "crash", "{s}");
}

#[test]
fn stop_and_start_wait_for_their_state() {
    let (fleet, _d, a, _) = pair(45);
    let (code, out, _) = cli(&fleet, &["stop", "main"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("main: stopped"), "{out}");
    assert_eq!(http_status(a, "/healthz"), None);
    assert!(
        marked_pids(&fleet.marker("main")).is_empty(),
        "the whole tree, worker included, is gone"
    );
    let (code, out, _) = cli(&fleet, &["start", "--all"]);
    assert_eq!(code, 0);
    assert!(out.contains("main: ready") && out.contains("rescue: ready"), "{out}");
    assert_eq!(http_status(a, "/readyz"), Some(200));
}

#[test]
fn reload_with_a_broken_file_keeps_every_pid() {
    let (fleet, d, a, _) = pair(47);
    let before = status_json(&fleet);
    let good = std::fs::read_to_string(&fleet.path).expect("read");
    // rescue moved onto main's CDP range: the proof must refuse it.
    let broken = good.replace(&format!("port: {}", pid_port(&good, "rescue")), &format!("port: {}", a + 20));
    std::fs::write(&fleet.path, broken).expect("write");
    let (code, _, err) = cli(&fleet, &["reload"]);
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("intersect") && err.contains("the running fleet was left as it is"),
        "{err}"
    );
    d.wait_line(&["reload refused"], D);
    let after = status_json(&fleet);
    assert_eq!(pid_of(&before, "main"), pid_of(&after, "main"));
    assert_eq!(pid_of(&before, "rescue"), pid_of(&after, "rescue"));
}

/// The base port written for `profile` in a test fleet.
fn pid_port(fleet_text: &str, profile: &str) -> u16 {
    let block = fleet_text.split(&format!("  {profile}:\n")).nth(1).expect("profile block");
    block
        .lines()
        .find_map(|l| l.trim().strip_prefix("port: "))
        .and_then(|p| p.parse().ok())
        .expect("port")
}

/// `status` reports CPU since the previous whole-fleet call when that is recent (no sampling
/// window of its own), and over its own 0.2 s window otherwise.
#[test]
fn status_reports_cpu_since_the_previous_call() {
    let base = free_base(89);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", base)], "");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let span = |s: &serde_json::Value| s["instances"][0]["tree"]["cpu_span_s"].as_f64().expect("cpu_span_s");
    let first = status_json(&fleet);
    assert!(span(&first) > 0.0 && span(&first) < 0.5, "first call: its own window\n{first}");
    // The previous reading must be at least 0.5 s old to be used.
    std::thread::sleep(Duration::from_millis(700));
    let second = status_json(&fleet);
    assert!(span(&second) >= 0.5, "second call: since the first\n{second}");
    assert!(second["instances"][0]["tree"]["cpu_percent"].as_f64().expect("cpu") >= 0.0);
}

/// A fleet of main and a rescue that drains 6 s on SIGTERM, with a reload running (in a thread)
/// that restarts rescue, observed while it waits for that drain: status answers with the old
/// rescue `stopping`. Returns the fleet, the daemon, main's and the old rescue's pids, the log
/// mark before the reload, and the reload's thread.
type ReloadThread = std::thread::JoinHandle<(i32, String, String)>;
fn reload_waiting_for_a_drain(salt: u32) -> (TestFleet, Daemon, i32, i32, Mark, ReloadThread) {
    let a = free_base(salt);
    let b = free_base(salt + 2);
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    let fleet = TestFleet::fake(
        &[
            TestProfile::new("main", "main", a),
            TestProfile::new("rescue", "rescue", b).env("FAKE_STOP_DELAY_MS", "6000"),
        ],
        "",
    );
    let d = Daemon::start(&fleet.path);
    let main_pid = d.wait_ready(0, "main", D);
    let old = d.wait_ready(0, "rescue", D);
    // A changed environment restarts rescue; the old gateway drains 6 s on SIGTERM.
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    assert!(text.contains("FAKE_STOP_DELAY_MS: \"6000\""), "{text}");
    std::fs::write(
        &fleet.path,
        text.replace("FAKE_STOP_DELAY_MS: \"6000\"", "FAKE_STOP_DELAY_MS: \"10\""),
    )
    .expect("write");
    let path = fleet.path.to_string_lossy().into_owned();
    let mark = d.mark();
    let reload = std::thread::spawn(move || run_clawherd(&["reload", "-f", &path]));
    // Before status was answered during reloads, it waited for the whole reload and then
    // showed the new gateway.
    wait_until("status shows the old rescue stopping during the reload", D, || {
        let s = status_json(&fleet);
        s["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .any(|i| i["profile"] == "rescue" && i["state"] == "stopping" && i["pid"].as_i64() == Some(old as i64))
    });
    (fleet, d, main_pid, old, mark, reload)
}

/// While a reload waits for a changed gateway to drain, status is still answered, and the
/// reload answers once the old gateway is gone and the new one was started.
#[test]
fn status_is_answered_while_a_reload_waits_for_a_drain() {
    let (fleet, d, main_pid, old, mark, reload) = reload_waiting_for_a_drain(93);
    let (code, out, err) = reload.join().expect("reload thread");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "reloaded: added -; removed -; restarted rescue; unchanged main",
        "{out}"
    );
    assert!(!alive(old), "the old rescue is gone when the reload answers");
    let new = d.wait_ready(mark, "rescue", D);
    assert_ne!(new, old);
    assert_eq!(pid_of(&status_json(&fleet), "main"), Some(main_pid as i64));
}

/// `clawherd stop` of a profile a reload is restarting waits for the reload and stops the new
/// instance, rather than the ending old one (which would leave the new one running).
#[test]
fn stop_during_a_reload_applies_to_the_new_instance() {
    let (fleet, _d, _, _, _, reload) = reload_waiting_for_a_drain(103);
    let path = fleet.path.to_string_lossy().into_owned();
    let stop = std::thread::spawn(move || run_clawherd(&["stop", "rescue", "-f", &path]));
    let (code, _, err) = reload.join().expect("reload thread");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = stop.join().expect("stop thread");
    assert_eq!(code, 0, "{out}{err}");
    let s = status_json(&fleet);
    let rescue = s["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .find(|i| i["profile"] == "rescue")
        .cloned();
    assert_eq!(rescue.expect("rescue")["state"], "stopped", "{s}");
    assert!(marked_pids(&fleet.marker("rescue")).is_empty());
}

/// SIGTERM while a reload waits for a drain: clawherd waits for the draining gateway too,
/// starts nothing new, and leaves nothing behind.
#[test]
fn sigterm_during_a_reload_leaves_nothing() {
    let (fleet, mut d, _, old, mark, reload) = reload_waiting_for_a_drain(97);
    d.signal(15);
    let status = d.wait_exit(D);
    assert!(status.success(), "{status:?}\n{}", d.log_text());
    let (code, _, _) = reload.join().expect("reload thread");
    assert_ne!(code, 0, "the interrupted reload does not report success");
    assert!(!alive(old));
    for p in ["main", "rescue"] {
        assert!(marked_pids(&fleet.marker(p)).is_empty(), "{p} left processes");
    }
    assert!(
        !d.log_text_from(mark).contains("profile=rescue}: spawned"),
        "{}",
        d.log_text_from(mark)
    );
}

#[test]
fn reload_applies_only_the_difference() {
    let (fleet, d, _, _) = pair(49);
    let before = status_json(&fleet);
    let third = free_base(51);
    let text = std::fs::read_to_string(&fleet.path).expect("read")
        + &format!(
            "  third:\n    role: rescue\n    openclaw_profile: third\n    port: {third}\n    state_dir: state/third\n    config: third.json5\n"
        );
    // rescue's environment changes: only rescue restarts.
    let text = text.replace(
        "    config: rescue.json5\n",
        "    config: rescue.json5\n    env: {NEW_SETTING: \"1\"}\n",
    );
    std::fs::write(&fleet.path, text).expect("write");
    let (code, out, err) = cli(&fleet, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "reloaded: added third; removed -; restarted rescue; unchanged main",
        "{out}"
    );
    d.wait_ready(0, "third", D);
    let after = status_json(&fleet);
    assert_eq!(pid_of(&before, "main"), pid_of(&after, "main"), "unchanged keeps its pid");
    assert_ne!(pid_of(&before, "rescue"), pid_of(&after, "rescue"));
    // Removing a profile stops its whole tree.
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    let cut = text.find("  third:\n").expect("third");
    std::fs::write(&fleet.path, &text[..cut]).expect("write");
    let (code, out, _) = cli(&fleet, &["reload"]);
    assert_eq!(code, 0);
    assert!(out.contains("removed third"), "{out}");
    assert!(marked_pids(&fleet.marker("third")).is_empty());
}

#[test]
fn sighup_and_watch_reload_the_fleet() {
    let a = free_base(53);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a)], "");
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    std::fs::write(&fleet.path, format!("watch: true\n{text}")).expect("write");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    // SIGHUP: re-read, nothing changed, pid kept.
    let mark = d.mark();
    d.signal(1);
    d.wait_line_from(mark, &["reloaded", "unchanged=1"], D);
    assert!(alive(pid));
    // watch: an edit of the fleet file is applied without any command.
    let mark = d.mark();
    let text = std::fs::read_to_string(&fleet.path)
        .expect("read")
        .replace("    config: main.json5\n", "    config: main.json5\n    env: {EDITED: \"yes\"}\n");
    std::fs::write(&fleet.path, text).expect("write");
    d.wait_line_from(mark, &["a watched file changed"], D);
    d.wait_line_from(mark, &["reloaded", "restarted=[\"main\"]"], D);
    let new_pid = d.wait_ready(mark, "main", D);
    assert_ne!(new_pid, pid);
}

#[test]
fn logs_show_and_follow_captured_output() {
    let (fleet, d, _, _) = pair(55);
    let old_rescue = d.wait_ready(0, "rescue", D);
    let (code, out, _) = cli(&fleet, &["logs", "main", "-n", "50"]);
    assert_eq!(code, 0);
    assert!(out.contains("[gateway] ready"), "{out}");
    let (_, both, _) = cli(&fleet, &["logs"]);
    assert!(
        both.contains("[main] ") && both.contains("[rescue] "),
        "several profiles are prefixed: {both}"
    );
    let mut follower = Command::new(clawherd_bin())
        .args(["logs", "rescue", "-F", "-n", "1", "-f"])
        .arg(&fleet.path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("logs -F");
    let stdout = follower.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The daemon subscribes the follower before it sends the last line of history (`-n 1`):
    // once that line arrived, a restart's new lines reach the follower.
    rx.recv_timeout(D).expect("the last line of history");
    let mark = d.mark();
    let (code, _, _) = cli(&fleet, &["restart", "rescue"]);
    assert_eq!(code, 0);
    // Issue 15: while following, the end of the old run and the start of the new one are
    // marked as they happen, in order with the lines: the old run's last lines (written as it
    // got SIGTERM), its end, the new run, then the new run's lines. (The markers came from the
    // event stream, beside the log stream, and could print before the old run's last lines;
    // the daemon now sends them in the log stream.)
    let ended = format!("---- rescue: run ended, pid {old_rescue}, stopped by clawherd");
    let end = std::time::Instant::now() + D;
    let mut lines: Vec<String> = Vec::new();
    let has = |lines: &[String], what: &str| lines.iter().position(|l| l.contains(what));
    let started_after = |lines: &[String]| {
        let new = has(lines, "---- rescue: new run, pid")?;
        lines
            .iter()
            .skip(new)
            .position(|l| l.contains("[gateway] starting"))
            .map(|i| i + new)
    };
    while started_after(&lines).is_none() || has(&lines, "clean stop").is_none() {
        match rx.recv_timeout(end.saturating_duration_since(std::time::Instant::now())) {
            Ok(l) => lines.push(l),
            Err(e) => panic!("the restart was not followed with its markers ({e}): {lines:#?}"),
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    let new_run = format!("---- rescue: new run, pid {}", d.wait_ready(mark, "rescue", D));
    let order = [
        has(&lines, "received SIGTERM; shutting down"),
        has(&lines, "exiting with code 0: clean stop"),
        has(&lines, &ended),
        has(&lines, &new_run),
        started_after(&lines),
    ];
    assert!(
        order.iter().all(Option::is_some) && order.is_sorted(),
        "the old run's last lines, its end, the new run, its lines ({order:?}): {lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("---- ")).count(),
        2,
        "each marker once: {lines:#?}"
    );
    let seen = lines.iter().find(|l| l.contains("[gateway] starting")).cloned().unwrap_or_default();
    assert!(
        clawherd::observe::logs::line_time(&seen).is_some(),
        "lines carry their time: {seen}"
    );
}

#[test]
fn env_prints_the_exact_recipe_with_secrets_redacted() {
    let a = free_base(57);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a).env("OPENCLAW_GATEWAY_TOKEN", "s3cret")], "");
    let d = Daemon::start_with(&fleet.path, &[("TMUX", "/tmp/tmux-1/default,1,0")], &[]);
    let pid = d.wait_ready(0, "main", D);
    let (code, out, _) = cli(&fleet, &["env", "main"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("OPENCLAW_SUPERVISOR_MODE=external") && out.contains(&format!("--port {a}")),
        "{out}"
    );
    assert!(
        out.contains("OPENCLAW_GATEWAY_TOKEN='<redacted>'") && !out.contains("s3cret"),
        "{out}"
    );
    let (_, shown, _) = cli(&fleet, &["env", "main", "--show-secrets"]);
    assert!(shown.contains("OPENCLAW_GATEWAY_TOKEN=s3cret"));
    // What `env` prints is what the gateway really got.
    let environ = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).expect("environ")).into_owned();
    for var in environ
        .split('\0')
        .filter(|v| v.starts_with("OPENCLAW_") || v.starts_with("CLAWHERD_"))
    {
        assert!(shown.contains(var), "{var} missing from env output");
    }
    // The same set: every variable the gateway has is shown, and what it did not inherit is not.
    for name in environ.split('\0').filter_map(|v| v.split_once('=')).map(|(k, _)| k) {
        assert!(shown.contains(&format!("{name}=")), "{name} missing from env output:\n{shown}");
    }
    assert!(!shown.contains("TMUX="), "{shown}");
}

/// The socket is 0600 by default; with `control.group` it is 0660 for that group. A user outside
/// both is refused and told why.
#[test]
fn a_foreign_uid_is_refused() {
    let a = free_base(59);
    let sock = format!("/tmp/clawherd-test-{}-{a}.sock", std::process::id());
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a)], "");
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    std::fs::write(&fleet.path, format!("control: {{socket: {sock}, group: nogroup}}\n{text}")).expect("write");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sock).expect("socket").permissions()) & 0o777;
    assert_eq!(mode, 0o660);
    let as_user = |uid: &str, gid: &str| {
        Command::new("setpriv")
            .args([
                "--reuid",
                uid,
                "--regid",
                gid,
                "--clear-groups",
                clawherd_bin(),
                "status",
                "--socket",
                &sock,
            ])
            .output()
            .expect("setpriv")
    };
    let stranger = as_user("12345", "12345");
    assert_eq!(stranger.status.code(), Some(69), "{stranger:?}");
    assert!(
        String::from_utf8_lossy(&stranger.stderr).contains("permission denied"),
        "{stranger:?}"
    );
    let member = as_user("65534", "65534");
    assert_eq!(member.status.code(), Some(0), "a member of control.group may: {member:?}");
    drop(d);
    let _ = std::fs::remove_file(&sock);
}

#[test]
fn a_second_daemon_on_the_same_fleet_is_refused() {
    let a = free_base(61);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a)], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    let out = Command::new(clawherd_bin())
        .args(["run", "--quiet"])
        .arg(&fleet.path)
        .output()
        .expect("second");
    assert_eq!(out.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another clawherd already serves this fleet"));
    assert!(alive(pid), "the first daemon's gateway was not taken for a leftover");
}

/// Plays systemd's notify socket: READY=1 comes once the instances are ready, with a STATUS
/// summary; WATCHDOG=1 pings follow WATCHDOG_USEC; SIGHUP gives RELOADING=1 then READY=1;
/// SIGTERM gives STOPPING=1. And the gateways never see NOTIFY_SOCKET.
#[test]
fn sd_notify_datagrams_follow_the_fleet() {
    let a = free_base(63);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a).env("FAKE_READY_DELAY_MS", "300")], "");
    let sock_dir = tempfile::tempdir().expect("dir");
    let sock = sock_dir.path().join("notify");
    let listener = std::os::unix::net::UnixDatagram::bind(&sock).expect("bind notify socket");
    listener.set_read_timeout(Some(D)).expect("timeout");
    let recv = || {
        let mut buf = [0u8; 4096];
        let n = listener.recv(&mut buf).expect("a datagram in time");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut d = Daemon::start_with(
        &fleet.path,
        &[("NOTIFY_SOCKET", sock.to_str().expect("utf8")), ("WATCHDOG_USEC", "400000")],
        &["WATCHDOG_PID"],
    );
    let mut seen = Vec::new();
    let ready = loop {
        let m = recv();
        if m.contains("READY=1") {
            break m;
        }
        seen.push(m);
    };
    assert!(ready.contains("STATUS=1/1 ready: main ready"), "{ready} after {seen:?}");
    let pid = d.wait_ready(0, "main", D);
    let environ = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).expect("environ")).into_owned();
    assert!(
        !environ.contains("NOTIFY_SOCKET") && !environ.contains("WATCHDOG_USEC"),
        "scrubbed from the gateway"
    );
    let watchdog = (0..20).map(|_| recv()).find(|m| m.trim() == "WATCHDOG=1");
    assert!(watchdog.is_some(), "watchdog pings at half of WATCHDOG_USEC");
    d.signal(1);
    let reloading = (0..50).map(|_| recv()).find(|m| m.contains("RELOADING=1")).expect("RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    assert!((0..50).map(|_| recv()).any(|m| m.contains("READY=1")), "READY=1 after the reload");
    d.signal(15);
    assert!((0..50).map(|_| recv()).any(|m| m.contains("STOPPING=1")));
    assert_eq!(d.wait_exit(D).code(), Some(0));
}

/// Parses `name{labels} value` lines of an OpenMetrics text into (name{labels}, value).
fn metric_values(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').and_then(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v))))
        .collect()
}

/// Prometheus metrics: scraped over the optional TCP listener and the control socket, parsed.
#[test]
fn metrics_are_scraped_and_parsed() {
    let a = free_base(65);
    let mport = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free")
        .local_addr()
        .expect("addr")
        .port();
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a).yaml("    health: {period: 100ms}\n")], "");
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    std::fs::write(&fleet.path, format!("metrics: {{listen: \"127.0.0.1:{mport}\"}}\n{text}")).expect("write");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    // Wait (bounded) until a few periodic probe rounds were recorded.
    let scrape = || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", mport)).expect("metrics listener");
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
        let mut body = String::new();
        std::io::Read::read_to_string(&mut s, &mut body).expect("read");
        body
    };
    wait_until("probe rounds recorded", D, || {
        metric_values(&scrape())
            .get("clawherd_probe_duration_seconds_count{profile=\"main\"}")
            .is_some_and(|n| *n >= 3.0)
    });
    let body = scrape();
    assert!(
        body.starts_with("HTTP/1.1 200") && body.contains("application/openmetrics-text"),
        "{body}"
    );
    let m = metric_values(&body);
    assert_eq!(m.get("clawherd_instance_up{profile=\"main\"}"), Some(&1.0), "{body}");
    assert_eq!(m.get("clawherd_instance_ready{profile=\"main\"}"), Some(&1.0));
    assert_eq!(m.get("clawherd_instance_restarts_total{profile=\"main\"}"), Some(&0.0));
    assert!(
        m.get("clawherd_instance_tree_rss_bytes{profile=\"main\"}")
            .is_some_and(|v| *v > 0.0)
    );
    assert!(m.get("clawherd_process_rss_bytes").is_some_and(|v| *v > 0.0));
    // Only /metrics on TCP: the control API is not exposed there.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", mport)).expect("connect");
    write!(s, "GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut s, &mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    // After a crash, restarts and the last exit show.
    let mark = d.mark();
    signal(pid, 9);
    d.wait_ready(mark, "main", D);
    let m = metric_values(&scrape());
    assert_eq!(m.get("clawherd_instance_restarts_total{profile=\"main\"}"), Some(&1.0));
    assert_eq!(m.get("clawherd_instance_last_exit_code{profile=\"main\"}"), Some(&137.0));
    // The control socket serves the same exposition.
    let sock = fleet.dir.path().join(".clawherd/clawherd.sock");
    let mut u = std::os::unix::net::UnixStream::connect(&sock).expect("socket");
    write!(u, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut body = String::new();
    std::io::Read::read_to_string(&mut u, &mut body).expect("read");
    assert!(body.contains("clawherd_instance_info{"), "{body}");
}

/// The control socket of a test fleet (the default, beside the fleet file).
fn socket_of(fleet: &TestFleet) -> std::path::PathBuf {
    fleet.dir.path().join(".clawherd/clawherd.sock")
}

/// Sends `request` as raw bytes on a new control connection; returns the status line.
fn raw_request(fleet: &TestFleet, request: &[u8]) -> String {
    use std::io::Read;
    let mut s = std::os::unix::net::UnixStream::connect(socket_of(fleet)).expect("connect");
    s.set_read_timeout(Some(D)).expect("timeout");
    s.write_all(request).expect("send");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string()
}

/// Regression (hardening issue): `GET /v1/logs?profile=%aé`, sent raw (`%a` then a multi-byte
/// character), made the hand-written percent decoder slice inside the character and panic,
/// which aborts the daemon and leaves its gateways unsupervised.
#[test]
fn a_broken_escape_before_raw_utf8_in_the_logs_query_is_answered_not_aborted() {
    let a = free_base(63);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a)], "");
    let mut d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let status_line = raw_request(
        &fleet,
        b"GET /v1/logs?profile=%a\xc3\xa9 HTTP/1.1\r\nHost: clawherd\r\nConnection: close\r\n\r\n",
    );
    assert!(
        status_line.starts_with("HTTP/1.1 4"),
        "an error answer, not a dead daemon: {status_line:?}"
    );
    let status_line = raw_request(
        &fleet,
        b"GET /v1/logs?profile=%a%C3%A9 HTTP/1.1\r\nHost: clawherd\r\nConnection: close\r\n\r\n",
    );
    assert!(status_line.starts_with("HTTP/1.1 404"), "{status_line:?}");
    assert!(d.child.try_wait().expect("try_wait").is_none(), "the daemon is alive");
    let (code, _, err) = cli(&fleet, &["status"]);
    assert_eq!(code, 0, "{err}");
}

/// Regression (hardening issue): idle control connections were never closed nor capped, so
/// enough of them used up the descriptors the probes and spawns need. With 128 descriptors the
/// cap is 32: open more idle connections than that; `status` is still answered and every idle
/// connection is closed by the server.
#[test]
fn idle_control_connections_are_capped_and_closed() {
    use std::io::Read;
    let a = free_base(65);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a)], "");
    let d = Daemon::start_under(&fleet.path, &["prlimit", "--nofile=128:128"], &[], &[]);
    let pid = d.wait_ready(0, "main", D);
    let idle: Vec<std::os::unix::net::UnixStream> = (0..40)
        .map(|_| std::os::unix::net::UnixStream::connect(socket_of(&fleet)).expect("connect"))
        .collect();
    let (code, out, err) = cli(&fleet, &["status"]);
    assert_eq!(code, 0, "status is answered beside the idle connections: {err}");
    assert!(out.contains("ready"), "{out}");
    for (i, mut s) in idle.into_iter().enumerate() {
        s.set_read_timeout(Some(D)).expect("timeout");
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("idle connection {i} was not closed: {other:?}"),
        }
    }
    assert!(alive(pid), "the gateway kept running");
    assert_eq!(http_status(a, "/readyz"), Some(200));
}

/// Regression (hardening issue): on SIGTERM with `logs -F` and `events -F` attached, the
/// fleet stopped but the daemon waited for the followers to quit. Now the followers get
/// end-of-stream and the daemon exits.
#[test]
fn sigterm_ends_attached_followers_and_the_daemon_exits() {
    let (fleet, mut d, _, _) = pair(67);
    let follower = |args: &[&str]| {
        let mut child = Command::new(clawherd_bin())
            .args(args)
            .arg("-f")
            .arg(&fleet.path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("follower");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        // The first line means the follower is attached (its request was answered).
        let mut first = String::new();
        stdout.read_line(&mut first).expect("first line");
        assert!(!first.is_empty(), "{args:?} printed nothing");
        // Keep draining, so the follower never blocks on a full pipe.
        std::thread::spawn(move || for _ in stdout.lines().map_while(Result::ok) {});
        child
    };
    let mut logs = follower(&["logs", "-F", "-n", "5"]);
    let mut events = follower(&["events", "-F", "-n", "5"]);
    d.signal(15);
    let status = d.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    for (name, child) in [("logs -F", &mut logs), ("events -F", &mut events)] {
        let end = std::time::Instant::now() + Duration::from_secs(30);
        let code = loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                break s;
            }
            assert!(std::time::Instant::now() < end, "{name} did not end after the daemon exited");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(code.success(), "{name}: {code:?}");
    }
}

/// Regression (hardening issue): `control.socket` naming an existing regular file passed and
/// `run` deleted the file. Now `run` refuses (78), names the path and the fix, and keeps it.
#[test]
fn a_regular_file_at_the_socket_path_is_refused_and_kept() {
    let a = free_base(69);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a)], "");
    let precious = fleet.dir.path().join("notes.txt");
    std::fs::write(&precious, "keep me").expect("write");
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    std::fs::write(&fleet.path, format!("control: {{socket: {}}}\n{text}", precious.display())).expect("write");
    // Started as a daemon, so a clawherd that wrongly runs is stopped by the guard's drop.
    let mut d = Daemon::start(&fleet.path);
    let code = d.wait_exit(Duration::from_secs(30)).code();
    let err = d.log_text();
    assert_eq!(code, Some(78), "{err}");
    assert!(
        err.contains(&precious.display().to_string()) && err.contains("not a socket") && err.contains("control.socket"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&precious).expect("still there"), "keep me");
    assert!(marked_pids(&fleet.marker("main")).is_empty(), "nothing was started");
    // `check` says so before anything runs.
    let (code, _, err) = run_clawherd(&["check", "--no-host-ports", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("control.socket") && err.contains("is a regular file, not a socket"),
        "{err}"
    );
}

/// Regression (hardening issue): `clawherd env` redacted by a few names only, so keys, a
/// database URL's password and `--token x` in the command line printed in clear.
#[test]
fn env_redacts_secrets_by_name_value_and_flag() {
    let a = free_base(71);
    let fleet = TestFleet::fake(
        &[TestProfile::new("main", "main", a)
            .env("OPENAI_KEY", "plain-openai")
            .env("GH_PAT", "plain-pat")
            .env("DATABASE_URL", "postgres://app:hunter2@db:5432/app")
            .env("LLM_UPSTREAM", "sk-ant-api03-shapedsecret")
            .yaml("    args: [\"--allow-unconfigured\", \"--token\", \"flag-s3cret\"]\n")],
        "",
    );
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let (code, out, err) = cli(&fleet, &["env", "main"]);
    assert_eq!(code, 0, "{err}");
    for secret in ["plain-openai", "plain-pat", "hunter2", "shapedsecret", "flag-s3cret"] {
        assert!(!out.contains(secret), "{secret} shown: {out}");
    }
    assert!(out.contains("postgres://app:***@db:5432/app"), "{out}");
    assert!(out.contains("--token '<redacted>'"), "{out}");
    assert!(out.contains("# redacted: ") && out.contains("--token"), "{out}");
    let (_, shown, _) = cli(&fleet, &["env", "main", "--show-secrets"]);
    for secret in ["plain-openai", "hunter2", "flag-s3cret"] {
        assert!(shown.contains(secret), "--show-secrets shows {secret}: {shown}");
    }
}

/// Regression (hardening issue): an OpenClaw config replaced by a FIFO froze the daemon on
/// reload (no status, a killed gateway not restarted) until someone wrote to it. The reload is
/// now refused with the file named, off the runtime thread, and the fleet keeps running.
#[test]
fn a_reload_with_a_fifo_for_a_config_is_refused_and_the_fleet_keeps_running() {
    let (fleet, d, _, _) = pair(139);
    let rescue = d.wait_ready(0, "rescue", D);
    let config = fleet.dir.path().join("rescue.json5");
    let _ = std::fs::remove_file(&config);
    nix::unistd::mkfifo(&config, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let (code, out, err) = cli(&fleet, &["reload"]);
    assert_eq!(code, 78, "{out}{err}");
    assert!(err.contains("rescue.json5") && err.contains("FIFO"), "{err}");
    assert_eq!(pid_of(&status_json(&fleet), "rescue"), Some(i64::from(rescue)));
    let mark = d.mark();
    signal(rescue, 9);
    assert_ne!(
        d.wait_ready(mark, "rescue", D),
        rescue,
        "a killed gateway is restarted after the refused reload"
    );
}

/// Issue 15: `reload` hid the new fleet's warnings (a `gateway.port` contradicting the fleet's
/// port: "unchanged", exit 0, nothing said). Issue 12: an API error echoed the request's
/// profile name, secret or not.
#[test]
fn reload_prints_warnings_and_api_errors_redact_what_they_echo() {
    let (fleet, _d, _, b) = pair(107);
    std::fs::write(fleet.dir.path().join("rescue.json5"), format!("{{gateway: {{port: {}}}}}\n", b + 7)).expect("write");
    let (code, out, err) = cli(&fleet, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reloaded:"), "{out}");
    assert!(err.contains(&format!("base port {b} differs from gateway.port {}", b + 7)), "{err}");
    // ... and `status` (so `top`) keeps telling them after the reload; a fleet without any
    // says none.
    let warnings = status_json(&fleet)["warnings"].clone();
    let said = format!("base port {b} differs from gateway.port {}", b + 7);
    assert!(
        warnings
            .as_array()
            .is_some_and(|w| w.len() == 1 && w[0].as_str().is_some_and(|t| t.contains(&said))),
        "{warnings}"
    );
    // The plain table shows them too, under the table, with their hint.
    let (code, table, err) = cli(&fleet, &["status"]);
    assert_eq!(code, 0, "{err}");
    let under = table.split_once("clawherd pid ").map_or("", |(_, rest)| rest);
    assert!(under.contains(&said) && under.contains("hint:"), "{table}");
    std::fs::write(fleet.dir.path().join("rescue.json5"), format!("{{gateway: {{port: {b}}}}}\n")).expect("write");
    let (code, _, err) = cli(&fleet, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(status_json(&fleet)["warnings"], serde_json::json!([]), "{err}");
    let (_, table, _) = cli(&fleet, &["status"]);
    assert!(!table.contains("warning"), "{table}");
    let (code, _, err) = cli(&fleet, &["start", "sk-proj-abcdefghijklmnop"]);
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains("no profile `<redacted>`") && !err.contains("abcdefghijklmnop"),
        "{err}"
    );
    // axum's own rejection quoted the query value in plain text; now JSON, redacted.
    use std::io::Read;
    let mut s = std::os::unix::net::UnixStream::connect(socket_of(&fleet)).expect("connect");
    s.set_read_timeout(Some(D)).expect("timeout");
    s.write_all(b"POST /v1/instances/main/restart?wait=sk-proj-abcdefghijklmnop HTTP/1.1\r\nHost: clawherd\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("application/json") && answer.contains("unknown variant `<redacted>`") && !answer.contains("abcdefghijklmnop"),
        "{answer}"
    );
}

/// Issue 15: Ctrl-C during `clawherd restart main` quit silently while the restart went on.
/// Now it says so (exit 130), and the restart indeed completes.
#[test]
fn ctrl_c_stops_waiting_and_says_the_restart_goes_on() {
    let a = free_base(109);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a).env("FAKE_STOP_DELAY_MS", "3000")], "");
    let d = Daemon::start(&fleet.path);
    let old = d.wait_ready(0, "main", D);
    let mark = d.mark();
    let child = Command::new(clawherd_bin())
        .args(["restart", "main", "-f"])
        .arg(&fleet.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn restart");
    wait_until("main is stopping", D, || {
        let s = status_json(&fleet);
        s["instances"][0]["state"] == "stopping"
    });
    signal(i32::try_from(child.id()).expect("pid"), 2);
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("stopped waiting; the restart of main goes on in the daemon"), "{err}");
    let new = d.wait_ready(mark, "main", D);
    assert_ne!(new, old, "the restart went on after the client stopped waiting");
}

/// The take-down of what a gateway left behind (its worker ignores SIGTERM, so it lasts the whole
/// `leftover_grace`, here 10 min: no machine is that slow) runs in flight in the instance's
/// actor: during it, status says `stopping` (the old tree is not gone yet) and a control is
/// answered at once. The start asked for during it spawns the new gateway only once the old
/// worker is gone (here: killed by the test, which ends the take-down early).
#[test]
fn status_and_controls_are_answered_while_the_tree_is_cleaned_up() {
    let a = free_base(461);
    let fleet = TestFleet::fake(
        &[TestProfile::new("main", "main", a)
            .env("FAKE_SPAWN_WORKER", "1")
            .yaml("    leftover_grace: 10m\n")],
        "",
    );
    let d = Daemon::start(&fleet.path);
    let gateway = d.wait_ready(0, "main", D);
    let worker = *marked_pids(&fleet.marker("main"))
        .iter()
        .find(|p| **p != gateway)
        .expect("the worker carries the marker");
    let mark = d.mark();
    let (code, _, err) = cli(&fleet, &["stop", "main", "--no-wait"]);
    assert_eq!(code, 0, "{err}");
    d.wait_event(mark, "exited", "main", D);
    // The worker ignores SIGTERM: the take-down waits out its grace. A start asked for now is
    // answered (queued and applied) while it runs, and status shows the truth.
    let (code, _, err) = cli(&fleet, &["start", "main", "--no-wait"]);
    assert_eq!(code, 0, "{err}");
    let s = status_json(&fleet);
    let row = s["instances"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["profile"] == "main"))
        .cloned()
        .expect("main in status");
    assert!(alive(worker), "the worker is still there: the take-down is running");
    assert_eq!((row["state"].as_str(), row["pid"].as_i64()), (Some("stopping"), None), "{row}");
    assert!(
        !d.events()[mark.events..].iter().any(|e| e.kind() == "spawned"),
        "no new gateway while the old tree is being taken down"
    );
    // Once the old worker is gone, the take-down ends and the new gateway is spawned.
    signal(worker, 9);
    let pid = d.wait_ready(mark, "main", D);
    assert_ne!(pid, gateway);
    assert!(!alive(worker), "the worker outlived the cleanup");
}
