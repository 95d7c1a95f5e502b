//! Rolling apply with rollback against the stand-in gateway (docs/rollout.md): the order
//! (standbys first, main covered), and every way a change fails its proof (parked on a refused
//! config, not ready in time, crash loop, an exit or a liveness failure during the soak), an edit
//! during a rollout, a daemon restart in the middle of one, a held change, `rollback: false`.

use crate::support::*;
use clawherd::observe::events::{FleetEvent, What};
use std::path::PathBuf;
use std::time::Duration;

const D: Duration = FAKE_DEADLINE;

/// A config the stand-in runs with, and one it refuses (exit 78, `Unrecognized key`).
const GOOD: &str = "{ gateway: { mode: \"local\" } }\n";
const BAD: &str = "{ gateway: { mode: \"local\" }, fakeRefuse: true }\n";

fn two_ports(salt: u32) -> (u16, u16) {
    let a = free_base(salt);
    let b = free_base(salt + 1);
    (a, if a.abs_diff(b) < 120 { a + 200 } else { b })
}

fn reload(fleet: &TestFleet) -> (i32, String, String) {
    run_clawherd(&["reload", "-f", &fleet.path.to_string_lossy()])
}

/// Replaces `from` by `to` in the fleet file (which must contain it).
fn edit(fleet: &TestFleet, from: &str, to: &str) {
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    assert!(text.contains(from), "{from:?} not in\n{text}");
    std::fs::write(&fleet.path, text.replace(from, to)).expect("write");
}

fn config_of(fleet: &TestFleet, profile: &str) -> PathBuf {
    fleet.dir.path().join(format!("{profile}.json5"))
}

