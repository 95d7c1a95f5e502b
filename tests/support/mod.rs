//! Test support: a fleet-file builder, a running `clawherd` whose log lines arrive as events,
//! and `/proc` checks for leftovers and zombies. Every wait has a generous deadline and wakes on
//! an event (a log line, a process change observed by polling `/proc` with a deadline), never a
//! fixed sleep.
#![allow(dead_code)]

use clawherd::observe::events::FleetEvent;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Deadline for anything the stand-in gateway does (it is ready in milliseconds).
pub const FAKE_DEADLINE: Duration = Duration::from_secs(60);

pub fn clawherd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_clawherd")
}

pub fn fake_gateway_bin() -> &'static str {
    env!("CARGO_BIN_EXE_fake-gateway")
}

/// Runs `clawherd ARGS` to completion: exit code (-1 for a signal), stdout, stderr.
pub fn run_clawherd<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let out = Command::new(clawherd_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run clawherd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A base port whose footprint (base..=base+110) is free now, spread per test process so
/// parallel tests do not collide: bases step by 200 from a pid- and salt-derived start, from
/// 21000 up to the kernel's ephemeral port range. Above that, any outgoing connection on the
/// host may take a test's port between the check and a stand-in's (possibly delayed) bind.
pub fn free_base(salt: u32) -> u16 {
    let slots = base_slots();
    let start = (std::process::id().wrapping_mul(7919).wrapping_add(salt.wrapping_mul(104_729))) % slots;
    let bound = bound_ports();
    for i in 0..slots {
        let base = 21_000 + ((start + i) % slots) * 200;
        if (base..=base + 110).all(|p| !bound.contains(&(p as u16))) && claim(base) {
            return base as u16;
        }
    }
    panic!("no free port range found");
}

/// How many 200-port ranges fit between 21000 and the start of the ephemeral port range
/// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768 by default: 58 ranges); 180 (up to 57000)
/// when that range starts too low to leave room.
fn base_slots() -> u32 {
    let low: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(32_768);
    match low.saturating_sub(21_000 + 111) / 200 {
        n if n >= 20 => n,
        _ => 180,
    }
}

/// Claims a port range for this test process across the parallel test processes: a file
/// created with O_EXCL holds the claimant's pid; a claim whose process is gone is taken over.
/// A range free now may be bound later (a cold standby starts late), so freeness alone is not
/// enough when ~30 test processes pick ranges at once.
fn claim(base: u32) -> bool {
    let dir = std::env::temp_dir().join("clawherd-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(base.to_string());
    let me = std::process::id();
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => return write!(f, "{me}").is_ok(),
            Err(_) => {
                let owner: Option<u32> = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse().ok());
                match owner {
                    Some(pid) if pid == me => return false,
                    Some(pid) if std::path::Path::new(&format!("/proc/{pid}")).exists() => return false,
                    // The claimant is gone (or the file is half written): take the claim over.
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        }
    }
    false
}

fn bound_ports() -> Vec<u16> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 3
                && cols[3] == "0A"
                && let Some(port) = cols[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok())
            {
                out.push(port);
            }
        }
    }
    out
}

/// A profile of a test fleet.
#[derive(Clone)]
pub struct TestProfile {
    pub name: String,
    pub role: &'static str,
    pub port: u16,
    pub env: BTreeMap<String, String>,
    pub extra: String,
}

impl TestProfile {
    pub fn new(name: &str, role: &'static str, port: u16) -> Self {
        TestProfile {
            name: name.into(),
            role,
            port,
            env: BTreeMap::new(),
            extra: String::new(),
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }

    /// Extra YAML lines (indented by 4) for this profile.
    pub fn yaml(mut self, lines: &str) -> Self {
        self.extra.push_str(lines);
        self
    }
}

/// A fleet of stand-in gateways in a temp dir.
pub struct TestFleet {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestFleet {
    /// Writes `fleet.yaml` with `profiles` running the stand-in gateway; `defaults` is extra YAML
    /// under `defaults:` (indented by 2). A change is proved with a 2 s soak (`rollout:`;
    /// a profile sets its own `rollout:` block to change that).
    pub fn fake(profiles: &[TestProfile], defaults: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut y = format!(
            "version: 1\ndefaults:\n  command: [\"{}\"]\n  args: [\"--allow-unconfigured\"]\n  restart: {{backoff: {{initial: 100ms, max: 1s}}}}\n  stop_timeout: 20s\n  rollout: {{soak: 2s}}\n{defaults}profiles:\n",
            fake_gateway_bin()
        );
        for p in profiles {
            y.push_str(&format!(
                "  {}:\n    role: {}\n    openclaw_profile: {}\n    port: {}\n    state_dir: state/{}\n    config: {}.json5\n",
                p.name, p.role, p.name, p.port, p.name, p.name
            ));
            if !p.env.is_empty() {
                y.push_str("    env:\n");
                for (k, v) in &p.env {
                    y.push_str(&format!("      {k}: \"{v}\"\n"));
                }
            }
            y.push_str(&p.extra);
        }
        let path = dir.path().join("fleet.yaml");
        std::fs::write(&path, y).expect("write fleet");
        TestFleet { dir, path }
    }

