//! The fuzz suite of the hardening issue, kept in the project so that it keeps holding: fleet
//! files (parser + validator + planner + proof) and control-API requests built from structured
//! mutations (types, ranges, nesting, anchors, unicode, huge values, special files).
//!
//! Properties:
//! - every fleet file ends in a proved fleet or in errors that each say where (file with line,
//!   or a config key), within a time bound that only a hang misses;
//! - no fleet that `check` accepts can abort the daemon: each accepted profile's restart, stop
//!   and backoff settings drive the pure state machine through crash loops and stops without a
//!   panic (the state machine is where `300000000000y` used to overflow);
//! - `clawherd check` as a process exits 0 or 78, never by a signal (a stack overflow aborts);
//! - the daemon answers hostile raw requests and stays up with its gateway supervised.
//!
//! CI runs a bounded pass (`FUZZ_CASES`, default 256 fleet files, 64 `check` runs, 300 API
//! requests). A longer pass: `FUZZ_CASES=20000 cargo nextest run --test tests -E 'test(/fuzz::/)'`.

use crate::support::*;
use clawherd::fleet::diagnostic::Severity;
use clawherd::fleet::{FleetError, LoadContext, load_str};
use clawherd::instance::state::{Event, Machine};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// Inputs per property (fleet files); `check` runs and API requests scale from it.
fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// A bound no healthy run comes near: only a hang (a FIFO read, a loop) misses it.
const HANG: Duration = Duration::from_secs(20);

/// Scalars that have broken parsers and validators: wrong types, extremes, unicode, escapes.
fn hostile_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("65536".to_string()),
        Just("4294967295".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e308".to_string()),
        Just(".nan".to_string()),
        Just(".inf".to_string()),
        Just("-.inf".to_string()),
        Just("300000000000y".to_string()),
        Just("1ms".to_string()),
        Just("0s".to_string()),
        Just("-5s".to_string()),
        Just("10s".to_string()),
        Just("\"\"".to_string()),
        Just("null".to_string()),
        Just("~".to_string()),
        Just("yes".to_string()),
        Just("\"a\\u0000b\"".to_string()),
        Just("\"%aé\"".to_string()),
        Just("\"${NOPE}\"".to_string()),
        Just("\"$${x}\"".to_string()),
        Just("\"~/x\"".to_string()),
        Just("/dev/zero".to_string()),
        Just("/dev/urandom".to_string()),
        Just("\"../../../../etc\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[1, [2, [3]]]".to_string()),
        Just("{a: {b: {c: d}}}".to_string()),
        Just("*nope".to_string()),
        Just("&a 5".to_string()),
        Just("!!binary aGk=".to_string()),
        "[a-z]{1,12}".prop_map(|s| s),
        "[\\PC]{0,20}".prop_map(|s| format!("{s:?}")),
        (1u32..70000).prop_map(|n| n.to_string()),
        (0u64..100_000).prop_map(|n| format!("{n}ms")),
        (1usize..3000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
    ]
}

/// Keys a profile (or `defaults:`) may hold, and some it may not.
fn profile_key() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "role",
        "flavor",
        "openclaw_profile",
        "port",
        "ports",
        "state_dir",
        "config",
        "workspace",
        "command",
        "args",
        "cwd",
        "stop_timeout",
        "standby",
        "standby_for",
        "failover_after",
        "failback_after",
        "restart: {policy",
        "restart: {backoff: {initial",
        "restart: {backoff: {max",
        "restart: {crash_loop: {max_starts",
        "restart: {crash_loop: {retry_every",
        "health: {period",
        "health: {timeout",
        "health: {failure_threshold",
        "health: {startup_grace",
        "health: {kill_after",
        "env: {X",
        "env: {OPENCLAW_STATE_DIR",
        "no_such_key",
    ])
}

/// One `key: value` line of a profile, closing the braces the key opened.
fn profile_line() -> impl Strategy<Value = String> {
    (profile_key(), hostile_scalar()).prop_map(|(k, v)| {
        let closing = "}".repeat(k.matches('{').count());
        format!("{k}: {v}{closing}")
    })
}

