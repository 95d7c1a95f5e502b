//! The one small HTTP/1.1 client of clawherd: over TCP (readiness and liveness probes, the
//! failover hook's POST) or a Unix socket (the CLI's calls to the control API), with a timeout
//! for a whole exchange and a cap on the size of a response body read whole.

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::time::Duration;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A TCP address, `host:port` (a name is resolved).
    Tcp(String),
    /// A Unix socket's path.
    Unix(PathBuf),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp(addr) => f.write_str(addr),
            Target::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Why an exchange got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Nothing listens, or the connection failed (`source.kind()` tells which, e.g.
    /// `ConnectionRefused`, `NotFound`, `PermissionDenied`).
    #[error("connect to {target}: {source}")]
    Connect { target: Target, source: std::io::Error },
    /// HTTP-level failure (a malformed answer, a closed connection).
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// No complete answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be built (an invalid path or header value).
    #[error("invalid request: {0}")]
    Request(#[from] hyper::http::Error),
    /// The body is larger than the reader accepts.
    #[error("answer larger than {cap_bytes} bytes")]
    TooLarge {
        /// The cap, in bytes.
        cap_bytes: usize,
    },
}

/// The connection task of a response: it drives the connection while the body is read, and is
/// aborted when the response is dropped, so no connection outlives its reader.
struct ConnTask(tokio::task::JoinHandle<()>);

impl Drop for ConnTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An answer whose body is still to be read.
pub struct Response {
    status: u16,
    body: Incoming,
    _conn: ConnTask,
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The next chunk of the body as it arrives; `None` at its end.
    ///
    /// Errors: [`HttpError::Http`].
    pub async fn chunk(&mut self) -> Option<Result<Bytes, HttpError>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => return Some(Err(e.into())),
            }
        }
    }

    /// The whole body, at most `cap_bytes` long.
    ///
    /// Errors: [`HttpError::TooLarge`] past the cap, [`HttpError::Http`].
    pub async fn bytes(mut self, cap_bytes: usize) -> Result<Bytes, HttpError> {
        let mut all = BytesMut::new();
        while let Some(chunk) = self.chunk().await {
            let chunk = chunk?;
            if all.len().saturating_add(chunk.len()) > cap_bytes {
                return Err(HttpError::TooLarge { cap_bytes });
            }
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }
}

/// Connects to `target`, sends `request` and returns the answer's head; the body is read from
/// the [`Response`]. No timeout: wrap it, or use [`fetch`].
///
/// Errors: [`HttpError::Connect`], [`HttpError::Http`].
pub(crate) async fn send(target: &Target, request: hyper::Request<Full<Bytes>>) -> Result<Response, HttpError> {
    let connect_error = |source| HttpError::Connect {
        target: target.clone(),
        source,
    };
    let (mut sender, conn) = match target {
        Target::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr.as_str()).await.map_err(connect_error)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            (sender, ConnTask(tokio::spawn(async move { drop(conn.await) })))
        }
        Target::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await.map_err(connect_error)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            (sender, ConnTask(tokio::spawn(async move { drop(conn.await) })))
        }
    };
    let res = sender.send_request(request).await?;
    Ok(Response {
        status: res.status().as_u16(),
        body: res.into_body(),
        _conn: conn,
    })
}

/// One whole exchange within `timeout` (connect, send, read): the status code and the body, at
/// most `cap_bytes` long.
///
/// Errors: [`HttpError`] (refused, HTTP error, timeout, body too large).
pub(crate) async fn fetch(
    target: &Target,
    request: hyper::Request<Full<Bytes>>,
    timeout: Duration,
    cap_bytes: usize,
) -> Result<(u16, Bytes), HttpError> {
    let exchange = async {
        let res = send(target, request).await?;
        let status = res.status();
        Ok((status, res.bytes(cap_bytes).await?))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HttpError::Timeout(timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot server on 127.0.0.1 that answers `answer` to the first request.
    async fn server(answer: &'static [u8]) -> Target {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer).await;
                // Hold the connection open: the client must not need the close.
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        Target::Tcp(addr.to_string())
    }

    fn get() -> hyper::Request<Full<Bytes>> {
        hyper::Request::get("/readyz").body(Full::new(Bytes::new())).expect("valid")
    }

    #[tokio::test]
    async fn status_and_body_within_the_cap() {
        let t = server(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\n\r\nnope!").await;
        let (status, body) = fetch(&t, get(), Duration::from_secs(5), 5).await.expect("answer");
        assert_eq!((status, &body[..]), (503, &b"nope!"[..]));
    }

    #[tokio::test]
    async fn a_body_past_the_cap_is_refused() {
        let t = server(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabcdef").await;
        let e = fetch(&t, get(), Duration::from_secs(5), 5).await.expect_err("too large");
        assert!(matches!(e, HttpError::TooLarge { cap_bytes: 5 }), "{e}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_a_closed_port_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let t = Target::Tcp(listener.local_addr().expect("addr").to_string());
        let e = fetch(&t, get(), Duration::from_millis(200), 64).await.expect_err("silent");
        assert!(matches!(e, HttpError::Timeout(_)), "{e}");
        drop(listener);
        let e = fetch(&t, get(), Duration::from_secs(5), 64).await.expect_err("closed");
        assert!(matches!(e, HttpError::Connect { .. }), "{e}");
    }
}
