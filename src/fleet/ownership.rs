//! The kernel's half of the isolation proof, for profiles with `user:`: each such gateway must
//! be able to reach and write its own state dir, config, workspace and log file, and no other
//! instance's user may write them. [`super::isolation`] proves that no two instances share a
//! path; this module checks that file ownership and modes enforce it.
//!
//! Access is judged from owner, group and mode bits as the kernel checks them for a process
//! with the profile's uid, gid and supplementary groups (ACLs are not read). A path that does
//! not exist yet must be creatable: its nearest existing folder writable by the user, unless it
//! lies inside the working directory that clawherd creates for that user at spawn.
//!
//! For every gateway, with or without `user:`, the state dir, workspace and log file must not be
//! on a read-only file system: under the system unit `ProtectSystem=full` makes `/etc` read-only,
//! so a fleet file in `/etc/clawherd` with `state_dir: state/main` gives gateways that fail with
//! "requires state migration" (OpenClaw cannot create `<state>/state`) and crash-loop, which
//! reads like a state-dir lock held by another gateway. The proof says what it is instead.

use super::diagnostic::Diagnostic;
use super::{PathKind, Plan, Profile, RunAs};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Write permission (`w` bits of owner, group, other).
const WRITE: u32 = 0o222;
/// Search permission on a folder (`x` bits).
const SEARCH: u32 = 0o111;

/// Every ownership problem of the fleet: errors for a path its user cannot reach or write, or
/// that another instance's user can write; a warning for profiles that share a user.
pub(crate) fn check(instances: &[(Profile, Plan)]) -> Vec<Diagnostic> {
    let mut out = shared_users(instances);
    for (profile, plan) in instances {
        out.extend(read_only(profile, plan));
        let Some(run_as) = &profile.run_as else { continue };
        for (kind, path) in plan.paths() {
            if kind == PathKind::CanvasRoot {
                continue;
            }
            let place = path.source.place_or(&profile.place);
            let problem = own_access(&path.value, kind, run_as, &plan.cwd).or_else(|| {
                others_write(&path.value, kind, profile, instances).map(|(other, why)| Problem {
                    message: format!(
                        "{} {} is writable by user `{}` of profile '{other}': {why}",
                        kind.as_str(),
                        path.value.display(),
                        other_user(instances, &other)
                    ),
                    hint: format!(
                        "`chmod go-w {}` (each instance's files must be writable only by its own user)",
                        path.value.display()
                    ),
                })
            });
            if let Some(p) = problem {
                out.push(
                    Diagnostic::error(place, p.message)
                        .profile(&profile.name)
                        .note(format!(
                            "profile '{}' runs as user `{}` (`user:` at {})",
                            profile.name, run_as.user, run_as.place
                        ))
                        .hint(p.hint),
                );
            }
        }
    }
    out
}

/// An error for each of the gateway's state dir, workspace and log file that is (or would be
/// created) on a read-only file system.
fn read_only(profile: &Profile, plan: &Plan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (kind, path) in plan.paths() {
        if !matches!(
            kind,
            PathKind::StateDir | PathKind::Workspace | PathKind::LogFile | PathKind::AgentWorkspace | PathKind::AgentDir
        ) {
            continue;
        }
        let Some(dir) = path.value.ancestors().find(|d| d.exists()) else {
            continue;
        };
        let read_only = nix::sys::statvfs::statvfs(dir).is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
        if !read_only {
            continue;
        }
        let message = format!(
            "the {} {} is on a read-only file system ({} is read-only here): the gateway cannot write it",
            kind.as_str(),
            path.value.display(),
            dir.display()
        );
        out.push(
            Diagnostic::error(path.source.place_or(&profile.place), message)
                .profile(&profile.name)
                .note(format!("{} of this profile comes from {}", kind.as_str(), path.source))
                .note("under the system unit, ProtectSystem=full makes /usr, /boot and /etc read-only; OpenClaw then exits with \"requires state migration\" and the gateway crash-loops")
                .hint("keep state, workspaces and logs under /var/lib (the unit's StateDirectory=/var/lib/clawherd), e.g. `state_dir: /var/lib/clawherd/state/NAME`, and point the config's logging.file and agents.defaults.workspace there too"),
        );
    }
    out
}

/// What is wrong with one path and how to fix it.
struct Problem {
    message: String,
    hint: String,
}

/// A warning for each user that more than one profile runs as.
fn shared_users(instances: &[(Profile, Plan)]) -> Vec<Diagnostic> {
    let mut by_user: BTreeMap<&str, Vec<&Profile>> = BTreeMap::new();
    for (profile, _) in instances {
        if let Some(r) = &profile.run_as {
            by_user.entry(r.user.as_str()).or_default().push(profile);
        }
    }
    let mut out = Vec::new();
    for (user, profiles) in by_user {
        let [first, rest @ ..] = profiles.as_slice() else { continue };
        for p in rest {
            let Some(r) = &p.run_as else { continue };
            let message = format!("profiles '{}' and '{}' both run as user `{user}`", first.name, p.name);
            out.push(
                Diagnostic::warning(r.place.clone(), message)
                    .profile(&p.name)
                    .key(format!("profiles.{}.user", p.name))
                    .note("each can read and write the other's state, credentials and sessions: only the path proof keeps them apart, not the kernel")
                    .hint(format!("give '{}' its own user (`useradd --system --create-home {}`)", p.name, p.name)),
            );
        }
    }
    out
}

