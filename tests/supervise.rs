//! `clawherd run` with stand-in gateways: start, readiness, restart, crash loop, stop, leftovers.

use crate::support::*;
use std::time::Duration;

const D: Duration = FAKE_DEADLINE;

fn two(salt: u32) -> (TestProfile, TestProfile) {
    let a = free_base(salt);
    let b = free_base(salt + 1);
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    (TestProfile::new("main", "main", a), TestProfile::new("rescue", "rescue", b))
}

/// The whole tree, a worker in its own session included, is gone after SIGTERM, clawherd exits
/// 0 and leaves no zombie.
#[test]
fn sigterm_stops_every_tree_and_exits_zero() {
    let (main, rescue) = two(1);
    let (mp, rp) = (main.port, rescue.port);
    let fleet = TestFleet::fake(&[main.env("FAKE_SPAWN_WORKER", "1"), rescue.env("FAKE_READY_DELAY_MS", "300")], "");
    let mut d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    d.wait_ready(0, "rescue", D);
    assert_eq!(http_status(mp, "/readyz"), Some(200));
    assert_eq!(http_status(rp, "/readyz"), Some(200));
    let worker_pids = marked_pids(&fleet.marker("main"));
    assert!(worker_pids.len() >= 2, "gateway and its worker carry the marker: {worker_pids:?}");
    d.signal(15);
    let status = d.wait_exit(D);
    assert_eq!(status.code(), Some(0), "log:\n{}", d.log_text());
    assert!(
        marked_pids(&format!("@{}", fleet.path.display())).is_empty(),
        "leftovers after stop"
    );
    d.wait_line(&["all instances stopped"], D);
}

/// SIGKILL of one gateway restarts only that one; the other keeps its pid.
#[test]
fn sigkill_restarts_only_that_instance() {
    let (main, rescue) = two(3);
    let mp = main.port;
    let fleet = TestFleet::fake(&[main.env("FAKE_SPAWN_WORKER", "1"), rescue], "");
    let d = Daemon::start(&fleet.path);
    let main_pid = d.wait_ready(0, "main", D);
    let rescue_pid = d.wait_ready(0, "rescue", D);
    let mark = d.mark();
    signal(main_pid, 9);
    d.wait_line_from(mark, &["profile=main", "exited unexpectedly", "SIGKILL"], D);
    let new_pid = d.wait_ready(mark, "main", D);
    assert_ne!(new_pid, main_pid);
    assert_eq!(http_status(mp, "/readyz"), Some(200));
    assert!(alive(rescue_pid), "rescue untouched");
    assert!(!d.log_text()[..].contains("profile=rescue}: spawned pid") || d.log_text().matches("profile=rescue}: spawned").count() == 1);
    // The old worker (own session) was taken down, and nothing is left as a zombie.
    assert_eq!(marked_pids(&fleet.marker("main")).len(), 2, "new gateway + new worker only");
    wait_until("no zombie children of clawherd", D, || zombies_of(d.child.id() as i32).is_empty());
}

