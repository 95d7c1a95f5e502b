//! Creating the control socket: refuse when another clawherd answers on it, refuse anything at
//! the path that is not a socket, replace a stale socket, then bind and set mode and group.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::net::{UnixListener, UnixStream};

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Another clawherd answers on the socket: two supervisors would fight over the gateways.
    #[error(
        "another clawherd already serves this fleet on {0}\n  hint: stop it first (`clawherd status` shows it), or use a different fleet file or control.socket"
    )]
    AlreadyRunning(PathBuf),
    /// Something that is not a socket (a regular file, a folder, a link, ...) is at the socket
    /// path; clawherd never deletes it (sysexits 78, configuration).
    #[error(
        "control socket path {path} is {kind}, not a socket; clawherd will not replace it\n  hint: move or remove it, or set `control.socket` in the fleet file to another path"
    )]
    NotASocket {
        /// The socket path.
        path: PathBuf,
        /// What is there, e.g. "a regular file".
        kind: &'static str,
    },
    /// Creating, binding or securing the socket failed.
    #[error("cannot set up the control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Creates the socket at `path`: refuses if another clawherd answers there or if anything but
/// a socket is there, removes a stale socket (one nobody answers on), creates the folder, binds,
/// and sets mode 0600 (0660 and group `gid` if given).
///
/// Errors: [`ControlError`].
pub async fn bind(path: &Path, group_gid: Option<u32>) -> Result<UnixListener, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).await.is_ok() {
                return Err(ControlError::AlreadyRunning(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(io)?;
        }
        Ok(meta) => {
            return Err(ControlError::NotASocket {
                path: path.to_path_buf(),
                kind: crate::fleet::read::file_kind(meta.file_type()),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    let mode = if group_gid.is_some() { 0o660 } else { 0o600 };
    if let Some(gid) = group_gid {
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid))).map_err(|e| io(std::io::Error::from(e)))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (hardening issue): a regular file at `control.socket` was deleted by `run`.
    #[tokio::test]
    async fn anything_but_a_socket_at_the_path_is_refused_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("precious.txt");
        std::fs::write(&file, "keep me").expect("write");
        let e = bind(&file, None).await.expect_err("a regular file is refused");
        assert!(
            matches!(
                e,
                ControlError::NotASocket {
                    kind: "a regular file",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains(&file.display().to_string()), "{e}");
        assert_eq!(std::fs::read_to_string(&file).expect("still there"), "keep me");
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).expect("mkdir");
        assert!(matches!(
            bind(&folder, None).await,
            Err(ControlError::NotASocket { kind: "a folder", .. })
        ));
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_and_a_live_one_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sock");
        let live = bind(&path, None).await.expect("first bind");
        assert!(matches!(bind(&path, None).await, Err(ControlError::AlreadyRunning(_))));
        drop(live);
        // The socket file stays behind with nobody answering: stale.
        bind(&path, None).await.expect("a stale socket is replaced");
    }
}
