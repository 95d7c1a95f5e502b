//! `clawherd export systemd`: one system unit per profile, for hosts that want plain systemd and
//! no clawherd daemon.
//!
//! Units are named as OpenClaw names its own gateway units (`resolveGatewaySystemdServiceName`,
//! openclaw `dist/constants-*.mjs`: `openclaw-gateway` for the default profile,
//! `openclaw-gateway-<profile>` otherwise; clawdbot's `dist/daemon/constants.js` has
//! `clawdbot-gateway[-<profile>]`), so `openclaw gateway status` and the docs' `systemctl` lines
//! find them; a `process` profile becomes `clawherd-<profile>`. Each unit carries the proven plan:
//! the command line, working directory and the instance's own variables (plus `PATH` and `HOME`
//! as the proof saw them), secrets moved to an `EnvironmentFile=` whose skeleton is exported
//! beside it. The restart policy, first backoff delay, crash-loop limits and stop timeout come
//! from the fleet; the rest follows OpenClaw's own unit (`dist/systemd-unit-*.mjs`,
//! `SYSTEMD_FIXED_POLICY`): `KillMode=mixed`, `RestartPreventExitStatus=78`,
//! `SuccessExitStatus=0 143`, and the identity variables its installer sets
//! (`OPENCLAW_SYSTEMD_UNIT`, `OPENCLAW_SERVICE_MARKER`, `OPENCLAW_SERVICE_KIND`,
//! `dist/service-env-*.mjs`), so a gateway under this unit hands its restarts to systemd.

use super::{EnvEntry, EnvValue, ExportError, Exported, File, Instance};
use crate::fleet::{Flavor, RestartPolicy};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Folder the units' secret environment files are read from.
pub(crate) const ENV_DIR: &str = "/etc/openclaw";

/// The unit name (without `.service`) OpenClaw would give the gateway of `i`.
pub(crate) fn unit_stem(i: &Instance) -> String {
    let suffix = i
        .profile
        .openclaw_profile
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("default"))
        .map(|p| format!("-{p}"))
        .unwrap_or_default();
    match i.profile.flavor {
        Flavor::OpenClaw => format!("openclaw-gateway{suffix}"),
        Flavor::Clawdbot => format!("clawdbot-gateway{suffix}"),
        Flavor::Process => format!("clawherd-{}", i.profile.name),
    }
}

/// Renders the units (`<stem>.service`) and, for units with secrets, their environment file
/// skeletons (`<stem>.env`, keys without values, mode 0600).
///
/// Errors: [`ExportError::Fleet`] when two profiles get the same unit name (two profiles of the
/// same OpenClaw profile) or a value cannot be written into a unit (a line break in a path).
pub(crate) fn export(fleet: &Exported) -> Result<Vec<File>, ExportError> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut files = Vec::new();
    for i in &fleet.instances {
        let stem = unit_stem(i);
        if let Some(other) = seen.insert(stem.clone(), &i.profile.name) {
            return Err(fail(
                fleet,
                i,
                format!("its unit name `{stem}.service` is also that of profile `{other}`"),
                "OpenClaw names a gateway's unit after its OpenClaw profile: give the two profiles different `openclaw_profile`s",
            ));
        }
        let vars = env(i, &stem);
        files.push(File {
            name: format!("{stem}.service"),
            text: unit(fleet, i, &stem, &vars)?,
            private: false,
        });
        let secrets: Vec<&EnvEntry> = vars.iter().filter(|e| e.is_secret()).collect();
        if !secrets.is_empty() {
            let mut text = format!(
                "# Secret variables of {stem}.service (profile `{}`): fill in, then install as {ENV_DIR}/{stem}.env, mode 0600.\n",
                i.profile.name
            );
            for e in secrets {
                let _ = writeln!(text, "{}=", e.name);
            }
            files.push(File {
                name: format!("{stem}.env"),
                text,
                private: true,
            });
        }
    }
    Ok(files)
}

fn fail(fleet: &Exported, i: &Instance, what: String, hint: &str) -> ExportError {
    ExportError::Fleet {
        fleet: fleet.fleet.path.clone(),
        profile: i.profile.name.clone(),
        what,
        hint: hint.to_string(),
    }
}

