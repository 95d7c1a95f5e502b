//! `clawherd install PACKAGE@VERSION`: one OpenClaw (or Clawdbot) version side by side with the
//! others in clawherd's store, `<run_dir>/versions/<package>@<version>/` (layout:
//! [`crate::fleet::versions`]).
//!
//! npm installs into a fresh temporary folder in the store, from the registry only: the spec is
//! checked first to be `openclaw` or `clawdbot` and a plain version or dist-tag, so no path,
//! URL or git spec ever reaches npm. Only once npm succeeded is the folder renamed to its final
//! name, after the version npm actually installed (a tag is stored under what it resolved to):
//! a half-done install is never seen under a version's name, and an installed version (maybe
//! running) is never written over: installing it again does nothing.
//!
//! npm and Node come from `PATH`; Node must be recent enough for the package (openclaw
//! 2026.x: `engines.node` `>=24.16.0`, checked again by npm with `--engine-strict`; clawdbot:
//! `>=22.12.0`). openclaw's own `postinstall` (pruning stale files of its own package,
//! `scripts/postinstall-bundled-plugins.mjs`) runs; clawdbot installs with `--ignore-scripts`
//! and the pinned `libsignal`/`strip-ansi` that its published manifest lacks (its manifest
//! fetches `libsignal` from a git host, which "registry only" forbids).

use crate::fleet::versions::{is_dist_tag, is_plain_version, package_dir, store_dir};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The packages the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Package {
    /// Today's gateway, `openclaw` on npm.
    OpenClaw,
    /// The legacy generation, `clawdbot` on npm.
    Clawdbot,
}

impl Package {
    /// The npm package name (also the program's name).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Package::OpenClaw => "openclaw",
            Package::Clawdbot => "clawdbot",
        }
    }

    /// The oldest Node major.minor the package runs on (its `engines.node`).
    fn min_node(self) -> (u32, u32) {
        match self {
            Package::OpenClaw => (24, 16),
            Package::Clawdbot => (22, 12),
        }
    }
}

/// A checked `PACKAGE@VERSION` (or `PACKAGE@TAG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    /// Which package.
    pub package: Package,
    /// A plain version ([`is_plain_version`]) or a dist-tag ([`is_dist_tag`]).
    pub version: String,
}

impl Spec {
    /// Parses `openclaw@2026.9.6`, `clawdbot@2026.1.24-3`, `openclaw@latest`.
    ///
    /// Errors: a message naming what is wrong and what to write instead.
    pub(crate) fn parse(s: &str) -> Result<Spec, String> {
        let example = "write e.g. `openclaw@2026.9.6` (or `clawdbot@VERSION`; a dist-tag such as `openclaw@latest` is resolved by npm)";
        let Some((name, version)) = s.split_once('@') else {
            return Err(format!("`{s}` names no version: {example}"));
        };
        let package = match name {
            "openclaw" => Package::OpenClaw,
            "clawdbot" => Package::Clawdbot,
            _ => {
                return Err(format!(
                    "`{name}` is not a package clawherd installs (openclaw or clawdbot): {example}"
                ));
            }
        };
        if !is_plain_version(version) && !is_dist_tag(version) {
            return Err(format!(
                "`{version}` is not a plain version or dist-tag (no range, path, URL or git spec reaches npm): {example}"
            ));
        }
        Ok(Spec {
            package,
            version: version.to_string(),
        })
    }

    /// `package@version` as written.
    pub(crate) fn display(&self) -> String {
        format!("{}@{}", self.package.name(), self.version)
    }
}

/// How an install went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installed {
    /// The version in the store (what a tag resolved to).
    pub version: String,
    /// Its folder, `<run_dir>/versions/<package>@<version>`.
    pub dir: PathBuf,
    /// Whether it was there already (nothing was installed).
    pub already: bool,
}

