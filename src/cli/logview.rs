//! How `clawherd logs` prints captured lines: one time stamp per line (clawherd's, dropping the
//! gateway's own ISO stamp that OpenClaw puts at the start of its lines), and marker lines where
//! one run of a gateway ends and the next begins (its `exited` and `spawned` events), between two
//! of its lines when reading back, and as the daemon sends them in the followed stream, in order
//! with the lines (`-F`, `marks=true`); each marker once.

use crate::observe::events::FleetEvent;
use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

/// Whether `word` is an ISO 8601 date-time as OpenClaw stamps its lines
/// (`2026-12-01T17:13:38.668+00:00`, `...Z`): `YYYY-MM-DDTHH:MM:SS` then anything.
pub(crate) fn stamp_shaped(word: &str) -> bool {
    let b = word.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    b.len() >= shape.len()
        && b.iter().zip(shape).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            other => c == other,
        })
}

/// `line` (`[profile] STAMP text` or `STAMP text`) without a second stamp at the start of its
/// text; unchanged otherwise.
pub(crate) fn one_stamp(line: &str) -> String {
    let (prefix, rest) = split_prefix(line);
    let mut words = rest.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some(ours), Some(theirs), text) if stamp_shaped(ours) && stamp_shaped(theirs) => {
            format!("{prefix}{ours} {}", text.unwrap_or_default())
        }
        _ => line.to_string(),
    }
}

/// The `[profile] ` prefix of a merged line (empty when none) and the rest.
fn split_prefix(line: &str) -> (&str, &str) {
    match line.strip_prefix('[').and_then(|r| r.find("] ")) {
        Some(end) if !line.get(1..=end).unwrap_or_default().contains(' ') => {
            let cut = end + 3;
            (line.get(..cut).unwrap_or_default(), line.get(cut..).unwrap_or(line))
        }
        _ => ("", line),
    }
}

/// An event line's profile, time and marker, when it is a spawn or exit of a profile.
fn parse_marker(line: &str) -> Option<(String, SystemTime, String)> {
    let e = serde_json::from_str::<FleetEvent>(line).ok()?;
    let profile = e.profile.clone()?;
    let at = humantime::parse_rfc3339_weak(&e.ts).ok()?;
    let text = e.run_marker()?;
    Some((profile, at, text))
}

/// Markers remembered per profile to print each once, whether it came from the events or
/// from the daemon in the followed stream.
const PRINTED_KEPT: usize = 8;

/// The runs of each profile (from `spawned` and `exited` events) and the time of the last line
/// printed per profile, to mark where a run ends and the next begins.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    /// Per profile: (event time, marker text), oldest first.
    marks: BTreeMap<String, Vec<(SystemTime, String)>>,
    /// Per profile: the time of its last printed line or marker.
    last: BTreeMap<String, SystemTime>,
    /// Per profile: the last [`PRINTED_KEPT`] markers printed.
    printed: BTreeMap<String, VecDeque<String>>,
}

impl Runs {
    /// From the API's (or `events.jsonl`'s) JSON event lines; lines that are not a `spawned` or
    /// `exited` event are ignored.
    pub(crate) fn from_events<'a>(lines: impl IntoIterator<Item = &'a str>) -> Runs {
        let mut runs = Runs::default();
        for (profile, at, text) in lines.into_iter().filter_map(parse_marker) {
            runs.marks.entry(profile).or_default().push((at, text));
        }
        runs
    }

    /// Whether `text` of `profile` is printed now: false when it already was.
    fn first_print(&mut self, profile: &str, text: &str) -> bool {
        let printed = self.printed.entry(profile.to_string()).or_default();
        if printed.iter().any(|p| p == text) {
            return false;
        }
        if printed.len() == PRINTED_KEPT {
            printed.pop_front();
        }
        printed.push_back(text.to_string());
        true
    }

    /// The lines to print for `line` of `profile` (`None`: take it from the `[profile] `
    /// prefix): a marker for each exit and spawn since the profile's previous line, then the
    /// line with [`one_stamp`]. The first line of a profile gets no marker (its run began
    /// before what is shown). A marker line the daemon sent in a followed stream (`marks=true`)
    /// is printed as it comes, in order with the lines around it, unless it was printed
    /// already (from the events).
    pub(crate) fn render(&mut self, line: &str, profile: Option<&str>) -> Vec<String> {
        let (prefix, rest) = split_prefix(line);
        let name = profile.unwrap_or_else(|| prefix.trim_start_matches('[').trim_end_matches("] "));
        let mut out = Vec::new();
        if let Some(t) = crate::observe::logs::line_time(rest) {
            if let Some(prev) = self.last.get(name).copied() {
                let due: Vec<String> = (self.marks.get(name).into_iter().flatten())
                    .filter(|(at, _)| prev < *at && *at <= t)
                    .map(|(_, text)| text.clone())
                    .collect();
                for text in due {
                    if self.first_print(name, &text) {
                        out.push(format!("{prefix}{text}"));
                    }
                }
            }
            self.last.insert(name.to_string(), t);
        } else if let Some(at) = marker_time(rest) {
            if !self.first_print(name, rest) {
                return out;
            }
            let last = self.last.entry(name.to_string()).or_insert(at);
            *last = (*last).max(at);
            out.push(line.to_string());
            return out;
        }
        out.push(one_stamp(line));
        out
    }
}

