//! Client-side commands: each is a few lines over one or more control API calls
//! ([`crate::control::client`]), plus the rendering of the answer. Returns the exit code.

use crate::cli::render::{bytes, exit_kind_word, rollout_note, short_duration, short_exit, short_secs};
use crate::cli::{Selection, Target};
use crate::cli::{exit, logview};
use crate::control::client::{Client, ClientError, socket_of};
use crate::control::protocol::*;
use hyper::Method;
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime};

/// The client for `target`, or the exit code after printing why there is none. The socket is
/// `--socket` when given, else the one the daemon running the fleet file registered
/// ([`crate::daemon::registry::find`]: right even when the file was since edited, broken or
/// removed), else the one the fleet file names ([`socket_of`]).
pub fn client(target: &Target) -> Result<Client, u8> {
    if let Some(s) = &target.socket {
        return Ok(Client::new(s.clone()));
    }
    let file = match crate::cli::find::fleet_here(target.file.as_deref()) {
        Ok(crate::cli::find::Found::Daemon(r)) => return Ok(Client::new(r.socket)),
        Ok(crate::cli::find::Found::File(f)) => f,
        Err(e) => {
            eprintln!("clawherd: {e}");
            return Err(exit::USAGE);
        }
    };
    if let Some(r) = crate::daemon::registry::find(&file) {
        return Ok(Client::new(r.socket));
    }
    socket_of(&file).map(Client::new).map_err(|e| {
        eprintln!("clawherd: {e}");
        exit::USAGE
    })
}

/// The fleet file of `target`, for commands that fall back on files while the daemon is down;
/// `None` with `--socket` (no fleet known) or when none is found.
pub fn offline_fleet(target: &Target) -> Option<std::path::PathBuf> {
    if target.socket.is_some() {
        return None;
    }
    Some(crate::cli::find::fleet_here(target.file.as_deref()).ok()?.file().to_path_buf())
}

/// Where the daemon of `target` keeps its captured output and events (`<run_dir>/logs/`,
/// `<run_dir>/events.jsonl`), for reading them while it is down: the run dir of
/// [`offline_fleet`]'s file. `None` when there is none or it cannot be read.
pub fn offline_run_dir(target: &Target) -> Option<std::path::PathBuf> {
    crate::control::client::run_dir_of(&offline_fleet(target)?).ok()
}

fn unreachable(e: ClientError) -> u8 {
    eprintln!("clawherd: {e}");
    exit::UNAVAILABLE
}

/// Prints an API error body; returns `code`.
fn api_error(body: &[u8], code: u8) -> u8 {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => {
            eprintln!("clawherd: {}", e.error);
            if let Some(h) = e.hint {
                eprintln!("  hint: {h}");
            }
        }
        Err(_) => eprintln!("clawherd: {}", String::from_utf8_lossy(body)),
    }
    code
}

/// `clawherd status`.
pub async fn status(client: &Client, profile: Option<&str>, json: bool) -> u8 {
    let path = match profile {
        Some(p) => format!("/v1/status?profile={p}"),
        None => "/v1/status".into(),
    };
    let (code, body) = match client.call(Method::GET, &path).await {
        Ok(r) => r,
        Err(e) => return unreachable(e),
    };
    if code != 200 {
        return api_error(&body, if code == 404 { exit::USAGE } else { exit::FAILURE });
    }
    if json {
        println!("{}", String::from_utf8_lossy(&body));
        return exit::OK;
    }
    let s: StatusResponse = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("clawherd: unexpected status answer: {e}");
            return exit::SOFTWARE;
        }
    };
    print!("{}", render_status(&s, super::wrap::width(std::io::stdout().is_terminal())));
    exit::OK
}

