//! Per-profile `user:`/`group:`: the proof's user, group and ownership checks, and a root
//! clawherd running each stand-in gateway as its own throwaway user (created with `useradd` by
//! the test, removed after it; skipped with a `skip:` line when not root).

use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const D: Duration = FAKE_DEADLINE;

/// A throwaway system user with its home under `home`, removed (with its group) on drop.
struct TempUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl TempUser {
    fn new(tag: &str, home: &Path) -> Self {
        let name = format!("chu{}{tag}", std::process::id());
        let out = Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--home-dir",
            ])
            .arg(home)
            .arg(&name)
            .output()
            .expect("run useradd");
        assert!(out.status.success(), "useradd {name}: {}", String::from_utf8_lossy(&out.stderr));
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().expect("run id");
            String::from_utf8_lossy(&out.stdout).trim().parse().expect("a number from id")
        };
        let (uid, gid) = (id("-u"), id("-g"));
        TempUser { name, uid, gid }
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}

/// `None` (and a `skip:` line) unless this test runs as root with `useradd` at hand.
fn root_with_useradd(test: &str) -> Option<()> {
    if !nix::unistd::geteuid().is_root() {
        println!("skip: {test}: needs root (creates throwaway users and switches to them)");
        return None;
    }
    if Command::new("useradd").arg("--help").output().is_err() {
        println!("skip: {test}: no useradd on this host");
        return None;
    }
    Some(())
}

/// `Uid:`/`Gid:` of /proc/PID/status: (real, effective) of each.
fn ids_of(pid: i32) -> ((u32, u32), (u32, u32)) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| -> (u32, u32) {
        let line = status.lines().find(|l| l.starts_with(name)).expect("field");
        let v: Vec<u32> = line.split_whitespace().skip(1).map(|n| n.parse().expect("id")).collect();
        (v[0], v[1])
    };
    (field("Uid:"), field("Gid:"))
}

/// One variable of /proc/PID/environ.
fn env_of(pid: i32, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    let prefix = format!("{name}=");
    environ
        .split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned()))
}

fn chown(path: &Path, u: &TempUser) {
    std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid)).expect("chown");
}

