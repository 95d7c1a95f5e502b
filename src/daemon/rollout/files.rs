//! The config-file side of a rollback: keep the refused content beside the original and write
//! the last-known-good back, never over an edit that arrived during the rollout.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The current content of `path`: `None` when there is no such file; unreadable content (not a
/// regular file, too large, not UTF-8) is also `None`, logged.
pub(crate) fn content(path: &Path) -> Option<String> {
    match crate::fleet::read_bounded(path) {
        Ok(t) => Some(t),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the config file");
            None
        }
    }
}

/// `<config>.rejected-<timestamp>` for `config` at `now` (UTC, `YYYYMMDDTHHMMSSZ`).
pub(crate) fn rejected_path(config: &Path, now: SystemTime) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let name = config.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    config.with_file_name(format!("{name}.rejected-{stamp}"))
}

/// Keeps `rejected` (the content the failed change ran with) as `<config>.rejected-<timestamp>`
/// (mode 0600, as it holds the gateway's secrets). Returns where.
///
/// Nothing already at that name is overwritten or followed (an operator's file, a second
/// rejection within the same second, a planted symlink): the copy then goes to
/// `<config>.rejected-<timestamp>-2`, `-3`, ... ([`crate::fleet::write::create_numbered`]).
///
/// Errors: the file cannot be written, or every name is taken.
pub(crate) fn keep_rejected(config: &Path, rejected: &str) -> std::io::Result<PathBuf> {
    keep_rejected_at(config, rejected, SystemTime::now())
}

