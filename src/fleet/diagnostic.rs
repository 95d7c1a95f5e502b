//! Located, fixable problems found while loading and proving a fleet.
//!
//! A [`Diagnostic`] says *what* is wrong, *where* (fleet file with line and column, or the
//! OpenClaw config file and key the value came from), *which profile and key*, and *how to fix
//! it*. Loading gathers every problem before it fails (Horust's `ValidationErrors`), so one run
//! of `clawherd check` shows them all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in a file: 1-based line and column when known.
///
/// Every value of a profile keeps the place it was written at for the daemon's life, so the
/// file is an [`Arc`] that the values of one file share ([`Place::shared`]): one allocation per
/// file, not one per value. Line and column take 4 bytes each, `u32::MAX` for unknown (no file
/// clawherd reads has 4 Gi lines or columns: it reads them bounded). Written and read as
/// `{"file": ..., "line": N or null, "column": N or null}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "PlaceRecord", from = "PlaceRecord")]
pub struct Place {
    /// The file (fleet file or an OpenClaw config).
    pub file: Arc<Path>,
    /// 1-based line, [`UNKNOWN`] if unknown.
    line: u32,
    /// 1-based column, [`UNKNOWN`] if unknown.
    column: u32,
}

/// A line or column that is not known.
const UNKNOWN: u32 = u32::MAX;

/// A [`Place`] as serialized.
#[derive(serde::Serialize, serde::Deserialize)]
struct PlaceRecord {
    file: PathBuf,
    line: Option<u32>,
    column: Option<u32>,
}

impl From<Place> for PlaceRecord {
    fn from(p: Place) -> Self {
        PlaceRecord {
            file: p.file.to_path_buf(),
            line: p.line(),
            column: p.column(),
        }
    }
}

impl From<PlaceRecord> for Place {
    fn from(r: PlaceRecord) -> Self {
        Place {
            file: Arc::from(r.file),
            line: r.line.unwrap_or(UNKNOWN),
            column: r.column.unwrap_or(UNKNOWN),
        }
    }
}

/// Known unless [`UNKNOWN`].
fn known(n: u32) -> Option<u32> {
    (n != UNKNOWN).then_some(n)
}

impl Place {
    /// A place with line and column (the file copied: see [`Place::shared`]).
    pub fn at(file: &Path, line: u32, column: u32) -> Self {
        Place::shared(&Arc::from(file), line, column)
    }

    /// A place with line and column in `file`, shared with the other places of that file.
    pub fn shared(file: &Arc<Path>, line: u32, column: u32) -> Self {
        Place {
            file: Arc::clone(file),
            line,
            column,
        }
    }

    /// A whole file, no position (the file copied: see [`Place::whole`]).
    pub fn file(file: &Path) -> Self {
        Place::whole(&Arc::from(file))
    }

    /// A whole file, no position, shared with the other places of that file.
    pub fn whole(file: &Arc<Path>) -> Self {
        Place {
            file: Arc::clone(file),
            line: UNKNOWN,
            column: UNKNOWN,
        }
    }

    /// 1-based line, if known.
    pub fn line(&self) -> Option<u32> {
        known(self.line)
    }

    /// 1-based column, if known.
    pub fn column(&self) -> Option<u32> {
        known(self.column)
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        match (self.line(), self.column()) {
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

    /// A place is written and read as before it shared its file: `file`, then `line` and
    /// `column` as numbers or `null`; the places of one file share it.
    #[test]
    fn places_of_one_file_share_it_and_serialize_as_before() {
        let file: Arc<Path> = Arc::from(Path::new("/f/fleet.yaml"));
        let (a, b) = (Place::shared(&file, 3, 5), Place::whole(&file));
        assert!(Arc::ptr_eq(&a.file, &b.file));
        assert_eq!((a.line(), a.column(), b.line(), b.column()), (Some(3), Some(5), None, None));
        let json = serde_json::to_string(&[&a, &b]).expect("json");
        assert_eq!(
            json,
            r#"[{"file":"/f/fleet.yaml","line":3,"column":5},{"file":"/f/fleet.yaml","line":null,"column":null}]"#
        );
        let back: Vec<Place> = serde_json::from_str(&json).expect("read");
        assert_eq!(back, vec![a.clone(), b]);
        assert_eq!(a, Place::at(Path::new("/f/fleet.yaml"), 3, 5));
        assert_eq!(a.to_string(), "/f/fleet.yaml:3:5");
    }
}
