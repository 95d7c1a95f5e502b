//! The instance actor: one tokio task per profile. See the module doc of [`super`].
//!
//! Probing (docs/openclaw.md, "Health and readiness"): while starting, `GET /readyz` every [`READY_PROBE_PERIOD`] until 200.
//! Once ready, or once `health.startup_grace` has passed without readiness, every
//! `health.period` one round of `GET /healthz` (liveness) and `GET /readyz` (readiness):
//! `failure_threshold` liveness failures in a row restart the gateway (a hung or SIGSTOPped one
//! is detected within period × threshold); as many readiness failures make it `unready`.
//! `eventLoop.degraded` is never punished. Nothing runs between probes: timers only.

use super::lines::{LastLines, Pipes};
use super::state::{Action, Event, ExitKind, Machine, Report, State};
use super::{Control, InstanceHandle, InstanceStatus, Message, Phase};
use crate::fleet::{Flavor, HealthSettings, Plan, Profile};
use crate::instance::clawdbot::{self, Credentials};
use crate::instance::policy::ExitResult;
use crate::instance::{ProbeVia, probe};
use crate::observe::events::{EventSink, FleetEvent, What};
use crate::observe::logs::{OutputSink, OutputStream};
use crate::process::{group, reaper, spawn};
use nix::sys::signal::Signal;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Child;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{error, info, warn};

/// A gateway is spawned by its plan.
impl spawn::Launch for Plan {
    fn argv(&self) -> &[String] {
        &self.argv
    }
    fn env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env.iter()
    }
    fn cwd(&self) -> &std::path::Path {
        &self.cwd
    }
    fn credentials(&self) -> Option<&spawn::Credentials> {
        self.credentials.as_ref()
    }
}

/// Time between readiness probes while starting.
pub(crate) const READY_PROBE_PERIOD: Duration = Duration::from_millis(250);
/// How long to wait for the last output lines after an exit 78 before judging it, and for the
/// pipes to end once the actor is done.
const DRAIN_WAIT: Duration = Duration::from_secs(1);
/// Output lines the actor takes in one turn of its loop: the line it waited for, then lines
/// already read (no further read). A gateway flooding its output then gets a turn like every
/// other branch (controls, probes, timers), as the branch is picked at random among the ready.
const OUTPUT_LINES_PER_TURN: usize = 32;
/// Lines taken at most, without waiting, from a gateway's pipes when it exits and when a new
/// run begins (what a process that escaped the take-down still writes is not read for ever).
const LEFTOVER_LINES: usize = 1024;

/// Lines by which OpenClaw says its exit 78 is about another owner of the state dir (docs/openclaw.md, "Shared state between instances"),
/// not about its configuration: transient, retried with backoff.
const LOCK_MARKERS: &[&str] = &[
    "owns gateway-lifecycle",
    "another OpenClaw process",
    "requires state migration",
    "existing gateway is healthy",
    "already running",
];

/// Starts the actor of `profile` and returns its handle and task. The instance starts stopped;
/// send [`Control::Start`].
pub(crate) fn spawn_actor(
    profile: &Profile,
    plan: Arc<Plan>,
    marker: String,
    output: OutputSink,
    events: EventSink,
) -> (InstanceHandle, JoinHandle<()>) {
    // Bounded: a sender waits while 16 controls are queued.
    let (tx, rx) = flume::bounded(16);
    let machine = Machine::new(profile.restart.clone(), profile.stop_timeout, profile.health.kill_after);
    let status = status_of(&profile.name, &machine, None, false, None);
    let (status_tx, status_rx) = watch::channel(status);
    let handle = InstanceHandle {
        profile: profile.name.clone(),
        tx,
        status: status_rx,
    };
    let actor = Actor {
        name: Arc::from(profile.name.as_str()),
        plan,
        openclaw_command: (profile.flavor == crate::fleet::Flavor::OpenClaw).then(|| profile.command.clone()),
        flavor: profile.flavor,
        version: None,
        health: profile.health.clone(),
        leftover_grace: profile.leftover_grace,
        marker,
        output,
        events,
        machine,
        status_tx,
        run: None,
        judging: None,
        cleanup: None,
        spawn_waiting: false,
        timer: None,
        probe: None,
        pipes: None,
        last_lines: LastLines::default(),
        awaiting_lines: None,
        fallback_noted: None,
    };
    (handle, tokio::spawn(actor.run(rx)))
}

fn status_of(profile: &str, m: &Machine, parked: Option<String>, finished: bool, version: Option<String>) -> InstanceStatus {
    let (now, wall) = (Instant::now(), std::time::SystemTime::now());
    let wall_of = |t: Instant| wall.checked_sub(now.saturating_duration_since(t));
    let (started_at, ready_at) = match &m.state {
        State::Starting { since, .. } | State::Unready { since, .. } | State::Stopping { since, .. } => (wall_of(*since), None),
        State::Ready { since, ready_at, .. } => (wall_of(*since), wall_of(*ready_at)),
        State::Stopped | State::AutoRestart { .. } | State::CrashLoop { .. } | State::Parked { .. } => (None, None),
    };
    InstanceStatus {
        profile: profile.to_string(),
        state: m.state.phase(),
        pid: m.state.pid(),
        started_at,
        ready_at,
        restarts: m.restarts,
        last_exit: m.last_exit.map(|(r, _)| r),
        last_exit_at: m.last_exit.and_then(|(_, t)| wall_of(t)),
        last_exit_kind: m.last_exit_kind,
        last_ready_after: m.last_ready_after,
        reason: parked,
        finished,
        version,
        last_round: None,
        probe_via: None,
    }
}