/// The unit's variables: the instance's own, `PATH` and `HOME` of the plan, and OpenClaw's
/// service identity for its gateways.
fn env(i: &Instance, stem: &str) -> Vec<EnvEntry> {
    let mut vars: BTreeMap<String, EnvEntry> = i.env.iter().map(|e| (e.name.clone(), e.clone())).collect();
    for k in ["PATH", "HOME"] {
        if let Some(v) = i.plan.env.get(k) {
            vars.entry(k.to_string()).or_insert_with(|| EnvEntry::classify(k, v));
        }
    }
    if i.profile.flavor == Flavor::OpenClaw {
        for (k, v) in [
            ("OPENCLAW_SYSTEMD_UNIT", format!("{stem}.service")),
            ("OPENCLAW_SERVICE_MARKER", "openclaw".to_string()),
            ("OPENCLAW_SERVICE_KIND", "gateway".to_string()),
        ] {
            vars.insert(
                k.to_string(),
                EnvEntry {
                    name: k.to_string(),
                    value: EnvValue::Plain(v),
                },
            );
        }
    }
    vars.into_values().collect()
}

/// A duration as a systemd time span in whole milliseconds (rounded up).
fn span(d: Duration) -> String {
    let ms = d.as_millis() + u128::from(!d.subsec_nanos().is_multiple_of(1_000_000));
    format!("{ms}ms")
}

/// One word of `ExecStart=`: `%` and `$` doubled (specifiers and variable expansion), quoted
/// with C escapes when it holds whitespace, quotes, backslashes or control characters, or is
/// empty or a lone `;`.
fn exec_word(w: &str) -> String {
    let w = w.replace('%', "%%").replace('$', "$$");
    let plain = !w.is_empty()
        && w != ";"
        && !w
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\'));
    if plain { w } else { quoted(&w) }
}

/// `"…"` with `\`, `"` and control characters escaped as C escapes (systemd's quoting).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // systemd reads `\xNN` as one raw byte: right for ASCII, but a C1 control
            // (U+0080..U+009F) must be `\uNNNN` to come out as that character (UTF-8).
            c if c.is_control() && c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The program: the plan's `argv[0]`, resolved on the plan's `PATH` when it is a bare name (the
/// binary the proof ran), else as written.
fn program(i: &Instance) -> Option<String> {
    let first = i.plan.argv.first()?;
    if first.contains('/') {
        return Some(first.clone());
    }
    let found = i.plan.env.get("PATH").and_then(|path| {
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| std::path::Path::new(d).join(first))
            .find(|p| p.is_file())
    });
    Some(found.map_or_else(|| first.clone(), |p| p.display().to_string()))
}

/// What systemd would read otherwise than written, with the fix: a program whose first
/// character is one of `ExecStart=`'s prefixes (`-`, `+`, `@`, `:`, `!`; systemd.service(5)
/// "Command lines"), which quoting does not hide, or a working directory with a leading or
/// trailing blank (the unit parser strips them) or a leading `-` ("ignore if missing").
fn misread_by_systemd(program: &str, cwd: &str) -> Option<(String, &'static str)> {
    if program.starts_with(['-', '+', '@', ':', '!']) {
        return Some((
            format!("its program {program:?} begins with a character that systemd reads as an ExecStart= prefix, not as part of the name"),
            "give the program's absolute path in the profile's `command:`",
        ));
    }
    if cwd.trim() != cwd || cwd.starts_with('-') {
        return Some((
            format!(
                "its working directory {cwd:?} begins or ends with a blank or begins with `-`, which systemd's WorkingDirectory= would read otherwise"
            ),
            "use a working directory without leading or trailing blanks",
        ));
    }
    None
}

