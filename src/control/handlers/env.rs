//! `GET /v1/instances/{profile}/env`: the exact cwd, environment and command line of a gateway,
//! secret-looking values redacted unless `?show_secrets=true`.

use super::find;
use crate::control::protocol::{EnvResponse, is_secret_name};
use crate::control::server::AppState;
use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

/// Query of the env route.
#[derive(serde::Deserialize)]
pub struct EnvQuery {
    #[serde(default)]
    show_secrets: bool,
}

/// Answers an [`EnvResponse`]; 404 for an unknown profile.
pub async fn env(State(state): State<AppState>, UrlPath(profile): UrlPath<String>, Query(q): Query<EnvQuery>) -> Response {
    let view = match find(&state.requests, &profile).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut redacted = Vec::new();
    let env: BTreeMap<String, String> = view
        .plan
        .env
        .iter()
        .map(|(k, v)| {
            if !q.show_secrets && is_secret_name(k) {
                redacted.push(k.clone());
                (k.clone(), "<redacted>".to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    Json(EnvResponse {
        profile,
        argv: view.plan.argv.clone(),
        cwd: view.plan.cwd.display().to_string(),
        env,
        redacted,
    })
    .into_response()
}
