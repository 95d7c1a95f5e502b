//! `GET /v1/status`: per instance its state, process tree figures (CPU, RSS) and the health
//! signals the gateway reports: those of its last periodic probe round when recent, else probed
//! now.

use super::{unknown_profile, views};
use crate::control::protocol::{API_VERSION, InstanceReport, OpenClawSignals, PortReport, StandbyReport, StatusResponse, TreeReport};
use crate::control::state::AppState;
use crate::instance::{InstanceStatus, InstanceView, Phase, ProbeVia};
use crate::process::usage;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::time::{Duration, Instant, SystemTime};

/// Window over which `status` measures CPU use when the previous call's readings
/// ([`usage::CpuHistory`]) cannot serve.
const CPU_WINDOW: Duration = Duration::from_millis(200);
/// Gateways `status` probes at once (those without a recent probe round, see [`recent_round`]).
/// Unbounded, a whole-fleet call just after 1,000 instances started held 2,000 connections and
/// their buffers at once, memory the daemon kept afterwards; 2 cores gain nothing from more.
const PROBES_AT_ONCE: usize = 64;
/// Timeout of the health probes `status` makes.
const STATUS_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Query of the status route.
#[derive(serde::Deserialize)]
pub(crate) struct StatusQuery {
    profile: Option<String>,
}

/// What one status call measured, per instance in the order of the views.
struct Measured {
    /// Liveness and OpenClaw's `/readyz` details.
    signals: Vec<(Option<bool>, Option<OpenClawSignals>)>,
    /// The process trees at the end of the measurement.
    trees: Vec<usage::TreeSample>,
    /// CPU percent and the span (seconds) it was measured over.
    cpu: Vec<(f64, f64)>,
}

/// Answers a [`StatusResponse`] for the whole fleet or `?profile=NAME`; 404 for an unknown
/// profile, 503 while shutting down.
pub(crate) async fn status(State(state): State<AppState>, Query(q): Query<StatusQuery>) -> Response {
    let mut all = match views(&state.requests).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Some(p) = &q.profile {
        let names: Vec<String> = all.iter().map(|v| v.profile.name.clone()).collect();
        all.retain(|v| &v.profile.name == p);
        if all.is_empty() {
            return unknown_profile(p, &names);
        }
    }
    let statuses: Vec<InstanceStatus> = all.iter().map(|v| v.handle.status()).collect();
    // Only a whole-fleet call replaces the CPU readings (a one-profile call would forget the rest).
    let m = measure(&state, &all, &statuses, q.profile.is_none()).await;
    let now = SystemTime::now();
    let instances = all
        .iter()
        .zip(&statuses)
        .zip(m.trees.into_iter().zip(m.cpu))
        .zip(m.signals)
        .map(|(((v, s), (tree, cpu)), signals)| InstanceReport {
            rollout: state.rollout.get(&v.profile.name),
            standby: standby_report(v, &state.failover),
            ..report(v, s, tree, cpu, signals, now)
        })
        .collect();
    let rss_bytes = procfs::process::Process::myself()
        .and_then(|p| p.stat())
        .map(|s| s.rss * procfs::page_size())
        .unwrap_or(0);
    // The readings and the answer of a whole-fleet call are large and short-lived.
    super::trim_once_sent(
        Json(StatusResponse {
            api: API_VERSION,
            fleet: state.fleet_path.display().to_string(),
            pid: std::process::id(),
            rss_bytes,
            instances,
            warnings: state.warnings.get(),
        })
        .into_response(),
    )
}

