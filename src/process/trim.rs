//! Giving start-up memory back. clawherd's binary is mapped from its file; parsing the CLI, the
//! fleet file and the OpenClaw configs and running the proof fault in most of its code (with the
//! kernel's fault-around, 64 KiB at a time), code a running supervisor never touches again. Those
//! pages are clean and file-backed, so `madvise(MADV_PAGEOUT)` (Linux ≥ 5.4) drops them from
//! clawherd's resident set at no risk: code that is used again faults back in from the page
//! cache. Called once, after start-up.

/// Pages out clawherd's own file-backed executable mappings; returns the bytes advised.
/// Failures (an older kernel: EINVAL) are ignored, the cost is only memory.
pub fn page_out_startup_code() -> u64 {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else { return 0 };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let exe = exe.to_string_lossy().into_owned();
    let mut advised = 0;
    for line in maps.lines() {
        let mut cols = line.split_whitespace();
        let (Some(range), Some(perms)) = (cols.next(), cols.next()) else {
            continue;
        };
        let path = cols.nth(3).unwrap_or("");
        // Text and read-only data of our own binary; never writable mappings.
        if path != exe || perms.contains('w') {
            continue;
        }
        let Some((lo, hi)) = range.split_once('-') else { continue };
        let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) else {
            continue;
        };
        // SAFETY: the range is one of our own mappings from /proc/self/maps, read-only and
        // file-backed; MADV_PAGEOUT only reclaims pages, it never changes their contents.
        let rc = unsafe { nix::libc::madvise(lo as *mut nix::libc::c_void, hi - lo, nix::libc::MADV_PAGEOUT) };
        // SAFETY: as above; MADV_RANDOM only changes how the range is read back in.
        unsafe { nix::libc::madvise(lo as *mut nix::libc::c_void, hi - lo, nix::libc::MADV_RANDOM) };
        if rc == 0 {
            advised += (hi - lo) as u64;
        }
    }
    advised
}
