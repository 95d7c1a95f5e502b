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
/// is stored twice. See [`JournaldLayer`] for what an entry holds.
pub fn journald_layer() -> Option<JournaldLayer> {
    if !stderr_is_journal() {
        return None;
    }
    JournaldLayer::new().ok()
}

/// Longest value of a field other than `MESSAGE` in an entry of [`JournaldLayer`], in bytes
/// (longer ones are cut and marked): a few fields stay well within one datagram.
pub const MAX_FIELD_BYTES: usize = 8 * 1024;

/// The fields every entry of [`JournaldLayer`] sets itself; an event or span field with one of
/// these names is left out.
const OWN_FIELDS: [&str; 6] = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "TARGET", "CODE_FILE", "CODE_LINE"];

/// A `tracing` layer writing clawherd's own events to journald as native entries, one datagram
/// per event.
///
/// An entry holds `MESSAGE`: the line the fmt layer writes to stderr without its time and level,
/// spans included (`run{profile=main}: spawned pid=7 port=19789`), so `systemctl status` and
/// `journalctl -u clawherd` tell two instances' `spawned` apart; `PRIORITY` mapped from the level
/// (error 3, warn 4, info 5, debug 6, trace 7); `SYSLOG_IDENTIFIER=clawherd`; `TARGET`,
/// `CODE_FILE`, `CODE_LINE`; then every span field (outermost span first) and event field
/// upper-cased without prefix (`profile` becomes `PROFILE=main`, the field [`JournalWriter`]
/// puts on gateway lines: `journalctl -u clawherd PROFILE=main` shows both), a name given
/// twice kept once (the first). `MESSAGE` is cut at [`MAX_MESSAGE_BYTES`], other values at
/// [`MAX_FIELD_BYTES`].
///
/// Sends block for at most one second (a stalled journald); an entry that cannot be sent is
/// dropped.
#[derive(Debug)]
pub struct JournaldLayer {
    out: JournalWriter,
}

impl JournaldLayer {
    /// A layer sending to journald's socket, [`JOURNAL_SOCKET`].
    ///
    /// Errors: as [`JournalWriter::new`].
    pub fn new() -> io::Result<Self> {
        JournalWriter::new().map(|out| JournaldLayer { out })
    }

    /// A layer sending to the socket file at `path` (tests); does not probe it.
    ///
    /// Errors: as [`JournalWriter::at`].
    pub fn at(path: impl AsRef<Path>) -> io::Result<Self> {
        JournalWriter::at(path).map(|out| JournaldLayer { out })
    }
}

/// What [`JournaldLayer`] keeps of a span: its fields as the fmt layer writes them
/// (`profile=main`) and as journal fields (`PROFILE`, `main`).
#[derive(Debug, Default)]
struct SpanFields {
    text: String,
    fields: Vec<(String, String)>,
}

/// Collects fields as journal fields, leaving out `message` and names that are no journal
/// field name.
struct Collect<'a>(&'a mut Vec<(String, String)>);

