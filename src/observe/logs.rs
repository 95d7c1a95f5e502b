//! Capture of gateway output: every stdout/stderr line of an instance goes, with a timestamp, to
//! `<run_dir>/logs/<profile>.log` (size-rotated: `.1` .. `.N`), to followers of `clawherd logs -f`,
//! and, prefixed with the profile, to clawherd's stdout.
//!
//! Writes never block the runtime: lines travel over bounded channels to two writer threads,
//! one for files and one for the console, so a console nobody reads (a full pipe) cannot stall
//! supervision or the file log. When a channel is full the line is dropped from that sink and
//! counted; the count is written once the sink drains. At most `(keep + 1) * max_bytes` bytes are
//! kept per instance.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::SystemTime;
use tokio::sync::broadcast;

/// Lines buffered for the file writer before dropping (the queue is preallocated and touched:
/// 1024 lines is about 60 KiB).
const QUEUE_LINES: usize = 1024;
/// Lines buffered for the console before dropping.
const CONSOLE_LINES: usize = 256;
/// Lines buffered per follower before it is told it lagged.
const FOLLOW_LINES: usize = 256;

pub use crate::fleet::Rotation;

/// One captured line, as followers receive it.
#[derive(Debug, Clone)]
pub struct Line {
    /// Profile name.
    pub profile: Arc<str>,
    /// `<RFC 3339 time> <text>`, as written to the file (the console gets the bare text).
    pub text: String,
    /// Which of the gateway's streams it came from.
    pub stream: OutputStream,
}

pub use crate::systemd::journal::OutputStream;

/// Where gateway lines are mirrored besides the files.
#[derive(Debug)]
pub enum Console {
    /// Nowhere (`run --quiet`).
    Off,
    /// clawherd's stdout, prefixed `[profile] `.
    Stdout,
    /// The journal, as native entries with a `PROFILE=` field (when clawherd's stdout is the
    /// journal, instead of the stdout mirror: never both).
    Journal(crate::systemd::journal::JournalWriter),
}

/// Handle to the writer threads; cheap to clone.
#[derive(Clone)]
pub struct OutputSink {
    files: SyncSender<Line>,
    console: Option<SyncSender<Line>>,
    follow: broadcast::Sender<Line>,
    dir: PathBuf,
}

static DROPPED_CONSOLE: AtomicU64 = AtomicU64::new(0);
static DROPPED_FILES: AtomicU64 = AtomicU64::new(0);

impl OutputSink {
    /// Starts the writers. Files go under `dir` (created on first write); `console` says where
    /// lines are mirrored besides.
    pub fn start(dir: PathBuf, rotation: Rotation, console: Console) -> Self {
        let (files, files_rx) = sync_channel(QUEUE_LINES);
        let (follow, _) = broadcast::channel(FOLLOW_LINES);
        let (d, f) = (dir.clone(), follow.clone());
        std::thread::Builder::new()
            .name("clawherd-logfiles".into())
            .spawn(move || file_writer(d, rotation, files_rx, f))
            .expect("spawn log file thread");
        let console = match console {
            Console::Off => None,
            mode => {
                let (tx, rx) = sync_channel(CONSOLE_LINES);
                std::thread::Builder::new()
                    .name("clawherd-console".into())
                    .spawn(move || console_writer(rx, mode))
                    .expect("spawn console thread");
                Some(tx)
            }
        };
        OutputSink {
            files,
            console,
            follow,
            dir,
        }
    }

