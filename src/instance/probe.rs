//! HTTP probes: `GET /readyz` (readiness) and `GET /healthz` (liveness) on 127.0.0.1, with a
//! timeout. OpenClaw answers them without auth, `200` when ready/live and `503` with `failing`
//! reasons otherwise (`dist/gateway-http-route-contracts-*.mjs` in its package). Before the listener
//! exists the connection is refused, which counts as "not ready".

use crate::process::http::{self, Target};
use bytes::Bytes;
use http_body_util::Full;
use std::time::Duration;

/// Readiness path.
pub(crate) const READY_PATH: &str = "/readyz";
/// Liveness path.
pub(crate) const LIVE_PATH: &str = "/healthz";

/// Why a probe got no HTTP answer: refused (nothing listens yet), an HTTP error, a timeout,
/// or a body over [`MAX_BODY_BYTES`].
pub(crate) type ProbeError = http::HttpError;

/// The largest probe answer read; `/readyz` answers are a few hundred bytes.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// `GET path` on `127.0.0.1:port`; returns the status code and body.
///
/// Errors: [`ProbeError`] (refused, HTTP error, timeout, body too large).
pub(crate) async fn get(port: u16, path: &str, timeout: Duration) -> Result<(u16, Bytes), ProbeError> {
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .header(hyper::header::CONNECTION, "close")
        .body(Full::new(Bytes::new()))?;
    http::fetch(&Target::Tcp(format!("127.0.0.1:{port}")), request, timeout, MAX_BODY_BYTES).await
}

/// Whether the gateway on `port` reports ready (`GET /readyz` → 200).
pub(crate) async fn is_ready(port: u16, timeout: Duration) -> bool {
    matches!(get(port, READY_PATH, timeout).await, Ok((200, _)))
}

/// How long to wait before an instance's next periodic probe round so that the rounds of a
/// fleet are spread over the period instead of arriving together (a thundering herd: 1,000
/// instances made ready by one fleet start would otherwise be probed in the same few
/// milliseconds every period, forever).
///
/// Each instance has a fixed slot in the period, `hash(name) mod period`, counted from a
/// process-wide epoch (the first call). The answer is the time from `now` to the first slot
/// that is at least half a period away: rounds come exactly `period` apart once steady, and the
/// first round after ready (or after a round that took long) comes within ½ to 1½ periods, so
/// failure detection stays within `period × failures` plus at most half a period. Pure
/// arithmetic on durations; `period` of zero answers zero.
pub(crate) fn until_next_round(name: &str, period: std::time::Duration, now: std::time::Instant) -> std::time::Duration {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    next_slot(name, period, now.saturating_duration_since(*EPOCH.get_or_init(|| now)))
}

/// [`until_next_round`] at `since_epoch` past the epoch.
fn next_slot(name: &str, period: std::time::Duration, since_epoch: std::time::Duration) -> std::time::Duration {
    let period_ns = period.as_nanos();
    if period_ns == 0 {
        return std::time::Duration::ZERO;
    }
    // FNV-1a: stable across runs and builds (std's hasher is randomly keyed per process).
    let hash = name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let slot = u128::from(hash) % period_ns;
    let now = since_epoch.as_nanos();
    // The first slot at or after now + period/2.
    let earliest = now + period_ns / 2;
    let k = earliest.saturating_sub(slot).div_ceil(period_ns);
    let at = slot + k * period_ns;
    let wait = at.saturating_sub(now);
    std::time::Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX))
}

/// A path clawdbot's HTTP server answers for POST only, without auth and whatever the config
/// (`handleToolsInvokeHttpRequest`, clawdbot's dist/gateway/tools-invoke-http.js): a GET gets
/// `405 Method Not Allowed`, where the Control UI fallback would give any other path 200 HTML.
pub(crate) const CLAWDBOT_POST_ONLY_PATH: &str = "/tools/invoke";

