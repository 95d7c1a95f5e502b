//! The routes of the control API (see the table in [`super`]) and of the metrics listener.

use super::access::authorize;
use super::handlers::{action, env, events, logs, metrics, reload, status};
use super::state::AppState;
use crate::control::Request;
use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tokio::sync::mpsc;

/// The API routes of the control socket; every request passes the access check first.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/status", get(status::status))
        .route("/v1/instances/{profile}/env", get(env::env))
        .route("/v1/instances/{profile}/{action}", post(action::action))
        .route("/v1/reload", post(reload::reload))
        .route("/v1/logs", get(logs::logs))
        .route("/v1/events", get(events::events))
        .route("/metrics", get(metrics::metrics))
        .layer(middleware::map_response(super::reply::plain_errors))
        .layer(middleware::from_fn_with_state(state.access, authorize))
        .with_state(state)
}

/// The one route of the metrics listener (`metrics.listen`): `GET /metrics`.
pub(crate) fn metrics_router(requests: mpsc::Sender<Request>) -> Router {
    Router::new().route("/metrics", get(metrics::metrics)).with_state(requests)
}
