//! Error answers of the control API: every non-2xx answer has an [`ErrorResponse`] body
//! ([`error`]), axum's own plain-text rejections included ([`plain_errors`]), and none echoes a
//! secret. A leaf: the handlers and the access check both answer through it.

use super::protocol::ErrorResponse;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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
