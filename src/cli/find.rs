//! Which fleet a command means when it is given no `-f FILE`: the first of
//! 1. `$CLAWHERD_FLEET` (clap reads it into `-f`, so it counts as given),
//! 2. `./fleet.yaml`,
//! 3. `$XDG_CONFIG_HOME/clawherd/fleet.yaml` (`~/.config/clawherd/fleet.yaml` without it),
//! 4. `/etc/clawherd/fleet.yaml`,
//!
//! that exists, else the one daemon running under this user (or a system daemon whose registry
//! in `/run/clawherd` this user may read; [`crate::daemon::registry::running`]). Several running
//! daemons and no file: the user must choose, and is told which there are.

use crate::daemon::registry::{self, Record};
use std::path::{Path, PathBuf};

/// What the lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A fleet file (given, or the first default that exists).
    File(PathBuf),
    /// No fleet file anywhere, but exactly one running daemon.
    Daemon(Record),
}

impl Found {
    /// The fleet file: the one found, or the one the daemon runs.
    pub fn file(&self) -> &Path {
        match self {
            Found::File(f) => f,
            Found::Daemon(r) => &r.fleet,
        }
    }
}

/// The default fleet files, in the order they are tried (steps 2 to 4 of the module doc), for
/// the environment `var`.
pub fn default_files(var: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let config_home = var("XDG_CONFIG_HOME")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
        .or_else(|| var("HOME").filter(|h| !h.is_empty()).map(|h| Path::new(&h).join(".config")));
    let mut out = vec![PathBuf::from("./fleet.yaml")];
    out.extend(config_home.map(|c| c.join("clawherd").join("fleet.yaml")));
    out.push(PathBuf::from("/etc/clawherd/fleet.yaml"));
    out
}

/// The fleet `given` (`-f` or `$CLAWHERD_FLEET`), else the lookup of the module doc, with
/// `running` the daemons of the registry.
///
/// Errors: a message for the user (exit 64): nothing found, with the places tried, or several
/// daemons running, with their fleet files.
pub fn fleet(given: Option<&Path>, defaults: &[PathBuf], running: impl FnOnce() -> Vec<Record>) -> Result<Found, String> {
    if let Some(f) = given {
        return Ok(Found::File(f.to_path_buf()));
    }
    if let Some(f) = defaults.iter().find(|f| f.exists()) {
        return Ok(Found::File(f.clone()));
    }
    let tried: Vec<String> = defaults.iter().map(|d| d.display().to_string()).collect();
    let mut daemons = running();
    match daemons.len() {
        0 => Err(format!(
            "no fleet file given and none found ($CLAWHERD_FLEET, {}), and no clawherd daemon is running\n  hint: pass -f FILE (`clawherd init` writes one from the OpenClaw profiles on this host)",
            tried.join(", ")
        )),
        1 => Ok(Found::Daemon(daemons.remove(0))),
        _ => Err(format!(
            "no fleet file given and none found ($CLAWHERD_FLEET, {}), and {} clawherd daemons are running: {}\n  hint: pass -f with one of those fleet files",
            tried.join(", "),
            daemons.len(),
            daemons
                .iter()
                .map(|d| format!("{} (pid {})", d.fleet.display(), d.pid))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// [`fleet`] for this process: its environment, its working directory, this user's registry.
///
/// Errors: see [`fleet`].
pub fn fleet_here(given: Option<&Path>) -> Result<Found, String> {
    let from_env = std::env::var_os("CLAWHERD_FLEET").filter(|v| !v.is_empty()).map(PathBuf::from);
    fleet(
        given.or(from_env.as_deref()),
        &default_files(|v| std::env::var(v).ok()),
        registry::running,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fleet: &str) -> Record {
        Record {
            fleet: fleet.into(),
            pid: 1,
            starttime: 1,
            socket: "/s".into(),
            run_dir: "/r".into(),
            started: "now".into(),
        }
    }

    #[test]
    fn default_files_follow_xdg() {
        let env =
            |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        assert_eq!(
            default_files(env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])),
            [
                PathBuf::from("./fleet.yaml"),
                "/x/clawherd/fleet.yaml".into(),
                "/etc/clawherd/fleet.yaml".into()
            ]
        );
        assert_eq!(
            default_files(env(&[("HOME", "/h")]))[1],
            PathBuf::from("/h/.config/clawherd/fleet.yaml")
        );
        assert_eq!(default_files(env(&[])).len(), 2);
    }

    #[test]
    fn lookup_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
        std::fs::write(&b, "").expect("write");
        let defaults = [a.clone(), b.clone()];
        let given = Path::new("/given.yaml");
        assert_eq!(fleet(Some(given), &defaults, Vec::new), Ok(Found::File(given.into())));
        assert_eq!(fleet(None, &defaults, Vec::new), Ok(Found::File(b.clone())));
        std::fs::write(&a, "").expect("write");
        assert_eq!(fleet(None, &defaults, Vec::new), Ok(Found::File(a.clone())));
        let none = [dir.path().join("missing")];
        assert_eq!(fleet(None, &none, || vec![record("/f.yaml")]), Ok(Found::Daemon(record("/f.yaml"))));
        let e = fleet(None, &none, Vec::new).expect_err("nothing");
        assert!(e.contains("no clawherd daemon is running") && e.contains("missing"), "{e}");
        let e = fleet(None, &none, || vec![record("/1.yaml"), record("/2.yaml")]).expect_err("two");
        assert!(
            e.contains("2 clawherd daemons are running: /1.yaml (pid 1), /2.yaml (pid 1)"),
            "{e}"
        );
    }
}
