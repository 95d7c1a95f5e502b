//! The control server: an accept loop that serves [`routes::router`] on each connection of the
//! Unix socket with hyper's HTTP/1.1, and [`routes::metrics_router`] on the TCP metrics
//! listener, within the same limits.
//!
//! Connections are a resource a client could exhaust, so they are bounded: at most
//! [`Limits::max_connections`] at once (further clients wait in the socket's backlog), and a
//! connection that has not sent a complete request head within
//! [`Limits::header_read_timeout`] (the first or, kept alive, the next) is closed. On shutdown
//! the followers of `logs -F` and `events -F` get end-of-stream and connections still open
//! after [`DRAIN`] are dropped.

pub use super::access::{AccessPolicy, Peer};
pub use super::bind::{ControlError, bind};
use super::handlers::Closing;
pub use super::state::{AppState, FleetWarnings};
use super::{Request, routes};
use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tower_service::Service;

/// How long connections may take to finish after shutdown began before they are dropped. The
/// daemon drains the control socket, then the metrics listener: twice this stays under the
/// second within which it exits after its last instance stopped.
pub const DRAIN: Duration = Duration::from_millis(400);

/// Bounds on the control server's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more wait in the listen backlog (using no descriptor of ours).
    pub max_connections: usize,
    /// Longest wait for a request head, on a new connection or between kept-alive requests.
    pub header_read_timeout: Duration,
}

impl Limits {
    /// Limits for a process allowed `nofile` open descriptors: at most 256 connections and at
    /// most a quarter of the descriptors, so probes, spawns and log files keep the rest.
    pub fn for_nofile(nofile: u64) -> Self {
        let quarter = usize::try_from(nofile / 4).unwrap_or(usize::MAX);
        Limits {
            max_connections: quarter.clamp(1, 256),
            header_read_timeout: Duration::from_secs(5),
        }
    }

    /// Limits for this process's current soft `RLIMIT_NOFILE`.
    pub fn from_process() -> Self {
        Self::for_nofile(crate::process::limits::nofile())
    }
}

/// Serves the control API on `listener` until `shutdown` resolves, within
/// [`Limits::from_process`].
///
/// Errors: none today (accept errors are logged and retried); the `Result` is kept for callers.
pub async fn serve(
    listener: UnixListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Limits::from_process(), shutdown).await;
    Ok(())
}

/// Serves `listener` within `limits` until `shutdown` resolves; then ends followers' streams,
/// lets connections finish for up to [`DRAIN`] and drops the rest.
pub async fn serve_with(listener: UnixListener, state: AppState, limits: Limits, shutdown: impl std::future::Future<Output = ()>) {
    serve_limited(listener, routes::router(state), limits, shutdown, |s: &UnixStream| {
        Some(Peer::of(s))
    })
    .await;
}

/// Serves only `GET /metrics` on a TCP `listener` (`metrics.listen`) until `shutdown`, within
/// the same limits as the control socket.
///
/// Errors: none today (accept errors are logged and retried); the `Result` is kept for callers.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    requests: mpsc::Sender<Request>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_limited(listener, routes::metrics_router(requests), Limits::from_process(), shutdown, |_| {
        None
    })
    .await;
    Ok(())
}

/// The accept loop: one task per connection, at most `limits.max_connections` at once, each
/// given the peer's credentials (`peer_of`) and a [`Closing`] in its requests' extensions.
/// Accept errors are logged and retried by `listener`.
async fn serve_limited<L: Listener>(
    mut listener: L,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
    peer_of: fn(&L::Io) -> Option<Peer>,
) {
    let (closing_tx, closing_rx) = watch::channel(false);
    let app = app.layer(axum::Extension(Closing(closing_rx.clone())));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // Every connection task is owned here: awaited during the drain, aborted after it.
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (io, permit) = tokio::select! {
            () = &mut shutdown => break,
            a = accept(&mut listener, &permits) => a,
        };
        while connections.try_join_next().is_some() {}
        let peer = peer_of(&io);
        connections.spawn(connection(io, peer, app.clone(), limits, Closing(closing_rx.clone()), permit));
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::debug!(left = connections.len(), "connections dropped at shutdown");
    }
    connections.abort_all();
}

