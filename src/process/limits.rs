//! The open-descriptor limit (`RLIMIT_NOFILE`): raised to the hard limit at daemon start, as
//! systemd does for services, and read to size the control server's connection cap; and the
//! descriptor table, grown once for the fleet before its instances start.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use std::os::fd::{FromRawFd, OwnedFd};

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

/// Descriptors the daemon holds for each running instance: its gateway's stdout and stderr
/// pipes and its pidfd (3), and one more for a probe's connection or a hook's pipe in flight.
pub(crate) const DESCRIPTORS_PER_INSTANCE: usize = 4;

/// Descriptors the daemon holds whatever its fleet: stdio, the registry lock, the runtime's
/// epoll and wake-up descriptors, the control and metrics listeners and their connections, the
/// log and event files.
const BASE_DESCRIPTORS: usize = 64;

/// The descriptor table grown before the fleet file is read, while clawherd runs one thread
/// ([`reserve_descriptors`]): 1,024 slots (8 KiB of kernel memory), enough for 240 instances.
pub(crate) const EARLY_TABLE: usize = 1024;

/// The descriptor table a daemon of `instances` instances needs (slots): [`BASE_DESCRIPTORS`]
/// plus [`DESCRIPTORS_PER_INSTANCE`] each.
pub(crate) fn descriptors_for(instances: usize) -> usize {
    BASE_DESCRIPTORS.saturating_add(instances.saturating_mul(DESCRIPTORS_PER_INSTANCE))
}

/// Grows this process's descriptor table to at least `slots` slots (capped by the soft
/// `RLIMIT_NOFILE`), so that the descriptors of the fleet's start fit without the kernel growing
/// it step by step. The kernel doubles the table when a new descriptor does not fit (64, 128,
/// 256... slots), and in a process of more than one thread each growth first waits for an RCU
/// grace period (`synchronize_rcu()` in `expand_fdtable()`, Linux fs/file.c), milliseconds
/// each on the runtime thread. A daemon started with three descriptors, as systemd starts it,
/// grew its table three times while it started 100 instances (312 descriptors) and took 99 ms
/// to start them, against 61 ms with the table grown at once (docs/performance.md, the
/// fourteenth round). Growing the table while one thread runs does not wait, and growing it to
/// the fleet's size at once waits at most once.
///
/// The table is never shrunk; each slot is 8 bytes of kernel memory, none of it in clawherd's
/// RSS, and a child copies only the slots up to its highest open descriptor, so the gateways'
/// tables stay small. A failure (no `/` to open, a limit below `slots`) costs only the time
/// the growths take.
pub(crate) fn reserve_descriptors(slots: usize) {
    let limit = usize::try_from(nofile()).unwrap_or(usize::MAX);
    let top = slots.min(limit).saturating_sub(1);
    // The first 64 slots are part of every process (NR_OPEN_DEFAULT).
    if top < 64 {
        return;
    }
    let Ok(anchor) = std::fs::File::open("/") else { return };
    let top = i32::try_from(top).unwrap_or(i32::MAX);
    match nix::fcntl::fcntl(&anchor, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(top)) {
        // SAFETY: `fd` was just returned by F_DUPFD_CLOEXEC and is owned by nothing else.
        Ok(fd) => drop(unsafe { OwnedFd::from_raw_fd(fd) }),
        Err(e) => tracing::debug!(error = %e, slots, "cannot grow the descriptor table"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's size in slots, `FDSize:` in /proc/self/status.
    fn table_slots() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let line = status.lines().find(|l| l.starts_with("FDSize:")).expect("FDSize");
        line["FDSize:".len()..].trim().parse().expect("a number")
    }

    #[test]
    fn the_table_grows_to_the_slots_asked_for_within_the_limit() {
        let limit = usize::try_from(raise_nofile()).unwrap_or(usize::MAX);
        let before = table_slots();
        let want = (before * 4).min(limit);
        assert!(
            want > before,
            "the limit ({limit}) leaves no room to grow the table ({before} slots)"
        );
        reserve_descriptors(want);
        let after = table_slots();
        assert!(after >= want, "{after} slots after asking for {want} ({before} before)");
        // Beyond the limit the table stops at the limit, and nothing fails.
        reserve_descriptors(usize::MAX);
        assert!(table_slots() >= after);
    }

    #[test]
    fn descriptors_grow_with_the_fleet() {
        assert_eq!(descriptors_for(0), BASE_DESCRIPTORS);
        assert_eq!(descriptors_for(1000), BASE_DESCRIPTORS + 4000);
        assert_eq!(descriptors_for(usize::MAX), usize::MAX);
    }
}
