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
