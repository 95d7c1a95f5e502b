//! `clawherd check`, `ports` and `run` on bad fleets: located errors, exit 78, nothing started.

use crate::support::*;
use std::net::TcpListener;
use std::process::Command;

fn clawherd(args: &[&str]) -> (i32, String, String) {
    run_clawherd(args)
}

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples")
}

#[test]
fn check_of_the_example_fleet_passes_and_ports_lists_the_plan() {
    let fleet = examples().join("fleet.yaml");
    let (code, out, err) = clawherd(&["check", "--no-host-ports", fleet.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("isolation proved for 2 instance(s)"), "{out}");
    let (code, out, _) = clawherd(&["ports", fleet.to_str().expect("utf8")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("main") && out.contains("18800-18899") && out.contains("19789") && out.contains("profiles.main.port at"),
        "{out}"
    );
}

#[test]
fn run_of_a_broken_fleet_exits_78_and_spawns_nothing() {
    let base = free_base(21);
    let main = TestProfile::new("main", "main", base);
    let rescue = TestProfile::new("rescue", "rescue", base + 20);
    let fleet = TestFleet::fake(&[main, rescue], "");
    let out = Command::new(clawherd_bin())
        .args(["run", "--quiet"])
        .arg(&fleet.path)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("intersect") && err.contains(&format!("base port to {}", base + 111)),
        "{err}"
    );
    assert!(err.contains("nothing was started"), "{err}");
    assert!(marked_pids(&format!("@{}", fleet.path.display())).is_empty());
    assert!(!fleet.dir.path().join("state").exists(), "no gateway ran");
}

#[test]
fn port_bound_by_a_foreign_process_is_reported_with_its_pid() {
    let base = free_base(23);
    let listener = TcpListener::bind(("127.0.0.1", base + 2)).expect("bind");
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", base)], "");
    let (code, _, err) = clawherd(&["check", fleet.path.to_str().expect("utf8")]);
    assert_eq!(code, 78, "{err}");
    let me = std::process::id().to_string();
    assert!(
        err.contains(&format!("port {} of browser control", base + 2)) && err.contains(&format!("pid {me}")),
        "{err}"
    );
    assert!(err.contains("hint: stop that process, or set profile 'main' base port to"), "{err}");
    drop(listener);
}

#[test]
fn missing_fleet_file_is_a_config_error() {
    let (code, _, err) = clawherd(&["check", "/nonexistent/fleet.yaml"]);
    assert_eq!(code, 78);
    assert!(err.contains("/nonexistent/fleet.yaml: cannot read the fleet file"), "{err}");
}

/// A gateway started by hand on a profile's state dir (OpenClaw's state lock names it) is
/// refused before anything starts: a second gateway there would exit 78 (docs/openclaw.md, "Shared state between instances").
#[test]
fn state_dir_held_by_a_foreign_gateway_is_refused() {
    let base = free_base(25);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", base)], "");
    let state = fleet.dir.path().join("state/main");
    let other = free_base(27);
    let mut foreign = Command::new(fake_gateway_bin())
        .args(["--port", &other.to_string()])
        .env("OPENCLAW_STATE_DIR", &state)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start foreign gateway");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(foreign.stdout.as_mut().expect("stdout")), &mut first).expect("read");
    let lock = state.join(format!("tmp/openclaw-{}/gateway.state.lock", nix::unistd::geteuid()));
    wait_until("the foreign gateway's state lock", FAKE_DEADLINE, || lock.exists());
    let (code, _, err) = clawherd(&["check", fleet.path.to_str().expect("utf8")]);
    let _ = foreign.kill();
    let _ = foreign.wait();
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains(&format!("is in use by a gateway clawherd did not start: pid {}", foreign.id())),
        "{err}"
    );
    // Once it is gone, the lock is stale and ignored.
    let (code, _, err) = clawherd(&["check", fleet.path.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
}

/// `clawherd init` on a fake home with a main and a rescue profile (ports away from the
/// real-gateway tests' 18789/19789, which may run at the same time) writes a fleet that proves
/// clean; with the docs' "20 apart" ports it still writes the file but points out the clash.
#[test]
fn init_discovers_profiles_and_proves_them() {
    // Port ranges claimed from the parallel tests: the proof also checks that no planned port is
    // bound on this host, and other tests' stand-in gateways listen on free_base ranges.
    let (main, rescue) = (free_base(81), free_base(83));
    let home = tempfile::tempdir().expect("home");
    let write = |dir: &str, port: u16| {
        let d = home.path().join(dir);
        std::fs::create_dir_all(&d).expect("mkdir");
        let cfg = format!(
            "{{gateway: {{mode: \"local\", port: {port}, bind: \"loopback\"}}, logging: {{file: \"{}/gw.log\"}}}}",
            d.display()
        );
        std::fs::write(d.join("openclaw.json"), cfg).expect("write");
    };
    write(".openclaw", main);
    write(".openclaw-rescue", rescue);
    let out = tempfile::tempdir().expect("out");
    let fleet = out.path().join("fleet.yaml");
    let (code, _, err) = run_clawherd(&["init", fleet.to_str().expect("utf8"), "--home", home.path().to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("main (main), rescue (rescue)") && err.contains("isolation proved for 2"),
        "{err}"
    );
    let text = std::fs::read_to_string(&fleet).expect("fleet written");
    assert!(
        text.contains("openclaw_profile: rescue") && text.contains(&format!("port: {rescue}")),
        "{text}"
    );
    // Clash: rescue 20 above main.
    write(".openclaw-rescue", main + 20);
    let (code, proposal, err) = run_clawherd(&["init", "--stdout", "--home", home.path().to_str().expect("utf8")]);
    assert_eq!(code, 78, "{err}");
    assert!(proposal.contains(&format!("port: {}", main + 20)));
    assert!(
        err.contains("intersect") && err.contains(&format!("base port to {}", main + 111)),
        "{err}"
    );
    // Issue 15: with --stdout nothing is written, and the errors do not cite a file that is not there.
    assert!(err.contains("<stdout>:") && !err.contains("fleet.yaml:"), "{err}");
    // An existing file is not overwritten.
    let (code, _, err) = run_clawherd(&["init", fleet.to_str().expect("utf8"), "--home", home.path().to_str().expect("utf8")]);
    assert_eq!(code, 64, "{err}");
}

#[test]
fn completions_and_man_page_are_generated_from_the_cli() {
    let (code, bash, _) = run_clawherd(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(
        bash.contains("COMPLETE=\"bash\"") && bash.contains("\"clawherd\" --") && bash.contains("-F _clap_complete_clawherd clawherd"),
        "{}",
        &bash[..200.min(bash.len())]
    );
    let (code, man, _) = run_clawherd(&["man"]);
    assert_eq!(code, 0);
    assert!(
        man.contains(".TH clawherd") && man.contains("status"),
        "{}",
        &man[..200.min(man.len())]
    );
}

/// Writes `bytes` as a fleet file in a fresh folder and runs `clawherd check` on it.
fn check_bytes(bytes: &[u8]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, bytes).expect("write");
    let (code, out, err) = clawherd(&["check", "--no-host-ports", path.to_str().expect("utf8")]);
    (code, out, err.replace(&path.display().to_string(), "fleet.yaml"))
}

/// Issue 12: each of these passed `check`, then aborted the daemon (`Instant + d` overflow with
/// `panic = "abort"`: on stop, on a crash, within a second of start) or made `clawherd logs`
/// allocate about 100 GB. `check` now refuses them with their place, key and range.
#[test]
fn check_refuses_values_run_cannot_survive() {
    let text = "version: 1\nlogs: {keep: 4294967295}\nprofiles:\n  main:\n    stop_timeout: 300000000000y\n    restart: {backoff: {initial: 300000000000y}}\n  rescue:\n    failover_after: 300000000000y\n";
    let (code, _, err) = check_bytes(text.as_bytes());
    assert_eq!(code, 78, "{err}");
    for want in [
        "fleet.yaml:2:14: error: logs.keep: `4294967295` is out of range: it must be at least 0 and at most 100",
        "fleet.yaml:5:19: error: profile 'main': profiles.main.stop_timeout: `300000000000y` is out of range: it must be at least 0s and at most 1h",
        "fleet.yaml:6:34: error: profile 'main': profiles.main.restart.backoff.initial: `300000000000y` is out of range",
        "fleet.yaml:8:21: error: profile 'rescue': profiles.rescue.failover_after: `300000000000y` is out of range",
        "hint: write a value from 0s to 1day",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

/// Issue 12: a NUL byte in an env value, the command or a path passed `check`; every spawn then
/// failed.
#[test]
fn check_refuses_nul_bytes() {
    let text = "version: 1\nprofiles:\n  main:\n    env: {A: \"a\\0b\"}\n    command: [\"openclaw\\0\"]\n    state_dir: \"/tmp/s\\0\"\n";
    let (code, _, err) = check_bytes(text.as_bytes());
    assert_eq!(code, 78, "{err}");
    for want in [
        "fleet.yaml:4:14: error: profile 'main': profiles.main.env.A: the value contains a NUL byte",
        "fleet.yaml:5:14: error: profile 'main': profiles.main.command: the value contains a NUL byte",
        "fleet.yaml:6:16: error: profile 'main': profiles.main.state_dir: the value contains a NUL byte",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

/// Issue 12: a fleet file that is not UTF-8 was refused without a place; an alias's places cut
/// the parser's message at "(used"; `port: .nan` did not say what was written.
#[test]
fn check_locates_encoding_and_parser_errors() {
    let (code, _, err) = check_bytes(b"version: 1\nprofiles:\n  main:\n    state_dir: /x\xff\n");
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("fleet.yaml:4:18: error: byte 0xff is not UTF-8"), "{err}");
    let (code, _, err) = check_bytes(b"version: 1\ndefaults:\n  env: {A: &p 70000}\nprofiles:\n  main:\n    port: *p\n");
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("(defined at line 3, column 15) (used at line 6, column 11)"), "{err}");
    let (code, _, err) = check_bytes(b"version: 1\nprofiles:\n  main:\n    port: .nan\n");
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("fleet.yaml:4:11: error: invalid u16: `.nan` is not a port"), "{err}");
    assert!(err.contains("hint: a port is an integer from 1 to 65535"), "{err}");
}

/// Regression (issue 12): with another gateway live on the base port, `check` suggested base+1,
/// inside that gateway's footprint (base..=base+110). The hint now keeps clear of the whole
/// footprint of every bound port, and a holder that is another clawherd fleet's gateway is named.
#[test]
fn port_hint_avoids_a_live_gateways_footprint_and_names_its_fleet() {
    let base = free_base(37);
    let state = tempfile::tempdir().expect("state");
    let mut other = Command::new(fake_gateway_bin())
        .args(["--port", &base.to_string()])
        // A marker naming its daemon, as every gateway of a running fleet carries.
        .env("CLAWHERD_INSTANCE", "4242.123456:main@/elsewhere/fleet.yaml")
        .env("OPENCLAW_STATE_DIR", state.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the other fleet's gateway");
    wait_until("the other gateway listens", FAKE_DEADLINE, || {
        http_status(base, "/healthz").is_some()
    });
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", base)], "");
    let (code, _, err) = clawherd(&["check", fleet.path.to_str().expect("utf8")]);
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains(&format!("port {base} of gateway (HTTP, WebSocket, canvas) {base} is already bound on this host by pid {}, profile 'main' of the clawherd fleet /elsewhere/fleet.yaml", other.id())),
        "{err}"
    );
    assert!(err.contains("stop it (`clawherd stop main -f /elsewhere/fleet.yaml`)"), "{err}");
    let hint: u32 = err
        .split("base port to ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a base port hint: {err}"));
    let base = u32::from(base);
    assert!(
        hint > base + 110 || hint + 110 < base,
        "hint {hint} meets the footprint of {base}: {err}"
    );
}

/// Regression (issue 12): JSON5 reads `NaN` and `Infinity` and they reached the check as
/// `null`: "null is not a port", with no line. Now what is written, where, and which key.
#[test]
fn non_finite_gateway_port_in_a_config_is_reported_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("c1.json5"), "{\n  gateway: {\n    port: NaN, // oops\n  },\n}\n").expect("write");
    std::fs::write(dir.path().join("c2.json5"), "{gateway: {'port': -Infinity}}\n").expect("write");
    let fleet = "version: 1\nprofiles:\n  main:\n    role: main\n    state_dir: s1\n    config: c1.json5\n  rescue:\n    role: rescue\n    state_dir: s2\n    config: c2.json5\n";
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, fleet).expect("write");
    let (code, _, err) = clawherd(&["check", "--no-host-ports", path.to_str().expect("utf8")]);
    assert_eq!(code, 78, "{err}");
    let err = err.replace(&format!("{}/", dir.path().display()), "");
    for want in [
        "c1.json5:3:11: error: profile 'main': gateway.port: NaN is not a port (1-65535)",
        "c2.json5:1:20: error: profile 'rescue': gateway.port: -Infinity is not a port (1-65535)",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
    assert!(!err.contains("null"), "{err}");
}

/// Regression (issue 12): a fleet file nested 100,000 `[` deep said only "recursion limit
/// exceeded"; now where, what and how to fix it.
#[test]
fn deeply_nested_fleet_file_says_where_and_how_to_fix_it() {
    let text = format!("version: 1\nprofiles:\n  main:\n    args: {}\n", "[".repeat(100_000));
    let (code, _, err) = check_bytes(text.as_bytes());
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("fleet.yaml:4:") && err.contains("the YAML nests too deep here"),
        "{err}"
    );
    assert!(err.contains("hint: a fleet file needs a handful of levels"), "{err}");
    assert!(!err.contains("recursion limit"), "{err}");
}