/// Whether `run_as` can reach `path` and write it (or create it); the problem if not.
fn own_access(path: &Path, kind: PathKind, run_as: &RunAs, cwd: &Path) -> Option<Problem> {
    let who = format!("user `{}`", run_as.user);
    let owner = format!("{}:{}", run_as.user, run_as.group);
    // Every existing folder above the path must be searchable.
    for dir in path.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(dir) else { continue };
        if !allows(&meta, run_as, SEARCH) {
            return Some(Problem {
                message: format!(
                    "{who} cannot reach the {} {}: {} is {} (mode {:04o}) and not searchable by it",
                    kind.as_str(),
                    path.display(),
                    dir.display(),
                    owned_by(&meta),
                    meta.mode() & 0o7777
                ),
                hint: format!(
                    "`chmod o+x {}`, or move the {} under a folder the user can reach (its home)",
                    dir.display(),
                    kind.as_str()
                ),
            });
        }
    }
    match std::fs::metadata(path) {
        Ok(meta) if allows(&meta, run_as, WRITE) => None,
        Ok(meta) => {
            let recursive = if meta.is_dir() { "-R " } else { "" };
            Some(Problem {
                message: format!(
                    "the {} {} is {} (mode {:04o}) and not writable by {who}",
                    kind.as_str(),
                    path.display(),
                    owned_by(&meta),
                    meta.mode() & 0o7777
                ),
                hint: format!("`chown {recursive}{owner} {}`", path.display()),
            })
        }
        // Missing: clawherd creates the working directory (and so what is inside it) for the user.
        Err(_) if path.starts_with(cwd) && !cwd.exists() => None,
        Err(_) => {
            let (dir, meta) = path.ancestors().skip(1).find_map(|d| std::fs::metadata(d).ok().map(|m| (d, m)))?;
            if allows(&meta, run_as, WRITE) {
                return None;
            }
            let mkdir = match kind {
                PathKind::Config | PathKind::LogFile => path.parent().unwrap_or(path),
                _ => path,
            };
            Some(Problem {
                message: format!(
                    "the {} {} does not exist, and {who} cannot create it: {} is {} (mode {:04o})",
                    kind.as_str(),
                    path.display(),
                    dir.display(),
                    owned_by(&meta),
                    meta.mode() & 0o7777
                ),
                hint: format!("`mkdir -p {0} && chown {owner} {0}`", mkdir.display()),
            })
        }
    }
}

/// The first other instance (profile name) whose user is not this one's and can write `path`,
/// with the reason.
fn others_write(path: &Path, kind: PathKind, profile: &Profile, instances: &[(Profile, Plan)]) -> Option<(String, String)> {
    let meta = std::fs::metadata(path).ok()?;
    let mine = profile.run_as.as_ref()?.credentials.uid;
    instances.iter().find_map(|(other, _)| {
        let r = other.run_as.as_ref()?;
        if r.credentials.uid == mine || r.credentials.uid == 0 || !allows(&meta, r, WRITE) {
            return None;
        }
        let why = format!(
            "the {} is {} with mode {:04o}",
            kind.as_str(),
            owned_by(&meta),
            meta.mode() & 0o7777
        );
        Some((other.name.clone(), why))
    })
}

/// The user name of profile `name` (empty when it has none).
fn other_user(instances: &[(Profile, Plan)], name: &str) -> String {
    instances
        .iter()
        .find(|(p, _)| p.name == name)
        .and_then(|(p, _)| p.run_as.as_ref())
        .map(|r| r.user.clone())
        .unwrap_or_default()
}

/// `owned by USER:GROUP` of a file, names looked up (numbers when they have none).
fn owned_by(meta: &std::fs::Metadata) -> String {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(meta.uid()))
        .ok()
        .flatten()
        .map_or_else(|| meta.uid().to_string(), |u| u.name);
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(meta.gid()))
        .ok()
        .flatten()
        .map_or_else(|| meta.gid().to_string(), |g| g.name);
    format!("owned by {user}:{group}")
}

/// Whether the kernel grants `run_as` the permission of `bits` (one of [`WRITE`], [`SEARCH`])
/// on a file with `meta`: root always; the owner by the owner bit, a member of the file's group
/// by the group bit, anyone else by the other bit.
fn allows(meta: &std::fs::Metadata, run_as: &RunAs, bits: u32) -> bool {
    grants(meta.uid(), meta.gid(), meta.mode(), &run_as.credentials, bits)
}

/// [`allows`] on the raw owner, group and mode.
fn grants(uid: u32, gid: u32, mode: u32, c: &crate::process::spawn::Credentials, bits: u32) -> bool {
    if c.uid == 0 {
        return true;
    }
    let class = if uid == c.uid {
        0o700
    } else if gid == c.gid || c.groups.contains(&gid) {
        0o070
    } else {
        0o007
    };
    mode & bits & class != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::spawn::Credentials;

    fn creds(uid: u32, gid: u32, groups: &[u32]) -> Credentials {
        Credentials {
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn the_kernel_picks_exactly_one_class_of_bits() {
        let alice = creds(1001, 1001, &[1001, 50]);
        // Owner: only the owner bits count, even when group and other would allow more.
        assert!(grants(1001, 0, 0o700, &alice, WRITE));
        assert!(!grants(1001, 1001, 0o077, &alice, WRITE));
        // Group, primary or supplementary.
        assert!(grants(0, 1001, 0o770, &alice, WRITE));
        assert!(grants(0, 50, 0o750, &alice, SEARCH));
        assert!(!grants(0, 50, 0o750, &alice, WRITE));
        // Other.
        assert!(grants(0, 0, 0o755, &alice, SEARCH));
        assert!(!grants(0, 0, 0o700, &alice, SEARCH));
        assert!(!grants(0, 0, 0o755, &alice, WRITE));
        assert!(grants(0, 0, 0o1777, &alice, WRITE));
        // Root passes every check.
        assert!(grants(5, 5, 0o000, &creds(0, 0, &[]), WRITE));
    }
}