/// Exit 0 not asked for is OpenClaw's restart hand-back: restarted at once under `always`.
#[test]
fn exit_zero_handback_is_restarted() {
    let (main, _) = two(5);
    let fleet = TestFleet::fake(&[main], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    let mark = d.mark();
    signal(pid, 12); // SIGUSR2: the stand-in hands back like OpenClaw under external supervision
    d.wait_line_from(mark, &["profile=main", "exited unexpectedly", "exit 0"], D);
    d.wait_line_from(mark, &["profile=main", "restart scheduled", "delay_ms=0"], D);
    assert_ne!(d.wait_ready(mark, "main", D), pid);
}

/// Judging an exit (here OpenClaw's restart hand-off CLI, held open by a gate) runs beside the
/// actor's controls: `stop --no-wait` is applied at once and status shows `stopping`; once the
/// judgement ends, the requested stop wins over the hand-back. Before, the actor awaited the
/// ~5 s CLI inline and every control and status change waited behind it.
#[test]
fn controls_are_applied_while_an_exit_is_judged() {
    let (main, _) = two(103);
    let gate = tempfile::tempdir().expect("tempdir");
    let gate_file = gate.path().join("open");
    let main = main.env("FAKE_CONSUME_GATE", &gate_file.to_string_lossy()).yaml(&format!(
        "    command: [\"{}\", \"gateway\", \"run\"]\n    restart: {{policy: on-failure}}\n",
        fake_gateway_bin()
    ));
    let fleet = TestFleet::fake(&[main], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    let mark = d.mark();
    signal(pid, 12); // SIGUSR2: the stand-in writes its handoff and exits 0
    d.wait_line_from(mark, &["profile=main", "asking OpenClaw whether it was a restart hand-back"], D);
    let path = fleet.path.to_string_lossy().into_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_clawherd(&["stop", "main", "--no-wait", "-f", &path]));
    });
    let (code, out, err) = rx.recv_timeout(D).expect("stop --no-wait answered while the exit is judged");
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = run_clawherd(&["status", "main", "--json", "-f", &fleet.path.to_string_lossy()]);
    let state = |out: &str| {
        serde_json::from_str::<serde_json::Value>(out)
            .ok()
            .map(|v| v["instances"][0]["state"].clone())
    };
    assert_eq!(state(&out), Some(serde_json::json!("stopping")), "{out}");
    std::fs::write(&gate_file, "").expect("open the gate");
    let exited = d.wait_event(mark, "exited", "main", D);
    assert_eq!(exited.pid, Some(pid));
    wait_until("main stopped, not restarted", D, || {
        let (_, out, _) = run_clawherd(&["status", "main", "--json", "-f", &fleet.path.to_string_lossy()]);
        state(&out) == Some(serde_json::json!("stopped"))
    });
    assert!(
        !d.events()[mark.events..].iter().any(|e| e.kind() == "spawned"),
        "a requested stop wins over the hand-back"
    );
}