/// Regression (issue 12): the `defaults.port` warning was printed once per profile.
#[test]
fn defaults_port_warning_is_said_once() {
    let text = "version: 1\ndefaults:\n  port: 18789\nprofiles:\n  main: {role: main, state_dir: /tmp/a}\n  rescue: {role: rescue, state_dir: /tmp/b}\n  ops: {state_dir: /tmp/c}\n";
    let (_, _, err) = check_bytes(text.as_bytes());
    assert_eq!(
        err.matches("`defaults.port` gives every profile the same base port").count(),
        1,
        "{err}"
    );
}

/// Issue 15: `clawherd ports -f FILE` was a clap error (exit 2) although `-f` names the fleet on
/// every client command, and usage errors exit 64 as the README says, on every subcommand.
#[test]
fn dash_f_works_everywhere_and_usage_errors_exit_64() {
    let fleet = examples().join("fleet.yaml");
    let fleet = fleet.to_str().expect("utf8");
    let (code, out, err) = clawherd(&["ports", "-f", fleet]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("18800-18899"), "{out}");
    let (code, _, err) = clawherd(&["check", "--no-host-ports", "--file", fleet]);
    assert_eq!(code, 0, "{err}");
    for args in [
        &["ports", "--bogus"][..],
        &["ports", "-f", fleet, fleet],
        &["status", "--nope"],
        &["logs", "-n", "many"],
        &["start"],
        &["restart", "--timeout", "soon", "main"],
        &["completions", "tcsh"],
        &["frobnicate"],
    ] {
        let (code, _, err) = clawherd(args);
        assert_eq!(code, 64, "{args:?}: {err}");
    }
    let (code, out, _) = clawherd(&["--help"]);
    assert_eq!(code, 0, "{out}");
}

