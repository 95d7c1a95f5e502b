//! Telling systemd how clawherd is doing: the `sd_notify(3)` datagram protocol for a
//! `Type=notify` unit (`systemd/clawherd.service`).
//!
//! A [`Notifier`] is active only when the service manager gave a `NOTIFY_SOCKET`; otherwise every
//! call is a no-op returning `Ok(())`, so clawherd run by hand or by a test behaves the same.
//! Messages are formatted by the `sd-notify` crate ([`sd_notify::NotifyState`]); they are sent
//! here rather than through `sd_notify::notify` because that function reads the process
//! environment on every call, cannot be pointed at another socket (tests) and does not speak the
//! abstract-namespace form `@name` of `NOTIFY_SOCKET`.
//!
//! Nothing here changes the process environment: `NOTIFY_SOCKET`, `WATCHDOG_USEC` and
//! `WATCHDOG_PID` stay set (setting or removing variables in a threaded program is unsound), and
//! gateways never see them because [`crate::fleet::plan::SCRUBBED_ENV`] removes them from every
//! child's environment.
//!
//! Protocol (systemd `sd_notify(3)`, `systemd.service(5)`): one datagram of `KEY=VALUE` lines per
//! state change, sent from the main pid (`NotifyAccess=main`); `READY=1` ends start-up,
//! `RELOADING=1` + `MONOTONIC_USEC=` starts a reload (systemd ≥ 253 refuses a reload
//! notification without the timestamp) and a later `READY=1` ends it, `STOPPING=1` starts the
//! stop, `WATCHDOG=1` pets the watchdog, `STATUS=` is the one-line text `systemctl status` shows.

use sd_notify::NotifyState;
use std::collections::BTreeMap;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a [`Notifier`] sends its datagrams: a socket file, or a name in Linux's abstract
/// socket namespace (`NOTIFY_SOCKET=@name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotifyTarget {
    /// A socket file (`NOTIFY_SOCKET=/run/systemd/notify`).
    Path(PathBuf),
    /// An abstract socket name, without the leading `@` (sent as a leading NUL byte).
    Abstract(Vec<u8>),
}

