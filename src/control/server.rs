//! The control socket server (axum over a tokio `UnixListener`). See the module doc of
//! [`super`] for the routes. Handlers never own instance state: they ask the supervisor task for
//! [`InstanceView`]s and talk to instances through their handles.

use super::protocol::*;
use crate::instance::{Control, Goal, InstanceStatus, Phase, WaitError};
use crate::observe::logs;
use crate::process::usage;
use crate::{control::Request, instance::InstanceView};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Path as UrlPath, Query, Request as HttpRequest, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use axum::{Json, Router};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// Window over which `status` measures CPU use when the previous call's readings
/// ([`usage::CpuHistory`]) cannot serve.
const CPU_WINDOW: Duration = Duration::from_millis(200);
/// Timeout of the health probes `status` makes.
const STATUS_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait an action accepts.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Another clawherd answers on the socket: two supervisors would fight over the gateways.
    #[error(
        "another clawherd already serves this fleet on {0}\n  hint: stop it first (`clawherd status` shows it), or use a different fleet file or control.socket"
    )]
    AlreadyRunning(PathBuf),
    /// Creating, binding or securing the socket failed.
    #[error("cannot set up the control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Who may use the socket besides root and clawherd's own user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessPolicy {
    /// clawherd's effective uid.
    pub owner_uid: u32,
    /// A group whose members are allowed (`control.group`).
    pub group_gid: Option<u32>,
}

/// A connecting process's credentials (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its pid, if the kernel gave one.
    pub pid: Option<i32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        match stream.io().peer_cred() {
            Ok(c) => Peer {
                uid: c.uid(),
                gid: c.gid(),
                pid: c.pid(),
            },
            // Unknown credentials are refused (uid u32::MAX is nobody we allow).
            Err(_) => Peer {
                uid: u32::MAX,
                gid: u32::MAX,
                pid: None,
            },
        }
    }
}

impl AccessPolicy {
    /// Whether `peer` may use the API: root, the owner, or a member (primary or supplementary,
    /// given as `groups`) of the configured group.
    pub fn allows(&self, peer: &Peer, groups: &[u32]) -> bool {
        peer.uid == 0 || peer.uid == self.owner_uid || self.group_gid.is_some_and(|g| peer.gid == g || groups.contains(&g))
    }
}

/// Supplementary groups of `pid` from `/proc/PID/status`.
fn supplementary_groups(pid: Option<i32>) -> Vec<u32> {
    let Some(pid) = pid else { return Vec::new() };
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| g.split_whitespace().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The supervisor task.
    pub requests: mpsc::Sender<Request>,
    /// The output writers (for `logs --follow`).
    pub output: logs::OutputSink,
    /// Rotated files kept (for `logs` reading).
    pub keep: u32,
    /// The fleet file.
    pub fleet_path: PathBuf,
    /// Who may connect.
    pub access: AccessPolicy,
    /// The event stream.
    pub events: crate::observe::events::EventSink,
    /// CPU readings of the previous `status` call.
    pub cpu: std::sync::Arc<std::sync::Mutex<usage::CpuHistory>>,
}

/// Creates the socket at `path`: refuses if another clawherd answers there, removes a stale
/// socket file, creates the folder, binds, and sets mode 0600 (0660 and group `gid` if given).
///
/// Errors: [`ControlError`].
pub async fn bind(path: &Path, group_gid: Option<u32>) -> Result<UnixListener, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ControlError::AlreadyRunning(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    let mode = if group_gid.is_some() { 0o660 } else { 0o600 };
    if let Some(gid) = group_gid {
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid))).map_err(|e| io(std::io::Error::from(e)))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    Ok(listener)
}

/// The API routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/instances/{profile}/env", get(env))
        .route("/v1/instances/{profile}/{action}", post(action))
        .route("/v1/reload", post(reload))
        .route("/v1/logs", get(logs_route))
        .route("/v1/events", get(events_route))
        .route("/metrics", get(metrics_route))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// Serves `listener` until `shutdown` resolves.
///
/// Errors: the accept loop failed.
pub async fn serve(
    listener: UnixListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state).into_make_service_with_connect_info::<Peer>())
        .with_graceful_shutdown(shutdown)
        .await
}

async fn authorize(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<Peer>, req: HttpRequest, next: Next) -> Response {
    if state.access.allows(&peer, &supplementary_groups(peer.pid)) {
        return next.run(req).await;
    }
    tracing::warn!(uid = peer.uid, gid = peer.gid, pid = ?peer.pid, "control connection refused");
    error(
        StatusCode::FORBIDDEN,
        format!("uid {} may not control this fleet", peer.uid),
        Some("run as clawherd's user or root, or add the user to the group named in `control.group`".into()),
    )
}

