//! How `clawherd logs` prints captured lines: one time stamp per line (clawherd's, dropping the
//! gateway's own ISO stamp that OpenClaw puts at the start of its lines), and marker lines where
//! one run of a gateway ends and the next begins (its `exited` and `spawned` events), between two
//! of its lines when reading back and as the events come while following (`-F`).

use crate::observe::events::{FleetEvent, What};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Whether `word` is an ISO 8601 date-time as OpenClaw stamps its lines
/// (`2026-12-01T17:13:38.668+00:00`, `...Z`): `YYYY-MM-DDTHH:MM:SS` then anything.
pub fn stamp_shaped(word: &str) -> bool {
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
pub fn one_stamp(line: &str) -> String {
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

/// The marker line of a `spawned` or `exited` event (`None` for other events), without the
/// `[profile] ` prefix: `---- main: new run, pid 8, spawned 2026-12-01T10:00:05.000Z ----`,
/// `---- main: run ended, pid 7, exited with code 1 after 5s, 2026-12-01T10:00:04.000Z ----`.
fn marker(e: &FleetEvent, profile: &str, at: SystemTime) -> Option<String> {
    let pid = e.pid.map_or(String::new(), |p| format!(", pid {p}"));
    let when = humantime::format_rfc3339_millis(at);
    match &e.what {
        What::Spawned { .. } => Some(format!("---- {profile}: new run{pid}, spawned {when} ----")),
        What::Exited {
            requested,
            uptime_s,
            code,
            signal,
        } => {
            let how = match (code, signal) {
                (Some(c), _) => format!("exited with code {c}"),
                (None, Some(s)) => format!("killed by signal {s}"),
                (None, None) => "ended".to_string(),
            };
            let asked = if *requested { "stopped by clawherd, " } else { "" };
            let ran = std::time::Duration::try_from_secs_f64(uptime_s.max(0.0)).unwrap_or_default();
            let ran = humantime::format_duration(std::time::Duration::from_secs(ran.as_secs()));
            Some(format!("---- {profile}: run ended{pid}, {asked}{how} after {ran}, {when} ----"))
        }
        _ => None,
    }
}

/// An event line's profile, time and marker, when it is a spawn or exit of a profile.
fn parse_marker(line: &str) -> Option<(String, SystemTime, String)> {
    let e = serde_json::from_str::<FleetEvent>(line).ok()?;
    let profile = e.profile.clone()?;
    let at = humantime::parse_rfc3339_weak(&e.ts).ok()?;
    let text = marker(&e, &profile, at)?;
    Some((profile, at, text))
}

/// The runs of each profile (from `spawned` and `exited` events) and the time of the last line
/// printed per profile, to mark where a run ends and the next begins.
#[derive(Debug, Default)]
pub struct Runs {
    /// Per profile: (event time, marker text), oldest first.
    marks: BTreeMap<String, Vec<(SystemTime, String)>>,
    /// Per profile: the time of its last printed line or marker.
    last: BTreeMap<String, SystemTime>,
}

impl Runs {
    /// From the API's (or `events.jsonl`'s) JSON event lines; lines that are not a `spawned` or
    /// `exited` event are ignored.
    pub fn from_events<'a>(lines: impl IntoIterator<Item = &'a str>) -> Runs {
        let mut runs = Runs::default();
        for (profile, at, text) in lines.into_iter().filter_map(parse_marker) {
            runs.marks.entry(profile).or_default().push((at, text));
        }
        runs
    }

    /// The lines to print for `line` of `profile` (`None`: take it from the `[profile] `
    /// prefix): a marker for each exit and spawn since the profile's previous line, then the
    /// line with [`one_stamp`]. The first line of a profile gets no marker (its run began
    /// before what is shown).
    pub fn render(&mut self, line: &str, profile: Option<&str>) -> Vec<String> {
        let (prefix, rest) = split_prefix(line);
        let name = profile.unwrap_or_else(|| prefix.trim_start_matches('[').trim_end_matches("] "));
        let mut out = Vec::new();
        if let Some(t) = crate::observe::logs::line_time(rest) {
            if let Some(prev) = self.last.get(name) {
                for (at, text) in self.marks.get(name).into_iter().flatten() {
                    if prev < at && *at <= t {
                        out.push(format!("{prefix}{text}"));
                    }
                }
            }
            self.last.insert(name.to_string(), t);
        }
        out.push(one_stamp(line));
        out
    }

    /// While following: the marker to print now for `line`, a new event of the followed event
    /// stream, when it is a spawn or exit of one of `shown` (every profile when empty) that was
    /// not already among the events read at the start. Prefixed with `[profile] ` unless
    /// `single` (one profile is shown, its lines are not prefixed).
    pub fn follow_event(&mut self, line: &str, shown: &[String], single: bool) -> Option<String> {
        let (profile, at, text) = parse_marker(line)?;
        if !(shown.is_empty() || shown.contains(&profile)) {
            return None;
        }
        let known = self.marks.get(&profile).is_some_and(|m| m.contains(&(at, text.clone())));
        if known {
            return None;
        }
        let last = self.last.entry(profile.clone()).or_insert(at);
        *last = (*last).max(at);
        Some(if single { text } else { format!("[{profile}] {text}") })
    }
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

    #[test]
    fn following_prints_new_spawns_and_exits_of_the_shown_profiles_once() {
        let old = r#"{"ts":"2026-12-01T10:00:05.000Z","profile":"main","pid":8,"message":"m","kind":"spawned","detail":{"port":1}}"#;
        let mut runs = Runs::from_events([old]);
        assert_eq!(runs.follow_event(old, &[], false), None, "already known from the start");
        let stop = r#"{"ts":"2026-12-01T10:01:00.000Z","profile":"main","pid":8,"message":"m","kind":"exited","detail":{"requested":true,"uptime_s":55.0,"code":null,"signal":15}}"#;
        assert_eq!(
            runs.follow_event(stop, &[], false).as_deref(),
            Some("[main] ---- main: run ended, pid 8, stopped by clawherd, killed by signal 15 after 55s, 2026-12-01T10:01:00.000Z ----")
        );
        let spawn = r#"{"ts":"2026-12-01T10:01:01.000Z","profile":"main","pid":9,"message":"m","kind":"spawned","detail":{"port":1}}"#;
        assert_eq!(
            runs.follow_event(spawn, &["main".into()], true).as_deref(),
            Some("---- main: new run, pid 9, spawned 2026-12-01T10:01:01.000Z ----")
        );
        assert_eq!(runs.follow_event(spawn, &["rescue".into()], true), None, "not a shown profile");
        let ready = r#"{"ts":"2026-12-01T10:01:02.000Z","profile":"main","pid":9,"message":"m","kind":"ready","detail":{"after_s":1.0}}"#;
        assert_eq!(runs.follow_event(ready, &[], false), None, "only spawns and exits");
    }
}
