//! Lines of a gateway's output, read by its instance's actor in its own `select!` (no task per
//! gateway): [`Pipes`] holds the two streams of the current child, [`LastLines`] the last lines
//! that explain its exit.
//!
//! Each stream ([`Lines`]) is read without a buffer held while no line is pending: each read goes
//! into a buffer on the stack of the poll, and only the bytes of a line not yet complete (or of
//! lines not yet taken) are kept, in a buffer freed once they are taken. A gateway writes a line
//! now and then; a 1 KiB buffer per stream held for its whole run was 2 KiB of clawherd's memory
//! per instance.

use crate::observe::logs::OutputStream;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::process::{Child, ChildStderr, ChildStdout};

/// Bytes read per `read` call, into a buffer on the stack of the poll (not kept in the reader).
const READ_BYTES: usize = 4096;
/// Longest line kept whole, in bytes: a longer one is cut here and its rest read as the next
/// line, so that a gateway writing without a newline cannot grow clawherd's memory without bound.
pub(super) const MAX_LINE_BYTES: usize = 64 * 1024;

/// The lines of one output stream (stdout or stderr of a gateway). Each line comes without its
/// `\n` (or `\r\n`), invalid UTF-8 replaced by U+FFFD; the last line counts without a final
/// newline. Lines longer than [`MAX_LINE_BYTES`] come in pieces of that size.
pub(super) struct Lines<R> {
    /// The stream; `None` once it ended (EOF or a read error).
    inner: Option<R>,
    /// Bytes read and not yet taken, from `start` on; empty, with no allocation, when none are.
    pending: Vec<u8>,
    /// Where the bytes not yet taken begin in `pending`.
    start: usize,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    /// Lines of `inner`.
    pub(super) fn new(inner: R) -> Self {
        Lines {
            inner: Some(inner),
            pending: Vec::new(),
            start: 0,
        }
    }

    /// The next line; `None` once the stream ended (EOF or a read error) and every line of it
    /// was taken. Cancel-safe: bytes read are kept in the reader until their line is taken.
    #[cfg(test)]
    pub(super) async fn next_line(&mut self) -> Option<String> {
        std::future::poll_fn(|cx| self.poll_next_line(cx)).await
    }