fn error(status: StatusCode, message: String, hint: Option<String>) -> Response {
    (status, Json(ErrorResponse { error: message, hint })).into_response()
}

async fn views(state: &AppState) -> Result<Vec<InstanceView>, Response> {
    let (tx, rx) = oneshot::channel();
    let gone = || error(StatusCode::SERVICE_UNAVAILABLE, "clawherd is shutting down".into(), None);
    state.requests.send(Request::Instances(tx)).await.map_err(|_| gone())?;
    rx.await.map_err(|_| gone())
}

async fn find(state: &AppState, profile: &str) -> Result<InstanceView, Response> {
    let all = views(state).await?;
    let names: Vec<String> = all.iter().map(|v| v.profile.name.clone()).collect();
    all.into_iter()
        .find(|v| v.profile.name == profile)
        .ok_or_else(|| unknown_profile(profile, &names))
}

fn unknown_profile(profile: &str, names: &[String]) -> Response {
    let hint = match crate::fleet::diagnostic::did_you_mean(profile, names.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? (profiles: {})", names.join(", ")),
        None => format!("profiles: {}", names.join(", ")),
    };
    error(StatusCode::NOT_FOUND, format!("no profile `{profile}` in this fleet"), Some(hint))
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[derive(serde::Deserialize)]
struct StatusQuery {
    profile: Option<String>,
}

async fn status(State(state): State<AppState>, Query(q): Query<StatusQuery>) -> Response {
    let mut all = match views(&state).await {
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
    let sample_all = || -> Vec<usage::TreeSample> { all.iter().zip(&statuses).map(|(v, s)| usage::sample(s.pid, &v.marker)).collect() };
    let started = std::time::Instant::now();
    let before = sample_all();
    // Probe every running gateway at once.
    let probes = futures_util::future::join_all(
        all.iter()
            .zip(&statuses)
            .map(|(v, s)| probe_signals(v.plan.ready_port(), s.pid.is_some())),
    );
    // CPU since the previous call when it is recent enough for every process; otherwise
    // measured over a window, which the probes fill in part.
    let known: Option<Vec<(f64, f64)>> = {
        let history = state.cpu.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        before.iter().map(|b| history.since_last(b, started)).collect()
    };
    let (signals, trees, sampled, cpu) = match known {
        Some(cpu) => (probes.await, before, started, cpu),
        None => {
            let (signals, ()) = tokio::join!(probes, tokio::time::sleep(CPU_WINDOW));
            let sampled = std::time::Instant::now();
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
    if q.profile.is_none() {
        // Only a whole-fleet call replaces the readings (a one-profile call would forget the rest).
        state
            .cpu
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(&trees, sampled);
    }
    let now = SystemTime::now();
    let instances = all
        .iter()
        .zip(&statuses)
        .zip(trees.into_iter().zip(cpu))
        .zip(signals)
        .map(|(((v, s), (after, (cpu_percent, cpu_span_s))), (live, openclaw))| InstanceReport {
            profile: v.profile.name.clone(),
            role: v.profile.role.as_str().into(),
            flavor: v.profile.flavor.as_str().into(),
            state: s.state,
            reason: s.reason.clone(),
            pid: s.pid,
            uptime_s: s.started_at.and_then(|t| now.duration_since(t).ok()).map(|d| d.as_secs_f64()),
            restarts: s.restarts,
            last_exit: s.last_exit.map(|e| e.to_string()),
            last_exit_at: s.last_exit_at.map(rfc3339),
            base_port: v.plan.port(),
            ready: s.state == Phase::Ready,
            live,
            tree: TreeReport {
                processes: after.processes,
                rss_bytes: after.rss_bytes,
                cpu_percent,
                cpu_span_s,
            },
            openclaw,
        })
        .collect();
    let rss_bytes = procfs::process::Process::myself()
        .and_then(|p| p.stat())
        .map(|s| s.rss * procfs::page_size())
        .unwrap_or(0);
    Json(StatusResponse {
        api: API_VERSION,
        fleet: state.fleet_path.display().to_string(),
        pid: std::process::id(),
        rss_bytes,
        instances,
    })
    .into_response()
}

/// Liveness (`/healthz` 200) and OpenClaw's own `/readyz` details, for a running gateway.
async fn probe_signals(port: Option<u16>, running: bool) -> (Option<bool>, Option<OpenClawSignals>) {
    use crate::instance::probe;
    let Some(port) = port.filter(|_| running) else {
        return (None, None);
    };
    let (live, ready) = tokio::join!(
        probe::get(port, probe::LIVE_PATH, STATUS_PROBE_TIMEOUT),
        probe::get(port, probe::READY_PATH, STATUS_PROBE_TIMEOUT)
    );
    let live = Some(matches!(live, Ok((200, _))));
    let signals = ready
        .ok()
        .and_then(|(_, body)| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .map(|v| {
            let list = |k: &str| -> Vec<String> {
                v.get(k)
                    .and_then(|a| a.as_array())
                    .map(|a| a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect())
                    .unwrap_or_default()
            };
            OpenClawSignals {
                failing: list("failing"),
                suppressed: list("suppressed"),
                event_loop_degraded: v.pointer("/eventLoop/degraded").and_then(|d| d.as_bool()),
            }
        });
    (live, signals)
}

#[derive(serde::Deserialize)]
struct ActionQuery {
    wait: Option<WaitFor>,
    timeout_s: Option<f64>,
}

async fn action(
    State(state): State<AppState>,
    UrlPath((profile, action)): UrlPath<(String, String)>,
    Query(q): Query<ActionQuery>,
) -> Response {
    let mut view = match find(&state, &profile).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if view.retiring {
        // A reload is replacing this instance: act on the new one once the reload is done.
        let (tx, rx) = oneshot::channel();
        if state.requests.send(Request::ReloadDone(tx)).await.is_err() || rx.await.is_err() {
            return error(StatusCode::SERVICE_UNAVAILABLE, "clawherd is shutting down".into(), None);
        }
        view = match find(&state, &profile).await {
            Ok(v) => v,
            Err(r) => return r,
        };
    }
    let control = match action.as_str() {
        "start" => Control::Start,
        "stop" => Control::Stop,
        "restart" => Control::Restart,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("unknown action `{other}`"),
                Some("use start, stop or restart".into()),
            );
        }
    };
    let goal = match (q.wait, control) {
        (Some(WaitFor::None), _) => None,
        (Some(WaitFor::Ready), _) | (None, Control::Start | Control::Restart) => Some(Goal::Ready),
        (Some(WaitFor::Stopped), _) | (None, Control::Stop | Control::Shutdown) => Some(Goal::Stopped),
    };
    let timeout = match wait_timeout(q.timeout_s) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, e, Some("e.g. ?timeout_s=60".into())),
    };
    let started = tokio::time::Instant::now();
    let Ok(applied) = view.handle.apply(control).await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the instance is shutting down".into(), None);
    };
    let outcome = match goal {
        None => Ok(applied),
        Some(goal) => view.handle.wait_for(goal, started + timeout).await,
    };
    let waited_s = started.elapsed().as_secs_f64();
    let respond = |code: StatusCode, s: &InstanceStatus, problem: Option<String>| {
        (
            code,
            Json(ActionResponse {
                profile: profile.clone(),
                action: action.clone(),
                state: s.state,
                pid: s.pid,
                waited_s,
                problem,
            }),
        )
            .into_response()
    };
    match outcome {
        Ok(s) => respond(StatusCode::OK, &s, None),
        Err((s, e @ WaitError::TimedOut { .. })) => respond(StatusCode::GATEWAY_TIMEOUT, &s, Some(e.to_string())),
        Err((s, e)) => respond(StatusCode::CONFLICT, &s, Some(e.to_string())),
    }
}

