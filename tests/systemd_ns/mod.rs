//! A real systemd for tests: a thin Rust handle over `scripts/systemd-ns`, which boots this
//! machine's own systemd as PID 1 of throwaway namespaces on an overlay of `/`.
//!
//! [`Container::up`] returns `None` (after printing why) when the host cannot do it: not root,
//! no systemd, no overlayfs, cgroup2 or namespaces. Tests then pass as skipped. Every wait is a
//! poll against a deadline ([`wait_for`]), never a fixed sleep.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The harness script.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/systemd-ns")
}

/// One booted systemd; powered off and cleaned up on drop.
pub struct Container {
    /// The host folder of this container's state, seen read-only inside at the same path.
    pub dir: PathBuf,
}

/// The result of a command run inside.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Container {
    /// Boots a container whose state lives in `<target>/tmp/systemd-ns/<name>`; `None` with a
    /// printed `skip:` line when this host cannot run one.
    pub fn up(name: &str) -> Option<Self> {
        Self::up_with(name, &[])
    }

    /// [`Container::up`], with the host folders `ro_binds` (absolute) seen read-only at the
    /// same paths inside, wherever they are (the container's /tmp and /run are its own tmpfs,
    /// so a checkout under /tmp is otherwise invisible).
    pub fn up_with(name: &str, ro_binds: &[PathBuf]) -> Option<Self> {
        let probe = Command::new(script()).arg("probe").output().expect("run scripts/systemd-ns probe");
        if !probe.status.success() {
            let why = String::from_utf8_lossy(&probe.stderr);
            assert_eq!(probe.status.code(), Some(77), "scripts/systemd-ns probe failed unexpectedly: {why}");
            println!("skip: no real systemd for this test: {}", why.trim());
            return None;
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("systemd-ns").join(name);
        std::fs::create_dir_all(&dir).expect("container state folder");
        let c = Container { dir };
        let binds: Vec<String> = ro_binds.iter().map(|p| p.display().to_string()).collect();
        let out = Command::new(script())
            .arg(&c.dir)
            .arg("up")
            .env("SYSTEMD_NS_RO_BINDS", binds.join(":"))
            .output()
            .expect("run scripts/systemd-ns up");
        let run = Run::from(out);
        assert_eq!(run.code, 0, "booting systemd failed:\n{}{}", run.stdout, run.stderr);
        println!("{}", run.stdout.trim());
        Some(c)
    }

    /// Runs `argv` inside, as root, with a plain environment.
    pub fn run(&self, argv: &[&str]) -> Run {
        let out = Command::new(script())
            .arg(&self.dir)
            .arg("exec")
            .args(argv)
            .output()
            .expect("run scripts/systemd-ns exec");
        Run::from(out)
    }

    /// Runs a shell script inside with `bash -c`.
    pub fn sh(&self, script: &str) -> Run {
        self.run(&["bash", "-c", script])
    }

    /// Runs a shell script inside and returns its stdout; panics (with both outputs) on failure.
    pub fn ok(&self, script: &str) -> String {
        let r = self.sh(script);
        assert_eq!(r.code, 0, "inside the container: `{script}` failed:\n{}{}", r.stdout, r.stderr);
        r.stdout
    }

    /// A host file made visible inside: copied (hard-linked when possible) into the shared folder.
    /// Returns its path, the same inside and outside.
    pub fn share(&self, src: &Path, name: &str) -> PathBuf {
        let files = self.dir.join("files");
        std::fs::create_dir_all(&files).expect("files folder");
        let dst = files.join(name);
        let _ = std::fs::remove_file(&dst);
        if std::fs::hard_link(src, &dst).is_err() {
            std::fs::copy(src, &dst).unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
        }
        dst
    }

    /// Writes `text` to the shared folder as `name`; returns its path (same inside and outside).
    pub fn share_text(&self, text: &str, name: &str) -> PathBuf {
        let files = self.dir.join("files");
        std::fs::create_dir_all(&files).expect("files folder");
        let dst = files.join(name);
        std::fs::write(&dst, text).unwrap_or_else(|e| panic!("write {}: {e}", dst.display()));
        dst
    }

    /// `systemctl [--user -M user@] show -p PROP --value UNIT`, trimmed.
    pub fn show(&self, unit: &str, prop: &str) -> String {
        self.run(&["systemctl", "show", "-p", prop, "--value", unit])
            .stdout
            .trim()
            .to_string()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let out = Command::new(script()).arg(&self.dir).arg("down").output();
        if let Ok(out) = out {
            let err = String::from_utf8_lossy(&out.stderr);
            if !err.trim().is_empty() {
                eprintln!("{}", err.trim());
            }
        }
    }
}

/// Polls `probe` every 200 ms until it returns `Some`, or panics after `deadline` with `what` and
/// the last thing `last` describes.
pub fn wait_for<T>(what: &str, deadline: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => {
                if start.elapsed() > deadline {
                    panic!("timed out after {deadline:?} waiting for {what}; last seen: {last}");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
