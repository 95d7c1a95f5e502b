//! clawherd under a real systemd (`scripts/systemd-ns` boots the machine's own systemd as PID 1
//! of throwaway namespaces), with stand-in gateways (`fake-gateway`).
//!
//! - `system_unit_lifecycle`: `systemd/clawherd.service` exactly as shipped (plus a drop-in with
//!   `WatchdogSec=`, the one setting the unit leaves commented for the user): READY=1 only once
//!   every instance is ready; STATUS= in `systemctl status`; a reload that restarts a profile and
//!   STATUS/WATCHDOG going on afterwards (the healthy daemon survives > 2× WatchdogSec); a
//!   SIGSTOPped daemon killed by the watchdog and restarted with no duplicate gateways; journald
//!   fields and readable messages; `systemctl stop` leaving no process;
//!   `systemd-analyze security` printed and held to ≤ 4.0.
//! - `system_unit_runs_gateways_as_their_users`: the same unit with `user:` per profile (users
//!   created inside): each gateway's uid, gid and HOME; a reload restarting one (clawherd
//!   signals a gateway of another user); a SIGKILLed clawherd restarted without duplicates;
//!   stop leaving nothing.
//! - `status_follows_failover_and_failback`: main stops answering (SIGSTOP), the cold rescue
//!   takes over, main answers again, failback: `STATUS=` shows each step.
//! - `state_under_read_only_etc_is_refused`: state dirs beside a fleet file in /etc (read-only
//!   under `ProtectSystem=full`): exit 78 naming each path, no gateway, no restart.
//! - `user_unit_lifecycle`: `systemd/clawherd-user.service` under `user@.service` of a test user
//!   (started by hand as linger would at boot): starts, READY=1, stop leaves nothing.
//! - `real_example_fleet_under_the_system_unit`: the system unit with a copy of
//!   config-examples/ (two real openclaw@2026.9.6 gateways on Node 24 from `.tools`): active once
//!   both are ready, STATUS= in `systemctl status` (printed whole), a reload that restarts
//!   rescue, kill -9 of main's gateway, stop. Skipped without `.tools/bin/{node,openclaw}`;
//!   in the nextest group of the real-gateway tests (one at a time).
//!
//! Skipped (passing, with a `skip:` line) when not root or without namespaces, overlayfs or
//! cgroup2. Every wait polls a state with a generous deadline.

mod systemd_ns;

use std::time::{Duration, Instant};
use systemd_ns::{Container, Run, wait_for};

const UNIT: &str = "clawherd.service";
const FLEET: &str = "/etc/clawherd/fleet.yaml";
/// WatchdogSec= of the drop-in: clawherd pings at half of it; long enough that a loaded CI
/// machine does not delay a healthy ping past it.
const WATCHDOG: Duration = Duration::from_secs(8);
/// Highest `systemd-analyze security` exposure the shipped system unit may have.
const MAX_EXPOSURE: f64 = 4.0;
/// Deadline for a unit or fleet state (generous: 2 cores shared with other builds).
const STATE_DEADLINE: Duration = Duration::from_secs(120);

