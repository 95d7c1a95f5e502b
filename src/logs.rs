//! Capture of gateway output: every stdout/stderr line of an instance goes to
//! `<run_dir>/logs/<profile>.log` and, prefixed with the profile, to clawherd's stdout.
//!
//! Writes never block the runtime: lines travel over bounded channels to two writer threads,
//! one for files and one for the console, so a console nobody reads (a full pipe) cannot stall
//! supervision or the file log. When a channel is full the line is dropped from that sink and
//! counted; the count is reported once the sink drains.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Lines buffered per sink before dropping.
const QUEUE_LINES: usize = 4096;

/// One captured line.
struct Line {
    profile: Arc<str>,
    text: String,
}

/// Handle to the writer threads; cheap to clone.
#[derive(Clone)]
pub struct OutputSink {
    files: SyncSender<Line>,
    console: Option<SyncSender<Line>>,
}

impl OutputSink {
    /// Starts the writers. Files go under `dir` (created on first write); `console` mirrors lines
    /// to stdout with a `[profile] ` prefix.
    pub fn start(dir: PathBuf, console: bool) -> Self {
        let (files, files_rx) = sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name("clawherd-logfiles".into())
            .spawn(move || file_writer(dir, files_rx))
            .expect("spawn log file thread");
        let console = console.then(|| {
            let (tx, rx) = sync_channel(QUEUE_LINES);
            std::thread::Builder::new()
                .name("clawherd-console".into())
                .spawn(move || console_writer(rx))
                .expect("spawn console thread");
            tx
        });
        OutputSink { files, console }
    }

    /// Queues one line of `profile`'s output (without its newline).
    pub fn line(&self, profile: &Arc<str>, text: String) {
        if let Some(c) = &self.console
            && let Err(TrySendError::Full(_)) = c.try_send(Line {
                profile: profile.clone(),
                text: text.clone(),
            })
        {
            DROPPED_CONSOLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Err(TrySendError::Full(_)) = self.files.try_send(Line {
            profile: profile.clone(),
            text,
        }) {
            DROPPED_FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The log file of `profile` under `dir`.
    pub fn path_for(dir: &std::path::Path, profile: &str) -> PathBuf {
        dir.join(format!("{profile}.log"))
    }
}

static DROPPED_CONSOLE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static DROPPED_FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn file_writer(dir: PathBuf, rx: Receiver<Line>) {
    let mut files: HashMap<Arc<str>, File> = HashMap::new();
    for line in rx {
        let file = match files.get_mut(&line.profile) {
            Some(f) => f,
            None => {
                let path = OutputSink::path_for(&dir, &line.profile);
                let opened = std::fs::create_dir_all(&dir).and_then(|_| OpenOptions::new().create(true).append(true).open(&path));
                match opened {
                    Ok(f) => files.entry(line.profile.clone()).or_insert(f),
                    Err(e) => {
                        tracing::error!(path = %path.display(), error = %e, "cannot open instance log file; line dropped");
                        continue;
                    }
                }
            }
        };
        let dropped = DROPPED_FILES.swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(file, "[clawherd: {dropped} lines dropped, the log writer fell behind]");
        }
        if let Err(e) = writeln!(file, "{}", line.text) {
            tracing::error!(profile = %line.profile, error = %e, "cannot write instance log file");
        }
    }
}

fn console_writer(rx: Receiver<Line>) {
    for line in rx {
        let mut out = std::io::stdout().lock();
        let dropped = DROPPED_CONSOLE.swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "[clawherd] {dropped} output lines dropped from the console (stdout was not read fast enough)"
            );
        }
        let _ = writeln!(out, "[{}] {}", line.profile, line.text);
    }
}
