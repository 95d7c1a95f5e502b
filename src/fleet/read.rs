//! Reading the files a fleet is made of (the fleet file, OpenClaw configs) without letting a
//! special file hang or exhaust clawherd: only regular files, at most [`MAX_FILE_BYTES`], opened
//! without blocking (a FIFO with no writer cannot freeze `check` or a reload), and text nested no
//! deeper than [`MAX_NESTING`] before it reaches a recursive parser.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest fleet file or OpenClaw config clawherd reads: 16 MiB.
pub(crate) const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Deepest nesting of `[`/`{` accepted in an OpenClaw config before it is handed to the JSON5
/// parser (which recurses once per level and would overflow the stack around 27,000 levels).
pub(crate) const MAX_NESTING: usize = 256;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// `open(2)` or `fstat(2)` failed (missing file, permissions, ...).
    #[error("{0}")]
    Open(#[source] std::io::Error),
    /// Not a regular file (a FIFO, a device, a socket, a directory).
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// Longer than [`MAX_FILE_BYTES`].
    #[error("it is larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024))]
    TooLarge,
    /// `read(2)` failed.
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// Not UTF-8; 1-based line and column (in bytes) of the first bad byte.
    #[error("it is not UTF-8 text (invalid byte at line {line}, column {column})")]
    NotUtf8 {
        /// 1-based line.
        line: u32,
        /// 1-based column, in bytes.
        column: u32,
    },
}

impl ReadError {
    /// Whether the file does not exist (an OpenClaw config may legitimately be missing).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Open(e) if e.kind() == std::io::ErrorKind::NotFound)
    }

    /// How to fix it, for the `hint:` line.
    pub fn hint(&self) -> &'static str {
        match self {
            ReadError::Open(_) | ReadError::Read(_) => "check the path and its permissions",
            ReadError::NotRegular(_) => "point it at a regular file (not a FIFO, device, socket or folder)",
            ReadError::TooLarge => "this is not a fleet file or an OpenClaw config; point it at the right file",
            ReadError::NotUtf8 { .. } => "save the file as UTF-8",
        }
    }
}

/// Reads `path` as UTF-8 text, refusing anything but a regular file of at most
/// [`MAX_FILE_BYTES`]. The file is opened with `O_NONBLOCK` so that opening a FIFO returns at
/// once, then checked with `fstat` on the open descriptor (no race with a rename), and at most
/// `MAX_FILE_BYTES + 1` bytes are read.
///
/// Errors: see [`ReadError`]; a missing file is [`ReadError::Open`] with `NotFound`.
pub fn read_bounded(path: &Path) -> Result<String, ReadError> {
    let bytes = read_bounded_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let (line, column) = line_column(e.as_bytes(), good);
        ReadError::NotUtf8 { line, column }
    })
}

/// [`read_bounded`] without the UTF-8 check: the bytes of a regular file of at most
/// [`MAX_FILE_BYTES`] (the fleet file's own decoder reports a bad byte as a located error).
///
/// Errors: see [`ReadError`].
pub fn read_bounded_bytes(path: &Path) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_NOCTTY.bits())
        .open(path)
        .map_err(ReadError::Open)?;
    let kind = file.metadata().map_err(ReadError::Open)?.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotRegular(file_kind(kind)));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(ReadError::Read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    Ok(bytes)
}