/// A handle for `sd_notify` messages; cheap to clone, safe to share between threads.
///
/// Inactive (every call a no-op) when no usable `NOTIFY_SOCKET` was given.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notifier {
    target: Option<NotifyTarget>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// The notifier for this process, from its environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`,
    /// `WATCHDOG_PID`). Reads the environment once; changes nothing in it.
    pub(crate) fn from_env() -> Self {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Self::from_env_map(&env)
    }

    /// The notifier described by `env` (tests pass their own map), for the current process id.
    ///
    /// `NOTIFY_SOCKET` must be an absolute path or `@name` (abstract namespace); anything else
    /// (unset, empty, relative, systemd ≥ 254's `vsock:` form) gives an inactive notifier, the
    /// unsupported forms with a warning in clawherd's log. The watchdog interval comes from
    /// `WATCHDOG_USEC` (microseconds) when `WATCHDOG_PID` is unset or equals this process's pid,
    /// as `sd_watchdog_enabled(3)` does.
    pub(crate) fn from_env_map(env: &BTreeMap<String, String>) -> Self {
        Self::from_env_map_for_pid(env, std::process::id())
    }

    /// Like [`Notifier::from_env_map`] for a given process id (`WATCHDOG_PID` is compared with
    /// `pid`).
    pub(crate) fn from_env_map_for_pid(env: &BTreeMap<String, String>, pid: u32) -> Self {
        let target = match env.get("NOTIFY_SOCKET").map(String::as_str) {
            None | Some("") => None,
            Some(s) if s.starts_with('/') => Some(NotifyTarget::Path(PathBuf::from(s))),
            Some(s) => match s.strip_prefix('@').filter(|name| !name.is_empty()) {
                Some(name) => Some(NotifyTarget::Abstract(name.as_bytes().to_vec())),
                None => {
                    tracing::warn!(notify_socket = %s, "NOTIFY_SOCKET is neither an absolute path nor @name; not notifying systemd");
                    None
                }
            },
        };
        let watchdog = env
            .get("WATCHDOG_USEC")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0)
            .filter(|_| match env.get("WATCHDOG_PID") {
                None => true,
                Some(p) => p.trim().parse::<u32>().ok() == Some(pid),
            })
            .map(Duration::from_micros);
        Notifier { target, watchdog }
    }

    /// A notifier sending to the socket file at `path` (tests; a manager-independent listener).
    /// The watchdog is off.
    #[cfg_attr(not(test), allow(dead_code, reason = "only the unit tests use it"))]
    pub(crate) fn at(path: impl AsRef<Path>) -> Self {
        Notifier {
            target: Some(NotifyTarget::Path(path.as_ref().to_path_buf())),
            watchdog: None,
        }
    }

    /// True when messages are sent somewhere (a `NOTIFY_SOCKET` was given).
    pub(crate) fn is_active(&self) -> bool {
        self.target.is_some()
    }

    /// Where messages go, if anywhere.
    #[cfg_attr(not(test), allow(dead_code, reason = "only the unit tests use it"))]
    pub(crate) fn target(&self) -> Option<&NotifyTarget> {
        self.target.as_ref()
    }

    /// Start-up is finished: `READY=1` and `STATUS=<status>`. Also ends a reload begun with
    /// [`Notifier::reloading`].
    ///
    /// Errors: the datagram cannot be sent (socket gone, queue full: the socket is non-blocking
    /// so a stuck manager never stalls clawherd).
    pub(crate) fn ready(&self, status: &str) -> io::Result<()> {
        let status = one_line(status);
        self.send(&[NotifyState::Ready, NotifyState::Status(&status)])
    }

    /// The one-line status `systemctl status` shows: `STATUS=<status>` (newlines become spaces).
    ///
    /// Errors: as [`Notifier::ready`].
    pub(crate) fn status(&self, status: &str) -> io::Result<()> {
        let status = one_line(status);
        self.send(&[NotifyState::Status(&status)])
    }

    /// A reload starts: `RELOADING=1` and `MONOTONIC_USEC=<CLOCK_MONOTONIC now, µs>`, which
    /// systemd ≥ 253 requires with it. Send [`Notifier::ready`] when the reload is done (also
    /// when it was refused), or systemd keeps the unit in `reloading` until its start timeout.
    ///
    /// Errors: the monotonic clock cannot be read, or as [`Notifier::ready`].
    pub(crate) fn reloading(&self) -> io::Result<()> {
        if !self.is_active() {
            return Ok(());
        }
        let now = NotifyState::monotonic_usec_now()?;
        self.send(&[NotifyState::Reloading, now])
    }

    /// The stop begins: `STOPPING=1`. Send it before taking the gateways down.
    ///
    /// Errors: as [`Notifier::ready`].
    pub(crate) fn stopping(&self) -> io::Result<()> {
        self.send(&[NotifyState::Stopping])
    }

    /// Asks for more time for the current start, reload or stop: `EXTEND_TIMEOUT_USEC=<µs>`
    /// (saturating at `u32::MAX` µs, about 71 minutes). systemd then waits at least `extra` from
    /// now, even past `TimeoutStartSec=`/`TimeoutStopSec=`; send it again before it runs out.
    ///
    /// Errors: as [`Notifier::ready`].
    #[cfg_attr(not(test), allow(dead_code, reason = "only the unit tests use it"))]
    pub(crate) fn extend_timeout(&self, extra: Duration) -> io::Result<()> {
        let usec = u32::try_from(extra.as_micros()).unwrap_or(u32::MAX);
        self.send(&[NotifyState::ExtendTimeoutUsec(usec)])
    }

    /// The watchdog interval systemd expects pings within (`WatchdogSec=`, given as
    /// `WATCHDOG_USEC` for this pid), if the watchdog is on.
    #[cfg_attr(not(test), allow(dead_code, reason = "only the unit tests use it"))]
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// How often to call [`Notifier::watchdog`]: half of [`Notifier::watchdog_interval`], as
    /// `sd_watchdog_enabled(3)` recommends; `None` when the watchdog is off.
    pub(crate) fn watchdog_ping_period(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    /// Pets the watchdog: `WATCHDOG=1`. Call it from the loop whose liveness it should prove
    /// (the supervisor's), not from a timer task of its own.
    ///
    /// Errors: as [`Notifier::ready`].
    pub(crate) fn watchdog(&self) -> io::Result<()> {
        self.send(&[NotifyState::Watchdog])
    }

    /// Sends one datagram of `KEY=VALUE\n` lines; a no-op when inactive.
    fn send(&self, states: &[NotifyState<'_>]) -> io::Result<()> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        let msg = encode(states);
        let addr = match target {
            NotifyTarget::Path(p) => SocketAddr::from_pathname(p)?,
            NotifyTarget::Abstract(name) => abstract_addr(name)?,
        };
        let sock = UnixDatagram::unbound()?;
        sock.set_nonblocking(true)?;
        let sent = sock.send_to_addr(msg.as_bytes(), &addr)?;
        if sent != msg.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "incomplete sd_notify datagram"));
        }
        Ok(())
    }
}