/// The status table, then the fleet's warnings (after a blank line, as `check` prints them;
/// nothing when there are none); with a terminal `width`, the NOTES column wraps under itself
/// when a row would be wider, and the warnings wrap as `check`'s do.
pub fn render_status(s: &StatusResponse, width: Option<usize>) -> String {
    let headers = [
        "PROFILE",
        "ROLE",
        "VERSION",
        "STATE",
        "PID",
        "UPTIME",
        "RESTARTS",
        "LAST EXIT",
        "PORT",
        "READY",
        "LIVE",
        "CPU",
        "RSS",
        "NOTES",
    ];
    let rows: Vec<Vec<String>> = s
        .instances
        .iter()
        .map(|i| {
            let mut notes = i.openclaw.as_ref().map(openclaw_notes).unwrap_or_default();
            if let Some(r) = &i.reason {
                notes = format!("{}: {}", i.state, r.chars().take(120).collect::<String>());
            }
            if let Some(r) = rollout_note(i) {
                notes = if notes.is_empty() { r } else { format!("{notes}; {r}") };
            }
            // A clawdbot gateway probed without its health call says why (issue 13).
            if let Some(p) = i.probe.as_deref().filter(|p| p.starts_with("challenge")) {
                let p: String = p.chars().take(160).collect();
                notes = if notes.is_empty() { p } else { format!("{notes}; {p}") };
            }
            vec![
                i.profile.clone(),
                i.role.clone(),
                i.version.clone().unwrap_or_else(|| "-".into()),
                i.state.to_string(),
                i.pid.map_or("-".into(), |p| p.to_string()),
                i.uptime_s.map_or("-".into(), short_secs),
                i.restarts.to_string(),
                match (&i.last_exit, &i.last_exit_at) {
                    (Some(e), at) => {
                        let kind = i.last_exit_kind.map_or(String::new(), |k| format!(" {}", exit_kind_word(k)));
                        let ago = at.as_deref().map_or(String::new(), |at| format!(" ({} ago)", ago(at)));
                        format!("{}{kind}{ago}", short_exit(e))
                    }
                    _ => "-".into(),
                },
                i.base_port.map_or("-".into(), |p| p.to_string()),
                yes_no(Some(i.ready)),
                yes_no(i.live),
                if i.pid.is_some() {
                    format!("{:.1}%", i.tree.cpu_percent)
                } else {
                    "-".into()
                },
                if i.tree.processes > 0 {
                    format!("{} ({} proc)", bytes(i.tree.rss_bytes), i.tree.processes)
                } else {
                    "-".into()
                },
                notes,
            ]
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    // NOTES is last: where it starts, and the room it has on a terminal.
    let notes_at: usize = widths.iter().take(widths.len().saturating_sub(1)).map(|w| w + 2).sum();
    let room = width.map(|w| w.saturating_sub(notes_at)).filter(|r| *r >= 20);
    let line = |cells: Vec<String>| {
        let mut l: String = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}  ")).collect();
        l.truncate(l.trim_end().len());
        if let (Some(w), Some(_)) = (width, room) {
            l = super::wrap::wrap_line(&l, w, notes_at);
        }
        l + "\n"
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r));
    }
    out.push_str(&format!("clawherd pid {}, RSS {}, fleet {}\n", s.pid, bytes(s.rss_bytes), s.fleet));
    // The running fleet's warnings, as `check` prints them (wrapped alike); nothing when none.
    if !s.warnings.is_empty() {
        out.push('\n');
        out.push_str(&super::wrap::wrap(&s.warnings.join("\n"), width));
        out.push('\n');
    }
    out
}

fn openclaw_notes(o: &OpenClawSignals) -> String {
    let mut notes = Vec::new();
    if !o.failing.is_empty() {
        notes.push(format!("failing: {}", o.failing.join(",")));
    }
    if !o.suppressed.is_empty() {
        notes.push(format!("restart-loop breaker suppressed: {}", o.suppressed.join(",")));
    }
    if o.event_loop_degraded == Some(true) {
        notes.push("event loop degraded".into());
    }
    notes.join("; ")
}

fn yes_no(v: Option<bool>) -> String {
    match v {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "-".into(),
    }
}

fn ago(rfc3339: &str) -> String {
    humantime::parse_rfc3339_weak(rfc3339)
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map_or("?".into(), short_duration)
}

