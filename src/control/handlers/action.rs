//! `POST /v1/instances/{profile}/{start,stop,restart}`: apply a control to an instance and wait
//! for its goal (`?wait=ready|stopped|none&timeout_s=N`).

use super::{error, find, shutting_down};
use crate::control::Request;
use crate::control::protocol::{ActionResponse, WaitFor};
use crate::control::state::AppState;
use crate::instance::{Control, Goal, InstanceStatus, InstanceView, WaitError};
use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tokio::sync::oneshot;

/// Longest wait an action accepts.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Query of the action route.
#[derive(serde::Deserialize)]
pub(crate) struct ActionQuery {
    wait: Option<WaitFor>,
    timeout_s: Option<f64>,
}

/// The instance of `profile`; when a reload is replacing it, the new one once the reload is done.
async fn current(state: &AppState, profile: &str) -> Result<InstanceView, Response> {
    let view = find(&state.requests, profile).await?;
    if !view.retiring {
        return Ok(view);
    }
    let (tx, rx) = oneshot::channel();
    if state.requests.send(Request::ReloadDone(tx)).await.is_err() || rx.await.is_err() {
        return Err(shutting_down());
    }
    find(&state.requests, profile).await
}

/// Applies the action and answers an [`ActionResponse`]: 200 when the goal was reached, 504
/// when the wait timed out, 409 when the instance failed, 404 for an unknown profile or action,
/// 400 for a bad `timeout_s`.
pub(crate) async fn action(
    State(state): State<AppState>,
    UrlPath((profile, action)): UrlPath<(String, String)>,
    Query(q): Query<ActionQuery>,
) -> Response {
    let view = match current(&state, &profile).await {
        Ok(v) => v,
        Err(r) => return r,
    };
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
        let body = ActionResponse {
            profile: profile.clone(),
            action: action.clone(),
            state: s.state,
            pid: s.pid,
            waited_s,
            problem,
        };
        (code, Json(body)).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
