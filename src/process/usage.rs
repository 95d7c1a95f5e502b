//! Resource use of an instance's whole tree (gateway, spawn broker, workers, tools), read from
//! `/proc/PID/stat` (once per process, by the tree walk): resident memory in bytes and CPU time in clock ticks. CPU percent is the
//! difference of two samples over the wall time between them (100 % = one core); a
//! [`CpuHistory`] keeps the last sample of each process between `status` calls, as `top` does.

use crate::process::tree;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One reading of a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeSample {
    /// Processes in the tree.
    pub processes: usize,
    /// Sum of resident set sizes, bytes.
    pub rss_bytes: u64,
    /// Sum of user + system CPU time, clock ticks (`ticks_per_second()` per second).
    pub cpu_ticks: u64,
    /// Each process: (pid, start time in ticks since boot, its user + system CPU ticks).
    pub per_process: Vec<(i32, u64, u64)>,
}

/// Reads the live tree of the instance with gateway `leader` and marker `marker`
/// ([`tree::live_tree`]: the leader's descendants and clawherd's own marked orphans, a few
/// `/proc` reads instead of a scan of the whole host).
#[cfg_attr(not(test), allow(dead_code, reason = "only the unit tests use it"))]
pub(crate) fn sample(leader: Option<i32>, marker: &str) -> TreeSample {
    sample_many(&[(leader, marker)]).into_iter().next().unwrap_or_default()
}

/// [`sample`] of several instances, each given as (leader, marker), in their order; clawherd's
/// own children are read once for all ([`tree::live_trees`]).
pub(crate) fn sample_many(instances: &[(Option<i32>, &str)]) -> Vec<TreeSample> {
    let page = procfs::page_size();
    tree::live_trees(instances, &crate::process::reaper::is_leader)
        .into_iter()
        .map(|members| {
            let mut s = TreeSample::default();
            // One read of /proc/PID/stat per process: the walk's own.
            for p in members {
                s.processes += 1;
                s.rss_bytes += p.rss_pages * page;
                s.cpu_ticks += p.cpu_ticks;
                s.per_process.push((p.pid, p.starttime, p.cpu_ticks));
            }
            s
        })
        .collect()
}

/// CPU use between two samples of the same tree, in percent of one core. A tree that lost
/// processes in between can read low; never negative.
pub(crate) fn cpu_percent(before: &TreeSample, after: &TreeSample, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64;
    100.0 * ticks / procfs::ticks_per_second() as f64 / secs
}

/// The last CPU reading of each process (by pid and start time, so a reused pid is a new
/// process), kept between `status` calls so that a call can report CPU use since the previous
/// one instead of measuring over a window of its own.
#[derive(Debug, Default)]
pub struct CpuHistory {
    last: HashMap<(i32, u64), (u64, Instant)>,
    /// The last whole answer: when, of which instances (a hash of their (leader, marker) list),
    /// the trees and each one's (CPU percent, span in seconds).
    answer: Option<(Instant, u64, Answer)>,
}

/// A whole `status` answer's figures: each instance's tree and its (CPU percent, span in
/// seconds), in the order of the instances.
pub(crate) type Answer = (Vec<TreeSample>, Vec<(f64, f64)>);

impl CpuHistory {
    /// A previous reading is used when it is at least this old (a shorter span reads too coarse
    /// in clock ticks of 10 ms)...
    pub const MIN_AGE: Duration = Duration::from_millis(500);
    /// ...and at most this old (an older one would report a long-gone average).
    pub const MAX_AGE: Duration = Duration::from_secs(60);

    /// CPU use of `tree`, in percent of one core, from each process's previous reading to
    /// `tree` (taken at `now`), and the seconds it spans (the oldest reading's age; 0 for an
    /// empty tree). `None` when a process of the tree has no usable reading: the
    /// first call, a new process (a restart), or a reading not within
    /// [`MIN_AGE`](Self::MIN_AGE)..=[`MAX_AGE`](Self::MAX_AGE). An empty tree reads 0.
    pub fn since_last(&self, tree: &TreeSample, now: Instant) -> Option<(f64, f64)> {
        let tps = procfs::ticks_per_second() as f64;
        let (mut percent, mut span) = (0.0, 0.0_f64);
        for (pid, start, ticks) in &tree.per_process {
            let (before, at) = self.last.get(&(*pid, *start))?;
            let age = now.saturating_duration_since(*at);
            if !(Self::MIN_AGE..=Self::MAX_AGE).contains(&age) {
                return None;
            }
            percent += 100.0 * ticks.saturating_sub(*before) as f64 / tps / age.as_secs_f64();
            span = span.max(age.as_secs_f64());
        }
        Some((percent, span))
    }

    /// The trees and CPU figures of the last [`keep_answer`](Self::keep_answer) for the same
    /// instances (`which`: each one's leader pid and marker, in order), when it is younger than
    /// [`MIN_AGE`](Self::MIN_AGE) at `now`: calls closer together than that share one reading
    /// (a fresh one would read too coarse anyway), so a client polling `status` costs no `/proc`
    /// reads between readings. `None` when there is none, it is older, or the instances or
    /// their pids changed.
    pub fn recent_answer(&self, which: &[(Option<i32>, &str)], now: Instant) -> Option<Answer> {
        let (at, key, answer) = self.answer.as_ref()?;
        (now.saturating_duration_since(*at) < Self::MIN_AGE && *key == answer_key(which)).then(|| answer.clone())
    }

