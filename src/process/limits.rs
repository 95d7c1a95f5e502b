//! The open-descriptor limit (`RLIMIT_NOFILE`): raised to the hard limit at daemon start, as
//! systemd does for services, and read to size the control server's connection cap.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The current soft `RLIMIT_NOFILE` (1024, the common default, when it cannot be read).
pub(crate) fn nofile() -> u64 {
    getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit now in force.
/// A failure is logged and leaves the limit as it was.
pub(crate) fn raise_nofile() -> u64 {
    let raised = getrlimit(Resource::RLIMIT_NOFILE).and_then(|(soft, hard)| {
        if soft < hard {
            setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
        } else {
            Ok(())
        }
    });
    let now = nofile();
    match raised {
        Ok(()) => tracing::debug!(nofile = now, "open-descriptor limit"),
        Err(e) => tracing::warn!(error = %e, nofile = now, "cannot raise the open-descriptor limit to the hard limit"),
    }
    now
}
