//! Writing `<run_dir>/versions/pins.json` (profile → version), the override `clawherd upgrade`
//! uses so that the operator's fleet file is never edited: the fleet loader reads it
//! ([`crate::fleet::versions::read_pins`]) and a pin wins over the profile's `openclaw_version`.

use crate::fleet::versions::{PinsError, is_plain_version, pins_path, read_pins, store_dir};
use std::collections::BTreeMap;
use std::path::Path;

/// Sets (`Some`) or removes (`None`) the pin of each profile in `changes`, keeping the others;
/// the file is replaced atomically ([`crate::fleet::write::replace`]: written to a fresh file
/// beside it, then renamed; a link planted under either name is never written through), and
/// removed when no pin is left.
///
/// Errors: the existing file is unreadable ([`PinsError`]), a version is not plain, or the
/// store cannot be written (as [`PinsError::Invalid`] with the OS error).
pub(crate) fn update(run_dir: &Path, changes: &BTreeMap<String, Option<String>>) -> Result<BTreeMap<String, String>, PinsError> {
    let path = pins_path(run_dir);
    let io = |e: std::io::Error| PinsError::Invalid {
        path: path.clone(),
        message: format!("cannot write: {e}"),
    };
    let mut pins = read_pins(run_dir)?;
    for (profile, version) in changes {
        match version {
            Some(v) if !is_plain_version(v) => {
                return Err(PinsError::Invalid {
                    path,
                    message: format!("`{v}` is not a plain version"),
                });
            }
            Some(v) => {
                pins.insert(profile.clone(), v.clone());
            }
            None => {
                pins.remove(profile);
            }
        }
    }
    if pins.is_empty() {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => return Ok(pins),
        }
    }
    std::fs::create_dir_all(store_dir(run_dir)).map_err(io)?;
    let text = serde_json::to_string_pretty(&pins).map_err(|e| io(std::io::Error::other(e)))?;
    crate::fleet::write::replace(&path, (text + "\n").as_bytes(), 0o644).map_err(io)?;
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keep_and_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let set = |p: &str, v: Option<&str>| BTreeMap::from([(p.to_string(), v.map(str::to_string))]);
        update(dir.path(), &set("rescue", Some("2026.9.6"))).expect("write");
        let pins = update(dir.path(), &set("main", Some("2026.9.6"))).expect("write");
        assert_eq!(pins.len(), 2);
        assert_eq!(read_pins(dir.path()).expect("read"), pins);
        assert!(update(dir.path(), &set("main", Some("../x"))).is_err());
        update(dir.path(), &set("main", None)).expect("write");
        update(dir.path(), &set("rescue", None)).expect("write");
        assert!(!pins_path(dir.path()).exists());
    }

    /// A symlink planted where the temporary file goes is never written through.
    #[test]
    fn never_writes_through_a_planted_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(store_dir(dir.path())).expect("mkdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        let pid = std::process::id();
        for name in [format!("pins.json.tmp-{pid}"), format!(".pins.json.tmp-{pid}")] {
            std::os::unix::fs::symlink(&victim, store_dir(dir.path()).join(name)).expect("plant");
        }
        let set = BTreeMap::from([("main".to_string(), Some("2026.9.6".to_string()))]);
        update(dir.path(), &set).expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        assert_eq!(read_pins(dir.path()).expect("read").len(), 1);
    }
}