fn status_row(fleet: &TestFleet, profile: &str) -> serde_json::Value {
    let (code, out, err) = run_clawherd(&["status", "--json", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).expect("json");
    s["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .find(|i| i["profile"] == profile)
        .cloned()
        .expect("profile in status")
}

/// The details of a `rolled_back` event.
struct Back {
    reason: String,
    error: Option<String>,
    rejected: Option<PathBuf>,
    restored: bool,
    restarted: bool,
    message: String,
}

fn back(e: &FleetEvent) -> Back {
    match &e.what {
        What::RolledBack {
            reason,
            error,
            rejected_config,
            config_restored,
            restarted,
        } => Back {
            reason: reason.clone(),
            error: error.clone(),
            rejected: rejected_config.as_ref().map(PathBuf::from),
            restored: *config_restored,
            restarted: *restarted,
            message: e.message.clone(),
        },
        other => panic!("not rolled_back: {other:?}"),
    }
}

/// Index of the first event at or after `from` of `kind` about `profile`.
fn index_of(d: &Daemon, from: usize, kind: &str, profile: &str) -> usize {
    d.wait_event_from(
        Mark { log: 0, events: from },
        &format!("{kind} of {profile}"),
        |e| e.kind() == kind && e.profile.as_deref() == Some(profile),
        D,
    )
    .0
}

/// A change to both sides of a pair goes standby first (the canary), then main, with the
/// cold standby started and ready before main is restarted, and stopped again once main
/// proved its change; never both restarted at once.
#[test]
fn standby_first_then_main_with_the_cold_standby_covering() {
    let (a, b) = two_ports(301);
    let main = TestProfile::new("main", "main", a).env("V", "1");
    let rescue = TestProfile::new("rescue", "rescue", b).env("V", "1").yaml("    standby: cold\n");
    let fleet = TestFleet::fake(&[main, rescue], "");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let mark = d.mark();
    edit(&fleet, "V: \"1\"", "V: \"2\"");
    let (code, out, err) = reload(&fleet);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("restarted main, rescue"), "{out}");
    let (start, started) = d.wait_event_from(mark, "rollout_started", |e| e.kind() == "rollout_started", D);
    assert!(
        matches!(&started.what, What::RolloutStarted { order } if order == &["rescue", "main"]),
        "{started:?}"
    );
    let rescue_applying = index_of(&d, start, "change_applying", "rescue");
    let rescue_verified = index_of(&d, rescue_applying, "change_verified", "rescue");
    let main_applying = index_of(&d, rescue_verified, "change_applying", "main");
    let events = d.events();
    assert!(
        matches!(&events[main_applying].what, What::ChangeApplying { covered_by: Some(s) } if s == "rescue"),
        "{:?}",
        events[main_applying]
    );
    // The cold standby was ready again, covering, before main was restarted.
    assert!(
        events[rescue_verified..main_applying]
            .iter()
            .any(|e| e.kind() == "ready" && e.profile.as_deref() == Some("rescue")),
        "{events:#?}"
    );
    let main_verified = index_of(&d, main_applying, "change_verified", "main");
    let (_, fin) = d.wait_event_from(mark, "rollout_finished", |e| e.kind() == "rollout_finished", D);
    assert!(
        matches!(&fin.what, What::RolloutFinished { verified, rolled_back, held } if verified == &["rescue", "main"] && rolled_back.is_empty() && held.is_empty()),
        "{fin:?}"
    );
    // Main was never down while the standby was down too: main's old gateway exited only
    // after rescue was ready.
    let main_exit = index_of(&d, main_applying, "exited", "main");
    assert!(main_exit < main_verified);
    wait_until("the cold standby is stopped again", D, || {
        status_row(&fleet, "rescue")["state"] == "stopped"
    });
    assert_eq!(status_row(&fleet, "main")["rollout"], "verified");
}

/// Starts main (with `yaml`) on a good config, waits for its last-known-good and writes a config
/// it refuses (no `reload`: the configs are watched). Returns the fleet, the daemon and the
/// `rolled_back` event.
fn refused_config(salt: u32, yaml: &str) -> (TestFleet, Daemon, Back) {
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", free_base(salt)).yaml(yaml)], "");
    let config = config_of(&fleet, "main");
    std::fs::write(&config, GOOD).expect("write config");
    let d = Daemon::start(&fleet.path);
    d.wait_event(0, "known_good", "main", D);
    let mark = d.mark();
    // An OpenClaw config is watched even without `watch: true`: the edit is rolled out.
    std::fs::write(&config, BAD).expect("write config");
    let b = back(&d.wait_event(mark, "rolled_back", "main", D));
    (fleet, d, b)
}

/// A config the gateway refuses (exit 78) is rolled back: the last-known-good content is
/// written back, the refused one kept as `<config>.rejected-<timestamp>` and named in the
/// event, with the gateway's own error line. The edit is seen without `watch: true`.
#[test]
fn a_refused_config_is_rolled_back_and_kept_beside_the_original() {
    let (fleet, _d, b) = refused_config(311, "");
    let config = config_of(&fleet, "main");
    assert!(b.reason.starts_with("parked on a configuration error"), "{}", b.reason);
    assert!(b.error.as_deref().is_some_and(|e| e.contains("Unrecognized key")), "{:?}", b.error);
    assert!(b.restored && b.restarted, "{}", b.message);
    let rejected = b.rejected.expect("the rejected config is kept");
    assert_eq!(rejected.parent(), config.parent());
    assert!(
        rejected.to_string_lossy().contains("main.json5.rejected-"),
        "{}",
        rejected.display()
    );
    assert_eq!(std::fs::read_to_string(&rejected).expect("rejected"), BAD);
    assert_eq!(std::fs::read_to_string(&config).expect("config"), GOOD);
    assert!(b.message.contains(&rejected.display().to_string()), "{}", b.message);
    let row = status_row(&fleet, "main");
    assert_eq!(row["state"], "ready", "{row}");
    assert!(
        row["rollout"].as_str().is_some_and(|n| n.starts_with("rolled back: parked")),
        "{row}"
    );
    let (_, table, _) = run_clawherd(&["status", "-f", &fleet.path.to_string_lossy()]);
    assert!(table.contains("rollout: rolled back: parked"), "{table}");
    // The lkg history holds the good content.
    let lkg = std::fs::read_to_string(fleet.dir.path().join(".clawherd/lkg/main.json")).expect("lkg");
    assert!(lkg.contains("mode: \\\"local\\\" }"), "{lkg}");
}

/// With `rollout.rollback: false` a refused config is reported, the rejected content kept, and
/// nothing is restored or restarted: the instance stays parked.
#[test]
fn rollback_off_reports_and_leaves_the_change() {
    let (fleet, _d, b) = refused_config(321, "    rollout: {rollback: false, soak: 1s}\n");
    let config = config_of(&fleet, "main");
    assert!(!b.restored && !b.restarted, "{}", b.message);
    assert!(b.message.contains("rollback is off"), "{}", b.message);
    assert_eq!(std::fs::read_to_string(&config).expect("config"), BAD);
    assert_eq!(status_row(&fleet, "main")["state"], "parked");
}

/// Starts a one-profile fleet, waits until its first run is recorded as last-known-good, then
/// changes its environment from `V=1` to `change` (extra `KEY: "value"` lines allowed) and
/// reloads. Returns the fleet, the daemon, the mark before the reload and the reload's code.
fn change_env(salt: u32, yaml: &str, change: &str) -> (TestFleet, Daemon, Mark, i32) {
    let a = free_base(salt);
    let main = TestProfile::new("main", "main", a).env("V", "1").yaml(yaml);
    let fleet = TestFleet::fake(&[main], "");
    let d = Daemon::start(&fleet.path);
    d.wait_event(0, "known_good", "main", D);
    let mark = d.mark();
    edit(&fleet, "      V: \"1\"\n", change);
    let (code, _, _) = reload(&fleet);
    (fleet, d, mark, code)
}

/// Changes main's environment (see [`change_env`]) so that it fails its proof, and checks
/// that `reload` exits `code`, that `rolled_back` gives a reason starting with `reason`, and
/// that main is ready again on its last-known-good.
fn fails_and_rolls_back(salt: u32, yaml: &str, change: &str, code: i32, reason: &str) {
    let (fleet, d, mark, got) = change_env(salt, yaml, change);
    assert_eq!(got, code);
    let b = back(&d.wait_event(mark, "rolled_back", "main", D));
    assert!(b.reason.starts_with(reason), "{}", b.reason);
    assert!(b.restarted && b.rejected.is_none(), "{}", b.message);
    assert_eq!(status_row(&fleet, "main")["state"], "ready");
}

/// Not ready within `verify_timeout` → rolled back to the last-known-good.
#[test]
fn not_ready_in_time_is_rolled_back() {
    let yaml = "    rollout: {verify_timeout: 2s, soak: 1s}\n";
    let change = "      V: \"2\"\n      FAKE_READY_DELAY_MS: \"600000\"\n";
    fails_and_rolls_back(331, yaml, change, 78, "not ready within 2s (state starting)");
}

/// A crash loop → rolled back.
#[test]
fn a_crash_loop_is_rolled_back() {
    let yaml = "    rollout: {verify_timeout: 40s, soak: 1s}\n    restart: {crash_loop: {max_starts: 2, window: 1m}}\n";
    let change = "      V: \"2\"\n      FAKE_EXIT_CODE: \"1\"\n";
    fails_and_rolls_back(341, yaml, change, 78, "crash loop (last exit: exit 1)");
}

/// Ready, then an exit during the soak → rolled back; the reload had already answered (0),
/// as the change was ready.
#[test]
fn an_exit_during_the_soak_is_rolled_back() {
    let change = "      V: \"2\"\n      FAKE_EXIT_AFTER_MS: \"1500\"\n";
    fails_and_rolls_back(351, "    rollout: {soak: 6s}\n", change, 0, "exited during the soak (exit 1)");
}

/// Ready, then liveness failures during the soak → rolled back.
#[test]
fn liveness_failures_during_the_soak_are_rolled_back() {
    let yaml = "    rollout: {soak: 6s}\n    health: {period: 200ms, timeout: 500ms, failure_threshold: 2}\n";
    let change = "      V: \"2\"\n      FAKE_UNHEALTHY_AFTER_MS: \"300\"\n";
    fails_and_rolls_back(361, yaml, change, 0, "liveness failed during the soak (2 probes in a row)");
}

/// Starts main (refusing a bad config 3 s after start), waits for its last-known-good, writes
/// the bad config (watched: a reload follows); returns once the new gateway has read it.
fn refusing_change(salt: u32) -> (TestFleet, Daemon, Mark) {
    let a = free_base(salt);
    let main = TestProfile::new("main", "main", a)
        .env("FAKE_REFUSE_DELAY_MS", "3000")
        .yaml("    rollout: {verify_timeout: 40s, soak: 1s}\n");
    let fleet = TestFleet::fake(&[main], "");
    std::fs::write(config_of(&fleet, "main"), GOOD).expect("write config");
    let d = Daemon::start(&fleet.path);
    d.wait_event(0, "known_good", "main", D);
    let mark = d.mark();
    // Watched: the edit starts a reload and its rollout.
    std::fs::write(config_of(&fleet, "main"), BAD).expect("write config");
    d.wait_event(mark, "change_applying", "main", D);
    // The new gateway has read the refused config (it says so at once, then waits 3 s).
    let log = fleet.dir.path().join(".clawherd/logs/main.log");
    wait_until("the new gateway read the refused config", D, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("the config has fakeRefuse"))
    });
    (fleet, d, mark)
}

