//! Located, fixable problems found while loading and proving a fleet.
//!
//! A [`Diagnostic`] says *what* is wrong, *where* (fleet file with line and column, or the
//! OpenClaw config file and key the value came from), *which profile and key*, and *how to fix
//! it*. Loading gathers every problem before it fails (Horust's `ValidationErrors`), so one run
//! of `clawherd check` shows them all.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a file: 1-based line and column when known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Place {
    /// The file (fleet file or an OpenClaw config).
    pub file: PathBuf,
    /// 1-based line, if known.
    pub line: Option<u32>,
    /// 1-based column, if known.
    pub column: Option<u32>,
}

impl Place {
    /// A place with line and column.
    pub fn at(file: &Path, line: u32, column: u32) -> Self {
        Place {
            file: file.to_path_buf(),
            line: Some(line),
            column: Some(column),
        }
    }

    /// A whole file, no position.
    pub fn file(file: &Path) -> Self {
        Place {
            file: file.to_path_buf(),
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, ":{l}:{c}"),
            (Some(l), None) => write!(f, ":{l}"),
            _ => Ok(()),
        }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Shown, does not fail the proof.
    Warning,
    /// Fails the proof: nothing is started.
    Error,
}

/// One problem, with its place and its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where the offending value was written.
    pub place: Place,
    /// Profile concerned, if any.
    pub profile: Option<String>,
    /// Key path concerned (`port`, `gateway.port`, `browser.cdpUrl`), if any.
    pub key: Option<String>,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// Further places involved (the other side of a clash), shown as `note:` lines.
    pub notes: Vec<String>,
    /// How to fix it, if there is a concrete fix.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at `place`.
    pub fn error(place: Place, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            place,
            profile: None,
            key: None,
            message: message.into(),
            notes: Vec::new(),
            hint: None,
        }
    }

    /// A warning at `place`.
    pub fn warning(place: Place, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(place, message)
        }
    }

    /// Names the profile.
    pub fn profile(mut self, profile: &str) -> Self {
        self.profile = Some(profile.to_string());
        self
    }

    /// Names the key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a note line.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sets the fix.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {level}: ", self.place)?;
        if let Some(p) = &self.profile {
            write!(f, "profile '{p}': ")?;
        }
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        write!(f, "{}", self.message)?;
        for n in &self.notes {
            write!(f, "\n  note: {n}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in one load, errors and warnings. Loading fails when any is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// True when at least one diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.severity == Severity::Error).count()
    }

    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest candidate to `word` by edit distance, if it is close enough to be a typo
/// (distance ≤ 1 + len/3). Used for "did you mean" on unknown keys and profile names.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 1 + word.len() / 3;
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `prev` is the row for the chars of `a` so far: prev[j] = distance to the first j of `b`.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        let mut left = i + 1;
        cur.push(left);
        for ((cb, diag), up) in b.iter().zip(&prev).zip(prev.iter().skip(1)) {
            left = (diag + usize::from(ca != *cb)).min(up + 1).min(left + 1);
            cur.push(left);
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        for (a, b, d) in [
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("kitten", "sitting", 3),
            ("flaw", "lawn", 2),
            ("prot", "port", 2),
            ("statedir", "state_dir", 1),
            ("größe", "grosse", 3),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} -> {b}");
            assert_eq!(edit_distance(b, a), d, "{b} -> {a}");
        }
    }

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["port", "profiles", "state_dir", "workspace"];
        assert_eq!(did_you_mean("prot", keys), Some("port"));
        assert_eq!(did_you_mean("statedir", keys), Some("state_dir"));
        assert_eq!(did_you_mean("banana", keys), None);
    }

    #[test]
    fn renders_place_profile_key_and_hint() {
        let d = Diagnostic::error(Place::at(Path::new("fleet.yaml"), 12, 11), "clashes")
            .profile("rescue")
            .key("port")
            .note("other side")
            .hint("set port: 18909");
        assert_eq!(
            d.to_string(),
            "fleet.yaml:12:11: error: profile 'rescue': port: clashes\n  note: other side\n  hint: set port: 18909"
        );
    }
}
