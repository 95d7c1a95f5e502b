//! Health, crash loops and failover with stand-in gateways: a hung (SIGSTOPped) gateway is
//! restarted, a slow boot is not, an exit-78 config error parks, a cold rescue takes over and
//! hands back, hooks run with the event, a hot rescue stays.

use crate::support::*;
use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

const D: Duration = FAKE_DEADLINE;

fn events_json(fleet: &TestFleet) -> Vec<serde_json::Value> {
    let (code, out, err) = run_clawherd(&["events", "--json", "-n", "1000", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    out.lines().map(|l| serde_json::from_str(l).expect("event json")).collect()
}

fn status_of(fleet: &TestFleet, profile: &str) -> serde_json::Value {
    let (code, out, err) = run_clawherd(&["status", profile, "--json", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    v["instances"][0].clone()
}

const FAST_HEALTH: &str = "    health: {period: 200ms, timeout: 200ms, failure_threshold: 3, kill_after: 2s}\n";

/// A SIGSTOPped gateway answers nothing: detected within period × threshold (+ timeouts) and
/// restarted; the stopped tree is taken down.
#[test]
fn hung_gateway_is_detected_and_restarted() {
    let base = free_base(71);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", base).yaml(FAST_HEALTH)], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    let mark = d.mark();
    let stopped = Instant::now();
    signal(pid, 19); // SIGSTOP
    d.wait_line_from(mark, &["profile=main", "liveness probe failed 3 times"], D);
    let detected = stopped.elapsed();
    let new_pid = d.wait_ready(mark, "main", D);
    let back = stopped.elapsed();
    assert_ne!(new_pid, pid);
    assert!(!alive(pid), "the hung gateway is gone");
    eprintln!(
        "figure: SIGSTOP -> detected {:.2} s, -> ready again {:.2} s (period 200ms × 3)",
        detected.as_secs_f64(),
        back.as_secs_f64()
    );
    let events = events_json(&fleet);
    let kinds: Vec<String> = events.iter().map(|e| e["kind"].as_str().unwrap_or("").to_string()).collect();
    assert!(
        kinds.contains(&"liveness_failed".into()) && kinds.contains(&"restarting".into()),
        "{kinds:?}"
    );
    // Issue 15: clawherd's restart after failed liveness probes is `unhealthy`, not the
    // `requested` of an operator's stop or restart: in status, `status`'s table and the event.
    let main = status_of(&fleet, "main");
    assert_eq!(main["last_exit_kind"], "unhealthy", "{main}");
    let exited = events.iter().find(|e| e["kind"] == "exited").expect("an exited event");
    assert_eq!(exited["detail"]["exit_kind"], "unhealthy", "{exited}");
    assert_eq!(exited["detail"]["requested"], true, "clawherd asked it to stop: {exited}");
    let (code, table, err) = run_clawherd(&["status", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("unhealthy ("), "{table}");
}

/// A gateway that takes long to listen, within the startup grace, is never killed.
#[test]
fn slow_boot_within_grace_is_not_killed() {
    let base = free_base(73);
    let p = TestProfile::new("main", "main", base)
        .env("FAKE_LISTEN_DELAY_MS", "2500")
        .yaml("    health: {period: 200ms, timeout: 200ms, failure_threshold: 2, startup_grace: 60s}\n");
    let fleet = TestFleet::fake(&[p], "");
    let d = Daemon::start(&fleet.path);
    let spawned = d.wait_spawned(0, "main", D);
    let ready = d.wait_ready(0, "main", D);
    assert_eq!(spawned, ready, "no restart while booting");
    assert!(!d.log_text().contains("liveness probe failed"), "{}", d.log_text());
}

/// A main that takes longer to boot than `failover_after` is booting, not down: the cold
/// rescue is not started beside it (its first boot gets its `startup_grace`).
#[test]
fn slow_first_boot_of_main_does_not_start_the_cold_rescue() {
    let (a, b) = (free_base(77), free_base(79));
    let main = TestProfile::new("main", "main", a)
        .env("FAKE_LISTEN_DELAY_MS", "2000")
        .yaml("    health: {period: 200ms, timeout: 200ms, startup_grace: 60s}\n");
    let rescue = TestProfile::new("rescue", "rescue", b).yaml("    standby: cold\n    failover_after: 300ms\n    failback_after: 1s\n");
    let fleet = TestFleet::fake(&[main, rescue], "");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let log = d.log_text();
    assert!(!log.contains("FAILOVER"), "{log}");
    assert!(!log.contains("profile=rescue}: spawned"), "{log}");
    assert_eq!(status_of(&fleet, "rescue")["state"], "stopped");
}

/// A reload does not reset what the failover controller knows: main crashed after having been
/// ready, and its restart (a long boot) is still a failure after a reload that changed nothing,
/// so the cold rescue takes over after `failover_after`, not after main's 60 s `startup_grace`.
#[test]
fn a_reload_during_main_restart_keeps_the_failover_clock() {
    let (a, b) = (free_base(85), free_base(87));
    let main = TestProfile::new("main", "main", a)
        .env("FAKE_LISTEN_DELAY_MS", "8000")
        .yaml("    health: {period: 200ms, timeout: 200ms, startup_grace: 60s}\n    restart: {backoff: {initial: 0s}}\n");
    let rescue = TestProfile::new("rescue", "rescue", b).yaml("    standby: cold\n    failover_after: 1s\n    failback_after: 1s\n");
    let fleet = TestFleet::fake(&[main, rescue], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    let mark = d.mark();
    signal(pid, 9);
    d.wait_line_from(mark, &["profile=main", "exited"], D);
    let (code, out, err) = run_clawherd(&["reload", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, line) = d.wait_line_from(mark, &["FAILOVER"], D);
    assert!(line.contains("main not ready for 1s"), "{line}");
    // The failover came while main was still booting (it takes 8 s to listen).
    assert!(!d.log_text_from(mark).contains("profile=main}: ready"), "{}", d.log_text_from(mark));
    d.wait_ready(mark, "rescue", D);
}

/// Exit 78 with a configuration error parks the instance with the gateway's own line; a reload
/// with the fix brings it back.
#[test]
fn config_error_parks_until_reload() {
    let base = free_base(75);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", base).env("FAKE_EXIT_CODE", "78")], "");
    let d = Daemon::start(&fleet.path);
    d.wait_line(&["profile=main", "PARKED"], D);
    let s = status_of(&fleet, "main");
    assert_eq!(s["state"], "parked");
    assert!(s["reason"].as_str().expect("reason").contains("exiting with code 78"), "{s}");
    assert_eq!(d.log_text().matches("profile=main}: spawned").count(), 1, "parked: no retry loop");
    let text = std::fs::read_to_string(&fleet.path)
        .expect("read")
        .replace("      FAKE_EXIT_CODE: \"78\"\n", "      FIXED: \"1\"\n");
    std::fs::write(&fleet.path, text).expect("write");
    let (code, _, err) = run_clawherd(&["reload", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    d.wait_ready(0, "main", D);
}

/// A tiny HTTP endpoint that records one POST body.
fn hook_endpoint() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut reader = std::io::BufReader::new(s.try_clone().expect("clone"));
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (port, rx)
}

/// Main in a crash loop → the cold rescue is started and serves /readyz; hooks see the event;
/// main repaired (reload) and ready for failback_after → failback, the cold rescue stops.
#[test]
fn crash_loop_fails_over_to_cold_rescue_and_back() {
    let a = free_base(77);
    let b = free_base(79);
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    let hook_out = tempfile::NamedTempFile::new().expect("hook file");
    let (hook_port, posts) = hook_endpoint();
    let main = TestProfile::new("main", "main", a)
        .env("FAKE_EXIT_AFTER_MS", "100")
        .env("FAKE_EXIT_CODE", "1")
        .yaml("    restart: {crash_loop: {max_starts: 2, window: 1m, retry_every: 1s}}\n");
    let rescue = TestProfile::new("rescue", "rescue", b).yaml("    standby: cold\n    failover_after: 30s\n    failback_after: 1s\n");
    let fleet = TestFleet::fake(&[main, rescue], "");
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    let hooks = format!(
        "hooks:\n  command: [sh, -c, \"env | grep -E '^(CLAWHERD_|TMUX=|OPENAI_API_KEY=)' | grep -v JSON >> {}\"]\n  url: http://127.0.0.1:{hook_port}/hook\n",
        hook_out.path().display()
    );
    std::fs::write(&fleet.path, format!("{hooks}{text}")).expect("write");
    // The hook inherits what a gateway would (issue 15): the allowlist, not the shell's rest.
    let d = Daemon::start_with(
        &fleet.path,
        &[("TMUX", "/tmp/tmux-1/default,1,0"), ("OPENAI_API_KEY", "sk-hook")],
        &[],
    );
    // The cold rescue is not started with the fleet.
    d.wait_line(&["profile=main", "CRASH LOOP"], D);
    let (_, failover) = d.wait_line_from(0, &["FAILOVER"], D);
    assert!(failover.contains("main is in a crash loop or parked"), "{failover}");
    let rescue_pid = d.wait_ready(0, "rescue", D);
    assert_eq!(http_status(b, "/readyz"), Some(200));
    d.wait_line(&["standby ready after failover"], D);
    let body = posts.recv_timeout(D).expect("hook POST");
    let posted: serde_json::Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(posted["kind"], "failover");
    assert_eq!(posted["detail"]["standby_for"], "main");
    wait_until("the hook command ran", D, || {
        std::fs::read_to_string(hook_out.path())
            .unwrap_or_default()
            .contains("CLAWHERD_EVENT=failover")
    });
    let env = std::fs::read_to_string(hook_out.path()).expect("hook out");
    assert!(
        env.contains("CLAWHERD_STANDBY=rescue")
            && env.contains("CLAWHERD_STANDBY_FOR=main")
            && env.contains("CLAWHERD_REASON=main is in a crash loop"),
        "{env}"
    );
    assert!(env.contains("OPENAI_API_KEY=sk-hook") && !env.contains("TMUX="), "{env}");
    // Repair main and reload: main comes back, and after failback_after the rescue stops.
    let text = std::fs::read_to_string(&fleet.path)
        .expect("read")
        .replace("      FAKE_EXIT_CODE: \"1\"\n", "")
        .replace("      FAKE_EXIT_AFTER_MS: \"100\"\n", "");
    std::fs::write(&fleet.path, text).expect("write");
    let mark = d.mark();
    let (code, _, err) = run_clawherd(&["reload", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    d.wait_ready(mark, "main", D);
    d.wait_line_from(mark, &["failback"], D);
    d.wait_line_from(mark, &["profile=rescue", "exited as asked"], D);
    assert!(!alive(rescue_pid), "the cold rescue was stopped gracefully");
    let kinds: Vec<String> = events_json(&fleet)
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect();
    for k in ["crash_loop", "failover", "standby_ready", "failback"] {
        assert!(kinds.contains(&k.to_string()), "{k} missing from events: {kinds:?}");
    }
    wait_until("the failback hook ran", D, || {
        std::fs::read_to_string(hook_out.path())
            .unwrap_or_default()
            .contains("CLAWHERD_EVENT=failback")
    });
}

/// A main whose readiness is probed every 200 ms with liveness off (a SIGSTOPped main only
/// becomes unready, nothing restarts it) and a hot rescue failing over after `failover_after`
/// and back after 1 s, on two free bases from `salts`.
fn stoppable_main_and_hot_rescue(salts: (u32, u32), failover_after: &str) -> TestFleet {
    let a = free_base(salts.0);
    let b = free_base(salts.1);
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    let main =
        TestProfile::new("main", "main", a).yaml("    health: {liveness: false, period: 200ms, timeout: 200ms, failure_threshold: 1}\n");
    let rescue = TestProfile::new("rescue", "rescue", b).yaml(&format!("    failover_after: {failover_after}\n    failback_after: 1s\n"));
    TestFleet::fake(&[main, rescue], "")
}

/// Issue 15: while main is not ready, the standby's status runs the failover clock down (seconds
/// until failover), and says nothing once main is ready again.
#[test]
fn status_shows_the_failover_clock_while_main_is_not_ready() {
    let fleet = stoppable_main_and_hot_rescue((143, 145), "300s");
    let d = Daemon::start(&fleet.path);
    let main_pid = d.wait_ready(0, "main", D);
    d.wait_ready(0, "rescue", D);
    let mark = d.mark();
    signal(main_pid, 19);
    d.wait_line_from(mark, &["profile=main", "not ready any more"], D);
    // The controller reads main's state on its own task: wait until it has.
    let deadline = Instant::now() + D;
    let sb = loop {
        let sb = status_of(&fleet, "rescue")["standby"].clone();
        if !sb["failover_in_s"].is_null() || Instant::now() > deadline {
            break sb;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    signal(main_pid, 18);
    assert_eq!(sb["covers"], "main", "{sb}");
    assert_eq!(sb["mode"], "hot", "{sb}");
    assert_eq!(sb["failed_over"], false, "{sb}");
    let left = sb["failover_in_s"].as_f64().unwrap_or(-1.0);
    assert!(left > 0.0 && left <= 300.0, "{sb}");
}

/// A hot rescue runs from the start; a main not ready for `failover_after` fails over to it,
/// and it stays up (same pid) after failback.
#[test]
fn hot_rescue_takes_over_and_stays() {
    let fleet = stoppable_main_and_hot_rescue((81, 83), "1s");
    let d = Daemon::start(&fleet.path);
    let main_pid = d.wait_ready(0, "main", D);
    let rescue_pid = d.wait_ready(0, "rescue", D);
    let mark = d.mark();
    let stopped = Instant::now();
    signal(main_pid, 19);
    d.wait_line_from(mark, &["profile=main", "not ready any more"], D);
    let (_, line) = d.wait_line_from(mark, &["FAILOVER"], D);
    eprintln!(
        "figure: hot failover {:.2} s after main stopped answering (failover_after 1s)",
        stopped.elapsed().as_secs_f64()
    );
    assert!(line.contains("main not ready for 1s"), "{line}");
    signal(main_pid, 18);
    d.wait_line_from(mark, &["failback"], D);
    assert!(alive(rescue_pid), "a hot rescue stays");
    assert!(!d.log_text_from(mark).contains("profile=rescue}: exited"));
    assert!(alive(main_pid), "main was never restarted");
}
