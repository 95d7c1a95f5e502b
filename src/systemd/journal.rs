//! The systemd journal: whether clawherd's output already goes there, and writing gateway output
//! lines to it as structured entries.
//!
//! Under systemd, stdout and stderr of a service are usually a stream to journald, and systemd
//! says so with `JOURNAL_STREAM=<device>:<inode>` of that stream (`systemd.exec(5)`, "Environment
//! variables set or propagated by the service manager"): a program that finds those numbers on
//! its own stderr may log natively instead, keeping fields and priorities. The variable is
//! inherited by children that may write elsewhere, hence the comparison with `fstat` and never
//! trusting the variable alone.
//!
//! Native protocol (systemd's `JOURNAL_NATIVE_PROTOCOL`): one datagram per entry to
//! `/run/systemd/journal/socket`, fields as `KEY=value\n`, or, for values holding a newline,
//! `KEY\n` + value length as 64-bit little-endian + value + `\n`.
//!
//! Never both: when clawherd writes an entry natively, the same text must not also reach stdout
//! or stderr, or journald stores it twice (once with fields, once as a plain stream line). So
//! [`journald_layer`] replaces the fmt-to-stderr layer rather than joining it, and when gateway
//! lines go through [`JournalWriter`] the `[profile] line` console mirror on stdout must be off
//! if stdout is the journal ([`stdout_is_journal`]).

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// journald's socket for native entries.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// `SYSLOG_IDENTIFIER` of everything clawherd writes (`journalctl -t clawherd`).
pub const SYSLOG_IDENTIFIER: &str = "clawherd";

/// Longest `MESSAGE` sent, in bytes; longer gateway lines are cut (at a character boundary) and
/// marked. A Unix datagram may not exceed the socket's send buffer (`net.core.wmem_default`,
/// 208 KiB by default); journald's own memfd route for larger entries is not used here.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Which output of a gateway a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    /// Standard output: `PRIORITY=6` (info), `CLAWHERD_STREAM=stdout`.
    Stdout,
    /// Standard error: `PRIORITY=3` (err), `CLAWHERD_STREAM=stderr`.
    Stderr,
}

impl OutputStream {
    /// The `CLAWHERD_STREAM` value.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        }
    }

    /// The syslog priority of its lines: 6 (info) for stdout, 3 (err) for stderr.
    pub fn priority(self) -> u8 {
        match self {
            OutputStream::Stdout => 6,
            OutputStream::Stderr => 3,
        }
    }
}

/// Parses `JOURNAL_STREAM`'s `<device>:<inode>` (both decimal).
pub fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.trim().split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// True when `fd` is the stream `journal_stream` (a `JOURNAL_STREAM` value) names: its `fstat`
/// device and inode equal the variable's. False when the variable is absent or malformed, or
/// `fstat` fails.
#[allow(clippy::unnecessary_cast)] // st_dev and st_ino are not u64 on every target
pub fn fd_is_journal(journal_stream: Option<&str>, fd: impl AsFd) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(parse_journal_stream) else {
        return false;
    };
    match nix::sys::stat::fstat(fd) {
        Ok(st) => st.st_dev as u64 == dev && st.st_ino as u64 == ino,
        Err(_) => false,
    }
}

/// True when this process's stderr is connected to the journal (`JOURNAL_STREAM` from the
/// process environment matches fd 2), i.e. clawherd runs as a systemd service with the default
/// `StandardError=`. Then clawherd's own logs should go through [`journald_layer`].
pub fn stderr_is_journal() -> bool {
    let var = std::env::var("JOURNAL_STREAM").ok();
    fd_is_journal(var.as_deref(), io::stderr())
}

/// True when this process's stdout is connected to the journal (see [`stderr_is_journal`]). Then
/// the console mirror of gateway output would duplicate what [`JournalWriter`] writes.
pub fn stdout_is_journal() -> bool {
    let var = std::env::var("JOURNAL_STREAM").ok();
    fd_is_journal(var.as_deref(), io::stdout())
}

