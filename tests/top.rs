//! `clawherd top`: layout snapshots on ratatui's test backend (80×24 and 200×50), key handling
//! on the pure app, and an end-to-end run in tmux against a stand-in fleet.
//!
//! Snapshots are the rendered lines under `tests/snapshots/`; a missing one is written, and
//! `UPDATE_SNAPSHOTS=1` rewrites them all (then read the diff before committing).

use crate::support::*;
use clawherd::cli::top::app::{Action, App, Effect, Mode, Pane};
use clawherd::cli::top::draw::draw;
use clawherd::control::protocol::{PortReport, StandbyReport, StatusResponse};
use clawherd::instance::ExitKind;
use clawherd::observe::events::FleetEvent;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// 2026-12-01T14:35:00Z: the fixture's "now".
fn now() -> SystemTime {
    humantime::parse_rfc3339("2026-12-01T14:35:00Z").expect("fixture time")
}

fn status() -> StatusResponse {
    serde_json::from_str(
        r#"{"api":1,"fleet":"/srv/fleet/fleet.yaml","pid":15566,"rss_bytes":11288576,"instances":[
        {"profile":"main","role":"main","flavor":"openclaw","state":"ready","reason":null,"pid":15570,
         "uptime_s":4.2,"restarts":1,"last_exit":"killed by signal 9 (SIGKILL)","last_exit_at":"2026-12-01T14:34:55Z",
         "base_port":18789,"ready":true,"live":true,
         "tree":{"processes":3,"rss_bytes":1058963456,"cpu_percent":64.4,"cpu_span_s":1.0},
         "openclaw":{"failing":[],"suppressed":["telegram"],"event_loop_degraded":null},"version":"2026.9.6"},
        {"profile":"rescue","role":"rescue","flavor":"openclaw","state":"ready","reason":null,"pid":15571,
         "uptime_s":300.0,"restarts":0,"last_exit":null,"last_exit_at":null,"base_port":19789,"ready":true,"live":true,
         "tree":{"processes":3,"rss_bytes":1014700000,"cpu_percent":5.0,"cpu_span_s":1.0},
         "openclaw":{"failing":[],"suppressed":[],"event_loop_degraded":null},"version":"2026.9.5","rollout":"verified"},
        {"profile":"lab","role":"main","flavor":"openclaw","state":"crash-loop","reason":null,"pid":null,
         "uptime_s":null,"restarts":6,"last_exit":"exit 1","last_exit_at":"2026-12-01T14:34:30Z","base_port":20789,
         "ready":false,"live":null,"tree":{"processes":0,"rss_bytes":0,"cpu_percent":0.0,"cpu_span_s":0.2},
         "openclaw":null,"rollout":"rolled back: crash loop (last exit: exit 1)"}]}"#,
    )
    .expect("fixture status")
}

fn event(line: &str) -> FleetEvent {
    serde_json::from_str(line).expect("fixture event")
}

fn events() -> Vec<FleetEvent> {
    [
        r#"{"ts":"2026-12-01T14:30:00.000Z","kind":"spawned","profile":"main","pid":15500,"message":"gateway spawned","detail":{"port":18789}}"#,
        r#"{"ts":"2026-12-01T14:34:55.000Z","kind":"exited","profile":"main","pid":15500,"message":"killed by signal 9 (SIGKILL)","detail":{"requested":false,"uptime_s":295.0,"code":null,"signal":9}}"#,
        r#"{"ts":"2026-12-01T14:34:55.100Z","kind":"restart_scheduled","profile":"main","pid":null,"message":"restart in 0s","detail":{"delay_s":0.0,"restarts":1}}"#,
        r#"{"ts":"2026-12-01T14:34:55.200Z","kind":"spawned","profile":"main","pid":15570,"message":"gateway spawned","detail":{"port":18789}}"#,
        r#"{"ts":"2026-12-01T14:34:56.000Z","kind":"ready","profile":"main","pid":15570,"message":"ready after 0.8 s","detail":{"after_s":0.8}}"#,
        r#"{"ts":"2026-12-01T14:34:30.000Z","kind":"crash_loop","profile":"lab","pid":null,"message":"6 starts in 300s; next try in 60s","detail":{"starts":6,"window_s":300,"retry_in_s":60}}"#,
        r#"{"ts":"2026-12-01T14:20:00.000Z","kind":"failover","profile":"rescue","pid":null,"message":"main down: not ready for 60s","detail":{"standby_for":"main","reason":"not ready for 60s","mode":"hot"}}"#,
        r#"{"ts":"2026-12-01T14:25:00.000Z","kind":"failback","profile":"rescue","pid":null,"message":"main ready again","detail":{"standby_for":"main","mode":"hot"}}"#,
    ]
    .into_iter()
    .map(event)
    .collect()
}