/// Probes every running gateway at once and measures each tree's CPU use: since the previous
/// call when it is recent enough for every process, otherwise over [`CPU_WINDOW`], which the
/// probes fill in part. With `record`, the readings replace the previous call's.
async fn measure(state: &AppState, all: &[InstanceView], statuses: &[InstanceStatus], record: bool) -> Measured {
    let which: Vec<(Option<i32>, &str)> = all.iter().zip(statuses).map(|(v, s)| (s.pid, v.marker.as_str())).collect();
    let sample_all = || usage::sample_many(&which);
    let started = Instant::now();
    let cached = if record {
        let history = state.cpu.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        history.recent_answer(&which, started)
    } else {
        None
    };
    let before = match &cached {
        Some((trees, _)) => trees.clone(),
        None => sample_all(),
    };
    // Owned inputs, so that the probe futures borrow nothing (a `Send` stream of them must).
    let inputs: Vec<_> = all
        .iter()
        .zip(statuses)
        .map(|(v, s)| {
            let recent = recent_round(v, s, started).map(|r| (r.live, r.ready_body.clone()));
            let clawdbot = v.plan.gateway.as_ref().is_some_and(|g| g.flavor == crate::fleet::Flavor::Clawdbot);
            // A clawdbot gateway is asked its health only while its actor does (a refused
            // connect would leave two warnings in its log per call).
            let clawdbot = clawdbot.then(|| {
                (recent.is_none() && s.probe_via == Some(ProbeVia::Health))
                    .then(|| crate::instance::clawdbot::credentials(&v.plan).ok())
                    .flatten()
            });
            (recent, v.plan.ready_port(), s.pid.is_some(), clawdbot)
        })
        .collect();
    let probes = futures_util::stream::iter(inputs.into_iter().map(|(recent, port, running, clawdbot)| async move {
        match recent {
            Some((live, body)) => (Some(live), body.filter(|_| clawdbot.is_none()).and_then(|b| signals_of(&b))),
            None => probe_signals(port, running, clawdbot).await,
        }
    }))
    .buffered(PROBES_AT_ONCE)
    .collect::<Vec<_>>();
    let known: Option<Vec<(f64, f64)>> = {
        // Held for a few arithmetic steps, never across an await.
        let history = state.cpu.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        before.iter().map(|b| history.since_last(b, started)).collect()
    };
    if let Some((trees, cpu)) = cached {
        return Measured {
            signals: probes.await,
            trees,
            cpu,
        };
    }
    let (signals, trees, sampled, cpu) = match known {
        Some(cpu) => (probes.await, before, started, cpu),
        None => {
            let (signals, ()) = tokio::join!(probes, tokio::time::sleep(CPU_WINDOW));
            let sampled = Instant::now();
            let after = sample_all();
            let elapsed = sampled - started;
            let cpu = before
                .iter()
                .zip(&after)
                .map(|(b, a)| (usage::cpu_percent(b, a, elapsed), elapsed.as_secs_f64()))
                .collect();
            (signals, after, sampled, cpu)
        }
    };
    if record {
        let mut history = state.cpu.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        history.record(&trees, sampled);
        history.keep_answer(&which, &trees, &cpu, sampled);
    }
    Measured { signals, trees, cpu }
}

/// One instance's row of the answer.
fn report(
    v: &InstanceView,
    s: &InstanceStatus,
    tree: usage::TreeSample,
    (cpu_percent, cpu_span_s): (f64, f64),
    (live, openclaw): (Option<bool>, Option<OpenClawSignals>),
    now: SystemTime,
) -> InstanceReport {
    InstanceReport {
        profile: v.profile.name.clone(),
        role: v.profile.role.as_str().into(),
        flavor: v.profile.flavor.as_str().into(),
        state: s.state,
        reason: s.reason.as_deref().map(crate::observe::redact::redact_text),
        pid: s.pid,
        uptime_s: s.started_at.and_then(|t| now.duration_since(t).ok()).map(|d| d.as_secs_f64()),
        restarts: s.restarts,
        last_exit: s.last_exit.map(|e| e.to_string()),
        last_exit_at: s.last_exit_at.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        last_exit_kind: s.last_exit_kind,
        base_port: v.plan.port(),
        ready: s.state == Phase::Ready,
        live,
        tree: TreeReport {
            processes: tree.processes,
            rss_bytes: tree.rss_bytes,
            cpu_percent,
            cpu_span_s,
        },
        openclaw,
        version: s.version.clone(),
        rollout: None,
        probe: s.probe_via.as_ref().map(ToString::to_string),
        standby: None,
        ports: v
            .plan
            .listeners
            .iter()
            .filter_map(|l| {
                Some(PortReport {
                    name: l.name.clone(),
                    lo: u16::try_from(l.range.lo).ok()?,
                    hi: u16::try_from(l.range.hi).ok()?,
                    connects: l.connects,
                })
            })
            .collect(),
    }
}