/// What one probe round found.
enum ProbeOutcome {
    /// Starting: `/readyz` answered 200 or not.
    Readiness(bool),
    /// Periodic round: `/healthz` and `/readyz`, with the `/readyz` body when one came.
    Health {
        live: bool,
        ready: bool,
        body: Option<bytes::Bytes>,
    },
    /// A clawdbot gateway refused clawherd's `connect` (its error message): it is up and
    /// speaking its protocol, but its health cannot be asked; the run falls back to the
    /// challenge and the quiet route.
    Refused(String),
}

type ProbeFuture = Pin<Box<dyn Future<Output = ProbeOutcome> + Send>>;
type JudgeFuture = Pin<Box<dyn Future<Output = Event> + Send>>;
type CleanupFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What exists only while a gateway runs.
struct Run {
    /// The gateway (the process-group leader); its exit is what the actor waits for.
    child: Child,
    /// Consecutive liveness failures.
    live_failures: u32,
    /// Consecutive readiness failures after readiness.
    ready_failures: u32,
    /// The last periodic probe round's findings (published in the status).
    last_round: Option<crate::instance::ProbeRound>,
    /// How this gateway is probed (published in the status).
    via: Option<ProbeVia>,
    /// What a clawdbot gateway's `connect` presents, while [`ProbeVia::Health`].
    credentials: Option<Arc<Credentials>>,
}

/// What judging an exit needs when OpenClaw's restart hand-off must be asked about.
struct HandoffQuery {
    argv: Vec<String>,
    plan: Arc<Plan>,
    name: Arc<str>,
    events: EventSink,
}

struct Actor {
    name: Arc<str>,
    plan: Arc<Plan>,
    /// The profile's command when it runs today's OpenClaw (for its restart-handoff CLI).
    openclaw_command: Option<Vec<String>>,
    /// The gateway generation: clawdbot reports a configuration error with exit 1, not 78.
    flavor: Flavor,
    /// The version the last spawn ran, read at spawn ([`crate::fleet::versions::detect`]).
    version: Option<String>,
    health: HealthSettings,
    /// SIGTERM to SIGKILL for what an exited gateway left behind (`leftover_grace`).
    leftover_grace: Duration,
    marker: String,
    output: OutputSink,
    events: EventSink,
    machine: Machine,
    status_tx: watch::Sender<InstanceStatus>,
    /// The running gateway and what lives only with it (watchexec's `Running { child }`).
    run: Option<Run>,
    /// An exit being judged (an exit 78's last lines, OpenClaw's restart hand-off): an
    /// in-flight future like the probe, so controls and status are never held up behind it.
    judging: Option<JudgeFuture>,
    /// The take-down of what the exited gateway left (SIGTERM, `leftover_grace`, SIGKILL): in
    /// flight like the judging, so controls and status are answered during its grace.
    cleanup: Option<CleanupFuture>,
    /// A spawn the machine asked for while the cleanup ran: done once it ends (a new gateway
    /// must not meet its predecessor's leftovers), unless a stop came meanwhile.
    spawn_waiting: bool,
    /// The one armed timer: its deadline and the event it fires.
    timer: Option<(Instant, Event)>,
    /// The scheduled or in-flight probe round.
    probe: Option<ProbeFuture>,
    /// The output of the current child (or of the last, after its exit): read in the actor's
    /// loop until both pipes end, once the whole tree is gone. No task of its own: a task per
    /// gateway was 512 bytes, plus its clones of the sink and a shared `last_lines`.
    pipes: Option<Pipes>,
    /// The last output lines of the current child.
    last_lines: LastLines,
    /// An exit judged by its last lines (exit 78, clawdbot's exit 1) and how: judged once both
    /// pipes end, or when `judging` (a wait of [`DRAIN_WAIT`]) resolves first.
    awaiting_lines: Option<(ExitResult, Classify)>,
    /// The last reason a clawdbot gateway of this instance is probed without its health call,
    /// as logged: a new reason is logged once, the same one of a later run not again.
    fallback_noted: Option<String>,
}

impl Actor {
    /// The actor's loop, in a span naming its profile (as `#[instrument]` gave it), made afresh
    /// for each poll: one held for the actor's life cost about 340 bytes of the subscriber's per
    /// instance, idle ([`crate::observe::span`]). Not an `async fn` under `#[instrument]`: that
    /// future kept the actor three times (the argument, the local it was moved into, the
    /// instrumented block): 3.3 KB per instance, not 1.3.
    fn run(mut self, rx: flume::Receiver<Message>) -> impl Future<Output = ()> + Send {
        let name = self.name.clone();
        let span = move || tracing::info_span!("run", profile = %name);
        let turns = async move {
            let mut shutting_down = false;
            loop {
                if shutting_down
                    && self.run.is_none()
                    && self.judging.is_none()
                    && self.cleanup.is_none()
                    && !matches!(self.machine.state, State::Stopping { .. })
                {
                    break;
                }
                let event = tokio::select! {
                    status = wait_child(&mut self.run) => {
                        let result = match status {
                            Ok(s) => ExitResult::from_status(s),
                            Err(e) => {
                                error!(error = %e, "waiting for the gateway failed");
                                ExitResult::Code(-1)
                            }
                        };
                        self.begin_judging(result);
                        continue;
                    }
                    event = poll_in_flight(&mut self.judging) => {
                        self.judging = None;
                        self.judged(event)
                    }
                    line = read_output(&mut self.pipes) => match self.take_output(line) {
                        Some(event) => event,
                        None => continue,
                    },
                    () = poll_in_flight(&mut self.cleanup) => {
                        self.cleanup = None;
                        // Boxed like `apply` below: a spawn's future is large, and the actor's
                        // must stay small while it waits.
                        if std::mem::take(&mut self.spawn_waiting)
                            && let Some(event) = Box::pin(self.perform(Action::Spawn, None)).await
                        {
                            Box::pin(self.apply(event)).await;
                        } else {
                            self.publish(false);
                        }
                        continue;
                    }
                    // Cancel-safe: a message stays queued until a `recv_async` returns it.
                    message = rx.recv_async(), if !shutting_down => {
                        let (control, applied) = match message {
                            Ok(Message { control, applied }) => (control, applied),
                            Err(flume::RecvError::Disconnected) => (Control::Shutdown, None),
                        };
                        let event = match control {
                            Control::Start => Event::Start,
                            Control::Restart => Event::Restart,
                            Control::Stop => {
                                self.spawn_waiting = false;
                                Event::Stop
                            }
                            Control::Shutdown => {
                                shutting_down = true;
                                self.spawn_waiting = false;
                                Event::Stop
                            }
                        };
                        // Boxed: the actor's future then stays as small as its waiting state (it waits almost
                        // always), not as large as the biggest step of `apply` (1,000 of them are resident).
                        Box::pin(self.apply(event)).await;
                        // The ticket: the status published by `apply` shows the control's effect.
                        if let Some(t) = applied {
                            let _ = t.send(());
                        }
                        continue;
                    }
                    () = sleep_until(self.timer.as_ref().map(|(t, _)| *t)) => {
                        // The timer was armed when this branch was built and nothing ran since.
                        let Some((_, event)) = self.timer.take() else {
                            continue;
                        };
                        event
                    }
                    outcome = poll_probe(&mut self.probe) => {
                        self.probe = None;
                        match self.judge(outcome) {
                            Some(e) => e,
                            None => {
                                // A round that changed no state still brings new signals.
                                self.publish_round();
                                self.ensure_probe();
                                continue;
                            }
                        }
                    }
                };
                Box::pin(self.apply(event)).await;
            }
            self.drain_output().await;
            self.publish(true);
        };
        crate::observe::span::span_per_poll(turns, span)
    }