    /// Keeps a whole answer for [`recent_answer`](Self::recent_answer): `trees` and `cpu` of
    /// the instances `which`, measured at `now`.
    pub fn keep_answer(&mut self, which: &[(Option<i32>, &str)], trees: &[TreeSample], cpu: &[(f64, f64)], now: Instant) {
        self.answer = Some((now, answer_key(which), (trees.to_vec(), cpu.to_vec())));
    }

    /// Replaces the kept readings with `trees`, taken at `now` (processes not in them are
    /// forgotten).
    pub fn record<'a>(&mut self, trees: impl IntoIterator<Item = &'a TreeSample>, now: Instant) {
        self.last.clear();
        for t in trees {
            for (pid, start, ticks) in &t.per_process {
                self.last.insert((*pid, *start), (*ticks, now));
            }
        }
    }
}

/// A hash of the instances an answer was for: their (leader, marker) list in order.
fn answer_key(which: &[(Option<i32>, &str)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    which.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_reports_use_since_the_previous_reading_of_every_process() {
        let tps = procfs::ticks_per_second();
        let t0 = Instant::now();
        let tree = |procs: &[(i32, u64, u64)]| TreeSample {
            processes: procs.len(),
            rss_bytes: 0,
            cpu_ticks: procs.iter().map(|p| p.2).sum(),
            per_process: procs.to_vec(),
        };
        let mut h = CpuHistory::default();
        let first = tree(&[(10, 1, 100), (11, 1, 5)]);
        assert_eq!(h.since_last(&first, t0), None, "no reading yet");
        h.record([&first], t0);
        // 2 s later: pid 10 used one core the whole time, pid 11 half a core.
        let later = tree(&[(10, 1, 100 + 2 * tps), (11, 1, 5 + tps)]);
        let (pct, span) = h.since_last(&later, t0 + Duration::from_secs(2)).expect("both known");
        assert!((pct - 150.0).abs() < 1e-9, "{pct}");
        assert!((span - 2.0).abs() < 1e-9, "{span}");
        // Too soon, too late, a new process, a reused pid: no answer from history.
        assert_eq!(h.since_last(&later, t0 + Duration::from_millis(100)), None);
        assert_eq!(h.since_last(&later, t0 + Duration::from_secs(61)), None);
        assert_eq!(h.since_last(&tree(&[(10, 1, 100), (12, 7, 0)]), t0 + Duration::from_secs(2)), None);
        assert_eq!(h.since_last(&tree(&[(10, 9, 100)]), t0 + Duration::from_secs(2)), None);
        assert_eq!(h.since_last(&tree(&[]), t0 + Duration::from_secs(2)), Some((0.0, 0.0)));
        // Recording replaces: pid 11 is forgotten.
        h.record([&tree(&[(10, 1, 100 + 2 * tps)])], t0 + Duration::from_secs(2));
        assert_eq!(h.since_last(&tree(&[(11, 1, 5 + tps)]), t0 + Duration::from_secs(4)), None);
    }

    #[test]
    fn cpu_percent_of_one_core_busy() {
        let tps = procfs::ticks_per_second();
        let a = TreeSample {
            processes: 1,
            cpu_ticks: 10,
            ..TreeSample::default()
        };
        let b = TreeSample {
            processes: 1,
            cpu_ticks: 10 + tps,
            ..TreeSample::default()
        };
        assert!((cpu_percent(&a, &b, Duration::from_secs(1)) - 100.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&b, &a, Duration::from_secs(1)), 0.0);
    }

    #[test]
    fn samples_the_leader_and_its_descendants() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        // Sample once the child runs `sleep` and is resident: right after fork, or right after
        // execve before the new image is faulted in, its RSS can read 0.
        let pid = child.id() as i32;
        let resident = || {
            procfs::process::Process::new(pid)
                .and_then(|p| p.stat())
                .is_ok_and(|s| s.comm == "sleep" && s.rss > 0)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !resident() {
            assert!(std::time::Instant::now() < deadline, "sleep did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let s = sample(Some(child.id() as i32), "no-such-marker");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(s.processes, 1);
        assert!(s.rss_bytes > 0);
    }

    #[test]
    fn a_recent_answer_serves_the_same_instances_only() {
        let t0 = Instant::now();
        let trees = vec![TreeSample {
            processes: 2,
            rss_bytes: 4096,
            cpu_ticks: 7,
            per_process: vec![(10, 1, 7)],
        }];
        let cpu = vec![(12.5, 0.6)];
        let which = [(Some(10), "m-main")];
        let mut h = CpuHistory::default();
        assert_eq!(h.recent_answer(&which, t0), None, "none kept yet");
        h.keep_answer(&which, &trees, &cpu, t0);
        let soon = t0 + Duration::from_millis(300);
        assert_eq!(h.recent_answer(&which, soon), Some((trees.clone(), cpu.clone())));
        assert_eq!(h.recent_answer(&which, t0 + CpuHistory::MIN_AGE), None, "too old");
        assert_eq!(h.recent_answer(&[(Some(11), "m-main")], soon), None, "the gateway restarted");
        assert_eq!(
            h.recent_answer(&[(Some(10), "m-main"), (None, "m-rescue")], soon),
            None,
            "another roster"
        );
    }
}
