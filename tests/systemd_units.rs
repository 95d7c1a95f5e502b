//! The systemd units in `systemd/`: the directives clawherd depends on are there with the values
//! it needs (always checked), every directive is commented, and `systemd-analyze verify`
//! accepts both units (when `systemd-analyze` is on PATH; otherwise a skip line is printed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SYSTEM_UNIT: &str = "systemd/clawherd.service";
const USER_UNIT: &str = "systemd/clawherd-user.service";

fn unit_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(unit_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `Section.Key` → values (a key may repeat), comments and blank lines skipped.
fn directives(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("not a directive: {line}"));
        out.entry(format!("{section}.{}", k.trim())).or_default().push(v.trim().to_string());
    }
    out
}

fn one<'a>(d: &'a BTreeMap<String, Vec<String>>, key: &str, unit: &str) -> &'a str {
    match d.get(key).map(Vec::as_slice) {
        Some([v]) => v,
        other => panic!("{unit}: expected exactly one {key}, found {other:?}"),
    }
}

/// A systemd time span: bare seconds or humantime-like units (`6min`, `360s`).
fn span(v: &str) -> Duration {
    match v.parse::<u64>() {
        Ok(s) => Duration::from_secs(s),
        Err(_) => humantime::parse_duration(v).unwrap_or_else(|e| panic!("time span {v}: {e}")),
    }
}

fn check_common(rel: &str, fleet: &str) -> BTreeMap<String, Vec<String>> {
    let text = read(rel);
    let d = directives(&text);
    assert_eq!(one(&d, "Service.Type", rel), "notify");
    assert_eq!(one(&d, "Service.NotifyAccess", rel), "main");
    assert_eq!(one(&d, "Service.KillMode", rel), "mixed");
    assert_eq!(one(&d, "Service.Restart", rel), "on-failure");
    assert_eq!(one(&d, "Service.NoNewPrivileges", rel), "yes");
    assert_eq!(
        one(&d, "Service.OOMPolicy", rel),
        "continue",
        "one OOM-killed gateway must not stop the fleet"
    );
    let exec = one(&d, "Service.ExecStart", rel);
    assert!(exec.ends_with(&format!("clawherd run {fleet}")), "{rel}: ExecStart={exec}");
    let reload = one(&d, "Service.ExecReload", rel);
    assert!(reload.contains("-HUP $MAINPID"), "{rel}: clawherd reloads on SIGHUP: {reload}");
    let prevent = one(&d, "Service.RestartPreventExitStatus", rel);
    for code in [clawherd::cli::exit::CONFIG, clawherd::cli::exit::UNAVAILABLE] {
        assert!(
            prevent.split_whitespace().any(|c| c == code.to_string()),
            "{rel}: {code} not in {prevent}"
        );
    }
    // docs/openclaw.md, "Shared state between instances": OpenClaw needs the /tmp its CLI sees.
    assert!(
        d.get("Service.PrivateTmp").is_none_or(|v| v.iter().all(|v| v == "no")),
        "{rel}: PrivateTmp"
    );
    // clawherd's stop (stop_timeout + SIGKILL and reaping of the tree) must fit in systemd's.
    let stop = span(one(&d, "Service.TimeoutStopSec", rel));
    let needed = clawherd::fleet::validate::DEFAULT_STOP_TIMEOUT + Duration::from_secs(20);
    assert!(
        stop >= needed,
        "{rel}: TimeoutStopSec {stop:?} < stop_timeout default + 20 s = {needed:?}"
    );

    // Every directive has a comment right above it (or is part of a commented block).
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let directive = !line.is_empty() && !line.starts_with('#') && !line.starts_with('[');
        if directive {
            let prev = if i > 0 { lines[i - 1] } else { "" };
            assert!(prev.starts_with('#'), "{rel}:{}: `{line}` has no comment above it", i + 1);
        }
    }
    d
}

#[test]
fn system_unit_has_what_clawherd_needs() {
    let d = check_common(SYSTEM_UNIT, "/etc/clawherd/fleet.yaml");
    assert_eq!(
        one(&d, "Service.RuntimeDirectory", SYSTEM_UNIT),
        "clawherd",
        "socket /run/clawherd/clawherd.sock"
    );
    assert_eq!(one(&d, "Service.ProtectSystem", SYSTEM_UNIT), "full");
    assert_eq!(one(&d, "Service.ProtectHome", SYSTEM_UNIT), "no", "state lives in home dirs");
    assert_eq!(one(&d, "Install.WantedBy", SYSTEM_UNIT), "multi-user.target");
}

#[test]
fn user_unit_has_what_clawherd_needs() {
    let d = check_common(USER_UNIT, "%h/.config/clawherd/fleet.yaml");
    assert!(!d.contains_key("Service.ProtectSystem"), "would imply PrivateUsers= in a user unit");
    assert!(!d.contains_key("Unit.After"), "After=default.target would be an ordering cycle");
    assert_eq!(one(&d, "Install.WantedBy", USER_UNIT), "default.target");
}

fn systemd_analyze() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("systemd-analyze"))
        .find(|p| p.is_file())
}

/// The unit with its ExecStart program replaced by the clawherd just built, since `verify`
/// checks that the program exists; written as `clawherd.service` into a fresh folder.
fn staged(rel: &str, dir: &Path) -> PathBuf {
    let text = read(rel);
    let bin = env!("CARGO_BIN_EXE_clawherd");
    let text: String = text
        .lines()
        .map(|l| match l.strip_prefix("ExecStart=") {
            Some(cmd) => {
                let args = cmd.split_once(' ').map(|(_, a)| a).unwrap_or("");
                format!("ExecStart={bin} {args}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    let path = dir.join("clawherd.service");
    std::fs::write(&path, text).expect("write staged unit");
    path
}

/// Runs `systemd-analyze [--user] verify` on the staged unit. `verify` exits 0 even for unknown
/// keys and unparsable values, only printing them, so any output naming the unit fails too.
fn verify(tool: &Path, rel: &str, user: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = staged(rel, dir.path());
    let mut cmd = Command::new(tool);
    if user {
        // The user manager needs a runtime dir; a test machine may have no login session.
        let rt = dir.path().join("runtime");
        std::fs::create_dir(&rt).expect("runtime dir");
        cmd.arg("--user").env("XDG_RUNTIME_DIR", &rt);
    }
    let out = cmd.arg("verify").arg(&unit).output().expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stderr.contains("Failed to initialize manager") {
        println!(
            "skip: systemd-analyze cannot start a {} manager here: {}",
            if user { "user" } else { "system" },
            stderr.trim()
        );
        return;
    }
    let about_unit: Vec<&str> = stderr.lines().chain(stdout.lines()).filter(|l| l.contains("clawherd")).collect();
    assert!(
        out.status.success() && about_unit.is_empty(),
        "systemd-analyze verify {rel} ({}):\n{stdout}{stderr}",
        out.status
    );
    println!("systemd-analyze {}verify {rel}: ok", if user { "--user " } else { "" });
}

#[test]
fn systemd_analyze_verifies_both_units() {
    let Some(tool) = systemd_analyze() else {
        println!("skip: systemd-analyze is not on PATH (install the `systemd` package to verify the units)");
        return;
    };
    verify(&tool, SYSTEM_UNIT, false);
    verify(&tool, USER_UNIT, true);
}