    /// The leader exited: reap bookkeeping, stop probing, and start judging the exit; the
    /// [`Event::Exited`] comes when the judgement resolves.
    fn begin_judging(&mut self, result: ExitResult) {
        let pid = self.machine.state.pid();
        if let Some(pid) = pid {
            reaper::forget_leader(pid);
        }
        self.run = None;
        self.probe = None;
        // Its last lines are in the pipes already: they come before its end.
        self.take_written_output();
        let classify = classifier(self.flavor, result);
        if let Some(classify) = classify
            && self.pipes.is_some()
        {
            // Judged by the last lines: once both pipes end (the output branch), or with what
            // came within `DRAIN_WAIT`.
            self.awaiting_lines = Some((result, classify));
            self.judging = Some(Box::pin(async move {
                tokio::time::sleep(DRAIN_WAIT).await;
                Event::Exited {
                    result,
                    config_error: None,
                    handed_back: false,
                }
            }));
            return;
        }
        let config_error = classify.and_then(|c| c(&self.last_lines.lines()));
        let handoff = self.handoff_query(result, pid);
        self.judging = Some(Box::pin(async move {
            let handed_back = match (handoff, pid) {
                (Some(q), Some(pid)) => handed_back(q, pid).await,
                _ => false,
            };
            Event::Exited {
                result,
                config_error,
                handed_back,
            }
        }));
    }

    /// The judgement of an exit resolved: one awaiting its last lines is judged by what came.
    fn judged(&mut self, event: Event) -> Event {
        match (self.awaiting_lines.take(), event) {
            (Some((_, classify)), Event::Exited { result, handed_back, .. }) => Event::Exited {
                result,
                config_error: classify(&self.last_lines.lines()),
                handed_back,
            },
            (_, event) => event,
        }
    }

    /// Takes a line of the gateway's output (`None`: both pipes ended) and the lines already
    /// read behind it, up to [`OUTPUT_LINES_PER_TURN`]; to the last lines and the sink. Returns
    /// the judged exit when the pipes ended while an exit awaited its last lines.
    fn take_output(&mut self, line: Option<(String, OutputStream)>) -> Option<Event> {
        let Some(line) = line else {
            let (result, classify) = self.awaiting_lines.take()?;
            self.judging = None;
            return Some(Event::Exited {
                result,
                config_error: classify(&self.last_lines.lines()),
                handed_back: false,
            });
        };
        let (mut next, mut taken) = (Some(line), 0);
        while let Some((text, stream)) = next {
            self.record_line(text, stream);
            taken += 1;
            next = if taken < OUTPUT_LINES_PER_TURN {
                self.pipes.as_mut().and_then(Pipes::buffered_line)
            } else {
                None
            };
        }
        None
    }

    /// One line of the current (or last) child's output: kept among its last lines and sent to
    /// the output sink (log file, followers).
    fn record_line(&mut self, text: String, stream: OutputStream) {
        self.last_lines.push(&text);
        self.output.line(&self.name, stream, text);
    }

    /// Once the actor is done: the output left in the pipes, until both end or [`DRAIN_WAIT`]
    /// passed (what holds them then, which the take-down did not reach, is not waited for).
    async fn drain_output(&mut self) {
        let Some(mut pipes) = self.pipes.take() else {
            return;
        };
        let (name, sink) = (&self.name, &self.output);
        let _ = tokio::time::timeout(DRAIN_WAIT, async {
            while let Some((text, stream)) = std::future::poll_fn(|cx| pipes.poll_line(cx)).await {
                sink.line(name, stream, text);
            }
        })
        .await;
    }

    /// How the gateway about to run is probed: OpenClaw by HTTP, clawdbot by its `health` call
    /// with the credentials its plan gives ([`clawdbot::credentials`], the config read once per
    /// spawn), or by the challenge when clawherd cannot authenticate (logged once); a plain
    /// process not at all.
    fn probe_setup(&mut self) -> (Option<ProbeVia>, Option<Arc<Credentials>>) {
        match self.flavor {
            Flavor::Process => (None, None),
            Flavor::OpenClaw => (Some(ProbeVia::Http), None),
            Flavor::Clawdbot => match clawdbot::credentials(&self.plan) {
                Ok(c) => (Some(ProbeVia::Health), Some(Arc::new(c))),
                Err(why) => {
                    self.note_fallback(why.clone());
                    (Some(ProbeVia::Challenge(why)), None)
                }
            },
        }
    }