/// Under `on-failure`, an exit 0 is a stop unless OpenClaw's restart-handoff CLI confirms the
/// gateway asked for a restart (docs/openclaw.md, "Lifecycle"): main hands back (SIGUSR2) and is restarted at once;
/// rescue exits 0 on its own and stays stopped.
#[test]
fn on_failure_follows_the_restart_handoff_contract() {
    let (main, rescue) = two(101);
    let on_failure = format!(
        "    command: [\"{}\", \"gateway\", \"run\"]\n    restart: {{policy: on-failure}}\n",
        fake_gateway_bin()
    );
    let main = main.yaml(&on_failure);
    let rescue = rescue
        .env("FAKE_EXIT_AFTER_MS", "1500")
        .env("FAKE_EXIT_CODE", "0")
        .yaml(&on_failure);
    let fleet = TestFleet::fake(&[main, rescue], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    let mark = d.mark();
    signal(pid, 12); // SIGUSR2: the stand-in writes its handoff and exits 0
    d.wait_line_from(mark, &["profile=main", "handed a restart back", "reason=\"sigusr2\""], D);
    d.wait_line_from(mark, &["profile=main", "restart scheduled", "delay_ms=0"], D);
    assert_ne!(d.wait_ready(mark, "main", D), pid);
    d.wait_line_from(0, &["profile=rescue", "not a restart hand-back", "status=\"none\""], D);
    wait_until("rescue stays stopped", D, || {
        let (_, out, _) = run_clawherd(&["status", "rescue", "--json", "-f", &fleet.path.to_string_lossy()]);
        out.contains("\"state\":\"stopped\"")
    });
    let (_, events, _) = run_clawherd(&["events", "--json", "-n", "100", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(events.matches("\"restart_handoff\"").count(), 1, "{events}");
}

/// A gateway that keeps crashing enters a loud crash loop after `max_starts`, and keeps retrying
/// at the slow cadence instead of giving up for good; the other instance is not disturbed.
#[test]
fn crash_loop_is_loud_keeps_retrying_slowly_and_disturbs_nobody() {
    let (main, rescue) = two(7);
    let main = main
        .env("FAKE_EXIT_AFTER_MS", "50")
        .env("FAKE_EXIT_CODE", "3")
        .yaml("    restart: {crash_loop: {max_starts: 3, window: 1m, retry_every: 1s}}\n");
    let fleet = TestFleet::fake(&[main, rescue], "");
    let d = Daemon::start(&fleet.path);
    let rescue_pid = d.wait_ready(0, "rescue", D);
    let (at, line) = d.wait_line_from(0, &["profile=main", "CRASH LOOP"], D);
    assert!(line.contains("3 starts within 1m") && line.contains("retrying every 1s"), "{line}");
    assert!(line.contains("ERROR"), "loud: {line}");
    assert_eq!(d.log_text().matches("profile=main}: spawned").count(), 3);
    assert!(d.log_text().contains("result=exit 3"));
    // The slow cadence: one more attempt comes, it does not give up.
    d.wait_line_from(at + 1, &["profile=main}: spawned"], D);
    assert!(alive(rescue_pid));
    assert_eq!(d.log_text().matches("profile=rescue}: spawned").count(), 1);
}

/// A gateway ignoring SIGTERM is SIGKILLed with its whole tree after the stop timeout.
#[test]
fn stop_timeout_escalates_to_sigkill() {
    let (main, _) = two(9);
    let main = main
        .env("FAKE_IGNORE_SIGTERM", "1")
        .env("FAKE_SPAWN_WORKER", "1")
        .yaml("    stop_timeout: 1s\n");
    let fleet = TestFleet::fake(&[main], "");
    let mut d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    d.signal(2); // SIGINT
    d.wait_line(&["stop timeout reached", "SIGKILL"], D);
    assert_eq!(d.wait_exit(D).code(), Some(0));
    assert!(marked_pids(&format!("@{}", fleet.path.display())).is_empty());
}

/// After clawherd is SIGKILLed its gateways live on (own process groups); the next clawherd
/// finds them by marker, takes them down and says which, before starting new ones.
#[test]
fn leftovers_of_a_killed_clawherd_are_taken_down() {
    let (main, rescue) = two(11);
    let fleet = TestFleet::fake(&[main.env("FAKE_SPAWN_WORKER", "1"), rescue], "");
    let mut first = Daemon::start(&fleet.path);
    let old_main = first.wait_ready(0, "main", D);
    let old_rescue = first.wait_ready(0, "rescue", D);
    first.signal(9);
    first.wait_exit(D);
    let old = marked_pids(&format!("@{}", fleet.path.display()));
    assert!(
        old.contains(&old_main) && old.contains(&old_rescue),
        "gateways outlive a SIGKILLed clawherd: {old:?}"
    );
    std::mem::forget(first); // its Drop would clean up what the second clawherd must find
    let second = Daemon::start(&fleet.path);
    let line = second.wait_line(&["found leftovers", &format!("main@{}", fleet.path.display())], D);
    assert!(line.contains(&old_main.to_string()), "{line}");
    second.wait_ready(0, "main", D);
    second.wait_ready(0, "rescue", D);
    for pid in old {
        assert!(!alive(pid), "leftover {pid} still alive");
    }
}

/// The variables of process `pid`'s environment, as `NAME=value` strings.
fn environ_of(pid: i32) -> Vec<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

/// The gateway gets the spawn recipe's environment: explicit paths and port, external
/// supervision, none of clawherd's systemd hints, and of the operator's shell only the
/// allowlist (issue 15: `TMUX`, `OLDPWD` stayed in every gateway); `env_inherit: all` opts out.
#[test]
fn child_environment_is_scrubbed_and_explicit() {
    let (main, rescue) = two(13);
    let fleet = TestFleet::fake(&[main.env("EXTRA", "yes"), rescue.yaml("    env_inherit: all\n")], "");
    let d = Daemon::start_with(
        &fleet.path,
        &[
            ("INVOCATION_ID", "x"),
            ("JOURNAL_STREAM", "8:9"),
            ("NOTIFY_SOCKET", "/run/n"),
            ("NODE_COMPILE_CACHE", "/tmp/c"),
            ("OPENCLAW_PROFILE", "oops"),
            ("CLAWDBOT_STATE_DIR", "/x"),
            ("TMUX", "/tmp/tmux-1000/default,1,0"),
            ("OLDPWD", "/somewhere"),
            ("OPENAI_API_KEY", "sk-test"),
            ("LC_TIME", "C.UTF-8"),
            ("HTTPS_PROXY", "http://proxy:3128"),
        ],
        &[],
    );
    let pid = d.wait_ready(0, "main", D);
    let vars = environ_of(pid);
    let has = |kv: &str| vars.iter().any(|v| v == kv);
    let has_key = |k: &str| vars.iter().any(|v| v.starts_with(&format!("{k}=")));
    for k in ["TMUX", "OLDPWD"] {
        assert!(!has_key(k), "{k} of the operator's shell reached the gateway: {vars:?}");
    }
    for kv in ["OPENAI_API_KEY=sk-test", "LC_TIME=C.UTF-8", "HTTPS_PROXY=http://proxy:3128"] {
        assert!(has(kv), "{kv} is on the allowlist: {vars:?}");
    }
    assert!(has_key("PATH") && has_key("HOME"), "{vars:?}");
    let all = environ_of(d.wait_ready(0, "rescue", D));
    let all_has_key = |k: &str| all.iter().any(|v| v.starts_with(&format!("{k}=")));
    assert!(
        all_has_key("TMUX") && all_has_key("OLDPWD"),
        "env_inherit: all passes everything: {all:?}"
    );
    assert!(
        !all_has_key("INVOCATION_ID") && !all.iter().any(|v| v == "OPENCLAW_PROFILE=oops"),
        "{all:?}"
    );
    let state = fleet.dir.path().join("state/main");
    assert!(has(&format!("OPENCLAW_STATE_DIR={}", state.display())), "{vars:?}");
    assert!(has(&format!(
        "OPENCLAW_CONFIG_PATH={}",
        fleet.dir.path().join("main.json5").display()
    )));
    assert!(has("OPENCLAW_SUPERVISOR_MODE=external") && has("NO_COLOR=1") && has("EXTRA=yes"));
    assert!(has("OPENCLAW_PROFILE=main"), "the named OpenClaw profile, not the inherited one");
    for k in [
        "INVOCATION_ID",
        "JOURNAL_STREAM",
        "NOTIFY_SOCKET",
        "NODE_COMPILE_CACHE",
        "CLAWDBOT_STATE_DIR",
    ] {
        assert!(!has_key(k), "{k} leaked into the gateway: {vars:?}");
    }
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd");
    assert_eq!(cwd, state.canonicalize().expect("state exists"));
    let pgid = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let pgid: i32 = pgid
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .expect("pgid");
    assert_eq!(pgid, pid, "the gateway leads its own process group");
}

/// The clawdbot flavor gets CLAWDBOT_* variables and CLAWDBOT_NO_RESPAWN=1.
#[test]
fn clawdbot_flavor_gets_clawdbot_env() {
    let (main, _) = two(15);
    let fleet = TestFleet::fake(&[main.yaml("    flavor: clawdbot\n")], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    let environ = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).expect("environ")).into_owned();
    assert!(environ.contains(&format!("CLAWDBOT_STATE_DIR={}", fleet.dir.path().join("state/main").display())));
    assert!(!environ.contains("OPENCLAW_STATE_DIR="));
    // Issue 13: no respawned wrapper between clawherd and the gateway; no variable clawdbot never reads.
    assert!(environ.contains("CLAWDBOT_NO_RESPAWN=1"));
    assert!(!environ.contains("CLAWDBOT_WORKSPACE_DIR="));
    // The stand-in locks and writes its pid file in the state dir it was given.
    assert!(fleet.dir.path().join("state/main/fake-gateway.pid").exists());
}

/// The `probe` field of `profile`'s row in `status --json`.
fn probe_of(fleet: &TestFleet, profile: &str) -> String {
    let (_, out, _) = run_clawherd(&["status", profile, "--json", "-f", &fleet.path.to_string_lossy()]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("status JSON");
    v["instances"][0]["probe"].as_str().unwrap_or_default().to_string()
}

/// Issue 13: a clawdbot gateway is judged ready by its own `health` call, authenticated with the
/// token the gateway reads; when clawherd cannot find the gateway's secret, or the gateway refuses
/// the one it has, readiness falls back to the `connect.challenge` check, said once in the log
/// and in `status`, never restarted for it.
#[test]
fn clawdbot_is_ready_by_its_health_call_or_says_why_not() {
    let (main, _) = two(23);
    // The token in the profile's env: the health call.
    let m = main.clone().yaml("    flavor: clawdbot\n").env("CLAWDBOT_GATEWAY_TOKEN", "s3cret");
    let fleet = TestFleet::fake(&[m], "");
    let mut d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    assert_eq!(probe_of(&fleet, "main"), "health");
    assert!(!d.log_text().contains("probing the clawdbot gateway by its connect.challenge"));
    d.signal(15);
    d.wait_exit(D);
    assert!(!alive(pid));

    // The gateway has a token clawherd cannot know (a .env file): refused once, then the challenge.
    let m = main.clone().yaml("    flavor: clawdbot\n").env("FAKE_DOTENV_TOKEN", "hidden");
    let fleet = TestFleet::fake(&[m], "");
    let mut d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    let probe = probe_of(&fleet, "main");
    assert!(
        probe.starts_with("challenge (the gateway refused clawherd's connect (unauthorized: gateway token mismatch)"),
        "{probe}"
    );
    assert!(probe.contains("CLAWDBOT_GATEWAY_TOKEN"), "the fix is named: {probe}");
    assert_eq!(
        d.log_text()
            .matches("probing the clawdbot gateway by its connect.challenge")
            .count(),
        1
    );
    assert_eq!(d.events().iter().filter(|e| e.kind() == "spawned").count(), 1, "no restart for it");
    d.signal(15);
    d.wait_exit(D);
    assert!(!alive(pid));

    // The config sets auth mode token, the token is elsewhere: no connect at all, the challenge.
    let m = main.yaml("    flavor: clawdbot\n").env("FAKE_DOTENV_TOKEN", "hidden");
    let fleet = TestFleet::fake(&[m], "");
    std::fs::write(fleet.dir.path().join("main.json5"), "{gateway: {auth: {mode: \"token\"}}}\n").expect("config");
    let mut d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let probe = probe_of(&fleet, "main");
    assert!(
        probe.starts_with("challenge (gateway auth mode is token but clawherd finds no token"),
        "{probe}"
    );
    d.signal(15);
    d.wait_exit(D);
}

/// A gateway that never becomes ready stays `starting` and is not restarted.
#[test]
fn slow_boot_is_not_punished() {
    let (main, _) = two(17);
    let fleet = TestFleet::fake(&[main.env("FAKE_READY_DELAY_MS", "1500")], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_spawned(0, "main", D);
    let ready_pid = d.wait_ready(0, "main", D);
    assert_eq!(pid, ready_pid);
    let line = d.wait_line(&["profile=main", ": ready "], D);
    let after: f64 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("after_s="))
        .and_then(|v| v.parse().ok())
        .expect("after_s");
    assert!(after >= 1.5, "ready is only seen once /readyz says so: {after}");
}

/// `flavor: process` runs any program: ready once spawned (no probe), its declared ports are
/// proved against the gateways', and its tree is stopped like a gateway's.
#[test]
fn plain_process_flavor_is_supervised_and_its_ports_are_proved() {
    let (main, _) = two(19);
    let base = main.port;
    let sidecar = format!(
        "  tunnel:\n    role: rescue\n    flavor: process\n    command: [sleep, \"600\"]\n    args: []\n    ports: [{}]\n",
        base + 50
    );
    let mut fleet = TestFleet::fake(std::slice::from_ref(&main), "");
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    std::fs::write(&fleet.path, format!("{text}{sidecar}")).expect("write");
    let out = std::process::Command::new(clawherd_bin())
        .args(["check", "--no-host-ports"])
        .arg(&fleet.path)
        .output()
        .expect("check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains(&format!(
            "declared port {} lies in profile 'main''s managed Chrome CDP range",
            base + 50
        )),
        "{err}"
    );
    fleet = TestFleet::fake(&[main], "");
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    std::fs::write(
        &fleet.path,
        format!(
            "{text}{}",
            sidecar.replace(&format!("ports: [{}]", base + 50), &format!("ports: [{}]", base + 150))
        ),
    )
    .expect("write");
    let mut d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "tunnel", D);
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).expect("cmdline");
    assert_eq!(cmdline, "sleep\u{0}600\u{0}", "the command exactly as written, no --port");
    d.signal(15);
    assert_eq!(d.wait_exit(D).code(), Some(0));
    assert!(!alive(pid));
}

