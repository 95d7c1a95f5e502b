//! Short-lived commands clawherd runs itself: failover hooks and OpenClaw's
//! `gateway restart-handoff consume`. Each is registered with the reaper like a gateway (see
//! [`super::reaper`]), so the orphan reaper never takes its exit status away from tokio, and it
//! is killed when it outlives its deadline.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::Command;

/// Why a command gave no exit status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ToolError {
    /// It could not be started (not found, not executable).
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    /// Waiting for it failed.
    #[error("waiting for {program} failed: {source}")]
    Wait { program: String, source: std::io::Error },
    /// It ran longer than its deadline and was killed.
    #[error("{program} took longer than {timeout:?} and was killed")]
    Timeout { program: String, timeout: Duration },
}

/// Runs `cmd` (stdin from /dev/null, stdout captured, stderr inherited) until it exits or
/// `timeout` passes; returns its status and standard output (bytes).
///
/// Errors: [`ToolError`]; on [`ToolError::Timeout`] the command has been killed (SIGKILL).
pub(crate) async fn run(cmd: &mut Command, timeout: Duration) -> Result<(ExitStatus, Vec<u8>), ToolError> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).kill_on_drop(true);
    let child = super::reaper::spawn_leader(|| {
        let child = cmd.spawn()?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        Ok(((child, pid), pid))
    });
    let (child, pid) = child.map_err(|source| ToolError::Spawn {
        program: program.clone(),
        source,
    })?;
    // Dropped on timeout: kill_on_drop kills it, and tokio reaps it in the background.
    let result = tokio::time::timeout(timeout, child.wait_with_output()).await;
    super::reaper::forget_leader(pid);
    match result {
        Ok(Ok(out)) => Ok((out.status, out.stdout)),
        Ok(Err(source)) => Err(ToolError::Wait { program, source }),
        Err(_) => Err(ToolError::Timeout { program, timeout }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_status_and_deadline() {
        let (status, out) = run(Command::new("sh").args(["-c", "echo hi; exit 3"]), Duration::from_secs(60))
            .await
            .expect("sh runs");
        assert_eq!((status.code(), out.as_slice()), (Some(3), &b"hi\n"[..]));
        let e = run(Command::new("sleep").arg("30"), Duration::from_millis(100))
            .await
            .expect_err("deadline");
        assert!(matches!(e, ToolError::Timeout { .. }), "{e}");
        let e = run(&mut Command::new("/nonexistent/tool"), Duration::from_secs(1))
            .await
            .expect_err("missing");
        assert!(matches!(e, ToolError::Spawn { .. }), "{e}");
    }
}
