//! Lays out the daemon's steady-state code first in release builds of `clawherd`.
//!
//! A running daemon keeps resident only the code it executes, but the kernel maps file pages in
//! 64 KiB "fault-around" windows, so one small function run every probe round keeps its whole
//! window resident. Spread over the binary, the few hundred KiB of code that a settled fleet runs
//! (probe rounds, timers, `status`, `events`, `/metrics`) kept about 3 MiB of the 4.6 MB of text
//! resident at 1,000 instances. `link/hot-code.txt` lists those functions by symbol name (written
//! by `scripts/hot-code` from a callgrind run and page-fault rounds on a release build). This
//! script turns the list into a linker script that puts them in a `.text.hot` output section
//! before `.text` (`INSERT BEFORE`, so the linker's default layout is otherwise kept), and passes
//! it to the link of the `clawherd` binary:
//!
//! 1. each listed name exactly, in the list's order: a build with the same toolchain,
//!    dependencies and profile names its functions as the recorded one did;
//! 2. then each Rust symbol as a pattern, with what changes from build to build as `*` (the
//!    `h<16 hex>` hash of a legacy symbol and any LLVM suffix after it, the `Cs<id>_` crate
//!    disambiguators of a v0 symbol and an LLVM suffix such as `.llvm.N`): after a change of
//!    toolchain or dependency versions the same functions still come first, with the other
//!    instances of their generic functions beside them. Other names (C functions) are matched
//!    exactly only.
//!
//! A function is taken from its `.text.NAME` input section, or `.text.unlikely.NAME` where LLVM
//! placed a function marked cold. A name that no longer exists matches nothing; the layout only
//! moves code, so behaviour is the same whatever the list holds. Nothing is done for debug
//! builds, for other targets than Linux, or with `CLAWHERD_HOT_CODE=off` in the environment (for
//! a linker that takes no linker script with `INSERT`, such as mold).

use std::fmt::Write as _;

fn main() {
    println!("cargo:rerun-if-changed=link/hot-code.txt");
    println!("cargo:rerun-if-env-changed=CLAWHERD_HOT_CODE");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let off = std::env::var("CLAWHERD_HOT_CODE").is_ok_and(|v| v == "off");
    if !release || !linux || off {
        return;
    }
    let list = std::fs::read_to_string("link/hot-code.txt").expect("link/hot-code.txt is part of the source");
    let mut names = Vec::new();
    for (index, line) in list.lines().enumerate() {
        let name = line.trim();
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        // A symbol name as rustc and LLVM write them; anything else would end the linker
        // script's pattern early or change its meaning.
        let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'));
        assert!(
            plain,
            "link/hot-code.txt:{}: `{name}` is not a symbol name (letters, digits, `_`, `$` and `.` only); \
             regenerate the file with scripts/hot-code or remove the line",
            index + 1
        );
        names.push(name);
    }
    let mut patterns: Vec<String> = Vec::new();
    for p in names.iter().filter_map(|name| pattern(name)) {
        if !patterns.contains(&p) {
            patterns.push(p);
        }
    }
    let mut script = String::from("/* Written by build.rs from link/hot-code.txt. */\nSECTIONS {\n  .text.hot : {\n");
    for name in names.iter().copied().chain(patterns.iter().map(String::as_str)) {
        let _ = writeln!(script, "    *(.text.{name} .text.unlikely.{name})");
    }
    script.push_str("  }\n}\nINSERT BEFORE .text;\n");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("hot-code.ld");
    std::fs::write(&out, script).expect("OUT_DIR is writable");
    // `-T` and the path as two arguments (the compiler driver passes both on): inside `-Wl,` a
    // comma in the path would split it.
    println!("cargo:rustc-link-arg-bin=clawherd=-T");
    println!("cargo:rustc-link-arg-bin=clawherd={}", out.display());
}

/// `name` with its build-dependent parts as `*` (see the module doc), for a Rust symbol (`_ZN`
/// legacy, `_R` v0); `None` for other names (a C function's name does not change) and for a
/// pattern whose fixed start would be too short to pick out its functions.
fn pattern(name: &str) -> Option<String> {
    let out = if name.starts_with("_ZN") {
        // The hash: `17h`, 16 hex digits, `E`; what follows it is an LLVM suffix.
        let at = name.rmatch_indices("17h").map(|(i, _)| i).find(|&i| {
            let hash = name.as_bytes().get(i + 3..i + 19);
            hash.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) && name.as_bytes().get(i + 19) == Some(&b'E')
        })?;
        format!("{}17h*", &name[..at])
    } else if let Some(body) = name.strip_prefix("_R") {
        // An LLVM suffix starts at the first `.` (a v0 name has none); each crate
        // disambiguator is `Cs`, base-62 digits, `_`.
        let (body, suffix) = body.split_once('.').map_or((body, false), |(b, _)| (b, true));
        let mut out = String::from("_R");
        let mut rest = body;
        while let Some(at) = rest.find("Cs") {
            out.push_str(&rest[..at + 2]);
            rest = &rest[at + 2..];
            let digits = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
            if digits > 0 && rest.as_bytes().get(digits) == Some(&b'_') {
                out.push('*');
                rest = &rest[digits..];
            }
        }
        out.push_str(rest);
        if suffix {
            out.push('*');
        }
        out
    } else {
        return None;
    };
    let fixed = out.find('*').unwrap_or(out.len());
    (out != name && fixed >= 8).then_some(out)
}