/// Issue 15: without `-f`, `check` (like every command) finds ./fleet.yaml, then
/// `$XDG_CONFIG_HOME/clawherd/fleet.yaml`.
#[test]
fn fleet_file_is_found_without_dash_f() {
    let example = std::fs::read_to_string(examples().join("fleet.yaml")).expect("example");
    let here = tempfile::tempdir().expect("tempdir");
    std::fs::write(here.path().join("fleet.yaml"), &example).expect("write");
    let out = Command::new(clawherd_bin())
        .args(["check", "--no-host-ports"])
        .current_dir(here.path())
        .env_remove("CLAWHERD_FLEET")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("fleet.yaml: isolation proved"), "{text}");
    let config = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(config.path().join("clawherd")).expect("mkdir");
    let xdg_fleet = config.path().join("clawherd").join("fleet.yaml");
    std::fs::write(&xdg_fleet, &example).expect("write");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = Command::new(clawherd_bin())
        .args(["check", "--no-host-ports"])
        .current_dir(elsewhere.path())
        .env_remove("CLAWHERD_FLEET")
        .env("XDG_CONFIG_HOME", config.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("{}: isolation proved", xdg_fleet.display())), "{text}");
}

/// Issue 15: `logs` and `events` failed with 69 while the daemon was down, although its files
/// were on disk; now they read them and say so.
#[test]
fn logs_and_events_read_the_files_when_the_daemon_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    std::fs::create_dir_all(run.join("logs")).expect("mkdir");
    std::fs::write(run.join("logs").join("main.log"), "2026-12-01T10:00:01.000Z hello from main\n").expect("write");
    std::fs::write(
        run.join("events.jsonl"),
        "{\"ts\":\"2026-12-01T10:00:00.000Z\",\"kind\":\"spawned\",\"profile\":\"main\",\"pid\":7,\"message\":\"spawned\",\"detail\":{\"port\":18789}}\n",
    )
    .expect("write");
    let fleet = dir.path().join("fleet.yaml");
    std::fs::write(&fleet, "version: 1\nrun_dir: run\nprofiles:\n  main: {role: main, port: 18789}\n").expect("write");
    let fleet = fleet.to_str().expect("utf8");
    let (code, out, err) = clawherd(&["logs", "-f", fleet, "main"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("daemon not running; from files"), "{err}");
    assert!(out.contains("hello from main"), "{out}");
    let (code, out, err) = clawherd(&["events", "-f", fleet]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("daemon not running; from files"), "{err}");
    assert!(out.contains("spawned") && out.contains("main"), "{out}");
}