/// The wait of an action: `timeout_s` seconds (default 120), at most [`MAX_WAIT`].
///
/// Errors: a value that is not a finite number between 0 and 3600 (`NaN`, `inf`, negative).
fn wait_timeout(timeout_s: Option<f64>) -> Result<Duration, String> {
    let secs = timeout_s.unwrap_or(120.0);
    if !secs.is_finite() || !(0.0..=MAX_WAIT.as_secs_f64()).contains(&secs) {
        return Err(format!(
            "timeout_s must be a number of seconds from 0 to {}, not {secs}",
            MAX_WAIT.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

async fn reload(State(state): State<AppState>) -> Response {
    let (tx, rx) = oneshot::channel();
    if state.requests.send(Request::Reload(Some(tx))).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "clawherd is shutting down".into(), None);
    }
    match rx.await {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(diagnostics)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            diagnostics,
            Some("fix the fleet file and reload again; the running fleet was left as it is".into()),
        ),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "clawherd is shutting down".into(), None),
    }
}

#[derive(serde::Deserialize)]
struct EnvQuery {
    #[serde(default)]
    show_secrets: bool,
}

async fn env(State(state): State<AppState>, UrlPath(profile): UrlPath<String>, Query(q): Query<EnvQuery>) -> Response {
    let view = match find(&state, &profile).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut redacted = Vec::new();
    let env: BTreeMap<String, String> = view
        .plan
        .env
        .iter()
        .map(|(k, v)| {
            if !q.show_secrets && is_secret_name(k) {
                redacted.push(k.clone());
                (k.clone(), "<redacted>".to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    Json(EnvResponse {
        profile,
        argv: view.plan.argv.clone(),
        cwd: view.plan.cwd.display().to_string(),
        env,
        redacted,
    })
    .into_response()
}

/// Query of `GET /v1/logs` (`profile` may repeat).
#[derive(Debug, Default)]
struct LogsQuery {
    profiles: Vec<String>,
    n: usize,
    since: Option<SystemTime>,
    follow: bool,
}

fn parse_logs_query(raw: Option<&str>) -> Result<LogsQuery, String> {
    let mut q = LogsQuery {
        n: 100,
        ..LogsQuery::default()
    };
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "profile" => q.profiles.push(v),
            "n" => q.n = v.parse().map_err(|_| format!("n={v} is not a number"))?,
            "since" => q.since = Some(humantime::parse_rfc3339_weak(&v).map_err(|e| format!("since={v}: {e}"))?),
            "follow" => q.follow = v == "true" || v == "1",
            other => return Err(format!("unknown query key `{other}`")),
        }
    }
    Ok(q)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 3 <= b.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn logs_route(State(state): State<AppState>, req: HttpRequest) -> Response {
    let q = match parse_logs_query(req.uri().query()) {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                e,
                Some("use ?profile=NAME&n=100&since=RFC3339&follow=true".into()),
            );
        }
    };
    let all = match views(&state).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let names: Vec<String> = all.iter().map(|v| v.profile.name.clone()).collect();
    let wanted: BTreeSet<String> = if q.profiles.is_empty() {
        names.iter().cloned().collect()
    } else {
        q.profiles.iter().cloned().collect()
    };
    if let Some(bad) = wanted.iter().find(|p| !names.contains(p)) {
        return unknown_profile(bad, &names);
    }
    let prefix = wanted.len() > 1;
    // Subscribe before reading the files, so no line falls between the two.
    let follow_rx = q.follow.then(|| state.output.subscribe());
    let mut lines: Vec<(Option<SystemTime>, String)> = Vec::new();
    for p in &wanted {
        match logs::tail(state.output.dir(), p, q.n, q.since, state.keep) {
            Ok(ls) => lines.extend(
                ls.into_iter()
                    .map(|l| (logs::line_time(&l), if prefix { format!("[{p}] {l}") } else { l })),
            ),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read the log of {p}: {e}"), None),
        }
    }
    lines.sort_by_key(|(t, _)| *t);
    let skip = lines.len().saturating_sub(if prefix { q.n } else { usize::MAX });
    let head: String = lines.into_iter().skip(skip).map(|(_, l)| l + "\n").collect();
    let head = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes::Bytes::from(head)) });
    let Some(rx) = follow_rx else {
        return axum::body::Body::from_stream(head).into_response();
    };
    let tail = futures_util::stream::unfold((rx, wanted), move |(mut rx, wanted)| async move {
        loop {
            match rx.recv().await {
                Ok(line) if wanted.contains(&*line.profile) => {
                    let text = if prefix {
                        format!("[{}] {}\n", line.profile, line.text)
                    } else {
                        format!("{}\n", line.text)
                    };
                    return Some((Ok(bytes::Bytes::from(text)), (rx, wanted)));
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    return Some((
                        Ok(bytes::Bytes::from(format!(
                            "[clawherd: {n} lines skipped, the reader fell behind]\n"
                        ))),
                        (rx, wanted),
                    ));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    use futures_util::StreamExt;
    axum::body::Body::from_stream(head.chain(tail)).into_response()
}

/// Each instance's figures for `/metrics`, read now from its status and `/proc`.
fn metric_samples(views: &[InstanceView]) -> Vec<crate::observe::metrics::InstanceSample> {
    use crate::instance::policy::ExitResult;
    let tps = procfs::ticks_per_second() as f64;
    views
        .iter()
        .map(|v| {
            let s = v.handle.status();
            let tree = usage::sample(s.pid, &v.marker);
            crate::observe::metrics::InstanceSample {
                profile: v.profile.name.clone(),
                role: v.profile.role.as_str().into(),
                flavor: v.profile.flavor.as_str().into(),
                up: s.pid.is_some(),
                ready: s.state == Phase::Ready,
                restarts: s.restarts,
                last_exit_code: match s.last_exit {
                    None => -1,
                    Some(ExitResult::Code(c)) => i64::from(c),
                    Some(ExitResult::Signal(n)) => 128 + i64::from(n),
                    Some(ExitResult::SpawnFailed) => -2,
                },
                tree_rss_bytes: tree.rss_bytes,
                tree_cpu_seconds: tree.cpu_ticks as f64 / tps,
                standby: v.profile.standby.is_some(),
            }
        })
        .collect()
}

/// `GET /metrics`.
async fn metrics_route(State(state): State<AppState>) -> Response {
    match views(&state).await {
        Ok(v) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            crate::observe::metrics::render(&metric_samples(&v)),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// Serves only `GET /metrics` on a TCP `listener` (`metrics.listen`), until `shutdown`.
///
/// Errors: the accept loop failed.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    requests: mpsc::Sender<Request>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let requests = requests.clone();
            async move {
                let (tx, rx) = oneshot::channel();
                if requests.send(Request::Instances(tx)).await.is_err() {
                    return (StatusCode::SERVICE_UNAVAILABLE, String::new()).into_response();
                }
                match rx.await {
                    Ok(v) => (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        crate::observe::metrics::render(&metric_samples(&v)),
                    )
                        .into_response(),
                    Err(_) => (StatusCode::SERVICE_UNAVAILABLE, String::new()).into_response(),
                }
            }
        }),
    );
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    n: Option<usize>,
    #[serde(default)]
    follow: bool,
}

/// `GET /v1/events`: the last `n` events as JSON lines, then new ones while `follow`.
async fn events_route(State(state): State<AppState>, Query(q): Query<EventsQuery>) -> Response {
    use futures_util::StreamExt;
    let rx = q.follow.then(|| state.events.subscribe());
    let head: String = state
        .events
        .recent(q.n.unwrap_or(100))
        .iter()
        .filter_map(|e| serde_json::to_string(e).ok())
        .map(|l| l + "\n")
        .collect();
    let head = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes::Bytes::from(head)) });
    let Some(rx) = rx else {
        return axum::body::Body::from_stream(head).into_response();
    };
    let tail = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((Ok(bytes::Bytes::from(serde_json::to_string(&e).unwrap_or_default() + "\n")), rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    axum::body::Body::from_stream(head.chain(tail)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_policy_table() {
        let p = AccessPolicy {
            owner_uid: 1000,
            group_gid: Some(50),
        };
        let peer = |uid, gid| Peer { uid, gid, pid: None };
        assert!(p.allows(&peer(0, 0), &[]), "root");
        assert!(p.allows(&peer(1000, 1000), &[]), "owner");
        assert!(p.allows(&peer(1001, 50), &[]), "primary group");
        assert!(p.allows(&peer(1001, 1001), &[7, 50]), "supplementary group");
        assert!(!p.allows(&peer(1001, 1001), &[7]), "stranger");
        let no_group = AccessPolicy {
            owner_uid: 1000,
            group_gid: None,
        };
        assert!(!no_group.allows(&peer(1001, 50), &[50]));
        assert!(!no_group.allows(&peer(u32::MAX, u32::MAX), &[]), "unknown credentials");
    }

    /// Regression (hardening issue): `?timeout_s=NaN` made `Duration::from_secs_f64` panic,
    /// which aborts the daemon.
    #[test]
    fn wait_timeouts_outside_the_range_are_refused_not_panicked_on() {
        assert_eq!(wait_timeout(None), Ok(Duration::from_secs(120)));
        assert_eq!(wait_timeout(Some(0.5)), Ok(Duration::from_millis(500)));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 3600.5, f64::MAX] {
            assert!(wait_timeout(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn logs_query_parsing() {
        let q = parse_logs_query(Some("profile=main&profile=rescue&n=5&follow=true&since=2026-11-24T02%3A00%3A00Z")).expect("parses");
        assert_eq!(q.profiles, ["main", "rescue"]);
        assert_eq!(q.n, 5);
        assert!(q.follow);
        assert!(q.since.is_some());
        assert!(parse_logs_query(Some("n=x")).is_err());
        assert!(parse_logs_query(Some("bogus=1")).is_err());
        assert_eq!(percent_decode("a%20b+c"), "a b c");
    }
}
