//! Lines of a streamed answer of the daemon (`/v1/events`, `/v1/logs` followed) as its chunks
//! arrive, bounded: the one splitter of `top` and `logs -F`.

/// The longest line kept from a stream, in bytes; the rest of a longer line is dropped (a
/// daemon, or whatever answers on its socket, may send a line that never ends).
pub(crate) const MAX_LINE: usize = 1 << 20;

/// The lines of a stream as its chunks arrive: a partial last line waits for the next chunk,
/// at most [`MAX_LINE`] bytes of it.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Adds `chunk` and takes out every complete line (with its `\n`; a cut line ends without
    /// it). Linear in the chunk: only the new bytes are searched.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while !rest.is_empty() {
            let end_of_line = rest.iter().position(|b| *b == b'\n').map_or(rest.len(), |i| i + 1);
            let (part, end) = rest.split_at_checked(end_of_line).unwrap_or((rest, &[]));
            let room = MAX_LINE.saturating_sub(self.pending.len());
            self.pending.extend_from_slice(part.get(..room.min(part.len())).unwrap_or_default());
            if part.last() == Some(&b'\n') {
                lines.push(std::mem::take(&mut self.pending));
            }
            rest = end;
        }
        lines
    }

    /// As [`Lines::push`], each line as text without its line end (invalid UTF-8 replaced).
    pub(crate) fn push_text(&mut self, chunk: &[u8]) -> Vec<String> {
        self.push(chunk)
            .iter()
            .map(|l| String::from_utf8_lossy(l).trim_end_matches(['\n', '\r']).to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines split across chunks come out whole; a line that never ends (a hostile answer on
    /// the socket, a gateway line the daemon did not cut) is held at [`MAX_LINE`] bytes, not
    /// grown without bound, and the next line after its end comes out as usual.
    #[test]
    fn stream_lines_are_bounded() {
        let mut l = Lines::default();
        assert!(l.push(b"{\"a\"").is_empty());
        assert_eq!(l.push(b":1}\n{\"b\":2}\npart"), [b"{\"a\":1}\n".to_vec(), b"{\"b\":2}\n".to_vec()]);
        assert_eq!(l.push_text(b"ial\r\n"), ["partial"]);
        let chunk = vec![b'x'; 64 << 10];
        for _ in 0..64 {
            assert!(l.push(&chunk).is_empty());
            assert!(l.pending.len() <= MAX_LINE, "{}", l.pending.len());
        }
        let out = l.push(b"yy\nnext\n");
        assert_eq!(out.len(), 2);
        assert_eq!(out.first().map(Vec::len), Some(MAX_LINE));
        assert_eq!(out.get(1).map(Vec::as_slice), Some(&b"next\n"[..]));
    }
}
