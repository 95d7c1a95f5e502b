//! Last-known-good: what each instance last ran successfully (ready, then stable for the soak),
//! kept under `run_dir`, and the journal of a rollout in progress.
//!
//! - `<run_dir>/lkg/<profile>.json`: a JSON array of [`Record`]s, oldest first, at most
//!   [`KEEP`]: the effective setup (command line, working directory, environment with secret
//!   values redacted), the full content of the OpenClaw config file, and the whole profile and
//!   plan it ran with ([`Setup`], unredacted: a daemon restarted in the middle of a rollout
//!   rolls back to it, as the fleet file then says the change). Mode 0600: the config and the
//!   environment hold the gateway's secrets as the originals do.
//! - `<run_dir>/rollout.json`: the [`Journal`] of a rollout in progress, removed when it ends; a
//!   daemon that finds one at start resumes it (starts what was not finished in the rollout's
//!   order, proves it, rolls back what fails).
//!
//! Writes go to a temporary file renamed over the old one, so a crash leaves the old or the new
//! content, never half of one. Reads are bounded (`fleet::read_bounded`).

use serde::{Deserialize, Serialize};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Records kept per instance.
pub(crate) const KEEP: usize = 5;

/// The effective setup an instance ran with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Effective {
    /// Program and arguments (secret-looking values redacted).
    pub argv: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// Environment (secret values redacted).
    pub env: std::collections::BTreeMap<String, String>,
}

impl Effective {
    /// The setup of `plan`, with secrets redacted (`observe::redact`).
    pub(crate) fn of(plan: &crate::fleet::Plan) -> Self {
        Effective {
            argv: crate::observe::redact::redact_argv(&plan.argv).0,
            cwd: plan.cwd.display().to_string(),
            env: plan
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), crate::observe::redact::redact_var(k, v).0))
                .collect(),
        }
    }
}

/// One last-known-good of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// When it was proved, RFC 3339.
    pub at: String,
    /// Profile name.
    pub profile: String,
    /// Its effective setup.
    pub effective: Effective,
    /// Its OpenClaw config file, absolute (none for `flavor: process`).
    pub config_path: Option<PathBuf>,
    /// The content of that file it ran with (none when there was no file).
    pub config: Option<String>,
    /// The whole profile and plan it ran with; `None` in a record of an older clawherd, or one
    /// this clawherd cannot read (logged).
    #[serde(default, deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub setup: Option<Setup>,
}

/// The profile and plan of a last-known-good, as the supervisor runs them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Setup {
    /// The validated profile (settings, restart and health policies, standby role).
    pub profile: crate::fleet::Profile,
    /// Its effective plan (command line, full environment, paths, ports).
    pub plan: crate::fleet::Plan,
}

/// A [`Setup`] that does not read (written by another clawherd version) is `None`: the rest of
/// the record still counts.
fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Setup>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    Ok(serde_json::from_value(v)
        .inspect_err(|e| tracing::warn!(error = %e, "a last-known-good record's setup is unreadable; only its config can be restored"))
        .ok())
}

fn lkg_file(run_dir: &Path, profile: &str) -> PathBuf {
    run_dir.join("lkg").join(format!("{profile}.json"))
}

/// The records of `profile`, oldest first; empty when there are none or the file is unreadable
/// (logged).
pub(crate) fn history(run_dir: &Path, profile: &str) -> Vec<Record> {
    let path = lkg_file(run_dir, profile);
    match crate::fleet::read_bounded(&path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the last-known-good history; ignored");
            Vec::new()
        }),
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the last-known-good history; ignored");
            Vec::new()
        }
    }
}

/// The newest record of `profile`.
pub(crate) fn latest(run_dir: &Path, profile: &str) -> Option<Record> {
    history(run_dir, profile).pop()
}

/// Appends `record` to its profile's history, keeping the newest [`KEEP`]. A record equal to
/// the newest but for its time replaces it.
///
/// Errors: the folder or file cannot be written.
pub(crate) fn record(run_dir: &Path, record: Record) -> std::io::Result<()> {
    let mut h = history(run_dir, &record.profile);
    if h.last()
        .is_some_and(|l| l.effective == record.effective && l.config == record.config && l.config_path == record.config_path)
    {
        h.pop();
    }
    h.push(record.clone());
    let excess = h.len().saturating_sub(KEEP);
    h.drain(..excess);
    let text = serde_json::to_string_pretty(&h).map_err(std::io::Error::other)?;
    write_private(&lkg_file(run_dir, &record.profile), text.as_bytes())
}

/// A rollout in progress, as a restarted daemon needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Journal {
    /// When it started, RFC 3339.
    pub started: String,
    /// The changed profiles in order.
    pub order: Vec<String>,
    /// Those whose change is proved (or rolled back, or held): done.
    pub done: Vec<String>,
}

