//! `POST /v1/reload`: re-read, re-prove and apply the fleet file.

use super::{error, shutting_down};
use crate::control::Request;
use crate::control::server::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

/// Answers what changed, or 422 with the located errors (the running fleet is left as it is).
pub async fn reload(State(state): State<AppState>) -> Response {
    let (tx, rx) = oneshot::channel();
    if state.requests.send(Request::Reload(Some(tx))).await.is_err() {
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