/// A fleet file: a valid skeleton (so that the generated values reach validation, planning and
/// the proof) with hostile lines in `defaults:` and in each profile, and fleet-level oddities.
fn fleet_text() -> impl Strategy<Value = String> {
    let profile = (
        "[a-z][a-z0-9_-]{0,8}",
        proptest::sample::select(vec!["main", "rescue"]),
        1024u16..60000,
        proptest::collection::vec(profile_line(), 0..4),
    );
    (
        proptest::sample::select(vec!["version: 1", "version: 2", "version: \"1\"", "", "version: [1]"]),
        proptest::collection::vec(profile_line(), 0..3),
        proptest::collection::vec(profile, 1..5),
        proptest::sample::select(vec![
            "",
            "logs: {keep: 4294967295}",
            "logs: {max_size: 1}",
            "logs: {max_size: 99999999999999999999}",
            "control: {socket: /dev/null}",
            "watch: maybe",
            "metrics: {listen: \"0.0.0.0:99999\"}",
            "hooks: {url: \"ftp://x\", timeout: 0s}",
            "run_dir: \"\\0\"",
        ]),
    )
        .prop_map(|(version, defaults, profiles, extra)| {
            let mut y = format!("{version}\n{extra}\ndefaults:\n  command: [\"/bin/true\"]\n");
            for l in defaults {
                y.push_str(&format!("  {l}\n"));
            }
            y.push_str("profiles:\n");
            for (name, role, port, lines) in profiles {
                y.push_str(&format!("  {name}:\n    role: {role}\n    port: {port}\n    state_dir: s/{name}\n"));
                for l in lines {
                    y.push_str(&format!("    {l}\n"));
                }
            }
            y
        })
}

/// Byte-level damage to a valid fleet file: cut, duplicated, spliced or invalid UTF-8.
fn damaged_example() -> impl Strategy<Value = Vec<u8>> {
    let example = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/fleet.yaml")).unwrap_or_default();
    (0usize..4000, 0usize..64, proptest::collection::vec(any::<u8>(), 0..16)).prop_map(move |(at, cut, junk)| {
        let mut bytes = example.clone();
        let at = at.min(bytes.len());
        let end = (at + cut).min(bytes.len());
        bytes.splice(at..end, junk);
        bytes
    })
}

/// Loads `text` as a fleet at `path` in a thread; None if it did not end within [`HANG`].
fn load_bounded(path: &Path, text: String) -> Option<Result<clawherd::fleet::Fleet, FleetError>> {
    let path = path.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ctx = LoadContext {
            env: [("HOME".to_string(), "/nonexistent-home".to_string())].into(),
            check_host_ports: false,
        };
        let _ = tx.send(load_str(&path, &text, &ctx));
    });
    rx.recv_timeout(HANG).ok()
}

/// The property for one fleet text: proved, or every error located.
fn judge(dir: &Path, text: String) -> Result<(), TestCaseError> {
    let path = dir.join("fleet.yaml");
    let shown = text.chars().take(2000).collect::<String>();
    match load_bounded(&path, text) {
        None => Err(TestCaseError::fail(format!("load did not end within {HANG:?}:\n{shown}"))),
        Some(Ok(fleet)) => {
            for (profile, _) in &fleet.instances {
                drive_machine(profile)?;
            }
            Ok(())
        }
        Some(Err(FleetError::Invalid(d))) => {
            prop_assert!(d.error_count() > 0, "refused without an error:\n{shown}");
            for e in d.0.iter().filter(|e| e.severity == Severity::Error) {
                // Where: a line of the fleet file, a config key, or a file of its own named.
                prop_assert!(
                    e.place.line().is_some() || e.key.is_some() || *e.place.file != *path,
                    "an error without a place: {} ({:?})\n{shown}",
                    e.message,
                    e.place
                );
            }
            Ok(())
        }
        Some(Err(e)) => Err(TestCaseError::fail(format!("not a located refusal: {e}\n{shown}"))),
    }
}

