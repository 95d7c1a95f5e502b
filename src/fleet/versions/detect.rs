//! Which OpenClaw (or Clawdbot) version a command runs, read from the `package.json` of the
//! package its program belongs to: cheap (a few `stat`s and one bounded read), no process.
//!
//! The program (`argv[0]`, looked up on the command's own `PATH` like a spawn does; for
//! `node SCRIPT ...` the script) is resolved through its symlinks (npm's
//! `node_modules/.bin/openclaw` links to `node_modules/openclaw/openclaw.mjs`), then the folders
//! above it are searched, at most [`MAX_LEVELS`] up, for a `package.json` whose `name` is
//! `openclaw` or `clawdbot`. Anything else (a wrapper script, the fake gateway) is unknown.

use crate::fleet::read_bounded;
use std::path::{Path, PathBuf};

/// Folders searched above the program for its package's `package.json` (`dist/entry.js` sits
/// one below the package root; npm's link target sits in it).
pub(crate) const MAX_LEVELS: usize = 4;
/// The package names whose version is reported.
const PACKAGES: &[&str] = &["openclaw", "clawdbot"];
/// Longest version string reported (npm allows 256; ours are ~16).
const MAX_VERSION_LEN: usize = 64;

/// The package and version `argv` runs, e.g. `("openclaw", "2026.9.6")`; `None` when unknown.
/// `env` is the command's environment (its `PATH`), `cwd` its working directory (for a relative
/// script path).
pub(crate) fn detect(argv: &[String], env: &crate::fleet::Env, cwd: &Path) -> Option<(String, String)> {
    let program = resolve(argv.first()?, env.get("PATH"), cwd)?;
    let is_node = program.file_name().is_some_and(|n| n.to_string_lossy().starts_with("node"));
    let target = if is_node { cwd.join(argv.get(1)?) } else { program };
    package_version(&std::fs::canonicalize(target).ok()?)
}

/// `program` as a spawn finds it: a path as given (relative to `cwd`), a bare name on `path`.
fn resolve(program: &str, path: Option<&str>, cwd: &Path) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(cwd.join(program));
    }
    path?
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| cwd.join(d).join(program))
        .find(|p| p.is_file())
}

/// The first `openclaw`/`clawdbot` `package.json` in the folders above `file`.
fn package_version(file: &Path) -> Option<(String, String)> {
    file.ancestors().skip(1).take(MAX_LEVELS).find_map(|dir| {
        let text = read_bounded(&dir.join("package.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let name = v.get("name")?.as_str()?;
        let version = v.get("version")?.as_str()?;
        let printable = version.len() <= MAX_VERSION_LEN && version.bytes().all(|b| b.is_ascii_graphic());
        (PACKAGES.contains(&name) && printable).then(|| (name.to_string(), version.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(root: &Path, name: &str, version: &str) -> PathBuf {
        let pkg = root.join("node_modules").join(name);
        std::fs::create_dir_all(pkg.join("dist")).expect("mkdir");
        std::fs::write(pkg.join("package.json"), format!(r#"{{"name":"{name}","version":"{version}"}}"#)).expect("write");
        std::fs::write(pkg.join("openclaw.mjs"), "").expect("write");
        std::fs::create_dir_all(root.join("node_modules/.bin")).expect("mkdir");
        std::os::unix::fs::symlink(format!("../{name}/openclaw.mjs"), root.join("node_modules/.bin").join(name)).expect("link");
        pkg
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn through_npm_link_on_path_by_path_and_by_node_script() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pkg = package(dir.path(), "openclaw", "2026.9.6");
        let bin = dir.path().join("node_modules/.bin");
        let env = crate::fleet::Env::from([("PATH".to_string(), format!("/nonexistent:{}", bin.display()))]);
        let want = Some(("openclaw".to_string(), "2026.9.6".to_string()));
        assert_eq!(detect(&s(&["openclaw", "gateway", "run"]), &env, dir.path()), want);
        assert_eq!(
            detect(
                &s(&[&bin.join("openclaw").display().to_string()]),
                &crate::fleet::Env::default(),
                dir.path()
            ),
            want
        );
        let script = pkg.join("openclaw.mjs").display().to_string();
        assert_eq!(
            detect(
                &s(&["/usr/bin/node", &script, "gateway"]),
                &crate::fleet::Env::default(),
                dir.path()
            ),
            want
        );
    }

    #[test]
    fn unknown_for_other_programs_and_packages() {
        let dir = tempfile::tempdir().expect("tempdir");
        package(dir.path(), "left-pad", "1.0.0");
        let env = crate::fleet::Env::from([("PATH".to_string(), dir.path().join("node_modules/.bin").display().to_string())]);
        assert_eq!(detect(&s(&["left-pad"]), &env, dir.path()), None);
        assert_eq!(detect(&s(&["no-such-program"]), &env, dir.path()), None);
        assert_eq!(detect(&s(&[]), &env, dir.path()), None);
        assert_eq!(detect(&s(&["node"]), &env, dir.path()), None);
    }
}
