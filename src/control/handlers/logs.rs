//! `GET /v1/logs`: captured gateway output, several profiles merged by time and prefixed, then
//! new lines while `follow`, until the server shuts down.

use super::{Closing, error, unknown_profile, views};
use crate::control::state::AppState;
use crate::observe::logs;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::time::SystemTime;
use tokio::sync::broadcast::error::RecvError;

/// Query of `GET /v1/logs`: `profile` may repeat (`?profile=a&profile=b`).
#[derive(Debug, PartialEq)]
pub(crate) struct LogsQuery {
    /// The profiles asked for; all when empty.
    pub profiles: Vec<String>,
    /// Lines from the end (default 100).
    pub n: usize,
    /// Only lines at or after this time.
    pub since: Option<SystemTime>,
    /// Keep streaming new lines.
    pub follow: bool,
    /// While following, also send the run markers (`---- main: run ended, ... ----`) in order
    /// with the lines.
    pub marks: bool,
}

/// The query from its decoded `key=value` pairs (axum's `Query` does the percent-decoding).
///
/// Errors: a value that does not parse, or an unknown key.
pub(crate) fn parse_logs_query(pairs: Vec<(String, String)>) -> Result<LogsQuery, String> {
    let mut q = LogsQuery {
        profiles: Vec::new(),
        n: 100,
        since: None,
        follow: false,
        marks: false,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "profile" => q.profiles.push(v),
            "n" => q.n = v.parse().map_err(|_| format!("n={v} is not a number"))?,
            "since" => q.since = Some(humantime::parse_rfc3339_weak(&v).map_err(|e| format!("since={v}: {e}"))?),
            "follow" => q.follow = v == "true" || v == "1",
            "marks" => q.marks = v == "true" || v == "1",
            other => return Err(format!("unknown query key `{other}`")),
        }
    }
    Ok(q)
}

/// Streams the chosen profiles' output: the last `n` lines (merged by time when several), then
/// new lines while `follow`; a follower's stream ends when the server shuts down.
pub(crate) async fn logs(
    State(state): State<AppState>,
    Extension(closing): Extension<Closing>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let q = match parse_logs_query(pairs) {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                e,
                Some("use ?profile=NAME&n=100&since=RFC3339&follow=true&marks=true".into()),
            );
        }
    };
    let all = match views(&state.requests).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let names: Vec<String> = all.iter().map(|v| v.profile.name.clone()).collect();
    let wanted: BTreeSet<String> = if q.profiles.is_empty() {
        names.iter().cloned().collect()
    } else {
        q.profiles.iter().cloned().collect()
    };
    if let Some(bad) = wanted.iter().find(|p| !names.contains(p)) {
        return unknown_profile(bad, &names);
    }
    // Subscribe before reading the files, so no line falls between the two.
    let follow_rx = q.follow.then(|| state.output.subscribe());
    let head = match head(&state, &wanted, &q) {
        Ok(h) => h,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e, None),
    };
    let head = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes::Bytes::from(head)) });
    let Some(rx) = follow_rx else {
        return axum::body::Body::from_stream(head).into_response();
    };
    let tail = follow(rx, wanted, q.marks).take_until(closing.closed());
    axum::body::Body::from_stream(head.chain(tail)).into_response()
}

/// The last lines of each of `wanted` (prefixed with `[profile] ` when several), merged by time.
///
/// Errors: which profile's log cannot be read, and why.
fn head(state: &AppState, wanted: &BTreeSet<String>, q: &LogsQuery) -> Result<String, String> {
    let prefix = wanted.len() > 1;
    let mut lines: Vec<(Option<SystemTime>, String)> = Vec::new();
    for p in wanted {
        match logs::tail(state.output.dir(), p, q.n, q.since, state.keep) {
            Ok(ls) => lines.extend(
                ls.into_iter()
                    .map(|l| (logs::line_time(&l), if prefix { format!("[{p}] {l}") } else { l })),
            ),
            Err(e) => return Err(format!("cannot read the log of {p}: {e}")),
        }
    }
    lines.sort_by_key(|(t, _)| *t);
    let skip = lines.len().saturating_sub(if prefix { q.n } else { usize::MAX });
    Ok(lines.into_iter().skip(skip).map(|(_, l)| l + "\n").collect())
}

/// New lines of `wanted` as they are captured (and run markers when `marks`), with a notice
/// when this reader fell behind.
fn follow(
    rx: tokio::sync::broadcast::Receiver<logs::Line>,
    wanted: BTreeSet<String>,
    marks: bool,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> {
    let prefix = wanted.len() > 1;
    futures_util::stream::unfold((rx, wanted), move |(mut rx, wanted)| async move {
        loop {
            match rx.recv().await {
                Ok(line) if wanted.contains(&*line.profile) && (marks || !line.marker) => {
                    let text = if prefix {
                        format!("[{}] {}\n", line.profile, line.text)
                    } else {
                        format!("{}\n", line.text)
                    };
                    return Some((Ok(bytes::Bytes::from(text)), (rx, wanted)));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    let notice = format!("[clawherd: {n} lines skipped, the reader fell behind]\n");
                    return Some((Ok(bytes::Bytes::from(notice)), (rx, wanted)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        let uri: axum::http::Uri = format!("/v1/logs?{raw}").parse().expect("a valid URI");
        Query::<Vec<(String, String)>>::try_from_uri(&uri).expect("decodes").0
    }

    #[test]
    fn logs_query_parsing() {
        let q = parse_logs_query(pairs("profile=main&profile=rescue&n=5&follow=true&since=2026-11-24T02%3A00%3A00Z")).expect("parses");
        assert_eq!(q.profiles, ["main", "rescue"]);
        assert_eq!(q.n, 5);
        assert!(q.follow && !q.marks);
        assert!(parse_logs_query(pairs("follow=true&marks=true")).expect("parses").marks);
        assert!(q.since.is_some());
        assert!(parse_logs_query(pairs("n=x")).is_err());
        assert!(parse_logs_query(pairs("bogus=1")).is_err());
        assert_eq!(parse_logs_query(pairs("profile=a%20b+c")).expect("parses").profiles, ["a b c"]);
    }

    /// Regression (hardening issue): `%a` followed by a multi-byte character made the old
    /// hand-written decoder slice inside the character and panic.
    #[test]
    fn a_broken_escape_before_a_multibyte_character_is_kept_as_text() {
        // `é` percent-encoded: the URI itself must be ASCII.
        let q = parse_logs_query(pairs("profile=%a%C3%A9")).expect("parses");
        assert_eq!(q.profiles, ["%a\u{e9}"]);
    }
}