    /// Logs once per reason that the clawdbot gateway is probed without its health call.
    fn note_fallback(&mut self, why: String) {
        if self.fallback_noted.as_deref() != Some(why.as_str()) {
            warn!(
                reason = %why,
                "probing the clawdbot gateway by its connect.challenge and GET /tools/invoke instead of its health call"
            );
            self.fallback_noted = Some(why);
        }
    }

    /// Turns a probe round into an event, counting consecutive failures.
    fn judge(&mut self, outcome: ProbeOutcome) -> Option<Event> {
        let threshold = self.health.failure_threshold;
        match (outcome, &self.machine.state) {
            (ProbeOutcome::Readiness(true), State::Starting { .. }) => Some(Event::BecameReady),
            (ProbeOutcome::Readiness(_), _) => None,
            (ProbeOutcome::Refused(message), _) => {
                let run = self.run.as_mut()?;
                run.credentials = None;
                let why = format!(
                    "the gateway refused clawherd's connect ({message}); give clawherd the gateway's secret: gateway.auth.token or gateway.auth.password in its config, or CLAWDBOT_GATEWAY_TOKEN or CLAWDBOT_GATEWAY_PASSWORD in the profile's env (clawherd does not read .env files)"
                );
                run.via = Some(ProbeVia::Challenge(why.clone()));
                self.note_fallback(why);
                // The refusal is itself the gateway's protocol answering: up, as the challenge
                // would have shown.
                self.judge(ProbeOutcome::Health {
                    live: true,
                    ready: true,
                    body: None,
                })
            }
            (ProbeOutcome::Health { live, ready, body }, state) => {
                let run = self.run.as_mut()?;
                run.last_round = Some(crate::instance::ProbeRound {
                    at: tokio::time::Instant::now(),
                    live,
                    ready_body: body,
                });
                run.live_failures = if live { 0 } else { run.live_failures + 1 };
                if self.health.liveness && run.live_failures >= threshold {
                    let failures = run.live_failures;
                    run.live_failures = 0;
                    warn!(failures, "liveness probe failed {failures} times in a row");
                    self.events.emit(FleetEvent::new(
                        What::LivenessFailed {
                            failures,
                            period_s: self.health.period.as_secs_f64(),
                        },
                        Some(&self.name),
                        state.pid(),
                        format!("GET /healthz failed {failures} times in a row"),
                    ));
                    return Some(Event::LivenessFailed);
                }
                match state {
                    State::Starting { .. } | State::Unready { .. } if ready => Some(Event::BecameReady),
                    State::Ready { .. } => {
                        run.ready_failures = if ready { 0 } else { run.ready_failures + 1 };
                        (run.ready_failures >= threshold).then_some(Event::BecameUnready)
                    }
                    _ => None,
                }
            }
        }
    }

    /// What to ask OpenClaw when judging an exit 0 clawherd did not ask for (see
    /// [`super::handoff`]); `None` when the answer cannot matter: asked only for an OpenClaw
    /// gateway whose command ends in `gateway run`, under `restart.policy: on-failure`
    /// (`always` restarts anyway, `never` does not), and not while being stopped.
    fn handoff_query(&self, result: ExitResult, pid: Option<i32>) -> Option<HandoffQuery> {
        let unrequested = matches!(
            self.machine.state,
            State::Starting { .. } | State::Ready { .. } | State::Unready { .. }
        );
        let policy = self.machine.restart_policy();
        if !result.is_clean() || !unrequested || policy != crate::fleet::RestartPolicy::OnFailure {
            return None;
        }
        let argv = super::handoff::consume_argv(self.openclaw_command.as_ref()?, pid?)?;
        Some(HandoffQuery {
            argv,
            plan: self.plan.clone(),
            name: self.name.clone(),
            events: self.events.clone(),
        })
    }

    /// Feeds `event` to the machine and carries out the actions, feeding back spawn results.
    async fn apply(&mut self, event: Event) {
        // The gateway an event is about: after an exit the state no longer has its pid, but its
        // `exited` report names it.
        let pid_before = self.machine.state.pid();
        let mut queue = vec![event];
        while let Some(event) = queue.pop() {
            let actions = self.machine.step(event, Instant::now());
            for action in actions {
                if let Some(next) = self.perform(action, pid_before).await {
                    queue.push(next);
                }
            }
        }
        self.ensure_probe();
        self.publish(false);
    }