impl Collect<'_> {
    fn put(&mut self, field: &tracing::field::Field, value: String) {
        let Some(name) = journal_field_name(field.name()) else {
            return;
        };
        let value = truncate(&value, MAX_FIELD_BYTES).into_owned();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

impl tracing::field::Visit for Collect<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

/// A tracing field name as a journal field name: upper-cased, `.` as `_`, other characters
/// than `[A-Za-z0-9_]` and leading `_` dropped; `None` for `message`, an empty result, and the
/// names [`JournaldLayer`] sets itself.
fn journal_field_name(name: &str) -> Option<String> {
    if name == "message" {
        return None;
    }
    let upper: String = name
        .chars()
        .map(|c| if c == '.' { '_' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .skip_while(|c| *c == '_')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!upper.is_empty() && !OWN_FIELDS.contains(&upper.as_str())).then_some(upper)
}

/// Fields as the fmt layer writes them (`message` bare, then `key=value`, space-separated).
fn fmt_fields(out: &mut String, fields: impl tracing_subscriber::field::RecordFields) {
    use tracing_subscriber::fmt::FormatFields;
    let _ = tracing_subscriber::fmt::format::DefaultFields::new().format_fields(tracing_subscriber::fmt::format::Writer::new(out), fields);
}

impl<S> tracing_subscriber::Layer<S> for JournaldLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut kept = SpanFields::default();
        fmt_fields(&mut kept.text, attrs);
        attrs.record(&mut Collect(&mut kept.fields));
        span.extensions_mut().insert(kept);
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(kept) = extensions.get_mut::<SpanFields>() else { return };
        let mut more = String::new();
        fmt_fields(&mut more, values);
        if !more.is_empty() {
            if !kept.text.is_empty() {
                kept.text.push(' ');
            }
            kept.text.push_str(&more);
        }
        values.record(&mut Collect(&mut kept.fields));
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let mut message = String::new();
        let mut fields: Vec<(String, String)> = Vec::new();
        // Spans as the fmt layer writes them: `outer{a=1}:inner{b=2}: ` before the event.
        for span in ctx.event_scope(event).into_iter().flat_map(|scope| scope.from_root()) {
            message.push_str(span.name());
            if let Some(kept) = span.extensions().get::<SpanFields>() {
                if !kept.text.is_empty() {
                    message.push('{');
                    message.push_str(&kept.text);
                    message.push('}');
                }
                for (name, value) in &kept.fields {
                    if !fields.iter().any(|(n, _)| n == name) {
                        fields.push((name.clone(), value.clone()));
                    }
                }
            }
            message.push(':');
        }
        if !message.is_empty() {
            message.push(' ');
        }
        fmt_fields(&mut message, event);
        let mut own = Vec::new();
        event.record(&mut Collect(&mut own));
        for (name, value) in own {
            if !fields.iter().any(|(n, _)| *n == name) {
                fields.push((name, value));
            }
        }
        let meta = event.metadata();
        let priority = match *meta.level() {
            tracing::Level::ERROR => "3",
            tracing::Level::WARN => "4",
            tracing::Level::INFO => "5",
            tracing::Level::DEBUG => "6",
            tracing::Level::TRACE => "7",
        };
        let message = truncate(&message, MAX_MESSAGE_BYTES);
        let line = meta.line().map(|l| l.to_string());
        let mut entry: Vec<(&str, &str)> = vec![
            ("MESSAGE", &message),
            ("PRIORITY", priority),
            ("SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER),
            ("TARGET", meta.target()),
        ];
        if let Some(file) = meta.file() {
            entry.push(("CODE_FILE", file));
        }
        if let Some(line) = &line {
            entry.push(("CODE_LINE", line));
        }
        entry.extend(fields.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let _ = self.out.socket.send_to(&encode_fields(&entry), &self.out.path);
    }
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

    /// A writer the fmt layer writes its lines into, as main.rs's writes them to stderr.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Issue 15: clawherd's own journal entries lost the span's fields from their message
    /// (`spawned`, while stderr says `run{profile=main}: spawned ...`), so two instances' lines
    /// looked alike in `systemctl status`. The entry's MESSAGE is now the stderr line without
    /// time and level, and the span's fields are journal fields too.
    #[test]
    fn own_events_carry_their_span_in_the_message_and_as_fields() {
        use tracing_subscriber::layer::SubscriberExt;
        let (_dir, path, sock) = listener();
        let stderr = Captured::default();
        let journal = tracing_subscriber::registry().with(JournaldLayer::at(&path).expect("layer"));
        let fmt = tracing_subscriber::fmt()
            .with_writer({
                let w = stderr.clone();
                move || w.clone()
            })
            .with_ansi(false)
            .with_target(false)
            .without_time()
            .finish();
        let emit = || {
            let span = tracing::info_span!("run", profile = %"main");
            let _in = span.enter();
            tracing::info!(pid = 7, port = %19789, "spawned");
            tracing::warn!(reason = "two\nlines", "outside the usual");
        };
        tracing::subscriber::with_default(journal, emit);
        tracing::subscriber::with_default(fmt, emit);
        let entry = recv(&sock);
        let text = String::from_utf8(entry.clone()).expect("utf8");
        assert!(
            text.starts_with("MESSAGE=run{profile=main}: spawned pid=7 port=19789\nPRIORITY=5\nSYSLOG_IDENTIFIER=clawherd\nTARGET=clawherd::systemd::journal::tests\nCODE_FILE="),
            "{text}"
        );
        assert!(text.ends_with("\nPROFILE=main\nPID=7\nPORT=19789\n"), "{text}");
        let stderr = String::from_utf8(stderr.0.lock().unwrap_or_else(|e| e.into_inner()).clone()).expect("utf8");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.ends_with(" run{profile=main}: spawned pid=7 port=19789"),
            "the stderr line: {first}"
        );
        // A field value with a newline is length-prefixed; the level maps to its priority.
        let warn = recv(&sock);
        let message = "run{profile=main}: outside the usual reason=\"two\\nlines\"";
        // The fmt layer writes a string field with Debug (quoted, the newline escaped): no
        // newline in MESSAGE, so it is `MESSAGE=...`.
        let plain = format!("MESSAGE={message}\nPRIORITY=4\n");
        assert!(warn.starts_with(plain.as_bytes()), "{}", String::from_utf8_lossy(&warn));
        let mut reason = b"\nREASON\n".to_vec();
        reason.extend_from_slice(&9u64.to_le_bytes());
        reason.extend_from_slice(b"two\nlines\n");
        assert!(warn.ends_with(&reason), "{}", String::from_utf8_lossy(&warn));
        assert!(stderr.contains(&format!(" {message}")), "{stderr}");
    }

    #[test]
    fn field_names_become_journal_field_names() {
        assert_eq!(journal_field_name("profile").as_deref(), Some("PROFILE"));
        assert_eq!(journal_field_name("_a.b-c").as_deref(), Some("A_BC"));
        for left_out in ["message", "priority", "MESSAGE", "-", "__"] {
            assert_eq!(journal_field_name(left_out), None, "{left_out}");
        }
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
