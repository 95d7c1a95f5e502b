//! The supervisor: owns the instance handles. It takes down leftovers of an earlier clawherd,
//! makes itself subreaper, starts every instance, waits for the shutdown signal, then stops
//! every instance gracefully and waits until every tree is gone.

use crate::fleet::Fleet;
use crate::instance::actor::spawn_actor;
use crate::instance::{Control, InstanceHandle};
use crate::logs::OutputSink;
use crate::process::{group, reaper, tree};
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

/// Grace given to leftovers of an earlier clawherd before SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(10);

/// Why the supervisor could not run.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// Becoming subreaper or installing SIGCHLD handling failed.
    #[error("cannot set up process supervision: {0}")]
    Setup(String),
}

/// A running fleet: the handles and the actor tasks that own the instances.
pub struct Running {
    /// One handle per instance, in profile order.
    pub handles: Vec<InstanceHandle>,
    actors: Vec<JoinHandle<()>>,
    reaper: JoinHandle<std::io::Result<()>>,
}

/// Sets up supervision and starts every instance of `fleet`; returns at once.
///
/// Errors: [`SupervisorError::Setup`].
pub async fn start(fleet: &Fleet, output: OutputSink) -> Result<Running, SupervisorError> {
    reaper::become_subreaper().map_err(|e| SupervisorError::Setup(format!("PR_SET_CHILD_SUBREAPER: {e}")))?;
    // Install SIGCHLD handling before any child exists.
    let reaper = tokio::spawn(reaper::run());
    tokio::task::yield_now().await;
    take_down_leftovers(fleet).await;
    let mut handles = Vec::new();
    let mut actors = Vec::new();
    for (profile, plan) in &fleet.instances {
        let marker = fleet.instance_marker(&profile.name);
        let (handle, task) = spawn_actor(profile.clone(), plan.clone(), marker, output.clone());
        handle.send(Control::Start).await;
        handles.push(handle);
        actors.push(task);
    }
    Ok(Running { handles, actors, reaper })
}

impl Running {
    /// Stops every instance at once (SIGTERM, stop timeout, SIGKILL), waits for every actor to
    /// end and reaps what is left.
    pub async fn shutdown(self) {
        for h in &self.handles {
            h.send(Control::Shutdown).await;
        }
        for a in self.actors {
            let _ = a.await;
        }
        reaper::reap_orphans();
        self.reaper.abort();
    }
}

/// Runs `fleet` until `shutdown` resolves, then stops it. The whole life of `clawherd run`.
///
/// Errors: [`SupervisorError::Setup`].
pub async fn run(fleet: Fleet, output: OutputSink, shutdown: impl Future<Output = ()>) -> Result<(), SupervisorError> {
    let running = start(&fleet, output).await?;
    shutdown.await;
    info!("stopping every instance");
    running.shutdown().await;
    info!("all instances stopped");
    Ok(())
}

/// Finds processes that carry a marker of this fleet (left by a clawherd that was SIGKILLed:
/// gateways, spawn brokers, tools) and takes them down: SIGTERM to each, SIGKILL after
/// [`LEFTOVER_GRACE`]. A gateway left running on a state dir would make the new one exit 78,
/// and one on a port would make it exit 1 (facts §2, §6).
pub async fn take_down_leftovers(fleet: &Fleet) {
    let suffix = format!("@{}", fleet.path.display());
    let found = tree::marked_processes(&tree::snapshot(), &suffix);
    for (marker, procs) in found {
        let desc: Vec<String> = procs.iter().map(|p| format!("{} ({})", p.pid, p.comm)).collect();
        warn!(instance = %marker, processes = %desc.join(", "), "found leftovers of an earlier clawherd; taking them down");
        let started = Instant::now();
        group::take_down(None, &marker, LEFTOVER_GRACE).await;
        info!(instance = %marker, took_ms = started.elapsed().as_millis() as u64, "leftovers gone");
    }
    reaper::reap_orphans();
}