/// An edit of the config made while the rollout proves a change is never overwritten: the
/// failed change is recorded, the edit left as is and said so, the refused content kept; the
/// edit is then rolled out in turn.
#[test]
fn an_edit_during_a_rollout_is_never_overwritten() {
    let (fleet, d, mark) = refusing_change(371);
    let edited = "{ gateway: { mode: \"local\" } } // edited during the rollout\n";
    std::fs::write(config_of(&fleet, "main"), edited).expect("write config");
    let b = back(&d.wait_event(mark, "rolled_back", "main", D));
    assert!(!b.restored && !b.restarted, "{}", b.message);
    assert!(b.message.contains("changed during the rollout"), "{}", b.message);
    assert_eq!(std::fs::read_to_string(config_of(&fleet, "main")).expect("config"), edited);
    let rejected = b.rejected.expect("kept");
    assert_eq!(std::fs::read_to_string(rejected).expect("rejected"), BAD);
    // The edit itself is watched: it is rolled out next, and proved.
    let verified = d.wait_event(mark, "change_verified", "main", D);
    assert_eq!(verified.profile.as_deref(), Some("main"));
    assert_eq!(status_row(&fleet, "main")["state"], "ready");
}

/// A `clawherd reload` asked for while the file watch's rollout applies the same config edit
/// gets that rollout's verdict: the edit was refused and rolled back, so the reload exits 78 and
/// names the rollout that applied it, instead of finding nothing left to change and exiting 0.
#[test]
fn a_reload_racing_the_file_watch_gets_the_verdict_of_the_rollout_that_applied_its_change() {
    let (fleet, d, mark) = refusing_change(397);
    let (code, out, err) = reload(&fleet);
    assert_eq!(code, 78, "{out}{err}");
    assert!(
        out.contains("a rollout started by a file change or SIGHUP was in progress") && out.contains("rolled back main"),
        "{out}"
    );
    assert!(err.contains("rolled back: main"), "{err}");
    d.wait_event(mark, "rolled_back", "main", D);
}