fn manifest(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A fleet of two stand-ins, main and rescue, with paths a root service would use; rescue's
/// `/readyz` turns 200 `rescue_ready_delay_ms` after it listens, and main leaves a worker in its
/// own session (stopped only by SIGKILL of clawherd's process-tree sweep).
fn fleet(rescue_ready_delay_ms: u64) -> String {
    format!(
        "version: 1
run_dir: /var/lib/clawherd
defaults:
  command: [\"/usr/local/bin/fake-gateway\"]
  args: [\"--allow-unconfigured\"]
  restart: {{backoff: {{initial: 100ms, max: 1s}}}}
  stop_timeout: 20s
profiles:
  main:
    role: main
    openclaw_profile: main
    port: 18789
    state_dir: /var/lib/openclaw/main
    config: /var/lib/openclaw/main.json5
    env:
      FAKE_SPAWN_WORKER: \"1\"
  rescue:
    role: rescue
    openclaw_profile: rescue
    port: 19789
    state_dir: /var/lib/openclaw/rescue
    config: /var/lib/openclaw/rescue.json5
    env:
      FAKE_READY_DELAY_MS: \"{rescue_ready_delay_ms}\"
"
    )
}

/// Installs clawherd and the stand-in into /usr/local/bin (where the shipped ExecStart looks),
/// the system unit byte for byte, and `fleet_text` as /etc/clawherd/fleet.yaml.
fn install(c: &Container, fleet_text: &str) {
    let bin = c.share(std::path::Path::new(env!("CARGO_BIN_EXE_clawherd")), "clawherd");
    let fake = c.share(std::path::Path::new(env!("CARGO_BIN_EXE_fake-gateway")), "fake-gateway");
    let unit = c.share(&manifest("systemd/clawherd.service"), "clawherd.service");
    let fleet = c.share_text(fleet_text, "fleet.yaml");
    c.ok(&format!(
        "install -m 0755 {} {} /usr/local/bin/ && install -D -m 0644 {} /etc/systemd/system/{UNIT} \
         && install -D -m 0644 {} {FLEET} && mkdir -p /var/lib/openclaw && systemctl daemon-reload",
        bin.display(),
        fake.display(),
        unit.display(),
        fleet.display()
    ));
    let shipped = std::fs::read(manifest("systemd/clawherd.service")).expect("read the shipped unit");
    let inside = c.run(&["cat", "/etc/systemd/system/clawherd.service"]).stdout;
    assert_eq!(
        inside.as_bytes(),
        shipped.as_slice(),
        "the unit must be installed exactly as shipped"
    );
}

/// Replaces the fleet file inside (the host copy is shared, then installed).
fn put_fleet(c: &Container, fleet_text: &str) {
    let f = c.share_text(fleet_text, "fleet-next.yaml");
    c.ok(&format!("install -m 0644 {} {FLEET}", f.display()));
}

/// `(MainPID, ActiveState, SubState, StatusText, NRestarts)` in one `systemctl show`.
struct UnitState {
    main_pid: u32,
    active: String,
    status: String,
    restarts: u32,
}

fn unit_state(c: &Container) -> UnitState {
    let r = c.run(&["systemctl", "show", "-p", "MainPID,ActiveState,StatusText,NRestarts", UNIT]);
    let mut s = UnitState {
        main_pid: 0,
        active: String::new(),
        status: String::new(),
        restarts: 0,
    };
    for line in r.stdout.lines() {
        match line.split_once('=') {
            Some(("MainPID", v)) => s.main_pid = v.parse().unwrap_or(0),
            Some(("ActiveState", v)) => s.active = v.to_string(),
            Some(("StatusText", v)) => s.status = v.to_string(),
            Some(("NRestarts", v)) => s.restarts = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    s
}

/// Per profile: (profile, state, pid) from `clawherd status --json` inside.
fn fleet_status(c: &Container) -> Result<Vec<(String, String, u64)>, String> {
    fleet_status_of(c, FLEET)
}

/// [`fleet_status`] of the fleet file `fleet` inside.
fn fleet_status_of(c: &Container, fleet: &str) -> Result<Vec<(String, String, u64)>, String> {
    let r = c.run(&["clawherd", "status", "-f", fleet, "--json"]);
    if r.code != 0 {
        return Err(format!("clawherd status exit {}: {}", r.code, r.stderr.trim()));
    }
    let v: serde_json::Value = serde_json::from_str(&r.stdout).map_err(|e| format!("{e}: {}", r.stdout))?;
    let list = v["instances"].as_array().ok_or("no instances")?;
    Ok(list
        .iter()
        .map(|i| {
            (
                i["profile"].as_str().unwrap_or("?").to_string(),
                i["state"].as_str().unwrap_or("?").to_string(),
                i["pid"].as_u64().unwrap_or(0),
            )
        })
        .collect())
}

/// The pid of `profile`'s gateway, from `clawherd status --json` inside.
fn gateway_pid(c: &Container, profile: &str) -> u64 {
    let status = fleet_status(c).expect("clawherd status");
    status
        .into_iter()
        .find(|p| p.0 == profile)
        .map(|p| p.2)
        .expect("the profile in status")
}

/// Host-visible (inside) pids of every process named `name`, with their parent pids.
fn processes(c: &Container, name: &str) -> Vec<(u32, u32)> {
    let out = c.sh(&format!("ps -e -o pid=,ppid=,comm= | awk '$3 == \"{name}\" {{print $1, $2}}'"));
    out.stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .collect()
}

const ALL_READY: &str = "2/2 ready: main ready, rescue ready";

/// Waits until the unit is active with every instance ready in STATUS=.
fn wait_all_ready(c: &Container, what: &str) -> UnitState {
    wait_for(what, STATE_DEADLINE, || {
        let s = unit_state(c);
        if s.active == "active" && s.status == ALL_READY {
            Ok(s)
        } else {
            Err(format!("{} / {:?}", s.active, s.status))
        }
    })
}

fn security_score(c: &Container, unit: &str) -> f64 {
    let r = c.run(&["systemd-analyze", "security", "--no-pager", unit]);
    println!("== systemd-analyze security {unit}\n{}", r.stdout);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure level in:\n{}{}", r.stdout, r.stderr));
    let score = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("cannot read a score from {line:?}"));
    println!("security score of {unit}: {score}");
    score
}

#[test]
fn system_unit_lifecycle() {
    let Some(c) = Container::up("system") else { return };
    install(&c, &fleet(6000));

    // The drop-in: only what a user would set. WatchdogSec= is commented out in the shipped unit.
    let dropin = c.share_text(&format!("[Service]\nWatchdogSec={}s\n", WATCHDOG.as_secs()), "watchdog.conf");
    c.ok(&format!(
        "install -D -m 0644 {} /etc/systemd/system/{UNIT}.d/watchdog.conf && systemctl daemon-reload",
        dropin.display()
    ));

    let score = security_score(&c, UNIT);

    // 1. Start: activating while rescue (6 s to ready) is not ready, active only once it is.
    c.ok(&format!("systemctl start --no-block {UNIT}"));
    let mut saw_activating_with_laggard = false;
    let started = wait_for("the unit to become active", STATE_DEADLINE, || {
        let s = unit_state(&c);
        match s.active.as_str() {
            "activating" => {
                if s.status.starts_with("1/2 ready") {
                    saw_activating_with_laggard = true;
                }
                Err(format!("activating / {:?}", s.status))
            }
            "active" => Ok(s),
            other => Err(format!("{other} / {:?}", s.status)),
        }
    });
    let at_active = fleet_status(&c).expect("clawherd status once active");
    assert!(
        at_active.iter().all(|(_, state, _)| state == "ready"),
        "active before every instance was ready: {at_active:?}"
    );
    assert!(
        saw_activating_with_laggard,
        "never saw the unit activating with STATUS `1/2 ready…` while rescue was not ready yet"
    );
    assert_eq!(started.status, ALL_READY, "STATUS= when READY=1 was sent");

    // The hardening is in force, not just written down: seccomp filter on, capabilities cut.
    let proc_status = c.ok(&format!("cat /proc/{}/status", started.main_pid));
    let field = |k: &str| {
        proc_status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(field("Seccomp:"), "2", "no seccomp filter on clawherd:\n{proc_status}");
    assert_eq!(field("NoNewPrivs:"), "1", "{proc_status}");
    let bounding = u64::from_str_radix(&field("CapBnd:"), 16).expect("CapBnd");
    // CAP_CHOWN (0), CAP_DAC_OVERRIDE (1), CAP_DAC_READ_SEARCH (2), CAP_FOWNER (3), CAP_KILL (5),
    // CAP_SETGID (6), CAP_SETUID (7), CAP_SYS_PTRACE (19): the unit's bounding set.
    assert_eq!(bounding, 0b1110_1111 | 1 << 19, "CapBnd of clawherd: {bounding:#x}");

    // 2. `systemctl status` shows the current STATUS=.
    let status = c.run(&["systemctl", "status", "--no-pager", "-n", "0", UNIT]).stdout;
    println!("== systemctl status {UNIT} (stand-in fleet ready)\n{status}");
    assert!(status.contains(&format!("Status: \"{ALL_READY}\"")), "{status}");

    // 3. A reload that restarts a profile (rescue's environment changes): STATUS= must follow
    // the new instance through not-ready to ready. Before the fix it froze at the old
    // instance's last state ("… rescue stopped").
    let pid_before = started.main_pid;
    let old_rescue = at_active.iter().find(|p| p.0 == "rescue").expect("rescue").2;
    put_fleet(&c, &fleet(8000));
    c.ok(&format!("systemctl reload {UNIT}"));
    let mut seen = Vec::new();
    wait_for("STATUS= to show the restarted rescue not ready", STATE_DEADLINE, || {
        let s = unit_state(&c);
        if seen.last() != Some(&s.status) {
            seen.push(s.status.clone());
        }
        if s.status.starts_with("1/2 ready: main ready, rescue ") && s.status != "1/2 ready: main ready, rescue stopped" {
            Ok(())
        } else {
            Err(format!("{:?}", s.status))
        }
    });
    let after_reload = wait_all_ready(&c, "STATUS= to show the restarted rescue ready");
    seen.push(after_reload.status.clone());
    println!("STATUS= sequence during the reload: {seen:?}");
    println!("STATUS line after the reload that restarted rescue: {:?}", after_reload.status);
    let new_rescue = gateway_pid(&c, "rescue");
    assert_ne!(new_rescue, old_rescue, "the reload was to restart rescue");
    assert_eq!(after_reload.main_pid, pid_before, "a reload must not restart clawherd");

    // 4. STATUS= keeps following the fleet after the reload: kill the new rescue gateway.
    let killed_at = Instant::now();
    c.ok(&format!("kill -9 {new_rescue}"));
    wait_for("STATUS= to show rescue down after its gateway was killed", STATE_DEADLINE, || {
        let s = unit_state(&c);
        if s.status != ALL_READY { Ok(()) } else { Err(s.status) }
    });
    let back = wait_all_ready(&c, "STATUS= to show rescue ready again");
    println!("rescue restarted and STATUS current again after {:?}", killed_at.elapsed());

    // 5. The watchdog: the healthy daemon outlives well over 2× WatchdogSec after the reload.
    let calm = WATCHDOG * 5 / 2;
    let since = Instant::now();
    while since.elapsed() < calm {
        let s = unit_state(&c);
        assert_eq!(
            s.main_pid, back.main_pid,
            "clawherd was replaced: the watchdog killed a healthy daemon"
        );
        assert_eq!(s.restarts, 0, "systemd restarted the unit");
        std::thread::sleep(Duration::from_millis(500));
    }
    println!(
        "healthy clawherd kept by the watchdog for {calm:?} ({:.1}× WatchdogSec)",
        calm.as_secs_f64() / WATCHDOG.as_secs_f64()
    );

    // 5b. clawherd is a subreaper under the hardened unit: main's worker (in its own session,
    // ignoring SIGTERM) outlives a SIGKILLed main gateway, comes back to clawherd rather than to
    // systemd, and clawherd's sweep removes it.
    let gateway_pids: Vec<u32> = processes(&c, "fake-gateway")
        .into_iter()
        .filter(|(_, ppid)| *ppid == back.main_pid)
        .map(|(pid, _)| pid)
        .collect();
    let worker = processes(&c, "fake-gateway")
        .into_iter()
        .find(|(_, ppid)| *ppid != back.main_pid)
        .unwrap_or_else(|| panic!("no worker of main: {:?}", processes(&c, "fake-gateway")));
    let main_gw = gateway_pid(&c, "main");
    assert_eq!(worker.1 as u64, main_gw, "the worker is main's child");
    assert!(gateway_pids.contains(&(main_gw as u32)));
    c.ok(&format!("kill -9 {main_gw}"));
    wait_for(
        "main's orphaned worker to be removed by clawherd",
        STATE_DEADLINE,
        || match processes(&c, "fake-gateway").into_iter().find(|(pid, _)| *pid == worker.0) {
            None => Ok(()),
            Some((_, 1)) => panic!("main's worker went to systemd (PID 1): clawherd is no subreaper here"),
            Some(p) => Err(format!("worker {p:?} still there")),
        },
    );
    let back = wait_all_ready(&c, "main to be ready again after its gateway was killed");

    // 6. A stopped (SIGSTOP) clawherd is killed by the watchdog and restarted; the new one
    // runs exactly one gateway per profile.
    let old_gateways = processes(&c, "fake-gateway");
    c.ok(&format!("systemctl kill --kill-who=main -s SIGSTOP {UNIT}"));
    let restarted = wait_for("systemd to restart the stopped clawherd", STATE_DEADLINE, || {
        let s = unit_state(&c);
        if s.main_pid != 0 && s.main_pid != back.main_pid && s.restarts >= 1 {
            Ok(s)
        } else {
            Err(format!("MainPID {} NRestarts {} {}", s.main_pid, s.restarts, s.active))
        }
    });
    let restarted = {
        let s = wait_all_ready(&c, "the restarted clawherd to have its fleet ready");
        assert_eq!(s.main_pid, restarted.main_pid);
        s
    };
    // main's stand-in leaves a worker in its own session (only SIGKILL ends it), as a gateway's
    // tool children may: one gateway per profile plus that worker, and nothing from before.
    let all = processes(&c, "fake-gateway");
    assert_eq!(
        all.len(),
        3,
        "two gateways and main's worker after the restart: {all:?} (before: {old_gateways:?})"
    );
    assert!(
        all.iter().all(|p| !old_gateways.contains(p)),
        "a gateway or worker from before the restart survived: {all:?} (before: {old_gateways:?})"
    );
    let gateways: Vec<(u32, u32)> = all.iter().copied().filter(|(_, ppid)| *ppid == restarted.main_pid).collect();
    assert_eq!(
        gateways.len(),
        2,
        "one gateway per profile, children of the new clawherd {}: {all:?}",
        restarted.main_pid
    );
    let result = c.run(&["journalctl", "-u", UNIT, "--no-pager", "-g", "[Ww]atchdog"]).stdout;
    println!("== the watchdog in the journal\n{result}");
    assert!(
        result.contains("atchdog timeout"),
        "systemd did not log a watchdog timeout:\n{result}"
    );

    // 7. journald: gateway lines carry PROFILE= and say which profile in MESSAGE; PORT= is a number;
    // clawherd's own lines say which profile in MESSAGE too, as on stderr (`run{profile=main}: `).
    let json = c.run(&["journalctl", "-u", UNIT, "-o", "json", "--no-pager"]).stdout;
    let entries: Vec<serde_json::Value> = json.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    for profile in ["main", "rescue"] {
        let ready = entries
            .iter()
            .find(|e| e["PROFILE"] == profile && e["MESSAGE"].as_str().is_some_and(|m| m.contains("[gateway] ready")));
        let ready = ready.unwrap_or_else(|| panic!("no `[gateway] ready` entry with PROFILE={profile}"));
        assert_eq!(ready["MESSAGE"], format!("[{profile}] [gateway] ready"), "{ready}");
        let spawned = entries
            .iter()
            .find(|e| {
                e["PROFILE"] == profile
                    && e["MESSAGE"]
                        .as_str()
                        .is_some_and(|m| m.starts_with(&format!("run{{profile={profile}}}: spawned pid=")))
            })
            .unwrap_or_else(|| panic!("no `spawned` entry with PROFILE={profile}"));
        let port = spawned["PORT"].as_str().unwrap_or("");
        assert!(port.parse::<u16>().is_ok(), "PORT= of `spawned` must be a number, is {port:?}");
    }
    let short = c.run(&["journalctl", "-u", UNIT, "--no-pager", "-g", "gateway. ready"]).stdout;
    println!("== journalctl -u {UNIT} -g 'gateway. ready' (default output)\n{short}");
    assert!(
        short.contains("[main] [gateway] ready") && short.contains("[rescue] [gateway] ready"),
        "{short}"
    );

    // 8. Stop leaves no process.
    c.ok(&format!("systemctl stop {UNIT}"));
    let s = unit_state(&c);
    assert_eq!(s.active, "inactive", "after systemctl stop");
    let left: Vec<_> = ["clawherd", "fake-gateway"].iter().flat_map(|n| processes(&c, n)).collect();
    assert!(left.is_empty(), "processes left after stop: {left:?}");
    let cg = c.run(&["systemctl", "show", "-p", "ControlGroup", "--value", UNIT]).stdout;
    assert!(cg.trim().is_empty(), "the unit's cgroup is still there: {cg}");

    node_under_the_hardening(&c);

    assert!(
        score <= MAX_EXPOSURE,
        "systemd-analyze security {UNIT}: {score} > {MAX_EXPOSURE} (see the table above)"
    );
}

/// `Uid:` and `Gid:` (real, effective, saved, fs) of a process inside, and its `HOME`.
fn identity(c: &Container, pid: u64) -> (String, String, String) {
    let status = c.ok(&format!("cat /proc/{pid}/status"));
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let home = c.ok(&format!("tr '\\0' '\\n' < /proc/{pid}/environ | sed -n 's/^HOME=//p'"));
    (field("Uid:"), field("Gid:"), home.trim().to_string())
}

#[test]
fn system_unit_runs_gateways_as_their_users() {
    let Some(c) = Container::up("users") else { return };
    let with_users = |delay: u64| {
        fleet(delay)
            .replace("    openclaw_profile: main\n", "    openclaw_profile: main\n    user: ocmain\n")
            .replace(
                "    openclaw_profile: rescue\n",
                "    openclaw_profile: rescue\n    user: ocrescue\n    group: ocrescue\n",
            )
    };
    install(&c, &with_users(1000));
    // The users, their state dirs and configs (the gateway's file log inside its state dir).
    let mut ids = Vec::new();
    for name in ["main", "rescue"] {
        let user = format!("oc{name}");
        let out = c.ok(&format!(
            "useradd --system --user-group --create-home --home-dir /var/lib/openclaw/home-{name} {user} && \
             install -d -o {user} -g {user} -m 0700 /var/lib/openclaw/{name} && \
             echo '{{ logging: {{ file: \"logs/openclaw.log\" }} }}' > /var/lib/openclaw/{name}.json5 && \
             chown {user}:{user} /var/lib/openclaw/{name}.json5 && echo $(id -u {user}) $(id -g {user})"
        ));
        let (uid, gid) = out.trim().split_once(' ').expect("uid gid");
        ids.push((name, uid.to_string(), gid.to_string()));
    }
    let proof = c.sh(&format!("clawherd check {FLEET}"));
    assert_eq!(
        proof.code, 0,
        "the proof of the fleet with users:\n{}{}",
        proof.stdout, proof.stderr
    );

    c.ok(&format!("systemctl start {UNIT}"));
    let up = wait_all_ready(&c, "the fleet of per-user gateways to be ready");
    let check_ids = |what: &str| {
        let status = fleet_status(&c).expect("status");
        for (name, uid, gid) in &ids {
            let pid = status.iter().find(|p| p.0 == *name).expect("profile").2;
            let (u, g, home) = identity(&c, pid);
            assert_eq!(u, format!("{uid} {uid} {uid} {uid}"), "{what}: Uid of {name}'s gateway");
            assert_eq!(g, format!("{gid} {gid} {gid} {gid}"), "{what}: Gid of {name}'s gateway");
            assert_eq!(home, format!("/var/lib/openclaw/home-{name}"), "{what}: HOME of {name}'s gateway");
        }
        status
    };
    let before = check_ids("at start");
    let status = c.run(&["systemctl", "status", "--no-pager", "-n", "0", UNIT]).stdout;
    println!("== systemctl status {UNIT} (gateways as ocmain and ocrescue)\n{status}");
    let owners = c.ok("ps -o user= -C fake-gateway | sort -u | tr '\\n' ' '");
    println!("gateway owners: {owners}");

    // A reload that restarts rescue: clawherd (root, CAP_KILL) stops ocrescue's gateway.
    put_fleet(&c, &with_users(1500));
    c.ok(&format!("systemctl reload {UNIT}"));
    let old_rescue = before.iter().find(|p| p.0 == "rescue").expect("rescue").2;
    wait_for("the old rescue gateway to be gone after the reload", STATE_DEADLINE, || {
        let gone = c.sh(&format!("test -d /proc/{old_rescue}")).code != 0;
        if gone {
            return Ok(());
        }
        let journal = c.run(&["journalctl", "-u", UNIT, "--no-pager", "-n", "15", "-o", "cat"]).stdout;
        Err(format!("{old_rescue} still runs; the journal ends:\n{journal}"))
    });
    let reloaded = wait_all_ready(&c, "the restarted rescue to be ready");
    assert_eq!(reloaded.main_pid, up.main_pid, "a reload must not restart clawherd");
    check_ids("after the reload");

    // clawherd SIGKILLed: systemd restarts it, and it runs one gateway per profile again.
    c.ok(&format!("systemctl kill --kill-who=main -s SIGKILL {UNIT}"));
    wait_for("systemd to restart the killed clawherd", STATE_DEADLINE, || {
        let s = unit_state(&c);
        if s.main_pid != 0 && s.main_pid != up.main_pid && s.restarts >= 1 {
            Ok(())
        } else {
            Err(format!("{} {}", s.main_pid, s.active))
        }
    });
    wait_all_ready(&c, "the restarted clawherd to have its per-user fleet ready");
    check_ids("after clawherd was restarted");
    let all = processes(&c, "fake-gateway");
    assert_eq!(all.len(), 3, "two gateways and main's worker after the restart: {all:?}");

    c.ok(&format!("systemctl stop {UNIT}"));
    let left: Vec<_> = ["clawherd", "fake-gateway"].iter().flat_map(|n| processes(&c, n)).collect();
    assert!(left.is_empty(), "processes left after stop: {left:?}");
    let score = security_score(&c, UNIT);
    assert!(score <= MAX_EXPOSURE, "systemd-analyze security {UNIT}: {score} > {MAX_EXPOSURE}");
}

/// A main whose readiness is probed every 500 ms (no liveness restarts) and a cold rescue that
/// takes over after 1 s of main not ready and hands back after 1 s of main ready again.
fn failover_fleet() -> String {
    fleet(0)
        .replace(
            "      FAKE_SPAWN_WORKER: \"1\"\n",
            "      FAKE_SPAWN_WORKER: \"1\"\n    health: {period: 500ms, timeout: 500ms, failure_threshold: 2, liveness: false}\n",
        )
        .replace(
            "    openclaw_profile: rescue\n",
            "    openclaw_profile: rescue\n    standby: cold\n    failover_after: 1s\n    failback_after: 1s\n",
        )
}

#[test]
fn status_follows_failover_and_failback() {
    let Some(c) = Container::up("failover") else { return };
    install(&c, &failover_fleet());
    c.ok(&format!("systemctl start {UNIT}"));
    let up = unit_state(&c);
    assert_eq!(up.active, "active");
    let before = wait_for("STATUS= with main ready and the cold rescue down", STATE_DEADLINE, || {
        let s = unit_state(&c);
        if s.status.starts_with("1/1 ready: main ready, rescue ") && s.status.ends_with(" (cold)") && !s.status.contains("rescue ready") {
            Ok(s.status)
        } else {
            Err(s.status)
        }
    });
    let main = gateway_pid(&c, "main");

    // main stops answering (SIGSTOP): not ready → failover → the cold rescue runs and is ready.
    c.ok(&format!("kill -STOP {main}"));
    let during = wait_for("STATUS= to show the rescue ready after failover", STATE_DEADLINE, || {
        let s = unit_state(&c);
        if s.status.starts_with("0/1 ready: main ") && s.status.contains("rescue ready (cold)") {
            Ok(s.status)
        } else {
            Err(s.status)
        }
    });
    let journal = c
        .run(&["journalctl", "-u", UNIT, "--no-pager", "-o", "cat", "-g", "FAILOVER|failback"])
        .stdout;
    assert!(journal.contains("FAILOVER"), "no failover in the journal:\n{journal}");

    // main answers again (SIGCONT): ready → failback after 1 s → the cold rescue stops.
    c.ok(&format!("kill -CONT {main}"));
    let after = wait_for(
        "STATUS= to show main ready and the rescue stopped after failback",
        STATE_DEADLINE,
        || {
            let s = unit_state(&c);
            if s.status == before { Ok(s) } else { Err(s.status) }
        },
    );
    let journal = c
        .run(&["journalctl", "-u", UNIT, "--no-pager", "-o", "cat", "-g", "FAILOVER|failback"])
        .stdout;
    println!("== failover and failback in the journal\n{journal}");
    println!(
        "STATUS= before: {before:?}\nSTATUS= during failover: {during:?}\nSTATUS= after failback: {:?}",
        after.status
    );
    assert!(journal.contains("failback"), "no failback in the journal:\n{journal}");
    assert_eq!(after.main_pid, up.main_pid, "clawherd itself was not restarted");
    assert_eq!(after.restarts, 0);
    c.ok(&format!("systemctl stop {UNIT}"));
    let left: Vec<_> = ["clawherd", "fake-gateway"].iter().flat_map(|n| processes(&c, n)).collect();
    assert!(left.is_empty(), "processes left after stop: {left:?}");
}

/// The example fleet's layout (state dirs beside the fleet file) with the fleet file in
/// /etc/clawherd: `ProtectSystem=full` makes those state dirs read-only, so `clawherd run` refuses
/// the fleet (exit 78, no restart) and names each path, instead of gateways that crash-loop.
#[test]
fn state_under_read_only_etc_is_refused() {
    let Some(c) = Container::up("readonly") else { return };
    let text = fleet(0)
        .replace("state_dir: /var/lib/openclaw/main", "state_dir: state/main")
        .replace("state_dir: /var/lib/openclaw/rescue", "state_dir: state/rescue");
    install(&c, &text);
    // From a root shell /etc is writable: the proof passes there.
    let proof = c.sh(&format!("clawherd check --no-host-ports {FLEET}"));
    assert_eq!(proof.code, 0, "{}{}", proof.stdout, proof.stderr);
    let start = c.sh(&format!("systemctl start {UNIT}"));
    assert_ne!(start.code, 0, "the unit started with its state dirs on a read-only /etc");
    assert_eq!(c.show(UNIT, "ExecMainStatus"), "78");
    assert_eq!(c.show(UNIT, "NRestarts"), "0", "exit 78 is not retried");
    let journal = c.run(&["journalctl", "-u", UNIT, "--no-pager", "-o", "cat"]).stdout;
    println!("== journal of the refused start\n{journal}");
    for profile in ["main", "rescue"] {
        assert!(
            journal.contains(&format!(
                "the state dir /etc/clawherd/state/{profile} is on a read-only file system"
            )),
            "{journal}"
        );
    }
    assert!(processes(&c, "fake-gateway").is_empty(), "a gateway was started");
}

/// What the hardening means for Node (the gateways' runtime): a copy of the shipped unit with
/// `node` in place of clawherd runs V8's JIT, reads /proc and the network interfaces and writes
/// /tmp; with `MemoryDenyWriteExecute=yes` added (the one setting the unit leaves out for Node)
/// the same program must fail. Skipped when there is no `node` on PATH.
fn node_under_the_hardening(c: &Container) {
    if c.sh("command -v node").code != 0 {
        println!("skip: no node on PATH; the hardening was not tried with Node");
        return;
    }
    let script = "const os=require('os');os.cpus();os.networkInterfaces();\
        require('fs').writeFileSync('/tmp/clawherd-node-probe','ok');\
        let s=0;for(let i=0;i<2e7;i++){s+=i%7}new Function('return 1')();\
        console.log('node ok',process.version,s)";
    let js = c.share_text(script, "probe.js");
    let base = c.share(&manifest("systemd/clawherd.service"), "node-probe.service");
    let run = |name: &str, extra: &str| -> Run {
        let dropin = c.share_text(
            &format!(
                "[Service]\nType=oneshot\nExecStart=\nExecStart=/usr/bin/env node {}\nExecReload=\n{extra}",
                js.display()
            ),
            &format!("{name}.conf"),
        );
        c.ok(&format!(
            "install -m 0644 {} /etc/systemd/system/{name}.service && \
             install -D -m 0644 {} /etc/systemd/system/{name}.service.d/probe.conf && systemctl daemon-reload",
            base.display(),
            dropin.display()
        ));
        let r = c.sh(&format!("systemctl start {name}.service"));
        let log = c
            .run(&["journalctl", "-u", &format!("{name}.service"), "--no-pager", "-o", "cat"])
            .stdout;
        println!(
            "== {name} (the shipped hardening, plus: {}):\n{log}",
            if extra.is_empty() { "nothing" } else { extra.trim() }
        );
        Run {
            code: r.code,
            stdout: log,
            stderr: r.stderr,
        }
    };
    let ok = run("node-probe", "");
    assert_eq!(ok.code, 0, "node failed under the shipped hardening:\n{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("node ok"), "{}", ok.stdout);
    let mdwe = run("node-probe-mdwe", "MemoryDenyWriteExecute=yes\n");
    println!("node with MemoryDenyWriteExecute=yes: exit {}", mdwe.code);
    assert!(
        mdwe.code != 0 && !mdwe.stdout.contains("node ok"),
        "node ran with MemoryDenyWriteExecute=yes; the unit's reason for leaving it out is wrong"
    );
}

/// The user unit's test user.
const USER: &str = "clawherd-test";

/// Runs `script` inside as the test user, with its user manager's runtime dir.
fn as_user(c: &Container, uid: u32, script: &str) -> Run {
    c.run(&[
        "runuser",
        "-u",
        USER,
        "--",
        "env",
        &format!("XDG_RUNTIME_DIR=/run/user/{uid}"),
        "bash",
        "-c",
        script,
    ])
}

#[test]
fn user_unit_lifecycle() {
    let Some(c) = Container::up("user") else { return };
    let bin = c.share(std::path::Path::new(env!("CARGO_BIN_EXE_clawherd")), "clawherd");
    let fake = c.share(std::path::Path::new(env!("CARGO_BIN_EXE_fake-gateway")), "fake-gateway");
    let unit = c.share(&manifest("systemd/clawherd-user.service"), "clawherd-user.service");
    let fleet_text = fleet(3000)
        .replace("/var/lib/openclaw/", "state/")
        .replace("run_dir: /var/lib/clawherd\n", "");
    let fleet = c.share_text(&fleet_text, "user-fleet.yaml");
    // The user, its files where the unit's install notes put them, and its user manager
    // (user@UID.service, as linger would start it at boot; logind is not running in the test
    // system, so it is started by hand).
    let uid: u32 = c
        .ok(&format!(
            "useradd -m {USER} && install -m 0755 {fake} /usr/local/bin/ && \
             runuser -u {USER} -- install -D -m 0755 {bin} /home/{USER}/.cargo/bin/clawherd && \
             runuser -u {USER} -- install -D -m 0644 {unit} /home/{USER}/.config/systemd/user/clawherd.service && \
             runuser -u {USER} -- install -D -m 0644 {fleet} /home/{USER}/.config/clawherd/fleet.yaml && \
             id -u {USER}",
            fake = fake.display(),
            bin = bin.display(),
            unit = unit.display(),
            fleet = fleet.display()
        ))
        .trim()
        .parse()
        .expect("uid");
    c.ok(&format!("systemctl start user@{uid}.service"));
    let shipped = std::fs::read_to_string(manifest("systemd/clawherd-user.service")).expect("user unit");
    let inside = as_user(&c, uid, "cat ~/.config/systemd/user/clawherd.service").stdout;
    assert_eq!(inside, shipped, "the user unit must be installed exactly as shipped");

    // Start: blocks until READY=1, which comes once both stand-ins are ready.
    let start = as_user(&c, uid, "systemctl --user daemon-reload && systemctl --user start clawherd");
    assert_eq!(start.code, 0, "systemctl --user start clawherd:\n{}{}", start.stdout, start.stderr);
    let show = |prop: &str| {
        as_user(&c, uid, &format!("systemctl --user show -p {prop} --value clawherd"))
            .stdout
            .trim()
            .to_string()
    };
    assert_eq!(show("ActiveState"), "active");
    assert_eq!(show("StatusText"), ALL_READY, "READY=1 must wait for every instance");
    let status = as_user(&c, uid, "systemctl --user status --no-pager -n 0 clawherd").stdout;
    println!("== systemctl --user status clawherd (as {USER})\n{status}");
    let gateways = processes(&c, "fake-gateway");
    assert_eq!(gateways.len(), 3, "two gateways and main's worker: {gateways:?}");
    let owners = c.ok("ps -o user= -C fake-gateway | sort -u");
    assert_eq!(owners.trim(), USER, "gateways run as the user");

    // Stop leaves nothing of the user's fleet.
    let stop = as_user(&c, uid, "systemctl --user stop clawherd");
    assert_eq!(stop.code, 0, "systemctl --user stop clawherd:\n{}{}", stop.stdout, stop.stderr);
    assert_eq!(show("ActiveState"), "inactive");
    let left: Vec<_> = ["clawherd", "fake-gateway"].iter().flat_map(|n| processes(&c, n)).collect();
    assert!(left.is_empty(), "processes left after stop: {left:?}");
}

/// The Debian package: built by `scripts/deb` from this build's clawherd, installed with dpkg
/// under a real systemd, enabled with a stand-in fleet, purged. Skipped without cargo-deb.
#[test]
fn debian_package() {
    let has_cargo_deb = std::process::Command::new("cargo")
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_deb {
        println!("skip: cargo-deb is not installed (cargo install cargo-deb); the package was not built");
        return;
    }
    let Some(c) = Container::up("deb") else { return };
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_clawherd")).parent().expect("bin dir");
    let out = std::process::Command::new(manifest("scripts/deb"))
        .arg("--bin-dir")
        .arg(bin_dir)
        .output()
        .expect("run scripts/deb");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scripts/deb failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = manifest(stdout.lines().last().expect("the .deb path").trim());
    let deb = c.share(&deb, "clawherd.deb");
    let fake = c.share(std::path::Path::new(env!("CARGO_BIN_EXE_fake-gateway")), "fake-gateway");

    c.ok(&format!("dpkg -i {}", deb.display()));
    let files = c.ok("dpkg -L clawherd");
    for want in [
        "/usr/bin/clawherd",
        "/lib/systemd/system/clawherd.service",
        "/usr/lib/systemd/user/clawherd.service",
        "/usr/share/man/man1/clawherd.1.gz",
        "/usr/share/bash-completion/completions/clawherd",
        "/usr/share/zsh/vendor-completions/_clawherd",
        "/usr/share/fish/vendor_completions.d/clawherd.fish",
        "/usr/share/doc/clawherd/examples/fleet.yaml",
        "/etc/clawherd/fleet.yaml",
    ] {
        assert!(files.lines().any(|l| l == want), "{want} not in the package:\n{files}");
    }
    let conffiles = c.ok("dpkg-query -W -f='${Conffiles}' clawherd");
    assert!(conffiles.contains("/etc/clawherd/fleet.yaml"), "conffiles: {conffiles}");
    let proof = c.sh("clawherd check --no-host-ports /etc/clawherd/fleet.yaml");
    println!(
        "== clawherd check of the packaged fleet (exit {})\n{}{}",
        proof.code, proof.stdout, proof.stderr
    );
    assert_eq!(
        c.run(&["systemctl", "is-enabled", UNIT]).stdout.trim(),
        "disabled",
        "installing must not enable the service"
    );
    let man = c.ok("zcat /usr/share/man/man1/clawherd.1.gz | head -c 200");
    assert!(man.contains(".TH"), "not a man page: {man}");

    // A fleet of stand-ins in place of the packaged one, then enable --now.
    let fleet = c.share_text(&fleet(3000), "deb-fleet.yaml");
    c.ok(&format!(
        "install -m 0755 {} /usr/local/bin/ && mkdir -p /var/lib/openclaw && install -m 0644 {} {FLEET}",
        fake.display(),
        fleet.display()
    ));
    c.ok(&format!("systemctl enable --now {UNIT}"));
    let up = wait_all_ready(&c, "the packaged service to be active with its fleet ready");
    let status = c.run(&["systemctl", "status", "--no-pager", "-n", "0", UNIT]).stdout;
    println!("== systemctl status {UNIT} (installed from the .deb)\n{status}");
    assert!(status.contains("/usr/bin/clawherd run /etc/clawherd/fleet.yaml"), "{status}");
    assert!(up.main_pid > 0);

    // Purge: nothing runs, nothing of the package is left.
    c.ok("dpkg --purge clawherd");
    let left: Vec<_> = ["clawherd", "fake-gateway"].iter().flat_map(|n| processes(&c, n)).collect();
    assert!(left.is_empty(), "processes left after purge: {left:?}");
    assert_eq!(c.show(UNIT, "LoadState"), "not-found", "the unit is still known after purge");
    let rest = c.sh(
        "ls -d /etc/clawherd /var/lib/clawherd /usr/bin/clawherd /etc/systemd/system/multi-user.target.wants/clawherd.service 2>/dev/null",
    );
    assert!(rest.stdout.trim().is_empty(), "left after purge:\n{}", rest.stdout);
}

/// Where the real example fleet goes inside: a copy of config-examples/ in a writable folder
/// (its state dirs are beside the fleet file, and /etc is read-only under `ProtectSystem=full`).
const EXAMPLE_DIR: &str = "/srv/clawherd";
/// Deadline for a real gateway to boot (30-90 s on a loaded 2-core machine) or to come back.
const REAL_DEADLINE: Duration = Duration::from_secs(300);

/// The real Node 24 and `openclaw` of `.tools/bin` (scripts/bootstrap installs them), as their
/// real paths (the host's `/` is the lower layer of the container's, so they are the same
/// inside); `None` after a `skip:` line when either is missing.
fn real_tools() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let tools = manifest(".tools/bin");
    let real = |name: &str| std::fs::canonicalize(tools.join(name)).ok();
    match (real("node"), real("openclaw")) {
        (Some(node), Some(openclaw)) => Some((node, openclaw)),
        _ => {
            println!(
                "skip: {} has no node or openclaw (run scripts/bootstrap); the real example fleet was not run under systemd",
                tools.display()
            );
            None
        }
    }
}

/// Every process inside that belongs to the fleet: clawherd, Node, or anything whose command
/// line names openclaw or the example folder (`pid args`).
fn fleet_processes(c: &Container) -> Vec<String> {
    c.sh(&format!(
        "ps -e -o pid=,comm=,args= | awk '$2 == \"clawherd\" || $2 == \"node\" || /openclaw|{}/' | grep -v -e awk -e ' ps -e'",
        EXAMPLE_DIR.replace('/', "\\/")
    ))
    .stdout
    .lines()
    .map(|l| l.trim().to_string())
    .filter(|l| !l.is_empty())
    .collect()
}

/// Prints the whole `systemctl status clawherd` and returns it.
fn print_status(c: &Container, when: &str) -> String {
    let status = c.run(&["systemctl", "status", "--no-pager", "clawherd"]).stdout;
    println!("== systemctl status clawherd --no-pager ({when})\n{status}");
    status
}

/// Whether `profile` in `status` runs a gateway other than `old` and is ready.
fn restarted_ready(status: &[(String, String, u64)], profile: &str, old: u64) -> bool {
    status
        .iter()
        .any(|(p, state, pid)| p == profile && state == "ready" && *pid != old && *pid != 0)
}

/// The shipped unit and the real example fleet (main and rescue, two real openclaw@2026.9.6
/// gateways on Node 24 from `.tools`): start → active once both are ready; STATUS= in
/// `systemctl status`; a reload that restarts rescue → STATUS= current again; kill -9 of
/// main's gateway → ready again with rescue untouched; stop leaves no process.
#[test]
fn real_example_fleet_under_the_system_unit() {
    let Some((node, openclaw)) = real_tools() else { return };
    // .tools where the checkout keeps it (under /tmp, say, which is the container's own tmpfs).
    let tools = std::fs::canonicalize(manifest(".tools")).expect(".tools");
    let Some(c) = Container::up_with("real", &[tools]) else { return };
    let fleet = format!("{EXAMPLE_DIR}/fleet.yaml");

    // clawherd where the unit looks; Node and openclaw on the unit's PATH (/usr/local/bin), as
    // a Node install plus `npm install -g openclaw` would put them. The unit as shipped but for
    // the fleet file's path (a path a user changes), plus the WatchdogSec= drop-in.
    let shipped = std::fs::read_to_string(manifest("systemd/clawherd.service")).expect("read the shipped unit");
    assert!(shipped.contains(&format!("ExecStart=/usr/local/bin/clawherd run {FLEET}\n")));
    let unit_text = shipped.replace(FLEET, &fleet);
    let unit = c.share_text(&unit_text, "clawherd-real.service");
    let bin = c.share(std::path::Path::new(env!("CARGO_BIN_EXE_clawherd")), "clawherd");
    let dropin = c.share_text(&format!("[Service]\nWatchdogSec={}s\n", WATCHDOG.as_secs()), "watchdog.conf");
    let mut copies = Vec::new();
    for f in ["fleet.yaml", "main.openclaw.json5", "rescue.openclaw.json5"] {
        let shared = c.share(&manifest(&format!("config-examples/{f}")), &format!("example-{f}"));
        copies.push(format!("install -D -m 0644 {} {EXAMPLE_DIR}/{f}", shared.display()));
    }
    c.ok(&format!(
        "install -m 0755 {bin} /usr/local/bin/ && ln -s {node} /usr/local/bin/node && \
         ln -s {openclaw} /usr/local/bin/openclaw && {copies} && \
         install -D -m 0644 {unit} /etc/systemd/system/{UNIT} && \
         install -D -m 0644 {dropin} /etc/systemd/system/{UNIT}.d/watchdog.conf && systemctl daemon-reload",
        bin = bin.display(),
        node = node.display(),
        openclaw = openclaw.display(),
        copies = copies.join(" && "),
        unit = unit.display(),
        dropin = dropin.display(),
    ));
    let versions = c.ok("node --version && openclaw --version");
    println!(
        "inside, on the unit's PATH: {}",
        versions.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    // `clawherd check` inside must pass (an invalid fleet would not start, and an invalid edit
    // would be logged by the reload and change nothing).
    let prove = |options: &str, what: &str| {
        let proof = c.sh(&format!("clawherd check {options}{fleet}"));
        assert_eq!(proof.code, 0, "clawherd check of {what}:\n{}{}", proof.stdout, proof.stderr);
    };
    prove("", "the example fleet");

    // 1. Start: activating while a gateway boots, active once both are ready (or, past
    // READY_TIMEOUT of 80 s, with the laggards named in STATUS=).
    let started_at = Instant::now();
    c.ok(&format!("systemctl start --no-block {UNIT}"));
    let mut seen = Vec::new();
    let started = wait_for("the unit to become active", REAL_DEADLINE, || {
        let s = unit_state(&c);
        if seen.last() != Some(&s.status) {
            seen.push(s.status.clone());
        }
        match s.active.as_str() {
            "active" => Ok(s),
            other => Err(format!("{other} / {:?}", s.status)),
        }
    });
    let at_active = fleet_status_of(&c, &fleet).expect("clawherd status once active");
    println!(
        "active {:.1} s after systemctl start; STATUS= while starting: {seen:?}; fleet then: {at_active:?}",
        started_at.elapsed().as_secs_f64()
    );
    if started.status.starts_with("not all ready after") {
        println!(
            "READY=1 came by clawherd's 80 s start-up limit, with the laggards named: {:?}",
            started.status
        );
    } else {
        assert_eq!(started.status, ALL_READY, "STATUS= when READY=1 was sent");
        assert!(
            at_active.iter().all(|(_, state, _)| state == "ready"),
            "active before both gateways were ready: {at_active:?}"
        );
        assert!(
            seen.iter().any(|s| s.starts_with("0/2 ready") || s.starts_with("1/2 ready")),
            "never saw the unit activating with a gateway not ready yet: {seen:?}"
        );
    }
    let up = wait_for("both real gateways ready", REAL_DEADLINE, || {
        let s = unit_state(&c);
        if s.status == ALL_READY { Ok(s) } else { Err(s.status) }
    });
    println!(
        "both real gateways ready {:.1} s after systemctl start",
        started_at.elapsed().as_secs_f64()
    );

    // 2. `systemctl status` with STATUS= of two real gateways.
    let status = print_status(&c, "two real gateways ready");
    assert!(status.contains(&format!("Status: \"{ALL_READY}\"")), "{status}");
    let before = fleet_status_of(&c, &fleet).expect("clawherd status");
    let pid_of = |list: &[(String, String, u64)], p: &str| list.iter().find(|i| i.0 == p).map(|i| i.2).expect("profile");
    let (main_pid, rescue_pid) = (pid_of(&before, "main"), pid_of(&before, "rescue"));

    // 3. A reload after an edit that restarts rescue (a new variable in its environment):
    // STATUS= follows the new rescue gateway back to ready; main and clawherd stay.
    let edited = std::fs::read_to_string(manifest("config-examples/fleet.yaml"))
        .expect("read the example fleet")
        .replace(
            "    config: rescue.openclaw.json5\n",
            "    config: rescue.openclaw.json5\n    env:\n      RESCUE_RELOAD_MARK: \"1\"\n",
        );
    assert!(edited.contains("RESCUE_RELOAD_MARK"), "the example fleet changed shape");
    let next = c.share_text(&edited, "example-fleet-next.yaml");
    c.ok(&format!("install -m 0644 {} {fleet}", next.display()));
    prove("--no-host-ports ", "the edited fleet (its gateways run)");
    let reload_at = Instant::now();
    c.ok(&format!("systemctl reload {UNIT}"));
    let mut seen = Vec::new();
    let reloaded = wait_for("rescue restarted by the reload and STATUS= current", REAL_DEADLINE, || {
        // The fleet first, STATUS= after it: STATUS= is read once the new gateway is ready.
        let now = fleet_status_of(&c, &fleet)?;
        let s = unit_state(&c);
        if seen.last() != Some(&s.status) {
            seen.push(s.status.clone());
        }
        if s.status == ALL_READY && restarted_ready(&now, "rescue", rescue_pid) {
            Ok((s, now))
        } else {
            Err(format!("{:?} {now:?}", s.status))
        }
    });
    let (after_reload, now) = reloaded;
    println!(
        "STATUS= during the reload: {seen:?}; current again {:.1} s after systemctl reload",
        reload_at.elapsed().as_secs_f64()
    );
    println!("STATUS line after the reload that restarted rescue: {:?}", after_reload.status);
    print_status(&c, "after the reload that restarted rescue");
    assert_eq!(after_reload.main_pid, up.main_pid, "a reload must not restart clawherd");
    assert_eq!(
        pid_of(&now, "main"),
        main_pid,
        "the reload restarted main, whose profile did not change"
    );
    let rescue_pid = pid_of(&now, "rescue");

    // 4. kill -9 of main's gateway: clawherd brings main back to ready; rescue is untouched.
    let killed_at = Instant::now();
    c.ok(&format!("kill -9 {main_pid}"));
    let (back, now) = wait_for("main ready again after kill -9", REAL_DEADLINE, || {
        let now = fleet_status_of(&c, &fleet)?;
        let s = unit_state(&c);
        if s.status == ALL_READY && restarted_ready(&now, "main", main_pid) {
            Ok((s, now))
        } else {
            Err(format!("{:?} {now:?}", s.status))
        }
    });
    println!(
        "main ready again {:.1} s after kill -9 of its gateway",
        killed_at.elapsed().as_secs_f64()
    );
    assert_eq!(pid_of(&now, "rescue"), rescue_pid, "rescue must not be touched when main dies");
    assert_eq!(back.main_pid, up.main_pid, "clawherd itself was not restarted");
    assert_eq!(back.restarts, 0, "systemd restarted the unit");
    // Each gateway's own `[gateway] ready` line, once per boot (start, then the reload or the
    // kill), in the journal with its profile in front.
    let ready = wait_for("two ready lines of each gateway in the journal", STATE_DEADLINE, || {
        let journal = c.run(&["journalctl", "-u", UNIT, "--no-pager", "-o", "cat"]).stdout;
        let ready: Vec<String> = journal
            .lines()
            .filter(|l| l.contains("[gateway] ready"))
            .map(String::from)
            .collect();
        let count = |p: &str| ready.iter().filter(|l| l.starts_with(p)).count();
        if count("[main] ") >= 2 && count("[rescue] ") >= 2 {
            Ok(ready)
        } else {
            Err(format!("{ready:?}"))
        }
    });
    println!("== the gateways' ready lines in journalctl -u {UNIT}\n{}", ready.join("\n"));

    // 5. Stop leaves no process of the fleet.
    let stop_at = Instant::now();
    c.ok(&format!("systemctl stop {UNIT}"));
    println!("systemctl stop returned after {:.1} s", stop_at.elapsed().as_secs_f64());
    assert_eq!(unit_state(&c).active, "inactive", "after systemctl stop");
    let left = fleet_processes(&c);
    assert!(left.is_empty(), "processes left after stop: {left:?}");
    let cg = c.run(&["systemctl", "show", "-p", "ControlGroup", "--value", UNIT]).stdout;
    assert!(cg.trim().is_empty(), "the unit's cgroup is still there: {cg}");
}
