//! HTTP probes: `GET /readyz` (readiness) and `GET /healthz` (liveness) on 127.0.0.1, with a
//! timeout. OpenClaw answers them without auth, `200` when ready/live and `503` with `failing`
//! reasons otherwise (`dist/gateway-http-route-contracts-*.mjs` in its package). Before the listener
//! exists the connection is refused, which counts as "not ready".

use crate::process::http::{self, Target};
use bytes::Bytes;
use http_body_util::Full;
use std::time::Duration;

/// Readiness path.
pub const READY_PATH: &str = "/readyz";
/// Liveness path.
pub const LIVE_PATH: &str = "/healthz";

/// Why a probe got no HTTP answer: refused (nothing listens yet), an HTTP error, a timeout,
/// or a body over [`MAX_BODY_BYTES`].
pub type ProbeError = http::HttpError;

/// The largest probe answer read; `/readyz` answers are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// `GET path` on `127.0.0.1:port`; returns the status code and body.
///
/// Errors: [`ProbeError`] (refused, HTTP error, timeout, body too large).
pub async fn get(port: u16, path: &str, timeout: Duration) -> Result<(u16, Bytes), ProbeError> {
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .header(hyper::header::CONNECTION, "close")
        .body(Full::new(Bytes::new()))?;
    http::fetch(&Target::Tcp(format!("127.0.0.1:{port}")), request, timeout, MAX_BODY_BYTES).await
}

/// Whether the gateway on `port` reports ready (`GET /readyz` → 200).
pub async fn is_ready(port: u16, timeout: Duration) -> bool {
    matches!(get(port, READY_PATH, timeout).await, Ok((200, _)))
}
