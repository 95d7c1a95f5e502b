//! Resource use of an instance's whole tree (gateway, spawn broker, workers, tools), read from
//! `/proc/PID/stat`: resident memory in bytes and CPU time in clock ticks. CPU percent is the
//! difference of two samples over the wall time between them (100 % = one core).

use crate::process::tree;
use std::time::Duration;

/// One reading of a tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeSample {
    /// Processes in the tree.
    pub processes: usize,
    /// Sum of resident set sizes, bytes.
    pub rss_bytes: u64,
    /// Sum of user + system CPU time, clock ticks (`ticks_per_second()` per second).
    pub cpu_ticks: u64,
}

/// Reads the live tree of the instance with gateway `leader` and marker `marker`
/// ([`tree::live_tree`]: the leader's descendants and clawherd's own marked orphans, a few
/// `/proc` reads instead of a scan of the whole host).
pub fn sample(leader: Option<i32>, marker: &str) -> TreeSample {
    let page = procfs::page_size();
    let mut s = TreeSample::default();
    for p in tree::live_tree(leader, marker, &crate::process::reaper::is_leader) {
        if let Ok(stat) = procfs::process::Process::new(p.pid).and_then(|pr| pr.stat()) {
            s.processes += 1;
            s.rss_bytes += stat.rss * page;
            s.cpu_ticks += stat.utime + stat.stime;
        }
    }
    s
}

/// CPU use between two samples of the same tree, in percent of one core. A tree that lost
/// processes in between can read low; never negative.
pub fn cpu_percent(before: &TreeSample, after: &TreeSample, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64;
    100.0 * ticks / procfs::ticks_per_second() as f64 / secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_of_one_core_busy() {
        let tps = procfs::ticks_per_second();
        let a = TreeSample {
            processes: 1,
            rss_bytes: 0,
            cpu_ticks: 10,
        };
        let b = TreeSample {
            processes: 1,
            rss_bytes: 0,
            cpu_ticks: 10 + tps,
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
}
