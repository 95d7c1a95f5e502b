//! Capture of gateway output: every stdout/stderr line of an instance goes, with a timestamp, to
//! `<run_dir>/logs/<profile>.log` (size-rotated: `.1` .. `.N`), to followers of `clawherd logs -f`,
//! and, prefixed with the profile, to clawherd's stdout.
//!
//! Writes never block the runtime: lines travel over bounded channels to two writer threads,
//! one for files and one for the console, so a console nobody reads (a full pipe) cannot stall
//! supervision or the file log. When a channel is full the line is dropped from that sink and
//! counted; the count is written once the sink drains. At most `(keep + 1) * max_bytes` bytes are
//! kept per instance.
//!
//! When a file cannot be written (disk full, quota, I/O error), its lines are counted as lost,
//! not reported one by one: one ERROR line per file at most every [`LOSS_REPORT_EVERY`]
//! ("N lines dropped since ..."), and the first write that succeeds again resumes the file with
//! a note of how many lines were lost ([`Losses`]).
//!
//! Gateway output and events may hold secrets, so `run_dir`, `logs/` and every file in them
//! are the owner's only (0700 folders, 0600 files), or also readable by `control.group` (0750,
//! 0640, that group) when the fleet names one: [`prepare_run_dir`], [`open_append`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::broadcast;

/// At most one report of lost lines per file in this period.
pub const LOSS_REPORT_EVERY: Duration = Duration::from_secs(10);

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
    /// A run marker ([`OutputSink::marker`]), not a gateway line: sent to followers that ask
    /// for markers, never written to the file or the console.
    pub marker: bool,
}

pub use crate::systemd::journal::OutputStream;

/// What a writer thread takes from its queue: a line, or a request to answer once everything
/// queued before it is written ([`flush_queue`]).
enum Queued {
    Line(Line),
    Flush(SyncSender<()>),
}

/// Waits, blocking the calling thread until `deadline` at most, until the writer thread behind
/// `queue` has written everything queued before this call: the daemon's last step, so that the
/// lines and events of its shutdown reach their files before the process exits. `flush` makes
/// the queue's request from the sender to answer. Returns false when the deadline passed first
/// (a writer stuck on a slow disk); true also when the writer is gone (nothing left to wait for).
pub(crate) fn flush_queue<T>(queue: &SyncSender<T>, flush: impl FnOnce(SyncSender<()>) -> T, deadline: Instant) -> bool {
    let (ack, acked) = sync_channel(1);
    let mut request = flush(ack);
    loop {
        match queue.try_send(request) {
            Ok(()) => break,
            Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                request = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TrySendError::Full(_)) => return false,
            Err(TrySendError::Disconnected(_)) => return true,
        }
    }
    match acked.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => true,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
    }
}

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

/// Handle to the writer threads; cheap to clone: one shared allocation, so the copies every
/// instance actor and output reader hold cost a pointer each (no copy of the folder's path).
#[derive(Clone)]
pub struct OutputSink(Arc<Sinks>);

