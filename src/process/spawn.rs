//! Spawning a gateway by its plan: the exact argv, environment and cwd of [`Plan`], a new
//! process group with the gateway as leader (so one `killpg` reaches it and its in-group
//! workers), stdin from /dev/null and stdout/stderr piped to clawherd.
//!
//! `process_group(0)` keeps std's `posix_spawn` fast path (no `pre_exec`).

use crate::fleet::Plan;
use std::process::Stdio;
use tokio::process::{Child, Command};

/// Why a spawn failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The working directory could not be created.
    #[error("cannot create working directory {path}: {source}")]
    Cwd {
        /// The directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The program could not be started (not found on PATH, not executable).
    #[error("cannot start `{program}`: {source} (is it installed and on PATH? run scripts/bootstrap for the pinned openclaw)")]
    Exec {
        /// argv[0].
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Starts the gateway of `plan`; returns the child and its pid (= its process group id).
///
/// Errors: [`SpawnError`].
pub fn spawn(plan: &Plan) -> Result<(Child, i32), SpawnError> {
    std::fs::create_dir_all(&plan.cwd).map_err(|source| SpawnError::Cwd {
        path: plan.cwd.display().to_string(),
        source,
    })?;
    let program = plan.argv.first().cloned().unwrap_or_default();
    let mut cmd = Command::new(&program);
    cmd.args(&plan.argv[1..])
        .env_clear()
        .envs(&plan.env)
        .current_dir(&plan.cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    super::reaper::spawn_leader(|| {
        let child = cmd.spawn()?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        Ok(((child, pid), pid))
    })
    .map_err(|source| SpawnError::Exec { program, source })
}
