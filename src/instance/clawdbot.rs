//! The clawdbot gateway's own health, asked the way `clawdbot gateway health --json` asks it: a
//! WebSocket on the base port, the gateway protocol's `connect` handshake, one `health` request,
//! a close. clawdbot 2026.1.24 has no `/healthz` or `/readyz` (every GET answers 200 HTML), so
//! this is the only health it reports. docs/openclaw.md ("The legacy generation") restates the
//! protocol with the upstream files; in short, from clawdbot's `dist/`:
//!
//! - The server sends the event `connect.challenge` first on every connection
//!   (`gateway/server/ws-connection.js`).
//! - The first request must be `connect` with protocol 3, a known client id and mode
//!   (`gateway/protocol/client-info.js`), role and scopes; without a device identity the gateway
//!   accepts it only when `auth.token` is non-empty (`gateway/server/ws-connection/message-handler.js`),
//!   whatever the auth mode; the token or password is then checked against the gateway's
//!   (`gateway/auth.js`; with no auth configured any token passes).
//! - `health` needs the `operator.read` scope (`gateway/server-methods.js`) and answers the
//!   cached health snapshot, `{ok: true, ...}` (`gateway/server-methods/health.js`).
//! - Events (`health`, `tick`, `presence`) may come between the answers; they are skipped.
//! - A connect with mode `cli` is not tracked as presence, and a successful round trip writes no
//!   log line (`gateway/ws-log.js` logs only failed or slow answers unless verbose); a refused
//!   connect writes two warnings (`unauthorized`, `closed before connect`).
//!
//! Every exchange is bounded: the whole of it by one deadline, each frame and message by
//! [`MAX_MESSAGE_BYTES`], the frames read by [`MAX_FRAMES`]. The secret is sent, never logged.

use crate::fleet::Plan;
pub use crate::fleet::clawdbot_auth::Credentials;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The largest frame or message accepted from the gateway, bytes. clawdbot's `hello-ok` answer
/// (method list, presence, health snapshot) and its `health` answer are a few KiB to tens of
/// KiB; a hostile or broken server cannot make a probe hold more than this.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The most frames read in one exchange (answers plus skipped events), so a server that streams
/// events and never answers ends the probe before its deadline.
pub const MAX_FRAMES: usize = 64;

/// The gateway protocol version clawdbot 2026.1.24 speaks (`PROTOCOL_VERSION`,
/// `gateway/protocol/schema/protocol-schemas.js`); the connect offers exactly this one.
pub const PROTOCOL_VERSION: u64 = 3;

/// The token sent when the gateway needs none: any non-empty token lets a connect without a
/// device identity through, and the gateway's auth mode `none` accepts any.
const OPEN_TOKEN: &str = "clawherd-probe";

/// The credentials a clawdbot gateway run from `plan` expects: its config read again (at spawn,
/// so a config edited since the fleet was loaded counts), then resolved by
/// [`resolve`](crate::fleet::clawdbot_auth::resolve) from the plan's arguments and environment.
///
/// Errors (a sentence for the status note): the config cannot be read, or `resolve`'s errors
/// (an auth mode whose secret clawherd cannot find, an unknown mode).
pub fn credentials(plan: &Plan) -> Result<Credentials, String> {
    let Some(gateway) = &plan.gateway else {
        return Ok(Credentials::Open);
    };
    let path = &gateway.config.value;
    let cfg = crate::fleet::openclaw::read_config(path).map_err(|e| format!("{}: config {}", path.display(), e.message))?;
    crate::fleet::clawdbot_auth::resolve(&plan.argv, &plan.env, &cfg)
}

/// What one health exchange found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// `health` answered `ok: true` with a snapshot whose `ok` is true.
    Healthy,
    /// The gateway answered `health`, but not healthy: the error or why the answer is not.
    Unhealthy(String),
    /// The gateway refused clawherd's `connect` (wrong or missing secret, device identity
    /// required, protocol mismatch): its error message. The gateway is up and speaking its
    /// protocol, but clawherd cannot ask its health.
    Refused(String),
    /// No usable answer: refused connection, not a WebSocket, no challenge, a frame too large or
    /// binary, a close before the answer, the deadline. Why.
    NoAnswer(String),
}

