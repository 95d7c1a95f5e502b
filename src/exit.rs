//! Exit codes (sysexits.h), chosen in one place by `main`.

/// Success.
pub const OK: u8 = 0;
/// The operation failed (e.g. not ready in time).
pub const FAILURE: u8 = 1;
/// Command line usage error.
pub const USAGE: u8 = 64;
/// The daemon is unreachable.
pub const UNAVAILABLE: u8 = 69;
/// Internal error.
pub const SOFTWARE: u8 = 70;
/// Bad configuration: the fleet file, an OpenClaw config, or the isolation proof.
pub const CONFIG: u8 = 78;