/// Drives an accepted profile's settings through the state machine: crash loops, backoffs, stop
/// escalation, in clock time far ahead. A panic here is the daemon's abort.
fn drive_machine(p: &clawherd::fleet::Profile) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    rt.block_on(async {
        let mut m = Machine::new(p.restart.clone(), p.stop_timeout, p.health.kill_after);
        let mut now = tokio::time::Instant::now();
        let exited = |code| Event::Exited {
            result: clawherd::instance::policy::ExitResult::Code(code),
            config_error: None,
            handed_back: false,
        };
        for (i, event) in [Event::Start, Event::Spawned { pid: 1 }, exited(1)]
            .into_iter()
            .cycle()
            .take(60)
            .chain([
                Event::BackoffElapsed,
                Event::Spawned { pid: 2 },
                Event::Stop,
                Event::StopTimerFired,
                Event::StopTimerFired,
            ])
            .enumerate()
        {
            let _ = m.step(event, now);
            now = clawherd::process::later(now, Duration::from_secs(i as u64 * 3600));
        }
    });
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn fuzz_fleet_files_end_proved_or_located_and_never_abort_the_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tried = std::sync::atomic::AtomicU32::new(0);
    let count = || tried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    runner(cases())
        .run(&fleet_text(), |text| {
            count();
            judge(dir.path(), text)
        })
        .expect("fleet property");
    runner(cases())
        .run(&damaged_example(), |bytes| {
            count();
            match String::from_utf8(bytes) {
                Ok(text) => judge(dir.path(), text),
                // Bytes that are not UTF-8 go through `check` as a file (the located
                // first-bad-byte error is tested in check_cli).
                Err(_) => Ok(()),
            }
        })
        .expect("damaged example property");
    eprintln!("figure: fuzz: {} fleet files, 0 aborts, 0 hangs", tried.into_inner());
}

/// `clawherd check` as a process on generated files and special files: exit 0 or 78, never a
/// signal (stack overflow, abort) and never a hang.
#[test]
fn fuzz_check_exits_0_or_78_on_generated_and_special_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "deep-yaml".into(),
            format!("version: 1\nprofiles: {}", "[".repeat(100_000)).into_bytes(),
        ),
        ("not-utf8".into(), b"version: 1\nprofiles:\n  m\xffain: {role: main}\n".to_vec()),
    ];
    let mut rng = runner(1);
    let strategy = fleet_text();
    for i in 0..(cases() / 4).max(16) {
        let tree = strategy.new_tree(&mut rng).expect("tree");
        files.push((format!("gen-{i}"), tree.current().into_bytes()));
    }
    let mut checked = 0;
    for (name, bytes) in &files {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, bytes).expect("write");
        let code = check_exit(&path);
        assert!(matches!(code, Some(0) | Some(78)), "{name}: check ended with {code:?}");
        checked += 1;
    }
    // A fleet file that is not a regular file: a FIFO nobody writes to, a character device.
    let fifo = dir.path().join("fifo.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    for special in [fifo.as_path(), Path::new("/dev/zero"), Path::new("/dev/urandom")] {
        let code = check_exit(special);
        assert!(
            matches!(code, Some(78) | Some(64)),
            "{}: check ended with {code:?}",
            special.display()
        );
        checked += 1;
    }
    eprintln!("figure: fuzz: {checked} `clawherd check` runs, every one exit 0, 64 or 78");
}