/// The profiles `sel` names: `--all` asks the daemon for them.
async fn selected(client: &Client, sel: &Selection) -> Result<Vec<String>, u8> {
    if !sel.all {
        return Ok(sel.profiles.clone());
    }
    let (code, body) = client.call(Method::GET, "/v1/status").await.map_err(unreachable)?;
    if code != 200 {
        return Err(api_error(&body, exit::FAILURE));
    }
    let s: StatusResponse = serde_json::from_slice(&body).map_err(|e| {
        eprintln!("clawherd: unexpected status answer: {e}");
        exit::SOFTWARE
    })?;
    Ok(s.instances.into_iter().map(|i| i.profile).collect())
}

/// `clawherd start|stop|restart`: one instance after another; the first failure decides the exit
/// code (1 when not ready/stopped in time or failed, 64 for an unknown profile).
pub async fn act(client: &Client, action: &str, sel: &Selection) -> u8 {
    let profiles = match selected(client, sel).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let wait = match (sel.no_wait, action) {
        (true, _) => "none",
        (false, "stop") => "stopped",
        (false, _) => "ready",
    };
    let tty = std::io::stderr().is_terminal();
    let mut worst = exit::OK;
    for p in profiles {
        let path = format!("/v1/instances/{p}/{action}?wait={wait}&timeout_s={}", sel.timeout.as_secs_f64());
        let call = client.call(Method::POST, &path);
        tokio::pin!(call);
        let started = std::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        // The phases come from the instance's events while the action runs.
        let phase = std::cell::RefCell::new(if action == "start" { "starting" } else { "stopping" }.to_string());
        let mut pending = Vec::new();
        let follow = client.stream("/v1/events?n=0&follow=true", |status, chunk| {
            if status != 200 {
                return;
            }
            pending.extend_from_slice(chunk);
            while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                if let Some(now) = phase_of(&line, &p) {
                    *phase.borrow_mut() = now;
                }
            }
        });
        tokio::pin!(follow);
        let mut following = tty && wait != "none";
        let result = loop {
            tokio::select! {
                r = &mut call => break r,
                _ = &mut follow, if following => following = false,
                _ = &mut interrupt => {
                    if tty {
                        eprint!("\r\x1b[2K");
                    }
                    eprintln!("clawherd: stopped waiting; the {action} of {p} goes on in the daemon (`clawherd status {p}` shows where it is)");
                    return exit::INTERRUPTED;
                }
                _ = tick.tick(), if tty && wait != "none" => {
                    eprint!(
                        "\r\x1b[2K{action} {p}: {}, waiting until {wait}... {}s (Ctrl-C stops waiting, not the {action})",
                        phase.borrow(),
                        started.elapsed().as_secs()
                    );
                    let _ = std::io::stderr().flush();
                }
            }
        };
        if tty && wait != "none" {
            eprint!("\r\x1b[2K");
        }
        let (code, body) = match result {
            Ok(r) => r,
            Err(e) => return unreachable(e),
        };
        match serde_json::from_slice::<ActionResponse>(&body) {
            Ok(r) if code == 200 => {
                let pid = r.pid.map_or(String::new(), |p| format!(" pid {p}"));
                println!("{p}: {}{pid} ({:.1} s)", r.state, r.waited_s);
            }
            Ok(r) => {
                eprintln!(
                    "clawherd: {action} {p}: {} (state {}, after {:.1} s)",
                    r.problem.unwrap_or_default(),
                    r.state,
                    r.waited_s
                );
                worst = worst.max(exit::FAILURE);
            }
            Err(_) => worst = worst.max(api_error(&body, if code == 404 { exit::USAGE } else { exit::FAILURE })),
        }
    }
    worst
}

