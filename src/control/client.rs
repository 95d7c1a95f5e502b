//! The client behind every CLI command that talks to a running clawherd: HTTP/1.1 over the
//! control socket ([`crate::process::http`]). Also finds the socket of a fleet file.

use crate::fleet::locate::{default_socket, locate};
use crate::process::http::{self, HttpError, Target};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request};
use std::path::{Path, PathBuf};

/// The largest answer read whole (a status of a large fleet is well under it).
pub const MAX_BODY_BYTES: usize = 16 << 20;

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
    /// HTTP-level failure, or an answer over [`MAX_BODY_BYTES`].
    #[error("control API: {0}")]
    Http(HttpError),
}

impl From<HttpError> for ClientError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Connect {
                target: Target::Unix(path),
                source,
            } if source.kind() == std::io::ErrorKind::PermissionDenied => ClientError::Denied(path),
            HttpError::Connect {
                target: Target::Unix(path),
                source,
            } => ClientError::Unreachable { path, source },
            other => ClientError::Http(other),
        }
    }
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

    /// The socket this client calls.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    async fn send(&self, method: Method, path: &str) -> Result<http::Response, ClientError> {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "clawherd")
            .body(Full::new(Bytes::new()))
            .map_err(HttpError::from)?;
        // No timeout: an action may wait for its instance as long as the caller asked.
        Ok(http::send(&Target::Unix(self.socket.clone()), req).await?)
    }

    /// One call; returns the status and the whole body.
    ///
    /// Errors: [`ClientError`] (also when the body exceeds [`MAX_BODY_BYTES`]).
    pub async fn call(&self, method: Method, path: &str) -> Result<(u16, Bytes), ClientError> {
        let res = self.send(method, path).await?;
        let status = res.status();
        Ok((status, res.bytes(MAX_BODY_BYTES).await?))
    }

    /// A GET whose answer is read by the caller ([`http::Response::chunk`]): returns once the
    /// status and headers came, i.e. once the daemon's handler ran (a follower of
    /// `/v1/events?follow=true` is subscribed from then on).
    ///
    /// Errors: [`ClientError`].
    pub async fn open(&self, path: &str) -> Result<http::Response, ClientError> {
        self.send(Method::GET, path).await
    }

    /// A streaming GET: `on_chunk` gets the status and each body chunk as it arrives. Returns
    /// the status.
    ///
    /// Errors: [`ClientError`].
    pub async fn stream(&self, path: &str, mut on_chunk: impl FnMut(u16, &[u8])) -> Result<u16, ClientError> {
        let mut res = self.send(Method::GET, path).await?;
        let status = res.status();
        while let Some(chunk) = res.chunk().await {
            on_chunk(status, &chunk?);
        }
        Ok(status)
    }
}

/// The control socket of the fleet file at `fleet`, read leniently (only `run_dir` and
/// `control.socket`, so a fleet file being edited still leads to its daemon): `control.socket`,
/// else the default the daemon computes ([`crate::fleet::locate::default_socket`] over
/// [`crate::fleet::locate::default_run_dir`], with this process's environment), else
/// `/run/clawherd/clawherd.sock` when only that exists (a system service's socket, whose
/// `$RUNTIME_DIRECTORY` a client does not see). A running daemon is found before this, through
/// its registry record (`clawherd::daemon::registry`); this is the fallback.
///
/// Errors: the fleet file cannot be read or parsed at all.
pub fn socket_of(fleet: &Path) -> Result<PathBuf, String> {
    socket_and_run_dir(fleet).map(|(socket, _)| socket)
}

/// The run dir the fleet file names (`run_dir`, else its default), read as leniently as
/// [`socket_of`]: where the captured output and the events file are when the daemon is down.
///
/// Errors: the fleet file cannot be read or parsed at all, or `run_dir` names an unset variable.
pub fn run_dir_of(fleet: &Path) -> Result<PathBuf, String> {
    socket_and_run_dir(fleet).and_then(|(_, run_dir)| run_dir)
}

/// The socket, and the run dir (separately fallible: an explicit `control.socket` does not need it).
fn socket_and_run_dir(fleet: &Path) -> Result<(PathBuf, Result<PathBuf, String>), String> {
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let located = locate(fleet, &env).map_err(|e| e.render(Some("or pass --file FLEET or --socket PATH")))?;
    if let Some(socket) = located.socket {
        return Ok((socket?, located.run_dir));
    }
    let run_dir = located.run_dir?;
    let own = default_socket(&run_dir, &env);
    let system = PathBuf::from("/run/clawherd/clawherd.sock");
    Ok((if !own.exists() && system.exists() { system } else { own }, Ok(run_dir)))
}