impl Journal {
    /// The profiles not done yet, in order, each once. Linear in the journal's size (it is read
    /// from a file that may be corrupt or hostile: up to 16 MiB of names).
    pub(crate) fn remaining(&self) -> Vec<String> {
        let done: std::collections::HashSet<&str> = self.done.iter().map(String::as_str).collect();
        let mut seen = std::collections::HashSet::new();
        self.order
            .iter()
            .filter(|n| !done.contains(n.as_str()) && seen.insert(n.as_str()))
            .cloned()
            .collect()
    }
}

fn journal_file(run_dir: &Path) -> PathBuf {
    run_dir.join("rollout.json")
}

/// Writes the journal (at the start of a rollout and after each step).
///
/// Errors: the file cannot be written.
pub(crate) fn save_journal(run_dir: &Path, j: &Journal) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(j).map_err(std::io::Error::other)?;
    write_private(&journal_file(run_dir), text.as_bytes())
}

/// The journal of a rollout an earlier daemon left unfinished: `Ok(None)` when there is none.
///
/// Errors: a journal that is there but unusable (not a regular file, too large, not UTF-8, not
/// a journal), said with the file's path and what is wrong; the caller logs it and starts the
/// fleet as if there were none.
pub(crate) fn load_journal(run_dir: &Path) -> Result<Option<Journal>, String> {
    let path = journal_file(run_dir);
    let text = match crate::fleet::read_bounded(&path) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read the rollout journal: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: not a rollout journal: {e}", path.display()))
}

/// Removes the journal: the rollout ended.
pub(crate) fn end_journal(run_dir: &Path) {
    let _ = std::fs::remove_file(journal_file(run_dir));
}

/// Writes `bytes` to `path` with mode 0600 through a fresh temporary file renamed over it
/// ([`crate::fleet::write::replace`]: nothing planted under either name is written through),
/// creating the folder (0700) when needed.
///
/// Errors: the folder or file cannot be written.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    crate::fleet::write::replace(path, bytes, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: usize) -> Record {
        Record {
            at: format!("t{n}"),
            profile: "main".into(),
            effective: Effective {
                argv: vec![format!("gw{n}")],
                cwd: "/".into(),
                env: Default::default(),
            },
            config_path: Some("/c.json".into()),
            config: Some(format!("{{n: {n}}}")),
            setup: None,
        }
    }

    /// The history keeps the newest KEEP records; a repeat of the newest replaces it.
    #[test]
    fn history_is_bounded_and_repeats_collapse() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in 0..KEEP + 3 {
            record(dir.path(), rec(n)).expect("record");
        }
        let h = history(dir.path(), "main");
        assert_eq!(h.len(), KEEP);
        assert_eq!(h.first().map(|r| r.at.as_str()), Some("t3"));
        let again = Record {
            at: "later".into(),
            ..rec(KEEP + 2)
        };
        record(dir.path(), again).expect("record");
        let h = history(dir.path(), "main");
        assert_eq!(h.len(), KEEP);
        assert_eq!(latest(dir.path(), "main").map(|r| r.at), Some("later".into()));
    }

    /// The journal round-trips and names what is left.
    #[test]
    fn journal_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load_journal(dir.path()), Ok(None));
        let j = Journal {
            started: "t".into(),
            order: vec!["rescue".into(), "main".into()],
            done: vec!["rescue".into()],
        };
        save_journal(dir.path(), &j).expect("save");
        let back = load_journal(dir.path()).expect("load").expect("there");
        assert_eq!(back.remaining(), ["main"]);
        end_journal(dir.path());
        assert_eq!(load_journal(dir.path()), Ok(None));
    }

    /// A journal of 13 MB of names (hostile or corrupt) is read in linear time: the quadratic
    /// `order` × `done` scan of before took hours on it and held the daemon's start.
    #[test]
    fn a_huge_journal_is_read_in_linear_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names: Vec<String> = (0..400_000).map(|n| format!("p{n}")).collect();
        let j = Journal {
            started: "t".into(),
            order: names.clone(),
            done: names.iter().skip(1).cloned().collect(),
        };
        save_journal(dir.path(), &j).expect("save");
        let back = load_journal(dir.path()).expect("load").expect("there");
        assert_eq!(back.remaining(), ["p0"]);
    }

    /// A journal that is there but unusable says so, with its path.
    #[test]
    fn an_unusable_journal_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(journal_file(dir.path())).expect("mkdir");
        let e = load_journal(dir.path()).expect_err("a folder");
        assert!(e.contains("rollout.json: cannot read the rollout journal"), "{e}");
        std::fs::remove_dir(journal_file(dir.path())).expect("rmdir");
        std::fs::write(journal_file(dir.path()), "{\"order\": 3}").expect("write");
        let e = load_journal(dir.path()).expect_err("not a journal");
        assert!(e.contains("not a rollout journal"), "{e}");
    }
}