/// The phase an event line of the events stream shows for `profile` (`stopped (exit 0)`,
/// `spawned pid 12`, `probing`, `ready`), or `None` for another profile's event or one that
/// does not change the phase.
fn phase_of(line: &[u8], profile: &str) -> Option<String> {
    let e: crate::observe::events::FleetEvent = serde_json::from_slice(line).ok()?;
    if e.profile.as_deref() != Some(profile) {
        return None;
    }
    use crate::observe::events::What;
    Some(match e.what {
        What::Exited { .. } => format!("stopped ({})", e.message),
        What::Spawned { .. } => format!("spawned pid {}, probing", e.pid.map_or("?".into(), |p| p.to_string())),
        What::Ready { .. } => "ready".into(),
        What::SpawnFailed => "spawn failed".into(),
        What::RestartScheduled { .. } => "waiting to restart (backoff)".into(),
        What::Parked { .. } => "parked".into(),
        _ => return None,
    })
}

/// `clawherd reload`.
pub async fn reload(client: &Client) -> u8 {
    let (code, body) = match client.call(Method::POST, "/v1/reload").await {
        Ok(r) => r,
        Err(e) => return unreachable(e),
    };
    if code == 422 {
        return api_error(&body, exit::CONFIG);
    }
    if code != 200 {
        return api_error(&body, exit::FAILURE);
    }
    match serde_json::from_slice::<ReloadResponse>(&body) {
        Ok(r) => {
            for w in &r.warnings {
                eprintln!("{w}");
            }
            let list = |v: &[String]| if v.is_empty() { "-".to_string() } else { v.join(", ") };
            println!(
                "reloaded: added {}; removed {}; restarted {}; unchanged {}",
                list(&r.added),
                list(&r.removed),
                list(&r.restarted),
                list(&r.unchanged)
            );
            if !r.needs_restart.is_empty() {
                println!("note: {} changed and apply only when clawherd restarts", r.needs_restart.join(", "));
            }
            if let Some(e) = &r.earlier {
                println!(
                    "note: a rollout started by {} was in progress when this reload was asked for, and may have applied its change first; its verdict: verified {}; rolled back {}; held {}",
                    e.started_by,
                    list(&e.verified),
                    list(&e.rolled_back),
                    list(&e.held)
                );
            }
            if !r.held.is_empty() {
                eprintln!(
                    "clawherd: not applied to {}: the standby that must cover it was not ready\n  hint: `clawherd events` says why; reload again once the standby is ready",
                    r.held.join(", ")
                );
            }
            if !r.rolled_back.is_empty() {
                eprintln!(
                    "clawherd: the change failed its verification and was rolled back: {}\n  hint: `clawherd events` names the reason, the gateway's error line and the rejected config",
                    r.rolled_back.join(", ")
                );
                return exit::CONFIG;
            }
            if !r.held.is_empty() {
                return exit::UNAVAILABLE;
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("clawherd: unexpected reload answer: {e}");
            exit::SOFTWARE
        }
    }
}

/// `clawherd env`: shell lines that run the gateway as clawherd does. With the daemon down, the
/// same computed from `fleet` (see [`offline_fleet`]) and this shell's environment, as
/// `clawherd run` from here would.
pub async fn env(client: &Client, profile: &str, show_secrets: bool, fleet: Option<&std::path::Path>) -> u8 {
    let (code, body) = match client
        .call(Method::GET, &format!("/v1/instances/{profile}/env?show_secrets={show_secrets}"))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return match (e, fleet) {
                (ClientError::Unreachable { .. }, Some(f)) => env_from_file(f, profile, show_secrets),
                (e, _) => unreachable(e),
            };
        }
    };
    if code != 200 {
        return api_error(&body, if code == 404 { exit::USAGE } else { exit::FAILURE });
    }
    let r: EnvResponse = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("clawherd: unexpected env answer: {e}");
            return exit::SOFTWARE;
        }
    };
    print_env(&r)
}