/// The time at the end of a marker line the daemon sent (`---- ... , <RFC 3339> ----`); `None`
/// for any other line.
fn marker_time(text: &str) -> Option<SystemTime> {
    let inner = text.strip_prefix("---- ")?.strip_suffix(" ----")?;
    let (_, when) = inner.rsplit_once(", ")?;
    humantime::parse_rfc3339_weak(when.rsplit(' ').next()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_gateways_own_stamp() {
        assert_eq!(
            one_stamp("2026-12-01T17:13:38.668Z 2026-12-01T17:13:38.668+00:00 [gateway] loading"),
            "2026-12-01T17:13:38.668Z [gateway] loading"
        );
        assert_eq!(
            one_stamp("[main] 2026-12-01T17:13:38.668Z 2026-12-01T17:13:38+00:00 x"),
            "[main] 2026-12-01T17:13:38.668Z x"
        );
        let plain = "2026-12-01T17:13:15.082Z [sqlite/transaction] slow";
        assert_eq!(one_stamp(plain), plain);
        assert_eq!(one_stamp("no stamp at all"), "no stamp at all");
        assert!(!stamp_shaped("2026-12-01"));
    }

    #[test]
    fn marks_a_new_run_between_two_lines() {
        let events = [
            r#"{"ts":"2026-12-01T10:00:00.000Z","profile":"main","pid":7,"message":"m","kind":"spawned","detail":{"port":1}}"#,
            r#"{"ts":"2026-12-01T10:00:05.000Z","profile":"main","pid":8,"message":"m","kind":"spawned","detail":{"port":1}}"#,
            r#"{"ts":"2026-12-01T10:00:06.000Z","profile":"rescue","pid":9,"message":"m","kind":"spawned","detail":{"port":2}}"#,
        ];
        let mut runs = Runs::from_events(events);
        assert_eq!(runs.render("[main] 2026-12-01T10:00:01.000Z a", None).len(), 1);
        assert_eq!(runs.render("[rescue] 2026-12-01T10:00:02.000Z b", None).len(), 1);
        assert_eq!(
            runs.render("[main] 2026-12-01T10:00:07.000Z c", None),
            [
                "[main] ---- main: new run, pid 8, spawned 2026-12-01T10:00:05.000Z ----",
                "[main] 2026-12-01T10:00:07.000Z c"
            ]
        );
        assert_eq!(runs.render("2026-12-01T10:00:08.000Z d", Some("main")).len(), 1);
    }

    #[test]
    fn marks_where_a_run_ended_and_why() {
        let events = [
            r#"{"ts":"2026-12-01T10:00:04.000Z","profile":"main","pid":7,"message":"m","kind":"exited","detail":{"requested":false,"uptime_s":65.4,"code":1,"signal":null}}"#,
            r#"{"ts":"2026-12-01T10:00:05.000Z","profile":"main","pid":8,"message":"m","kind":"spawned","detail":{"port":1}}"#,
        ];
        let mut runs = Runs::from_events(events);
        runs.render("2026-12-01T10:00:01.000Z a", Some("main"));
        assert_eq!(
            runs.render("2026-12-01T10:00:06.000Z b", Some("main")),
            [
                "---- main: run ended, pid 7, exited with code 1 after 1m 5s, 2026-12-01T10:00:04.000Z ----",
                "---- main: new run, pid 8, spawned 2026-12-01T10:00:05.000Z ----",
                "2026-12-01T10:00:06.000Z b"
            ]
        );
    }

    /// Issue 15: while following, the daemon sends the markers in the log stream itself, in
    /// order with the lines; each is printed once, also when the events told it already.
    #[test]
    fn markers_in_the_followed_stream_are_printed_in_order_once() {
        let old = r#"{"ts":"2026-12-01T10:00:05.000Z","profile":"main","pid":8,"message":"m","kind":"spawned","detail":{"port":1}}"#;
        let mut runs = Runs::from_events([old]);
        let spawned8 = "---- main: new run, pid 8, spawned 2026-12-01T10:00:05.000Z ----";
        assert_eq!(runs.render("2026-12-01T10:00:04.000Z a", Some("main")).len(), 1);
        assert_eq!(
            runs.render("2026-12-01T10:00:06.000Z b", Some("main")),
            [spawned8, "2026-12-01T10:00:06.000Z b"]
        );
        assert!(runs.render(spawned8, Some("main")).is_empty(), "already printed from the events");
        let stop = "[main] ---- main: run ended, pid 8, stopped by clawherd, killed by signal 15 after 55s, 2026-12-01T10:01:00.000Z ----";
        assert_eq!(runs.render(stop, None), [stop]);
        assert!(runs.render(stop, None).is_empty(), "once");
        let spawn = "---- main: new run, pid 9, spawned 2026-12-01T10:01:01.000Z ----";
        assert_eq!(runs.render(spawn, Some("main")), [spawn]);
        assert_eq!(
            runs.render("2026-12-01T10:01:02.000Z c", Some("main")),
            ["2026-12-01T10:01:02.000Z c"]
        );
        assert_eq!(marker_time("---- not, a marker"), None);
        let plain = "---- a gateway line of dashes ----";
        assert_eq!(runs.render(plain, Some("main")), [plain], "no time at its end: printed as a line");
    }
}