/// A gateway flooding its output (`yes`: its pipe is always readable; its actor reads it in its
/// own loop, not in a task of its own) starves nothing of its actor: it becomes ready (the probe
/// branch), a restart of it is applied and answered, status is answered, its lines reach its
/// log file, and SIGTERM stops it.
#[test]
fn a_flooding_gateway_does_not_starve_its_actor() {
    let (main, _) = two(109);
    let fleet = TestFleet::fake(&[main], "");
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    let flood = "  flood:\n    role: rescue\n    flavor: process\n    command: [yes, \"flood line\"]\n    args: []\n";
    std::fs::write(&fleet.path, format!("{text}{flood}")).expect("write");
    let mut d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "flood", D);
    d.wait_ready(0, "main", D);
    let log = fleet.dir.path().join(".clawherd/logs/flood.log");
    wait_until("the flood's lines in its log file", D, || {
        std::fs::read_to_string(&log).unwrap_or_default().contains(" flood line\n")
    });
    let mark = d.mark();
    let path = fleet.path.to_string_lossy().into_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_clawherd(&["restart", "flood", "-f", &path]));
    });
    let (code, out, err) = rx.recv_timeout(D).expect("restart answered while the gateway floods");
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(d.wait_ready(mark, "flood", D), pid, "restarted");
    let (code, out, err) = run_clawherd(&["status", "flood", "--json", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{out}{err}");
    d.signal(15);
    assert_eq!(d.wait_exit(D).code(), Some(0), "log:\n{}", d.log_text());
    assert!(
        marked_pids(&format!("@{}", fleet.path.display())).is_empty(),
        "leftovers after stop"
    );
}

/// Regression: a daemon whose stderr reader went away (a closed pipe, e.g. the terminal or the
/// test harness that started it died) must still shut down cleanly on SIGTERM, not panic on
/// its next log line and leave its gateways behind.
#[test]
fn closed_stderr_does_not_kill_the_daemon() {
    let (main, _) = two(21);
    let fleet = TestFleet::fake(&[main.env("FAKE_SPAWN_WORKER", "1")], "");
    let mut child = std::process::Command::new(clawherd_bin())
        .args(["run", "--quiet"])
        .arg(&fleet.path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let events = fleet.dir.path().join(".clawherd/events.jsonl");
    wait_until("main ready", D, || {
        std::fs::read_to_string(&events).unwrap_or_default().contains("\"kind\":\"ready\"")
    });
    drop(child.stderr.take());
    signal(child.id() as i32, 15);
    let end = std::time::Instant::now() + D;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(std::time::Instant::now() < end, "clawherd did not exit");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let left = marked_pids(&format!("@{}", fleet.path.display()));
    for pid in &left {
        signal(*pid, 9);
    }
    assert_eq!(status.code(), Some(0), "clawherd panicked on a closed stderr");
    assert!(left.is_empty(), "gateways left behind: {left:?}");
}

/// A burst of spawns larger than the CPU count runs on the blocking pool (one per CPU at a
/// time): every instance of a 24-process fleet gets a leader of its own, a SIGKILLed one is
/// reaped and restarted like any other, and SIGTERM leaves neither process nor zombie.
#[test]
fn a_large_fleet_spawns_in_parallel_and_every_leader_is_supervised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut y = String::from("version: 1\ndefaults:\n  restart: {backoff: {initial: 0s}}\nprofiles:\n");
    for i in 0..24 {
        let role = if i == 0 { "main" } else { "rescue" };
        y.push_str(&format!(
            "  p{i:02}:\n    role: {role}\n    flavor: process\n    command: [sleep, \"600\"]\n"
        ));
    }
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, y).expect("write fleet");
    let mut d = Daemon::start(&path);
    let pids: Vec<i32> = (0..24).map(|i| d.wait_ready(0, &format!("p{i:02}"), D)).collect();
    let mut unique = pids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 24, "one leader each: {pids:?}");
    let clawherd = d.child.id() as i32;
    for &pid in &pids {
        assert_eq!(
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .expect("stat")
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1).map(str::to_string)),
            Some(clawherd.to_string()),
            "{pid} is clawherd's child"
        );
    }
    // Kill three at once: each is reaped by its own actor (not as an orphan) and restarted.
    let mark = d.mark();
    for &pid in &pids[5..8] {
        signal(pid, 9);
    }
    for (i, &old) in pids.iter().enumerate().take(8).skip(5) {
        let new = d.wait_ready(mark, &format!("p{i:02}"), D);
        assert_ne!(new, old);
    }
    // Each exit reached its own actor with its real status (a leader reaped as an orphan
    // would leave tokio without it).
    let log = d.log_text_from(mark);
    for i in 5..8 {
        let who = format!("profile=p{i:02}}}");
        assert!(
            log.lines()
                .any(|l| l.contains(&who) && l.contains("exited") && l.contains("SIGKILL")),
            "{who} exit by SIGKILL not reported:\n{log}"
        );
    }
    assert!(zombies_of(clawherd).is_empty());
    d.signal(15);
    assert_eq!(d.wait_exit(D).code(), Some(0));
    for &pid in &pids {
        assert!(!alive(pid));
    }
    assert!(marked_pids(&format!("@{}", path.display())).is_empty());
}