    /// Queues one line of `profile`'s output from `stream` (without its newline), stamped now.
    pub fn line(&self, profile: &Arc<str>, stream: OutputStream, text: String) {
        let stamped = format!("{} {text}", humantime::format_rfc3339_millis(SystemTime::now()));
        if let Some(c) = &self.console
            && let Err(TrySendError::Full(_)) = c.try_send(Line {
                profile: profile.clone(),
                text,
                stream,
            })
        {
            DROPPED_CONSOLE.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(TrySendError::Full(_)) = self.files.try_send(Line {
            profile: profile.clone(),
            text: stamped,
            stream,
        }) {
            DROPPED_FILES.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines written from now on, for `logs --follow` (rotation does not interrupt it).
    pub fn subscribe(&self) -> broadcast::Receiver<Line> {
        self.follow.subscribe()
    }

    /// The folder of the per-instance files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The current log file of `profile` under `dir`.
pub fn path_for(dir: &Path, profile: &str) -> PathBuf {
    dir.join(format!("{profile}.log"))
}

fn rotated(dir: &Path, profile: &str, n: u32) -> PathBuf {
    dir.join(format!("{profile}.log.{n}"))
}

/// Renames `<p>.log.{k}` → `.{k+1}` (dropping the oldest) and `<p>.log` → `.1`.
fn rotate(dir: &Path, profile: &str, keep: u32) -> std::io::Result<()> {
    if keep == 0 {
        return std::fs::remove_file(path_for(dir, profile));
    }
    let _ = std::fs::remove_file(rotated(dir, profile, keep));
    for k in (1..keep).rev() {
        let from = rotated(dir, profile, k);
        if from.exists() {
            std::fs::rename(&from, rotated(dir, profile, k + 1))?;
        }
    }
    std::fs::rename(path_for(dir, profile), rotated(dir, profile, 1))
}

struct Open {
    file: File,
    bytes: u64,
}

fn open(dir: &Path, profile: &str) -> std::io::Result<Open> {
    std::fs::create_dir_all(dir)?;
    let file = OpenOptions::new().create(true).append(true).open(path_for(dir, profile))?;
    let bytes = file.metadata()?.len();
    Ok(Open { file, bytes })
}

fn file_writer(dir: PathBuf, rotation: Rotation, rx: Receiver<Line>, follow: broadcast::Sender<Line>) {
    let mut files: HashMap<Arc<str>, Open> = HashMap::new();
    for line in rx {
        let dropped = DROPPED_FILES.swap(0, Ordering::Relaxed);
        let mut text = line.text.clone();
        if dropped > 0 {
            text = format!("[clawherd: {dropped} lines dropped, the log writer fell behind]\n{text}");
        }
        let size = text.len() as u64 + 1;
        let needs_rotation = files
            .get(&line.profile)
            .is_some_and(|o| o.bytes > 0 && o.bytes + size > rotation.max_bytes);
        if needs_rotation {
            files.remove(&line.profile);
            if let Err(e) = rotate(&dir, &line.profile, rotation.keep) {
                tracing::error!(profile = %line.profile, error = %e, "cannot rotate instance log file");
            }
        }
        if !files.contains_key(&line.profile) {
            match open(&dir, &line.profile) {
                Ok(o) => {
                    files.insert(line.profile.clone(), o);
                }
                Err(e) => {
                    tracing::error!(path = %path_for(&dir, &line.profile).display(), error = %e, "cannot open instance log file; line dropped");
                    continue;
                }
            }
        }
        if let Some(o) = files.get_mut(&line.profile) {
            match writeln!(o.file, "{text}") {
                Ok(()) => o.bytes += size,
                Err(e) => tracing::error!(profile = %line.profile, error = %e, "cannot write instance log file"),
            }
        }
        // Nobody following is the normal case.
        let _ = follow.send(line);
    }
}

fn console_writer(rx: Receiver<Line>, mode: Console) {
    if let Console::Journal(j) = &mode {
        for line in rx {
            if let Err(e) = j.write_line(&line.profile, line.stream, &line.text) {
                tracing::warn!(error = %e, "cannot write a gateway line to the journal");
            }
        }
        return;
    }
    for line in rx {
        let mut out = std::io::stdout().lock();
        let dropped = DROPPED_CONSOLE.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "[clawherd] {dropped} output lines dropped from the console (stdout was not read fast enough)"
            );
        }
        let _ = writeln!(out, "[{}] {}", line.profile, line.text);
    }
}

/// The time stamp at the start of a file line, if any.
pub fn line_time(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text.split(' ').next()?).ok()
}

/// The last `n` lines of `profile`'s captured output (rotated files included, oldest first),
/// only those stamped at or after `since` when given.
///
/// Errors: a file exists but cannot be read.
pub fn tail(dir: &Path, profile: &str, n: usize, since: Option<SystemTime>, keep: u32) -> std::io::Result<Vec<String>> {
    let mut files: Vec<PathBuf> = (1..=keep).rev().map(|k| rotated(dir, profile, k)).collect();
    files.push(path_for(dir, profile));
    let mut out = std::collections::VecDeque::with_capacity(n.min(65_536));
    for f in files {
        let file = match File::open(&f) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in BufReader::new(file).lines() {
            let line = line?;
            if since.is_some_and(|s| line_time(&line).is_some_and(|t| t < s)) {
                continue;
            }
            if out.len() == n {
                out.pop_front();
            }
            if n > 0 {
                out.push_back(line);
            }
        }
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rotates_by_size_keeps_n_and_tails_across_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sink = OutputSink::start(dir.path().to_path_buf(), Rotation { max_bytes: 200, keep: 2 }, Console::Off);
        let mut follow = sink.subscribe();
        let name: Arc<str> = Arc::from("main");
        for i in 0..40 {
            sink.line(&name, OutputStream::Stdout, format!("line {i:02}"));
        }
        // Wait (bounded) for the writer: the follower sees every line once written.
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("rt");
        rt.block_on(async {
            for _ in 0..40 {
                tokio::time::timeout(Duration::from_secs(30), follow.recv())
                    .await
                    .expect("line in time")
                    .expect("line");
            }
        });
        assert!(path_for(dir.path(), "main").exists());
        assert!(rotated(dir.path(), "main", 2).exists());
        assert!(!rotated(dir.path(), "main", 3).exists(), "only `keep` rotated files");
        for f in [path_for(dir.path(), "main"), rotated(dir.path(), "main", 1)] {
            assert!(std::fs::metadata(&f).expect("meta").len() <= 200, "{}", f.display());
        }
        let last = tail(dir.path(), "main", 3, None, 2).expect("tail");
        let texts: Vec<&str> = last.iter().map(|l| l.split_once(' ').map(|x| x.1).unwrap_or("")).collect();
        assert_eq!(texts, ["line 37", "line 38", "line 39"]);
        let future = SystemTime::now() + Duration::from_secs(3600);
        assert!(tail(dir.path(), "main", 10, Some(future), 2).expect("tail").is_empty());
        assert!(line_time(&last[0]).is_some());
    }
}
