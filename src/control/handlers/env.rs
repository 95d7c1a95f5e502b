//! `GET /v1/instances/{profile}/env`: the exact cwd, environment and command line of a gateway,
//! secrets redacted ([`crate::observe::redact`]) unless `?show_secrets=true`.

use super::find;
use crate::control::protocol::EnvResponse;
use crate::control::server::AppState;
use crate::observe::redact;
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
    if q.show_secrets {
        return Json(EnvResponse {
            profile,
            argv: view.plan.argv.clone(),
            cwd: view.plan.cwd.display().to_string(),
            env: view.plan.env.clone(),
            redacted: Vec::new(),
        })
        .into_response();
    }
    let mut redacted = Vec::new();
    let env: BTreeMap<String, String> = view
        .plan
        .env
        .iter()
        .map(|(k, v)| {
            let (shown, hidden) = redact::redact_var(k, v);
            if hidden {
                redacted.push(k.clone());
            }
            (k.clone(), shown)
        })
        .collect();
    let (argv, hidden_args) = redact::redact_argv(&view.plan.argv);
    redacted.extend(hidden_args);
    Json(EnvResponse {
        profile,
        argv,
        cwd: view.plan.cwd.display().to_string(),
        env,
        redacted,
    })
    .into_response()
}