/// One fleet, one daemon (issue 12): with `run_dir` and `control.socket` edited under a running
/// daemon (they apply at its next start), a second `run` of the same file is refused with 69,
/// naming the first daemon's pid and socket, and leaves its gateways alone. Clients still
/// reach the first daemon through its registry record, even when the file is broken (then
/// `reload` gets the daemon's verdict, 78) or gone.
#[test]
fn a_second_run_of_an_edited_fleet_is_refused_and_clients_still_reach_the_first() {
    let (main, rescue) = two(29);
    let fleet = TestFleet::fake(&[main, rescue], "");
    let first = Daemon::start(&fleet.path);
    let main_pid = first.wait_ready(0, "main", D);
    let rescue_pid = first.wait_ready(0, "rescue", D);
    let text = std::fs::read_to_string(&fleet.path).expect("read fleet");
    std::fs::write(
        &fleet.path,
        format!("run_dir: elsewhere\ncontrol:\n  socket: elsewhere/other.sock\n{text}"),
    )
    .expect("edit fleet");
    let mut second = Daemon::start(&fleet.path);
    let status = second.wait_exit(Duration::from_secs(30));
    let err = second.log_text();
    assert_eq!(status.code(), Some(69), "{err}");
    let socket = fleet.dir.path().join(".clawherd/clawherd.sock");
    assert!(
        err.contains(&format!("pid {}", first.child.id())) && err.contains(&socket.display().to_string()),
        "names the first daemon's pid and socket: {err}"
    );
    assert!(alive(main_pid) && alive(rescue_pid), "the first daemon's gateways live on");
    let f = fleet.path.to_string_lossy().into_owned();
    let (code, out, err) = run_clawherd(&["status", "-f", &f]);
    assert_eq!(code, 0, "status finds the running daemon through its record: {err}");
    assert!(out.contains(&main_pid.to_string()), "{out}");
    std::fs::write(&fleet.path, "version: [\n").expect("break fleet");
    let (code, _, err) = run_clawherd(&["reload", "-f", &f]);
    assert_eq!(code, 78, "the daemon's verdict on a broken file: {err}");
    std::fs::remove_file(&fleet.path).expect("remove fleet");
    let (code, out, err) = run_clawherd(&["status", "-f", &f]);
    assert_eq!(code, 0, "a removed fleet file still leads to its daemon: {err}");
    assert!(out.contains(&rescue_pid.to_string()), "{out}");
    assert!(alive(main_pid) && alive(rescue_pid));
}