/// A `tracing` layer writing clawherd's own events to the journal, when (and only when) stderr
/// is the journal and journald's socket answers; `None` otherwise, and main.rs keeps its
/// fmt-to-stderr layer.
///
/// Never both: install this layer *instead of* the fmt layer, never beside it, or every event
/// is stored twice. Entries carry `SYSLOG_IDENTIFIER=clawherd`, priorities mapped from levels
/// (error 3, warn 4, info 5, debug 6, trace 7), `CODE_FILE`/`CODE_LINE`, `TARGET`, and every
/// event field upper-cased without prefix, so `profile = %name` becomes `PROFILE=name`, the same
/// field [`JournalWriter`] puts on gateway lines: `journalctl -u clawherd PROFILE=main` shows
/// both.
pub fn journald_layer() -> Option<tracing_journald::Layer> {
    if !stderr_is_journal() {
        return None;
    }
    let layer = tracing_journald::layer().ok()?;
    Some(layer.with_field_prefix(None).with_syslog_identifier(SYSLOG_IDENTIFIER.to_string()))
}

/// Writes gateway output lines to the journal as native entries with fields `MESSAGE` (the line
/// after `[profile] `), `PRIORITY` (6 stdout, 3 stderr), `SYSLOG_IDENTIFIER=clawherd`,
/// `PROFILE=<profile>` and `CLAWHERD_STREAM=stdout|stderr`. Safe to share between threads (`&self` methods).
///
/// Sends block for at most one second (a stalled journald), so call it from a writer thread,
/// not from the async runtime.
#[derive(Debug)]
pub struct JournalWriter {
    socket: UnixDatagram,
    path: PathBuf,
}

impl JournalWriter {
    /// A writer to journald's socket, [`JOURNAL_SOCKET`].
    ///
    /// Errors: the local socket cannot be created, or journald does not answer an empty probe
    /// datagram (no journald on this host, or the socket is not reachable).
    pub fn new() -> io::Result<Self> {
        let w = Self::at(JOURNAL_SOCKET)?;
        // journald discards an empty datagram; a failure here means nobody listens.
        w.socket.send_to(&[], &w.path)?;
        Ok(w)
    }

    /// A writer to the socket file at `path` (tests); does not probe it.
    ///
    /// Errors: the local socket cannot be created.
    pub fn at(path: impl AsRef<Path>) -> io::Result<Self> {
        let socket = UnixDatagram::unbound()?;
        socket.set_write_timeout(Some(Duration::from_secs(1)))?;
        Ok(JournalWriter {
            socket,
            path: path.as_ref().to_path_buf(),
        })
    }

    /// Sends one line of `profile`'s output (without its newline) as one entry.
    ///
    /// Errors: the datagram cannot be sent (journald gone, its queue full for a second).
    pub fn write_line(&self, profile: &str, stream: OutputStream, line: &str) -> io::Result<()> {
        let entry = encode_line(profile, stream, line);
        self.socket.send_to(&entry, &self.path)?;
        Ok(())
    }
}