/// The text of one unit.
fn unit(fleet: &Exported, i: &Instance, stem: &str, vars: &[EnvEntry]) -> Result<String, ExportError> {
    let p = i.profile;
    let r = &p.restart;
    let cwd = i.plan.cwd.display().to_string();
    if cwd.contains(['\n', '\r']) || fleet.fleet.path.display().to_string().contains(['\n', '\r']) {
        return Err(fail(
            fleet,
            i,
            format!("its working directory or fleet path {cwd:?} holds a line break, which a unit cannot carry"),
            "use paths without line breaks",
        ));
    }
    let program = program(i);
    if let Some((what, hint)) = misread_by_systemd(program.as_deref().unwrap_or_default(), &cwd) {
        return Err(fail(fleet, i, what, hint));
    }
    let mut exec: Vec<String> = program.into_iter().map(|w| exec_word(&w)).collect();
    exec.extend(i.plan.argv.iter().skip(1).map(|w| exec_word(w)));
    let restart = match r.policy {
        RestartPolicy::Always => "always",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Never => "no",
    };
    let mut u = String::new();
    let _ = writeln!(u, "# Exported by `clawherd export systemd` from {}", fleet.fleet.path.display());
    let _ = writeln!(
        u,
        "# (fleet profile `{}`); the fleet file stays the source: export again after editing it.",
        p.name
    );
    u.push_str("[Unit]\n");
    let _ = writeln!(u, "Description=OpenClaw Gateway ({}, {} of the fleet)", p.name, p.role.as_str());
    u.push_str("After=network-online.target\nWants=network-online.target\n");
    let _ = writeln!(u, "StartLimitIntervalSec={}", span(r.crash_loop_window));
    let _ = writeln!(u, "StartLimitBurst={}", r.crash_loop_max_starts);
    u.push_str("\n[Service]\nType=simple\n");
    let _ = writeln!(u, "ExecStart={}", exec.join(" "));
    let _ = writeln!(u, "WorkingDirectory={}", cwd.replace('%', "%%"));
    if let Some(user) = exporting_user() {
        let _ = writeln!(u, "User={user}");
    }
    for e in vars {
        if let EnvValue::Plain(v) = &e.value {
            let _ = writeln!(u, "Environment={}", quoted(&format!("{}={v}", e.name).replace('%', "%%")));
        }
    }
    if vars.iter().any(EnvEntry::is_secret) {
        let _ = writeln!(u, "EnvironmentFile={ENV_DIR}/{stem}.env");
    }
    let _ = writeln!(u, "Restart={restart}");
    let _ = writeln!(u, "RestartSec={}", span(r.backoff_initial));
    if let Some(steps) = doublings(r.backoff_initial, r.backoff_max) {
        // systemd ≥ 254 grows the delay up to the fleet's backoff max; older ones ignore these.
        let _ = writeln!(u, "RestartSteps={steps}");
        let _ = writeln!(u, "RestartMaxDelaySec={}", span(r.backoff_max));
    }
    u.push_str("RestartPreventExitStatus=78\nSuccessExitStatus=0 143\n");
    let _ = writeln!(u, "TimeoutStopSec={}", span(p.stop_timeout));
    u.push_str("KillMode=mixed\n\n[Install]\nWantedBy=multi-user.target\n");
    Ok(u)
}

/// Doublings from `initial` to reach `max` (1..=64), or `None` when there is nothing to grow.
fn doublings(initial: Duration, max: Duration) -> Option<u32> {
    if max <= initial || initial.is_zero() {
        return None;
    }
    let mut d = initial;
    let mut n = 0;
    while d < max && n < 64 {
        d = d.saturating_mul(2);
        n += 1;
    }
    Some(n)
}

/// The exporting user's name when not root: the units run the gateways as the user whose
/// paths the proof checked.
fn exporting_user() -> Option<String> {
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        return None;
    }
    nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_words_are_escaped_for_systemd() {
        assert_eq!(exec_word("/usr/bin/openclaw"), "/usr/bin/openclaw");
        assert_eq!(exec_word("a b"), "\"a b\"");
        assert_eq!(exec_word("100%"), "100%%");
        assert_eq!(exec_word("$HOME"), "$$HOME");
        assert_eq!(exec_word(""), "\"\"");
        assert_eq!(exec_word("say \"hi\""), "\"say \\\"hi\\\"\"");
        // Control characters: ASCII as one byte, C1 as the character (systemd's `\u`).
        assert_eq!(exec_word("a\u{1b}b"), "\"a\\x1bb\"");
        assert_eq!(exec_word("a\u{85}b"), "\"a\\u0085b\"");
    }

    #[test]
    fn what_systemd_would_misread_is_refused() {
        assert_eq!(misread_by_systemd("/usr/bin/openclaw", "/srv/a"), None);
        assert_eq!(misread_by_systemd("openclaw", "/srv/a b"), None);
        for program in ["-x", "+x", "@x", ":x", "!x"] {
            let (what, hint) = misread_by_systemd(program, "/srv/a").expect("refused");
            assert!(what.contains("ExecStart= prefix") && hint.contains("absolute path"), "{what}");
        }
        for cwd in ["/srv/a ", " /srv/a", "-/srv/a"] {
            assert!(misread_by_systemd("/bin/x", cwd).is_some(), "{cwd:?}");
        }
    }

    #[test]
    fn spans_and_doublings() {
        assert_eq!(span(Duration::from_secs(60)), "60000ms");
        assert_eq!(span(Duration::from_micros(1500)), "2ms");
        assert_eq!(doublings(Duration::from_secs(1), Duration::from_secs(30)), Some(5));
        assert_eq!(doublings(Duration::from_secs(1), Duration::from_secs(1)), None);
    }
}