/// Leftovers of a SIGKILLed clawherd that ignore SIGTERM are taken down together, in one grace
/// (10 s) rather than one per instance, and the new daemon answers `status` meanwhile.
#[test]
fn leftovers_are_taken_down_together_while_status_is_answered() {
    let (main, rescue) = two(31);
    let fleet = TestFleet::fake(&[main.env("FAKE_IGNORE_SIGTERM", "1"), rescue.env("FAKE_IGNORE_SIGTERM", "1")], "");
    let mut first = Daemon::start(&fleet.path);
    let old_main = first.wait_ready(0, "main", D);
    let old_rescue = first.wait_ready(0, "rescue", D);
    first.signal(9);
    first.wait_exit(D);
    std::mem::forget(first); // its Drop would clean up what the second clawherd must find
    let started = std::time::Instant::now();
    let second = Daemon::start(&fleet.path);
    second.wait_line(&["found leftovers"], D);
    let asked = std::time::Instant::now();
    let (code, _, err) = run_clawherd(&["status", "--json", "-f", &fleet.path.to_string_lossy()]);
    let waited = asked.elapsed();
    assert_eq!(code, 0, "{err}");
    assert!(
        alive(old_main) || alive(old_rescue),
        "status was answered before the leftovers were gone"
    );
    assert!(waited < Duration::from_secs(5), "status waited {waited:?} for the leftovers");
    second.wait_line(&["leftovers gone"], D);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(18),
        "two leftovers ignoring SIGTERM took {took:?}: one 10 s grace each?"
    );
    assert!(!alive(old_main) && !alive(old_rescue));
    second.wait_ready(0, "main", D);
    second.wait_ready(0, "rescue", D);
}

