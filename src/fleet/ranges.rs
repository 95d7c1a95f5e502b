//! The allowed range of every number and duration in the fleet file.
//!
//! `check` accepts only what `run` can carry out: every value here is small enough that the
//! daemon's arithmetic on it (`Instant + duration`, backoff growth, buffers sized by a count)
//! cannot overflow or allocate without bound. docs/fleet-file.md is the same table for users;
//! each field of [`super::file`] names its range in its doc comment.

use std::time::Duration;

/// One hour.
const HOUR: Duration = Duration::from_secs(3600);
/// One day.
const DAY: Duration = Duration::from_secs(86_400);

/// An inclusive range `min..=max` of a fleet-file value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range<T> {
    /// Smallest allowed value.
    pub min: T,
    /// Largest allowed value.
    pub max: T,
}

impl<T: Bound> Range<T> {
    /// Whether `value` lies in the range.
    pub(crate) fn contains(&self, value: T) -> bool {
        self.min <= value && value <= self.max
    }

    /// The range in words, as error messages print it: `at least 100ms and at most 1day`.
    pub(crate) fn describe(&self) -> String {
        format!("at least {} and at most {}", self.min.show(), self.max.show())
    }
}

/// A value with a range: ordered, and shown the way the fleet file writes it.
pub(crate) trait Bound: PartialOrd + Copy {
    /// The value as a user writes it (`10s`, `4KiB`, `100`).
    fn show(self) -> String;
}

impl Bound for Duration {
    fn show(self) -> String {
        humantime::format_duration(self).to_string()
    }
}

impl Bound for u32 {
    fn show(self) -> String {
        self.to_string()
    }
}

impl Bound for u16 {
    fn show(self) -> String {
        self.to_string()
    }
}

/// Sizes in bytes, shown with the largest binary unit that divides them (`4KiB`, `4GiB`).
impl Bound for u64 {
    fn show(self) -> String {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        match UNITS.iter().find(|(size, _)| self >= *size && self.is_multiple_of(*size)) {
            Some((size, unit)) => format!("{}{unit}", self / size),
            None => self.to_string(),
        }
    }
}

/// `stop_timeout`, `leftover_grace` and `health.kill_after`: a graceful stop may take up to an
/// hour.
pub(crate) const STOP_TIMEOUT: Range<Duration> = Range {
    min: Duration::ZERO,
    max: HOUR,
};
/// `health.period`: probing at most every 100 ms, at least once a day.
pub(crate) const PROBE_PERIOD: Range<Duration> = Range {
    min: Duration::from_millis(100),
    max: DAY,
};
/// `health.timeout` and `hooks.timeout`: a timeout of 0 would fail every try.
pub(crate) const TIMEOUT: Range<Duration> = Range {
    min: Duration::from_millis(1),
    max: HOUR,
};
/// `health.startup_grace`, `restart.backoff.*`, `restart.crash_loop.window`,
/// `failover_after`, `failback_after`: anything from 0 to a day.
pub(crate) const DELAY: Range<Duration> = Range {
    min: Duration::ZERO,
    max: DAY,
};
/// `restart.crash_loop.retry_every`: not faster than 100 ms, or a crash loop would spin.
pub(crate) const CRASH_LOOP_RETRY: Range<Duration> = Range {
    min: Duration::from_millis(100),
    max: DAY,
};
/// `rollout.verify_timeout`: a zero deadline would fail every change.
pub(crate) const VERIFY_TIMEOUT: Range<Duration> = Range {
    min: Duration::from_secs(1),
    max: DAY,
};
/// `health.failure_threshold`: consecutive failed probes.
pub(crate) const FAILURE_THRESHOLD: Range<u32> = Range { min: 1, max: 100 };
/// `restart.crash_loop.max_starts`: the tally keeps one timestamp per start in the window
/// (16 MB at the maximum).
pub(crate) const MAX_STARTS: Range<u32> = Range { min: 1, max: 1_000_000 };
/// `logs.keep`: rotated files kept per instance; `clawherd logs` reads them all.
pub(crate) const LOGS_KEEP: Range<u32> = Range { min: 0, max: 100 };
/// `logs.max_size`: bytes per output file before rotation.
pub(crate) const LOGS_MAX_SIZE: Range<u64> = Range {
    min: 4 << 10,
    max: 4 << 30,
};
/// `port` and each of `ports`: a fixed TCP port.
pub(crate) const PORT: Range<u16> = Range { min: 1, max: 65535 };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_written() {
        assert_eq!(PROBE_PERIOD.describe(), "at least 100ms and at most 1day");
        assert_eq!(LOGS_MAX_SIZE.describe(), "at least 4KiB and at most 4GiB");
        assert_eq!(STOP_TIMEOUT.describe(), "at least 0s and at most 1h");
        assert!(PORT.contains(65535) && !PORT.contains(0));
        assert!(!DELAY.contains(Duration::from_secs(86_401)));
    }
}
