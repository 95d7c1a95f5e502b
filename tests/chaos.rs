//! Chaos: at least 1,000 random SIGKILL / SIGTERM / SIGSTOP sent to stand-in gateways and their
//! workers (own sessions), bounded in time. Afterwards every instance is ready again, no zombie
//! is left under clawherd, no orphan (every worker hangs under its instance's current gateway)
//! and no state dir has two gateways.

use crate::support::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const KILLS: usize = 1000;

/// Deterministic pseudo-random numbers (a 64-bit LCG), so a failing run can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn environ(pid: i32) -> BTreeMap<String, String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            String::from_utf8_lossy(kv)
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_thousand_random_kills_leave_a_clean_ready_fleet() {
    let names = ["main", "rescue", "ops"];
    let roles = ["main", "rescue", "rescue"];
    let mut base = free_base(91);
    // A gateway SIGSTOPped while starting is only judged once `startup_grace` is over (a slow
    // boot is never killed); a short grace lets the chaos end in bounded time.
    let mut profiles = Vec::new();
    for (i, (n, r)) in names.iter().zip(roles).enumerate() {
        if i > 0 {
            base = free_base(91 + 2 * i as u32).max(base + 200);
        }
        profiles.push(
            TestProfile::new(n, r, base)
                .env("FAKE_SPAWN_WORKER", "1")
                .yaml("    health: {period: 200ms, timeout: 1s, failure_threshold: 3, kill_after: 1s, startup_grace: 2s}\n    stop_timeout: 3s\n    restart: {backoff: {initial: 50ms, max: 500ms}, crash_loop: {max_starts: 100000, window: 1m}}\n"),
        );
    }
    let fleet = TestFleet::fake(&profiles, "");
    let suffix = format!("@{}", fleet.path.display());
    let d = Daemon::start(&fleet.path);
    for n in names {
        d.wait_ready(0, n, FAKE_DEADLINE);
    }
    let mut rng = Lcg(0x5eed_c1a0);
    let signals = [(9, "SIGKILL"), (15, "SIGTERM"), (19, "SIGSTOP")];
    let mut sent: BTreeMap<&str, usize> = BTreeMap::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    while sent.values().sum::<usize>() < KILLS {
        assert!(Instant::now() < deadline, "chaos did not finish in time");
        let pids = marked_pids(&suffix);
        if pids.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let pid = pids[rng.next(pids.len())];
        let (sig, name) = signals[rng.next(signals.len())];
        signal(pid, sig);
        *sent.entry(name).or_default() += 1;
        // Pacing only: correctness is judged afterwards by waiting on the fleet's state.
        std::thread::sleep(Duration::from_millis(8));
    }
    let chaos_s = started.elapsed().as_secs_f64();
    // Every instance back to ready, with its gateway's own pid.
    let recovered = Instant::now();
    let fleet_arg = fleet.path.to_string_lossy().to_string();
    let mut status = serde_json::Value::Null;
    let all_ready = |status: &mut serde_json::Value| {
        let (code, out, _) = run_clawherd(&["status", "--json", "-f", &fleet_arg]);
        if code != 0 {
            return false;
        }
        *status = serde_json::from_str(&out).unwrap_or_default();
        status["instances"]
            .as_array()
            .is_some_and(|a| a.iter().all(|i| i["state"] == "ready"))
    };
    let end = Instant::now() + Duration::from_secs(180);
    while !all_ready(&mut status) {
        if Instant::now() > end {
            let (_, events, _) = run_clawherd(&["events", "-n", "60", "-f", &fleet_arg]);
            let log = d.log_text();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            panic!(
                "not all ready 180 s after the chaos:\n{status:#}\nevents:\n{events}\nlog tail:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovery_s = recovered.elapsed().as_secs_f64();
    let restarts: u64 = status["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["restarts"].as_u64().unwrap_or(0))
        .sum();
    // Let the last trees' cleanups finish, then judge the process table.
    wait_until("one gateway and one worker per instance", Duration::from_secs(60), || {
        marked_pids(&suffix).len() == 2 * names.len()
    });
    let clawherd = d.child.id() as i32;
    assert!(
        zombies_of(clawherd).is_empty(),
        "zombies under clawherd: {:?}",
        zombies_of(clawherd)
    );
    let mut gateways: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for pid in marked_pids(&suffix) {
        let env = environ(pid);
        if env.get("FAKE_ROLE").map(String::as_str) == Some("worker") {
            continue;
        }
        gateways
            .entry(env.get("OPENCLAW_STATE_DIR").cloned().unwrap_or_default())
            .or_default()
            .push(pid);
    }
    assert_eq!(gateways.len(), names.len(), "one state dir per instance: {gateways:?}");
    for (state, pids) in &gateways {
        assert_eq!(pids.len(), 1, "duplicate gateways on {state}: {pids:?}");
    }
    for i in status["instances"].as_array().expect("instances") {
        let gw = i["pid"].as_i64().expect("pid") as i32;
        assert!(alive(gw));
        let profile = i["profile"].as_str().expect("profile");
        for pid in marked_pids(&format!("{profile}{suffix}")) {
            if pid != gw {
                assert_eq!(
                    ppid(pid),
                    Some(gw),
                    "worker {pid} of {profile} is an orphan (not under gateway {gw})"
                );
            }
        }
    }
    eprintln!(
        "figure: chaos {} signals ({sent:?}) in {chaos_s:.1} s; {restarts} restarts; all ready {recovery_s:.1} s after; no zombie, orphan or duplicate",
        sent.values().sum::<usize>()
    );
}