/// Asks the clawdbot gateway on `127.0.0.1:port` for its health within `timeout` (the whole
/// exchange: TCP connect, upgrade, challenge, connect, health, close).
pub async fn health(port: u16, credentials: &Credentials, timeout: Duration) -> Health {
    match tokio::time::timeout(timeout, exchange(port, credentials)).await {
        Ok(h) => h,
        Err(_) => Health::NoAnswer(format!("no answer within {}", humantime::format_duration(timeout))),
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket to `127.0.0.1:port/` with frames and messages bounded by [`MAX_MESSAGE_BYTES`]
/// (the upgrade answer is bounded by the library, 64 KiB).
async fn open(port: u16) -> Result<Ws, String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let url = format!("ws://127.0.0.1:{port}/");
    match tokio_tungstenite::client_async_with_config(url, tcp, Some(config)).await {
        Ok((ws, _)) => Ok(ws),
        Err(e) => Err(format!("WebSocket upgrade: {e}")),
    }
}

async fn exchange(port: u16, credentials: &Credentials) -> Health {
    let mut ws = match open(port).await {
        Ok(ws) => ws,
        Err(why) => return Health::NoAnswer(why),
    };
    let verdict = talk(&mut ws, credentials).await;
    // A normal close, as the CLI's client does: the gateway logs nothing for it.
    let _ = ws.close(None).await;
    verdict
}

/// Whether a clawdbot gateway answers on `127.0.0.1:port` at all, without credentials: a
/// WebSocket upgrade of `/` whose first frame is the `connect.challenge` event, within
/// `timeout`. Only the gateway's own server gives it (a Control UI page or any web server
/// answers 200 to everything), but it proves less than [`health`], and the gateway logs a
/// warning for every such connection (`closed before connect`): the readiness check of a
/// gateway clawherd cannot authenticate to, not a periodic one.
pub async fn challenge(port: u16, timeout: Duration) -> bool {
    let exchange = async {
        let mut ws = open(port).await.ok()?;
        let first = next_frame(&mut ws, &mut 1).await;
        let _ = ws.close(None).await;
        first.ok().filter(is_challenge)
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten().is_some()
}

/// Whether a frame is the `connect.challenge` event.
fn is_challenge(frame: &serde_json::Value) -> bool {
    frame.get("type").and_then(|t| t.as_str()) == Some("event") && frame.get("event").and_then(|e| e.as_str()) == Some("connect.challenge")
}

/// The exchange after the upgrade; frames are read by [`next_answer`].
async fn talk(ws: &mut Ws, credentials: &Credentials) -> Health {
    let mut budget = MAX_FRAMES;
    match next_frame(ws, &mut budget).await {
        Ok(v) if is_challenge(&v) => {}
        Ok(_) => return Health::NoAnswer("the first frame is not the connect.challenge event".into()),
        Err(why) => return Health::NoAnswer(why),
    }
    if let Err(e) = ws.send(Message::text(connect_request(credentials).to_string())).await {
        return Health::NoAnswer(format!("sending connect: {e}"));
    }
    match next_answer(ws, "clawherd-connect", &mut budget).await {
        Ok(answer) if answer.get("ok").and_then(|o| o.as_bool()) == Some(true) => {}
        Ok(answer) => return Health::Refused(error_message(&answer)),
        Err(why) => return Health::NoAnswer(why),
    }
    let request = serde_json::json!({"type": "req", "id": "clawherd-health", "method": "health", "params": {}});
    if let Err(e) = ws.send(Message::text(request.to_string())).await {
        return Health::NoAnswer(format!("sending health: {e}"));
    }
    match next_answer(ws, "clawherd-health", &mut budget).await {
        Ok(answer) => judge_health(&answer),
        Err(why) => Health::NoAnswer(why),
    }
}

/// The `connect` request: protocol 3, client `cli` in mode `cli` (not tracked as presence),
/// role operator with `operator.read` (what `health` needs), and the credentials.
fn connect_request(credentials: &Credentials) -> serde_json::Value {
    let auth = match credentials {
        Credentials::Open => serde_json::json!({"token": OPEN_TOKEN}),
        Credentials::Token(t) => serde_json::json!({"token": t}),
        Credentials::Password(p) => serde_json::json!({"token": OPEN_TOKEN, "password": p}),
    };
    serde_json::json!({
        "type": "req",
        "id": "clawherd-connect",
        "method": "connect",
        "params": {
            "minProtocol": PROTOCOL_VERSION,
            "maxProtocol": PROTOCOL_VERSION,
            "client": {
                "id": "cli",
                "displayName": "clawherd",
                "version": env!("CARGO_PKG_VERSION"),
                "platform": std::env::consts::OS,
                "mode": "cli",
            },
            "role": "operator",
            "scopes": ["operator.read"],
            "auth": auth,
        },
    })
}

/// `health`'s answer judged: healthy when `ok` and the snapshot's own `ok` are true.
fn judge_health(answer: &serde_json::Value) -> Health {
    if answer.get("ok").and_then(|o| o.as_bool()) != Some(true) {
        return Health::Unhealthy(error_message(answer));
    }
    match answer.pointer("/payload/ok").and_then(|o| o.as_bool()) {
        Some(true) => Health::Healthy,
        _ => Health::Unhealthy("the health snapshot does not say ok".into()),
    }
}

/// The error message of a failed answer, at most 300 characters.
fn error_message(answer: &serde_json::Value) -> String {
    let message = answer
        .pointer("/error/message")
        .and_then(|m| m.as_str())
        .unwrap_or("an error without a message");
    message.chars().take(300).collect()
}

/// The next answer (`type: "res"`) with `id`, skipping events; any other answer is an error.
async fn next_answer(ws: &mut Ws, id: &str, budget: &mut usize) -> Result<serde_json::Value, String> {
    loop {
        let v = next_frame(ws, budget).await?;
        match v.get("type").and_then(|t| t.as_str()) {
            Some("event") => continue,
            Some("res") if v.get("id").and_then(|i| i.as_str()) == Some(id) => return Ok(v),
            Some("res") => return Err(format!("an answer to another request than {id}")),
            _ => return Err("a frame that is neither an event nor an answer".into()),
        }
    }
}

/// The next text frame as JSON. Pings are answered by the library; binary frames, a close, the
/// end of the stream, a frame over [`MAX_MESSAGE_BYTES`] and more than [`MAX_FRAMES`] frames are
/// errors.
async fn next_frame(ws: &mut Ws, budget: &mut usize) -> Result<serde_json::Value, String> {
    loop {
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| format!("more than {MAX_FRAMES} frames without the answer"))?;
        match ws.next().await {
            None => return Err("the gateway closed the connection".into()),
            Some(Err(e)) => return Err(format!("WebSocket: {e}")),
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str()).map_err(|e| format!("a text frame that is not JSON: {e}"));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_) | Message::Frame(_))) => return Err("a binary frame".into()),
            Some(Ok(Message::Close(c))) => {
                let why = c.map_or_else(String::new, |c| format!(" ({} {})", u16::from(c.code), c.reason.as_str()));
                return Err(format!("the gateway closed the connection{why}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::net::TcpListener;

    type ServerWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

    /// A WebSocket server on a fresh port that runs `script` on its first connection.
    async fn serve<F, Fut>(script: F) -> (u16, tokio::task::JoinHandle<()>)
    where
        F: FnOnce(ServerWs) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (c, _) = l.accept().await.expect("accept");
            let ws = tokio_tungstenite::accept_async(c).await.expect("upgrade");
            script(ws).await;
        });
        (port, server)
    }

    async fn send(ws: &mut ServerWs, v: serde_json::Value) {
        ws.send(Message::text(v.to_string())).await.expect("send");
    }

    /// The next request the client sends.
    async fn request(ws: &mut ServerWs) -> serde_json::Value {
        loop {
            match ws.next().await.expect("a frame").expect("no error") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
                _ => continue,
            }
        }
    }

    fn challenge_event() -> serde_json::Value {
        json!({"type": "event", "event": "connect.challenge", "payload": {"nonce": "n", "ts": 1}})
    }

    /// Challenge, then the connect answered with hello-ok (an event first, as the real gateway
    /// broadcasts health right after a connect); returns the connect request.
    async fn greet(ws: &mut ServerWs) -> serde_json::Value {
        send(ws, challenge_event()).await;
        let connect = request(ws).await;
        send(ws, json!({"type": "event", "event": "health", "payload": {"ok": true}})).await;
        send(
            ws,
            json!({"type": "res", "id": connect["id"], "ok": true, "payload": {"type": "hello-ok", "protocol": 3}}),
        )
        .await;
        connect
    }

    const LONG: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn a_healthy_gateway_is_asked_as_its_cli_asks() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (port, server) = serve(|mut ws| async move {
            let connect = greet(&mut ws).await;
            let health = request(&mut ws).await;
            send(&mut ws, json!({"type": "event", "event": "tick", "payload": {}})).await;
            send(
                &mut ws,
                json!({"type": "res", "id": health["id"], "ok": true, "payload": {"ok": true, "ts": 1}}),
            )
            .await;
            // The client closes normally.
            let closed = matches!(ws.next().await, Some(Ok(Message::Close(_))));
            let _ = tx.send((connect, health, closed));
        })
        .await;
        assert_eq!(health(port, &Credentials::Token("s3cret".into()), LONG).await, Health::Healthy);
        let (connect, health, closed) = rx.await.expect("server saw the exchange");
        assert_eq!(connect["method"], "connect");
        let p = &connect["params"];
        assert_eq!((p["minProtocol"].as_u64(), p["maxProtocol"].as_u64()), (Some(3), Some(3)));
        assert_eq!(
            (p["client"]["id"].as_str(), p["client"]["mode"].as_str()),
            (Some("cli"), Some("cli"))
        );
        assert_eq!(p["role"], "operator");
        assert_eq!(p["scopes"], json!(["operator.read"]));
        assert_eq!(p["auth"], json!({"token": "s3cret"}));
        assert_eq!((health["type"].as_str(), health["method"].as_str()), (Some("req"), Some("health")));
        assert!(closed, "the probe ends with a close frame");
        server.await.expect("server");
    }

    #[tokio::test]
    async fn a_password_goes_with_the_placeholder_token_and_no_auth_with_it_alone() {
        for (credentials, want) in [
            (Credentials::Password("pw".into()), json!({"token": OPEN_TOKEN, "password": "pw"})),
            (Credentials::Open, json!({"token": OPEN_TOKEN})),
        ] {
            assert_eq!(connect_request(&credentials)["params"]["auth"], want);
        }
        assert_eq!(
            format!("{:?}", Credentials::Password("pw".into())),
            "Password(..)",
            "no secret in Debug"
        );
    }

    /// Each hostile or broken answer ends the probe with `NoAnswer`, well before its deadline.
    #[tokio::test]
    async fn hostile_answers_end_the_probe_without_an_answer() {
        type Script = fn(ServerWs) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
        let cases: [(&str, Script, &str); 7] = [
            (
                "huge frame",
                |mut ws| {
                    Box::pin(async move {
                        send(&mut ws, challenge_event()).await;
                        let _ = request(&mut ws).await;
                        let huge = "x".repeat(MAX_MESSAGE_BYTES + 1);
                        let _ = ws.send(Message::text(huge)).await;
                        let _ = ws.next().await;
                    })
                },
                "too long",
            ),
            (
                "binary frame",
                |mut ws| {
                    Box::pin(async move {
                        send(&mut ws, challenge_event()).await;
                        let _ = request(&mut ws).await;
                        let _ = ws.send(Message::binary(vec![1, 2, 3])).await;
                        let _ = ws.next().await;
                    })
                },
                "binary",
            ),
            (
                "answer with another id",
                |mut ws| {
                    Box::pin(async move {
                        send(&mut ws, challenge_event()).await;
                        let _ = request(&mut ws).await;
                        send(&mut ws, json!({"type": "res", "id": "someone-else", "ok": true, "payload": {}})).await;
                        let _ = ws.next().await;
                    })
                },
                "another request",
            ),
            (
                "close mid-way",
                |mut ws| {
                    Box::pin(async move {
                        greet(&mut ws).await;
                        let _ = request(&mut ws).await;
                        let _ = ws.close(None).await;
                    })
                },
                "closed",
            ),
            (
                "no challenge first",
                |mut ws| {
                    Box::pin(async move {
                        send(&mut ws, json!({"type": "event", "event": "tick"})).await;
                        let _ = ws.next().await;
                    })
                },
                "connect.challenge",
            ),
            (
                "events without end",
                |mut ws| {
                    Box::pin(async move {
                        send(&mut ws, challenge_event()).await;
                        let _ = request(&mut ws).await;
                        loop {
                            if ws.send(Message::text(r#"{"type":"event","event":"tick"}"#)).await.is_err() {
                                return;
                            }
                        }
                    })
                },
                "frames without the answer",
            ),
            (
                "not JSON",
                |mut ws| {
                    Box::pin(async move {
                        let _ = ws.send(Message::text("hello")).await;
                        let _ = ws.next().await;
                    })
                },
                "not JSON",
            ),
        ];
        for (name, script, says) in cases {
            let (port, server) = serve(script).await;
            match health(port, &Credentials::Open, LONG).await {
                Health::NoAnswer(why) => assert!(why.contains(says), "{name}: {why}"),
                other => panic!("{name}: {other:?}"),
            }
            server.abort();
        }
    }

    #[tokio::test]
    async fn a_silent_server_ends_at_the_deadline() {
        let (port, server) = serve(|mut ws| async move {
            let _ = ws.next().await;
        })
        .await;
        match health(port, &Credentials::Open, Duration::from_millis(300)).await {
            Health::NoAnswer(why) => assert!(why.contains("no answer within"), "{why}"),
            other => panic!("{other:?}"),
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_refused_connect_and_a_failed_health_are_told_apart() {
        let (port, server) = serve(|mut ws| async move {
            send(&mut ws, challenge_event()).await;
            let c = request(&mut ws).await;
            let error = json!({"code": "INVALID_REQUEST", "message": "unauthorized: gateway token mismatch"});
            send(&mut ws, json!({"type": "res", "id": c["id"], "ok": false, "error": error})).await;
            let _ = ws.close(None).await;
        })
        .await;
        assert_eq!(
            health(port, &Credentials::Open, LONG).await,
            Health::Refused("unauthorized: gateway token mismatch".into())
        );
        server.await.expect("server");
        let (port, server) = serve(|mut ws| async move {
            greet(&mut ws).await;
            let h = request(&mut ws).await;
            let error = json!({"code": "UNAVAILABLE", "message": "snapshot failed"});
            send(&mut ws, json!({"type": "res", "id": h["id"], "ok": false, "error": error})).await;
            let _ = ws.next().await;
        })
        .await;
        assert_eq!(
            health(port, &Credentials::Open, LONG).await,
            Health::Unhealthy("snapshot failed".into())
        );
        server.await.expect("server");
    }

    #[tokio::test]
    async fn the_challenge_alone_is_the_fallback_check() {
        let (port, server) = serve(|mut ws| async move {
            send(&mut ws, challenge_event()).await;
            let _ = ws.next().await;
        })
        .await;
        assert!(challenge(port, LONG).await);
        server.await.expect("server");
        let (port, server) = serve(|mut ws| async move {
            send(&mut ws, json!({"type": "event", "event": "tick"})).await;
            let _ = ws.next().await;
        })
        .await;
        assert!(!challenge(port, LONG).await);
        server.await.expect("server");
    }
}