/// clawherd killed in the middle of a rollout: the next daemon finds the journal, proves the
/// unproved change, and rolls it back to the recorded last-known-good config when it fails.
#[test]
fn a_daemon_restart_in_the_middle_of_a_rollout_rolls_it_back() {
    let (fleet, mut d, _) = refusing_change(381);
    assert!(fleet.dir.path().join(".clawherd/rollout.json").exists());
    d.signal(9);
    d.wait_exit(D);
    let d2 = Daemon::start(&fleet.path);
    let (_, resumed) = d2.wait_event_from(0, "rollout_started", |e| e.kind() == "rollout_started", D);
    assert!(resumed.message.contains("resuming"), "{}", resumed.message);
    let b = back(&d2.wait_event(0, "rolled_back", "main", D));
    assert!(b.restored && b.restarted, "{}", b.message);
    assert_eq!(std::fs::read_to_string(config_of(&fleet, "main")).expect("config"), GOOD);
    assert_eq!(std::fs::read_to_string(b.rejected.expect("kept")).expect("rejected"), BAD);
    d2.wait_event_from(0, "rollout_finished", |e| e.kind() == "rollout_finished", D);
    assert!(!fleet.dir.path().join(".clawherd/rollout.json").exists());
    assert_eq!(status_row(&fleet, "main")["state"], "ready");
}