    async fn perform(&mut self, action: Action, pid_before: Option<i32>) -> Option<Event> {
        let pid = self.machine.state.pid();
        match action {
            // The previous gateway's leftovers are still being taken down: spawn after.
            Action::Spawn if self.cleanup.is_some() => self.spawn_waiting = true,
            Action::Spawn => match self.spawn_detecting_version().await {
                Ok((mut child, pid)) => {
                    info!(pid, port = %self.plan.port().map_or_else(|| "none".to_string(), |p| p.to_string()), "spawned");
                    // The last run's lines still in its pipes go first, then the marker: it
                    // reaches the log followers before any line of the new run.
                    self.attach_output(&mut child);
                    self.emit_run_event(FleetEvent::new(
                        What::Spawned { port: self.plan.port() },
                        Some(&self.name),
                        Some(pid),
                        "gateway spawned",
                    ));
                    let (via, credentials) = self.probe_setup();
                    self.run = Some(Run {
                        child,
                        live_failures: 0,
                        ready_failures: 0,
                        last_round: None,
                        via,
                        credentials,
                    });
                    self.probe = None;
                    return Some(Event::Spawned { pid });
                }
                Err(e) => {
                    error!(error = %e, "spawn failed");
                    self.events
                        .emit(FleetEvent::new(What::SpawnFailed, Some(&self.name), None, e.to_string()));
                    return Some(Event::SpawnFailed);
                }
            },
            Action::SignalTerm => {
                // While an exit is being judged the leader is gone (and reaped): its pid may be
                // reused, so it is not signalled; the exit's event follows.
                if let (Some(pid), Some(_)) = (pid, &self.run) {
                    info!(pid, "stopping: SIGTERM to process group");
                    group::signal_group(pid, Signal::SIGTERM);
                    // A SIGSTOPped gateway handles the SIGTERM once continued.
                    group::signal_group(pid, Signal::SIGCONT);
                }
            }
            Action::KillTree => {
                warn!(pid, "stop timeout reached: SIGKILL to the whole tree");
                group::kill_all(pid, &self.marker).await;
            }
            // One take-down at a time: a gateway exits only after a spawn, which waits for it.
            Action::CleanupTree if self.cleanup.is_some() => {}
            Action::CleanupTree => {
                let marker = self.marker.clone();
                let grace = self.leftover_grace;
                self.cleanup = Some(Box::pin(async move {
                    let left = group::take_down(group::Scope::Live, None, &marker, grace).await;
                    // Reap what was taken down. With nothing left behind there is nothing to
                    // reap here (an orphan that exited on its own was reaped on its SIGCHLD):
                    // at shutdown every instance ends at once, and each scan reads the list
                    // of all of clawherd's children.
                    if !left.is_empty() {
                        let pids: Vec<i32> = left.iter().map(|p| p.pid).collect();
                        info!(?pids, "took down what the gateway left behind");
                        for pid in reaper::reap_orphans() {
                            tracing::debug!(pid, "reaped orphan");
                        }
                    }
                }));
            }
            Action::ArmStopTimer(d) => self.timer = Some((crate::process::later(Instant::now(), d), Event::StopTimerFired)),
            // A zero delay needs no timer (tokio's has 1 ms granularity): restart now.
            Action::ArmBackoff(d) if d.is_zero() => {
                self.timer = None;
                return Some(Event::BackoffElapsed);
            }
            Action::ArmBackoff(d) => self.timer = Some((crate::process::later(Instant::now(), d), Event::BackoffElapsed)),
            Action::ClearTimer => self.timer = None,
            Action::Report(r) => self.report(r, pid.or(pid_before)),
        }
        None
    }

    /// Tells the log and the event stream.
    fn report(&self, r: Report, pid: Option<i32>) {
        let name = Some(&*self.name);
        let event = match r {
            Report::Exited { result, kind, uptime } => exited_event(result, kind, uptime, name, pid),
            Report::Ready { after } => {
                info!(pid, after_s = after.as_secs_f64(), "ready");
                FleetEvent::new(
                    What::Ready {
                        after_s: after.as_secs_f64(),
                    },
                    name,
                    pid,
                    format!("ready after {:.1} s", after.as_secs_f64()),
                )
            }
            Report::Unready => {
                warn!(pid, "not ready any more (GET /readyz failing)");
                FleetEvent::new(What::Unready, name, pid, "GET /readyz failing")
            }
            Report::Backoff(d) => {
                info!(
                    delay_ms = d.as_millis() as u64,
                    restarts = self.machine.restarts,
                    "restart scheduled"
                );
                FleetEvent::new(
                    What::RestartScheduled {
                        delay_s: d.as_secs_f64(),
                        restarts: self.machine.restarts,
                    },
                    name,
                    None,
                    format!("restart in {}", humantime::format_duration(d)),
                )
            }
            Report::CrashLoop { starts, window, retry_in } => {
                error!(
                    starts,
                    window_s = window.as_secs(),
                    "CRASH LOOP: {starts} starts within {}; retrying every {}",
                    humantime::format_duration(window),
                    humantime::format_duration(retry_in)
                );
                FleetEvent::new(
                    What::CrashLoop {
                        starts,
                        window_s: window.as_secs(),
                        retry_in_s: retry_in.as_secs(),
                    },
                    name,
                    None,
                    format!(
                        "{starts} starts within {}; next try in {}",
                        humantime::format_duration(window),
                        humantime::format_duration(retry_in)
                    ),
                )
            }
            Report::Parked { reason } => {
                error!(reason = %crate::observe::redact::redact_text(&reason), "PARKED: the gateway exited with a configuration error; fix it, then `clawherd reload` or `clawherd start {}`", self.name);
                let message = format!("configuration error: {reason}");
                FleetEvent::new(What::Parked { reason }, name, None, message)
            }
            Report::LivenessRestart => {
                warn!(pid, "restarting after failed liveness probes");
                FleetEvent::new(
                    What::Restarting { cause: "liveness".into() },
                    name,
                    pid,
                    "restart after failed liveness probes",
                )
            }
            Report::StuckAfterKill => {
                error!(pid, "gateway survived SIGKILL; still waiting for its exit");
                FleetEvent::new(What::Stuck, name, pid, "survived SIGKILL (uninterruptible sleep?)")
            }
        };
        self.emit_run_event(event);
    }

    /// Emits `event`; a spawn or exit also sends its run marker to the log followers, behind
    /// the lines of the run captured so far.
    fn emit_run_event(&self, event: FleetEvent) {
        if let Some(marker) = event.run_marker() {
            self.output.marker(&self.name, marker);
        }
        self.events.emit(event);
    }

    /// Takes the new child's output pipes, read from now on in the actor's loop, and forgets the
    /// last run's lines. The last run's pipes (ended in practice: its tree was taken down before
    /// this spawn) give what they hold without waiting, up to [`LEFTOVER_LINES`] lines, and go.
    fn attach_output(&mut self, child: &mut Child) {
        self.take_written_output();
        self.last_lines.clear();
        self.pipes = Some(Pipes::of(child));
    }

