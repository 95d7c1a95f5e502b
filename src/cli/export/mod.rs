//! `clawherd export`: a proved fleet rendered for an engine that runs it without clawherd.
//!
//! The fleet file stays the source of truth: the CLI loads and proves it exactly as `check`,
//! `ports` and `env` do (a fleet that does not prove is refused before anything is written), then
//! one of the targets turns each profile's plan into that engine's objects:
//! - [`kubernetes_operator`]: `OpenClawInstance` resources of the OpenClaw Kubernetes operator;
//! - [`kubernetes_plain`]: a StatefulSet and a Service per profile, for clusters without it;
//! - [`systemd`]: one unit per profile, named as OpenClaw names its own gateway units.
//!
//! What the targets share is here and in [`model`]: which of a plan's variables are the
//! instance's own (not the exporting shell's), which of them are secret (by
//! [`crate::observe::redact`]'s rules, so they become references, never inline values), Kubernetes
//! names, the failover pairs that must not share a node, and where the files go.

pub(crate) mod kubernetes;
pub(crate) mod kubernetes_operator;
pub(crate) mod kubernetes_plain;
pub(crate) mod model;
pub(crate) mod systemd;

use std::path::{Path, PathBuf};

pub(crate) use model::{EnvEntry, EnvValue, Exported, Instance};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    /// Something in the fleet cannot be expressed by the target (names that collide once
    /// made valid for it, a name too long for it). Exit 78.
    #[error("{fleet}: profile `{profile}`: {what}\n  hint: {hint}")]
    Fleet {
        fleet: PathBuf,
        profile: String,
        what: String,
        /// How to fix it.
        hint: String,
    },
    /// An output file or folder cannot be written. Exit 1.
    #[error("cannot write {}: {source}\n  hint: pass an existing, writable folder with -o, or -o - for stdout", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        source: std::io::Error,
    },
    /// A document could not be rendered as YAML (an internal error). Exit 70.
    #[error("cannot render {what} as YAML: {message}")]
    Render { what: String, message: String },
}

/// One output file: its name (no folder) and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct File {
    /// File name, e.g. `main.yaml` or `openclaw-gateway-rescue.service`.
    pub name: String,
    pub text: String,
    /// Whether only the owner may read it (secret skeletons: mode 0600).
    pub private: bool,
}

/// Where files go: a folder (one file each), or stdout (all files, each after a `# FILE` line
/// for units, as YAML documents for manifests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Print on stdout.
    Stdout,
    /// Write into this existing folder, replacing files of the same names.
    Dir(PathBuf),
}

impl Destination {
    /// `-` (or nothing) is stdout, anything else a folder.
    pub(crate) fn parse(arg: Option<&Path>) -> Self {
        match arg {
            None => Destination::Stdout,
            Some(p) if p.as_os_str() == "-" || p.as_os_str() == "stdout" => Destination::Stdout,
            Some(p) => Destination::Dir(p.to_path_buf()),
        }
    }
}

/// Writes `files` into `dir` (which must exist), each replacing the file of its name
/// ([`crate::fleet::write::replace`]): a symlink of that name is replaced, never written
/// through, and a secret skeleton gets mode 0600 (others 0644) even over an existing file.
///
/// Errors: [`ExportError::Write`] naming the file that could not be written (a folder of that
/// name, a read-only or full folder).
pub(crate) fn write_dir(dir: &Path, files: &[File]) -> Result<Vec<PathBuf>, ExportError> {
    let meta = std::fs::metadata(dir).map_err(|source| ExportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ExportError::Write {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
        });
    }
    let mut written = Vec::with_capacity(files.len());
    for f in files {
        let path = dir.join(&f.name);
        let mode = if f.private { 0o600 } else { 0o644 };
        let result = crate::fleet::write::replace(&path, f.text.as_bytes(), mode);
        result.map_err(|source| ExportError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An output name that is a symlink is replaced, not written through; a secret skeleton
    /// over an existing world-readable file ends up 0600; a folder of that name is an error
    /// naming it.
    #[test]
    fn write_dir_replaces_links_and_sets_modes() {
        let t = tempfile::tempdir().expect("tempdir");
        let out = t.path().join("out");
        std::fs::create_dir(&out).expect("mkdir");
        let victim = t.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        std::os::unix::fs::symlink(&victim, out.join("main.yaml")).expect("link");
        std::fs::write(out.join("secrets.yaml"), "old").expect("write");
        std::fs::set_permissions(out.join("secrets.yaml"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let file = |name: &str, private| File {
            name: name.into(),
            text: format!("{name}\n"),
            private,
        };
        write_dir(&out, &[file("main.yaml", false), file("secrets.yaml", true)]).expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        assert!(std::fs::symlink_metadata(out.join("main.yaml")).expect("stat").is_file());
        let mode = std::fs::metadata(out.join("secrets.yaml")).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::create_dir(out.join("rescue.yaml")).expect("mkdir");
        let e = write_dir(&out, &[file("rescue.yaml", false)]).expect_err("a folder");
        assert!(e.to_string().contains("rescue.yaml"), "{e}");
    }
}
