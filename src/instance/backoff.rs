//! Stepped exponential backoff with a cap and a reset after stable uptime, and the crash-loop
//! tally (s6's `death_tally` with `s6-permafailon`: N starts within T seconds end respawning).

use crate::fleet::RestartSettings;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// A run that had been ready this long restarts at once (s6-supervise's rule: no pause for a
/// service that had been ready for more than a second).
pub(crate) const STABLE_READY: Duration = Duration::from_secs(1);

/// Backoff and crash-loop state of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backoff {
    settings: RestartSettings,
    /// Consecutive failures since the last reset; the next delay is `initial * 2^failures`.
    failures: u32,
    /// Start times within the crash-loop window, oldest first.
    starts: VecDeque<Instant>,
}

impl Backoff {
    /// Fresh state for `settings`.
    pub(crate) fn new(settings: RestartSettings) -> Self {
        Backoff {
            settings,
            failures: 0,
            starts: VecDeque::new(),
        }
    }

    /// Records a start at `now`.
    pub(crate) fn record_start(&mut self, now: Instant) {
        self.starts.push_back(now);
        self.prune(now);
    }

    fn prune(&mut self, now: Instant) {
        while self
            .starts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.settings.crash_loop_window)
        {
            self.starts.pop_front();
        }
    }

    /// Whether one more start at `now` would exceed `max_starts` within the window.
    pub(crate) fn crash_loop(&mut self, now: Instant) -> bool {
        self.prune(now);
        self.starts.len() >= self.settings.crash_loop_max_starts as usize
    }

    /// Starts counted in the current window.
    pub(crate) fn starts_in_window(&self) -> usize {
        self.starts.len()
    }

    /// The delay before the next start after a failure of a run that lasted `uptime`: none
    /// after a stable run (uptime ≥ `reset_after`, like s6, which respawns at once a service that
    /// had been up), else `initial * 2^n` capped at `max`, `n` counting failures since the last
    /// stable run.
    pub(crate) fn next_delay(&mut self, uptime: Duration, ready_for: Duration) -> Duration {
        // s6: no wait for a service that had been up and ready for a second.
        if uptime >= self.settings.backoff_reset_after || ready_for >= STABLE_READY {
            self.failures = 0;
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(self.failures.min(31));
        self.failures = self.failures.saturating_add(1);
        self.settings.backoff_initial.saturating_mul(factor).min(self.settings.backoff_max)
    }

    /// Forgets failures and the tally (an operator's explicit start).
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
        self.starts.clear();
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &RestartSettings {
        &self.settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::RestartPolicy;

    fn settings() -> RestartSettings {
        RestartSettings {
            policy: RestartPolicy::Always,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(10),
            backoff_reset_after: Duration::from_secs(60),
            crash_loop_max_starts: 3,
            crash_loop_window: Duration::from_secs(100),
            crash_loop_retry: Duration::from_secs(300),
        }
    }

    #[test]
    fn delay_doubles_to_cap_and_resets_after_stable_uptime() {
        let mut b = Backoff::new(settings());
        let short = Duration::from_secs(1);
        let none = Duration::ZERO;
        let delays: Vec<u64> = (0..6).map(|_| b.next_delay(short, none).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.next_delay(Duration::from_secs(60), none), Duration::ZERO);
        assert_eq!(b.next_delay(short, none), Duration::from_secs(1));
        assert_eq!(b.next_delay(short, none), Duration::from_secs(2));
        assert_eq!(
            b.next_delay(short, Duration::from_secs(1)),
            Duration::ZERO,
            "ready for 1 s: at once"
        );
        assert_eq!(b.next_delay(short, none), Duration::from_secs(1), "and the exponent was reset");
    }

    #[tokio::test(start_paused = true)]
    async fn crash_loop_counts_starts_in_sliding_window() {
        let mut b = Backoff::new(settings());
        let t0 = Instant::now();
        b.record_start(t0);
        b.record_start(t0 + Duration::from_secs(10));
        assert!(!b.crash_loop(t0 + Duration::from_secs(20)));
        b.record_start(t0 + Duration::from_secs(20));
        assert!(b.crash_loop(t0 + Duration::from_secs(20)));
        // The first start leaves the 100 s window.
        assert!(!b.crash_loop(t0 + Duration::from_secs(101)));
        assert_eq!(b.starts_in_window(), 2);
        b.reset();
        assert_eq!(b.starts_in_window(), 0);
    }
}
