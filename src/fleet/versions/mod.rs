//! OpenClaw versions side by side: the `openclaw_version` fleet key (which installed OpenClaw or
//! Clawdbot package a profile runs), which version a command runs ([`detect`]), the versioned
//! store `clawherd install` fills ([`store`]), the pins `clawherd upgrade` writes ([`pins`]) and
//! the snapshots it takes before an upgrade ([`snapshot`]); docs/upgrades.md tells the whole
//! story.
//!
//! The store is `<run_dir>/versions/<package>@<version>/` (an npm prefix: the gateway's program
//! is `node_modules/.bin/<package>`), filled by `clawherd install` ([`store`]). A
//! profile's `openclaw_version: "2026.9.6"` (or `defaults.openclaw_version`) makes its command
//! `[<store>/<package>@2026.9.6/node_modules/.bin/<package>, gateway, run]`.
//!
//! `clawherd upgrade` never edits the operator's fleet file: it writes
//! `<run_dir>/versions/pins.json` (`{"main": "2026.9.6", ...}`, profile → version), and a pin
//! overrides the profile's `openclaw_version` when the fleet is loaded (reload included).
//! `clawherd upgrade --unpin` (or deleting the file) gives the fleet file back its word.

pub(crate) mod detect;
pub(crate) mod pins;
pub(crate) mod snapshot;
pub(crate) mod store;

use super::read::{ReadError, read_bounded};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Longest version accepted (`2026.9.6-beta.12` is 16 bytes); npm's own limit is 256.
const MAX_VERSION_LEN: usize = 64;

/// Whether `v` is a plain semantic version as npm publishes them: `MAJOR.MINOR.PATCH`, each a
/// number without a leading zero, then optionally `-PRERELEASE` (dot-separated ASCII letters,
/// digits and `-`). No range, tag, path, URL or git spec: the value becomes part of a folder
/// name and reaches npm's command line. Build metadata (`+...`) is refused too (npm ignores it,
/// so two spellings would name one package).
pub(crate) fn is_plain_version(v: &str) -> bool {
    if v.is_empty() || v.len() > MAX_VERSION_LEN {
        return false;
    }
    let (core, pre) = match v.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (v, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let number_ok = |n: &&str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n.len() == 1 || !n.starts_with('0'));
    if numbers.len() != 3 || !numbers.iter().all(number_ok) {
        return false;
    }
    pre.is_none_or(|p| {
        p.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    })
}

/// Whether `t` is an npm dist-tag clawherd accepts for `install` (`latest`, `beta`, ...): 1–32
/// lowercase ASCII letters, digits and `-`, starting with a letter. A tag is resolved by npm
/// and stored under the version it resolved to.
pub(crate) fn is_dist_tag(t: &str) -> bool {
    let mut bytes = t.bytes();
    t.len() <= 32
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The versioned store: `<run_dir>/versions`.
pub(crate) fn store_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("versions")
}

/// One installed version's npm prefix: `<run_dir>/versions/<package>@<version>`.
pub(crate) fn package_dir(run_dir: &Path, package: &str, version: &str) -> PathBuf {
    store_dir(run_dir).join(format!("{package}@{version}"))
}

/// The program of an installed version: `<package_dir>/node_modules/.bin/<package>` (npm's
/// link to the package's `bin`, `openclaw.mjs` for openclaw).
pub(crate) fn program(run_dir: &Path, package: &str, version: &str) -> PathBuf {
    package_dir(run_dir, package, version)
        .join("node_modules")
        .join(".bin")
        .join(package)
}

/// The pins file `clawherd upgrade` writes: `<run_dir>/versions/pins.json`.
pub(crate) fn pins_path(run_dir: &Path) -> PathBuf {
    store_dir(run_dir).join("pins.json")
}