/// Gateway output and events are the owner's only: run_dir and logs/ 0700, files 0600.
#[test]
fn run_dir_logs_and_events_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (main, _) = two(33);
    let fleet = TestFleet::fake(&[main], "");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let run = fleet.dir.path().join(".clawherd");
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    wait_until("main.log and events.jsonl written", D, || {
        run.join("logs/main.log").exists() && run.join("events.jsonl").exists()
    });
    assert_eq!(mode(&run), 0o700);
    assert_eq!(mode(&run.join("logs")), 0o700);
    assert_eq!(mode(&run.join("logs/main.log")), 0o600);
    assert_eq!(mode(&run.join("events.jsonl")), 0o600);
}

/// The daemon runs in-process through the library, as mini-redis's `server::run`:
/// `daemon::run(fleet, listener, options, shutdown)` serves the fleet until its shutdown future
/// resolves (here a oneshot), then every gateway is gone and the socket removed.
#[test]
fn the_daemon_runs_in_process_until_its_shutdown_future() {
    let (main, _) = two(107);
    let fleet = TestFleet::fake(&[main], "");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let ctx = clawherd::fleet::LoadContext {
            env: std::env::vars().collect(),
            check_host_ports: false,
        };
        let loaded = clawherd::fleet::load(&fleet.path, &ctx).expect("the fleet proves");
        let socket = loaded.settings.socket.clone();
        let listener = clawherd::control::server::bind(&socket, None).await.expect("bind");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let daemon = clawherd::daemon::run(loaded, listener, clawherd::daemon::Options { quiet: true }, async {
            let _ = stopped.await;
        });
        let path = fleet.path.to_string_lossy().into_owned();
        let operator = async move {
            // The CLI, as a user would run it, from a blocking thread beside the daemon.
            let pid = tokio::task::spawn_blocking(move || {
                let end = std::time::Instant::now() + FAKE_DEADLINE;
                loop {
                    let (code, out, _) = run_clawherd(&["status", "main", "--json", "-f", &path]);
                    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
                    if code == 0 && v["instances"][0]["state"] == "ready" {
                        break v["instances"][0]["pid"].as_i64().expect("pid") as i32;
                    }
                    assert!(std::time::Instant::now() < end, "main not ready in-process: {out}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
            .await
            .expect("status thread");
            let _ = stop.send(());
            pid
        };
        let (result, pid) = tokio::join!(daemon, operator);
        result.expect("the daemon ran and stopped cleanly");
        assert!(!alive(pid), "the gateway is gone after the shutdown future resolved");
        assert!(!socket.exists(), "the socket is removed");
    });
    assert!(marked_pids(&format!("@{}", fleet.path.display())).is_empty());
}

/// clawherd's own lines about an instance carry `run{profile=NAME}: ` exactly, as operators
/// and the journal read them: the actor's span is made afresh for each poll (not held while
/// it waits), and lines written in later polls (ready after a probe round, the exit after a
/// kill, the respawn) carry it as the first one does.
#[test]
fn own_log_lines_carry_the_profile_span() {
    let (main, rescue) = two(613);
    let fleet = TestFleet::fake(&[main, rescue.env("FAKE_READY_DELAY_MS", "300")], "");
    let mut d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    d.wait_ready(0, "rescue", D);
    for (profile, what) in [("main", "spawned"), ("main", "ready"), ("rescue", "spawned"), ("rescue", "ready")] {
        let line = d.wait_line(&[&format!(" run{{profile={profile}}}: {what} ")], D);
        assert_eq!(line.matches("run{").count(), 1, "one span, no nesting: {line}");
    }
    let mark = d.mark();
    signal(pid, 9);
    d.wait_ready(mark, "main", D);
    d.wait_line_from(mark, &[" run{profile=main}: exited unexpectedly "], D);
    d.wait_line_from(mark, &[" run{profile=main}: spawned "], D);
    d.signal(15);
    assert_eq!(d.wait_exit(D).code(), Some(0));
}
