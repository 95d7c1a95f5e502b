//! `GET /v1/events`: the last `n` events as JSON lines, then new ones while `follow`, until the
//! server shuts down.

use super::Closing;
use crate::control::state::AppState;
use crate::observe::events::{FleetEvent, What};
use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::broadcast::error::RecvError;

/// Query of the events route.
#[derive(serde::Deserialize)]
pub(crate) struct EventsQuery {
    n: Option<usize>,
    #[serde(default)]
    follow: bool,
}

/// Streams the events as JSON lines; a follower's stream ends when the server shuts down.
pub(crate) async fn events(
    State(state): State<AppState>,
    Extension(closing): Extension<Closing>,
    Query(q): Query<EventsQuery>,
) -> Response {
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
    let tail = follow(rx);
    axum::body::Body::from_stream(head.chain(tail.take_until(closing.closed()))).into_response()
}

/// The followed part: each new event as one JSON line. A follower that fell so far behind that
/// the channel dropped events for it gets one `events_skipped` line with the count instead of a
/// silent gap; the stream ends when the sender is gone.
fn follow(
    rx: tokio::sync::broadcast::Receiver<FleetEvent>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        let e = match rx.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(count)) => FleetEvent::new(
                What::EventsSkipped { count },
                None,
                None,
                format!("{count} events skipped: this follower fell behind (they are in the events file)"),
            ),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(bytes::Bytes::from(serde_json::to_string(&e).unwrap_or_default() + "\n")), rx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A follower that did not read while 300 events passed a 256-event channel is told that 44
    /// were skipped, then gets the 256 that remain, in order.
    #[tokio::test]
    async fn a_lagging_follower_is_told_how_many_events_it_missed() {
        let (tx, rx) = tokio::sync::broadcast::channel(256);
        for i in 0..300 {
            let _ = tx.send(FleetEvent::new(What::Unready, Some("main"), Some(i), "unready"));
        }
        drop(tx);
        let lines: Vec<FleetEvent> = follow(rx)
            .map(|b| serde_json::from_slice(&b.unwrap_or_default()).unwrap_or_else(|e| panic!("a JSON event: {e}")))
            .collect()
            .await;
        assert_eq!(lines.len(), 257);
        assert_eq!(lines.first().map(|e| &e.what), Some(&What::EventsSkipped { count: 44 }));
        assert_eq!(lines.get(1).and_then(|e| e.pid), Some(44));
        assert_eq!(lines.last().and_then(|e| e.pid), Some(299));
    }
}
