//! `fake-gateway`: a small stand-in for the OpenClaw gateway (`openclaw gateway run`)
//! used by clawherd's fast behaviour tests.
//!
//! It serves the gateway's health endpoints over minimal HTTP/1.1 on `127.0.0.1:<port>` (and,
//! once ready, clawdbot's WebSocket protocol: the `connect.challenge` event, `connect` with the
//! real gateway's auth rule, `health`; see `clawdbot_ws`),
//! prints the gateway's lifecycle lines on stdout (`[gateway] ...`) and its own
//! diagnostics on stderr (`[fake] ...`).
//!
//! Port: `--port P` in argv, else `OPENCLAW_GATEWAY_PORT`, else `CLAWDBOT_GATEWAY_PORT`,
//! else 18789. Other argv (e.g. `gateway run --bind loopback`) is accepted and ignored.
//!
//! State dir: `OPENCLAW_STATE_DIR` (or `CLAWDBOT_STATE_DIR`). When set it is created, an
//! exclusive `flock` is held on `<state>/gateway.lock` for the process lifetime (exit 78
//! if another process holds it) and the pid is written to `<state>/fake-gateway.pid` and, as
//! OpenClaw does, to `<state>/tmp/openclaw-<uid>/gateway.state.lock` (JSON `{"pid":N,...}`).
//!
//! Knobs (environment, durations in milliseconds, all optional):
//! - `FAKE_LISTEN_DELAY_MS`: wait this long before binding the port (default 0).
//! - `FAKE_BIND_RETRY_MS`: keep retrying a busy port for up to this long (default 0).
//! - `FAKE_READY_DELAY_MS`: after binding, `/readyz` is 503 for this long, then 200 (default 0).
//! - `FAKE_EXIT_AFTER_MS`: exit with `FAKE_EXIT_CODE` (default 1) this long after start.
//! - `FAKE_EXIT_CODE`: alone (no `FAKE_EXIT_AFTER_MS`), exit with it right after `starting...`.
//! - `FAKE_IGNORE_SIGTERM=1`: log and ignore SIGTERM/SIGINT.
//! - `FAKE_STOP_DELAY_MS`: on SIGTERM/SIGINT, drain this long (`/readyz` 503) then exit 0.
//! - `FAKE_SPAWN_WORKER=1`: spawn a copy of itself (`FAKE_ROLE=worker`) in its own session;
//!   the worker ignores SIGTERM and sleeps forever, so only SIGKILL removes it.
//! - `FAKE_HANDBACK_AFTER_MS`: this long after ready, print the supervisor-restart line, exit 0.
//! - `FAKE_REFUSE_DELAY_MS`: when the config file (`OPENCLAW_CONFIG_PATH`) contains the word
//!   `fakeRefuse`, the gateway refuses it as OpenClaw refuses an unknown key: it prints
//!   `Invalid config at PATH:` and `- fakeRefuse: Unrecognized key: "fakeRefuse"` on stderr and
//!   exits 78, this long after start (default 0: at once), after saying so on stderr at once
//!   (`[fake] the config has fakeRefuse: refusing it in N ms`). Without the word it runs
//!   normally.
//! - `FAKE_UNHEALTHY_AFTER_MS`: this long after ready, `/healthz` answers 503 (liveness fails)
//!   while `/readyz` stays 200, and clawdbot's `health` call answers an `UNAVAILABLE` error.
//! - `CLAWDBOT_GATEWAY_TOKEN`, `CLAWDBOT_GATEWAY_PASSWORD`: the secret a WebSocket `connect`
//!   must present, as the real clawdbot gateway reads them.
//! - `FAKE_DOTENV_TOKEN`: a token the gateway has without `CLAWDBOT_GATEWAY_TOKEN`, as the real
//!   one has from a `.env` file clawherd does not read.
//!
//! Signals: SIGTERM/SIGINT stop cleanly (exit 0), SIGUSR2 hands back to the supervisor
//! (exit 0), SIGHUP keeps its default action.
//!
//! Restart hand-back: as OpenClaw writes a handoff row before it exits 0, the fake writes its
//! pid to `<state>/fake-restart-handoff` (when a state dir is set). `fake-gateway gateway
//! restart-handoff consume --expected-pid P --json` answers as OpenClaw's CLI does: `accepted`
//! (and removes the file) when the file holds P, `rejected`/`pid-mismatch` when it holds another
//! pid, `none`/`missing` without a file; always exit 0.
//!
//! Exit codes: clean stop 0, port in use 1, busy state dir 78, `FAKE_EXIT_CODE` as given.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::sleep;