/// The fixture app: three instances with a few seconds of history and the events above.
fn app(color: bool) -> App {
    let mut app = App::new(color);
    for (i, cpu) in [10.0, 30.0, 64.4].into_iter().enumerate() {
        let mut s = status();
        s.instances[0].tree.cpu_percent = cpu;
        s.instances[0].tree.rss_bytes += i as u64 * 50_000_000;
        app.on_status(s, now());
    }
    for e in events() {
        app.on_event(e);
    }
    app
}

fn render(app: &App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| draw(app, f)).expect("draw");
    t.backend().buffer().clone()
}

/// The buffer's text, one line per row, trailing blanks trimmed.
fn text(b: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        let line: String = (0..b.area.width).map(|x| b[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() || !path.exists() {
        std::fs::create_dir_all(path.parent().expect("snapshots dir")).expect("create snapshots dir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).expect("read snapshot");
    assert!(
        expected == actual,
        "{name} differs; rerun with UPDATE_SNAPSHOTS=1 if the change is meant\n--- expected\n{expected}--- actual\n{actual}"
    );
}

fn key(c: char) -> KeyEvent {
    KeyEvent::from(KeyCode::Char(c))
}

#[test]
fn top_snapshot_80x24() {
    let t = text(&render(&app(true), 80, 24));
    snapshot("top_80x24.txt", &t);
    for needle in [
        "clawherd top",
        "2/3 ready",
        "main",
        "rescue",
        "crash-loop",
        "rescue covers main (hot)",
        "free: ",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
}

/// Issue 15: the fleet's warnings were shown by `check` and `reload` only; `top` lists them
/// (from `status`) under the instances, and counts them in the title.
#[test]
fn top_shows_the_fleets_warnings() {
    let mut a = app(true);
    let mut s = status();
    s.warnings = vec![
        "/srv/fleet/fleet.yaml:6:11: warning: profile 'main': profiles.main.port: base port 18790 differs from gateway.port 18789 in /srv/fleet/main.json5\n  hint: set gateway.port to 18790 in the config, or remove `port` from the fleet file".into(),
        "/srv/fleet/fleet.yaml:3:9: warning: `defaults.port` gives every profile the same base port\n  hint: set `port` per profile instead".into(),
    ];
    a.on_status(s, now());
    let t = text(&render(&a, 80, 24));
    snapshot("top_warnings_80x24.txt", &t);
    for needle in [
        "2 warnings",
        " warnings (",
        "fleet.yaml:6:11: warning: profile 'main'",
        "fleet.yaml:3:9: warning: `defaults.port`",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    assert!(!t.contains("hint:"), "one line per warning: {t}");
    let wide = text(&render(&a, 200, 50));
    assert!(wide.contains("base port 18790 differs from gateway.port 18789"), "{wide}");
    let mut many = status();
    many.warnings = (1..=5).map(|i| format!("fleet.yaml:{i}:1: warning: number {i}")).collect();
    a.on_status(many, now());
    let t = text(&render(&a, 200, 50));
    assert!(
        t.contains("5 warnings") && t.contains("number 3") && !t.contains("number 4") && t.contains("… and 2 more"),
        "{t}"
    );
}

/// Issue 15: `top` told exit causes and pairs only from events (gone from the replay after a
/// while, and the hot/cold mode only after a failover): the status answer now carries
/// `last_exit_kind` and, for a standby, `standby` (whom it covers, hot or cold, the failover
/// clock); with no events at all, `top` draws them.
#[test]
fn top_draws_exit_kinds_and_the_failover_clock_from_status() {
    let mut s = status();
    s.instances[0].last_exit_kind = Some(ExitKind::Handoff);
    s.instances[0].ready = false;
    s.instances[0].state = clawherd::instance::Phase::Unready;
    s.instances[2].last_exit_kind = Some(ExitKind::Requested);
    s.instances[1].standby = Some(StandbyReport {
        covers: "main".into(),
        mode: "cold".into(),
        failover_in_s: Some(42.3),
        failed_over: false,
    });
    let mut a = App::new(true);
    a.on_status(s.clone(), now());
    let small = text(&render(&a, 80, 24));
    snapshot("top_standby_80x24.txt", &small);
    assert!(small.contains("rescue covers main (cold) failover in 42s"), "{small}");
    assert!(!small.contains("(cold?)") && !small.contains("(hot"), "{small}");
    let wide = text(&render(&a, 200, 50));
    snapshot("top_standby_200x50.txt", &wide);
    for needle in ["signal 9 handoff", "exit 1 asked", "rescue covers main (cold) failover in 42s"] {
        assert!(wide.contains(needle), "missing {needle:?} in\n{wide}");
    }
    // A restart after failed liveness probes has its own word, whole in its column.
    let mut unhealthy = s.clone();
    unhealthy.instances[0].last_exit_kind = Some(ExitKind::Unhealthy);
    let mut u = App::new(true);
    u.on_status(unhealthy, now());
    let t = text(&render(&u, 200, 50));
    assert!(t.contains("signal 9 unhealthy "), "{t}");
    // A standby that took over says so, from status alone.
    if let Some(sb) = s.instances[1].standby.as_mut() {
        sb.failover_in_s = None;
        sb.failed_over = true;
    }
    a.on_status(s, now());
    let t = text(&render(&a, 200, 50));
    assert!(t.contains("rescue covers main (cold) ACTIVE") && !t.contains("failover in"), "{t}");
}

/// With each instance's planned ports in `status` (`ports`), the ports panel draws listeners
/// and ranges apart, as `clawherd ports --chart` does; without them (an older daemon), each
/// footprint whole.
#[test]
fn top_draws_each_instances_listeners_and_ranges() {
    let port = |name: &str, lo: u16, hi: u16| PortReport {
        name: name.into(),
        lo,
        hi,
        connects: false,
    };
    let mut s = status();
    for (i, base) in [(0, 18789), (1, 19789), (2, 20789)] {
        s.instances[i].ports = vec![
            port("gateway", base, base),
            port("browser control", base + 2, base + 2),
            port("CDP range", base + 11, base + 110),
        ];
    }
    let mut a = App::new(false);
    a.on_status(s, now());
    let t = text(&render(&a, 200, 50));
    assert!(t.contains("main   █▒▒"), "main's bar: a listener, then the CDP range:\n{t}");
    assert!(t.contains("free: 18900-19788 (889), 19900-20788 (889)"), "{t}");
    let old = text(&render(&app(false), 200, 50));
    assert!(
        old.contains("main   ███") && !old.contains('▒'),
        "an older daemon's footprint is drawn whole:\n{old}"
    );
}

#[test]
fn top_snapshot_200x50() {
    let t = text(&render(&app(true), 200, 50));
    snapshot("top_200x50.txt", &t);
    // A proved rollout is the normal case and says nothing.
    assert!(!t.contains("verified"), "{t}");
    for needle in [
        "signal 9 crash",
        "suppressed telegram",
        "last failback 10m0s ago",
        "free: 18900-19788 (889), 19900-20788 (889)",
        "crash_loop",
        "CPU HISTORY",
        "NOTES",
        "rollout: rolled back: crash loop (last exit: exit 1)",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
}

#[test]
fn top_says_disconnected_and_keeps_the_last_view() {
    let mut a = app(true);
    a.on_disconnected("cannot connect".into(), now());
    let t = text(&render(&a, 80, 24));
    assert!(t.lines().next().is_some_and(|l| l.contains("disconnected — retrying")), "{t}");
    assert!(t.contains("as last seen") && t.contains("rescue"), "{t}");
    a.on_status(status(), now());
    assert!(!text(&render(&a, 80, 24)).contains("disconnected"));
}

#[test]
fn top_without_colour_uses_no_colour() {
    let b = render(&app(false), 200, 50);
    let coloured = b.content().iter().filter(|c| c.fg != Color::Reset || c.bg != Color::Reset).count();
    assert_eq!(coloured, 0, "NO_COLOR: no cell may carry a colour");
    let b = render(&app(true), 200, 50);
    assert!(
        b.content().iter().any(|c| c.fg == Color::Green),
        "colour terminals get a green ready"
    );
}

#[test]
fn top_restart_of_a_main_asks_first() {
    let mut a = app(true);
    assert_eq!(a.selected.as_deref(), Some("main"));
    assert!(a.on_key(key('r')).is_empty(), "no action before the confirmation");
    assert_eq!(
        a.mode,
        Mode::Confirm {
            profile: "main".into(),
            action: Action::Restart
        }
    );
    assert!(text(&render(&a, 80, 24)).contains("restart main (role main)? y = yes"));
    assert_eq!(
        a.on_key(key('y')),
        vec![Effect::Act {
            profile: "main".into(),
            action: Action::Restart
        }]
    );
    assert_eq!(a.mode, Mode::Normal);
    // Anything but y cancels; stop asks too; start does not.
    a.on_key(key('x'));
    assert!(a.on_key(key('n')).is_empty());
    assert_eq!(a.notice.as_deref(), Some("stop main: cancelled"));
    assert_eq!(
        a.on_key(key('s')),
        vec![Effect::Act {
            profile: "main".into(),
            action: Action::Start
        }]
    );
}

#[test]
fn top_restart_of_a_rescue_goes_at_once() {
    let mut a = app(true);
    a.on_key(KeyEvent::from(KeyCode::Down));
    assert_eq!(a.selected.as_deref(), Some("rescue"));
    assert_eq!(
        a.on_key(key('r')),
        vec![Effect::Act {
            profile: "rescue".into(),
            action: Action::Restart
        }]
    );
    // The selection stops at the ends.
    a.on_key(key('j'));
    a.on_key(key('j'));
    assert_eq!(a.selected.as_deref(), Some("lab"));
    a.on_key(key('k'));
    assert_eq!(a.selected.as_deref(), Some("rescue"));
}

#[test]
fn top_filter_narrows_instances_and_events() {
    let mut a = app(true);
    a.on_key(key('/'));
    assert_eq!(a.mode, Mode::Filter);
    for c in "resc".chars() {
        a.on_key(key(c));
    }
    // While typing, q is text, not quit.
    assert_eq!(a.filter, "resc");
    let shown: Vec<&str> = a.shown().iter().map(|i| i.profile.as_str()).collect();
    assert_eq!(shown, ["rescue"]);
    assert_eq!(a.selected.as_deref(), Some("rescue"), "the selection moves onto a shown profile");
    assert!(a.shown_events().iter().all(|e| e.profile.as_deref().is_none_or(|p| p == "rescue")));
    a.on_key(KeyEvent::from(KeyCode::Enter));
    assert_eq!(a.mode, Mode::Normal);
    let t = text(&render(&a, 80, 24));
    assert!(t.contains("instances matching 'resc'") && !t.contains("crash-loop"), "{t}");
    // By state too; Esc clears the filter first, then quits.
    a.filter = "crash".into();
    assert_eq!(a.shown().len(), 1);
    assert!(a.on_key(KeyEvent::from(KeyCode::Esc)).is_empty());
    assert_eq!(a.shown().len(), 3);
    assert_eq!(a.on_key(KeyEvent::from(KeyCode::Esc)), vec![Effect::Quit]);
}

#[test]
fn top_keys_quit_help_and_logs() {
    let mut a = app(true);
    assert_eq!(a.on_key(key('q')), vec![Effect::Quit]);
    assert_eq!(
        a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        vec![Effect::Quit]
    );
    a.on_key(key('?'));
    assert_eq!(a.mode, Mode::Help);
    assert!(text(&render(&a, 80, 24)).contains("restart it (asks first for a main-role profile)"));
    assert!(a.on_key(key('r')).is_empty(), "a key closes the help and does nothing else");
    assert_eq!(a.mode, Mode::Normal);
    // l follows the selected instance's log; moving the selection follows the next one.
    assert_eq!(a.on_key(key('l')), vec![Effect::FollowLogs(Some("main".into()))]);
    assert_eq!(a.pane, Pane::Logs);
    a.on_log_line("main", "2026-12-01T14:34:56.000Z [gateway] ready".into());
    a.on_log_line("rescue", "not followed".into());
    let t = text(&render(&a, 80, 24));
    assert!(
        t.contains("log of main (following)") && t.contains("[gateway] ready") && !t.contains("not followed"),
        "{t}"
    );
    assert_eq!(a.on_key(key('j')), vec![Effect::FollowLogs(Some("rescue".into()))]);
    assert!(a.log_lines.is_empty());
    assert_eq!(a.on_key(key('l')), vec![Effect::FollowLogs(None)]);
    assert_eq!(a.pane, Pane::Events);
}

#[test]
fn top_pairs_come_from_events_else_from_roles() {
    // Events said hot, main: known.
    let a = app(true);
    let p = a.pairs();
    assert_eq!(p.len(), 1);
    assert!(p[0].known && p[0].covers == "main" && p[0].mode == "hot" && !p[0].active);
    // Without events, a rescue stopped while the only main runs is taken for cold, with a `?`.
    let mut a = App::new(false);
    let mut s = status();
    s.instances.truncate(2);
    s.instances[1].state = clawherd::instance::Phase::Stopped;
    s.instances[1].pid = None;
    a.on_status(s, now());
    let p = a.pairs();
    assert!(!p[0].known && p[0].mode == "cold", "{p:?}");
    assert!(text(&render(&a, 80, 24)).contains("rescue covers main (cold?)"));
    // With two mains and no events, nothing can be said.
    let mut a = App::new(false);
    a.on_status(status(), now());
    assert!(a.pairs().is_empty());
}

#[test]
fn top_replayed_events_are_not_shown_twice() {
    let mut a = app(true);
    let n = a.events.len();
    a.on_events_replay();
    for e in events() {
        a.on_event(e);
    }
    assert_eq!(a.events.len(), n);
}

// ---- end to end, in tmux ----

/// tmux on the private server `server` (`-L`), so a test never touches the user's sessions
/// nor another test's.
fn tmux(server: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(["-L", server]).args(args).output().expect("run tmux")
}

/// The table row of `profile` in a captured pane.
fn row<'a>(pane: &'a str, profile: &str) -> Option<&'a str> {
    pane.lines().find(|l| l.trim_start_matches('│').starts_with(&format!("{profile} ")))
}

fn pid_of(fleet: &TestFleet, profile: &str) -> Option<i64> {
    let (code, out, err) = run_clawherd(&["status", "--json", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).expect("status is JSON");
    s["instances"].as_array()?.iter().find(|i| i["profile"] == profile)?["pid"].as_i64()
}

/// Polls the pane every 100 ms until `cond` holds on its text; fails with the last capture
/// after `deadline`.
fn wait_pane(session: &str, what: &str, deadline: Duration, cond: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + deadline;
    loop {
        let out = tmux(session, &["capture-pane", "-p", "-t", session]);
        let pane = String::from_utf8_lossy(&out.stdout).into_owned();
        if cond(&pane) {
            return pane;
        }
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting until {what}; the pane:\n{pane}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A private tmux server with one session, both named by the string; killed when the test
/// ends, however it ends.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&self.0, &["kill-server"]);
    }
}

#[test]
fn top_in_tmux_restarts_the_selected_instance_only() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed (apt-get install tmux)");
        return;
    }
    let a = free_base(71);
    let b = free_base(72);
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a), TestProfile::new("rescue", "rescue", b)], "");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", FAKE_DEADLINE);
    d.wait_ready(0, "rescue", FAKE_DEADLINE);
    let main_pid = pid_of(&fleet, "main").expect("main runs");
    let rescue_pid = pid_of(&fleet, "rescue").expect("rescue runs");

    let session = Session(format!("clawherd-top-restart-{}", std::process::id()));
    let cmd = format!("{} top -f {}; sleep 600", clawherd_bin(), fleet.path.to_string_lossy());
    let out = tmux(&session.0, &["new-session", "-d", "-s", &session.0, "-x", "120", "-y", "32", &cmd]);
    assert!(out.status.success(), "tmux: {}", String::from_utf8_lossy(&out.stderr));
    let pane = wait_pane(&session.0, "top shows both instances ready", FAKE_DEADLINE, |p| {
        p.contains("2/2 ready")
            && row(p, "main").is_some_and(|r| r.contains(&main_pid.to_string()))
            && row(p, "rescue").is_some_and(|r| r.contains(&rescue_pid.to_string()))
    });
    eprintln!("{pane}");

    // Down selects rescue; r restarts it at once (rescue is not a main).
    assert!(tmux(&session.0, &["send-keys", "-t", &session.0, "j"]).status.success());
    assert!(tmux(&session.0, &["send-keys", "-t", &session.0, "r"]).status.success());
    wait_pane(&session.0, "the restart was sent", FAKE_DEADLINE, |p| {
        p.contains("restart rescue: queued")
    });
    wait_until("rescue runs with a new pid", FAKE_DEADLINE, || {
        pid_of(&fleet, "rescue").is_some_and(|p| p != rescue_pid)
    });
    let new_rescue = pid_of(&fleet, "rescue").expect("rescue runs");
    let pane = wait_pane(&session.0, "top shows rescue's new pid and main's old one", FAKE_DEADLINE, |p| {
        row(p, "rescue").is_some_and(|r| r.contains(&new_rescue.to_string()) && r.contains("ready"))
            && row(p, "main").is_some_and(|r| r.contains(&main_pid.to_string()))
    });
    eprintln!("{pane}");
    assert_eq!(pid_of(&fleet, "main"), Some(main_pid), "main must keep its pid");

    // r on main asks first; n cancels and main keeps its pid.
    assert!(tmux(&session.0, &["send-keys", "-t", &session.0, "k", "r"]).status.success());
    wait_pane(&session.0, "the confirmation prompt", FAKE_DEADLINE, |p| {
        p.contains("restart main (role main)?")
    });
    assert!(tmux(&session.0, &["send-keys", "-t", &session.0, "n"]).status.success());
    wait_pane(&session.0, "the cancellation", FAKE_DEADLINE, |p| {
        p.contains("restart main: cancelled")
    });
    assert_eq!(pid_of(&fleet, "main"), Some(main_pid), "a cancelled restart leaves main alone");

    // q quits top (the pane's shell then sleeps).
    assert!(tmux(&session.0, &["send-keys", "-t", &session.0, "q"]).status.success());
    wait_pane(&session.0, "top has quit", FAKE_DEADLINE, |p| !p.contains("clawherd top"));
}

#[test]
fn top_ports_chart_draws_the_example_fleet() {
    let fleet = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config-examples/fleet.yaml");
    let (code, out, err) = run_clawherd(&["ports".as_ref(), "--chart".as_ref(), fleet.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    // Each instance's listeners (gateway, browser control, relay) and its CDP range apart.
    assert!(lines[0].starts_with("main   █▒") && lines[0].chars().count() == 80, "{out}");
    assert!(
        lines[1].starts_with("rescue ·") && lines[1].contains('█') && lines[1].ends_with('▒'),
        "{out}"
    );
    assert!(lines[2].contains("18789") && lines[2].ends_with("19899"), "{out}");
    assert_eq!(lines[3], "free: 18900-19788 (889)");
    assert!(lines[4].starts_with("█ listener"), "{out}");
}

#[test]
fn top_in_tmux_follows_a_restarted_daemon() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed (apt-get install tmux)");
        return;
    }
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", free_base(73))], "");
    let mut d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", FAKE_DEADLINE);
    let first = d.child.id();
    let session = Session(format!("clawherd-top-daemon-{}", std::process::id()));
    let cmd = format!("{} top -f {}; sleep 600", clawherd_bin(), fleet.path.to_string_lossy());
    let out = tmux(&session.0, &["new-session", "-d", "-s", &session.0, "-x", "120", "-y", "32", &cmd]);
    assert!(out.status.success(), "tmux: {}", String::from_utf8_lossy(&out.stderr));
    wait_pane(&session.0, "top shows main ready", FAKE_DEADLINE, |p| {
        p.contains("1/1 ready") && p.contains(&format!("daemon pid {first}"))
    });
    // Follow main's log too, so top holds both streams open.
    assert!(tmux(&session.0, &["send-keys", "-t", &session.0, "l"]).status.success());
    wait_pane(&session.0, "main's log", FAKE_DEADLINE, |p| p.contains("log of main (following)"));

    // A stopping clawherd waits for its open streams: top must let go of them.
    d.signal(15);
    wait_pane(&session.0, "top says it is disconnected", FAKE_DEADLINE, |p| {
        p.contains("disconnected — retrying")
    });
    d.wait_exit(FAKE_DEADLINE);

    let d2 = Daemon::start(&fleet.path);
    d2.wait_ready(0, "main", FAKE_DEADLINE);
    let second = d2.child.id();
    let pane = wait_pane(&session.0, "top follows the new daemon", FAKE_DEADLINE, |p| {
        p.contains(&format!("daemon pid {second}")) && p.contains("1/1 ready") && !p.contains("disconnected")
    });
    eprintln!("{pane}");
}

#[test]
fn top_scrolls_the_table_to_the_selection() {
    let mut s = status();
    let template = s.instances[1].clone();
    for n in 0..12 {
        let mut i = template.clone();
        i.profile = format!("extra{n:02}");
        i.base_port = Some(21000 + n * 200);
        s.instances.push(i);
    }
    let mut a = App::new(false);
    a.on_status(s, now());
    for _ in 0..20 {
        a.on_key(key('j'));
    }
    assert_eq!(a.selected.as_deref(), Some("extra11"));
    let t = text(&render(&a, 80, 24));
    assert!(t.contains("│extra11 rescue") && !t.contains("│main    main"), "{t}");
}

#[test]
fn top_tells_asked_exits_from_crashes_and_handoffs() {
    let mut a = app(true);
    let t = text(&render(&a, 200, 50));
    assert!(t.contains("signal 9 crash"), "{t}");
    let mut s = status();
    s.instances[1].last_exit = Some("exit 0".into());
    a.on_status(s.clone(), now());
    a.on_event(event(
        r#"{"ts":"2026-12-01T14:34:59.000Z","kind":"exited","profile":"rescue","pid":15571,"message":"exit 0","detail":{"requested":true,"uptime_s":3.0,"code":0,"signal":null}}"#,
    ));
    assert!(text(&render(&a, 200, 50)).contains("exit 0 asked"));
    a.on_event(event(
        r#"{"ts":"2026-12-01T14:34:59.500Z","kind":"exited","profile":"rescue","pid":15571,"message":"exit 0","detail":{"requested":false,"uptime_s":3.0,"code":0,"signal":null}}"#,
    ));
    a.on_event(event(
        r#"{"ts":"2026-12-01T14:34:59.600Z","kind":"restart_handoff","profile":"rescue","pid":15571,"message":"restart hand-off accepted","detail":{"reason":"update"}}"#,
    ));
    assert!(text(&render(&a, 200, 50)).contains("exit 0 handoff"));
}