/// [`env()`] while the daemon is down: the plan of `profile` in the fleet file `fleet`.
fn env_from_file(fleet: &std::path::Path, profile: &str, show_secrets: bool) -> u8 {
    let f = match crate::cli::local::load(fleet, false) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let Some((_, plan)) = f.instances.iter().find(|(p, _)| p.name == profile) else {
        eprintln!("clawherd: no profile `{profile}` in {}", fleet.display());
        return exit::USAGE;
    };
    eprintln!("clawherd: daemon not running; from the fleet file and this shell's environment, as `clawherd run` here would");
    print_env(&crate::control::handlers::env::describe(profile.to_string(), plan, show_secrets))
}

fn print_env(r: &EnvResponse) -> u8 {
    println!(
        "# how clawherd runs profile '{}' (stop it first: `clawherd stop {}`)",
        r.profile, r.profile
    );
    if !r.redacted.is_empty() {
        println!("# redacted: {} (use --show-secrets)", r.redacted.join(", "));
    }
    println!("cd {}", shell_quote(&r.cwd));
    println!("env -i \\");
    for (k, v) in &r.env {
        println!("  {k}={} \\", shell_quote(v));
    }
    let argv: Vec<String> = r.argv.iter().map(|a| shell_quote(a)).collect();
    println!("  {}", argv.join(" "));
    exit::OK
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `clawherd events`; with the daemon down, the last `lines` of `<run_dir>/events.jsonl`
/// (`run_dir` from [`offline_run_dir`]).
pub async fn events(client: &Client, follow: bool, lines: usize, json: bool, run_dir: Option<&std::path::Path>) -> u8 {
    let mut out = std::io::stdout().lock();
    let mut pending = Vec::new();
    let mut failed = Vec::new();
    let result = client
        .stream(&format!("/v1/events?n={lines}&follow={follow}"), |status, chunk| {
            if status != 200 {
                failed.extend_from_slice(chunk);
                return;
            }
            pending.extend_from_slice(chunk);
            while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line);
                let rendered = if json {
                    text.trim_end().to_string()
                } else {
                    render_event(text.trim_end())
                };
                let _ = writeln!(out, "{rendered}");
                let _ = out.flush();
            }
        })
        .await;
    match result {
        Ok(200) => exit::OK,
        Ok(_) => api_error(&failed, exit::FAILURE),
        Err(e) => match (e, run_dir) {
            (ClientError::Unreachable { .. }, Some(dir)) => from_files(crate::cli::offline::event_lines(dir, lines), |l| {
                if json { l.to_string() } else { render_event(l) }
            }),
            (e, _) => unreachable(e),
        },
    }
}

