//! Whether an exit not asked for by clawherd leads to a restart (systemd's `service_shall_restart`).

pub use crate::fleet::RestartPolicy;
use std::fmt;

/// How a gateway process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitResult {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
    /// Could not be started at all.
    SpawnFailed,
}

impl ExitResult {
    /// From a std exit status.
    pub fn from_status(s: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (s.code(), s.signal()) {
            (Some(c), _) => ExitResult::Code(c),
            (None, Some(sig)) => ExitResult::Signal(sig),
            (None, None) => ExitResult::Code(-1),
        }
    }

    /// Exit code 0: under `OPENCLAW_SUPERVISOR_MODE=external`, an exit 0 clawherd did not ask for
    /// is the gateway handing a restart back to its supervisor (docs/openclaw.md, "Lifecycle").
    pub fn is_clean(self) -> bool {
        self == ExitResult::Code(0)
    }
}

impl fmt::Display for ExitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitResult::Code(0) => write!(f, "exit 0"),
            ExitResult::Code(78) => write!(f, "exit 78 (EX_CONFIG: config invalid, or state dir still locked)"),
            ExitResult::Code(c) => write!(f, "exit {c}"),
            ExitResult::Signal(s) => {
                let name = nix::sys::signal::Signal::try_from(*s).map(|s| s.as_str()).unwrap_or("?");
                write!(f, "killed by signal {s} ({name})")
            }
            ExitResult::SpawnFailed => write!(f, "spawn failed"),
        }
    }
}

impl RestartPolicy {
    /// Whether an exit clawherd did not request restarts the instance (systemd's
    /// `Restart=` semantics). `always` includes exit 0, which under external supervision is how
    /// OpenClaw hands a restart back (SIGUSR2, config reload, `gateway restart`; docs/openclaw.md, "Lifecycle"), so
    /// `always` is the default for gateways. `on-failure` treats exit 0 as a deliberate stop
    /// unless `handed_back`: OpenClaw's restart-handoff consume confirmed that the gateway asked
    /// for the restart. `never` restarts nothing.
    pub fn should_restart(self, result: ExitResult, handed_back: bool) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => !result.is_clean() || handed_back,
            RestartPolicy::Never => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table() {
        let cases = [
            (RestartPolicy::Always, ExitResult::Code(0), true),
            (RestartPolicy::Always, ExitResult::Signal(9), true),
            (RestartPolicy::OnFailure, ExitResult::Code(1), true),
            (RestartPolicy::OnFailure, ExitResult::Code(0), false),
            (RestartPolicy::OnFailure, ExitResult::SpawnFailed, true),
            (RestartPolicy::Never, ExitResult::Code(1), false),
            (RestartPolicy::Never, ExitResult::Code(0), false),
        ];
        for (policy, result, want) in cases {
            assert_eq!(policy.should_restart(result, false), want, "{policy:?} {result:?}");
        }
        // A restart the gateway asked for (restart-handoff accepted).
        assert!(RestartPolicy::OnFailure.should_restart(ExitResult::Code(0), true));
        assert!(RestartPolicy::Always.should_restart(ExitResult::Code(0), true));
        assert!(!RestartPolicy::Never.should_restart(ExitResult::Code(0), true));
    }

    #[test]
    fn displays_signal_names() {
        assert_eq!(ExitResult::Signal(9).to_string(), "killed by signal 9 (SIGKILL)");
        assert!(ExitResult::Code(78).to_string().contains("EX_CONFIG"));
    }
}