/// Why an install failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InstallError {
    /// No usable Node on `PATH`.
    #[error("{0}")]
    Node(String),
    /// npm could not be run, failed, or took too long.
    #[error("{0}")]
    Npm(String),
    /// The version's folder is there but is not a complete install of it (a copy cut short,
    /// files removed by hand, a `package.json` naming another package or version). Nothing is
    /// written over it: it may be what a gateway runs.
    #[error("{} is there but is not a complete install of {spec}: {why}\n  hint: stop what runs from it, move the folder away (or delete it), then install again", dir.display())]
    Broken {
        /// The version's folder.
        dir: PathBuf,
        /// `package@version`.
        spec: String,
        /// What is missing or wrong.
        why: String,
    },
    /// The store could not be written.
    #[error("{path}: {source}")]
    Store {
        /// The folder or file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Installs `spec` into the store under `run_dir` unless that version is there already;
/// `timeout` bounds npm's run (it is killed after it). npm's output goes to clawherd's stderr.
///
/// Errors: [`InstallError`]; the temporary folder is removed on every error.
pub(crate) async fn install(run_dir: &Path, spec: &Spec, timeout: Duration) -> Result<Installed, InstallError> {
    let name = spec.package.name();
    if is_plain_version(&spec.version) {
        let dir = package_dir(run_dir, name, &spec.version);
        if installed(&dir, name, &spec.version)? {
            return Ok(Installed {
                version: spec.version.clone(),
                dir,
                already: true,
            });
        }
    }
    check_node(spec.package).await?;
    let store = store_dir(run_dir);
    std::fs::create_dir_all(&store).map_err(|source| InstallError::Store {
        path: store.clone(),
        source,
    })?;
    let tmp = store.join(format!(".installing-{name}@{}-{}", spec.version, std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = install_into(&tmp, spec, timeout).await;
    let placed = match result {
        Ok(version) => place(&tmp, run_dir, name, version),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&tmp);
    placed
}

/// Runs npm into `tmp`; returns the version it installed.
async fn install_into(tmp: &Path, spec: &Spec, timeout: Duration) -> Result<String, InstallError> {
    std::fs::create_dir_all(tmp).map_err(|source| InstallError::Store {
        path: tmp.to_path_buf(),
        source,
    })?;
    let manifest = manifest(spec);
    let path = tmp.join("package.json");
    std::fs::write(&path, manifest).map_err(|source| InstallError::Store { path, source })?;
    let mut cmd = tokio::process::Command::new("npm");
    cmd.arg("install").arg("--prefix").arg(tmp).args([
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--engine-strict",
        "--loglevel=error",
    ]);
    if spec.package == Package::Clawdbot {
        cmd.arg("--ignore-scripts");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| InstallError::Npm(format!("cannot run npm: {e} (install Node.js with npm, or put it on PATH)")))?;
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(InstallError::Npm(format!("waiting for npm failed: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            return Err(InstallError::Npm(format!(
                "npm did not finish within {} (raise --timeout, or check the network and registry)",
                humantime::format_duration(timeout)
            )));
        }
    };
    if !status.success() {
        return Err(InstallError::Npm(format!(
            "npm install {} failed ({status}); its output is above",
            spec.display()
        )));
    }
    let pkg = tmp.join("node_modules").join(spec.package.name()).join("package.json");
    let text = crate::fleet::read_bounded(&pkg).map_err(|e| InstallError::Npm(format!("{}: {e} after npm install", pkg.display())))?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_string))
        .filter(|v| is_plain_version(v))
        .ok_or_else(|| InstallError::Npm(format!("{}: no plain `version` after npm install", pkg.display())))?;
    Ok(version)
}

/// The `package.json` of the store folder: the one dependency, exact; for clawdbot also the
/// pins its published manifest lacks (the same as `scripts/bootstrap`).
fn manifest(spec: &Spec) -> String {
    let mut deps = serde_json::Map::new();
    deps.insert(spec.package.name().into(), spec.version.clone().into());
    let mut m = serde_json::Map::new();
    m.insert("name".into(), "clawherd-store".into());
    m.insert("private".into(), true.into());
    if spec.package == Package::Clawdbot {
        deps.insert("strip-ansi".into(), "7.2.0".into());
        m.insert("overrides".into(), serde_json::json!({"libsignal": "6.0.0"}));
    }
    m.insert("dependencies".into(), serde_json::Value::Object(deps));
    serde_json::Value::Object(m).to_string()
}

/// Renames `tmp` to the version's folder; an existing folder (another install won the race) is
/// left alone.
fn place(tmp: &Path, run_dir: &Path, name: &str, version: String) -> Result<Installed, InstallError> {
    let dir = package_dir(run_dir, name, &version);
    if installed(&dir, name, &version)? {
        return Ok(Installed {
            version,
            dir,
            already: true,
        });
    }
    std::fs::rename(tmp, &dir).map_err(|source| InstallError::Store { path: dir.clone(), source })?;
    Ok(Installed {
        version,
        dir,
        already: false,
    })
}

