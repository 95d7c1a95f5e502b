//! Failover hooks: a command run with the event in its environment, and an HTTP POST of the
//! event's JSON; a failure becomes a `hook_failed` event.

use crate::fleet::Hooks;
use crate::observe::events::{EventSink, FleetEvent, What};
use tracing::{info, warn};

/// Starts the hooks for `event` (a command with the event in its environment, an HTTP POST);
/// failures become `hook_failed` events. Owned by the caller's `JoinSet` (the failover task's,
/// or the supervisor's for `rolled_back`); returns what aborts each (none to two of them).
pub(crate) fn hooks_for(
    tasks: &mut tokio::task::JoinSet<()>,
    hooks: &Hooks,
    events: &EventSink,
    event: &FleetEvent,
) -> Vec<tokio::task::AbortHandle> {
    let mut started = Vec::new();
    let body = serde_json::to_string(event).unwrap_or_default();
    // Validation keeps an empty command out (`None`), so `split_first` skips nothing real.
    if let Some((program, args)) = hooks.command.as_deref().and_then(<[String]>::split_first) {
        let (program, args) = (program.clone(), args.to_vec());
        let (events, event, body, timeout) = (events.clone(), event.clone(), body.clone(), hooks.timeout);
        let inherit = hooks.env_inherit.clone();
        started.push(tasks.spawn(async move {
            let (standby_for, reason) = match &event.what {
                What::Failover { standby_for, reason, .. } => (standby_for.as_str(), reason.as_str()),
                What::Failback { standby_for, .. } => (standby_for.as_str(), ""),
                _ => ("", ""),
            };
            let mut c = tokio::process::Command::new(&program);
            // The fleet's `env_inherit`: a hook sees what a gateway sees of clawherd's environment.
            let parent_env = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| inherit.passes(k));
            c.env_clear()
                .envs(parent_env)
                .args(&args)
                .env("CLAWHERD_EVENT", event.kind())
                .env("CLAWHERD_EVENT_JSON", &body)
                .env("CLAWHERD_STANDBY", event.profile.clone().unwrap_or_default())
                .env("CLAWHERD_STANDBY_FOR", standby_for)
                .env("CLAWHERD_REASON", reason);
            // Registered with the reaper, so the orphan reaper never takes its exit status.
            let result = match crate::process::tool::run(&mut c, timeout).await {
                Ok((s, out)) => {
                    let out = String::from_utf8_lossy(&out);
                    if !out.trim().is_empty() {
                        info!(hook = %program, event = %event.kind(), output = %out.trim_end(), "hook command output");
                    }
                    if s.success() {
                        Ok(())
                    } else {
                        Err(format!("hook command {program} ended with {s}"))
                    }
                }
                Err(e) => Err(format!("hook command: {e}")),
            };
            report_hook(&events, &event, "command", result);
        }));
    }
    if let Some(url) = hooks.url.clone() {
        let (events, event, timeout) = (events.clone(), event.clone(), hooks.timeout);
        started.push(tasks.spawn(async move {
            let result = tokio::time::timeout(timeout, post(&url, body)).await.unwrap_or_else(|_| {
                Err(format!(
                    "POST {} took longer than {timeout:?}",
                    crate::observe::redact::redact_value(&url).0
                ))
            });
            report_hook(&events, &event, "url", result);
        }));
    }
    started
}

fn report_hook(events: &EventSink, event: &FleetEvent, what: &str, result: Result<(), String>) {
    match result {
        Ok(()) => info!(event = %event.kind(), hook = what, "hook ran"),
        Err(e) => {
            warn!(event = %event.kind(), hook = what, error = %e, "hook failed");
            let failed = What::HookFailed {
                event: event.kind().into(),
                hook: what.into(),
            };
            events.emit(FleetEvent::new(failed, event.profile.as_deref(), None, e));
        }
    }
}

/// POSTs `body` as JSON to an `http://host[:port]/path` URL; a 2xx answer is success.
async fn post(url: &str, body: String) -> Result<(), String> {
    use crate::process::http::{self, Target};
    // The URL may carry a password (`http://user:pass@host/`): errors show it masked.
    let shown = crate::observe::redact::redact_value(url).0;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{shown}: only http:// is supported"))?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let req = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| format!("POST {shown}: {e}"))?;
    let res = http::send(&Target::Tcp(addr), req)
        .await
        .map_err(|e| format!("POST {shown}: {e}"))?;
    if !(200..300).contains(&res.status()) {
        let status = hyper::StatusCode::from_u16(res.status()).map_or_else(|_| res.status().to_string(), |s| s.to_string());
        return Err(format!("POST {shown}: HTTP {status}"));
    }
    // The answer's body means nothing to us; read (a bounded part of) it so the receiver
    // finishes writing before the connection closes.
    let _ = res.bytes(HOOK_BODY_BYTES).await;
    Ok(())
}

/// The most of a hook's answer that is read (and thrown away).
const HOOK_BODY_BYTES: usize = 64 * 1024;
