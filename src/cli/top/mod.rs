//! `clawherd top`: the live view of a fleet in a terminal, over the control socket only.
//!
//! # Layout
//! - [`app`]: the state, a plain value changed by messages (a status answer, an event, a key);
//!   it does no I/O and returns [`app::Effect`]s.
//! - [`draw`]: one frame from an [`app::App`], nothing else read.
//! - the port map comes from [`crate::cli::chart`], shared with `clawherd ports --chart`.
//! - this module: the terminal and the feeds, all on the client's single-threaded runtime.
//!
//! # Feeds, and why it is cheap
//! One task follows `GET /v1/events?follow=true`; each event is shown and wakes the status
//! task, which otherwise asks `GET /v1/status` once a second (the tree's CPU and RSS figures,
//! uptime) and never more often than every half second, so the daemon measures CPU over the
//! span between calls instead of sampling anew. A second task follows the selected instance's
//! log while the log pane is shown. The keyboard is read by a thread blocked in
//! `crossterm::event::read`. Nothing polls the terminal; the screen is drawn once per batch of
//! messages, and ratatui writes only the cells that changed.
//!
//! # A daemon that goes away
//! Every feed reconnects on its own with backoff (0.5 s doubling to 5 s); while the status
//! call fails, the title says "disconnected — retrying". The event and log streams replay
//! their recent lines on reconnection, and the app drops what it had so nothing shows twice.

pub mod app;
pub mod draw;

use crate::cli::exit;
use crate::cli::lines::Lines;
use crate::control::client::Client;
use crate::control::protocol::{ActionResponse, ErrorResponse, StatusResponse};
use crate::observe::events::FleetEvent;
use app::{Action, App, Effect};
use hyper::Method;
use ratatui::crossterm::event::{self, Event, KeyEvent};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::{JoinHandle, JoinSet};

/// The status period: tree figures at most this often, when no event asks sooner.
const STATUS_PERIOD: Duration = Duration::from_secs(1);
/// The least time between two status calls, even during a burst of events.
const STATUS_MIN_GAP: Duration = Duration::from_millis(500);
/// How long a status answer may take: something on the socket that accepts and never answers
/// (or answers forever) is a daemon that is not there, not a reason to freeze the screen.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);
/// First reconnection delay; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(500);
/// Longest reconnection delay.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Events and log lines replayed on (re)connection.
const REPLAY: usize = 50;

/// A message to the app's loop.
#[derive(Debug)]
enum Msg {
    Key(KeyEvent),
    Resize,
    Status(Box<StatusResponse>),
    Disconnected(String),
    EventsReplay,
    Event(Box<FleetEvent>),
    LogReplay(String),
    LogLine(String, String),
    Notice(String),
    /// The keyboard can no longer be read (the terminal went away).
    InputClosed(String),
}

/// Runs `clawherd top` against the daemon behind `client` until the user quits. Returns the
/// exit code: 0 after quitting, 69 when the daemon does not answer at start, 64 without a
/// terminal, 70 when the terminal fails while drawing or reading keys.
pub async fn run(client: Client) -> u8 {
    // The first status is asked before the screen is taken, so a daemon that is not running
    // is reported on a plain terminal with the usual hint.
    let first = match fetch_status(&client).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("clawherd: {e}");
            return exit::UNAVAILABLE;
        }
    };
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::env::var("TERM").map_or(true, |t| t != "dumb");
    let mut app = App::new(color);
    app.on_status(first, SystemTime::now());
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            // Whatever part of the set-up happened is undone (on a terminal only: restoring
            // writes escape sequences to stdout).
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                ratatui::restore();
            }
            eprintln!("clawherd: top needs a terminal: {e}\n  hint: use `clawherd status` or `clawherd events -F` in scripts");
            return exit::USAGE;
        }
    };
    let result = event_loop(client, app, &mut terminal).await;
    ratatui::restore();
    // Said after the screen is given back, so the message stays on the terminal.
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("clawherd: {e}");
            exit::SOFTWARE
        }
    }
}

/// The streams `top` follows; both are restarted when the daemon comes back.
struct Followers {
    client: Client,
    tx: UnboundedSender<Msg>,
    events: JoinHandle<()>,
    log: Option<JoinHandle<()>>,
}

impl Followers {
    fn new(client: Client, tx: UnboundedSender<Msg>) -> Followers {
        let events = tokio::spawn(follow_events(client.clone(), tx.clone()));
        Followers {
            client,
            tx,
            events,
            log: None,
        }
    }

    /// Follows `profile`'s log instead of the one followed now (none for `None`).
    fn follow_log(&mut self, profile: Option<String>) {
        if let Some(t) = self.log.take() {
            t.abort();
        }
        self.log = profile.map(|p| tokio::spawn(follow_logs(self.client.clone(), p, self.tx.clone())));
    }

    /// Ends both streams until [`Followers::restart`].
    fn stop(&mut self) {
        self.events.abort();
        if let Some(t) = self.log.take() {
            t.abort();
        }
    }

