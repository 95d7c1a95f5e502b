//! Versions side by side with stand-ins: `clawherd install` against a fake `npm` and `node` on
//! PATH (bad specs never reach npm, a failed install leaves nothing, an installed version is
//! never written over), the `openclaw_version` key, the `version` field of `status`, and
//! `clawherd upgrade` (standby first, pins instead of edits, rollback of a version that cannot
//! start). The "installed" package's program is a script that runs the stand-in gateway.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const D: std::time::Duration = FAKE_DEADLINE;

/// A fake `npm` (installs a package whose program runs the stand-in gateway, logs its
/// arguments; fails when the version is 6.6.6; a version 2026.9.7 gets a program that exits
/// at once) and a fake `node` that says `$FAKE_NODE_VERSION` (default v24.16.0).
fn fake_tools(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let npm = format!(
        r#"#!/bin/sh
echo "npm $*" >> "{log}"
prefix=""
while [ $# -gt 0 ]; do case "$1" in --prefix) prefix="$2"; shift;; esac; shift; done
ver=$(sed -n 's/.*"openclaw":"\([^"]*\)".*/\1/p' "$prefix/package.json")
mkdir -p "$prefix/node_modules/openclaw" "$prefix/node_modules/.bin"
if [ "$ver" = 6.6.6 ]; then echo "npm ERR! 404 No matching version" >&2; exit 1; fi
[ "$ver" = latest ] && ver=2026.9.8
printf '{{"name":"openclaw","version":"%s"}}' "$ver" > "$prefix/node_modules/openclaw/package.json"
if [ "$ver" = 2026.9.7 ]; then gw='echo "Invalid config: unknown key" >&2; exit 78'; else gw='exec "{fake}" "$@"'; fi
cat > "$prefix/node_modules/openclaw/openclaw.mjs" <<EOS
#!/bin/sh
if [ "\$1" = doctor ]; then echo "doctor $ver \$*" >> "{log}"; exit 0; fi
$gw
EOS
chmod +x "$prefix/node_modules/openclaw/openclaw.mjs"
ln -s ../openclaw/openclaw.mjs "$prefix/node_modules/.bin/openclaw"
"#,
        log = dir.join("tools.log").display(),
        fake = fake_gateway_bin()
    );
    std::fs::write(bin.join("npm"), npm).expect("write npm");
    std::fs::write(bin.join("node"), "#!/bin/sh\necho \"${FAKE_NODE_VERSION:-v24.16.0}\"\n").expect("write node");
    for f in ["npm", "node"] {
        Command::new("chmod").arg("+x").arg(bin.join(f)).status().expect("chmod");
    }
    bin
}

/// `clawherd ARGS` with the fake tools first on PATH and `extra` in the environment.
fn with_tools(bin: &Path, args: &[&str], extra: &[(&str, &str)]) -> (i32, String, String) {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(clawherd_bin())
        .args(args)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .envs(extra.iter().copied())
        .output()
        .expect("run clawherd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tools_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("tools.log")).unwrap_or_default()
}

fn store_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(".clawherd/versions"))
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn install_refuses_bad_specs_is_atomic_and_never_writes_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.yaml");
    std::fs::write(&fleet, "version: 1\nprofiles:\n  main: {port: 18789}\n").expect("write");
    let bin = fake_tools(dir.path());
    let f = fleet.to_string_lossy();
    for bad in [
        "openclaw",
        "openclaw@file:../x",
        "openclaw@git+https://h/x.git",
        "openclaw@^2026.9.6",
        "left-pad@1.0.0",
        "openclaw@../../x",
    ] {
        let (code, _, err) = with_tools(&bin, &["install", bad, "-f", &f], &[]);
        assert_eq!(code, 64, "{bad}: {err}");
        assert!(err.contains("write e.g. `openclaw@2026.9.6`"), "{err}");
    }
    assert_eq!(tools_log(dir.path()), "", "a refused spec never reaches npm");
    let (code, _, err) = with_tools(
        &bin,
        &["install", "openclaw@2026.9.5", "-f", &f],
        &[("FAKE_NODE_VERSION", "v20.20.2")],
    );
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("node on PATH is v20.20.2") && err.contains("Node >= 24.16"), "{err}");
    let (code, _, err) = with_tools(&bin, &["install", "openclaw@6.6.6", "-f", &f], &[]);
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("npm install openclaw@6.6.6 failed"), "{err}");
    assert!(
        store_entries(dir.path()).is_empty(),
        "a failed install leaves nothing: {:?}",
        store_entries(dir.path())
    );
    let (code, out, err) = with_tools(&bin, &["install", "openclaw@2026.9.5", "-f", &f], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("openclaw@2026.9.5: installed in"), "{out}");
    assert_eq!(store_entries(dir.path()), ["openclaw@2026.9.5"]);
    let npm_line = tools_log(dir.path()).lines().last().unwrap_or_default().to_string();
    assert!(
        npm_line.contains("--no-audit") && npm_line.contains("--engine-strict") && npm_line.contains("/.installing-openclaw@2026.9.5-"),
        "npm installs into a temporary folder: {npm_line}"
    );
    // A tag is stored under the version it resolved to.
    let (code, out, _) = with_tools(&bin, &["install", "openclaw@latest", "-f", &f], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("openclaw@2026.9.8: installed"), "{out}");
    // Installed already: npm is not run again, the folder is untouched.
    let marker = dir.path().join(".clawherd/versions/openclaw@2026.9.5/mine");
    std::fs::write(&marker, "x").expect("write");
    let calls = tools_log(dir.path()).lines().count();
    let (code, out, _) = with_tools(&bin, &["install", "openclaw@2026.9.5", "-f", &f], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("already installed"), "{out}");
    assert_eq!(tools_log(dir.path()).lines().count(), calls);
    assert!(marker.exists());
}

