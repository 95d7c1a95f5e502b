//! Lines of a gateway's output stream, read without a buffer held per stream while no line is
//! pending: each read goes into a buffer on the stack of the poll, and only the bytes of a line
//! not yet complete (or of lines not yet taken) are kept, in a buffer freed once they are taken.
//! A gateway writes a line now and then; a 1 KiB buffer per stream held for its whole run was
//! 2 KiB of clawherd's memory per instance.

use std::pin::Pin;
use tokio::io::{AsyncRead, ReadBuf};

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
    pub(super) async fn next_line(&mut self) -> Option<String> {
        loop {
            if let Some(line) = self.take_line() {
                return Some(line);
            }
            let inner = self.inner.as_mut()?;
            let pending = &mut self.pending;
            let ended = std::future::poll_fn(|cx| {
                let mut bytes = [0u8; READ_BYTES];
                let mut buf = ReadBuf::new(&mut bytes);
                match Pin::new(&mut *inner).poll_read(cx, &mut buf) {
                    std::task::Poll::Ready(Ok(())) => {
                        pending.extend_from_slice(buf.filled());
                        std::task::Poll::Ready(buf.filled().is_empty())
                    }
                    std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(true),
                    std::task::Poll::Pending => std::task::Poll::Pending,
                }
            })
            .await;
            if ended {
                self.inner = None;
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
}
