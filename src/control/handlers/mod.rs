//! One module per resource of the control API. Handlers never own instance state: they ask the
//! supervisor task for [`InstanceView`]s and talk to instances through their handles.

pub(crate) mod action;
pub(crate) mod env;
pub(crate) mod events;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod reload;
pub(crate) mod status;

use super::Request;
pub(crate) use super::reply::error;
use crate::instance::InstanceView;
use axum::http::StatusCode;
use axum::response::Response;
use tokio::sync::{mpsc, oneshot, watch};

/// Ends the streams of `logs --follow` and `events --follow` when the server shuts down, so a
/// follower gets end-of-stream instead of holding the daemon open. The server puts one into
/// every request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct Closing(pub(crate) watch::Receiver<bool>);

impl Closing {
    /// Resolves once the server is shutting down (never, if its sender is gone without saying so).
    pub(crate) async fn closed(mut self) {
        if self.0.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The 503 answer while the supervisor task is gone.
pub(crate) fn shutting_down() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "clawherd is shutting down".into(), None)
}

/// A view of every instance, from the supervisor task.
///
/// Errors: a 503 answer when the supervisor task is gone (shutting down).
pub(crate) async fn views(requests: &mpsc::Sender<Request>) -> Result<Vec<InstanceView>, Response> {
    let (tx, rx) = oneshot::channel();
    requests.send(Request::Instances(tx)).await.map_err(|_| shutting_down())?;
    rx.await.map_err(|_| shutting_down())
}

/// The view of `profile`.
///
/// Errors: 404 naming the profiles (and the likeliest meant one); 503 while shutting down.
pub(crate) async fn find(requests: &mpsc::Sender<Request>, profile: &str) -> Result<InstanceView, Response> {
    let all = views(requests).await?;
    let names: Vec<String> = all.iter().map(|v| v.profile.name.clone()).collect();
    all.into_iter()
        .find(|v| v.profile.name == profile)
        .ok_or_else(|| unknown_profile(profile, &names))
}

/// The 404 answer for a profile not in the fleet, with a did-you-mean hint.
pub(crate) fn unknown_profile(profile: &str, names: &[String]) -> Response {
    let hint = match crate::fleet::diagnostic::did_you_mean(profile, names.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? (profiles: {})", names.join(", ")),
        None => format!("profiles: {}", names.join(", ")),
    };
    error(StatusCode::NOT_FOUND, format!("no profile `{profile}` in this fleet"), Some(hint))
}

/// `response` with a body that, once dropped, says that the heap churned
/// ([`crate::process::trim::heap_churned`]). hyper drops a body once it has taken its last
/// frame (for a single-frame answer, as soon as it starts writing it, or when the connection
/// is gone), so what built a whole-fleet answer is freed by then and the trim that follows gives
/// its pages back. The answer's text itself stays in hyper's write buffer until the reader took
/// it; a slow reader keeps it resident until a later trim (or, above glibc's mmap threshold,
/// until it is freed).
pub(crate) fn trim_once_sent(response: Response) -> Response {
    response.map(|body| {
        axum::body::Body::new(OnDrop {
            body,
            then: crate::process::trim::heap_churned,
        })
    })
}

/// A body passed through unchanged that calls `then` when dropped.
struct OnDrop {
    body: axum::body::Body,
    then: fn(),
}

impl hyper::body::Body for OnDrop {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        (self.then)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DROPPED: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }

    #[tokio::test]
    async fn a_body_on_drop_passes_its_bytes_through_and_calls_once_it_is_gone() {
        let body = OnDrop {
            body: axum::body::Body::from("{\"instances\":[]}"),
            then: count,
        };
        assert_eq!(hyper::body::Body::size_hint(&body).exact(), Some(16));
        let mut body = axum::body::Body::new(body);
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            bytes.extend_from_slice(&frame.expect("a frame").into_data().expect("data"));
        }
        assert_eq!(bytes, b"{\"instances\":[]}");
        assert_eq!(DROPPED.load(Ordering::SeqCst), 0, "not before the body is dropped");
        drop(body);
        assert_eq!(DROPPED.load(Ordering::SeqCst), 1);
    }
}