/// A main + rescue fleet whose profiles run `openclaw_version: 2026.9.5` from the store;
/// `rescue_yaml`: extra lines of the rescue profile.
fn versioned_pair(salt: u32, rescue_yaml: &str) -> (TestFleet, PathBuf) {
    let a = free_base(salt);
    let b = free_base(salt + 1);
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    let rescue = TestProfile::new("rescue", "rescue", b).yaml(rescue_yaml);
    let fleet = TestFleet::fake(&[TestProfile::new("main", "main", a), rescue], "");
    // The stand-in fleet sets `command:` in defaults; a versioned fleet must not.
    let text = std::fs::read_to_string(&fleet.path).expect("read");
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("  command:") {
                "  openclaw_version: \"2026.9.5\""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&fleet.path, text + "\n").expect("write");
    let bin = fake_tools(fleet.dir.path());
    (fleet, bin)
}

/// `profile`'s row of `status --json`.
fn row(fleet: &TestFleet, profile: &str) -> serde_json::Value {
    let (code, out, err) = run_clawherd(&["status", "--json", "-f", &fleet.path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).expect("json");
    let rows = s["instances"].as_array().cloned().unwrap_or_default();
    rows.into_iter().find(|i| i["profile"] == profile).unwrap_or_default()
}

fn version_of(fleet: &TestFleet, profile: &str) -> Option<String> {
    row(fleet, profile)["version"].as_str().map(str::to_string)
}

fn pid_of(fleet: &TestFleet, profile: &str) -> Option<i64> {
    row(fleet, profile)["pid"].as_i64()
}

#[test]
fn the_version_key_needs_an_installed_version_and_status_shows_it() {
    let (fleet, bin) = versioned_pair(61, "");
    let f = fleet.path.to_string_lossy().into_owned();
    let (code, _, err) = run_clawherd(&["check", "--no-host-ports", &f]);
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("openclaw@2026.9.5 (`openclaw_version`) is not installed")
            && err.contains("fleet.yaml:")
            && err.contains(&format!("run `clawherd install openclaw@2026.9.5 -f {f}`")),
        "{err}"
    );
    assert_eq!(with_tools(&bin, &["install", "openclaw@2026.9.5", "-f", &f], &[]).0, 0);
    let (code, _, err) = run_clawherd(&["check", "--no-host-ports", &f]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = with_tools(&bin, &["upgrade", "--all", "--to", "openclaw@2026.9.5", "-f", &f], &[]);
    assert_eq!(code, 69, "no daemon: nothing to upgrade, and nothing installed: {err}");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    d.wait_ready(0, "rescue", D);
    assert_eq!(version_of(&fleet, "main").as_deref(), Some("2026.9.5"));
    let (_, table, _) = run_clawherd(&["status", "-f", &f]);
    assert!(table.starts_with("PROFILE  ROLE    VERSION"), "{table}");
    assert!(table.lines().nth(1).is_some_and(|l| l.contains("2026.9.5")), "{table}");
}

#[test]
fn upgrade_goes_standby_first_pins_and_rolls_back_a_version_that_cannot_start() {
    let (fleet, bin) = versioned_pair(63, "");
    let f = fleet.path.to_string_lossy().into_owned();
    let dir = fleet.dir.path();
    assert_eq!(with_tools(&bin, &["install", "openclaw@2026.9.5", "-f", &f], &[]).0, 0);
    let written = std::fs::read(&fleet.path).expect("read");
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    d.wait_ready(0, "rescue", D);
    // Give the rescue some state for the snapshot to keep.
    std::fs::create_dir_all(dir.join("state/rescue")).expect("mkdir");
    std::fs::write(dir.join("state/rescue/sessions.db"), "v5").expect("write");

    let (code, out, err) = with_tools(&bin, &["upgrade", "--all", "--to", "openclaw@2026.9.6", "-f", &f], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let rescue_ready = out.find("rescue: ready on 2026.9.6").expect("rescue upgraded");
    let main_stopped = out.find("main: stopped").expect("main upgraded");
    assert!(
        rescue_ready < main_stopped,
        "the standby goes first, main only after it is ready:\n{out}"
    );
    assert!(out.contains("main: ready on 2026.9.6"), "{out}");
    assert_eq!(version_of(&fleet, "main").as_deref(), Some("2026.9.6"));
    assert_eq!(version_of(&fleet, "rescue").as_deref(), Some("2026.9.6"));
    let log = tools_log(dir);
    assert!(log.contains("doctor 2026.9.6 doctor --non-interactive --fix"), "{log}");
    assert_eq!(std::fs::read(&fleet.path).expect("read"), written, "the fleet file is never edited");
    let pins: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".clawherd/versions/pins.json")).expect("pins")).expect("json");
    assert_eq!(pins, serde_json::json!({"main": "2026.9.6", "rescue": "2026.9.6"}));

    // Again: every profile runs it already, nothing is stopped.
    let (code, out, _) = with_tools(&bin, &["upgrade", "--all", "--to", "openclaw@2026.9.6", "-f", &f], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rescue: runs 2026.9.6 already") && !out.contains("stopped"), "{out}");

    // A version that cannot start: the rescue (canary) fails, is rolled back, main is untouched.
    let main_pid = pid_of(&fleet, "main");
    std::fs::write(dir.join("state/rescue/sessions.db"), "v6").expect("write");
    let mark = d.mark();
    let (code, out, _) = with_tools(
        &bin,
        &["upgrade", "--all", "--to", "openclaw@2026.9.7", "-f", &f, "--timeout", "20s"],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("rescue: failed: not ready on 2026.9.7")
            && out.contains("rescue: rolled back: ready on its previous version (2026.9.6)"),
        "{out}"
    );
    assert!(
        !out.contains("main: stopped"),
        "main is never touched after the canary failed:\n{out}"
    );
    assert_eq!(version_of(&fleet, "rescue").as_deref(), Some("2026.9.6"));
    let pins: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".clawherd/versions/pins.json")).expect("pins")).expect("json");
    assert_eq!(pins["rescue"], "2026.9.6");
    assert_eq!(
        std::fs::read_to_string(dir.join("state/rescue/sessions.db")).expect("restored"),
        "v6"
    );
    let rejected: Vec<String> = std::fs::read_dir(dir.join("state"))
        .expect("state")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("rescue.rejected-"))
        .collect();
    assert_eq!(rejected.len(), 1, "the rejected state dir is kept beside");
    assert_eq!(pid_of(&fleet, "main"), main_pid, "main kept its pid");
    // The previous version boots once, after the snapshot was restored: the daemon's rollout
    // records the failure and leaves the rollback to the upgrade (it would otherwise start the
    // previous version on the state the doctor migrated, and the upgrade restart it again).
    let back = d.wait_event(mark, "rolled_back", "rescue", D);
    assert!(back.message.contains("left for the caller of the reload"), "{}", back.message);
    let readies = d.events()[mark.events..]
        .iter()
        .filter(|e| e.kind() == "ready" && e.profile.as_deref() == Some("rescue"))
        .count();
    assert_eq!(readies, 1, "rescue booted {readies} times on its previous version:\n{out}");

    // --unpin gives the fleet file back its word.
    let (code, out, err) = run_clawherd(&["upgrade", "--unpin", "-f", &f]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!dir.join(".clawherd/versions/pins.json").exists());
    d.wait_ready(0, "main", D);
    wait_until("main back on 2026.9.5", D, || {
        version_of(&fleet, "main").as_deref() == Some("2026.9.5") && version_of(&fleet, "rescue").as_deref() == Some("2026.9.5")
    });
}

