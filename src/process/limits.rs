//! The open-descriptor limit (`RLIMIT_NOFILE`): raised to the hard limit at daemon start, as
//! systemd does for services, and read to size the control server's connection cap; and the
//! descriptor table, grown once for the fleet before its instances start.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// The current soft `RLIMIT_NOFILE` (1024, the common default, when it cannot be read).
pub(crate) fn nofile() -> u64 {
    getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit now in force.
/// A failure is logged and leaves the limit as it was.
pub(crate) fn raise_nofile() -> u64 {
    let raised = getrlimit(Resource::RLIMIT_NOFILE).and_then(|(soft, hard)| {
        if soft < hard {
            setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
        } else {
            Ok(())
        }
    });
    let now = nofile();
    match raised {
        Ok(()) => tracing::debug!(nofile = now, "open-descriptor limit"),
        Err(e) => tracing::warn!(error = %e, nofile = now, "cannot raise the open-descriptor limit to the hard limit"),
    }
    now
}

/// Descriptors reserved for each instance: a running one holds three (its gateway's stdout and
/// stderr pipes and its pidfd); the fourth is headroom for a probe's connection or a hook's
/// pipe in flight.
pub(crate) const DESCRIPTORS_PER_INSTANCE: usize = 4;

/// Descriptors reserved whatever the fleet, an estimate rather than a bound: stdio, the
/// registry lock, the runtime's epoll and wake-up descriptors, the control and metrics
/// listeners and a few connections (the control server allows more: see `control::server`),
/// the log and event files.
const BASE_DESCRIPTORS: usize = 64;

/// The descriptor table grown before the fleet file is read, while clawherd runs one thread
/// ([`reserve_descriptors`]): 1,024 slots (about 8 KiB of kernel memory), enough for 240
/// instances by [`descriptors_for`].
pub(crate) const EARLY_TABLE: usize = 1024;

/// The descriptor table a daemon of `instances` instances reserves (slots):
/// [`BASE_DESCRIPTORS`] plus [`DESCRIPTORS_PER_INSTANCE`] each.
pub(crate) fn descriptors_for(instances: usize) -> usize {
    BASE_DESCRIPTORS.saturating_add(instances.saturating_mul(DESCRIPTORS_PER_INSTANCE))
}

/// Grows this process's descriptor table to at least `slots` slots (capped by the soft
/// `RLIMIT_NOFILE`), so that the descriptors of the fleet's start fit without the kernel growing
/// it step by step. The kernel doubles the table when a new descriptor does not fit (64, 128,
/// 256... slots), and in a process of more than one thread each growth first waits for an RCU
/// grace period (`synchronize_rcu()` in `expand_fdtable()`, Linux fs/file.c), milliseconds on
/// the thread that grows it, while every other thread opening a descriptor meanwhile waits
/// for the growth. A daemon started with three descriptors, as systemd starts it, grew its
/// table three times while it started 100 instances (312 descriptors) and took 99 ms to start
/// them, against 61 ms with the table grown at once (docs/performance.md, the fourteenth
/// round). Growing the table while one thread runs does not wait, and growing it to the
/// fleet's size at once waits at most once.
///
/// The table is never shrunk. Each slot is about 8 bytes of kernel memory: not in clawherd's
/// RSS, but charged to its cgroup (systemd's `MemoryCurrent`). A child's table is sized by the
/// highest descriptor open when it is spawned, not by the reserved slots, so the gateways'
/// tables are no larger than before. Nothing fails: when `/` cannot be opened the table grows
/// as descriptors are opened, as before.
pub(crate) fn reserve_descriptors(slots: usize) {
    let Some(top) = highest_descriptor(slots, nofile()) else { return };
    // O_PATH: no read access to `/` needed, and no security module's open check.
    let Ok(anchor) = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_PATH).open("/") else {
        return;
    };
    match nix::fcntl::fcntl(&anchor, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(top)) {
        // SAFETY: `fd` was just returned by F_DUPFD_CLOEXEC and is owned by nothing else.
        Ok(fd) => drop(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(e) => tracing::debug!(error = %e, slots, "cannot grow the descriptor table"),
    }
}

/// The descriptor number whose opening grows the table to `slots` slots within the soft limit
/// `limit` (`slots - 1`, at most `limit - 1`); `None` when the table needs no growth: at most
/// 64 slots, the part of every process's table that is always there (NR_OPEN_DEFAULT on a
/// 64-bit kernel).
fn highest_descriptor(slots: usize, limit: u64) -> Option<i32> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let top = slots.min(limit).saturating_sub(1);
    // The kernel caps the limit below i32::MAX (fs.nr_open), so the conversion holds.
    (top >= 64).then(|| i32::try_from(top).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's size in slots, `FDSize:` in /proc/self/status.
    fn table_slots() -> usize {
        let status = procfs::process::Process::myself()
            .and_then(|p| p.status())
            .expect("/proc/self/status");
        status.fdsize as usize
    }

    #[test]
    fn the_table_grows_to_the_slots_asked_for() {
        let limit = usize::try_from(raise_nofile()).unwrap_or(usize::MAX);
        let before = table_slots();
        let want = (before * 4).min(limit);
        if want <= before {
            eprintln!("skipped: the descriptor limit ({limit}) leaves no room to grow the table ({before} slots)");
            return;
        }
        reserve_descriptors(want);
        let after = table_slots();
        assert!(after >= want, "{after} slots after asking for {want} ({before} before)");
    }

    #[test]
    fn the_descriptor_asked_for_stays_within_the_limit() {
        assert_eq!(highest_descriptor(1024, 1024), Some(1023));
        assert_eq!(highest_descriptor(4064, 1024), Some(1023));
        assert_eq!(highest_descriptor(464, 1 << 20), Some(463));
        assert_eq!(highest_descriptor(usize::MAX, 1 << 20), Some((1 << 20) - 1));
        assert_eq!(highest_descriptor(usize::MAX, u64::MAX), Some(i32::MAX));
        // Within the 64 slots every table has: nothing to grow.
        assert_eq!(highest_descriptor(64, 1 << 20), None);
        assert_eq!(highest_descriptor(1024, 64), None);
        assert_eq!(highest_descriptor(1024, 0), None);
        assert_eq!(highest_descriptor(0, 1024), None);
        assert_eq!(highest_descriptor(65, 1024), Some(64));
    }

    #[test]
    fn descriptors_grow_with_the_fleet() {
        assert_eq!(descriptors_for(0), BASE_DESCRIPTORS);
        assert_eq!(descriptors_for(1000), BASE_DESCRIPTORS + 4000);
        assert_eq!(descriptors_for(usize::MAX), usize::MAX);
    }
}
