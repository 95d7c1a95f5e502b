//! Giving start-up memory back. clawherd's binary is mapped from its file; parsing the CLI, the
//! fleet file and the OpenClaw configs and running the proof fault in most of its code (with the
//! kernel's fault-around, 64 KiB at a time), code a running supervisor never touches again.
//! Called once, after start-up:
//!
//! - the read-only private file mappings of the binary and of the shared libraries it loaded
//!   (libc, libm, ld.so, libgcc_s: their touched pages count in clawherd's RSS too), code
//!   (`r-xp`) and data (`r--p`: `.rodata`, unwind tables, relocations), are dropped with
//!   `MADV_DONTNEED` while they hold no private (copied-on-write) page, resident or swapped
//!   out, which `/proc/self/smaps` shows as `Anonymous: 0` and `Swap: 0`. For a private file
//!   mapping that only unmaps the pages; what is used again faults back in, identical, from
//!   the page cache, without reading the disk. The drop is immediate and certain. Only objects
//!   with a code mapping count as loaded: a file mapped read-only by a dependency, or one that
//!   `dlopen` is still mapping, is left alone.
//! - the binary's read-only mappings that do hold private pages (RELRO data, whose relocated
//!   pages are private copies that `MADV_DONTNEED` would lose) get `MADV_PAGEOUT` (Linux ≥
//!   5.4), which only reclaims what can be reclaimed without loss; how much the kernel takes
//!   varies (large page-cache folios, pages shared with another clawherd process). `MADV_PAGEOUT`
//!   also evicts a file's pages from the page cache when clawherd alone maps them, so it is not
//!   used where `MADV_DONTNEED` is safe: `.rodata` paged out that way was read back from the disk
//!   at the next rare path (perf showed shutdown waiting in `io_schedule` under the formatting
//!   of its last events; it took about 4 ms more at 100 instances: docs/performance.md, the
//!   thirteenth round).
//!
//! Writable mappings are never touched.
//!
//! - the heap's free pages: start-up frees most of what it allocated (the parsed fleet file and
//!   configs, the proof's tables, the spawn burst's buffers), but with one malloc arena (see
//!   `main.rs`) glibc gives back only the free space at the top of the heap; the free pages in
//!   between stay resident. `malloc_trim(0)` hands them back (`MADV_DONTNEED` on each whole free
//!   page, glibc ≥ 2.8); live allocations are not moved or changed.

/// Drops clawherd's and its libraries' read-only file mappings, pages out its own that hold
/// private pages and gives the heap's free pages back (see the module doc); returns the bytes of
/// mappings advised (the heap's share is not counted: glibc does not report it). Failures (an
/// older kernel: EINVAL) are ignored, the cost is only memory.
pub(crate) fn page_out_startup_code() -> u64 {
    release_free_heap();
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else { return 0 };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let exe = exe.to_string_lossy().into_owned();
    let all = mappings(&smaps);
    let loaded = loaded_objects(&all);
    let mut advised = 0;
    for m in &all {
        let own = m.path == exe;
        let len = m.hi - m.lo;
        let Some(advice) = advice(m, own, &loaded) else { continue };
        // SAFETY: the range is one of our read-only file mappings from /proc/self/smaps.
        // MADV_DONTNEED is only used on mappings that hold no private copy, so every page that
        // faults back in is read from the file unchanged; MADV_PAGEOUT only reclaims pages, it
        // never changes their contents.
        let rc = unsafe { nix::libc::madvise(m.lo as *mut nix::libc::c_void, len, advice) };
        if own {
            // SAFETY: as above; MADV_RANDOM only changes how the range is read back in.
            unsafe { nix::libc::madvise(m.lo as *mut nix::libc::c_void, len, nix::libc::MADV_RANDOM) };
        }
        if rc == 0 {
            advised += len as u64;
        }
    }
    advised
}

/// The paths of the objects the dynamic loader has finished mapping: those with a code
/// (`r-xp`) mapping. A file mapped only read-only is left alone: a dependency's own `mmap` of
/// data, or an object `dlopen` is still mapping (ld.so maps the whole file read-only first,
/// then maps its writable segments over part of it and writes them).
fn loaded_objects<'a>(all: &[Mapping<'a>]) -> std::collections::HashSet<&'a str> {
    all.iter()
        .filter(|m| m.perms == "r-xp" && m.path.starts_with('/'))
        .map(|m| m.path)
        .collect()
}