/// [`keep_rejected`] at `now`.
fn keep_rejected_at(config: &Path, rejected: &str, now: SystemTime) -> std::io::Result<PathBuf> {
    crate::fleet::write::create_numbered(&rejected_path(config, now), rejected.as_bytes(), 0o600)
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Restore {
    /// The last-known-good content was written back.
    Restored,
    /// The file already holds the last-known-good content (the change was elsewhere).
    AlreadyGood,
    /// The file changed since the failed change was started: an edit made during the rollout,
    /// left as is.
    EditedMeanwhile,
    /// Writing failed (the error).
    Failed(String),
}

/// Writes `good` back to `config` unless the file changed since the failed change started
/// with `launched` (then it is a newer edit: left alone, never overwritten). The file keeps its
/// owner, group and mode ([`crate::fleet::write::replace_keeping_owner`]).
pub(crate) fn restore(config: &Path, launched: Option<&str>, good: Option<&str>) -> Restore {
    let now = content(config);
    if now.as_deref() == good {
        return Restore::AlreadyGood;
    }
    if now.as_deref() != launched {
        return Restore::EditedMeanwhile;
    }
    let Some(good) = good else {
        // No good content to go back to (the file did not exist): leave it.
        return Restore::AlreadyGood;
    };
    // Owner and mode as they were: a gateway with its own `user:` must still read its config
    // after a root clawherd writes it back.
    match crate::fleet::write::replace_keeping_owner(config, good.as_bytes(), 0o600) {
        Ok(()) => Restore::Restored,
        Err(e) => Restore::Failed(e.to_string()),
    }
}

/// Whether OpenClaw applies edits of the config at `path` by itself, outside clawherd's proof
/// ([`ConfigFile::reloads_itself`](crate::fleet::openclaw::ConfigFile::reloads_itself)). A
/// missing file counts (OpenClaw's defaults); an unreadable one does not (the proof reports it).
pub(crate) fn reloads_itself(path: &Path) -> bool {
    crate::fleet::openclaw::read_config(path).is_ok_and(|c| c.reloads_itself())
}

/// The advice `check` and `init` print for the profiles (`name`, config) whose OpenClaw applies
/// config edits itself ([`reloads_itself`]); `None` when there are none.
pub(crate) fn reload_mode_advice(profiles: &[(String, PathBuf)]) -> Option<String> {
    let live: Vec<String> = profiles.iter().filter(|(_, c)| reloads_itself(c)).map(|(n, _)| n.clone()).collect();
    live_reload_advice(&live)
}

/// The advice for the profiles named in `live`, whose OpenClaw applies config edits itself (the
/// first ten named, then a count); `None` when there are none.
pub(crate) fn live_reload_advice(live: &[String]) -> Option<String> {
    const NAMED: usize = 10;
    let (first, more) = live.split_at(live.len().min(NAMED));
    if first.is_empty() {
        return None;
    }
    let mut names = first.join(", ");
    if !more.is_empty() {
        names.push_str(&format!(" and {} more", more.len()));
    }
    Some(format!(
        "note: {names}: `gateway.reload.mode` is not \"off\", so OpenClaw applies edits of its config by itself (hot-safe keys live, others by restarting itself), without clawherd's proof and rollback\n  hint: set `gateway: {{ reload: {{ mode: \"off\" }} }}` in each config, so that every change goes through `clawherd reload` (docs/rollout.md)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rejected copy is kept beside the config with a timestamp.
    #[test]
    fn rejected_path_is_beside_the_config() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(
            rejected_path(Path::new("/s/openclaw.json"), t),
            PathBuf::from("/s/openclaw.json.rejected-20231114T221320Z")
        );
    }

    /// A file (or symlink) already at the rejected name is left alone: the copy takes the next
    /// free name and nothing is written through the link.
    #[test]
    fn keep_rejected_never_overwrites_or_follows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = dir.path().join("c.json");
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let taken = rejected_path(&c, now);
        std::fs::write(&taken, "the operator's own file").expect("write");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        let second = PathBuf::from(format!("{}-2", taken.display()));
        std::os::unix::fs::symlink(&victim, &second).expect("plant link");
        let kept = keep_rejected_at(&c, "bad", now).expect("keep");
        assert_eq!(kept, PathBuf::from(format!("{}-3", taken.display())));
        assert_eq!(std::fs::read_to_string(&kept).expect("read"), "bad");
        assert_eq!(std::fs::read_to_string(&taken).expect("read"), "the operator's own file");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    }

    /// Only `gateway.reload.mode: "off"` stops OpenClaw's own reload; the advice names the rest.
    #[test]
    fn reload_mode_advice_names_live_configs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let off = dir.path().join("off.json5");
        std::fs::write(&off, "{ gateway: { reload: { mode: \"off\" } } }").expect("write");
        let hybrid = dir.path().join("hybrid.json5");
        std::fs::write(&hybrid, "{ gateway: { reload: { mode: \"hybrid\" } } }").expect("write");
        let missing = dir.path().join("missing.json5");
        assert!(!reloads_itself(&off));
        assert!(reloads_itself(&hybrid) && reloads_itself(&missing));
        let advice = reload_mode_advice(&[("a".into(), off.clone()), ("b".into(), hybrid), ("c".into(), missing)]);
        assert!(
            advice
                .as_deref()
                .is_some_and(|a| a.starts_with("note: b, c: `gateway.reload.mode`")),
            "{advice:?}"
        );
        assert_eq!(reload_mode_advice(&[("a".into(), off)]), None);
    }

    /// A fleet of many live configs gets one line of bounded length: ten names, then a count.
    #[test]
    fn reload_mode_advice_names_ten_then_counts() {
        let live: Vec<String> = (0..1000).map(|i| format!("g{i}")).collect();
        let advice = live_reload_advice(&live).expect("advice");
        assert!(
            advice.starts_with("note: g0, g1, g2, g3, g4, g5, g6, g7, g8, g9 and 990 more: "),
            "{advice}"
        );
        assert!(!advice.contains("g10,"), "{advice}");
        assert_eq!(live_reload_advice(&[]), None);
    }

    /// Writing the good content back keeps the config's mode (and, as root, its owner): a
    /// gateway with its own `user:` must still read it.
    #[test]
    fn restore_keeps_mode_and_owner() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().expect("tempdir");
        let c = dir.path().join("c.json");
        std::fs::write(&c, "bad").expect("write");
        std::fs::set_permissions(&c, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let root = nix::unistd::geteuid().is_root();
        if root {
            std::os::unix::fs::chown(&c, Some(4321), Some(4322)).expect("chown");
        }
        assert_eq!(restore(&c, Some("bad"), Some("good")), Restore::Restored);
        let m = std::fs::metadata(&c).expect("stat");
        assert_eq!(m.mode() & 0o777, 0o640);
        if root {
            assert_eq!((m.uid(), m.gid()), (4321, 4322));
        }
    }

    /// The good content is written back only over the content the change ran with.
    #[test]
    fn restore_never_overwrites_an_edit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = dir.path().join("c.json");
        std::fs::write(&c, "bad").expect("write");
        assert_eq!(restore(&c, Some("bad"), Some("good")), Restore::Restored);
        assert_eq!(std::fs::read_to_string(&c).expect("read"), "good");
        assert_eq!(restore(&c, Some("bad"), Some("good")), Restore::AlreadyGood);
        std::fs::write(&c, "edited").expect("write");
        assert_eq!(restore(&c, Some("bad"), Some("good")), Restore::EditedMeanwhile);
        assert_eq!(std::fs::read_to_string(&c).expect("read"), "edited");
        let kept = keep_rejected(&c, "bad").expect("keep");
        assert_eq!(std::fs::read_to_string(kept).expect("read"), "bad");
    }
}
