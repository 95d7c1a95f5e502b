//! Shell completion that knows the fleet: clap_complete's dynamic completion (`CompleteEnv`).
//! The script `clawherd completions SHELL` prints only registers clawherd with the shell; at each
//! TAB the shell runs `COMPLETE=SHELL clawherd -- WORDS...`, which [`complete_if_asked`] answers
//! before anything else runs. Profile arguments (`start`, `stop`, `restart`, `status`, `logs`,
//! `env`) complete to the profile names of the fleet the command will act on: `-f FILE`, else
//! the fleet files every command looks for ([`super::find`]: `$CLAWHERD_FLEET`, `./fleet.yaml`,
//! the XDG and `/etc` fleet files). When the daemon of that very file runs (its registry record,
//! [`crate::daemon::registry::find`]), its current instances are offered, which include
//! profiles added by a reload and not those of an edit not yet reloaded; a daemon that does not
//! answer within [`DAEMON_TIMEOUT`] is passed over for the file. Without a fleet file nothing is
//! offered: what a TAB offers never depends on which other daemons happen to run on the host.

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The variable that asks clawherd for completions (clap_complete's default).
const VAR: &str = "COMPLETE";

/// Answers a completion request and exits when `COMPLETE` is set (a shell asking); returns at
/// once otherwise. Must run before anything writes to stdout.
pub fn complete_if_asked() {
    clap_complete::CompleteEnv::with_factory(super::Cli::command).var(VAR).complete();
}

/// Writes the registration script of `shell` (what `clawherd completions SHELL` prints): it
/// calls `clawherd` (looked up on `PATH`) at each completion.
///
/// Errors: writing to `out` failed, or clap_complete has no dynamic completion for `shell`.
pub fn write_registration(shell: clap_complete::Shell, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let Some(completer) = shells.completer(&name) else {
        return Err(std::io::Error::other(format!("no completion for {name}")));
    };
    completer.write_registration(VAR, "clawherd", "clawherd", "clawherd", out)
}

/// Longest a TAB waits for the running daemon's instance names (connect, ask, read) before it
/// offers the fleet file's profiles instead: a stopped or hung daemon must not hang the shell.
pub const DAEMON_TIMEOUT: Duration = Duration::from_millis(250);

/// Completes a profile argument: the names that start with `current` among the running
/// daemon's instances of the fleet file found, else among that file's profiles (see the module
/// doc). No fleet file, or one that cannot be read or parsed while its daemon is down, offers
/// nothing.
pub fn profiles(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else { return Vec::new() };
    // The lookup the command being completed makes (super::find), files only, without its last
    // resort of "the one daemon running": what a TAB offers must not change with whichever
    // daemon happens to run on the host. Only the daemon of the file found is asked.
    let given = fleet_of(std::env::args_os()).or_else(|| std::env::var_os("CLAWHERD_FLEET").filter(|v| !v.is_empty()).map(PathBuf::from));
    let defaults = super::find::default_files(|v| std::env::var(v).ok());
    let Ok(found) = super::find::fleet(given.as_deref(), &defaults, Vec::new) else {
        return Vec::new();
    };
    let file = found.file();
    daemon_names(file, DAEMON_TIMEOUT)
        .unwrap_or_else(|| profile_names(file))
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .map(CompletionCandidate::new)
        .collect()
}

/// The fleet file of a command line being completed: the value of its last `-f`/`--file`.
fn fleet_of(args: impl IntoIterator<Item = OsString>) -> Option<PathBuf> {
    let mut found = None;
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        if a == "-f" || a == "--file" {
            found = args.next().map(PathBuf::from).or(found);
        } else if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--file=")) {
            found = Some(PathBuf::from(v));
        }
    }
    found
}

/// The instance names of the daemon running the fleet file `file` (`GET /v1/status` on the
/// socket of its registry record), in name order; `None` when no daemon runs it, or when it
/// does not answer 200 with a status within `timeout`.
pub fn daemon_names(file: &Path, timeout: Duration) -> Option<Vec<String>> {
    use crate::process::http::{Target, fetch};
    let record = crate::daemon::registry::find(file)?;
    let request = hyper::Request::get("/v1/status")
        .header(hyper::header::HOST, "clawherd")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let target = Target::Unix(record.socket);
    let max = crate::control::client::MAX_BODY_BYTES;
    let (code, body) = runtime.block_on(fetch(&target, request, timeout, max)).ok()?;
    if code != 200 {
        return None;
    }
    let status: crate::control::protocol::StatusResponse = serde_json::from_slice(&body).ok()?;
    let mut names: Vec<String> = status.instances.into_iter().map(|i| i.profile).collect();
    names.sort();
    names.dedup();
    Some(names)
}

/// The profile names of a fleet file, in name order; empty when it cannot be read or is not a
/// fleet file. Only `profiles:` is read: a file with other mistakes still completes. Only valid
/// profile names are offered ([`crate::fleet::validate::valid_profile_name`]): a key with a
/// line break, a space or shell syntax in it would reach the shell's command line as written,
/// and no command accepts it anyway.
pub fn profile_names(file: &std::path::Path) -> Vec<String> {
    #[derive(Deserialize)]
    struct Names {
        profiles: BTreeMap<String, serde::de::IgnoredAny>,
    }
    let Ok(text) = crate::fleet::read_bounded(file) else {
        return Vec::new();
    };
    serde_saphyr::from_str::<Names>(&text).map_or_else(
        |_| Vec::new(),
        |n| {
            n.profiles
                .into_keys()
                .filter(|k| crate::fleet::validate::valid_profile_name(k))
                .collect()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys that are no profile name (a line break that would add a candidate, shell syntax)
    /// are not offered.
    #[test]
    fn only_valid_names_are_offered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("fleet.yaml");
        let text = "version: 1\nprofiles:\n  ok: {}\n  \"a\\nb\": {}\n  \"x; rm -rf ~\": {}\n  \"$(id)\": {}\n";
        std::fs::write(&f, text).expect("write");
        assert_eq!(profile_names(&f), ["ok"]);
    }

    #[test]
    fn the_last_file_option_names_the_fleet() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(fleet_of(args(&["clawherd", "restart", "m"])), None);
        assert_eq!(fleet_of(args(&["clawherd", "restart", "-f", "a.yaml", "m"])), Some("a.yaml".into()));
        assert_eq!(
            fleet_of(args(&["clawherd", "-f", "a.yaml", "restart", "--file=b.yaml", "m"])),
            Some("b.yaml".into())
        );
        assert_eq!(fleet_of(args(&["clawherd", "restart", "-f"])), None, "a dangling -f names nothing");
    }
}
