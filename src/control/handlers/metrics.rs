//! `GET /metrics`: Prometheus/OpenMetrics text, read now from each instance's status and
//! `/proc`. The one handler behind both the control socket's route and the TCP listener of
//! `metrics.listen`.

use super::views;
use crate::control::Request;
use crate::instance::{InstanceView, Phase};
use crate::observe::metrics::{InstanceSample, render};
use crate::process::usage;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

/// The content type of the answer.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Each instance's figures, read now from its status and `/proc`.
fn samples(views: &[InstanceView]) -> Vec<InstanceSample> {
    use crate::instance::policy::ExitResult;
    let tps = procfs::ticks_per_second() as f64;
    let statuses: Vec<_> = views.iter().map(|v| v.handle.status()).collect();
    let which: Vec<(Option<i32>, &str)> = views.iter().zip(&statuses).map(|(v, s)| (s.pid, v.marker.as_str())).collect();
    // One read of clawherd's own children for the whole fleet.
    let trees = usage::sample_many(&which);
    views
        .iter()
        .zip(statuses)
        .zip(trees)
        .map(|((v, s), tree)| InstanceSample {
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
        })
        .collect()
}

/// Answers the metrics text; 503 while shutting down. Its state is the supervisor's request
/// queue (from the control API's `AppState`, or given alone to the TCP listener).
pub(crate) async fn metrics(State(requests): State<mpsc::Sender<Request>>) -> Response {
    match views(&requests).await {
        Ok(v) => {
            // The views and the rendered text are large and short-lived.
            super::trim_once_sent(([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], render(&samples(&v))).into_response())
        }
        Err(r) => r,
    }
}
