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
/// refused before anything starts: a second gateway there would exit 78 (facts §6).
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
    // An existing file is not overwritten.
    let (code, _, err) = run_clawherd(&["init", fleet.to_str().expect("utf8"), "--home", home.path().to_str().expect("utf8")]);
    assert_eq!(code, 64, "{err}");
}

#[test]
fn completions_and_man_page_are_generated_from_the_cli() {
    let (code, bash, _) = run_clawherd(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(
        bash.contains("clawherd") && bash.contains("restart") && bash.contains("complete -F"),
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

/// Regression (issue 12): with another gateway live on the base port, `check` suggested base+1,
/// inside that gateway's footprint (base..=base+110). The hint now keeps clear of the whole
/// footprint of every bound port, and a holder that is another clawherd fleet's gateway is named.
#[test]
fn port_hint_avoids_a_live_gateways_footprint_and_names_its_fleet() {
    let base = free_base(37);
    let state = tempfile::tempdir().expect("state");
    let mut other = Command::new(fake_gateway_bin())
        .args(["--port", &base.to_string()])
        .env("CLAWHERD_INSTANCE", "main@/elsewhere/fleet.yaml")
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