    /// The instance part of `profile`'s `CLAWHERD_INSTANCE` marker (`<profile>@<fleet>`), which
    /// every marker of it ends with, whichever daemon spawned it.
    pub fn marker(&self, profile: &str) -> String {
        format!("{profile}@{}", self.path.display())
    }
}

/// clawherd's stderr lines so far, with a condvar signalled on each new line.
#[derive(Default)]
pub struct LogLines {
    lines: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

/// A running `clawherd run`; its stderr lines are collected as they arrive, and its event
/// stream (`<run_dir>/events.jsonl`) is read as it grows.
pub struct Daemon {
    pub child: Child,
    pub log: Arc<LogLines>,
    pub fleet_path: PathBuf,
    /// Events of the fleet's file before this daemon started (an earlier daemon's): waits
    /// never see them.
    events_before: usize,
}

/// A place in a daemon's log and event stream: waits "from a mark" see only what came after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    /// Index of the next log line.
    pub log: usize,
    /// Index of the next event.
    pub events: usize,
}

impl From<usize> for Mark {
    /// A mark at log line `log` (events from the start).
    fn from(log: usize) -> Self {
        Mark { log, events: 0 }
    }
}

impl Daemon {
    pub fn start(fleet: &Path) -> Self {
        Self::start_with(fleet, &[], &[])
    }

    /// Starts with extra environment `env` and without the variables in `remove`.
    pub fn start_with(fleet: &Path, env: &[(&str, &str)], remove: &[&str]) -> Self {
        Self::start_under(fleet, &[], env, remove)
    }