/// A pair on 2026.9.5 with a cold rescue, its daemon running: main ready, rescue stopped.
/// Returns the fleet, the fake tools' folder, the fleet path as text and the daemon.
fn cold_pair_running(salt: u32) -> (TestFleet, PathBuf, String, Daemon) {
    let (fleet, bin) = versioned_pair(salt, "    standby: cold\n");
    let f = fleet.path.to_string_lossy().into_owned();
    assert_eq!(with_tools(&bin, &["install", "openclaw@2026.9.5", "-f", &f], &[]).0, 0);
    let d = Daemon::start(&fleet.path);
    d.wait_ready(0, "main", D);
    assert_eq!(row(&fleet, "rescue")["state"], "stopped");
    (fleet, bin, f, d)
}

/// With a cold standby, main's upgrade starts the standby and waits until it is ready before
/// main stops (a deliberate stop starts no cold standby), and stops it again once main is
/// ready on the new version: the pair always has a ready side.
#[test]
fn upgrading_main_starts_its_cold_standby_to_cover_it_first() {
    let (fleet, bin, f, d) = cold_pair_running(65);
    let mark = d.mark();
    let (code, out, err) = with_tools(&bin, &["upgrade", "main", "--to", "openclaw@2026.9.6", "-f", &f], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(version_of(&fleet, "main").as_deref(), Some("2026.9.6"));
    let events = d.events();
    let first = |kind: &str, profile: &str| {
        events
            .iter()
            .enumerate()
            .skip(mark.events)
            .find(|(_, e)| e.kind() == kind && e.profile.as_deref() == Some(profile))
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no {kind} of {profile}:\n{out}"))
    };
    assert!(
        first("ready", "rescue") < first("exited", "main"),
        "the cold standby was ready before main stopped:\n{out}"
    );
    assert!(out.contains("rescue: started to cover main"), "{out}");
    wait_until("the cold standby is stopped again", D, || {
        row(&fleet, "rescue")["state"] == "stopped"
    });
}

/// A cold standby upgraded by itself is started to prove the new version, then stopped again:
/// the upgrade changes its version, not whether it runs.
#[test]
fn a_cold_standby_upgraded_by_itself_is_stopped_again() {
    let (fleet, bin, f, _daemon) = cold_pair_running(66);
    let (code, out, err) = with_tools(&bin, &["upgrade", "rescue", "--to", "openclaw@2026.9.6", "-f", &f], &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("rescue: ready on 2026.9.6"),
        "it was proved on the new version:\n{out}"
    );
    assert!(out.contains("rescue: stopped again"), "{out}");
    assert_eq!(row(&fleet, "rescue")["state"], "stopped", "{out}");
    assert_eq!(row(&fleet, "main")["state"], "ready");
}