/// clawherd killed while a change of main's profile (its environment, in the fleet file) is
/// being proved: the next daemon resumes it and, when it fails, rolls back to the whole
/// last-known-good, the recorded profile as well as the config, although the fleet file now
/// says the change. Never the new profile with the old config.
#[test]
fn a_daemon_restart_in_the_middle_of_a_rollout_rolls_the_profile_back_too() {
    let main = TestProfile::new("main", "main", free_base(399))
        .env("V", "1")
        .yaml("    rollout: {verify_timeout: 60s, soak: 1s}\n");
    let fleet = TestFleet::fake(&[main], "");
    std::fs::write(config_of(&fleet, "main"), GOOD).expect("write config");
    let mut d = Daemon::start(&fleet.path);
    d.wait_event(0, "known_good", "main", D);
    let mark = d.mark();
    edit(
        &fleet,
        "      V: \"1\"\n",
        "      V: \"2\"\n      FAKE_READY_DELAY_MS: \"600000\"\n",
    );
    // SIGHUP: a reload nobody waits for; the change never gets ready.
    d.signal(1);
    d.wait_event(mark, "change_applying", "main", D);
    d.signal(9);
    d.wait_exit(D);
    // The next daemon gives up on the change sooner.
    edit(&fleet, "verify_timeout: 60s", "verify_timeout: 3s");
    let d2 = Daemon::start(&fleet.path);
    let b = back(&d2.wait_event(0, "rolled_back", "main", D));
    assert!(b.reason.starts_with("not ready within 3s"), "{}", b.reason);
    assert!(b.restarted && !b.message.contains("not ready either"), "{}", b.message);
    d2.wait_event_from(0, "rollout_finished", |e| e.kind() == "rollout_finished", D);
    let (code, env, err) = run_clawherd(&["env", "main", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        env.contains("V=1") && !env.contains("FAKE_READY_DELAY_MS"),
        "main runs its last-known-good profile:\n{env}"
    );
    assert_eq!(status_row(&fleet, "main")["state"], "ready");
    assert_eq!(std::fs::read_to_string(config_of(&fleet, "main")).expect("config"), GOOD);
}

/// clawherd killed while a change to both sides of a pair is being proved (rescue, the canary,
/// in its soak; main not yet restarted): the next daemon does not start the unfinished
/// instances from the fleet file at once, but resumes the rollout in its order. Rescue is
/// started and proved first, and main is started only after rescue is ready to cover it. The
/// pair is never left half-applied: both end verified and ready.
#[test]
fn a_daemon_restart_in_the_middle_of_a_rollout_resumes_it_in_order() {
    let (a, b) = two_ports(385);
    let soak = "    rollout: {soak: 60s}\n";
    let main = TestProfile::new("main", "main", a).env("V", "1").yaml(soak);
    let rescue = TestProfile::new("rescue", "rescue", b).env("V", "1").yaml(soak);
    let fleet = TestFleet::fake(&[main, rescue], "");
    let mut d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    d.wait_ready(0, "rescue", D);
    let mark = d.mark();
    edit(&fleet, "V: \"1\"", "V: \"2\"");
    // SIGHUP: a reload nobody waits for (rescue's soak takes a minute).
    d.signal(1);
    let applying = index_of(&d, mark.events, "change_applying", "rescue");
    index_of(&d, applying, "ready", "rescue");
    assert!(fleet.dir.path().join(".clawherd/rollout.json").exists());
    d.signal(9);
    d.wait_exit(D);
    // The next daemon proves with a short soak.
    edit(&fleet, "soak: 60s", "soak: 1s");
    // Every event from here on is the new daemon's.
    let before = d.events().len();
    let d2 = Daemon::start(&fleet.path);
    let (start, resumed) = d2.wait_event_from(0, "rollout_started", |e| e.kind() == "rollout_started", D);
    assert!(resumed.message.contains("resuming"), "{}", resumed.message);
    assert!(
        matches!(&resumed.what, What::RolloutStarted { order } if order == &["rescue", "main"]),
        "{resumed:?}"
    );
    let (_, fin) = d2.wait_event_from(start, "rollout_finished", |e| e.kind() == "rollout_finished", D);
    assert!(
        matches!(&fin.what, What::RolloutFinished { verified, rolled_back, held } if verified == &["rescue", "main"] && rolled_back.is_empty() && held.is_empty()),
        "{fin:?}"
    );
    let events = d2.events();
    let first = |kind: &str, profile: &str| {
        events
            .iter()
            .enumerate()
            .skip(before)
            .find(|(_, e)| e.kind() == kind && e.profile.as_deref() == Some(profile))
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no {kind} of {profile}: {events:#?}"))
    };
    let main_spawned = first("spawned", "main");
    let main_applying = first("change_applying", "main");
    assert!(
        first("change_verified", "rescue") < main_applying && main_applying < main_spawned,
        "main was started before rescue proved its change: {events:#?}"
    );
    assert!(
        matches!(&events[main_applying].what, What::ChangeApplying { covered_by: Some(s) } if s == "rescue"),
        "{:?}",
        events[main_applying]
    );
    assert!(!fleet.dir.path().join(".clawherd/rollout.json").exists());
    for p in ["main", "rescue"] {
        let row = status_row(&fleet, p);
        assert_eq!(
            (row["state"].as_str(), row["rollout"].as_str()),
            (Some("ready"), Some("verified")),
            "{p}"
        );
    }
}

/// The watched files follow the fleet: a profile added by a reload, with its config in a
/// folder nothing watched before, has its config watched from then on (an edit of it is
/// rolled out and proved without a `reload`).
#[test]
fn the_config_of_a_profile_added_by_a_reload_is_watched() {
    let (a, b) = two_ports(411);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a)], "");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    // The fleet with rescue added, its config in a folder of its own.
    let both = TestFleet::fake(&[TestProfile::new("main", "main", a), TestProfile::new("rescue", "rescue", b)], "");
    let text = std::fs::read_to_string(&both.path).expect("read");
    std::fs::create_dir(fleet.dir.path().join("rescue-conf")).expect("mkdir");
    std::fs::write(
        &fleet.path,
        text.replace("config: rescue.json5", "config: rescue-conf/rescue.json5"),
    )
    .expect("write");
    let (code, out, err) = reload(&fleet);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("added rescue"), "{out}");
    d.wait_ready(0, "rescue", D);
    let mark = d.mark();
    let config = fleet.dir.path().join("rescue-conf/rescue.json5");
    std::fs::write(&config, GOOD).expect("write config");
    d.wait_event(mark, "change_verified", "rescue", D);
    assert_eq!(status_row(&fleet, "rescue")["rollout"], "verified");
}

