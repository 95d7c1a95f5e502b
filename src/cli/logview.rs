//! How `clawherd logs` prints captured lines: one time stamp per line (clawherd's, dropping the
//! gateway's own ISO stamp that OpenClaw puts at the start of its lines), and a marker line where
//! one run of a gateway ends and the next begins (a `spawned` event between two of its lines).

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

/// The runs of each profile (from `spawned` events) and the time of the last line printed per
/// profile, to mark where a new run begins.
#[derive(Debug, Default)]
pub struct Runs {
    /// Per profile: (spawn time, pid), oldest first.
    spawns: BTreeMap<String, Vec<(SystemTime, Option<i32>)>>,
    /// Per profile: the time of its last printed line.
    last: BTreeMap<String, SystemTime>,
}

impl Runs {
    /// From the API's (or `events.jsonl`'s) JSON event lines; lines that are not a `spawned`
    /// event are ignored.
    pub fn from_events<'a>(lines: impl IntoIterator<Item = &'a str>) -> Runs {
        let mut runs = Runs::default();
        for line in lines {
            let Ok(e) = serde_json::from_str::<crate::observe::events::FleetEvent>(line) else {
                continue;
            };
            if let (crate::observe::events::What::Spawned { .. }, Some(p), Ok(t)) =
                (&e.what, e.profile, humantime::parse_rfc3339_weak(&e.ts))
            {
                runs.spawns.entry(p).or_default().push((t, e.pid));
            }
        }
        runs
    }

    /// The lines to print for `line` of `profile` (`None`: take it from the `[profile] `
    /// prefix): a marker for each run that began since the profile's previous line, then the
    /// line with [`one_stamp`]. The first line of a profile gets no marker (its run began
    /// before what is shown).
    pub fn render(&mut self, line: &str, profile: Option<&str>) -> Vec<String> {
        let (prefix, rest) = split_prefix(line);
        let name = profile.unwrap_or_else(|| prefix.trim_start_matches('[').trim_end_matches("] "));
        let mut out = Vec::new();
        if let Some(t) = crate::observe::logs::line_time(rest) {
            if let Some(prev) = self.last.get(name) {
                for (at, pid) in self.spawns.get(name).into_iter().flatten() {
                    if prev < at && *at <= t {
                        let pid = pid.map_or(String::new(), |p| format!(", pid {p}"));
                        let when = humantime::format_rfc3339_millis(*at);
                        out.push(format!("{prefix}---- {name}: new run{pid}, spawned {when} ----"));
                    }
                }
            }
            self.last.insert(name.to_string(), t);
        }
        out.push(one_stamp(line));
        out
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
}
