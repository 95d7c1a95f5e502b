//! `POST /v1/reload`: re-read, re-prove and apply the fleet file.

use super::{error, shutting_down};
use crate::control::state::AppState;
use crate::control::{ReloadOptions, Request};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

/// Query of the reload route.
#[derive(serde::Deserialize)]
pub(crate) struct ReloadQuery {
    /// Comma-separated profile names ([`ReloadOptions::caller_rolls_back`]).
    caller_rolls_back: Option<String>,
}

/// Answers what changed, or 422 with the located errors (the running fleet is left as it is).
pub(crate) async fn reload(State(state): State<AppState>, Query(q): Query<ReloadQuery>) -> Response {
    let (tx, rx) = oneshot::channel();
    let options = ReloadOptions {
        caller_rolls_back: q
            .caller_rolls_back
            .iter()
            .flat_map(|s| s.split(','))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
    };
    if state.requests.send(Request::Reload(Some(tx), options)).await.is_err() {
        return shutting_down();
    }
    match rx.await {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(diagnostics)) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            diagnostics,
            Some(
                "fix what the errors point at (the fleet file or an OpenClaw config) and reload again; the running fleet was left as it is"
                    .into(),
            ),
        ),
        Err(_) => shutting_down(),
    }
}