/// The datagram for `states`: each `KEY=VALUE` followed by a newline, as `sd-notify` writes it.
pub(crate) fn encode(states: &[NotifyState<'_>]) -> String {
    states.iter().map(|s| format!("{s}\n")).collect()
}

/// `STATUS=` must be one line: newlines would start new (bogus) assignments.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "abstract sockets exist only on Linux"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bound datagram socket in a temp dir standing in for systemd's notify socket.
    fn listener() -> (tempfile::TempDir, PathBuf, UnixDatagram) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        (dir, path, sock)
    }

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).expect("datagram");
        String::from_utf8(buf[..n].to_vec()).expect("utf8")
    }

    #[test]
    fn sends_exact_datagrams_to_a_socket_file() {
        let (_dir, path, sock) = listener();
        let n = Notifier::at(&path);
        assert!(n.is_active());
        n.ready("2 instances ready").expect("ready");
        assert_eq!(recv(&sock), "READY=1\nSTATUS=2 instances ready\n");
        n.status("main: backoff\nrescue: ready").expect("status");
        assert_eq!(recv(&sock), "STATUS=main: backoff rescue: ready\n");
        n.watchdog().expect("watchdog");
        assert_eq!(recv(&sock), "WATCHDOG=1\n");
        n.stopping().expect("stopping");
        assert_eq!(recv(&sock), "STOPPING=1\n");
        n.extend_timeout(Duration::from_secs(30)).expect("extend");
        assert_eq!(recv(&sock), "EXTEND_TIMEOUT_USEC=30000000\n");
    }

    #[test]
    fn reloading_carries_a_current_monotonic_timestamp() {
        let (_dir, path, sock) = listener();
        let before = NotifyState::monotonic_usec_now().expect("clock");
        Notifier::at(&path).reloading().expect("reloading");
        let after = NotifyState::monotonic_usec_now().expect("clock");
        let msg = recv(&sock);
        let usec: i128 = msg
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|r| r.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("unexpected datagram {msg:?}"))
            .parse()
            .expect("number");
        let (NotifyState::MonotonicUsec(lo), NotifyState::MonotonicUsec(hi)) = (before, after) else {
            panic!("monotonic_usec_now gave another state");
        };
        assert!(lo <= usec && usec <= hi, "{lo} <= {usec} <= {hi}");
    }

    #[test]
    fn from_env_map_reads_socket_and_watchdog_without_touching_the_environment() {
        let (_dir, path, sock) = listener();
        let env: BTreeMap<String, String> = [
            ("NOTIFY_SOCKET", path.to_str().expect("utf8 path")),
            ("WATCHDOG_USEC", "20000000"),
            ("WATCHDOG_PID", "4242"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let n = Notifier::from_env_map_for_pid(&env, 4242);
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(20)));
        assert_eq!(n.watchdog_ping_period(), Some(Duration::from_secs(10)));
        n.ready("ok").expect("ready");
        assert_eq!(recv(&sock), "READY=1\nSTATUS=ok\n");
        // The watchdog belongs to another pid: off, but notifications still go out.
        let other = Notifier::from_env_map_for_pid(&env, 7);
        assert_eq!(other.watchdog_interval(), None);
        assert!(other.is_active());
        // No WATCHDOG_PID: the watchdog is ours.
        let mut no_pid = env.clone();
        no_pid.remove("WATCHDOG_PID");
        assert_eq!(Notifier::from_env_map(&no_pid).watchdog_interval(), Some(Duration::from_secs(20)));
    }

    #[test]
    fn without_notify_socket_everything_is_a_no_op() {
        for env in [BTreeMap::new(), [("NOTIFY_SOCKET".to_string(), "relative/sock".to_string())].into()] {
            let n = Notifier::from_env_map(&env);
            assert!(!n.is_active());
            n.ready("x").expect("no-op");
            n.reloading().expect("no-op");
            n.stopping().expect("no-op");
            n.watchdog().expect("no-op");
            assert_eq!(n.watchdog_ping_period(), None);
        }
    }

    #[test]
    fn a_gone_socket_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(Notifier::at(dir.path().join("missing")).ready("x").is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn speaks_the_abstract_namespace_form() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("clawherd-test-notify-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let sock = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        sock.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let env = [("NOTIFY_SOCKET".to_string(), format!("@{name}"))].into();
        let n = Notifier::from_env_map(&env);
        assert_eq!(n.target(), Some(&NotifyTarget::Abstract(name.into_bytes())));
        n.stopping().expect("stopping");
        assert_eq!(recv(&sock), "STOPPING=1\n");
    }
}
