//! Shell completion through the script `clawherd completions bash` prints, run by a real bash
//! as readline would on TAB: profile arguments complete to the fleet file's profile names.

use crate::support::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// COMPREPLY of bash completing the last word of `line` with the registered script, in `dir`,
/// with the clawherd under test first on PATH.
fn bash_complete(dir: &std::path::Path, line: &str) -> Vec<String> {
    let bin_dir = std::path::Path::new(clawherd_bin()).parent().expect("bin dir");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let script = r#"source <(clawherd completions bash) || exit 3
        read -r -a COMP_WORDS <<< "$LINE"
        [[ "$LINE" == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$LINE"; COMP_POINT=${#LINE}; COMP_TYPE=9
        _clap_complete_clawherd clawherd "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}""#;
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("LINE", line)
        .env_remove("CLAWHERD_FLEET")
        .output()
        .expect("run bash");
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn profile_arguments_complete_from_the_fleet_file() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples");
    // ./fleet.yaml of the folder the shell is in.
    assert_eq!(bash_complete(&examples, "clawherd restart m"), ["main"]);
    // An empty word: the profiles first, then the options.
    let all = bash_complete(&examples, "clawherd restart ");
    assert_eq!(all.get(..2), Some(&["main".to_string(), "rescue".to_string()][..]), "{all:?}");
    assert!(all.iter().skip(2).all(|w| w.starts_with("--")), "{all:?}");
    // The fleet file of -f, from anywhere; and subcommands still complete.
    let fleet = examples.join("fleet.yaml");
    let empty = tempfile::tempdir().expect("tempdir");
    let elsewhere = empty.path();
    assert_eq!(
        bash_complete(elsewhere, &format!("clawherd logs -f {} r", fleet.display())),
        ["rescue"]
    );
    assert!(bash_complete(elsewhere, "clawherd rest").contains(&"restart".to_string()));
    // No fleet file: nothing to offer, and no error.
    assert!(bash_complete(elsewhere, "clawherd stop m").is_empty());
}

/// The daemon of the fleet file being completed runs: its current instances are offered, not
/// the file's profiles (a profile added to the file and not reloaded yet is not offered). The
/// same daemon stopped (SIGSTOP: its socket accepts but never answers): the file's profiles,
/// after clawherd's short wait, not a hung TAB.
#[test]
fn profile_arguments_complete_from_the_running_daemon() {
    let (a, b) = (free_base(541), free_base(542));
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a), TestProfile::new("rescue", "rescue", b)], "");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", Duration::from_secs(120));
    d.wait_ready(0, "rescue", Duration::from_secs(120));
    let added = format!(
        "  spare:\n    role: rescue\n    openclaw_profile: spare\n    port: {}\n    state_dir: state/spare\n    config: spare.json5\n",
        b + 500
    );
    let text = std::fs::read_to_string(&fleet.path).expect("read fleet");
    std::fs::write(&fleet.path, format!("{text}{added}")).expect("edit fleet");
    let dir = fleet.dir.path();
    // An empty word offers the options after the names: the names are the words before them.
    let names = |words: Vec<String>| words.into_iter().take_while(|w| !w.starts_with('-')).collect::<Vec<_>>();
    assert_eq!(
        names(bash_complete(dir, "clawherd restart ")),
        ["main", "rescue"],
        "the daemon's instances"
    );
    assert_eq!(
        bash_complete(dir, "clawherd logs s"),
        Vec::<String>::new(),
        "spare is not running yet"
    );

    // A daemon that never answers: the file's profiles, within a few seconds at most.
    d.signal(19);
    let _resume = Resume(d.child.id() as i32);
    let asked = Instant::now();
    let offered = names(bash_complete(dir, "clawherd restart "));
    let took = asked.elapsed();
    println!(
        "figure: a TAB with a stopped daemon answered in {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    assert_eq!(offered, ["main", "rescue", "spare"], "the file's profiles");
    // Far above clawherd's 250 ms, far below a hang: the wait is bounded.
    assert!(took < Duration::from_secs(20), "a TAB took {took:?} with a stopped daemon");
}

/// SIGCONT to a stopped daemon when the test ends, so that it can be stopped.
struct Resume(i32);

impl Drop for Resume {
    fn drop(&mut self) {
        signal(self.0, 18);
    }
}