/// Whether `dir` holds a complete install of `name@version`: `false` when nothing is there.
/// Complete: `node_modules/<name>/package.json` names that package and version, and the
/// program `node_modules/.bin/<name>` leads to a file.
///
/// Errors: [`InstallError::Broken`] when something is at `dir` that is not a complete install.
fn installed(dir: &Path, name: &str, version: &str) -> Result<bool, InstallError> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        _ => {}
    }
    let broken = |why: String| InstallError::Broken {
        dir: dir.to_path_buf(),
        spec: format!("{name}@{version}"),
        why,
    };
    let pkg = dir.join("node_modules").join(name).join("package.json");
    let text = crate::fleet::read_bounded(&pkg).map_err(|e| broken(format!("{}: {e}", pkg.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| broken(format!("{}: {e}", pkg.display())))?;
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    let (found_name, found_version) = (field("name"), field("version"));
    if found_name != name || found_version != version {
        return Err(broken(format!("{} says {found_name:?} version {found_version:?}", pkg.display())));
    }
    let program = dir.join("node_modules").join(".bin").join(name);
    if !program.is_file() {
        return Err(broken(format!("{} is missing", program.display())));
    }
    Ok(true)
}

/// Checks that `node` on PATH is recent enough for `package`.
async fn check_node(package: Package) -> Result<(), InstallError> {
    let (major, minor) = package.min_node();
    let hint = format!(
        "{} needs Node >= {major}.{minor} first on PATH (scripts/bootstrap installs one into .tools/ and prints the PATH)",
        package.name()
    );
    let out = tokio::process::Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(Duration::from_secs(30), out).await {
        Ok(Ok(o)) if o.status.success() => o,
        Ok(Ok(o)) => return Err(InstallError::Node(format!("`node --version` failed ({}): {hint}", o.status))),
        Ok(Err(e)) => return Err(InstallError::Node(format!("no `node` on PATH ({e}): {hint}"))),
        Err(_) => return Err(InstallError::Node(format!("`node --version` did not answer in 30 s: {hint}"))),
    };
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match parse_node_version(&text) {
        Some(v) if v >= (major, minor) => Ok(()),
        Some(_) => Err(InstallError::Node(format!("node on PATH is {text}: {hint}"))),
        None => Err(InstallError::Node(format!("cannot read `node --version` ({text:?}): {hint}"))),
    }
}

/// `v24.16.0` → `(24, 16)`.
fn parse_node_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.strip_prefix('v')?.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s = Spec::parse("openclaw@2026.9.6").expect("valid");
        assert_eq!((s.package, s.version.as_str()), (Package::OpenClaw, "2026.9.6"));
        assert_eq!(Spec::parse("clawdbot@2026.1.24-3").map(|s| s.package), Ok(Package::Clawdbot));
        assert!(Spec::parse("openclaw@latest").is_ok());
        for bad in [
            "openclaw",
            "openclaw@",
            "left-pad@1.0.0",
            "@openclaw/x@1.0.0",
            "openclaw@^2026.9.6",
            "openclaw@file:../x",
            "openclaw@git+https://github.com/openclaw/openclaw.git",
            "openclaw@https://registry.example/x.tgz",
            "openclaw@../../etc",
            "openclaw@2026.9.6 --registry=http://evil",
            "openclaw@github:openclaw/openclaw",
        ] {
            assert!(Spec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn manifests_pin_exactly() {
        let m: serde_json::Value = serde_json::from_str(&manifest(&Spec::parse("openclaw@2026.9.5").expect("valid"))).expect("json");
        assert_eq!(m["dependencies"], serde_json::json!({"openclaw": "2026.9.5"}));
        assert!(m.get("overrides").is_none());
        let m: serde_json::Value = serde_json::from_str(&manifest(&Spec::parse("clawdbot@2026.1.24-3").expect("valid"))).expect("json");
        assert_eq!(m["overrides"]["libsignal"], "6.0.0");
    }

    /// A version's folder that is not a complete install of it is reported, not taken for an
    /// install (which left `install` saying "already installed" while the fleet said "not
    /// installed"); a complete one is.
    #[tokio::test]
    async fn a_half_installed_version_is_reported() {
        let run = tempfile::tempdir().expect("tempdir");
        let spec = Spec::parse("openclaw@2026.9.6").expect("valid");
        let dir = package_dir(run.path(), "openclaw", "2026.9.6");
        let pkg = dir.join("node_modules/openclaw");
        std::fs::create_dir_all(&pkg).expect("mkdir");
        std::fs::write(pkg.join("package.json"), r#"{"name":"openclaw","version":"2026.9.6"}"#).expect("write");
        let timeout = Duration::from_secs(1);
        let e = install(run.path(), &spec, timeout).await.expect_err("no program");
        assert!(matches!(e, InstallError::Broken { .. }), "{e}");
        assert!(e.to_string().contains("node_modules/.bin/openclaw is missing"), "{e}");
        let bin = dir.join("node_modules/.bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::os::unix::fs::symlink("../openclaw/openclaw.mjs", bin.join("openclaw")).expect("link");
        std::fs::write(pkg.join("openclaw.mjs"), "").expect("write");
        std::fs::write(pkg.join("package.json"), r#"{"name":"openclaw","version":"2026.9.5"}"#).expect("write");
        let e = install(run.path(), &spec, timeout).await.expect_err("lies");
        assert!(e.to_string().contains(r#"says "openclaw" version "2026.9.5""#), "{e}");
        std::fs::write(pkg.join("package.json"), r#"{"name":"openclaw","version":"2026.9.6"}"#).expect("write");
        let i = install(run.path(), &spec, timeout).await.expect("complete");
        assert!(i.already);
    }

    #[test]
    fn node_versions() {
        assert_eq!(parse_node_version("v24.16.0"), Some((24, 16)));
        assert_eq!(parse_node_version("24.16.0"), None);
        assert!(parse_node_version("v20.20.2").is_some_and(|v| v < (24, 16)));
    }
}