/// Runs `clawherd check --no-host-ports PATH`; its exit code, None for a signal. Fails the test
/// if it has not ended within [`HANG`].
fn check_exit(path: &Path) -> Option<i32> {
    let mut child = std::process::Command::new(clawherd_bin())
        .args(["check", "--no-host-ports"])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn check");
    let end = std::time::Instant::now() + HANG;
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s.code();
        }
        if std::time::Instant::now() > end {
            let _ = child.kill();
            panic!("`clawherd check {}` hung", path.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Raw HTTP requests a careless or hostile client sends.
fn hostile_request() -> impl Strategy<Value = Vec<u8>> {
    let path = prop_oneof![
        Just("/v1/status".to_string()),
        Just("/v1/logs".to_string()),
        Just("/v1/events".to_string()),
        Just("/v1/reload".to_string()),
        Just("/v1/instances/main/restart".to_string()),
        Just("/v1/instances/main/env".to_string()),
        Just("/metrics".to_string()),
        "/v1/instances/[\\PC]{0,12}/[a-z]{0,8}".prop_map(|s| s),
    ];
    let query = prop_oneof![
        Just(String::new()),
        Just("?timeout_s=NaN".to_string()),
        Just("?timeout_s=inf&wait=ready".to_string()),
        Just("?timeout_s=-1".to_string()),
        Just("?timeout_s=1e400".to_string()),
        Just("?profile=%a\u{e9}".to_string()),
        Just("?profile=%".to_string()),
        Just("?profile=%%%%".to_string()),
        Just("?n=18446744073709551616".to_string()),
        Just("?n=-1&since=garbage".to_string()),
        Just("?follow=maybe".to_string()),
        "\\?[\\PC]{0,40}".prop_map(|s| s),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| format!("?q={}", String::from_utf8_lossy(&b))),
    ];
    let method = proptest::sample::select(vec!["GET", "POST", "PUT", "DELETE", "BREW", "get"]);
    let follow = any::<bool>();
    (method, path, query, follow).prop_map(|(m, p, q, follow)| {
        // Never follow a stream here: the request would not end.
        let q = if follow || q.contains("follow") {
            q.replace("follow", "nofollow")
        } else {
            q
        };
        format!("{m} {p}{q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").into_bytes()
    })
}

/// The daemon answers hostile raw requests on its control socket and stays up, its gateway
/// supervised.
#[test]
fn fuzz_control_api_requests_never_take_the_daemon_down() {
    let base = free_base(131);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", base)], "");
    let mut d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", FAKE_DEADLINE);
    let socket = fleet.path.parent().expect("dir").join(".clawherd/clawherd.sock");
    let mut rng = runner(1);
    let strategy = hostile_request();
    // The requests that aborted the daemon before (hardening issue), then generated ones.
    let known: Vec<Vec<u8>> = [
        "POST /v1/instances/main/restart?timeout_s=NaN&wait=none HTTP/1.1",
        "POST /v1/instances/main/restart?timeout_s=nan&wait=none HTTP/1.1",
        "POST /v1/instances/main/restart?timeout_s=inf&wait=none HTTP/1.1",
        "GET /v1/logs?profile=%a\u{e9} HTTP/1.1",
        "GET /v1/logs?profile=%\u{e9}\u{e9} HTTP/1.1",
    ]
    .iter()
    .map(|l| format!("{l}\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").into_bytes())
    .collect();
    let n = (cases() + cases() / 6).max(64) as usize;
    let generated = (0..n).map(|_| strategy.new_tree(&mut rng).expect("tree").current());
    let requests: Vec<Vec<u8>> = known.into_iter().chain(generated).collect();
    let n = requests.len();
    for (i, request) in requests.into_iter().enumerate() {
        let mut s = std::os::unix::net::UnixStream::connect(&socket)
            .unwrap_or_else(|e| panic!("request {i}: the control socket is gone ({e}); log:\n{}", d.log_text()));
        s.set_read_timeout(Some(HANG)).expect("timeout");
        let _ = s.write_all(&request);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        // A handler that panics drops the connection without an answer: in the release build
        // (`panic = "abort"`) the same panic ends the daemon.
        assert!(
            answer.starts_with(b"HTTP/1.1 "),
            "request {i} got no HTTP answer: {:?} -> {:?}\nlog:\n{}",
            String::from_utf8_lossy(&request),
            String::from_utf8_lossy(&answer),
            d.log_text()
        );
        assert!(
            !d.log_text().contains("panicked"),
            "request {i} panicked: {:?}\nlog:\n{}",
            String::from_utf8_lossy(&request),
            d.log_text()
        );
        assert!(
            d.child.try_wait().expect("try_wait").is_none(),
            "request {i} took the daemon down: {:?}\nlog:\n{}",
            String::from_utf8_lossy(&request),
            d.log_text()
        );
    }
    let (code, out, err) = run_clawherd(&["status", "main", "--json", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(alive(pid) || d.events().iter().any(|e| e.kind() == "spawned"), "main is supervised");
    eprintln!("figure: fuzz: {n} hostile control-API requests, the daemon answered all and stayed up");
}