/// Why the pins file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PinsError {
    /// Unreadable (too large, not UTF-8, I/O).
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: ReadError },
    /// Not a JSON object of profile → plain version.
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The pins under `run_dir`, profile → version; empty when the file does not exist.
///
/// Errors: [`PinsError`] when it exists but is unreadable, not a JSON object of strings, or a
/// value is not a plain version ([`is_plain_version`]).
pub(crate) fn read_pins(run_dir: &Path) -> Result<BTreeMap<String, String>, PinsError> {
    let path = pins_path(run_dir);
    let text = match read_bounded(&path) {
        Ok(t) => t,
        Err(ReadError::Open(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(PinsError::Read { path, source }),
    };
    let pins: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| PinsError::Invalid {
        path: path.clone(),
        message: format!("not a JSON object of profile → version: {e}"),
    })?;
    if let Some((profile, v)) = pins.iter().find(|(_, v)| !is_plain_version(v)) {
        return Err(PinsError::Invalid {
            path,
            message: format!("`{profile}`: `{v}` is not a plain version such as 2026.9.6"),
        });
    }
    Ok(pins)
}

/// The `run_dir` of the fleet file at `fleet` (absolute), read leniently: only that key is
/// looked at, so `clawherd install` works while the rest of the file does not validate yet (a
/// profile naming a version not installed yet).
///
/// Errors: the file cannot be read or parsed as YAML at all, or `run_dir` uses an unset
/// variable.
pub(crate) fn run_dir_of(fleet: &Path, env: &BTreeMap<String, String>) -> Result<PathBuf, String> {
    super::locate::locate(fleet, env).map_err(|e| e.render(None))?.run_dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_versions_only() {
        for ok in ["2026.9.6", "0.0.1", "2026.1.24-3", "1.2.3-beta.1", "10.20.30-rc-1"] {
            assert!(is_plain_version(ok), "{ok}");
        }
        for bad in [
            "",
            "2026.9",
            "2026.9.6.1",
            "01.2.3",
            "^2026.9.6",
            "~1.2.3",
            ">=1.2.3",
            "1.2.x",
            "latest",
            "1.2.3+build",
            "1.2.3-",
            "1.2.3-a..b",
            "../1.2.3",
            "1.2.3/../../x",
            "file:1.2.3",
            "git+https://x/y.git",
            "https://x/y.tgz",
            "1.2.3 --registry=x",
        ] {
            assert!(!is_plain_version(bad), "{bad}");
        }
        assert!(!is_plain_version(&format!("1.2.3-{}", "a".repeat(80))));
    }

    #[test]
    fn dist_tags() {
        assert!(is_dist_tag("latest") && is_dist_tag("beta") && is_dist_tag("extended-stable"));
        for bad in ["", "Latest", "-x", "1beta", "a/b", "a b", "a.b", "a@b", &"a".repeat(33)] {
            assert!(!is_dist_tag(bad), "{bad}");
        }
    }

    #[test]
    fn layout() {
        let run = Path::new("/r");
        assert_eq!(
            program(run, "openclaw", "2026.9.6"),
            Path::new("/r/versions/openclaw@2026.9.6/node_modules/.bin/openclaw")
        );
        assert_eq!(pins_path(run), Path::new("/r/versions/pins.json"));
    }

    #[test]
    fn run_dir_is_read_leniently() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("fleet.yaml");
        std::fs::write(
            &f,
            "version: 1\nrun_dir: run\nprofiles: {main: {openclaw_version: \"9.9.9\", bogus: 1}}\n",
        )
        .expect("write");
        assert_eq!(run_dir_of(&f, &BTreeMap::new()), Ok(dir.path().join("run")));
        std::fs::write(&f, "version: 1\n").expect("write");
        assert_eq!(run_dir_of(&f, &BTreeMap::new()), Ok(dir.path().join(".clawherd")));
    }

    #[test]
    fn pins_are_read_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_pins(dir.path()).expect("no file").is_empty());
        std::fs::create_dir_all(store_dir(dir.path())).expect("mkdir");
        std::fs::write(pins_path(dir.path()), r#"{"main": "2026.9.6"}"#).expect("write");
        assert_eq!(
            read_pins(dir.path()).expect("valid").get("main").map(String::as_str),
            Some("2026.9.6")
        );
        std::fs::write(pins_path(dir.path()), r#"{"main": "../x"}"#).expect("write");
        assert!(
            read_pins(dir.path())
                .expect_err("bad version")
                .to_string()
                .contains("not a plain version")
        );
        std::fs::write(pins_path(dir.path()), "[1]").expect("write");
        assert!(read_pins(dir.path()).is_err());
    }
}