    /// Polls for the next line: `Ready(None)` once the stream ended (EOF or a read error) and
    /// every line of it was taken. Reads until a line is complete (at most [`MAX_LINE_BYTES`]
    /// plus one read); each read spends tokio's budget of the task, so a flooding stream makes
    /// its task yield.
    pub(super) fn poll_next_line(&mut self, cx: &mut Context<'_>) -> Poll<Option<String>> {
        loop {
            if let Some(line) = self.take_line() {
                return Poll::Ready(Some(line));
            }
            let Some(inner) = self.inner.as_mut() else {
                return Poll::Ready(None);
            };
            let mut bytes = [0u8; READ_BYTES];
            let mut buf = ReadBuf::new(&mut bytes);
            match Pin::new(inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => self.pending.extend_from_slice(buf.filled()),
                Poll::Ready(_) => self.inner = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The first complete line of what was read (at the end of the stream: what is left, as the
    /// last line), or a piece of [`MAX_LINE_BYTES`]; frees the buffer once all was taken.
    fn take_line(&mut self) -> Option<String> {
        let rest = self.pending.get(self.start..).unwrap_or_default();
        let (line, taken) = match rest.iter().position(|&b| b == b'\n') {
            Some(n) => (rest.get(..n).unwrap_or_default(), n + 1),
            None if rest.len() >= MAX_LINE_BYTES => (rest.get(..MAX_LINE_BYTES).unwrap_or_default(), MAX_LINE_BYTES),
            None if self.inner.is_none() && !rest.is_empty() => (rest, rest.len()),
            None => {
                // Keep only the incomplete line, at the start of the buffer (none: free it).
                if rest.is_empty() {
                    self.pending = Vec::new();
                } else {
                    self.pending.drain(..self.start);
                }
                self.start = 0;
                return None;
            }
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = String::from_utf8_lossy(line).into_owned();
        self.start += taken;
        if self.start >= self.pending.len() {
            self.pending = Vec::new();
            self.start = 0;
        }
        Some(line)
    }

    /// Bytes held for lines not yet taken (capacity of the buffer): 0 while no line is pending.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.pending.capacity()
    }
}

/// The output streams of one gateway, read until both end (EOF: the gateway and everything that
/// inherited its pipes are gone). About 130 bytes, held in the actor, not a task of its own.
pub(super) struct Pipes {
    stdout: Option<Lines<ChildStdout>>,
    stderr: Option<Lines<ChildStderr>>,
}

impl Pipes {
    /// The piped stdout and stderr of `child` (taken from it).
    pub(super) fn of(child: &mut Child) -> Self {
        Pipes {
            stdout: child.stdout.take().map(Lines::new),
            stderr: child.stderr.take().map(Lines::new),
        }
    }

    /// Polls for the next line of either stream, stdout first when both have one (as the task per
    /// stream did: a gateway that exits writes its reason last, on stderr, and the exit's judging
    /// reads the last lines); `Ready(None)` once both ended. Cancel-safe: a line read is kept
    /// until it is returned.
    pub(super) fn poll_line(&mut self, cx: &mut Context<'_>) -> Poll<Option<(String, OutputStream)>> {
        if let Some(lines) = &mut self.stdout {
            match lines.poll_next_line(cx) {
                Poll::Ready(Some(line)) => return Poll::Ready(Some((line, OutputStream::Stdout))),
                Poll::Ready(None) => self.stdout = None,
                Poll::Pending => {}
            }
        }
        if let Some(lines) = &mut self.stderr {
            match lines.poll_next_line(cx) {
                Poll::Ready(Some(line)) => return Poll::Ready(Some((line, OutputStream::Stderr))),
                Poll::Ready(None) => self.stderr = None,
                Poll::Pending => {}
            }
        }
        if self.stdout.is_none() && self.stderr.is_none() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }

    /// A complete line already read and not yet taken (stdout's first), without reading: what a
    /// turn of the actor takes after the line it waited for, up to its budget.
    pub(super) fn buffered_line(&mut self) -> Option<(String, OutputStream)> {
        let stdout = self.stdout.as_mut().and_then(Lines::take_line).map(|l| (l, OutputStream::Stdout));
        stdout.or_else(|| self.stderr.as_mut().and_then(Lines::take_line).map(|l| (l, OutputStream::Stderr)))
    }
}

/// The last [`LastLines::KEEP`] lines of a gateway's output, oldest first, kept to explain its
/// exit (exit 78: a configuration error or the state-dir lock?). One buffer for all of them (the
/// lines, each followed by `\n`, which no line contains), not one allocation per line: a
/// gateway's start-up lines were ten allocations per instance. The buffer grows by a quarter
/// beyond what it must hold, and the room of lines dropped from the front is reused before it
/// grows. A kept line is cut at [`LastLines::KEPT_LINE_BYTES`] (at a character boundary): a
/// read line is at most [`MAX_LINE_BYTES`] of output, but its invalid bytes each become a
/// 3-byte U+FFFD, so uncut, 40 hostile lines held about 9.6 MiB per instance until the next
/// spawn; cut, the buffer holds at most about 1.25 × 40 × 4 KiB.
#[derive(Default)]
pub(crate) struct LastLines {
    /// The lines from `start` on, each ended by `\n`; bytes before `start` are dropped lines.
    text: String,
    /// Where the first kept line begins in `text`.
    start: usize,
    /// How many lines are kept (at most [`LastLines::KEEP`]).
    count: usize,
}

impl LastLines {
    /// Lines kept.
    pub(crate) const KEEP: usize = 40;
    /// Bytes kept of each line: enough to recognize and show the reason of an exit (OpenClaw's
    /// and clawdbot's lines that explain one are short); the whole line is in the log file.
    pub(crate) const KEPT_LINE_BYTES: usize = 4096;

    /// Forgets every line and frees the buffer (a new run begins).
    pub(super) fn clear(&mut self) {
        *self = LastLines::default();
    }

    /// Adds `line` (without its newline; a newline in it starts another line), dropping the
    /// oldest line when [`LastLines::KEEP`] are kept.
    pub(crate) fn push(&mut self, line: &str) {
        for piece in line.split('\n') {
            self.push_one(piece);
        }
    }

    fn push_one(&mut self, line: &str) {
        let mut end = line.len().min(Self::KEPT_LINE_BYTES);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let line = line.get(..end).unwrap_or_default();
        if self.count == Self::KEEP {
            let kept = self.text.get(self.start..).unwrap_or_default();
            self.start += kept.find('\n').map_or(kept.len(), |n| n + 1);
            self.count -= 1;
        }
        let needed = line.len() + 1;
        if self.text.capacity() - self.text.len() < needed {
            // Reuse the room of dropped lines first; grow only beyond what is kept, by a quarter
            // more, so that a steady stream moves the kept bytes at most every quarter.
            self.text.drain(..self.start);
            self.start = 0;
            let kept = self.text.len() + needed;
            if self.text.capacity() < kept + kept / 8 {
                self.text.reserve_exact(kept + kept / 4 - self.text.len());
            }
        }
        self.text.push_str(line);
        self.text.push('\n');
        self.count += 1;
    }

    /// The kept lines, oldest first.
    pub(crate) fn lines(&self) -> Vec<&str> {
        let kept = self.text.get(self.start..).unwrap_or_default();
        let mut lines: Vec<&str> = kept.split('\n').collect();
        // The text ends with a newline: the empty piece after it is no line.
        lines.pop();
        lines
    }

    /// Bytes held (the buffer's capacity).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.text.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Lines split as tokio's `Lines` splits them (`\n` and `\r\n`, the last line without a
    /// newline), and no buffer is held once every line read was taken.
    #[tokio::test]
    async fn splits_lines_and_holds_nothing_between_them() {
        let (mut w, r) = tokio::io::duplex(64);
        let mut lines = Lines::new(r);
        w.write_all(b"one\r\ntwo\nthr").await.expect("write");
        assert_eq!(lines.next_line().await.as_deref(), Some("one"));
        assert_eq!(lines.next_line().await.as_deref(), Some("two"));
        assert!(lines.held() > 0, "the incomplete line is kept");
        w.write_all(b"ee\n").await.expect("write");
        assert_eq!(lines.next_line().await.as_deref(), Some("three"));
        assert_eq!(lines.held(), 0, "nothing pending: no buffer");
        w.write_all(b"\nlast").await.expect("write");
        drop(w);
        assert_eq!(lines.next_line().await.as_deref(), Some(""));
        assert_eq!(lines.next_line().await.as_deref(), Some("last"));
        assert_eq!(lines.next_line().await, None);
        assert_eq!(lines.next_line().await, None);
        assert_eq!(lines.held(), 0);
    }

    /// A stream without newlines is cut into lines of `MAX_LINE_BYTES`: what is held stays
    /// bounded; invalid UTF-8 is replaced, not an end of the stream.
    #[tokio::test]
    async fn long_lines_are_cut_and_bad_utf8_replaced() {
        let (mut w, r) = tokio::io::duplex(8192);
        let mut lines = Lines::new(r);
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 1000];
            for _ in 0..200 {
                w.write_all(&chunk).await.expect("write");
            }
            w.write_all(b"\n\xff\xfeok\n").await.expect("write");
        });
        let mut total = 0;
        while total < 200_000 {
            let line = lines.next_line().await.expect("a line");
            assert!(line.len() <= MAX_LINE_BYTES, "{}", line.len());
            assert!(lines.held() <= 2 * (MAX_LINE_BYTES + READ_BYTES), "{}", lines.held());
            total += line.len();
        }
        assert_eq!(total, 200_000);
        assert_eq!(lines.next_line().await.as_deref(), Some("\u{fffd}\u{fffd}ok"));
        writer.await.expect("writer");
        assert_eq!(lines.next_line().await, None);
    }

    /// The last 40 lines are kept in order, in one buffer that stays bounded whatever comes (long
    /// lines, a steady stream, a newline inside a line), and a new run frees it.
    #[test]
    fn last_lines_keeps_the_last_forty_in_one_bounded_buffer() {
        let mut last = LastLines::default();
        assert!(last.lines().is_empty());
        for i in 0..10 {
            last.push(&format!("line {i}"));
        }
        let ten: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        assert_eq!(last.lines(), ten);
        for i in 10..1000 {
            last.push(&format!("line {i}"));
        }
        let forty: Vec<String> = (960..1000).map(|i| format!("line {i}")).collect();
        assert_eq!(last.lines(), forty);
        assert!(last.held() <= 2 * 40 * "line 999\n".len(), "{}", last.held());
        last.push("");
        last.push("two\nlines");
        let got = last.lines();
        assert_eq!(got.len(), LastLines::KEEP);
        assert_eq!(got.get(37..), Some(&["", "two", "lines"][..]));
        // A line read whole (MAX_LINE_BYTES) is kept cut; invalid bytes turned into U+FFFD
        // (3 bytes each) are cut at a character boundary.
        let long = "x".repeat(MAX_LINE_BYTES);
        let lossy = "\u{FFFD}".repeat(MAX_LINE_BYTES);
        for _ in 0..100 {
            last.push(&long);
            last.push(&lossy);
            assert!(
                last.held() <= 2 * LastLines::KEEP * (LastLines::KEPT_LINE_BYTES + 1),
                "{}",
                last.held()
            );
        }
        let (x, fffd) = (
            "x".repeat(LastLines::KEPT_LINE_BYTES),
            "\u{FFFD}".repeat(LastLines::KEPT_LINE_BYTES / 3),
        );
        let expected: Vec<&str> = (0..LastLines::KEEP)
            .map(|i| if i % 2 == 0 { x.as_str() } else { fffd.as_str() })
            .collect();
        assert_eq!(last.lines(), expected);
        last.clear();
        assert_eq!((last.lines().len(), last.held()), (0, 0));
    }

    /// A child's two streams: every line of each in its order, a last line without a newline,
    /// and the end once both pipes closed; lines already read are taken without a read.
    #[tokio::test]
    async fn pipes_read_both_streams_until_both_end() {
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "echo a; echo A >&2; printf 'b\\nc\\n'; echo B >&2; printf C >&2"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        let mut pipes = Pipes::of(&mut child);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        while let Some((line, stream)) = std::future::poll_fn(|cx| pipes.poll_line(cx)).await {
            let mut next = Some((line, stream));
            while let Some((line, stream)) = next {
                match stream {
                    OutputStream::Stdout => out.push(line),
                    OutputStream::Stderr => err.push(line),
                }
                next = pipes.buffered_line();
            }
        }
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(err, ["A", "B", "C"]);
        assert!(std::future::poll_fn(|cx| pipes.poll_line(cx)).await.is_none(), "ended stays ended");
        child.wait().await.expect("wait");
    }
}