/// What [`OutputSink`] shares.
struct Sinks {
    files: SyncSender<Queued>,
    console: Option<SyncSender<Queued>>,
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
        #[allow(
            clippy::expect_used,
            reason = "once, at the daemon's start-up before any gateway runs: no thread means no supervision to lose"
        )]
        std::thread::Builder::new()
            .name("clawherd-logfiles".into())
            .spawn(move || file_writer(d, rotation, files_rx, f))
            .expect("spawn log file thread");
        let console = match console {
            Console::Off => None,
            mode => {
                let (tx, rx) = sync_channel(CONSOLE_LINES);
                #[allow(
                    clippy::expect_used,
                    reason = "once, at the daemon's start-up before any gateway runs: no thread means no supervision to lose"
                )]
                std::thread::Builder::new()
                    .name("clawherd-console".into())
                    .spawn(move || console_writer(rx, mode))
                    .expect("spawn console thread");
                Some(tx)
            }
        };
        OutputSink(Arc::new(Sinks {
            files,
            console,
            follow,
            dir,
        }))
    }

    /// Queues one line of `profile`'s output from `stream` (without its newline), stamped now.
    pub fn line(&self, profile: &Arc<str>, stream: OutputStream, text: String) {
        let stamped = format!("{} {text}", humantime::format_rfc3339_millis(SystemTime::now()));
        if let Some(c) = &self.0.console
            && let Err(TrySendError::Full(_)) = c.try_send(Queued::Line(Line {
                profile: profile.clone(),
                text,
                stream,
                marker: false,
            }))
        {
            DROPPED_CONSOLE.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(TrySendError::Full(_)) = self.0.files.try_send(Queued::Line(Line {
            profile: profile.clone(),
            text: stamped,
            stream,
            marker: false,
        })) {
            DROPPED_FILES.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues the marker `text` of `profile` (where a run ends or begins,
    /// `FleetEvent::run_marker`) for followers, behind the lines queued before it: a follower
    /// gets it in order with the lines, which the event stream cannot promise. Dropped when
    /// the queue is full, as a line would be.
    pub fn marker(&self, profile: &Arc<str>, text: String) {
        let marker = Line {
            profile: profile.clone(),
            text,
            stream: OutputStream::Stdout,
            marker: true,
        };
        if let Err(TrySendError::Full(_)) = self.0.files.try_send(Queued::Line(marker)) {
            DROPPED_FILES.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines written from now on, for `logs --follow` (rotation does not interrupt it).
    pub fn subscribe(&self) -> broadcast::Receiver<Line> {
        self.0.follow.subscribe()
    }

    /// The folder of the per-instance files.
    pub fn dir(&self) -> &Path {
        &self.0.dir
    }

    /// Waits, blocking, at most `within` (seconds, as a `Duration`) until the lines queued so
    /// far are in their files and on the console ([`flush_queue`]); false when time ran out.
    pub fn flush(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let files = flush_queue(&self.0.files, Queued::Flush, deadline);
        let console = self.0.console.as_ref().is_none_or(|c| flush_queue(c, Queued::Flush, deadline));
        files && console
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
    ensure_dir(dir)?;
    let file = open_append(&path_for(dir, profile))?;
    let bytes = file.metadata()?.len();
    Ok(Open { file, bytes })
}

/// The access of clawherd's folders under `run_dir`: 0700, or 0750 with group `gid`.
fn dir_mode(group: Option<u32>) -> u32 {
    if group.is_some() { 0o750 } else { 0o700 }
}

/// Creates `run_dir` and its `logs/` folder as the owner's only (0700), or also the group's
/// (0750, group `group`: `control.group`'s gid), and tightens them when they exist with more
/// access (an older clawherd made them 0755). A `run_dir` that is not clawherd's alone (owned by
/// another user, or sticky like `/tmp`) is left as it is.
///
/// Errors: a folder cannot be created, or its mode or group cannot be set.
pub fn prepare_run_dir(run_dir: &Path, group: Option<u32>) -> std::io::Result<()> {
    let mode = dir_mode(group);
    for dir in [run_dir.to_path_buf(), run_dir.join("logs")] {
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::DirBuilder::new().mode(mode).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let meta = std::fs::metadata(&dir)?;
        let ours = meta.uid() == nix::unistd::geteuid().as_raw() && meta.permissions().mode() & 0o1000 == 0;
        if !ours {
            tracing::warn!(path = %dir.display(), "run_dir is shared (another user's, or sticky): its mode is left alone");
            continue;
        }
        if let Some(gid) = group
            && let Err(e) = nix::unistd::chown(&dir, None, Some(nix::unistd::Gid::from_raw(gid)))
        {
            // Not the group's: then nobody's but the owner's.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            return Err(std::io::Error::other(format!(
                "cannot give {} to group {gid} ({e}); it stays the owner's only. Make clawherd's user a member of `control.group`",
                dir.display()
            )));
        }
        if meta.permissions().mode() & 0o7777 != mode {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// Creates `dir` (a folder under `run_dir`) if missing, with the access of its parent folder
/// (0700, or 0750 when the parent is group-readable).
fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let group = dir
        .parent()
        .and_then(|p| std::fs::metadata(p).ok())
        .filter(|m| m.permissions().mode() & 0o050 == 0o050);
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new()
        .mode(dir_mode(group.as_ref().map(|m| m.gid())))
        .create(dir)
    {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Opens (creating) `path` for appending, as the owner's only (0600), or also its folder's
/// group's (0640, the folder's group) when the folder is group-readable: the access
/// [`prepare_run_dir`] gave the folder. A file that exists with more access (an older
/// clawherd made it 0644) is tightened.
///
/// Errors: the file cannot be opened. A mode or group that cannot be set is logged, and the
/// file is still written (its folder keeps it from others).
pub fn open_append(path: &Path) -> std::io::Result<File> {
    let folder = path.parent().and_then(|p| std::fs::metadata(p).ok());
    let group = folder.filter(|m| m.permissions().mode() & 0o050 == 0o050).map(|m| m.gid());
    let mode = if group.is_some() { 0o640 } else { 0o600 };
    let file = OpenOptions::new().create(true).append(true).mode(mode).open(path)?;
    let meta = file.metadata()?;
    // Only regular files: a log path pointing at a device (/dev/null) is not ours to change.
    if meta.is_file() {
        let mut result = Ok(());
        if let Some(gid) = group.filter(|g| *g != meta.gid()) {
            result = std::os::unix::fs::fchown(&file, None, Some(gid));
        }
        if meta.permissions().mode() & 0o777 != mode {
            result = result.and(file.set_permissions(std::fs::Permissions::from_mode(mode)));
        }
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot set the mode or group of this file");
        }
    }
    Ok(file)
}

/// Lines of one file lost to write errors since the last successful write, and when they were
/// last reported: at most one report per [`LOSS_REPORT_EVERY`], and one note when writing works
/// again.
#[derive(Debug, Default)]
pub struct Losses {
    lost: u64,
    since: Option<SystemTime>,
    reported: Option<Instant>,
}

impl Losses {
    /// Counts one lost line (the write failed with `error` at `now`); returns the report to
    /// log, when one is due: the first loss, then at most once per [`LOSS_REPORT_EVERY`].
    pub fn lost(&mut self, error: &std::io::Error, now: Instant) -> Option<String> {
        self.lost += 1;
        let since = *self.since.get_or_insert_with(SystemTime::now);
        if self.reported.is_some_and(|r| now.saturating_duration_since(r) < LOSS_REPORT_EVERY) {
            return None;
        }
        self.reported = Some(now);
        Some(format!(
            "{} lines dropped since {}: {error}",
            self.lost,
            humantime::format_rfc3339_seconds(since)
        ))
    }

    /// The note to write before the next line once writing works again: how many lines were
    /// lost and since when; `None` when none were.
    pub fn note(&self) -> Option<String> {
        (self.lost > 0).then(|| {
            format!(
                "[clawherd: {} lines lost since {} (the file could not be written)]",
                self.lost,
                self.since
                    .map_or_else(String::new, |s| humantime::format_rfc3339_seconds(s).to_string())
            )
        })
    }
}

/// Writes `text` as one line to `out`, counting it in `losses` when that fails. Returns the
/// bytes written (the line, and the note of earlier losses when writing works again).
fn write_counted(out: &mut impl Write, text: &str, losses: &mut Losses, path: &Path, now: Instant) -> u64 {
    let report = |losses: &mut Losses, e: &std::io::Error| {
        if let Some(r) = losses.lost(e, now) {
            tracing::error!(path = %path.display(), "cannot write instance log file: {r}");
        }
    };
    // The note first: once it is written, the line follows on a disk that has room again.
    let note = losses.note();
    if let Some(n) = &note
        && let Err(e) = writeln!(out, "{n}")
    {
        report(losses, &e);
        return 0;
    }
    let mut written = note.as_ref().map_or(0, |n| n.len() as u64 + 1);
    if note.is_some() {
        tracing::warn!(path = %path.display(), lost = losses.lost, "instance log file writable again");
        *losses = Losses::default();
    }
    match writeln!(out, "{text}") {
        Ok(()) => written += text.len() as u64 + 1,
        Err(e) => report(losses, &e),
    }
    written
}

/// How long a writer thread naps once its queue is empty before it waits on the queue again
/// ([`Batching::recv`]): 250 µs. Short next to what a queue holds: the runtime thread queues a
/// gateway's leftover output at its exit (up to 1,024 lines, `instance::actor`) at about a line
/// per microsecond, so about 250 lines wait out a nap, a quarter of the 1,024-line queue; events
/// come paced by a system call each (a `kill`, a reap, a spawn), at most about 100 per ms, so
/// about 25 wait out a nap against the 256-event queue. A fleet's stop queues an item every 25
/// to 50 µs, so a nap still takes several at once.
const WRITER_NAP: Duration = Duration::from_micros(250);

/// A writer thread's end of its queue, taken in batches: a sender wakes the writer (a futex
/// call, and a switch to the writer's thread) only while the writer waits on the queue, so the
/// writer naps once the queue is empty before it waits again, and what came during the nap is
/// taken without a wake-up. A fleet's stop queues an event and a run marker per instance; woken
/// for each, the two writers cost the runtime thread a futex call per item (docs/performance.md,
/// the fourteenth round). An item that comes during a nap waits for the nap's end (about
/// [`WRITER_NAP`], more on a busy machine). An isolated item costs the writer one more wake-up
/// (the nap's end) than before; the runtime thread pays nothing more, and an idle daemon's
/// writers sleep on their queues.
pub(crate) struct Batching<T> {
    rx: Receiver<T>,
    /// Whether the writer napped since it last took an item.
    napped: bool,
}

impl<T> Batching<T> {
    /// Wraps the receiving end of a writer's queue.
    pub(crate) fn new(rx: Receiver<T>) -> Self {
        Self { rx, napped: true }
    }

    /// The next item: at once when one is queued; else, once after each item taken, after a
    /// nap of [`WRITER_NAP`] and a new look; else waiting on the queue. Items come in the order
    /// sent. `Err` once the queue is empty and every sender is gone.
    pub(crate) fn recv(&mut self) -> Result<T, std::sync::mpsc::RecvError> {
        use std::sync::mpsc::TryRecvError;
        loop {
            match self.rx.try_recv() {
                Ok(item) => {
                    self.napped = false;
                    return Ok(item);
                }
                Err(TryRecvError::Disconnected) => return Err(std::sync::mpsc::RecvError),
                Err(TryRecvError::Empty) if !self.napped => {
                    self.napped = true;
                    std::thread::sleep(WRITER_NAP);
                }
                Err(TryRecvError::Empty) => {
                    let item = self.rx.recv();
                    self.napped = false;
                    return item;
                }
            }
        }
    }

    /// The next item if one is queued now (never naps or waits).
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        let item = self.rx.try_recv().ok();
        if item.is_some() {
            self.napped = false;
        }
        item
    }
}

fn file_writer(dir: PathBuf, rotation: Rotation, rx: Receiver<Queued>, follow: broadcast::Sender<Line>) {
    let mut files: HashMap<Arc<str>, Open> = HashMap::new();
    let mut losses: HashMap<Arc<str>, Losses> = HashMap::new();
    let mut rx = Batching::new(rx);
    while let Ok(queued) = rx.recv() {
        // Each line is written as it comes (no buffer), so what came before is in the file.
        let line = match queued {
            Queued::Line(line) => line,
            Queued::Flush(ack) => {
                let _ = ack.try_send(());
                continue;
            }
        };
        if line.marker {
            let _ = follow.send(line);
            continue;
        }
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
        let lost = losses.entry(line.profile.clone()).or_default();
        if !files.contains_key(&line.profile) {
            match open(&dir, &line.profile) {
                Ok(o) => {
                    files.insert(line.profile.clone(), o);
                }
                Err(e) => {
                    if let Some(r) = lost.lost(&e, Instant::now()) {
                        tracing::error!(path = %path_for(&dir, &line.profile).display(), "cannot open instance log file: {r}");
                    }
                    continue;
                }
            }
        }
        if let Some(o) = files.get_mut(&line.profile) {
            o.bytes += write_counted(&mut o.file, &text, lost, &path_for(&dir, &line.profile), Instant::now());
        }
        // Nobody following is the normal case.
        let _ = follow.send(line);
    }
}

fn console_writer(rx: Receiver<Queued>, mode: Console) {
    let lines = rx.into_iter().filter_map(|queued| match queued {
        Queued::Line(line) => Some(line),
        Queued::Flush(ack) => {
            // stdout is flushed at each line's newline, and journal entries are datagrams.
            let _ = ack.try_send(());
            None
        }
    });
    if let Console::Journal(j) = &mode {
        for line in lines {
            if let Err(e) = j.write_line(&line.profile, line.stream, &line.text) {
                tracing::warn!(error = %e, "cannot write a gateway line to the journal");
            }
        }
        return;
    }
    for line in lines {
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
    fn a_batching_queue_gives_every_item_in_order_then_ends() {
        let (tx, rx) = sync_channel(8);
        let mut rx = Batching::new(rx);
        for i in 0..3 {
            tx.send(i).expect("queued");
        }
        // Queued before the calls: taken at once, in order.
        assert_eq!((rx.recv(), rx.try_recv(), rx.recv()), (Ok(0), Some(1), Ok(2)));
        assert_eq!(rx.try_recv(), None);
        // An empty queue: the writer naps, then waits until an item comes (the sender sends
        // well after the nap, so the wait is taken).
        let sender = std::thread::spawn(move || {
            std::thread::sleep(WRITER_NAP * 40);
            tx.send(3).expect("queued");
            tx.send(4).expect("queued");
        });
        assert_eq!((rx.recv(), rx.recv()), (Ok(3), Ok(4)));
        sender.join().expect("sender");
        // Every sender gone and the queue empty: the end.
        assert_eq!(rx.recv(), Err(std::sync::mpsc::RecvError));
    }

    /// `flush` returns once every line queued before it is in its file (the daemon's last step),
    /// with a console writer too.
    #[test]
    fn flush_returns_once_every_queued_line_is_in_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rotation = Rotation {
            max_bytes: 1 << 20,
            keep: 1,
        };
        let sink = OutputSink::start(dir.path().to_path_buf(), rotation, Console::Stdout);
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        for round in 1..=5 {
            for i in 0..100 {
                sink.line(&a, OutputStream::Stdout, format!("a {i}"));
                sink.line(&b, OutputStream::Stderr, format!("b {i}"));
            }
            assert!(sink.flush(Duration::from_secs(60)), "flushed in time");
            for p in ["a", "b"] {
                let text = std::fs::read_to_string(path_for(dir.path(), p)).expect("log file");
                assert_eq!(text.lines().count(), 100 * round, "{p}");
            }
        }
    }

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

    /// A writer that fails (ENOSPC) while `full`, as a full disk does.
    struct Disk {
        full: bool,
        out: Vec<u8>,
    }

    impl Write for Disk {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.full {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ENOSPC));
            }
            self.out.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Disk full under run_dir: lost lines are reported at most once per 10 s per file (not one
    /// ERROR per line), and the first write that succeeds again resumes the file with the count.
    #[test]
    fn a_full_disk_is_reported_once_per_period_and_the_file_resumes_with_the_count() {
        // The real thing: /dev/full fails every write with ENOSPC (and is not chmod-ed).
        let mut full = open_append(Path::new("/dev/full")).expect("open /dev/full");
        let mut losses = Losses::default();
        let t0 = Instant::now();
        let mut reports = Vec::new();
        // 100,000 lines over 25 s: reports at 0 s, 10 s and 20 s only.
        for i in 0..100_000u64 {
            let e = writeln!(full, "line {i}").expect_err("/dev/full is full");
            if let Some(r) = losses.lost(&e, t0 + Duration::from_micros(i * 250)) {
                reports.push(r);
            }
        }
        assert_eq!(reports.len(), 3, "{reports:?}");
        assert!(reports[0].starts_with("1 lines dropped since "), "{}", reports[0]);
        assert!(reports[2].starts_with("80001 lines dropped since "), "{}", reports[2]);

        let mut disk = Disk {
            full: true,
            out: Vec::new(),
        };
        let mut losses = Losses::default();
        let path = Path::new("/run/x/main.log");
        for i in 0..1000 {
            assert_eq!(write_counted(&mut disk, &format!("lost {i}"), &mut losses, path, t0), 0);
        }
        disk.full = false;
        let written = write_counted(&mut disk, "back", &mut losses, path, t0);
        let text = String::from_utf8(disk.out).expect("utf8");
        assert_eq!(written, text.len() as u64);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("[clawherd: 1000 lines lost since "), "{text}");
        assert_eq!(lines[1], "back");
        assert!(losses.note().is_none(), "the count starts again after the note");
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777
    }

    /// Gateway output and events are not for every local user: run_dir and logs/ are 0700 and
    /// the files 0600, tightened where an older clawherd left 0755/0644; with `control.group`
    /// 0750/0640 and that group.
    #[test]
    fn run_dir_logs_and_their_files_are_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let run = tmp.path().join("run");
        prepare_run_dir(&run, None).expect("prepare");
        assert_eq!((mode(&run), mode(&run.join("logs"))), (0o700, 0o700));
        let sink = OutputSink::start(run.join("logs"), Rotation::default(), Console::Off);
        let mut follow = sink.subscribe();
        sink.line(&Arc::from("main"), OutputStream::Stdout, "secret".into());
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("rt");
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), follow.recv())
                .await
                .expect("line in time")
                .expect("line");
        });
        assert_eq!(mode(&path_for(&run.join("logs"), "main")), 0o600);

        // An older clawherd's folders and files are tightened.
        let old = tmp.path().join("old");
        std::fs::create_dir_all(old.join("logs")).expect("mkdir");
        for d in [&old, &old.join("logs")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let events = old.join("events.jsonl");
        std::fs::write(&events, "{}\n").expect("write");
        std::fs::set_permissions(&events, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        prepare_run_dir(&old, None).expect("prepare");
        drop(open_append(&events).expect("open"));
        assert_eq!((mode(&old), mode(&old.join("logs")), mode(&events)), (0o700, 0o700, 0o600));

        // With `control.group` (here our own group, which we may always give).
        let gid = nix::unistd::getegid().as_raw();
        let shared = tmp.path().join("shared");
        prepare_run_dir(&shared, Some(gid)).expect("prepare");
        let f = shared.join("events.jsonl");
        drop(open_append(&f).expect("open"));
        drop(open_append(&shared.join("logs").join("main.log")).expect("open"));
        assert_eq!((mode(&shared), mode(&shared.join("logs"))), (0o750, 0o750));
        assert_eq!((mode(&f), mode(&shared.join("logs/main.log"))), (0o640, 0o640));
        assert_eq!(std::fs::metadata(&f).expect("meta").gid(), gid);
    }
}