/// Port used when neither argv nor the environment names one.
const DEFAULT_PORT: u16 = 18789;
/// Line printed when the gateway hands its restart back to an external supervisor.
const HANDBACK_LINE: &str = "[gateway] restart mode: full process restart (supervisor restart)";
/// Largest request head we are willing to buffer.
const MAX_HEAD: usize = 16 * 1024;

/// Lifecycle phase as seen by `/readyz` and `/startupz`.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Bound (or binding) but not ready yet.
    Starting = 0,
    /// Ready to serve.
    Ready = 1,
    /// Stop signal received, draining before exit.
    Draining = 2,
}

/// State shared between the signal loop, the timers and the HTTP server.
struct Shared {
    /// Process start, for `uptimeMs`.
    start: Instant,
    /// Current [`Phase`] as its `u8` discriminant.
    phase: AtomicU8,
    /// Whether the gateway ever became ready (`/startupz` stays 200 while draining).
    started: AtomicBool,
    /// `FAKE_UNHEALTHY_AFTER_MS` elapsed: `/healthz` answers 503.
    unhealthy: AtomicBool,
}

impl Shared {
    /// Current lifecycle phase.
    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::Starting,
            1 => Phase::Ready,
            _ => Phase::Draining,
        }
    }

    /// Milliseconds since process start.
    fn uptime_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Prints a line on stdout and flushes it, ignoring a closed stdout.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Prints a `[fake]` diagnostic on stderr, ignoring a closed stderr.
fn fake(msg: &str) {
    let _ = writeln!(std::io::stderr(), "[fake] {msg}");
}

/// Exits the process with `code`, logging why.
fn exit(code: i32, why: &str) -> ! {
    fake(&format!("exiting with code {code}: {why}"));
    std::process::exit(code)
}

/// Prints a gateway-style failure line on stderr, then exits with `code`.
fn fail(code: i32, line: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "{line}");
    exit(code, "failed to start")
}

/// Reads an optional millisecond duration from the environment.
fn env_ms(name: &str) -> Option<Duration> {
    let raw = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    match raw.parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => exit(2, &format!("{name}={raw:?} is not a number of milliseconds")),
    }
}

/// Whether a boolean knob is set to `1` (or `true`).
fn env_flag(name: &str) -> bool {
    matches!(std::env::var(name).as_deref(), Ok("1" | "true"))
}

/// Picks the port from `--port P` / `--port=P`, then the environment, then the default.
fn port() -> u16 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let from_argv = args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--port") {
        Some("") => args.get(i + 1).cloned(),
        Some(rest) => rest.strip_prefix('=').map(str::to_owned),
        None => None,
    });
    let raw = from_argv
        .or_else(|| std::env::var("OPENCLAW_GATEWAY_PORT").ok())
        .or_else(|| std::env::var("CLAWDBOT_GATEWAY_PORT").ok())
        .filter(|p| !p.is_empty());
    match raw {
        None => DEFAULT_PORT,
        Some(p) => p.parse().unwrap_or_else(|_| exit(2, &format!("invalid port {p:?}"))),
    }
}

/// Creates the state dir, takes `gateway.lock` (exit 78 if busy) and writes the pid file.
fn claim_state_dir(dir: PathBuf) -> Flock<std::fs::File> {
    std::fs::create_dir_all(&dir).expect("create state dir");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("gateway.lock"))
        .expect("open gateway.lock");
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => fail(78, "Gateway failed to start: another OpenClaw process owns gateway-lifecycle"),
        Err((_, e)) => exit(1, &format!("flock gateway.lock: {e}")),
    };
    let pid = std::process::id();
    std::fs::write(dir.join("fake-gateway.pid"), format!("{pid}\n")).expect("write pid file");
    // OpenClaw's state lock, `$STATE/tmp/openclaw-<uid>/gateway.state.lock` (`dist/gateway-lock-*.mjs`).
    let lock_dir = dir.join(format!("tmp/openclaw-{}", nix::unistd::geteuid()));
    std::fs::create_dir_all(&lock_dir).expect("create lock dir");
    let record = format!("{{\"pid\":{pid},\"stateDir\":\"{}\"}}\n", dir.display());
    std::fs::write(lock_dir.join("gateway.state.lock"), record).expect("write state lock");
    lock
}

