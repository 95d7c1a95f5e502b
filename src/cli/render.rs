//! The short forms `status` and `top` share: a duration in its two largest units, a size in
//! binary units, a last exit in a few words, an instance's rollout as a note. Pure functions of
//! the daemon's answers; the daemon's numbers are not trusted to fit (see [`short_secs`]).

use crate::control::protocol::InstanceReport;
use std::time::Duration;

/// An instance's rollout as a note of `status` and `top`: `rollout: <status JSON's rollout>`
/// (at most 120 characters of it) for a rollout in progress, rolled back or held; `None` before
/// its first rollout and for a proved (`verified`) or `interrupted` one, the normal cases
/// (docs/rollout.md).
pub(crate) fn rollout_note(i: &InstanceReport) -> Option<String> {
    i.rollout
        .as_ref()
        .filter(|r| !matches!(r.as_str(), "verified" | "interrupted"))
        .map(|r| format!("rollout: {}", r.chars().take(120).collect::<String>()))
}

/// The word `status` and `top` put after an exit for how it came about: `asked` (an operator's
/// stop or restart, a reload, a rollout, a failback), `unhealthy` (clawherd's restart after
/// failed liveness probes), `crash`, `handoff` (OpenClaw's own restart).
pub(crate) fn exit_kind_word(kind: crate::instance::ExitKind) -> &'static str {
    use crate::instance::ExitKind as K;
    match kind {
        K::Requested => "asked",
        K::Unhealthy => "unhealthy",
        K::Crash => "crash",
        K::Handoff => "handoff",
    }
}

/// A last exit in a few words: `exit 1`, `signal 9` (the signal's name cut).
pub(crate) fn short_exit(e: &str) -> String {
    e.split(" (").next().unwrap_or(e).replace("killed by signal", "signal")
}

/// [`short_duration`] of a number of seconds from the daemon's answer: a negative one is 0 s,
/// one no [`Duration`] holds (`1e300`) is `-` (`Duration::from_secs_f64` would abort the
/// client on either).
pub(crate) fn short_secs(s: f64) -> String {
    Duration::try_from_secs_f64(s.max(0.0)).map_or_else(|_| "-".into(), short_duration)
}

/// A duration in its two largest units: `42s`, `1m15s`, `3h5m`, `1d1h`.
pub(crate) fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A size in bytes in the largest binary unit that fits: `512 B`, `40 KiB`, `3.2 MiB`, `1.02 GiB`.
pub(crate) fn bytes(b: u64) -> String {
    match b {
        0..=1023 => format!("{b} B"),
        1024..=1_048_575 => format!("{:.0} KiB", b as f64 / 1024.0),
        1_048_576..=1_073_741_823 => format!("{:.1} MiB", b as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", b as f64 / 1_073_741_824.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        assert_eq!(short_duration(Duration::from_secs(75)), "1m15s");
        assert_eq!(short_duration(Duration::from_secs(90_000)), "1d1h");
        assert_eq!(bytes(12_845_056), "12.2 MiB");
        assert_eq!(short_exit("killed by signal 9 (SIGKILL)"), "signal 9");
    }

    #[test]
    fn numbers_no_duration_holds() {
        assert_eq!(short_secs(f64::NAN), "0s");
        assert_eq!(short_secs(-3.0), "0s");
        assert_eq!(short_secs(f64::INFINITY), "-");
        assert_eq!(short_secs(1e300), "-");
    }
}
