//! `GET /v1/instances/{profile}/env`: the exact cwd, environment and command line of a gateway,
//! secrets redacted ([`crate::observe::redact`]) unless `?show_secrets=true`.

use super::find;
use crate::control::protocol::EnvResponse;
use crate::control::state::AppState;
use crate::observe::redact;
use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

/// Query of the env route.
#[derive(serde::Deserialize)]
pub(crate) struct EnvQuery {
    #[serde(default)]
    show_secrets: bool,
}

/// Answers an [`EnvResponse`]; 404 for an unknown profile.
pub(crate) async fn env(State(state): State<AppState>, UrlPath(profile): UrlPath<String>, Query(q): Query<EnvQuery>) -> Response {
    let view = match find(&state.requests, &profile).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    Json(describe(profile, &view.plan, q.show_secrets)).into_response()
}

/// How `plan` runs profile `profile`: argv, cwd and the whole environment, secret values
/// redacted ([`redact::redact_var`], [`redact::redact_argv`]) unless `show_secrets`. Also what
/// `clawherd env` prints from the fleet file while the daemon is down.
pub(crate) fn describe(profile: String, plan: &crate::fleet::Plan, show_secrets: bool) -> EnvResponse {
    if show_secrets {
        return EnvResponse {
            profile,
            argv: plan.argv.clone(),
            cwd: plan.cwd.display().to_string(),
            env: plan.env.to_map(),
            redacted: Vec::new(),
        };
    }
    let mut redacted = Vec::new();
    let env: BTreeMap<String, String> = plan
        .env
        .iter()
        .map(|(k, v)| {
            let (shown, hidden) = redact::redact_var(k, v);
            if hidden {
                redacted.push(k.to_string());
            }
            (k.to_string(), shown)
        })
        .collect();
    let (argv, hidden_args) = redact::redact_argv(&plan.argv);
    redacted.extend(hidden_args);
    EnvResponse {
        profile,
        argv,
        cwd: plan.cwd.display().to_string(),
        env,
        redacted,
    }
}