    /// Takes the output already written to the pipes, without waiting for more, up to
    /// [`LEFTOVER_LINES`] lines: at an exit, what the gateway wrote before it comes first.
    fn take_written_output(&mut self) {
        // A waker that does nothing: the loop's next turn polls the pipes again with its own.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        for _ in 0..LEFTOVER_LINES {
            let Some(pipes) = self.pipes.as_mut() else {
                return;
            };
            match pipes.poll_line(&mut cx) {
                std::task::Poll::Ready(Some((text, stream))) => self.record_line(text, stream),
                std::task::Poll::Ready(None) => {
                    self.pipes = None;
                    return;
                }
                std::task::Poll::Pending => return,
            }
        }
    }

    /// Schedules the next probe round if the state wants one and none is pending; drops a pending
    /// one the state no longer wants. A plain process (no probe port) is ready once it runs.
    fn ensure_probe(&mut self) {
        // No gateway runs while its exit is judged: nothing to probe.
        let wanted = match (&self.machine.state, self.plan.ready_port()) {
            _ if self.run.is_none() => None,
            (State::Starting { .. }, None) => Some((Duration::ZERO, None)),
            (State::Starting { since, .. }, Some(port)) if since.elapsed() < self.health.startup_grace => {
                // Fast readiness probing until the grace ends; then the periodic round.
                let first = self.probe.is_none() && since.elapsed() < READY_PROBE_PERIOD;
                Some((if first { Duration::ZERO } else { READY_PROBE_PERIOD }, Some((port, false))))
            }
            (State::Starting { .. } | State::Ready { .. } | State::Unready { .. }, Some(port)) => {
                // Each instance in its own slot of the period: no thundering herd.
                let after = probe::until_next_round(&self.name, self.health.period, std::time::Instant::now());
                Some((after, Some((port, true))))
            }
            _ => None,
        };
        match wanted {
            None => self.probe = None,
            Some(_) if self.probe.is_some() => {}
            Some((after, None)) => {
                self.probe = Some(Box::pin(async move {
                    tokio::time::sleep(after).await;
                    ProbeOutcome::Readiness(true)
                }))
            }
            Some((after, Some((port, periodic)))) => {
                let (timeout, clawdbot) = (self.health.timeout, self.flavor == Flavor::Clawdbot);
                let credentials = self.run.as_ref().and_then(|r| r.credentials.clone());
                let latency =
                    crate::observe::metrics::PROBE_SECONDS.get_or_create_owned(&crate::observe::metrics::profile_label(&self.name));
                self.probe = Some(Box::pin(async move {
                    tokio::time::sleep(after).await;
                    let _timer = ObserveOnDrop(latency, std::time::Instant::now());
                    // The round's HTTP futures are boxed while it runs: the future that waits
                    // out the period (most of the time, for every instance) stays small.
                    Box::pin(async move {
                        match (clawdbot, credentials, periodic) {
                            // clawdbot has no /healthz or /readyz: its own health call, for
                            // readiness and the periodic rounds alike (a successful one leaves no
                            // line in the gateway's log). Live when the call is answered, ready
                            // when the answer is healthy.
                            (true, Some(credentials), periodic) => match clawdbot::health(port, &credentials, timeout).await {
                                clawdbot::Health::Healthy if !periodic => ProbeOutcome::Readiness(true),
                                clawdbot::Health::Refused(message) => ProbeOutcome::Refused(message),
                                _ if !periodic => ProbeOutcome::Readiness(false),
                                answer => ProbeOutcome::Health {
                                    live: matches!(answer, clawdbot::Health::Healthy | clawdbot::Health::Unhealthy(_)),
                                    ready: answer == clawdbot::Health::Healthy,
                                    body: None,
                                },
                            },
                            // Without credentials, periodic rounds (live and ready): its quiet
                            // POST-only route, since every WebSocket challenge leaves a warning in
                            // the gateway's log. Readiness: the challenge, which only the gateway
                            // gives.
                            (true, None, true) => {
                                let up = probe::clawdbot_http_alive(port, timeout).await;
                                ProbeOutcome::Health {
                                    live: up,
                                    ready: up,
                                    body: None,
                                }
                            }
                            (true, None, false) => ProbeOutcome::Readiness(probe::clawdbot_challenge(port, timeout).await),
                            (false, _, true) => {
                                let (live, ready) = tokio::join!(
                                    probe::get(port, probe::LIVE_PATH, timeout),
                                    probe::get(port, probe::READY_PATH, timeout)
                                );
                                let ready = ready.ok();
                                ProbeOutcome::Health {
                                    live: matches!(live, Ok((200, _))),
                                    ready: matches!(ready, Some((200, _))),
                                    body: ready.map(|(_, body)| body),
                                }
                            }
                            (false, _, false) => ProbeOutcome::Readiness(probe::is_ready(port, timeout).await),
                        }
                    })
                    .await
                }));
            }
        }
    }

    /// Spawns the plan's gateway, first reading which version its command runs (a gateway's
    /// only; a few `stat`s and one bounded read, no process).
    async fn spawn_detecting_version(&mut self) -> Result<(tokio::process::Child, i32), spawn::SpawnError> {
        if self.flavor != Flavor::Process {
            let p = &self.plan;
            self.version = crate::fleet::versions::detect::detect(&p.argv, &p.env, &p.cwd).map(|(_, v)| v);
        }
        spawn::spawn_parallel(self.plan.clone()).await
    }

    fn publish(&self, finished: bool) {
        let reason = match &self.machine.state {
            State::Parked { reason } => Some(reason.clone()),
            _ => None,
        };
        let mut status = status_of(&self.name, &self.machine, reason, finished, self.version.clone());
        // Stopped by the machine, but the old tree is still being taken down: not stopped yet.
        if self.cleanup.is_some() && status.state == Phase::Stopped {
            status.state = Phase::Stopping;
        }
        status.last_round = self.run.as_ref().and_then(|r| r.last_round.clone());
        status.probe_via = self.run.as_ref().and_then(|r| r.via.clone());
        self.status_tx.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }

    /// Stores the last probe round in the published status without waking any watcher: a
    /// round that changed no state is read by `status` calls, while the watchers (waits,
    /// failover, systemd's `STATUS=`) want state changes, not 100 wake-ups a second on 1,000
    /// instances.
    fn publish_round(&self) {
        let round = self.run.as_ref().and_then(|r| r.last_round.clone());
        let via = self.run.as_ref().and_then(|r| r.via.as_ref());
        self.status_tx.send_if_modified(|s| {
            s.last_round = round;
            // `via` changes only at a spawn or a refused connect: no copy per round.
            if s.probe_via.as_ref() != via {
                s.probe_via = via.cloned();
            }
            false
        });
    }
}