/// What kind of file `kind` is, in words, with its article: "a regular file", "a FIFO", ... (for
/// errors about a path that holds the wrong kind of file).
pub(crate) fn file_kind(kind: std::fs::FileType) -> &'static str {
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// 1-based line and byte column of byte `offset` in `bytes`.
fn line_column(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (saturate(line), saturate(column))
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Where JSON5 text first nests deeper than `max` levels of `[`/`{`: its 1-based line and
/// column (in characters), or `None` when it never does. Brackets inside `'...'` and `"..."`
/// strings (with `\` escapes) and inside `//` and `/* */` comments do not count. Linear in the
/// text, no recursion.
pub(crate) fn json5_too_deep(text: &str, max: usize) -> Option<(u32, u32)> {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Code,
        Str(char),
        Escape(char),
        LineComment,
        BlockComment,
    }
    let mut st = St::Code;
    let mut depth = 0usize;
    let (mut line, mut column) = (1usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        st = match (st, c) {
            (St::Code, '"' | '\'') => St::Str(c),
            (St::Code, '/') if chars.peek() == Some(&'/') => St::LineComment,
            (St::Code, '/') if chars.peek() == Some(&'*') => {
                chars.next();
                column += 1;
                St::BlockComment
            }
            (St::Code, '[' | '{') => {
                depth += 1;
                if depth > max {
                    return Some((saturate(line), saturate(column)));
                }
                St::Code
            }
            (St::Code, ']' | '}') => {
                depth = depth.saturating_sub(1);
                St::Code
            }
            (St::Str(q), '\\') => St::Escape(q),
            (St::Escape(q), _) => St::Str(q),
            (St::Str(q), c) if c == q => St::Code,
            (St::LineComment, '\n') => St::Code,
            (St::BlockComment, '*') if chars.peek() == Some(&'/') => {
                chars.next();
                column += 1;
                St::Code
            }
            (other, _) => other,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    /// Regression (issue 12): a FIFO as a config made `check` hang in `open(2)`.
    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("config.json5");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_bounded(&path).map_err(|e| e.to_string()));
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("read_bounded returned");
        assert_eq!(got, Err("it is a FIFO, not a regular file".to_string()));
    }

    /// Regression (issue 12): `/dev/zero` was read for 2 GiB, `/dev/urandom` forever.
    #[test]
    fn devices_and_folders_are_refused() {
        for dev in ["/dev/zero", "/dev/urandom", "/dev/null"] {
            let e = read_bounded(Path::new(dev)).expect_err(dev);
            assert!(matches!(e, ReadError::NotRegular("a character device")), "{dev}: {e}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(read_bounded(dir.path()), Err(ReadError::NotRegular("a folder"))));
        assert!(read_bounded(&dir.path().join("missing")).expect_err("missing").is_not_found());
    }

    #[test]
    fn large_and_non_utf8_files_are_refused_with_a_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big");
        let f = File::create(&big).expect("create");
        f.set_len(MAX_FILE_BYTES + 1).expect("set_len");
        assert!(matches!(read_bounded(&big), Err(ReadError::TooLarge)));
        f.set_len(MAX_FILE_BYTES).expect("set_len");
        assert_eq!(read_bounded(&big).expect("16 MiB is accepted").len() as u64, MAX_FILE_BYTES);
        let bad = dir.path().join("bad");
        std::fs::write(&bad, b"version: 1\nab\xffc\n").expect("write");
        assert!(matches!(read_bounded(&bad), Err(ReadError::NotUtf8 { line: 2, column: 3 })));
    }

    #[test]
    fn nesting_depth_ignores_strings_and_comments() {
        assert_eq!(json5_too_deep("{a: [[1]]}", 3), None);
        assert_eq!(json5_too_deep("{a: [[[1]]]}", 3), Some((1, 7)));
        assert_eq!(json5_too_deep("{a: '[[[[', b: \"{{{\\\"{{\"}", 1), None);
        assert_eq!(json5_too_deep("// [[[[\n{/* {{{{ */ a: 1}", 1), None);
        assert_eq!(json5_too_deep("{}\n{}\n {[", 1), Some((3, 3)));
    }

    fn load(dir: &Path, fleet: &str) -> Result<crate::fleet::Fleet, crate::fleet::FleetError> {
        let ctx = crate::fleet::LoadContext {
            env: [("HOME".to_string(), dir.display().to_string())].into(),
            check_host_ports: false,
        };
        crate::fleet::load_str(&dir.join("fleet.yaml"), fleet, &ctx)
    }

    const ONE_PROFILE: &str = "version: 1\nprofiles:\n  main:\n    role: main\n    port: 18789\n    state_dir: s\n    config: c.json5\n";

    /// Regression (issue 12): a config nested ~27,500 `[` deep overflowed the stack of `check`
    /// (and killed the daemon on reload); now a located error.
    #[test]
    fn deeply_nested_config_is_a_located_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!("{{a: {}{}}}", "[".repeat(27_500), "]".repeat(27_500));
        std::fs::write(dir.path().join("c.json5"), text).expect("write");
        let Err(e) = load(dir.path(), ONE_PROFILE) else {
            panic!("accepted")
        };
        let text = e.to_string();
        assert!(
            text.contains("c.json5:1:260: error: profile 'main': OpenClaw config nests deeper than 256 levels"),
            "{text}"
        );
    }

    /// Regression (issue 12): `config:` naming a FIFO hung `check` until someone wrote to it.
    #[test]
    fn fifo_config_is_a_located_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        nix::unistd::mkfifo(&dir.path().join("c.json5"), nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        let root = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(load(&root, ONE_PROFILE).err().map(|e| e.to_string()));
        });
        let text = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("check returned")
            .expect("refused");
        assert!(
            text.contains("c.json5: error: profile 'main': OpenClaw config cannot be read: it is a FIFO, not a regular file"),
            "{text}"
        );
    }

    /// A fleet file nested 100,000 `[` deep is a clean, located error (the YAML parser's budget),
    /// not a stack overflow.
    #[test]
    fn deeply_nested_fleet_file_is_a_located_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "version: 1\nprofiles:\n  main:\n    role: main\n    args: {}\n",
            "[".repeat(100_000)
        );
        let Err(e) = load(dir.path(), &text) else { panic!("accepted") };
        assert!(e.to_string().contains("fleet.yaml:5:"), "{e}");
    }
}
