//! Where a fleet's daemon keeps its files: the run dir and the control socket, by default
//! ([`default_run_dir`], [`default_socket`], which validation uses too) or read leniently from a
//! fleet file ([`locate`]: only `run_dir` and `control.socket`, so a client finds its daemon, and
//! `clawherd install` its store, while the rest of the file is being edited or names a version
//! not installed yet). The one place these paths are computed: the daemon, the client and the
//! version store all come here.

use super::expand::expand;
use super::read::{ReadError, read_bounded};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The run dir when the fleet file names none: `.clawherd` beside the fleet file, or systemd's
/// `$STATE_DIRECTORY` (`StateDirectory=clawherd`: /var/lib/clawherd) for a service started by
/// systemd, whose fleet file usually sits in a read-only /etc.
pub(crate) fn default_run_dir(fleet_dir: &Path, env: &BTreeMap<String, String>) -> PathBuf {
    match env.get("STATE_DIRECTORY") {
        Some(d) if env.contains_key("INVOCATION_ID") => PathBuf::from(d.split(':').next().unwrap_or(d)),
        _ => fleet_dir.join(".clawherd"),
    }
}

/// The control socket when the fleet file names none: `<run_dir>/clawherd.sock`, or
/// `/run/clawherd/clawherd.sock` for a system service (root, started by systemd, which gives a
/// `RuntimeDirectory=` as `$RUNTIME_DIRECTORY`).
pub(crate) fn default_socket(run_dir: &Path, env: &BTreeMap<String, String>) -> PathBuf {
    match env.get("RUNTIME_DIRECTORY") {
        Some(d) if nix::unistd::geteuid().is_root() && env.contains_key("INVOCATION_ID") => {
            Path::new(d.split(':').next().unwrap_or(d)).join("clawherd.sock")
        }
        _ => run_dir.join("clawherd.sock"),
    }
}

/// What [`locate`] found in a fleet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// The run dir (`run_dir`, `${VAR}`s expanded and relative to the fleet file's folder, else
    /// [`default_run_dir`]), or why it cannot be known: `run_dir` uses an unset variable.
    pub run_dir: Result<PathBuf, String>,
    /// The control socket the file names (`control.socket`, expanded likewise), or why it cannot
    /// be known; `None` when the file names none (then it is [`default_socket`] of the run dir).
    pub socket: Option<Result<PathBuf, String>>,
}

/// Why [`locate`] could not read a fleet file at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LocateError {
    /// The file cannot be read (missing, not a regular file, too large...): the path, the
    /// error, and a hint of how to fix it.
    Read(PathBuf, String, String),
    /// The file is not YAML of the fleet's shape: the path and the parser's message.
    Parse(PathBuf, String),
}

impl LocateError {
    /// The message for a user, with `more` appended to the hint of a read error (e.g. "or pass
    /// --file FLEET").
    pub(crate) fn render(&self, more: Option<&str>) -> String {
        match self {
            LocateError::Read(path, e, hint) => {
                let more = more.map(|m| format!(", {m}")).unwrap_or_default();
                format!("{}: cannot read the fleet file: {e}\n  hint: {hint}{more}", path.display())
            }
            LocateError::Parse(path, e) => format!("{}: {e}", path.display()),
        }
    }
}

/// Reads only `run_dir` and `control.socket` from the fleet file at `fleet` (made absolute), with
/// `env` for `${VAR}` and `~`, and resolves them as validation does.
///
/// Errors: the file cannot be read ([`LocateError::Read`]) or parsed as YAML of the fleet's shape
/// at all ([`LocateError::Parse`]); an unset variable is not an error here but the value's
/// `Err` in [`Located`], so that a caller needing only the other value still gets it.
pub(crate) fn locate(fleet: &Path, env: &BTreeMap<String, String>) -> Result<Located, LocateError> {
    #[derive(serde::Deserialize, Default)]
    struct Lenient {
        run_dir: Option<String>,
        control: Option<LenientControl>,
    }
    #[derive(serde::Deserialize, Default)]
    struct LenientControl {
        socket: Option<String>,
    }
    let fleet = std::path::absolute(fleet).map_err(|e| LocateError::Read(fleet.to_path_buf(), e.to_string(), "check the path".into()))?;
    let text = read_bounded(&fleet).map_err(|e: ReadError| LocateError::Read(fleet.clone(), e.to_string(), e.hint().to_string()))?;
    let l: Lenient = serde_saphyr::from_str(&text).map_err(|e| LocateError::Parse(fleet.clone(), e.without_snippet().to_string()))?;
    let dir = fleet.parent().unwrap_or(Path::new("/"));
    let lookup = |n: &str| env.get(n).cloned();
    let expand_key = |s: &str, key: &str| {
        expand(s, &lookup, env.get("HOME").map(String::as_str))
            .map(|v| dir.join(v))
            .map_err(|u| format!("{}: `{key}` uses `${{{}}}`, which is not set", fleet.display(), u.0))
    };
    Ok(Located {
        run_dir: match l.run_dir {
            Some(r) => expand_key(&r, "run_dir"),
            None => Ok(default_run_dir(dir, env)),
        },
        socket: l.control.and_then(|c| c.socket).map(|s| expand_key(&s, "control.socket")),
    })
}
