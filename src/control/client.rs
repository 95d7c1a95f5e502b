//! The client behind every CLI command that talks to a running clawherd: HTTP/1.1 over the
//! control socket with hyper. Also finds the socket of a fleet file.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use tokio::net::UnixStream;

/// Why a call failed before an HTTP answer came.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (not running), or no such socket.
    #[error(
        "clawherd is not running for this fleet: cannot connect to {path}: {source}\n  hint: start it with `clawherd run FLEET`, or pass --socket / --file"
    )]
    Unreachable {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The socket refused us (file permissions).
    #[error("permission denied on {0}\n  hint: run as clawherd's user or root, or ask for `control.group` membership")]
    Denied(PathBuf),
    /// HTTP-level failure.
    #[error("control API: {0}")]
    Http(#[from] hyper::Error),
}

/// A connection factory for one socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client of the socket at `socket`.
    pub fn new(socket: PathBuf) -> Self {
        Client { socket }
    }

    async fn send(&self, method: Method, path: &str) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::PermissionDenied {
                ClientError::Denied(self.socket.clone())
            } else {
                ClientError::Unreachable {
                    path: self.socket.clone(),
                    source,
                }
            }
        })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // Drives the connection while the response (possibly a stream) is read; it ends when the
        // response body is done and the sender is dropped.
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "clawherd")
            .body(Empty::<Bytes>::new())
            .expect("static request is valid");
        Ok(sender.send_request(req).await?)
    }

    /// One call; returns the status and the whole body.
    ///
    /// Errors: [`ClientError`].
    pub async fn call(&self, method: Method, path: &str) -> Result<(u16, Bytes), ClientError> {
        let res = self.send(method, path).await?;
        let status = res.status().as_u16();
        let body = res.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// A streaming GET: `on_chunk` gets the status and each body chunk as it arrives. Returns
    /// the status.
    ///
    /// Errors: [`ClientError`].
    pub async fn stream(&self, path: &str, mut on_chunk: impl FnMut(u16, &[u8])) -> Result<u16, ClientError> {
        let res = self.send(Method::GET, path).await?;
        let status = res.status().as_u16();
        let mut body = res.into_body();
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame?.data_ref() {
                on_chunk(status, data);
            }
        }
        Ok(status)
    }
}

/// The control socket of the fleet file at `fleet`, read leniently (only `run_dir` and
/// `control.socket`, so a fleet file being edited still leads to its daemon): `control.socket`,
/// else the default the daemon computes ([`crate::fleet::validate::default_socket`] over
/// [`crate::fleet::validate::default_run_dir`], with this process's environment), else
/// `/run/clawherd/clawherd.sock` when only that exists (a system service's socket, whose
/// `$RUNTIME_DIRECTORY` a client does not see). A running daemon is found before this, through
/// its registry record (`clawherd::daemon::registry`); this is the fallback.
///
/// Errors: the fleet file cannot be read or parsed at all.
pub fn socket_of(fleet: &Path) -> Result<PathBuf, String> {
    #[derive(serde::Deserialize, Default)]
    struct Lenient {
        run_dir: Option<String>,
        control: Option<LenientControl>,
    }
    #[derive(serde::Deserialize, Default)]
    struct LenientControl {
        socket: Option<String>,
    }
    let fleet = std::path::absolute(fleet).map_err(|e| format!("{}: {e}", fleet.display()))?;
    let text = crate::fleet::read_bounded(&fleet).map_err(|e| {
        format!(
            "{}: cannot read the fleet file: {e}\n  hint: {}, or pass --file FLEET or --socket PATH",
            fleet.display(),
            e.hint()
        )
    })?;
    let l: Lenient = serde_saphyr::from_str(&text).map_err(|e| format!("{}: {}", fleet.display(), e.without_snippet()))?;
    let dir = fleet.parent().unwrap_or(Path::new("/"));
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let lookup = |n: &str| env.get(n).cloned();
    let home = env.get("HOME").cloned();
    let expand = |s: &str| {
        crate::fleet::expand::expand(s, &lookup, home.as_deref())
            .map(|v| dir.join(v))
            .map_err(|u| format!("`${{{}}}` is not set", u.0))
    };
    if let Some(s) = l.control.and_then(|c| c.socket) {
        return expand(&s);
    }
    let run_dir = match l.run_dir {
        Some(r) => expand(&r)?,
        None => crate::fleet::validate::default_run_dir(dir, &env),
    };
    let own = crate::fleet::validate::default_socket(&run_dir, &env);
    let system = PathBuf::from("/run/clawherd/clawherd.sock");
    Ok(if !own.exists() && system.exists() { system } else { own })
}
