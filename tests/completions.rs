//! Shell completion through the script `clawherd completions bash` prints, run by a real bash
//! as readline would on TAB: profile arguments complete to the fleet file's profile names.

use crate::support::*;
use std::process::Command;

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