/// Waits for a free connection slot, then for a client.
async fn accept<L: Listener>(listener: &mut L, permits: &Arc<Semaphore>) -> (L::Io, Option<OwnedSemaphorePermit>) {
    // The semaphore is never closed, so this only waits; were it closed, serving on without a
    // permit is the safe side.
    let permit = permits.clone().acquire_owned().await.ok();
    let (io, _) = listener.accept().await;
    (io, permit)
}

/// Serves one connection until the client closes it, it idles past the header timeout, or the
/// server shuts down (then the response in flight is finished and the connection closed).
async fn connection<I>(io: I, peer: Option<Peer>, app: Router, limits: Limits, closing: Closing, _permit: Option<OwnedSemaphorePermit>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        if let Some(peer) = peer {
            req.extensions_mut().insert(ConnectInfo(peer));
        }
        app.clone().call(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended");
            }
        }
        () = closing.closed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_keep_three_quarters_of_the_descriptors_free() {
        assert_eq!(Limits::for_nofile(1024).max_connections, 256);
        assert_eq!(Limits::for_nofile(524_288).max_connections, 256);
        assert_eq!(Limits::for_nofile(256).max_connections, 64);
        assert_eq!(Limits::for_nofile(2).max_connections, 1);
    }

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A TCP server of `app` within `limits`, stopped by the returned sender.
    async fn tcp_server(
        app: Router,
        limits: Limits,
    ) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve_limited(
            listener,
            app,
            limits,
            async move {
                let _ = stopped.await;
            },
            |_| None,
        ));
        (addr, stop, task)
    }

    /// Reads until the peer closes; `true` when it did (EOF or reset) within 10 s.
    async fn closed_by_server(s: &mut tokio::net::TcpStream) -> bool {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        read.await.is_ok()
    }

    /// More idle connections than the cap: a later request is still answered once the header
    /// timeout has closed the idle ones, and every idle one is closed.
    #[tokio::test]
    async fn idle_connections_over_the_cap_are_closed_and_a_request_still_answered() {
        let app = Router::new().route("/", axum::routing::get(|| async { "hi" }));
        let limits = Limits {
            max_connections: 2,
            header_read_timeout: Duration::from_millis(300),
        };
        let (addr, _stop, _task) = tcp_server(app, limits).await;
        let mut idle = Vec::new();
        for _ in 0..4 {
            idle.push(tokio::net::TcpStream::connect(addr).await.expect("connect"));
        }
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .expect("send");
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut answer))
            .await
            .expect("answered in time")
            .expect("read");
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("hi"), "{answer}");
        for (i, s) in idle.iter_mut().enumerate() {
            assert!(closed_by_server(s).await, "idle connection {i} is still open");
        }
    }

    /// At shutdown a follower's stream ends (its body is complete) and the server returns.
    #[tokio::test]
    async fn shutdown_ends_a_following_stream_and_returns() {
        async fn follow(axum::Extension(closing): axum::Extension<Closing>) -> axum::body::Body {
            use futures_util::StreamExt;
            let forever = futures_util::stream::repeat_with(|| Ok::<_, std::convert::Infallible>(bytes::Bytes::from_static(b""))).then(
                |b| async move {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    b
                },
            );
            let head = futures_util::stream::once(async { Ok(bytes::Bytes::from_static(b"head\n")) });
            axum::body::Body::from_stream(head.chain(forever).take_until(closing.closed()))
        }
        let app = Router::new().route("/follow", axum::routing::get(follow));
        let (addr, stop, task) = tcp_server(app, Limits::for_nofile(1024)).await;
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /follow HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("send");
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.expect("head");
        assert!(String::from_utf8_lossy(&buf[..n]).contains("head"));
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the server returned")
            .expect("joined");
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
        assert!(
            rest.ends_with(b"0\r\n\r\n"),
            "the chunked body ended: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}