/// What the start-up trim does with mapping `m` (`own`: of clawherd's binary; `loaded`: see
/// [`loaded_objects`]): `MADV_DONTNEED` for a read-only, private mapping of a loaded object
/// that holds no private page, resident or swapped (`Anonymous:` and `Swap:` both 0: dropping
/// a swapped-out relocated page would read the file's unrelocated one back); `MADV_PAGEOUT`
/// for clawherd's own read-only mappings that do hold private pages; nothing for the rest
/// (writable, shared, anonymous, `[vdso]`, other files).
fn advice(m: &Mapping<'_>, own: bool, loaded: &std::collections::HashSet<&str>) -> Option<nix::libc::c_int> {
    // `loaded` holds file paths only, so [heap], [stack] and [vdso] are not in it.
    if m.perms.contains('w') || !m.perms.ends_with('p') || !loaded.contains(m.path) {
        return None;
    }
    if m.anonymous_kib == Some(0) && m.swap_kib == Some(0) {
        Some(nix::libc::MADV_DONTNEED)
    } else if own {
        Some(nix::libc::MADV_PAGEOUT)
    } else {
        None
    }
}

/// How long after a [`heap_churned`] the free pages are given back (100 ms): the calls of a
/// burst meanwhile cost at most two trims (one stored wake-up follows the first trim). Callers
/// say it once what churned is freed (a control answer once hyper took its body:
/// `control::handlers::trim_once_sent`), so the wait is only for coalescing: `top` or a
/// scraper calling every second costs one trim per call, as before.
pub(crate) const CHURN_SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// Set by [`heap_churned`], taken by [`release_after_churn`] (one stored permit: calls
/// meanwhile coalesce).
static CHURNED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Says that the heap just held a large transient set of allocations, now freed (a whole-fleet
/// `status` or `/metrics` answer once hyper took it, a fleet's last-known-good soaks ending, a
/// reload): [`release_after_churn`] gives the free pages back [`CHURN_SETTLE`] later. Cheap;
/// callable from any thread.
pub(crate) fn heap_churned() {
    CHURNED.notify_one();
}

/// Runs forever: each time [`heap_churned`] was called, waits [`CHURN_SETTLE`] and gives the
/// heap's whole free pages back (`malloc_trim(0)`, see the module doc). With one malloc arena
/// the free pages of a transient burst stay resident between the live allocations made
/// meanwhile (probe rounds, status readings), about 3 MiB at 1,000 instances after three
/// `status` calls; a trim costs about a millisecond there, once per burst.
pub(crate) async fn release_after_churn() {
    loop {
        CHURNED.notified().await;
        tokio::time::sleep(CHURN_SETTLE).await;
        release_free_heap();
    }
}

/// Gives the heap's whole free pages back to the kernel (`malloc_trim(0)`); with another C
/// library than glibc there is no such call, and nothing is done.
fn release_free_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases memory malloc holds free; it is thread-safe (it takes
    // each arena's lock) and leaves every live allocation where it is.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// One mapping of `/proc/self/smaps`: address range (bytes), permissions such as `r-xp`, the
/// mapped path (empty for anonymous memory) and its `Anonymous:` size in KiB.
#[derive(Debug, PartialEq, Eq)]
struct Mapping<'a> {
    lo: usize,
    hi: usize,
    perms: &'a str,
    path: &'a str,
    anonymous_kib: Option<u64>,
    /// Its `Swap:` size in KiB: private pages swapped out.
    swap_kib: Option<u64>,
}

/// Parses the mappings of a `/proc/PID/smaps` text; lines it does not understand are skipped.
fn mappings(smaps: &str) -> Vec<Mapping<'_>> {
    let mut out: Vec<Mapping<'_>> = Vec::new();
    for line in smaps.lines() {
        if let Some((key @ ("Anonymous" | "Swap"), rest)) = line.split_once(':') {
            if let Some(m) = out.last_mut() {
                let slot = if key == "Swap" { &mut m.swap_kib } else { &mut m.anonymous_kib };
                *slot = rest.trim().trim_end_matches("kB").trim().parse().ok();
            }
            continue;
        }
        let mut cols = line.split_whitespace();
        let (Some(range), Some(perms)) = (cols.next(), cols.next()) else {
            continue;
        };
        let Some((lo, hi)) = range.split_once('-') else { continue };
        let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) else {
            continue;
        };
        if perms.len() != 4 {
            continue;
        }
        out.push(Mapping {
            lo,
            hi,
            perms,
            path: cols.nth(3).unwrap_or(""),
            anonymous_kib: None,
            swap_kib: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_mappings_carry_their_anonymous_size() {
        let text = "\
5596d5fbf000-5596d60a0000 r--p 00000000 00:2a 123 /usr/bin/clawherd
Size:                900 kB
Anonymous:             4 kB
5596d60a0000-5596d6500000 r-xp 000e1000 00:2a 123 /usr/bin/clawherd
Size:               4480 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
7ffe8a0f9000-7ffe8a11a000 rw-p 00000000 00:00 0                          [stack]
Anonymous:           112 kB
";
        let m = mappings(text);
        assert_eq!(m.len(), 3);
        assert_eq!((m[0].perms, m[0].anonymous_kib), ("r--p", Some(4)));
        assert_eq!(
            m[1],
            Mapping {
                lo: 0x5596d60a0000,
                hi: 0x5596d6500000,
                perms: "r-xp",
                path: "/usr/bin/clawherd",
                anonymous_kib: Some(0),
                swap_kib: None
            }
        );
        assert_eq!((m[2].path, m[2].anonymous_kib), ("[stack]", Some(112)));
    }

    #[test]
    fn only_mappings_of_loaded_objects_without_private_pages_are_dropped() {
        let text = "\
5596d5fbf000-5596d60a0000 r--p 00000000 00:2a 123 /usr/bin/clawherd
Anonymous:             0 kB
Swap:                  0 kB
5596d60a0000-5596d6500000 r-xp 000e1000 00:2a 123 /usr/bin/clawherd
Anonymous:             0 kB
Swap:                  0 kB
5596d6500000-5596d6520000 r--p 00540000 00:2a 123 /usr/bin/clawherd
Anonymous:             0 kB
Swap:                  8 kB
7f0000000000-7f0000001000 r--p 00000000 00:2a 200 /usr/lib/x86_64-linux-gnu/libm.so.6
Anonymous:             0 kB
Swap:                  4 kB
7f0000001000-7f0000010000 r-xp 00001000 00:2a 200 /usr/lib/x86_64-linux-gnu/libm.so.6
Anonymous:             0 kB
Swap:                  0 kB
7f0000020000-7f0000030000 r--p 00000000 00:2a 300 /usr/lib/locale/locale-archive
Anonymous:             0 kB
Swap:                  0 kB
7f0000030000-7f0000031000 rw-p 00000000 00:2a 300 /usr/lib/x86_64-linux-gnu/libm.so.6
Anonymous:             0 kB
Swap:                  0 kB
7f0000040000-7f0000041000 r--s 00000000 00:2a 400 /usr/lib/x86_64-linux-gnu/libm.so.6
Anonymous:             0 kB
Swap:                  0 kB
7ffe8a0f9000-7ffe8a11a000 r--p 00000000 00:00 0                          [vvar]
Anonymous:             0 kB
Swap:                  0 kB
";
        let m = mappings(text);
        let loaded = loaded_objects(&m);
        let exe = "/usr/bin/clawherd";
        let got: Vec<Option<nix::libc::c_int>> = m.iter().map(|x| advice(x, x.path == exe, &loaded)).collect();
        let (drop, out) = (Some(nix::libc::MADV_DONTNEED), Some(nix::libc::MADV_PAGEOUT));
        // Own data and code without private pages: dropped. Own data with swapped-out private
        // pages: paged out, never dropped. A library's data with swapped-out private pages:
        // left. A library's code: dropped. A file mapped without code, a writable mapping, a
        // shared one and [vvar]: left.
        assert_eq!(got, vec![drop, drop, out, None, drop, None, None, None, None]);
        assert_eq!(m[2].swap_kib, Some(8));
    }

    #[test]
    fn paging_out_our_own_code_keeps_it_running() {
        // Runs in the test binary: after the drop, code and read-only data still work.
        let advised = page_out_startup_code();
        assert!(advised > 0, "the test binary has read-only mappings of its own");
        let v: Vec<String> = (0..100).map(|i| format!("{i}")).collect();
        assert_eq!(v.join(",").len(), 289);
    }
}