/// Prints lines read from the files of a daemon that is down, after the note saying so.
fn from_files(lines: Result<Vec<String>, String>, render: impl Fn(&str) -> String) -> u8 {
    match lines {
        Ok(lines) => {
            eprintln!("{}", crate::cli::offline::NOTE);
            let mut out = std::io::stdout().lock();
            for l in lines {
                let _ = writeln!(out, "{}", render(&l));
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("clawherd: daemon not running, and its files cannot be read: {e}");
            exit::UNAVAILABLE
        }
    }
}

fn render_event(line: &str) -> String {
    match serde_json::from_str::<crate::observe::events::FleetEvent>(line) {
        Ok(e) => format!(
            "{}  {:<18} {:<10} {}{}",
            e.ts,
            e.kind(),
            e.profile.unwrap_or_else(|| "-".into()),
            e.pid.map_or(String::new(), |p| format!("pid {p}: ")),
            e.message
        ),
        Err(_) => line.to_string(),
    }
}

/// The time `--since` means: a duration ago (`10m`) or an RFC 3339 time; `None` when neither.
fn since_of(s: &str) -> Option<SystemTime> {
    match humantime::parse_duration(s) {
        Ok(d) => SystemTime::now().checked_sub(d),
        Err(_) => humantime::parse_rfc3339_weak(s).ok(),
    }
}

/// Events read to find where runs begin (the daemon keeps about this many in memory).
const RUN_EVENTS: usize = crate::observe::events::RECENT;

/// `clawherd logs`; with the daemon down, read from `<run_dir>/logs` (`run_dir` from
/// [`offline_run_dir`]).
pub async fn logs(
    client: &Client,
    profiles: &[String],
    (follow, lines, since): (bool, usize, Option<&str>),
    run_dir: Option<&std::path::Path>,
) -> u8 {
    let mut q: Vec<String> = profiles.iter().map(|p| format!("profile={p}")).collect();
    q.push(format!("n={lines}"));
    if follow {
        q.push("follow=true".into());
    }
    let mut since_time = None;
    if let Some(s) = since {
        let Some(t) = since_of(s) else {
            eprintln!("clawherd: --since {s}: not a duration (`10m`) nor an RFC 3339 time");
            return exit::USAGE;
        };
        since_time = Some(t);
        q.push(format!(
            "since={}",
            humantime::format_rfc3339_seconds(t).to_string().replace(':', "%3A")
        ));
    }
    if follow {
        // The daemon sends the run markers in the stream, in order with the lines.
        q.push("marks=true".into());
    }
    // The `spawned` and `exited` events mark where one run ends and the next begins. The log
    // stream is opened (its follower subscribed) before they are read, so that a run that
    // begins or ends between the two is marked, once (`Runs` prints each marker once).
    let single = match profiles {
        [one] => Some(one.as_str()),
        _ => None,
    };
    let opened = client.open(&format!("/v1/logs?{}", q.join("&"))).await;
    let events = match client.call(Method::GET, &format!("/v1/events?n={RUN_EVENTS}")).await {
        Ok((200, body)) => String::from_utf8_lossy(&body).into_owned(),
        _ => String::new(),
    };
    let mut runs = logview::Runs::from_events(events.lines());
    let mut res = match (opened, run_dir) {
        (Ok(res), _) => res,
        (Err(ClientError::Unreachable { .. }), Some(dir)) => {
            let events = crate::cli::offline::event_lines(dir, RUN_EVENTS).unwrap_or_default();
            let mut runs = logview::Runs::from_events(events.iter().map(String::as_str));
            let lines = crate::cli::offline::log_lines(dir, profiles, lines, since_time);
            return from_files(
                lines.map(|ls| ls.iter().flat_map(|l| runs.render(l, single)).collect()),
                str::to_string,
            );
        }
        (Err(e), _) => return unreachable(e),
    };
    let status = res.status();
    let mut failed = Vec::new();
    let mut split = crate::cli::lines::Lines::default();
    while let Some(chunk) = res.chunk().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return unreachable(e.into()),
        };
        if status != 200 {
            // An error answer is one small JSON body; more than a line's worth is not kept.
            if failed.len() < crate::cli::lines::MAX_LINE {
                failed.extend_from_slice(&chunk);
            }
            continue;
        }
        let mut out = std::io::stdout().lock();
        for line in split.push_text(&chunk) {
            for l in runs.render(&line, single) {
                let _ = writeln!(out, "{l}");
            }
        }
        let _ = out.flush();
    }
    if status != 200 {
        return api_error(&failed, if status == 404 { exit::USAGE } else { exit::FAILURE });
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("/a/b"), "/a/b");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn hostile_status_answers_render() {
        let answer = |uptime: &str| {
            let text = format!(
                r#"{{"api":1,"fleet":"f","pid":1,"rss_bytes":0,"instances":[{{"profile":"main","role":"main","flavor":"openclaw","state":"ready","reason":null,"pid":2,"uptime_s":{uptime},"restarts":0,"last_exit":null,"last_exit_at":null,"base_port":18789,"ready":true,"live":null,"tree":{{"processes":1,"rss_bytes":0,"cpu_percent":0.0}},"openclaw":null}}]}}"#
            );
            let s: StatusResponse = serde_json::from_str(&text).expect("a status answer");
            render_status(&s, Some(80))
        };
        assert!(answer("-1").contains(" 0s "), "{}", answer("-1"));
        assert!(answer("1e300").contains("main"));
        assert_eq!(short_secs(f64::NAN), "0s");
        assert_eq!(short_secs(f64::INFINITY), "-");
    }
}