/// Judges an exit 78 from the gateway's last output lines: `None` for the state-dir lock case
/// (transient, docs/openclaw.md, "Shared state between instances"), else the most telling error line (a real configuration error).
pub(crate) fn classify_exit_78(lines: &[&str]) -> Option<String> {
    if lines.iter().any(|l| LOCK_MARKERS.iter().any(|m| l.contains(m))) {
        return None;
    }
    const TELLING: &[&str] = &[
        "Invalid config",
        "Unrecognized key",
        "missing gateway.mode",
        "Refusing",
        "invalid",
        "Invalid",
        "error",
        "Error",
        "failed",
    ];
    let line = lines
        .iter()
        .rev()
        .find(|l| TELLING.iter().any(|t| l.contains(t)))
        .or_else(|| lines.iter().rev().find(|l| !l.trim().is_empty()))
        .map(|l| l.trim().chars().take(300).collect())
        .unwrap_or_else(|| "exit 78 (EX_CONFIG) without output".to_string());
    Some(line)
}

/// Lines by which clawdbot 2026.1.24 says it cannot start with its configuration (it exits 1 for
/// every failure, so the output is all there is): the strict schema's `Invalid config at FILE:\n-
/// KEY: Unrecognized key: "K"` and the `Problem:` list under `Config invalid`
/// (clawdbot's dist/config/io.js, dist/cli/program/config-guard.js), a JSON5 syntax error as `JSON5
/// parse failed` / `Failed to read config at`, and `Gateway start blocked: set gateway.mode=local`
/// (dist/cli/gateway-cli/run.js). Observed by running the real gateway on such configs.
const CLAWDBOT_CONFIG_MARKERS: &[&str] = &[
    "Unrecognized key",
    "JSON5 parse failed",
    "Invalid config at",
    "Failed to read config at",
    "Gateway start blocked",
    "Config invalid",
];

/// Judges clawdbot's exit 1 from its last output lines: the most telling line when they show a
/// configuration error (a `Problem:` entry such as `- browser: Unrecognized key: "controlPort"`,
/// else the marker line itself), `None` for any other failure (a busy port, a lock timeout, a
/// crash), which is restarted per policy.
pub(crate) fn classify_clawdbot_exit_1(lines: &[&str]) -> Option<String> {
    if !lines.iter().any(|l| CLAWDBOT_CONFIG_MARKERS.iter().any(|m| l.contains(m))) {
        return None;
    }
    // The most precise line first: a `Problem:` entry, then the blocked start, then any marker.
    let pick = |pred: &dyn Fn(&str) -> bool| lines.iter().rev().find(|l| pred(l.trim())).map(|l| l.trim().to_string());
    let line = pick(&|l| l.starts_with("- ") && (l.contains("Unrecognized key") || l.contains("JSON5 parse failed") || l.contains(": ")))
        .or_else(|| pick(&|l| l.contains("Gateway start blocked")))
        .or_else(|| pick(&|l| CLAWDBOT_CONFIG_MARKERS.iter().any(|m| l.contains(m))))?;
    let file = lines.iter().find_map(|l| l.trim().strip_prefix("File: ").map(str::to_string));
    let line = match file {
        Some(f) if !line.contains(&f) => format!("{f}: {line}"),
        _ => line,
    };
    Some(line.chars().take(300).collect())
}

/// Records the time from creation to drop into a histogram (seconds): a probe round's latency.
struct ObserveOnDrop(crate::observe::metrics::ProbeHistogram, std::time::Instant);

impl Drop for ObserveOnDrop {
    fn drop(&mut self) {
        self.0.observe(self.1.elapsed().as_secs_f64());
    }
}

/// Logs an exit and makes its `exited` event: `requested` when clawherd asked for it (a stop,
/// a restart, a failed liveness probe).
fn exited_event(result: ExitResult, kind: ExitKind, uptime: Duration, name: Option<&str>, pid: Option<i32>) -> FleetEvent {
    let uptime_s = uptime.as_secs_f64();
    let requested = matches!(kind, ExitKind::Requested | ExitKind::Unhealthy);
    if requested {
        info!(%result, uptime_s, kind = kind.as_str(), "exited as asked");
    } else {
        warn!(%result, uptime_s, "exited unexpectedly");
    }
    let (code, signal) = match result {
        ExitResult::Code(c) => (Some(c), None),
        ExitResult::Signal(s) => (None, Some(s)),
        ExitResult::SpawnFailed => (None, None),
    };
    let what = What::Exited {
        requested,
        exit_kind: Some(kind),
        uptime_s,
        code,
        signal,
    };
    FleetEvent::new(what, name, pid, result.to_string())
}

/// Judges an exit by the gateway's last output lines: its own error line when it is a real
/// configuration error, `None` otherwise.
type Classify = fn(&[&str]) -> Option<String>;

