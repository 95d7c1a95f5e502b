//! `logs` and `events` while the daemon is down: read what it left under its run dir
//! (`<run_dir>/logs/<profile>.log[.N]`, `<run_dir>/events.jsonl`) instead of failing, and say so
//! on stderr ("daemon not running; from files").

use crate::observe::logs;
use std::path::Path;
use std::time::SystemTime;

/// Most rotated log files read per profile (the largest `logs.keep` a fleet may set).
const MAX_KEEP: u32 = 100;

/// What is printed on stderr before output read from files.
pub(crate) const NOTE: &str = "clawherd: daemon not running; from files";

/// The last `n` lines of each of `profiles` (every profile with a log file when empty), from
/// `<run_dir>/logs`, at or after `since`; prefixed `[profile] ` and merged by time when several,
/// as the API gives them.
///
/// Errors: the logs folder or a log file cannot be read (a message for the user).
pub(crate) fn log_lines(run_dir: &Path, profiles: &[String], n: usize, since: Option<SystemTime>) -> Result<Vec<String>, String> {
    let dir = run_dir.join("logs");
    let wanted: Vec<String> = if profiles.is_empty() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".log").map(str::to_string))
            .collect();
        names.sort();
        names
    } else {
        profiles.to_vec()
    };
    let prefix = wanted.len() > 1;
    let mut all: Vec<(Option<SystemTime>, String)> = Vec::new();
    for p in &wanted {
        let lines = logs::tail(&dir, p, n, since, MAX_KEEP).map_err(|e| format!("{}: {e}", logs::path_for(&dir, p).display()))?;
        all.extend(
            lines
                .into_iter()
                .map(|l| (logs::line_time(&l), if prefix { format!("[{p}] {l}") } else { l })),
        );
    }
    all.sort_by_key(|(t, _)| *t);
    let skip = all.len().saturating_sub(n);
    Ok(all.into_iter().skip(skip).map(|(_, l)| l).collect())
}

/// The last `n` lines of `<run_dir>/events.jsonl` (at most 16 MiB read).
///
/// Errors: the file cannot be read (a message for the user).
pub(crate) fn event_lines(run_dir: &Path, n: usize) -> Result<Vec<String>, String> {
    let path = run_dir.join("events.jsonl");
    let text = crate::fleet::read_bounded(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    Ok(lines.into_iter().skip(skip).map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_logs_and_events_left_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).expect("mkdir");
        std::fs::write(logs.join("main.log"), "2026-12-01T10:00:01.000Z a1\n2026-12-01T10:00:03.000Z a2\n").expect("write");
        std::fs::write(logs.join("rescue.log"), "2026-12-01T10:00:02.000Z b1\n").expect("write");
        assert_eq!(
            log_lines(dir.path(), &[], 2, None).expect("read"),
            ["[rescue] 2026-12-01T10:00:02.000Z b1", "[main] 2026-12-01T10:00:03.000Z a2"]
        );
        assert_eq!(
            log_lines(dir.path(), &["main".into()], 5, None).expect("read"),
            ["2026-12-01T10:00:01.000Z a1", "2026-12-01T10:00:03.000Z a2"]
        );
        std::fs::write(dir.path().join("events.jsonl"), "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n").expect("write");
        assert_eq!(event_lines(dir.path(), 2).expect("read"), ["{\"a\":2}", "{\"a\":3}"]);
        assert!(event_lines(&dir.path().join("nope"), 2).is_err());
    }
}
