//! The instance actor: one tokio task per profile. See the module doc of [`super`].

use super::state::{Action, Event, Machine, State, TREE_GRACE};
use super::{Control, InstanceHandle, InstanceStatus};
use crate::fleet::{Plan, Profile};
use crate::health::probe;
use crate::logs::OutputSink;
use crate::process::{group, reaper, spawn};
use crate::restart::policy::ExitResult;
use nix::sys::signal::Signal;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{error, info, instrument, warn};

/// Time between readiness probes while starting.
pub const READY_PROBE_PERIOD: Duration = Duration::from_millis(250);
/// Timeout of one probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the actor of `profile` and returns its handle and task. The instance starts stopped;
/// send [`Control::Start`].
pub fn spawn_actor(profile: Profile, plan: Plan, marker: String, output: OutputSink) -> (InstanceHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(16);
    let machine = Machine::new(profile.restart.clone(), profile.stop_timeout);
    let status = status_of(&profile.name, &machine, false);
    let (status_tx, status_rx) = watch::channel(status);
    let handle = InstanceHandle {
        profile: profile.name.clone(),
        tx,
        status: status_rx,
    };
    let actor = Actor {
        name: Arc::from(profile.name.as_str()),
        plan,
        marker,
        output,
        machine,
        status_tx,
        child: None,
        timer: None,
        probe: None,
        pending_stops: Vec::new(),
        readers: Vec::new(),
    };
    (handle, tokio::spawn(actor.run(rx)))
}

fn status_of(profile: &str, m: &Machine, finished: bool) -> InstanceStatus {
    let (now, wall) = (Instant::now(), std::time::SystemTime::now());
    let wall_of = |t: Instant| wall.checked_sub(now.saturating_duration_since(t));
    let (started_at, ready_at) = match &m.state {
        State::Starting { since, .. } | State::StopSigterm { since, .. } | State::StopSigkill { since, .. } => (wall_of(*since), None),
        State::Ready { since, ready_at, .. } => (wall_of(*since), wall_of(*ready_at)),
        State::Stopped | State::AutoRestart { .. } | State::Failed => (None, None),
    };
    InstanceStatus {
        profile: profile.to_string(),
        state: m.state.name(),
        pid: m.state.pid(),
        started_at,
        ready_at,
        restarts: m.restarts,
        last_exit: m.last_exit.map(|(r, _)| r),
        last_exit_at: m.last_exit.and_then(|(_, t)| wall_of(t)),
        last_ready_after: m.last_ready_after,
        finished,
    }
}

type ProbeFuture = Pin<Box<dyn Future<Output = bool> + Send>>;

struct Actor {
    name: Arc<str>,
    plan: Plan,
    marker: String,
    output: OutputSink,
    machine: Machine,
    status_tx: watch::Sender<InstanceStatus>,
    /// The running gateway (only while one runs).
    child: Option<Child>,
    /// The one armed timer: its deadline and the event it fires.
    timer: Option<(Instant, Event)>,
    /// The in-flight or scheduled readiness probe.
    probe: Option<ProbeFuture>,
    /// Stop requests waiting for `stopped`.
    pending_stops: Vec<oneshot::Sender<()>>,
    /// Output reader tasks of the current child; owned here, aborted when the actor ends.
    readers: Vec<JoinHandle<()>>,
}

impl Actor {
    #[instrument(skip_all, fields(profile = %self.name))]
    async fn run(mut self, mut rx: mpsc::Receiver<Control>) {
        let mut shutting_down = false;
        loop {
            if shutting_down && self.child.is_none() && !matches!(self.machine.state, State::StopSigterm { .. } | State::StopSigkill { .. })
            {
                break;
            }
            let event = tokio::select! {
                status = wait_child(&mut self.child) => {
                    let result = match status {
                        Ok(s) => ExitResult::from_status(s),
                        Err(e) => {
                            error!(error = %e, "waiting for the gateway failed");
                            ExitResult::Code(-1)
                        }
                    };
                    if let Some(pid) = self.machine.state.pid() {
                        reaper::forget_leader(pid);
                    }
                    self.child = None;
                    self.probe = None;
                    Event::Exited(result)
                }
                control = rx.recv(), if !shutting_down => match control {
                    Some(Control::Start) => Event::Start,
                    Some(Control::Restart) => Event::Restart,
                    Some(Control::Stop(reply)) => {
                        self.pending_stops.extend(reply);
                        Event::Stop
                    }
                    Some(Control::Shutdown) | None => {
                        shutting_down = true;
                        Event::Stop
                    }
                },
                () = sleep_until(self.timer.as_ref().map(|(t, _)| *t)) => {
                    let (_, event) = self.timer.take().expect("timer armed");
                    event
                }
                ready = poll_probe(&mut self.probe) => {
                    if ready {
                        self.probe = None;
                        Event::BecameReady
                    } else {
                        self.schedule_probe(READY_PROBE_PERIOD);
                        continue;
                    }
                }
            };
            self.apply(event).await;
        }
        for r in self.readers.drain(..) {
            r.abort();
        }
        self.publish(true);
    }