/// How an exit is judged by the gateway's last lines: an exit 78 by [`classify_exit_78`] (a
/// configuration error, or the state-dir lock), clawdbot's exit 1 by [`classify_clawdbot_exit_1`]
/// (clawdbot exits 1 for every failure; a configuration error only when its output says so);
/// `None` for any other exit.
fn classifier(flavor: Flavor, result: ExitResult) -> Option<Classify> {
    match (flavor, result) {
        (Flavor::Clawdbot, ExitResult::Code(1)) => Some(classify_clawdbot_exit_1),
        (_, ExitResult::Code(78)) => Some(classify_exit_78),
        _ => None,
    }
}

/// The next line of the gateway's output, `None` once both pipes ended (then `pipes` is `None`);
/// never while there are none. Cancel-safe, as [`Pipes::poll_line`] is.
async fn read_output(pipes: &mut Option<Pipes>) -> Option<(String, OutputStream)> {
    let Some(p) = pipes else {
        return std::future::pending().await;
    };
    let line = std::future::poll_fn(|cx| p.poll_line(cx)).await;
    if line.is_none() {
        *pipes = None;
    }
    line
}

/// Whether an exit 0 that clawherd did not ask for is OpenClaw's restart hand-back: asks
/// `restart-handoff consume` (a CLI run, 5.4 s here); a failure to ask is logged and counts as
/// "not asked for".
async fn handed_back(q: HandoffQuery, pid: i32) -> bool {
    info!(profile = %q.name, pid, "exit 0 under on-failure: asking OpenClaw whether it was a restart hand-back");
    match super::handoff::consume(&q.argv, &q.plan).await {
        Ok(super::handoff::Verdict::Accepted { reason }) => {
            info!(
                profile = %q.name,
                pid,
                reason = reason.as_deref().unwrap_or("-"),
                "the gateway handed a restart back (restart-handoff accepted)"
            );
            let message = format!(
                "the gateway asked to be restarted ({})",
                reason.as_deref().unwrap_or("no reason given")
            );
            q.events
                .emit(FleetEvent::new(What::RestartHandoff { reason }, Some(&q.name), Some(pid), message));
            true
        }
        Ok(super::handoff::Verdict::NotAsked { status, reason }) => {
            info!(
                profile = %q.name,
                pid,
                status,
                reason = reason.as_deref().unwrap_or("-"),
                "exit 0 was not a restart hand-back"
            );
            false
        }
        Err(e) => {
            warn!(profile = %q.name, pid, error = %e, "cannot ask OpenClaw whether exit 0 was a restart hand-back; treating it as a stop");
            false
        }
    }
}

async fn wait_child(run: &mut Option<Run>) -> std::io::Result<std::process::ExitStatus> {
    match run {
        Some(r) => r.child.wait().await,
        None => std::future::pending().await,
    }
}

/// The output of the in-flight future `f` (a judgement, a cleanup), or never when there is none.
async fn poll_in_flight<F: std::future::Future + Unpin>(f: &mut Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn poll_probe(probe: &mut Option<ProbeFuture>) -> ProbeOutcome {
    match probe {
        Some(p) => p.await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: clawdbot's exit 1 parks on the lines it printed for an unknown key, a JSON5
    /// error and a missing gateway.mode (captured from clawdbot 2026.1.24), and not otherwise.
    #[test]
    fn clawdbot_exit_1_is_a_config_error_only_by_its_output() {
        let lines = |v: &[&'static str]| v.to_vec();
        let unknown = [
            "Invalid config at /c.json5:\\n- browser: Unrecognized key: \"controlPort\"",
            "│  Config invalid; doctor will run with best-effort config.  │",
            "Config invalid",
            "File: /c.json5",
            "Problem:",
            "  - browser: Unrecognized key: \"controlPort\"",
            "",
            "Run: clawdbot doctor --fix",
        ];
        assert_eq!(
            classify_clawdbot_exit_1(&lines(&unknown)),
            Some("/c.json5: - browser: Unrecognized key: \"controlPort\"".into())
        );
        let syntax = [
            "Failed to read config at /c.json5 SyntaxError: JSON5: invalid character ',' at 1:58",
            "    at syntaxError (/x/json5/lib/parse.js:1110:17)",
            "Config invalid",
            "File: /c.json5",
            "Problem:",
            "  - <root>: JSON5 parse failed: SyntaxError: JSON5: invalid character ',' at 1:58",
            "Run: clawdbot doctor --fix",
        ];
        let got = classify_clawdbot_exit_1(&lines(&syntax)).expect("a config error");
        assert!(got.contains("JSON5 parse failed") && got.contains("1:58"), "{got}");
        let mode =
            ["2026-12-01T15:41:01.377Z Gateway start blocked: set gateway.mode=local (current: unset) or pass --allow-unconfigured."];
        let got = classify_clawdbot_exit_1(&lines(&mode)).expect("a config error");
        assert!(got.contains("set gateway.mode=local"), "{got}");
        let busy = ["Gateway failed to start: gateway already running (pid 7); lock timeout after 5000ms"];
        assert_eq!(classify_clawdbot_exit_1(&lines(&busy)), None);
    }

    #[test]
    fn exit_78_lock_case_is_transient_config_error_parks() {
        let lines = |v: &[&'static str]| v.to_vec();
        assert_eq!(
            classify_exit_78(&lines(&[
                "Doctor could not enter maintenance",
                "another OpenClaw process owns gateway-lifecycle"
            ])),
            None
        );
        assert_eq!(
            classify_exit_78(&lines(&[
                "[gateway] starting...",
                "Invalid config at /x/openclaw.json: browser: Unrecognized key: \"controlPort\"",
                "bye"
            ])),
            Some("Invalid config at /x/openclaw.json: browser: Unrecognized key: \"controlPort\"".into())
        );
        assert_eq!(classify_exit_78(&lines(&[])), Some("exit 78 (EX_CONFIG) without output".into()));
    }
}