/// A change to main whose hot standby is not ready is held: main keeps running unchanged, and
/// `reload` says so (exit 69).
#[test]
fn a_change_to_main_without_a_ready_standby_is_held() {
    let (a, b) = two_ports(391);
    let main = TestProfile::new("main", "main", a)
        .env("V", "1")
        .yaml("    rollout: {verify_timeout: 2s}\n");
    let rescue = TestProfile::new("rescue", "rescue", b).env("FAKE_EXIT_CODE", "78");
    let fleet = TestFleet::fake(&[main, rescue], "");
    let d = Daemon::start(&fleet.path);
    let pid = d.wait_ready(0, "main", D);
    d.wait_line(&["profile=rescue", "PARKED"], D);
    let mark = d.mark();
    edit(&fleet, "V: \"1\"", "V: \"2\"");
    let (code, _, err) = reload(&fleet);
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("not applied to main"), "{err}");
    let e = d.wait_event(mark, "change_held", "main", D);
    assert!(e.message.contains("rescue must cover main"), "{}", e.message);
    assert_eq!(status_row(&fleet, "main")["pid"].as_i64(), Some(pid as i64));
}

/// Without `watch: true`, an OpenClaw config edit that clawherd's proof refuses (the trial's
/// case: rescue's workspace moved inside main's state dir), in a config OpenClaw applies by
/// itself (no `gateway.reload.mode: "off"`), is a failed change: `reload_refused`, then
/// `rolled_back` with the edit kept as rejected and the content the gateway was started with
/// written back, the gateway left running. A valid edit is rolled out and proved.
#[test]
fn a_live_config_change_clawherd_refuses_is_rolled_back() {
    let (a, b) = two_ports(401);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a), TestProfile::new("rescue", "rescue", b)], "");
    let config = config_of(&fleet, "rescue");
    std::fs::write(&config, GOOD).expect("write config");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    let pid = d.wait_ready(0, "rescue", D);
    let mark = d.mark();
    let inside = fleet.dir.path().join("state/main/rescue-workspace");
    let refused = format!(
        "{{ gateway: {{ mode: \"local\" }}, agents: {{ defaults: {{ workspace: \"{}\" }} }} }}\n",
        inside.display()
    );
    std::fs::write(&config, &refused).expect("write config");
    d.wait_event_from(mark, "reload_refused", |e| e.kind() == "reload_refused", D);
    let b = back(&d.wait_event(mark, "rolled_back", "rescue", D));
    assert!(b.reason.starts_with("a live config change"), "{}", b.reason);
    assert!(b.restored && !b.restarted, "{}", b.message);
    assert_eq!(std::fs::read_to_string(b.rejected.expect("kept")).expect("rejected"), refused);
    assert_eq!(std::fs::read_to_string(&config).expect("config"), GOOD);
    assert_eq!(status_row(&fleet, "rescue")["pid"].as_i64(), Some(i64::from(pid)));
    let mark = d.mark();
    std::fs::write(&config, "{ gateway: { mode: \"local\", bind: \"loopback\" } }\n").expect("write config");
    d.wait_event(mark, "change_verified", "rescue", D);
}

