//! HTTP probes: `GET /readyz` (readiness) and `GET /healthz` (liveness) on 127.0.0.1, with a
//! timeout. OpenClaw answers them without auth, `200` when ready/live and `503` with `failing`
//! reasons otherwise (`dist/gateway-http-route-contracts-*.mjs`, docs/openclaw.md, "Health and readiness"). Before the listener
//! exists the connection is refused, which counts as "not ready".

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// Readiness path.
pub const READY_PATH: &str = "/readyz";
/// Liveness path.
pub const LIVE_PATH: &str = "/healthz";

/// Why a probe got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing listens yet, or the connection failed.
    #[error("connect to 127.0.0.1:{port}: {source}")]
    Connect {
        /// The port.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// HTTP-level failure.
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// No complete answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// `GET path` on `127.0.0.1:port`; returns the status code and body.
///
/// Errors: [`ProbeError`] (refused, HTTP error, timeout).
pub async fn get(port: u16, path: &str, timeout: Duration) -> Result<(u16, Bytes), ProbeError> {
    tokio::time::timeout(timeout, get_inner(port, path))
        .await
        .map_err(|_| ProbeError::Timeout(timeout))?
}

async fn get_inner(port: u16, path: &str) -> Result<(u16, Bytes), ProbeError> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|source| ProbeError::Connect { port, source })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection task ends when the response is read and the sender dropped; it is owned by
    // this probe (aborted on return).
    let conn = tokio::spawn(conn);
    let req = Request::get(path)
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .expect("static request is valid");
    let result = async {
        let res = sender.send_request(req).await?;
        let status = res.status().as_u16();
        let body = res.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
    .await;
    conn.abort();
    result
}

/// Whether the gateway on `port` reports ready (`GET /readyz` → 200).
pub async fn is_ready(port: u16, timeout: Duration) -> bool {
    matches!(get(port, READY_PATH, timeout).await, Ok((200, _)))
}