    /// [`Daemon::start_with`] run through `wrapper` (a program and its arguments that exec
    /// clawherd, such as `prlimit --nofile=128:128`), so the daemon's pid is the child's.
    pub fn start_under(fleet: &Path, wrapper: &[&str], env: &[(&str, &str)], remove: &[&str]) -> Self {
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(clawherd_bin());
                c
            }
            None => Command::new(clawherd_bin()),
        };
        cmd.args(["run", "--quiet"])
            .arg(fleet)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.env("NO_COLOR", "1").env("CLAWHERD_LOG", "info,clawherd=debug");
        for (k, v) in env {
            cmd.env(k, v);
        }
        for k in remove {
            cmd.env_remove(k);
        }
        let events_before = {
            let path = fleet.parent().expect("fleet dir").join(".clawherd/events.jsonl");
            std::fs::read_to_string(path).unwrap_or_default().lines().count()
        };
        let mut child = cmd.spawn().expect("spawn clawherd");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(LogLines::default());
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lines.lock().expect("log").0.push(line);
                log2.changed.notify_all();
            }
            log2.lines.lock().expect("log").1 = true;
            log2.changed.notify_all();
        });
        Daemon {
            child,
            log,
            fleet_path: fleet.to_path_buf(),
            events_before,
        }
    }

    /// The end of the log and of the event stream now: a cursor for the `wait_*` methods.
    pub fn mark(&self) -> Mark {
        Mark {
            log: self.log.lines.lock().expect("log").0.len(),
            events: self.events().len(),
        }
    }

    /// The events file of the fleet (tests use the default `run_dir`).
    pub fn events_path(&self) -> PathBuf {
        self.fleet_path.parent().expect("fleet dir").join(".clawherd/events.jsonl")
    }

    /// Every event recorded so far, oldest first (a line still being written is skipped).
    pub fn events(&self) -> Vec<FleetEvent> {
        let text = std::fs::read_to_string(self.events_path()).unwrap_or_default();
        text.lines().map_while(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Waits for an event at or after `from` for which `pred` holds; returns its index and the
    /// event. The events file is read again every 20 ms until `deadline`, then the test fails
    /// with every event and the log.
    pub fn wait_event_from(
        &self,
        from: impl Into<Mark>,
        what: &str,
        pred: impl Fn(&FleetEvent) -> bool,
        deadline: Duration,
    ) -> (usize, FleetEvent) {
        let from = from.into().events.max(self.events_before);
        let end = Instant::now() + deadline;
        loop {
            let events = self.events();
            if let Some((i, e)) = events.iter().enumerate().skip(from).find(|(_, e)| pred(e)) {
                return (i, e.clone());
            }
            // A daemon that has exited records nothing more: fail now, with its log.
            let exited = self.log.lines.lock().expect("log").1;
            if Instant::now() >= end || exited {
                let listed: Vec<String> = events
                    .iter()
                    .map(|e| format!("{} {:?} {:?} {}", e.kind(), e.profile, e.pid, e.message))
                    .collect();
                panic!(
                    "no event {what} within {deadline:?}; events:\n{}\nlog:\n{}",
                    listed.join("\n"),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for an event of `kind` about `profile` at or after `from`.
    pub fn wait_event(&self, from: impl Into<Mark>, kind: &str, profile: &str, deadline: Duration) -> FleetEvent {
        let what = format!("{kind} of {profile}");
        self.wait_event_from(from, &what, |e| e.kind() == kind && e.profile.as_deref() == Some(profile), deadline)
            .1
    }

    /// Waits for a line at or after `from` containing every one of `needles`; returns its index
    /// and text. Panics with the whole log after `deadline`.
    pub fn wait_line_from(&self, from: impl Into<Mark>, needles: &[&str], deadline: Duration) -> (usize, String) {
        let from = from.into().log;
        let end = Instant::now() + deadline;
        let mut guard = self.log.lines.lock().expect("log");
        loop {
            if let Some((i, l)) = guard
                .0
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| needles.iter().all(|n| l.contains(n)))
            {
                return (i, l.clone());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() || guard.1 {
                let text = guard.0.join("\n");
                drop(guard);
                panic!("no line with {needles:?} within {deadline:?}; log:\n{text}");
            }
            guard = self.log.changed.wait_timeout(guard, left).expect("log").0;
        }
    }

    /// [`Daemon::wait_line_from`] over the whole log.
    pub fn wait_line(&self, needles: &[&str], deadline: Duration) -> String {
        self.wait_line_from(0, needles, deadline).1
    }

    /// Waits for a `spawned` event of `profile` at or after `from`; returns the pid.
    pub fn wait_spawned(&self, from: impl Into<Mark>, profile: &str, deadline: Duration) -> i32 {
        self.wait_event(from, "spawned", profile, deadline)
            .pid
            .expect("spawned names its pid")
    }

    /// Waits for a `ready` event of `profile` at or after `from`; returns the pid.
    pub fn wait_ready(&self, from: impl Into<Mark>, profile: &str, deadline: Duration) -> i32 {
        self.wait_event(from, "ready", profile, deadline).pid.expect("ready names its pid")
    }

    /// The log from line `from` on.
    pub fn log_text_from(&self, from: impl Into<Mark>) -> String {
        let from = from.into().log;
        self.log.lines.lock().expect("log").0.get(from..).unwrap_or_default().join("\n")
    }

    pub fn log_text(&self) -> String {
        self.log.lines.lock().expect("log").0.join("\n")
    }

    pub fn signal(&self, sig: i32) {
        signal(self.child.id() as i32, sig);
    }

    /// Waits for clawherd to exit and for its whole stderr to be collected (the reader thread may
    /// still be behind when the process is gone); panics after `deadline`.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let end = Instant::now() + deadline;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                let mut lines = self.log.lines.lock().expect("log");
                while !lines.1 && Instant::now() < end {
                    let left = end.saturating_duration_since(Instant::now());
                    lines = self.log.changed.wait_timeout(lines, left).expect("log").0;
                }
                return s;
            }
            assert!(
                Instant::now() < end,
                "clawherd did not exit within {deadline:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Never leave a test's processes behind, whatever the test did.
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill_marked(&format!("@{}", self.fleet_path.display()));
    }
}

/// `key=value` field of a tracing line.
pub fn field(line: &str, key: &str) -> Option<i32> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

pub fn signal(pid: i32, sig: i32) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status();
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// Pids whose environment has a `CLAWHERD_INSTANCE` ending in `suffix`.
pub fn marked_pids(suffix: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut buf = Vec::new();
        if std::fs::File::open(e.path().join("environ"))
            .and_then(|mut f| f.read_to_end(&mut buf))
            .is_err()
        {
            continue;
        }
        let found = buf.split(|b| *b == 0).any(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.strip_prefix("CLAWHERD_INSTANCE=").is_some_and(|v| v.ends_with(suffix))
        });
        if found && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// SIGKILLs every process marked with `suffix` and waits (up to 60 s) until none is alive:
/// a killed gateway of 800 MiB takes a moment to free its memory and only then closes its
/// sockets, so the next test would otherwise find its ports still bound.
///
/// The pids are remembered once seen: a dying process loses its environment (its memory goes
/// first) while it still holds its sockets, so it must be waited for by pid, not by marker.
fn kill_marked(suffix: &str) {
    let end = Instant::now() + Duration::from_secs(60);
    let mut seen = std::collections::BTreeSet::new();
    loop {
        for pid in marked_pids(suffix) {
            if seen.insert(pid) {
                signal(pid, 9);
            }
        }
        seen.retain(|p| alive(*p));
        if seen.is_empty() || Instant::now() >= end {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `cond` holds; panics with `what` after `deadline`.
pub fn wait_until(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(Instant::now() < end, "timed out after {deadline:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET path` on 127.0.0.1:port; the status code, or None if nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// Zombie children of `parent`.
pub fn zombies_of(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let rest: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        if rest.first() == Some(&"Z") && rest.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(parent) {
            out.push(pid);
        }
    }
    out
}

/// The planned TCP listeners of `profile` from `clawherd ports`: (name, lo, hi).
pub fn planned(ports_out: &str, profile: &str) -> Vec<(String, u32, u32)> {
    ports_out
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("not planned:"))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
            if cols.first() != Some(&profile) {
                return None;
            }
            let (lo, hi) = match cols.get(2)?.split_once('-') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => (cols[2].parse().ok()?, cols[2].parse().ok()?),
            };
            Some((cols[1].to_string(), lo, hi))
        })
        .collect()
}

/// Whether any socket on this host (IPv4 or IPv6) listens on TCP `port`, from /proc/net/tcp{,6}.
pub fn port_listened(port: u16) -> bool {
    let hex = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f).unwrap_or_default().lines().skip(1).any(|l| {
            let mut w = l.split_whitespace();
            let local = w.nth(1).unwrap_or("");
            let state = w.nth(1).unwrap_or("");
            local.ends_with(&hex) && state == "0A"
        })
    })
}

/// TCP ports in LISTEN state owned by any of `pids`, from `ss -ltnpH`.
pub fn listening_ports(pids: &[i32]) -> std::collections::BTreeSet<u32> {
    let out = std::process::Command::new("ss").args(["-ltnpH"]).output().expect("ss");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| pids.iter().any(|p| l.contains(&format!("pid={p},"))))
        .filter_map(|l| l.split_whitespace().nth(3)?.rsplit(':').next()?.parse().ok())
        .collect()
}