    /// Starts both streams afresh: a daemon that was restarted may still hold the old streams
    /// open while it shuts down, so their end cannot be waited for.
    fn restart(&mut self, log_profile: Option<String>) {
        self.events.abort();
        self.events = tokio::spawn(follow_events(self.client.clone(), self.tx.clone()));
        self.follow_log(log_profile);
    }
}

impl Drop for Followers {
    fn drop(&mut self) {
        self.events.abort();
        if let Some(t) = &self.log {
            t.abort();
        }
    }
}

/// Draws, waits for messages, applies them and their effects, until a quit key; an error
/// says why the terminal could not be used.
async fn event_loop(client: Client, mut app: App, terminal: &mut ratatui::DefaultTerminal) -> Result<(), String> {
    let (tx, mut rx) = unbounded_channel();
    let wake = Arc::new(Notify::new());
    // The loop owns every task: the status task and the actions are aborted when it returns,
    // the followers when `followers` is dropped; the keyboard thread ends with the process.
    let status_task = tokio::spawn(poll_status(client.clone(), tx.clone(), wake.clone()));
    let mut followers = Followers::new(client.clone(), tx.clone());
    let mut actions = JoinSet::new();
    let keys_tx = tx.clone();
    std::thread::spawn(move || read_keys(keys_tx));
    // Which daemon the followers talk to; another pid, or an answer after a failure, means the
    // daemon was restarted.
    let mut daemon_pid = app.status.as_ref().map(|s| s.pid);
    let mut was_down = false;
    let mut result = Ok(());
    'outer: loop {
        if let Err(e) = terminal.draw(|f| draw::draw(&app, f)) {
            result = Err(format!("cannot draw: {e}"));
            break;
        }
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        for msg in batch {
            let effects = match msg {
                Msg::Key(k) => app.on_key(k),
                Msg::Resize => Vec::new(),
                Msg::Status(s) => {
                    if was_down || daemon_pid != Some(s.pid) {
                        followers.restart(app.log_profile.clone());
                    }
                    was_down = false;
                    daemon_pid = Some(s.pid);
                    app.on_status(*s, SystemTime::now());
                    Vec::new()
                }
                Msg::Disconnected(e) => {
                    if !was_down {
                        // Let go of a daemon that stopped answering: one shutting down waits
                        // for its open streams to end.
                        followers.stop();
                    }
                    was_down = true;
                    app.on_disconnected(e, SystemTime::now());
                    Vec::new()
                }
                Msg::EventsReplay => {
                    app.on_events_replay();
                    Vec::new()
                }
                Msg::Event(e) => {
                    app.on_event(*e);
                    wake.notify_one();
                    Vec::new()
                }
                Msg::LogReplay(p) => {
                    app.on_log_replay(&p);
                    Vec::new()
                }
                Msg::LogLine(p, l) => {
                    app.on_log_line(&p, l);
                    Vec::new()
                }
                Msg::Notice(n) => {
                    app.on_notice(n);
                    Vec::new()
                }
                Msg::InputClosed(e) => {
                    result = Err(format!("cannot read the keyboard: {e}"));
                    break 'outer;
                }
            };
            for effect in effects {
                match effect {
                    Effect::Quit => break 'outer,
                    Effect::Act { profile, action } => {
                        actions.spawn(act(client.clone(), profile, action, tx.clone(), wake.clone()));
                    }
                    Effect::FollowLogs(profile) => followers.follow_log(profile),
                }
            }
        }
        // Finished actions are collected so the set does not grow.
        while actions.try_join_next().is_some() {}
    }
    status_task.abort();
    actions.abort_all();
    result
}