/// A standby's pair: whom it covers (from its profile) and, from its failover controller, the
/// clock and whether it has taken over; `None` for a profile that is no standby.
fn standby_report(v: &InstanceView, board: &crate::failover::Board) -> Option<StandbyReport> {
    use crate::failover::controller::PairState;
    let sb = v.profile.standby.as_ref()?;
    let state = board.get(&v.profile.name);
    let failover_in_s = match state {
        Some(PairState::Suspect { since, limit }) => Some(
            crate::process::later(since, limit)
                .saturating_duration_since(tokio::time::Instant::now())
                .as_secs_f64(),
        ),
        _ => None,
    };
    Some(StandbyReport {
        covers: sb.standby_for.clone(),
        mode: crate::failover::mode_name(sb.mode).into(),
        failover_in_s,
        failed_over: matches!(state, Some(PairState::FailedOver { .. } | PairState::Recovering { .. })),
    })
}

/// The instance's last periodic probe round when it is recent enough to stand for now: at most
/// 1½ probe periods plus a probe timeout old (rounds are [`probe::until_next_round`] apart: one
/// period once steady, up to 1½ for the first), and of the gateway that runs now. A status call
/// then reports what that round found instead of probing every gateway again: a whole-fleet call
/// on 1,000 instances would otherwise make 2,000 HTTP requests and take hundreds of
/// milliseconds. Before a gateway's first periodic round (just after ready) it is probed.
///
/// [`probe::until_next_round`]: crate::instance::probe::until_next_round
fn recent_round<'a>(v: &InstanceView, s: &'a InstanceStatus, now: Instant) -> Option<&'a crate::instance::ProbeRound> {
    let health = &v.profile.health;
    let fresh = health.period.saturating_mul(3) / 2 + health.timeout;
    s.last_round
        .as_ref()
        .filter(|r| s.pid.is_some() && now.saturating_duration_since(r.at.into_std()) <= fresh)
}

/// OpenClaw's `/readyz` details from its JSON body; `None` when the body is not JSON.
fn signals_of(body: &[u8]) -> Option<OpenClawSignals> {
    let v = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let list = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(|a| a.as_array())
            .map(|a| a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect())
            .unwrap_or_default()
    };
    Some(OpenClawSignals {
        failing: list("failing"),
        suppressed: list("suppressed"),
        event_loop_degraded: v.pointer("/eventLoop/degraded").and_then(|d| d.as_bool()),
    })
}

/// Liveness (`/healthz` 200) and OpenClaw's own `/readyz` details, for a running gateway. For a
/// clawdbot gateway (`clawdbot` is `Some`; no such routes, no details) liveness is its `health`
/// call answered, with the credentials given, else its quiet POST-only route.
async fn probe_signals(
    port: Option<u16>,
    running: bool,
    clawdbot: Option<Option<crate::instance::clawdbot::Credentials>>,
) -> (Option<bool>, Option<OpenClawSignals>) {
    use crate::instance::{clawdbot::Health, probe};
    let Some(port) = port.filter(|_| running) else {
        return (None, None);
    };
    match clawdbot {
        Some(Some(credentials)) => {
            let answer = crate::instance::clawdbot::health(port, &credentials, STATUS_PROBE_TIMEOUT).await;
            let live = !matches!(answer, Health::NoAnswer(_));
            return (Some(live), None);
        }
        Some(None) => return (Some(probe::clawdbot_http_alive(port, STATUS_PROBE_TIMEOUT).await), None),
        None => {}
    }
    let (live, ready) = tokio::join!(
        probe::get(port, probe::LIVE_PATH, STATUS_PROBE_TIMEOUT),
        probe::get(port, probe::READY_PATH, STATUS_PROBE_TIMEOUT)
    );
    let live = Some(matches!(live, Ok((200, _))));
    (live, ready.ok().and_then(|(_, body)| signals_of(&body)))
}
