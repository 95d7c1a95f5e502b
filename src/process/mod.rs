//! Processes: spawning a gateway as a process-group leader with its environment, signalling
//! and reaping its whole tree, reading `/proc`, the descriptor limit, and the one small HTTP
//! client ([`http`]) of the probes, the hooks and the CLI.

pub(crate) mod group;
pub(crate) mod http;
pub(crate) mod limits;
pub(crate) mod listeners;
pub(crate) mod reaper;
pub(crate) mod spawn;
pub(crate) mod tool;
pub(crate) mod tree;
pub(crate) mod trim;
pub(crate) mod usage;

/// `now + d`, or a moment about 30 years away when that overflows: a delay that long never
/// fires in practice, and an `Instant` overflow would abort the daemon.
pub fn later(now: tokio::time::Instant, d: std::time::Duration) -> tokio::time::Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(30 * 365 * 86_400)))
        .unwrap_or(now)
}