/// Reads keys and resizes until the app's loop is gone; runs on its own thread because
/// `crossterm::event::read` blocks.
fn read_keys(tx: UnboundedSender<Msg>) {
    loop {
        let msg = match event::read() {
            Ok(Event::Key(k)) => Msg::Key(k),
            Ok(Event::Resize(..)) => Msg::Resize,
            Ok(_) => continue,
            Err(e) => {
                let _ = tx.send(Msg::InputClosed(e.to_string()));
                return;
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// `GET /v1/status`, read within [`STATUS_TIMEOUT`]; an error says what failed in one line.
async fn fetch_status(client: &Client) -> Result<StatusResponse, String> {
    let call = tokio::time::timeout(STATUS_TIMEOUT, client.call(Method::GET, "/v1/status"));
    let (code, body) = call
        .await
        .map_err(|_| {
            format!(
                "no status answer within {} s on {}",
                STATUS_TIMEOUT.as_secs(),
                client.socket().display()
            )
        })?
        .map_err(|e| e.to_string())?;
    if code != 200 {
        return Err(api_error(code, &body));
    }
    serde_json::from_slice(&body).map_err(|e| format!("unexpected status answer: {e}"))
}

fn api_error(code: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => match e.hint {
            Some(h) => format!("{} ({h})", e.error),
            None => e.error,
        },
        Err(_) => format!("HTTP {code}: {}", String::from_utf8_lossy(body).trim()),
    }
}

/// The first line of an error (client errors carry their hint on a second line).
fn first_line(e: &str) -> String {
    e.lines().next().unwrap_or(e).to_string()
}

/// Backoff for reconnection: 0.5 s doubling to 5 s; reset once connected.
struct Retry(Duration);

impl Retry {
    fn new() -> Retry {
        Retry(RETRY_FIRST)
    }
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(RETRY_MAX);
        d
    }
    fn reset(&mut self) {
        self.0 = RETRY_FIRST;
    }
}

/// Asks for the status every [`STATUS_PERIOD`], or sooner when `wake` is notified (an event),
/// but never within [`STATUS_MIN_GAP`] of the last call; backs off while the daemon is away.
async fn poll_status(client: Client, tx: UnboundedSender<Msg>, wake: Arc<Notify>) {
    let mut retry = Retry::new();
    loop {
        let started = Instant::now();
        let wait = match fetch_status(&client).await {
            Ok(s) => {
                retry.reset();
                if tx.send(Msg::Status(Box::new(s))).is_err() {
                    return;
                }
                STATUS_PERIOD
            }
            Err(e) => {
                if tx.send(Msg::Disconnected(first_line(&e))).is_err() {
                    return;
                }
                retry.next()
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {
                tokio::time::sleep(STATUS_MIN_GAP.saturating_sub(started.elapsed())).await;
            }
        }
    }
}

/// Follows the event stream, reconnecting with backoff when it ends or fails.
async fn follow_events(client: Client, tx: UnboundedSender<Msg>) {
    let mut retry = Retry::new();
    let path = format!("/v1/events?n={REPLAY}&follow=true");
    loop {
        let mut replayed = false;
        let mut pending = Lines::default();
        let _ = client
            .stream(&path, |status, chunk| {
                if status != 200 {
                    return;
                }
                if !replayed {
                    replayed = true;
                    let _ = tx.send(Msg::EventsReplay);
                }
                for line in pending.push(chunk) {
                    // A line this version cannot read (a newer daemon's kind) is skipped.
                    if let Ok(e) = serde_json::from_slice::<FleetEvent>(&line) {
                        let _ = tx.send(Msg::Event(Box::new(e)));
                    }
                }
            })
            .await;
        if tx.is_closed() {
            return;
        }
        if replayed {
            retry.reset();
        }
        tokio::time::sleep(retry.next()).await;
    }
}

/// Follows `profile`'s log, reconnecting with backoff; aborted when another log is followed.
async fn follow_logs(client: Client, profile: String, tx: UnboundedSender<Msg>) {
    let mut retry = Retry::new();
    let path = format!("/v1/logs?profile={profile}&n={REPLAY}&follow=true");
    loop {
        let mut replayed = false;
        let mut pending = Lines::default();
        let _ = client
            .stream(&path, |status, chunk| {
                if !replayed {
                    replayed = true;
                    let _ = tx.send(Msg::LogReplay(profile.clone()));
                }
                if status != 200 {
                    let _ = tx.send(Msg::LogLine(profile.clone(), api_error(status, chunk)));
                    return;
                }
                for line in pending.push(chunk) {
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    let _ = tx.send(Msg::LogLine(profile.clone(), text));
                }
            })
            .await;
        if tx.is_closed() {
            return;
        }
        if replayed {
            retry.reset();
        }
        tokio::time::sleep(retry.next()).await;
    }
}

/// Sends `action` for `profile` without waiting for its outcome (the event stream shows it),
/// and reports the answer as a notice.
async fn act(client: Client, profile: String, action: Action, tx: UnboundedSender<Msg>, wake: Arc<Notify>) {
    let name = action.as_str();
    let path = format!("/v1/instances/{profile}/{name}?wait=none");
    let notice = match client.call(Method::POST, &path).await {
        Ok((200, body)) => match serde_json::from_slice::<ActionResponse>(&body) {
            Ok(r) => format!("{name} {profile}: queued (state {})", r.state),
            Err(_) => format!("{name} {profile}: queued"),
        },
        Ok((code, body)) => format!("{name} {profile}: refused: {}", api_error(code, &body)),
        Err(e) => format!("{name} {profile}: {}", first_line(&e.to_string())),
    };
    let _ = tx.send(Msg::Notice(notice));
    wake.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that accepts the status call and never answers is given up on after
    /// [`STATUS_TIMEOUT`] with an error naming it, instead of holding `top` forever.
    #[tokio::test(start_paused = true)]
    async fn a_status_that_never_comes_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("mute.sock");
        let listener = tokio::net::UnixListener::bind(&socket).expect("bind");
        let mute = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        let e = fetch_status(&Client::new(socket.clone())).await.expect_err("no answer");
        assert!(e.contains("no status answer within 10 s") && e.contains("mute.sock"), "{e}");
        mute.abort();
    }
}
