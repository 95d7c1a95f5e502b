//! Who may use the control socket: the connecting process's credentials (`SO_PEERCRED`), its
//! supplementary groups from `/proc`, the [`AccessPolicy`], and the middleware that applies it
//! to every request.

use super::reply::error;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request as HttpRequest, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::UnixStream;

/// Who may use the socket besides root and clawherd's own user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessPolicy {
    /// clawherd's effective uid.
    pub owner_uid: u32,
    /// A group whose members are allowed (`control.group`).
    pub group_gid: Option<u32>,
}

/// A connecting process's credentials (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its pid, if the kernel gave one.
    pub pid: Option<i32>,
}

impl Peer {
    /// The credentials of the process at the other end of `stream`; unknown credentials become
    /// uid and gid `u32::MAX`, which no policy allows.
    pub fn of(stream: &UnixStream) -> Self {
        match stream.peer_cred() {
            Ok(c) => Peer {
                uid: c.uid(),
                gid: c.gid(),
                pid: c.pid(),
            },
            Err(_) => Peer {
                uid: u32::MAX,
                gid: u32::MAX,
                pid: None,
            },
        }
    }
}

impl AccessPolicy {
    /// Whether `peer` may use the API: root, the owner, or a member (primary or supplementary,
    /// given as `groups`) of the configured group.
    pub fn allows(&self, peer: &Peer, groups: &[u32]) -> bool {
        peer.uid == 0 || peer.uid == self.owner_uid || self.group_gid.is_some_and(|g| peer.gid == g || groups.contains(&g))
    }
}

/// Supplementary groups of `pid` from `/proc/PID/status` (none when it cannot be read).
fn supplementary_groups(pid: Option<i32>) -> Vec<u32> {
    let Some(pid) = pid else { return Vec::new() };
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| g.split_whitespace().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default()
}

/// Middleware: answers 403 to a peer the policy does not allow, passes the rest on.
pub(super) async fn authorize(
    State(policy): State<AccessPolicy>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: HttpRequest,
    next: Next,
) -> Response {
    if policy.allows(&peer, &supplementary_groups(peer.pid)) {
        return next.run(req).await;
    }
    tracing::warn!(uid = peer.uid, gid = peer.gid, pid = ?peer.pid, "control connection refused");
    error(
        StatusCode::FORBIDDEN,
        format!("uid {} may not control this fleet", peer.uid),
        Some("run as clawherd's user or root, or add the user to the group named in `control.group`".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_policy_table() {
        let p = AccessPolicy {
            owner_uid: 1000,
            group_gid: Some(50),
        };
        let peer = |uid, gid| Peer { uid, gid, pid: None };
        assert!(p.allows(&peer(0, 0), &[]), "root");
        assert!(p.allows(&peer(1000, 1000), &[]), "owner");
        assert!(p.allows(&peer(1001, 50), &[]), "primary group");
        assert!(p.allows(&peer(1001, 1001), &[7, 50]), "supplementary group");
        assert!(!p.allows(&peer(1001, 1001), &[7]), "stranger");
        let no_group = AccessPolicy {
            owner_uid: 1000,
            group_gid: None,
        };
        assert!(!no_group.allows(&peer(1001, 50), &[50]));
        assert!(!no_group.allows(&peer(u32::MAX, u32::MAX), &[]), "unknown credentials");
    }
}