/// The native-protocol datagram for one gateway line: `MESSAGE` (`[profile] line`), `PRIORITY`,
/// `SYSLOG_IDENTIFIER`, `PROFILE`, `CLAWHERD_STREAM`, in that order. A line longer than
/// [`MAX_MESSAGE_BYTES`] is cut and ends with `… [clawherd: N bytes cut]`.
pub fn encode_line(profile: &str, stream: OutputStream, line: &str) -> Vec<u8> {
    // The profile leads the message, as on clawherd's stdout mirror: `journalctl -u clawherd`
    // and `systemctl status` show MESSAGE only, and two `[gateway] ready` lines must be told apart.
    let prefixed = format!("[{profile}] {line}");
    let message = truncate(&prefixed, MAX_MESSAGE_BYTES);
    let priority = stream.priority().to_string();
    encode_fields(&[
        ("MESSAGE", &message),
        ("PRIORITY", &priority),
        ("SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER),
        ("PROFILE", profile),
        ("CLAWHERD_STREAM", stream.as_str()),
    ])
}

/// Encodes fields in the native protocol: `KEY=value\n`, or `KEY\n<u64 LE length>value\n` when
/// the value holds a newline. Keys must be journal field names (`[A-Z0-9_]`, not starting with
/// `_`); that is the caller's duty.
pub fn encode_fields(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in fields {
        out.extend_from_slice(key.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

fn truncate(line: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if line.len() <= max {
        return line.into();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [clawherd: {} bytes cut]", &line[..end], line.len() - end).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn listener() -> (tempfile::TempDir, PathBuf, UnixDatagram) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.socket");
        let sock = UnixDatagram::bind(&path).expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        (dir, path, sock)
    }

    fn recv(sock: &UnixDatagram) -> Vec<u8> {
        let mut buf = vec![0u8; 256 * 1024];
        let n = sock.recv(&mut buf).expect("datagram");
        buf.truncate(n);
        buf
    }

    #[test]
    fn a_plain_line_is_key_equals_value() {
        let (_dir, path, sock) = listener();
        let w = JournalWriter::at(&path).expect("writer");
        w.write_line("main", OutputStream::Stdout, "[gateway] ready").expect("send");
        assert_eq!(
            recv(&sock),
            b"MESSAGE=[main] [gateway] ready\nPRIORITY=6\nSYSLOG_IDENTIFIER=clawherd\nPROFILE=main\nCLAWHERD_STREAM=stdout\n"
        );
    }

    #[test]
    fn a_value_with_a_newline_uses_the_length_prefixed_form() {
        let (_dir, path, sock) = listener();
        let w = JournalWriter::at(&path).expect("writer");
        w.write_line("rescue", OutputStream::Stderr, "Error: boom\n    at x").expect("send");
        let mut want = b"MESSAGE\n".to_vec();
        want.extend_from_slice(&[29, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(b"[rescue] Error: boom\n    at x\n");
        want.extend_from_slice(b"PRIORITY=3\nSYSLOG_IDENTIFIER=clawherd\nPROFILE=rescue\nCLAWHERD_STREAM=stderr\n");
        assert_eq!(recv(&sock), want);
    }

    #[test]
    fn an_overlong_line_is_cut_at_a_char_boundary() {
        let (_dir, path, sock) = listener();
        let line = "é".repeat(MAX_MESSAGE_BYTES); // 2 bytes each
        JournalWriter::at(&path)
            .expect("writer")
            .write_line("main", OutputStream::Stdout, &line)
            .expect("send");
        let got = String::from_utf8(recv(&sock)).expect("utf8");
        let message = got.strip_prefix("MESSAGE=").and_then(|r| r.split('\n').next()).expect("message");
        let (kept, _) = message.split_once('…').expect("cut marker");
        let whole = "[main] ".len() + line.len();
        assert!(kept.starts_with("[main] é"), "the profile leads the message");
        assert!(
            message.ends_with(&format!("… [clawherd: {} bytes cut]", whole - kept.len())),
            "{}",
            &message[message.len() - 40..]
        );
        assert!(message.len() < MAX_MESSAGE_BYTES + 64);
    }

    #[test]
    fn journal_stream_must_match_the_fd() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = std::fs::File::create(dir.path().join("stream")).expect("file");
        let meta = file.metadata().expect("meta");
        let own = format!("{}:{}", meta.dev(), meta.ino());
        assert!(fd_is_journal(Some(&own), &file));
        assert!(!fd_is_journal(Some(&format!("{}:{}", meta.dev(), meta.ino() + 1)), &file));
        assert!(!fd_is_journal(None, &file));
        assert!(!fd_is_journal(Some("garbage"), &file));
        assert_eq!(parse_journal_stream("8:12345"), Some((8, 12345)));
        assert_eq!(parse_journal_stream("8"), None);
    }

    #[test]
    fn new_fails_cleanly_without_journald_or_succeeds_with_it() {
        // Either outcome is fine on a test machine; it must not panic or hang.
        let _ = JournalWriter::new();
    }
}