/// For the real-gateway tests of rollouts and upgrades: PATH with `.tools/bin` first, or None
/// (after saying why on stderr) when `.tools/bin` lacks `node` or `openclaw`, so the test is
/// skipped (scripts/bootstrap installs both).
pub fn real_tools_path() -> Option<String> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin");
    if let Some(missing) = ["node", "openclaw"].into_iter().find(|p| !tools.join(p).exists()) {
        eprintln!("skipping: {} has no {missing} (run scripts/bootstrap)", tools.display());
        return None;
    }
    Some(format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default()))
}

/// Polls `/readyz` of both `ports` every 100 ms until `stop` is set; the thread returns the
/// seconds during which neither answered 200 (a request gets 5 s: [`http_status`]).
pub fn readiness_gap(ports: [u16; 2], stop: Arc<std::sync::atomic::AtomicBool>) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut gap = 0.0;
        let mut last = Instant::now();
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let any = ports.iter().any(|p| http_status(*p, "/readyz") == Some(200));
            let now = Instant::now();
            if !any {
                gap += (now - last).as_secs_f64();
            }
            last = now;
            std::thread::sleep(Duration::from_millis(100));
        }
        gap
    })
}

/// `clawherd ARGS` with `env` added (and NO_COLOR): exit code and stdout; both streams are
/// printed to the test's stderr.
pub fn clawherd_printing(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(clawherd_bin())
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .expect("run clawherd");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("$ clawherd {}\n{stdout}{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), stdout)
}

/// Prints the events from `from` on as `figure:` lines: kind, profile, seconds since `since`.
pub fn print_timeline(title: &str, d: &Daemon, from: Mark, since: std::time::SystemTime) {
    eprintln!("timeline of {title} (seconds since the command):");
    for e in d.events().iter().skip(from.events) {
        let at = humantime::parse_rfc3339_weak(&e.ts)
            .ok()
            .and_then(|t| t.duration_since(since).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        eprintln!(
            "figure: {title}: {at:>6.1} s {:<17} {:<7} {}",
            e.kind(),
            e.profile.as_deref().unwrap_or("-"),
            e.message
        );
    }
}
