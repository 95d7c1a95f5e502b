//! The daemon behind `clawherd run`: the supervisor task that owns the fleet's instances
//! ([`supervisor`]), reload on file change ([`watch`]) and its rollout ([`rollout`]: the order,
//! the proof and the last-known-good records; the supervisor drives it), the task that keeps
//! systemd told (`READY=1`, `STATUS=`, `WATCHDOG=1`: [`notify`]), and the registry that makes
//! one fleet file one daemon and lets clients find it ([`registry`]).
//!
//! [`run`] is the whole life of a daemon after its fleet was proved and its control socket
//! bound (mini-redis's `server::run`): it takes the stop signal as a future, so a test can run a
//! fleet in-process and stop it with a oneshot.

pub(crate) mod notify;
pub mod registry;
pub(crate) mod rollout;
pub(crate) mod supervisor;
pub(crate) mod watch;

use crate::control::Request;
use crate::control::server::{self, AccessPolicy, AppState};
use crate::fleet::Fleet;
use crate::observe::events::EventSink;
use crate::observe::logs::{Console, OutputSink};
use crate::systemd::journal;
use std::future::Future;
use std::sync::Arc;
use supervisor::Supervisor;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

/// Why a daemon could not run its fleet. Each maps to one exit code in `main`.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// `metrics.listen` could not be bound (sysexits 69, unavailable).
    #[error("cannot listen for metrics on {addr}: {source}\n  hint: choose another `metrics.listen` port")]
    MetricsListen {
        /// The address of the fleet file's `metrics.listen`.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another clawherd that is alive runs gateways of this fleet (sysexits 69, unavailable).
    #[error("{0}")]
    OtherDaemon(supervisor::OtherDaemon),
    /// Supervision could not be set up: subreaper, signal handlers (sysexits 70, internal).
    #[error("{0}")]
    Setup(String),
}

/// How the daemon shows gateway output.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Do not mirror gateway output to stdout (the files under `run_dir/logs` still get it).
    pub quiet: bool,
}

/// Runs `fleet` until `shutdown` resolves: serves the control API on `listener`, takes down
/// leftovers of an earlier clawherd meanwhile, starts every instance, reloads on SIGHUP and when an
/// instance's OpenClaw config changes (and on fleet-file changes with `watch: true`), keeps systemd told,
/// then stops every instance and waits until every tree is gone. Removes the socket file at the
/// end.
///
/// Errors: [`DaemonError`]; nothing was started then.
pub async fn run(fleet: Fleet, listener: UnixListener, options: Options, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    crate::process::limits::raise_nofile();
    crate::process::limits::reserve_descriptors(crate::process::limits::descriptors_for(fleet.instances.len()));
    let console = match (options.quiet, journal::stdout_is_journal()) {
        (true, _) => Console::Off,
        (false, true) => match journal::JournalWriter::new() {
            Ok(j) => Console::Journal(j),
            Err(_) => Console::Stdout,
        },
        (false, false) => Console::Stdout,
    };
    let group = fleet.settings.socket_group.as_ref().map(|g| g.1);
    if let Err(e) = crate::observe::logs::prepare_run_dir(&fleet.settings.run_dir, group) {
        tracing::warn!(run_dir = %fleet.settings.run_dir.display(), error = %e, "cannot set the access of run_dir");
    }
    let output = OutputSink::start(fleet.settings.run_dir.join("logs"), fleet.settings.rotation, console);
    let events = EventSink::start(Some(fleet.settings.run_dir.join("events.jsonl")));
    let (requests, mut requests_rx) = mpsc::channel(16);
    let mut state = AppState {
        requests: requests.clone(),
        output: output.clone(),
        keep: fleet.settings.rotation.keep,
        fleet_path: fleet.path.clone(),
        access: AccessPolicy {
            owner_uid: nix::unistd::geteuid().as_raw(),
            group_gid: fleet.settings.socket_group.as_ref().map(|g| g.1),
        },
        events: events.clone(),
        cpu: Default::default(),
        rollout: Default::default(),
        warnings: Default::default(),
        failover: Default::default(),
    };
    let socket = fleet.settings.socket.clone();
    let metrics_listener = match fleet.settings.metrics_listen {
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(source) => return Err(DaemonError::MetricsListen { addr, source }),
        },
        None => None,
    };
    tracing::info!(fleet = %fleet.path.display(), instances = fleet.instances.len(), socket = %socket.display(), "isolation proved; starting");
    let writers = (events.clone(), output.clone());
    let mut sup = Supervisor::start(fleet, output, events)
        .await
        .map_err(|e| DaemonError::Setup(e.to_string()))?;
    state.rollout = sup.rollout_notes();
    state.warnings = sup.fleet_warnings();
    state.failover = sup.failover_board();
    // Owned here, stopped below: the API server, the SIGHUP listener, the metrics listener, the
    // watcher and the systemd task. The API is served from now on, while leftovers of an
    // earlier clawherd are taken down too.
    let (stop_api, api_stopped) = oneshot::channel::<()>();
    let api = tokio::spawn(server::serve(listener, state, async move {
        let _ = api_stopped.await;
    }));
    // SIGHUP's default action ends the process: handled before the leftovers (up to a grace
    // and more), its reload held until the instances run.
    let hup = tokio::spawn(reload_on_sighup(requests.clone()));
    tokio::pin!(shutdown);
    let cleared = supervisor::clear_leftovers(&sup, &mut requests_rx, shutdown.as_mut()).await;
    let Ok(Some(held)) = cleared else {
        hup.abort();
        let _ = stop_api.send(());
        let _ = api.await;
        sup.shutdown(Vec::new()).await;
        let _ = std::fs::remove_file(&socket);
        flush_writers(writers).await;
        return match cleared {
            Err(e) => Err(DaemonError::OtherDaemon(e)),
            _ => {
                tracing::info!("stopped while taking down leftovers; nothing was started");
                Ok(())
            }
        };
    };
    sup.launch_all().await;
    let (stop_metrics, metrics_stopped) = oneshot::channel::<()>();
    let metrics_task = metrics_listener.map(|l| {
        tokio::spawn(server::serve_metrics(l, requests.clone(), async move {
            let _ = metrics_stopped.await;
        }))
    });
    let notifier = Arc::new(crate::systemd::notify::Notifier::from_env());
    // Once the fleet is up, give back the code only start-up needed: CLI, fleet file and
    // configs, the proof, the first spawns and probes (see process::trim). Not earlier: the
    // first spawns would fault the dropped code straight back in.
    let trim_task = tokio::spawn(trim_once_settled(sup.roster()));
    let notify_task = notify::start(notifier.clone(), sup.roster());
    let watcher = watch::start(sup.watched(), requests.clone());
    supervisor::serve(sup, requests_rx, held, shutdown, &notifier).await;
    if let Some(t) = notify_task {
        t.abort();
    }
    trim_task.abort();
    drop(watcher);
    hup.abort();
    let _ = stop_api.send(());
    let _ = api.await;
    let _ = stop_metrics.send(());
    if let Some(t) = metrics_task {
        let _ = t.await;
    }
    let _ = std::fs::remove_file(&socket);
    flush_writers(writers).await;
    Ok(())
}