/// Worker role: own session, ignore SIGTERM, announce itself, then sleep forever.
async fn worker_main() -> ! {
    if let Err(e) = nix::unistd::setsid() {
        fake(&format!("worker setsid failed: {e}"));
    }
    let mut term = signal(SignalKind::terminate()).expect("install worker SIGTERM handler");
    let parent = nix::unistd::getppid();
    say(&format!("worker:{} parent:{parent}", std::process::id()));
    loop {
        term.recv().await;
        fake("worker ignoring SIGTERM");
    }
}

/// Spawns the worker copy of this binary and reaps it in the background if it exits.
fn spawn_worker() {
    let exe = std::env::current_exe().expect("locate own executable");
    let mut child = tokio::process::Command::new(exe)
        .env("FAKE_ROLE", "worker")
        .spawn()
        .expect("spawn worker");
    say(&format!("[gateway] worker pid={}", child.id().unwrap_or(0)));
    tokio::spawn(async move {
        match child.wait().await {
            Ok(status) => fake(&format!("worker exited: {status}")),
            Err(e) => fake(&format!("waiting for worker failed: {e}")),
        }
    });
}

/// Binds the port (after the listen delay), serves HTTP and flips to ready after the delay.
async fn serve(port: u16, shared: Arc<Shared>) {
    if let Some(delay) = env_ms("FAKE_LISTEN_DELAY_MS") {
        sleep(delay).await;
    }
    let retry_until = Instant::now() + env_ms("FAKE_BIND_RETRY_MS").unwrap_or_default();
    let listener = loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => break listener,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < retry_until => {
                sleep(Duration::from_millis(100)).await;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => fail(
                1,
                &format!("Gateway failed to start: another gateway instance is already listening on ws://127.0.0.1:{port}"),
            ),
            Err(e) => exit(1, &format!("bind 127.0.0.1:{port}: {e}")),
        }
    };
    say(&format!("[gateway] http server listening on 127.0.0.1:{port}"));
    tokio::spawn(become_ready(shared.clone()));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let handled = tokio::time::timeout(Duration::from_secs(10), handle(stream, &shared));
                    match handled.await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => fake(&format!("connection error: {e}")),
                        Err(_) => fake("connection timed out"),
                    }
                });
            }
            Err(e) => {
                fake(&format!("accept failed: {e}"));
                sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Waits out `FAKE_READY_DELAY_MS`, marks the gateway ready, then runs the hand-back timer.
async fn become_ready(shared: Arc<Shared>) {
    sleep(env_ms("FAKE_READY_DELAY_MS").unwrap_or_default()).await;
    let from = Phase::Starting as u8;
    if shared
        .phase
        .compare_exchange(from, Phase::Ready as u8, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return; // Already draining: never report ready.
    }
    shared.started.store(true, Ordering::SeqCst);
    say("[gateway] ready");
    if let Some(after) = env_ms("FAKE_UNHEALTHY_AFTER_MS") {
        let shared = shared.clone();
        tokio::spawn(async move {
            sleep(after).await;
            fake("FAKE_UNHEALTHY_AFTER_MS elapsed: /healthz answers 503");
            shared.unhealthy.store(true, Ordering::SeqCst);
        });
    }
    if let Some(after) = env_ms("FAKE_HANDBACK_AFTER_MS") {
        sleep(after).await;
        handback();
    }
}

/// Hands the restart back to the external supervisor: write the handoff, print the line,
/// exit 0.
fn handback() -> ! {
    if let Some(dir) = state_dir() {
        let _ = std::fs::write(dir.join(HANDOFF_FILE), format!("{}\n", std::process::id()));
    }
    say(HANDBACK_LINE);
    exit(0, "restart handed back to supervisor")
}

/// The handoff "row": a file in the state dir holding the pid that handed back.
const HANDOFF_FILE: &str = "fake-restart-handoff";

/// `OPENCLAW_STATE_DIR` (or `CLAWDBOT_STATE_DIR`), when set.
fn state_dir() -> Option<PathBuf> {
    ["OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"]
        .iter()
        .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
        .map(PathBuf::from)
}

/// `gateway restart-handoff consume --expected-pid P --json`, as OpenClaw's CLI answers it.
///
/// With `FAKE_CONSUME_GATE=PATH` it first waits (up to 120 s) until PATH exists, as a slow CLI
/// would, so a test can hold clawherd's judgement of an exit open.
fn consume_handoff(args: &[String]) -> ! {
    if let Some(gate) = std::env::var_os("FAKE_CONSUME_GATE") {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !std::path::Path::new(&gate).exists() && std::time::Instant::now() < end {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    let expected = args
        .iter()
        .position(|a| a == "--expected-pid")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or_else(|| exit(2, "invalid-expected-pid"));
    let file = state_dir().map(|d| d.join(HANDOFF_FILE));
    let held = file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|t| t.trim().parse::<u32>().ok());
    let head = r#""ok":true,"protocol":"openclaw.gateway.restart-handoff","protocolVersion":1"#;
    let answer = match held {
        None => format!(r#"{{{head},"status":"none","reason":"missing"}}"#),
        Some(pid) if pid != expected => format!(r#"{{{head},"status":"rejected","reason":"pid-mismatch","handoffPid":{pid}}}"#),
        Some(pid) => {
            if let Some(f) = &file {
                let _ = std::fs::remove_file(f);
            }
            format!(r#"{{{head},"status":"accepted","handoff":{{"pid":{pid},"reason":"sigusr2","source":"signal"}}}}"#)
        }
    };
    println!("{answer}");
    std::process::exit(0)
}

/// Answers one HTTP/1.1 request and closes the connection.
async fn handle(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "request head too large"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(()); // Client went away before finishing its request.
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut request_line = head.lines().next().unwrap_or_default().split_whitespace();
    let method = request_line.next().unwrap_or_default();
    let target = request_line.next().unwrap_or("/");
    let path = target.split('?').next().unwrap_or(target);
    // clawdbot's WebSocket protocol, once ready: challenge, connect, health.
    if head.to_ascii_lowercase().contains("upgrade: websocket") && shared.phase() == Phase::Ready {
        return clawdbot_ws(stream, &head, shared).await;
    }
    let (status, body) = route(method, path, shared);
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// clawdbot's gateway protocol, as much of it as the probes use (clawdbot's
/// `dist/gateway/server/ws-connection.js` and `ws-connection/message-handler.js`): the upgrade
/// answered, the `connect.challenge` event, a `connect` request checked as the real gateway checks
/// one without a device identity (a non-empty `auth.token` is required; with
/// `CLAWDBOT_GATEWAY_PASSWORD` set the password must match, else with `CLAWDBOT_GATEWAY_TOKEN` or
/// `FAKE_DOTENV_TOKEN` set the token must), a `health` event then `hello-ok`, and `health` requests answered with
/// `{ok: true}` (an `UNAVAILABLE` error after `FAKE_UNHEALTHY_AFTER_MS`). A refused connect prints
/// the real gateway's `[ws] unauthorized` warning and is closed with 1008.
async fn clawdbot_ws(mut stream: TcpStream, head: &str, shared: &Shared) -> std::io::Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let key = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case("sec-websocket-key"))
        })
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let answer =
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
    stream.write_all(answer.as_bytes()).await?;
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().max_message_size(Some(512 * 1024));
    let mut ws =
        tokio_tungstenite::WebSocketStream::from_raw_socket(stream, tokio_tungstenite::tungstenite::protocol::Role::Server, Some(config))
            .await;
    let io = |e: tokio_tungstenite::tungstenite::Error| std::io::Error::other(e.to_string());
    let text = |v: serde_json::Value| Message::text(v.to_string());
    ws.send(text(
        serde_json::json!({"type": "event", "event": "connect.challenge", "payload": {"nonce": "fake", "ts": 0}}),
    ))
    .await
    .map_err(io)?;
    let mut connected = false;
    while let Some(frame) = ws.next().await {
        let Message::Text(t) = frame.map_err(io)? else { continue };
        let Ok(req) = serde_json::from_str::<serde_json::Value>(t.as_str()) else {
            return ws.close(None).await.map_err(io);
        };
        let id = req.get("id").cloned().unwrap_or_default();
        let method = req.get("method").and_then(|m| m.as_str()).unwrap_or_default();
        let fail = |code: &str, message: &str| {
            text(serde_json::json!({"type": "res", "id": id, "ok": false, "error": {"code": code, "message": message}}))
        };
        if !connected {
            let auth = req.pointer("/params/auth");
            let given = |k: &str| auth.and_then(|a| a.get(k)).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let want = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let refusal = if method != "connect" {
                Some(("INVALID_REQUEST", "invalid handshake: first request must be connect"))
            } else if given("token").is_empty() {
                Some(("NOT_PAIRED", "device identity required"))
            } else if want("CLAWDBOT_GATEWAY_PASSWORD").is_some_and(|p| p != given("password")) {
                Some(("INVALID_REQUEST", "unauthorized: gateway password mismatch"))
            } else if want("CLAWDBOT_GATEWAY_PASSWORD").is_none()
                && want("CLAWDBOT_GATEWAY_TOKEN")
                    .or_else(|| want("FAKE_DOTENV_TOKEN"))
                    .is_some_and(|t| t != given("token"))
            {
                Some(("INVALID_REQUEST", "unauthorized: gateway token mismatch"))
            } else {
                None
            };
            if let Some((code, message)) = refusal {
                say(&format!("[ws] unauthorized conn=fake remote=127.0.0.1 reason={message}"));
                ws.send(fail(code, message)).await.map_err(io)?;
                return ws.close(None).await.map_err(io);
            }
            connected = true;
            ws.send(text(
                serde_json::json!({"type": "event", "event": "health", "payload": {"ok": true}}),
            ))
            .await
            .map_err(io)?;
            let hello = serde_json::json!({"type": "hello-ok", "protocol": 3, "server": {"version": "fake", "connId": "fake"}});
            ws.send(text(serde_json::json!({"type": "res", "id": id, "ok": true, "payload": hello})))
                .await
                .map_err(io)?;
        } else if method == "health" && shared.unhealthy.load(Ordering::SeqCst) {
            ws.send(fail("UNAVAILABLE", "fake: unhealthy")).await.map_err(io)?;
        } else if method == "health" {
            let payload = serde_json::json!({"ok": true, "ts": shared.uptime_ms(), "durationMs": 0, "channels": {}});
            ws.send(text(serde_json::json!({"type": "res", "id": id, "ok": true, "payload": payload})))
                .await
                .map_err(io)?;
        } else {
            ws.send(fail("INVALID_REQUEST", "fake: unknown method")).await.map_err(io)?;
        }
    }
    Ok(())
}

/// Maps a request to its status code and JSON body (key order as the real gateway's).
fn route(method: &str, path: &str, shared: &Shared) -> (u16, String) {
    if method != "GET" && method != "HEAD" {
        return (405, r#"{"error":"method not allowed"}"#.to_owned());
    }
    let up = shared.uptime_ms();
    let not_ready = |why: &str| {
        let body = format!(r#"{{"ready":false,"failing":["{why}"],"uptimeMs":{up}}}"#);
        (503, body)
    };
    match path {
        "/healthz" | "/health" if shared.unhealthy.load(Ordering::SeqCst) => (503, r#"{"ok":false,"status":"unhealthy"}"#.to_owned()),
        "/healthz" | "/health" => (200, r#"{"ok":true,"status":"live"}"#.to_owned()),
        // clawdbot's POST-only route, the quiet liveness check of `flavor: clawdbot`.
        "/tools/invoke" => (405, "Method Not Allowed".to_owned()),
        "/readyz" | "/ready" => match shared.phase() {
            Phase::Ready => (200, format!(r#"{{"ready":true,"failing":[],"uptimeMs":{up}}}"#)),
            Phase::Starting => not_ready("startup-sidecars"),
            Phase::Draining => not_ready("gateway-draining"),
        },
        "/startupz" if shared.started.load(Ordering::SeqCst) => {
            let body = format!(r#"{{"ok":true,"status":"started","version":"fake","uptimeMs":{up}}}"#);
            (200, body)
        }
        "/startupz" => (503, r#"{"ok":false,"status":"starting"}"#.to_owned()),
        _ => (404, r#"{"error":"not found"}"#.to_owned()),
    }
}

/// Reacts to SIGTERM/SIGINT: ignore, exit at once, or drain for `FAKE_STOP_DELAY_MS`.
fn on_stop_signal(name: &str, shared: &Arc<Shared>) {
    if env_flag("FAKE_IGNORE_SIGTERM") {
        return fake(&format!("ignoring {name}"));
    }
    if shared.phase() == Phase::Draining {
        return fake(&format!("already draining; ignoring {name}"));
    }
    say(&format!("[gateway] received {name}; shutting down"));
    let delay = env_ms("FAKE_STOP_DELAY_MS").unwrap_or_default();
    if delay.is_zero() {
        exit(0, "clean stop");
    }
    shared.phase.store(Phase::Draining as u8, Ordering::SeqCst);
    tokio::spawn(async move {
        sleep(delay).await;
        exit(0, "clean stop after drain");
    });
}

/// `FAKE_REFUSE_DELAY_MS` (see the module doc): refuse a config that contains `fakeRefuse`.
async fn refuse_config_if_marked() {
    let Some(path) = std::env::var_os("OPENCLAW_CONFIG_PATH") else {
        return;
    };
    // Only a regular file is read: a FIFO would block the start (a test puts one there).
    let regular = std::fs::metadata(&path).is_ok_and(|m| m.is_file());
    let refused = regular && std::fs::read_to_string(&path).is_ok_and(|t| t.contains("fakeRefuse"));
    if !refused {
        return;
    }
    let delay = env_ms("FAKE_REFUSE_DELAY_MS").unwrap_or_default();
    fake(&format!("the config has fakeRefuse: refusing it in {} ms", delay.as_millis()));
    sleep(delay).await;
    let path = PathBuf::from(path);
    // As OpenClaw: the refusal is the last thing printed.
    let _ = writeln!(
        std::io::stderr(),
        "Invalid config at {}:\n- fakeRefuse: Unrecognized key: \"fakeRefuse\"",
        path.display()
    );
    std::process::exit(78);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::var("FAKE_ROLE").as_deref() == Ok("worker") {
        worker_main().await;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.starts_with(&["gateway".into(), "restart-handoff".into(), "consume".into()]) {
        consume_handoff(&args[3..]);
    }
    let shared = Arc::new(Shared {
        start: Instant::now(),
        phase: AtomicU8::new(Phase::Starting as u8),
        started: AtomicBool::new(false),
        unhealthy: AtomicBool::new(false),
    });
    let port = port();
    say(&format!("[gateway] starting... pid={}", std::process::id()));

    let exit_code = std::env::var("FAKE_EXIT_CODE").ok().filter(|c| !c.is_empty()).map(|c| {
        c.parse::<i32>()
            .unwrap_or_else(|_| exit(2, &format!("FAKE_EXIT_CODE={c:?} is not an integer")))
    });
    match (env_ms("FAKE_EXIT_AFTER_MS"), exit_code) {
        (None, Some(code)) => exit(code, "FAKE_EXIT_CODE"),
        (Some(after), code) => {
            tokio::spawn(async move {
                sleep(after).await;
                exit(code.unwrap_or(1), "FAKE_EXIT_AFTER_MS elapsed");
            });
        }
        (None, None) => {}
    }

    refuse_config_if_marked().await;
    let _lock = state_dir().map(claim_state_dir);

    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    let mut usr2 = signal(SignalKind::user_defined2()).expect("install SIGUSR2 handler");

    if env_flag("FAKE_SPAWN_WORKER") {
        spawn_worker();
    }
    tokio::spawn(serve(port, shared.clone()));

    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = usr2.recv() => handback(),
        };
        on_stop_signal(name, &shared);
    }
}