    /// Feeds `event` to the machine and carries out the actions, feeding back spawn results.
    async fn apply(&mut self, event: Event) {
        let mut queue = vec![event];
        while let Some(event) = queue.pop() {
            let actions = self.machine.step(event, Instant::now());
            for action in actions {
                if let Some(next) = self.perform(action).await {
                    queue.push(next);
                }
            }
        }
        if matches!(self.machine.state, State::Stopped | State::Failed) {
            for reply in self.pending_stops.drain(..) {
                let _ = reply.send(());
            }
        }
        self.publish(false);
    }

    async fn perform(&mut self, action: Action) -> Option<Event> {
        let pid = self.machine.state.pid();
        match action {
            Action::Spawn => match spawn::spawn(&self.plan) {
                Ok((mut child, pid)) => {
                    info!(pid, port = ?self.plan.port(), "spawned");
                    self.attach_output(&mut child);
                    self.child = Some(child);
                    self.schedule_probe(Duration::ZERO);
                    return Some(Event::Spawned { pid });
                }
                Err(e) => {
                    error!(error = %e, "spawn failed");
                    return Some(Event::SpawnFailed);
                }
            },
            Action::SignalTerm => {
                if let Some(pid) = pid {
                    info!(pid, "stopping: SIGTERM to process group");
                    group::signal_group(pid, Signal::SIGTERM);
                }
            }
            Action::KillTree => {
                warn!(pid, "stop timeout reached: SIGKILL to the whole tree");
                group::kill_all(pid, &self.marker).await;
            }
            Action::CleanupTree => {
                let left = group::take_down(None, &self.marker, TREE_GRACE).await;
                if !left.is_empty() {
                    let pids: Vec<i32> = left.iter().map(|p| p.pid).collect();
                    info!(?pids, "took down what the gateway left behind");
                }
                for pid in reaper::reap_orphans() {
                    tracing::debug!(pid, "reaped orphan");
                }
            }
            Action::ArmStopTimer(d) => self.timer = Some((Instant::now() + d, Event::StopTimerFired)),
            Action::ArmBackoff(d) => self.timer = Some((Instant::now() + d, Event::BackoffElapsed)),
            Action::ClearTimer => self.timer = None,
            Action::LogExit { result, requested, uptime } => {
                let uptime_s = uptime.as_secs_f64();
                if requested {
                    info!(%result, uptime_s, "exited as asked");
                } else {
                    warn!(%result, uptime_s, "exited unexpectedly");
                }
            }
            Action::LogBackoff(d) => info!(
                delay_ms = d.as_millis() as u64,
                restarts = self.machine.restarts,
                "restart scheduled"
            ),
            Action::LogCrashLoop { starts, window } => {
                error!(
                    starts,
                    window_s = window.as_secs(),
                    "crash loop: {starts} starts within {}; instance FAILED, not restarting until an operator starts it",
                    humantime::format_duration(window)
                )
            }
            Action::LogReady { after } => info!(pid, after_s = after.as_secs_f64(), "ready"),
        }
        None
    }

    fn attach_output(&mut self, child: &mut Child) {
        for r in self.readers.drain(..) {
            // Old readers end at EOF once the old tree is gone; they hold nothing else.
            drop(r);
        }
        let streams: [Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>; 2] = [
            child.stdout.take().map(|s| Box::new(s) as _),
            child.stderr.take().map(|s| Box::new(s) as _),
        ];
        for stream in streams.into_iter().flatten() {
            let name = self.name.clone();
            let sink = self.output.clone();
            self.readers.push(tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    sink.line(&name, line);
                }
            }));
        }
    }

    /// Schedules a readiness probe; without a probe port (a plain process) the instance is
    /// ready as soon as it runs.
    fn schedule_probe(&mut self, after: Duration) {
        let port = self.plan.ready_port;
        self.probe = Some(Box::pin(async move {
            let Some(port) = port else { return true };
            tokio::time::sleep(after).await;
            probe::is_ready(port, PROBE_TIMEOUT).await
        }));
    }

    fn publish(&self, finished: bool) {
        let status = status_of(&self.name, &self.machine, finished);
        self.status_tx.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }
}

async fn wait_child(child: &mut Option<Child>) -> std::io::Result<std::process::ExitStatus> {
    match child {
        Some(c) => c.wait().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn poll_probe(probe: &mut Option<ProbeFuture>) -> bool {
    match probe {
        Some(p) => p.await,
        None => std::future::pending().await,
    }
}
