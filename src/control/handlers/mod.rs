//! One module per resource of the control API. Handlers never own instance state: they ask the
//! supervisor task for [`InstanceView`]s and talk to instances through their handles.

pub mod action;
pub mod env;
pub mod events;
pub mod logs;
pub mod metrics;
pub mod reload;
pub mod status;

use super::Request;
use super::protocol::ErrorResponse;
use crate::instance::InstanceView;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, oneshot, watch};

/// Ends the streams of `logs --follow` and `events --follow` when the server shuts down, so a
/// follower gets end-of-stream instead of holding the daemon open. The server puts one into
/// every request's extensions.
#[derive(Debug, Clone)]
pub struct Closing(pub(crate) watch::Receiver<bool>);

impl Closing {
    /// Resolves once the server is shutting down (never, if its sender is gone without saying so).
    pub async fn closed(mut self) {
        if self.0.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// An error answer: `status` with an [`ErrorResponse`] body. Message and hint may echo the
/// request or a file's content, so both pass through
/// [`redact_text`](crate::observe::redact::redact_text).
pub(crate) fn error(status: StatusCode, message: String, hint: Option<String>) -> Response {
    use crate::observe::redact::redact_text;
    let body = ErrorResponse {
        error: redact_text(&message),
        hint: hint.as_deref().map(redact_text),
    };
    (status, Json(body)).into_response()
}

/// Longest rejection body [`plain_errors`] rewrites (axum's are one line).
const MAX_REJECTION_BYTES: usize = 64 * 1024;

/// Rewrites axum's own plain-text rejections (a query or path that does not deserialize, such
/// as `?wait=<anything>`, whose message quotes the value) into an [`ErrorResponse`] with the
/// same status, the message through [`redact_text`](crate::observe::redact::redact_text):
/// every error body of the API is JSON and echoes no secret. Other responses pass unchanged.
pub(crate) async fn plain_errors(response: Response) -> Response {
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_REJECTION_BYTES).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => "the request was refused".into(),
    };
    error(parts.status, text, None)
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
