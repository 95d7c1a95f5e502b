//! `GET /v1/events`: the last `n` events as JSON lines, then new ones while `follow`, until the
//! server shuts down.

use super::Closing;
use crate::control::server::AppState;
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::broadcast::error::RecvError;

/// Query of the events route.
#[derive(serde::Deserialize)]
pub struct EventsQuery {
    n: Option<usize>,
    #[serde(default)]
    follow: bool,
}

/// Streams the events as JSON lines; a follower's stream ends when the server shuts down.
pub async fn events(State(state): State<AppState>, Extension(closing): Extension<Closing>, Query(q): Query<EventsQuery>) -> Response {
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
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    axum::body::Body::from_stream(head.chain(tail.take_until(closing.closed()))).into_response()
}