/// A failed change of main that leaves it down (rollback off) while the cold standby the
/// rollout started covers it: the pair's controller announces the failover (event, hooks)
/// rather than taking the running cover for a failover already done, and keeps the standby.
#[test]
fn a_main_left_down_by_a_failed_change_is_announced_as_a_failover() {
    let (a, b) = two_ports(341);
    let main = TestProfile::new("main", "main", a).yaml("    rollout: {rollback: false, soak: 1s}\n");
    let rescue = TestProfile::new("rescue", "rescue", b).yaml("    standby: cold\n");
    let fleet = TestFleet::fake(&[main, rescue], "");
    let config = config_of(&fleet, "main");
    std::fs::write(&config, GOOD).expect("write config");
    let d = Daemon::start(&fleet.path);
    d.wait_event(0, "known_good", "main", D);
    let mark = d.mark();
    std::fs::write(&config, BAD).expect("write config");
    let (rolled, _) = d.wait_event_from(mark, "rolled_back of main", |e| e.kind() == "rolled_back", D);
    let (failover, e) = d.wait_event_from(mark, "failover of rescue", |e| e.kind() == "failover", D);
    assert!(failover > rolled, "announced after the failed change: {e:?}");
    assert_eq!(e.profile.as_deref(), Some("rescue"));
    assert_eq!(status_row(&fleet, "main")["state"], "parked");
    assert_eq!(status_row(&fleet, "rescue")["state"], "ready", "the cover keeps serving");
}
