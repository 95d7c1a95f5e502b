//! Exit codes (sysexits.h), chosen in one place by `main`.

/// Success.
pub const OK: u8 = 0;
/// The operation failed (e.g. not ready in time).
pub const FAILURE: u8 = 1;
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it); the daemon goes on.
pub const INTERRUPTED: u8 = 130;
/// Command line usage error.
pub const USAGE: u8 = 64;
/// The daemon is unreachable.
pub const UNAVAILABLE: u8 = 69;
/// Internal error.
pub const SOFTWARE: u8 = 70;
/// Bad configuration: the fleet file, an OpenClaw config, or the isolation proof.
pub const CONFIG: u8 = 78;

/// The exit code of a control-socket set-up error: another daemon serves the fleet → 69,
/// something that is not a socket at the socket path → 78, anything else → 70.
pub fn of_control(e: &crate::control::server::ControlError) -> u8 {
    match e {
        crate::control::server::ControlError::AlreadyRunning(_) => UNAVAILABLE,
        crate::control::server::ControlError::NotASocket { .. } => CONFIG,
        crate::control::server::ControlError::Io { .. } => SOFTWARE,
    }
}

/// The exit code of a daemon that could not run: a metrics port taken or another daemon
/// running the fleet → 69, a set-up failure → 70.
pub fn of_daemon(e: &crate::daemon::DaemonError) -> u8 {
    match e {
        crate::daemon::DaemonError::MetricsListen { .. } | crate::daemon::DaemonError::OtherDaemon(_) => UNAVAILABLE,
        crate::daemon::DaemonError::Setup(_) => SOFTWARE,
    }
}
