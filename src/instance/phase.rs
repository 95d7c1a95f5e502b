//! [`Phase`]: the coarse state of an instance that operators, the control API, failover and
//! systemd's `STATUS=` see (systemd's `state_translation_table` from fine service states to
//! unit states). The fine state, with its pids and timers, is [`super::state::State`].

use serde::{Deserialize, Serialize};

/// The coarse state of an instance. Serialized as the kebab-case names of the control API and
/// the CLI (`stopped`, `starting`, `ready`, `unready`, `stopping`, `backoff`, `crash-loop`,
/// `parked`); these names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// No gateway runs, and none is wanted (or the instance was never started).
    Stopped,
    /// Spawned, not ready yet (`GET /readyz` has not answered 200).
    Starting,
    /// `GET /readyz` answered 200.
    Ready,
    /// Was ready; `GET /readyz` now fails (a channel down, draining, a plugin reload). Alive.
    Unready,
    /// Being stopped: SIGTERM sent, SIGKILL when the stop timeout passes.
    Stopping,
    /// Exited; waiting for the backoff delay before the next start.
    Backoff,
    /// Too many starts in the crash-loop window: retried at the slow cadence, never given up.
    CrashLoop,
    /// Exited 78 with a real configuration error: stays down until a start or a reload.
    Parked,
}

impl Phase {
    /// Every phase, in the order above.
    pub const ALL: [Phase; 8] = [
        Phase::Stopped,
        Phase::Starting,
        Phase::Ready,
        Phase::Unready,
        Phase::Stopping,
        Phase::Backoff,
        Phase::CrashLoop,
        Phase::Parked,
    ];

    /// The stable name (`crash-loop` for [`Phase::CrashLoop`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Stopped => "stopped",
            Phase::Starting => "starting",
            Phase::Ready => "ready",
            Phase::Unready => "unready",
            Phase::Stopping => "stopping",
            Phase::Backoff => "backoff",
            Phase::CrashLoop => "crash-loop",
            Phase::Parked => "parked",
        }
    }

    /// Whether a gateway process runs in this phase.
    pub fn runs(self) -> bool {
        match self {
            Phase::Starting | Phase::Ready | Phase::Unready | Phase::Stopping => true,
            Phase::Stopped | Phase::Backoff | Phase::CrashLoop | Phase::Parked => false,
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_names_are_the_api_names() {
        for p in Phase::ALL {
            let json = serde_json::to_string(&p).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Phase>(&json).ok(), Some(p));
        }
        assert_eq!(format!("{:<8}|", Phase::Ready), "ready   |");
    }
}