/// Each gateway runs as its profile's user and group, with that user's HOME; a state dir and
/// config the user cannot write are refused first with the `chown` that fixes them; the
/// captured output stays clawherd's.
#[test]
fn each_gateway_runs_as_its_own_user() {
    let Some(()) = root_with_useradd("each_gateway_runs_as_its_own_user") else {
        return;
    };
    let (a, b) = (free_base(71), free_base(72));
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    let homes = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(homes.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (ua, ub) = (
        TempUser::new("a", &homes.path().join("a")),
        TempUser::new("b", &homes.path().join("b")),
    );
    let main = TestProfile::new("main", "main", a).yaml(&format!("    user: {}\n", ua.name));
    let rescue = TestProfile::new("rescue", "rescue", b).yaml(&format!("    user: {}\n", ub.name));
    let fleet = TestFleet::fake(&[main, rescue], "");
    let dir = fleet.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for name in ["main", "rescue"] {
        // The gateway's file log inside its state dir, not in a /tmp/openclaw shared by users.
        let config = dir.join(format!("{name}.json5"));
        std::fs::write(&config, "{ logging: { file: \"logs/openclaw.log\" } }\n").expect("config");
        std::fs::create_dir_all(dir.join("state").join(name)).expect("state dir");
    }

    // Root-owned state dirs and configs: refused, with the fix.
    let (code, _, err) = run_clawherd(&["check", fleet.path.to_str().expect("utf-8")]);
    assert_eq!(code, 78, "{err}");
    let state_main = dir.join("state/main");
    assert!(
        err.contains(&format!("is owned by root:root (mode 0755) and not writable by user `{}`", ua.name)),
        "{err}"
    );
    assert!(
        err.contains(&format!("chown -R {0}:{0} {1}", ua.name, state_main.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("chown {0}:{0} {1}", ub.name, dir.join("rescue.json5").display())),
        "{err}"
    );

    for (name, user) in [("main", &ua), ("rescue", &ub)] {
        chown(&dir.join("state").join(name), user);
        chown(&dir.join(format!("{name}.json5")), user);
    }
    let (code, _, err) = run_clawherd(&["check", fleet.path.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");

    // A gateway started by hand as main's user on main's state dir takes its lock under that
    // user's uid (`tmp/openclaw-<uid>/`): the proof looks there, not under clawherd's uid.
    let mut foreign = {
        use std::os::unix::process::CommandExt;
        Command::new(fake_gateway_bin())
            .args(["--port", &free_base(73).to_string()])
            .env("OPENCLAW_STATE_DIR", &state_main)
            .uid(ua.uid)
            .gid(ua.gid)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start a foreign gateway as main's user")
    };
    let lock = state_main.join(format!("tmp/openclaw-{}/gateway.state.lock", ua.uid));
    wait_until("the foreign gateway's state lock", D, || lock.exists());
    let (code, _, err) = run_clawherd(&["check", fleet.path.to_str().expect("utf-8")]);
    let _ = foreign.kill();
    let _ = foreign.wait();
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains(&format!("is in use by a gateway clawherd did not start: pid {}", foreign.id())),
        "{err}"
    );
    std::fs::remove_file(&lock).expect("remove the stale lock");

    let d = Daemon::start(&fleet.path);
    let main_pid = d.wait_ready(0, "main", D);
    let rescue_pid = d.wait_ready(0, "rescue", D);
    for (pid, user, home) in [(main_pid, &ua, "a"), (rescue_pid, &ub, "b")] {
        assert_eq!(
            ids_of(pid),
            ((user.uid, user.uid), (user.gid, user.gid)),
            "uid and gid of {}",
            user.name
        );
        assert_eq!(env_of(pid, "HOME"), Some(homes.path().join(home).display().to_string()));
        assert_eq!(env_of(pid, "USER").as_deref(), Some(user.name.as_str()));
    }
    // The state lock the stand-in took is the user's file; clawherd's captured output is its own.
    let log = dir.join(".clawherd/logs/main.log");
    wait_until("main's output is captured", D, || {
        std::fs::read_to_string(&log).is_ok_and(|t| !t.is_empty())
    });
    let meta = std::fs::metadata(&log).expect("log");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 0, "the captured log is clawherd's");
    drop(d);
}

/// What the proof says without root: an unknown user (with the `useradd` that creates it), a
/// `group` without a `user`, and two profiles sharing a user (a warning).
#[test]
fn the_proof_names_unknown_users_and_shared_ones() {
    let (a, b) = (free_base(73), free_base(74));
    let b = if a.abs_diff(b) < 120 { a + 200 } else { b };
    let main = TestProfile::new("main", "main", a).yaml("    user: no-such-user-here\n");
    let rescue = TestProfile::new("rescue", "rescue", b).yaml("    group: root\n");
    let fleet = TestFleet::fake(&[main, rescue], "");
    let (code, _, err) = run_clawherd(&["check", fleet.path.to_str().expect("utf-8")]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("user `no-such-user-here` does not exist on this host"), "{err}");
    assert!(err.contains("useradd --system"), "{err}");
    assert!(err.contains("`group` is set without `user`"), "{err}");
    assert!(err.contains(&format!("{}:", fleet.path.display())), "located: {err}");

    // Both profiles as clawherd's own user: allowed without root, but a warning.
    let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .expect("passwd")
        .expect("a name");
    let main = TestProfile::new("main", "main", a).yaml(&format!("    user: {}\n", me.name));
    let rescue = TestProfile::new("rescue", "rescue", b).yaml(&format!("    user: {}\n", me.name));
    let fleet = TestFleet::fake(&[main, rescue], "");
    let (code, out, err) = run_clawherd(&["check", fleet.path.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!("profiles 'main' and 'rescue' both run as user `{}`", me.name)),
        "{out}{err}"
    );
}