/// Whether the clawdbot gateway's HTTP handler chain answers on `127.0.0.1:port`: `GET
/// /tools/invoke` → 405 with the body `Method Not Allowed`. A weaker proof than
/// [`clawdbot_challenge`] (any server may answer 405), but it leaves no line in the gateway's log,
/// so it serves the periodic rounds of a gateway clawherd cannot authenticate to, once
/// [`clawdbot_challenge`] has shown it to be the gateway (each challenge logs a warning, `closed
/// before connect`).
pub(crate) async fn clawdbot_http_alive(port: u16, timeout: Duration) -> bool {
    matches!(get(port, CLAWDBOT_POST_ONLY_PATH, timeout).await, Ok((405, body)) if body.as_ref() == b"Method Not Allowed")
}

/// Whether a clawdbot gateway answers on `127.0.0.1:port`: its WebSocket server's first frame
/// is the `connect.challenge` event ([`clawdbot::challenge`]). clawdbot 2026.1.24 has no
/// `/healthz` or `/readyz` (every GET answers 200 HTML from the Control UI fallback); its real
/// health is [`clawdbot::health`], which needs credentials. This weaker check decides readiness
/// only when clawherd cannot authenticate; `timeout` bounds the whole exchange.
///
/// [`clawdbot::challenge`]: super::clawdbot::challenge
/// [`clawdbot::health`]: super::clawdbot::health
pub(crate) async fn clawdbot_challenge(port: u16, timeout: Duration) -> bool {
    super::clawdbot::challenge(port, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_keep_their_slot_and_spread_over_the_period() {
        let period = Duration::from_secs(10);
        // Steady state: the round after a round is exactly one period later.
        let first = next_slot("g1", period, Duration::from_secs(3));
        assert!(first >= period / 2 && first < period * 3 / 2, "{first:?}");
        let at = Duration::from_secs(3) + first;
        assert_eq!(next_slot("g1", period, at), period);
        // A round that took 2 s: the next one keeps the slot (8 s later), not 10 s after it ended.
        assert_eq!(next_slot("g1", period, at + Duration::from_secs(2)), Duration::from_secs(8));
        // 1,000 instances made ready at the same moment: their first rounds fall in every tenth
        // of the period, none holding more than a few times its share.
        let mut buckets = [0usize; 10];
        for i in 0..1000 {
            let wait = next_slot(&format!("g{i}"), period, Duration::from_secs(100));
            let bucket = usize::try_from((wait - period / 2).as_millis() / 1000).expect("small");
            buckets[bucket] += 1;
        }
        assert!(buckets.iter().all(|b| (50..=150).contains(b)), "{buckets:?}");
        assert_eq!(next_slot("g1", Duration::ZERO, Duration::from_secs(1)), Duration::ZERO);
    }

    /// A server that answers 200 to everything (clawdbot's Control UI fallback, or any web
    /// server) is not a ready clawdbot gateway.
    #[tokio::test]
    async fn a_plain_http_200_is_not_a_clawdbot_gateway() {
        let (port, server) = answer_once(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nok".to_vec()).await;
        assert!(!clawdbot_challenge(port, Duration::from_secs(5)).await);
        server.abort();
    }

    /// One canned HTTP answer on a fresh port, for one connection.
    async fn answer_once(response: Vec<u8>) -> (u16, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        let server = tokio::spawn(async move {
            let (mut c, _) = l.accept().await.expect("accept");
            let mut b = [0u8; 1024];
            let _ = c.read(&mut b).await;
            let _ = c.write_all(&response).await;
        });
        (port, server)
    }

    #[tokio::test]
    async fn the_quiet_check_wants_the_post_only_405() {
        let ok: &[u8] =
            b"HTTP/1.1 405 Method Not Allowed\r\nallow: POST\r\ncontent-length: 18\r\nconnection: close\r\n\r\nMethod Not Allowed";
        let (port, server) = answer_once(ok.to_vec()).await;
        assert!(clawdbot_http_alive(port, Duration::from_secs(5)).await);
        server.abort();
        let html: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
        let (port, server) = answer_once(html.to_vec()).await;
        assert!(!clawdbot_http_alive(port, Duration::from_secs(5)).await);
        server.abort();
    }
}