/// Starts the first look for leftovers of the fleet file at `fleet_file` on a thread of its
/// own, so that it runs beside the fleet's load; [`run`] of that fleet file uses its answer
/// (see `supervisor::scan_early`). Call it only once the fleet's registry lock is held
/// ([`registry::acquire`]), or known not to be had (a registry that cannot be used: then no
/// lock keeps another daemon out either way). Does nothing else: nothing is signalled before
/// [`run`].
pub fn scan_for_leftovers_early(fleet_file: &std::path::Path) {
    supervisor::scan_early(fleet_file);
}

/// Grows the descriptor table to 1,024 slots, enough for 240 instances (within the soft
/// `RLIMIT_NOFILE`, most often 1,024 itself), while the table can grow without waiting: call
/// it first thing in `clawherd run`, before any thread starts (before
/// [`scan_for_leftovers_early`]). [`run`] raises the limit and grows the table to the fleet's
/// size, which then waits at most once (see `process::limits::reserve_descriptors`).
pub fn reserve_descriptors_early() {
    crate::process::limits::reserve_descriptors(crate::process::limits::EARLY_TABLE);
}

/// How long the daemon's exit waits for its writer threads to write what is queued.
const FLUSH_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Waits (at most [`FLUSH_AT_EXIT`] each) until the events and gateway lines of the shutdown
/// are in their files: the writer threads are not joined, and the process would otherwise end
/// with the last ones (every instance's `exited`, its gateway's last lines) still queued.
async fn flush_writers((events, output): (EventSink, OutputSink)) {
    let flushed = tokio::task::spawn_blocking(move || (events.flush(FLUSH_AT_EXIT), output.flush(FLUSH_AT_EXIT))).await;
    match flushed {
        Ok((true, true)) => {}
        Ok((events, lines)) => {
            tracing::warn!(
                events_written = events,
                lines_written = lines,
                "exiting before the writers finished: the last events or gateway lines may be missing from their files"
            )
        }
        Err(e) => tracing::warn!(error = %e, "cannot wait for the writers before exiting"),
    }
}

/// Once the fleet is up, gives back the code and heap only start-up needed
/// ([`crate::process::trim`]); from then on, the free heap pages of each large transient burst
/// once it settled ([`crate::process::trim::release_after_churn`]). Runs until aborted.
async fn trim_once_settled(roster: tokio::sync::watch::Receiver<Vec<crate::instance::InstanceView>>) {
    notify::settled(roster).await;
    let advised = crate::process::trim::page_out_startup_code();
    tracing::debug!(advised_bytes = advised, "fleet up: paged out start-up code");
    crate::process::trim::release_after_churn().await;
}

/// SIGHUP reloads the fleet file (as `clawherd reload` does), so a closed terminal never kills
/// clawherd and orphans its gateways.
async fn reload_on_sighup(requests: mpsc::Sender<Request>) {
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("received SIGHUP: reloading the fleet file");
        if requests.send(Request::Reload(None, Default::default())).await.is_err() {
            return;
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT: the stop signal of a daemon run from the shell or
/// by a service manager.
///
/// Errors: the handlers could not be installed.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("received SIGTERM"),
            _ = int.recv() => tracing::info!("received SIGINT"),
        }
    })
}
