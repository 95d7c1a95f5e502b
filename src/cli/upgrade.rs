//! `clawherd install` and `clawherd upgrade`: OpenClaw versions side by side in clawherd's store
//! ([`crate::fleet::versions::store`]), and a version change applied to running profiles one at a time,
//! standbys first, the way OpenClaw's external-supervisor contract asks (docs/upgrades.md):
//!
//! 1. install the version (nothing is written over; a version there already is reused);
//! 2. per profile, standbys (the rescue bot) first as canaries, each only after the previous one
//!    is ready: stop it; snapshot its state dir and config ([`crate::fleet::versions::snapshot`]); run
//!    the new version's `doctor --non-interactive --fix` with the instance's environment and
//!    `OPENCLAW_UPDATE_IN_PROGRESS=1` (what `openclaw update` runs after a package install,
//!    `dist/update-command-package-*.mjs`); pin the version in `<run_dir>/versions/pins.json`
//!    ([`crate::fleet::versions::pins`]); reload the daemon, which restarts the profile on the new
//!    command; wait until ready;
//! 3. a profile whose doctor fails, whose reload is refused or that does not become ready in
//!    time gets its previous pin, its snapshot (the rejected state dir and config are kept
//!    beside, `.rejected-<time>`) and its previous version back, and the upgrade stops there.
//!
//! Every step prints one timeline line, `[  12.3 s] profile: what`.

use super::exit;
use super::local;
use crate::control::client::Client;
use crate::control::protocol::{ActionResponse, ErrorResponse, ReloadResponse, StatusResponse};
use crate::fleet::versions::pins;
use crate::fleet::versions::snapshot::{self, Snapshot, SnapshotError};
use crate::fleet::versions::store::{self, InstallError, Package, Spec};
use crate::fleet::versions::{self as version, read_pins, run_dir_of};
use crate::fleet::{Flavor, Plan, Profile, StandbyMode};
use hyper::Method;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

/// What `clawherd upgrade` was asked.
pub use super::args::UpgradeArgs as Request;

/// `clawherd install SPEC`: 0 installed (or there already), 64 bad spec, 69 no usable Node/npm
/// or npm failed, 78 unreadable fleet file.
pub async fn install(file: &Path, spec: &str, timeout: Duration) -> u8 {
    let spec = match Spec::parse(spec) {
        Ok(s) => s,
        Err(m) => {
            eprintln!("clawherd: {m}");
            return exit::USAGE;
        }
    };
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let run_dir = match run_dir_of(file, &env) {
        Ok(r) => r,
        Err(m) => {
            eprintln!("clawherd: {m}");
            return exit::CONFIG;
        }
    };
    match install_reporting(&run_dir, &spec, timeout).await {
        Ok(_) => exit::OK,
        Err(code) => code,
    }
}

/// Installs `spec` and prints the outcome; returns the version installed.
async fn install_reporting(run_dir: &Path, spec: &Spec, timeout: Duration) -> Result<String, u8> {
    match store::install(run_dir, spec, timeout).await {
        Ok(i) => {
            let how = if i.already { "already installed" } else { "installed" };
            println!("{}@{}: {how} in {}", spec.package.name(), i.version, i.dir.display());
            Ok(i.version)
        }
        Err(e) => {
            eprintln!("clawherd: install {}: {e}", spec.display());
            Err(match e {
                InstallError::Node(_) | InstallError::Npm(_) => exit::UNAVAILABLE,
                InstallError::Store { .. } | InstallError::Broken { .. } => exit::FAILURE,
            })
        }
    }
}

/// Prints the steps of an upgrade with the seconds since it began.
struct Timeline(Instant);

impl Timeline {
    fn step(&self, profile: &str, what: &str) {
        println!("[{:>7.1} s] {profile}: {what}", self.0.elapsed().as_secs_f64());
    }
}

/// `clawherd upgrade`: 0 every profile upgraded and ready (a profile already running the
/// version is skipped), 1 one failed (and was rolled back), 64 bad request, 69 daemon or npm
/// unavailable, 78 invalid fleet.
pub async fn upgrade(client: &Client, file: &Path, req: Request) -> u8 {
    let fleet = match local::load(file, false) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let run_dir = fleet.settings.run_dir.clone();
    if req.unpin {
        return unpin(client, &run_dir, &req.profiles).await;
    }
    let Some(spec) = req.to.as_deref().map(Spec::parse) else {
        eprintln!("clawherd: say which version: --to openclaw@VERSION");
        return exit::USAGE;
    };
    let spec = match spec {
        Ok(s) => s,
        Err(m) => {
            eprintln!("clawherd: {m}");
            return exit::USAGE;
        }
    };
    let targets = match select(&fleet.instances, &req, spec.package) {
        Ok(t) => t,
        Err(m) => {
            eprintln!("clawherd: {m}");
            return exit::USAGE;
        }
    };
    let running = match running_versions(client).await {
        Ok(v) => v,
        Err(code) => return code,
    };
    let timeline = Timeline(Instant::now());
    let version = match install_reporting(&run_dir, &spec, req.install_timeout).await {
        Ok(v) => v,
        Err(code) => return code,
    };
    timeline.step("-", &format!("{}@{version} installed", spec.package.name()));
    let step = Step {
        client,
        run_dir: &run_dir,
        package: spec.package,
        version: &version,
        req: &req,
        timeline: &timeline,
    };
    for (profile, plan) in targets {
        if running.get(&profile.name).is_some_and(|v| v == &version) {
            timeline.step(&profile.name, &format!("runs {version} already"));
            continue;
        }
        // A cold standby is not started for a deliberate stop: started here, it covers main
        // from before main stops until main is ready again (as the daemon's rollout does).
        let cold = fleet.instances.iter().find(|(p, _)| {
            p.standby
                .as_ref()
                .is_some_and(|s| s.standby_for == profile.name && s.mode == StandbyMode::Cold)
        });
        let cover = match cold {
            Some((sb, _)) => match step.cover(&profile.name, &sb.name).await {
                Ok(started) => started.then_some(sb.name.as_str()),
                Err(code) => return code,
            },
            None => None,
        };
        let result = step.one(profile, plan).await;
        if let Some(sb) = cover {
            step.uncover(&profile.name, sb).await;
        }
        if let Err(code) = result {
            return code;
        }
    }
    timeline.step("-", &format!("upgrade to {}@{version} done", spec.package.name()));
    exit::OK
}

/// The version each instance of the daemon runs now (instances whose version is unknown are
/// left out), or the exit code after printing why the daemon cannot be asked (69).
async fn running_versions(client: &Client) -> Result<BTreeMap<String, String>, u8> {
    let unavailable = |m: String| {
        eprintln!("clawherd: {m}");
        exit::UNAVAILABLE
    };
    let (code, body) = client
        .call(Method::GET, "/v1/status")
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if code != 200 {
        return Err(unavailable(api_message(&body)));
    }
    let status: StatusResponse = serde_json::from_slice(&body).map_err(|e| unavailable(format!("unexpected status answer: {e}")))?;
    Ok(status.instances.into_iter().filter_map(|i| Some((i.profile, i.version?))).collect())
}

/// The profiles to upgrade, standbys first (canaries), each of the package's flavor.
fn select<'a>(instances: &'a [(Profile, Plan)], req: &Request, package: Package) -> Result<Vec<(&'a Profile, &'a Plan)>, String> {
    let flavor = match package {
        Package::OpenClaw => Flavor::OpenClaw,
        Package::Clawdbot => Flavor::Clawdbot,
    };
    let mut chosen: Vec<(&Profile, &Plan)> = Vec::new();
    if req.all {
        chosen.extend(instances.iter().filter(|(p, _)| p.flavor == flavor).map(|(p, plan)| (p, plan)));
    }
    for name in &req.profiles {
        let Some((p, plan)) = instances.iter().find(|(p, _)| &p.name == name) else {
            let names: Vec<&str> = instances.iter().map(|(p, _)| p.name.as_str()).collect();
            return Err(format!("no profile `{name}` in the fleet (profiles: {})", names.join(", ")));
        };
        if p.flavor != flavor {
            return Err(format!(
                "profile `{name}` is `flavor: {}`; {} is for `flavor: {}` profiles",
                p.flavor.as_str(),
                package.name(),
                flavor.as_str()
            ));
        }
        chosen.push((p, plan));
    }
    if chosen.is_empty() {
        return Err(format!("no `flavor: {}` profile to upgrade", flavor.as_str()));
    }
    chosen.sort_by_key(|(p, _)| p.standby.is_none());
    Ok(chosen)
}

/// What every profile's upgrade shares.
struct Step<'a> {
    client: &'a Client,
    run_dir: &'a Path,
    package: Package,
    version: &'a str,
    req: &'a Request,
    timeline: &'a Timeline,
}

impl Step<'_> {
    /// Makes the cold standby `sb` ready to cover `name` before `name` stops: `Ok(true)` when it
    /// was started for that (to stop again with [`Step::uncover`]), `Ok(false)` when it was
    /// ready already. Errors (exit 69, printed): it does not get ready within the timeout;
    /// `name` is not touched then, as the daemon's rollout holds such a change.
    async fn cover(&self, name: &str, sb: &str) -> Result<bool, u8> {
        if self.state(sb).await.as_deref() == Some("ready") {
            return Ok(false);
        }
        match self.act(sb, "start", "ready").await {
            Ok(()) => {
                self.timeline.step(sb, &format!("started to cover {name} (cold standby)"));
                Ok(true)
            }
            Err(m) => {
                let _ = self.act(sb, "stop", "stopped").await;
                Err(self.fail(
                    name,
                    &format!("its cold standby {sb} must cover it but is not ready: {m}; {name} was not touched"),
                    exit::UNAVAILABLE,
                ))
            }
        }
    }

    /// Stops the cold standby `sb` started by [`Step::cover`] once `name` is ready again; left
    /// running (and said so) while `name` is not, as it then covers a main that is down.
    async fn uncover(&self, name: &str, sb: &str) {
        if self.state(name).await.as_deref() != Some("ready") {
            self.timeline.step(
                sb,
                &format!("left running: {name} is not ready, and the failover controller takes over"),
            );
            return;
        }
        match self.act(sb, "stop", "stopped").await {
            Ok(()) => self.timeline.step(sb, &format!("stopped again: {name} is ready")),
            Err(m) => self.timeline.step(sb, &format!("cannot stop it again: {m}")),
        }
    }

    /// The state `status` gives `name` (`ready`, `stopped`, ...), if the daemon answers.
    async fn state(&self, name: &str) -> Option<String> {
        let (code, body) = self.client.call(Method::GET, "/v1/status").await.ok()?;
        if code != 200 {
            return None;
        }
        let status: StatusResponse = serde_json::from_slice(&body).ok()?;
        let me = status.instances.into_iter().find(|i| i.profile == name)?;
        serde_json::to_value(me.state).ok()?.as_str().map(str::to_string)
    }

    /// Upgrades one profile; on failure it is rolled back and the exit code returned.
    async fn one(&self, profile: &Profile, plan: &Plan) -> Result<(), u8> {
        let name = profile.name.as_str();
        let Some(paths) = &plan.gateway else {
            return Err(exit::USAGE);
        };
        let previous = read_pins(self.run_dir)
            .map_err(|e| self.fail(name, &e.to_string(), exit::CONFIG))?
            .get(name)
            .cloned();
        // A stopped instance (a cold standby) is started to prove the new version, then
        // stopped again: an upgrade changes its version, not whether it runs.
        let was_stopped = self.state(name).await.as_deref() == Some("stopped");
        self.act(name, "stop", "stopped")
            .await
            .map_err(|m| self.fail(name, &m, exit::FAILURE))?;
        self.timeline.step(name, "stopped");
        let tag = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string();
        let snap_dir = version::store_dir(self.run_dir).join("snapshots").join(format!("{name}-{tag}"));
        let config = paths.config.value.clone();
        let snap = match snapshot::take(&snap_dir, &paths.state_dir.value, &config, snapshot::LIMITS) {
            Ok(s) => {
                self.timeline
                    .step(name, &format!("snapshot of state dir and config in {}", s.dir.display()));
                Some(s)
            }
            Err(e @ SnapshotError::TooLarge { .. }) if self.req.force => {
                self.timeline
                    .step(name, &format!("no snapshot ({e}); --force: a failure will not restore the state"));
                None
            }
            Err(e) => {
                let _ = self.act(name, "start", "ready").await;
                let hint = if matches!(e, SnapshotError::TooLarge { .. }) {
                    "; pass --force to upgrade without one (no automatic restore of the state then)"
                } else {
                    ""
                };
                return Err(self.fail(name, &format!("cannot snapshot: {e}{hint}"), exit::FAILURE));
            }
        };
        let undo = Undo {
            step: self,
            name,
            previous,
            snap,
            config,
            tag,
        };
        // An instance that never ran (a cold standby never needed) has no working directory and
        // no state yet: there is nothing for the doctor to migrate, and nowhere to run it.
        if plan.cwd.is_dir() {
            if let Err(m) = self.doctor(plan).await {
                return Err(undo.rollback(&format!("doctor failed: {m}"), false).await);
            }
            self.timeline.step(name, "doctor done");
        } else {
            self.timeline.step(
                name,
                &format!(
                    "no doctor: {} does not exist yet (never started), so there is no state to migrate",
                    plan.cwd.display()
                ),
            );
        }
        let pin = BTreeMap::from([(name.to_string(), Some(self.version.to_string()))]);
        if let Err(e) = pins::update(self.run_dir, &pin) {
            return Err(undo.rollback(&format!("cannot pin: {e}"), false).await);
        }
        // The daemon's rollout proves the new version; a failure is left to us to put back (the
        // snapshot first, then the previous version, started once), as the daemon's own
        // rollback would start the previous version on the state the doctor migrated.
        match self.reload(Some(name)).await {
            Err(m) => return Err(undo.rollback(&format!("reload refused: {m}"), true).await),
            Ok(r) if r.rolled_back.iter().any(|p| p == name) => {
                return Err(undo
                    .rollback(
                        &format!("not ready on {}: the daemon's rollout found it failing", self.version),
                        true,
                    )
                    .await);
            }
            Ok(r) if r.held.iter().any(|p| p == name) => {
                return Err(undo.rollback("held: its standby was not ready to cover it", true).await);
            }
            Ok(_) => {}
        }
        self.timeline.step(name, &format!("pinned to {}, reloaded", self.version));
        if let Err(m) = self.act(name, "start", "ready").await {
            return Err(undo.rollback(&format!("not ready on {}: {m}", self.version), true).await);
        }
        if let Err(m) = self.settled(name).await {
            return Err(undo.rollback(&format!("not stable on {}: {m}", self.version), true).await);
        }
        self.timeline.step(name, &format!("ready on {}", self.version));
        if was_stopped {
            match self.act(name, "stop", "stopped").await {
                Ok(()) => self.timeline.step(name, "stopped again, as it was before the upgrade"),
                Err(m) => self.timeline.step(name, &format!("cannot stop it again as it was: {m}")),
            }
        }
        Ok(())
    }

    /// Waits until `name` runs the target version and its rollout has a verdict (the soak of
    /// `rollout.soak` is over): `Ok` when it was verified (or no rollout concerned it), else why
    /// not. Polls `GET /v1/status` every 250 ms for at most the upgrade's timeout plus 10 minutes
    /// (the longest soak the fleet file allows is checked by the daemon, not here).
    async fn settled(&self, name: &str) -> Result<(), String> {
        let end = crate::process::later(tokio::time::Instant::now(), self.req.timeout + Duration::from_secs(600));
        loop {
            let (code, body) = self.client.call(Method::GET, "/v1/status").await.map_err(|e| e.to_string())?;
            if code != 200 {
                return Err(api_message(&body));
            }
            let status: StatusResponse = serde_json::from_slice(&body).map_err(|e| format!("unexpected status answer: {e}"))?;
            let Some(me) = status.instances.iter().find(|i| i.profile == name) else {
                return Err(format!("{name} is no longer in the fleet"));
            };
            if let Some(v) = me.version.as_deref()
                && v != self.version
            {
                return Err(format!("it runs {v}"));
            }
            match me.rollout.as_deref() {
                Some(r) if r.starts_with("rolled back") || r.starts_with("held") => return Err(r.to_string()),
                Some(r) if r.starts_with("verifying") || r.starts_with("soaking") || r.starts_with("waiting") => {}
                _ => return Ok(()),
            }
            if tokio::time::Instant::now() >= end {
                return Err("its rollout did not finish in time".into());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The new version's `doctor --non-interactive --fix`, as `openclaw update` runs it after a
    /// package install, with the instance's environment.
    async fn doctor(&self, plan: &Plan) -> Result<(), String> {
        let program = version::program(self.run_dir, self.package.name(), self.version);
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(["doctor", "--non-interactive", "--fix"])
            .env_clear()
            .envs(&plan.env)
            .envs(DOCTOR_ENV.iter().copied())
            .current_dir(&plan.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        match tokio::time::timeout(self.req.timeout, child.wait()).await {
            Ok(Ok(s)) if s.success() => Ok(()),
            Ok(Ok(s)) => Err(format!("`{} doctor` ended with {s}", program.display())),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => {
                let _ = child.kill().await;
                Err(format!(
                    "`doctor` did not finish within {}",
                    humantime::format_duration(self.req.timeout)
                ))
            }
        }
    }

    /// `POST /v1/instances/{name}/{action}` waiting for `wait`.
    async fn act(&self, name: &str, action: &str, wait: &str) -> Result<(), String> {
        let path = format!(
            "/v1/instances/{name}/{action}?wait={wait}&timeout_s={}",
            self.req.timeout.as_secs_f64()
        );
        let (code, body) = self.client.call(Method::POST, &path).await.map_err(|e| e.to_string())?;
        match serde_json::from_slice::<ActionResponse>(&body) {
            Ok(_) if code == 200 => Ok(()),
            Ok(r) => Err(format!(
                "{} (state {} after {:.1} s)",
                r.problem.unwrap_or_default(),
                r.state,
                r.waited_s
            )),
            Err(_) => Err(api_message(&body)),
        }
    }

    /// `POST /v1/reload`: the daemon's answer (which profiles its rollout rolled back or held),
    /// or why it refused the fleet. `ours`: the profile whose failed change this upgrade puts
    /// back itself (the daemon's rollout only records the failure:
    /// [`crate::control::ReloadOptions::caller_rolls_back`]).
    async fn reload(&self, ours: Option<&str>) -> Result<ReloadResponse, String> {
        let path = match ours {
            Some(name) => format!("/v1/reload?caller_rolls_back={name}"),
            None => "/v1/reload".to_string(),
        };
        let (code, body) = self.client.call(Method::POST, &path).await.map_err(|e| e.to_string())?;
        if code != 200 {
            return Err(api_message(&body));
        }
        serde_json::from_slice(&body).map_err(|e| format!("unexpected reload answer: {e}"))
    }

    /// Prints that `name`'s upgrade failed; returns `code`.
    fn fail(&self, name: &str, message: &str, code: u8) -> u8 {
        self.timeline.step(name, &format!("upgrade failed: {message}"));
        code
    }
}

/// What `openclaw update` sets for its post-install doctor (`buildUpdateDoctorEnv`,
/// `dist/update-runner-doctor-*.mjs`): an update is in progress, the service is repaired by an
/// external supervisor's policy, and the doctor may neither repair nor activate a service.
const DOCTOR_ENV: &[(&str, &str)] = &[
    ("OPENCLAW_UPDATE_IN_PROGRESS", "1"),
    ("OPENCLAW_SERVICE_REPAIR_POLICY", "external"),
    ("OPENCLAW_UPDATE_PARENT_ALLOWS_GATEWAY_SERVICE_REPAIR", "0"),
    ("OPENCLAW_UPDATE_PARENT_ALLOWS_GATEWAY_ACTIVATION", "0"),
];

/// How to take one profile back to where it was.
struct Undo<'a> {
    step: &'a Step<'a>,
    name: &'a str,
    previous: Option<String>,
    snap: Option<Snapshot>,
    config: PathBuf,
    tag: String,
}

impl Undo<'_> {
    /// Restores the previous pin (reloading if `pinned`), the snapshot, and starts the profile
    /// on its previous version; prints each step; returns exit 1.
    async fn rollback(self, why: &str, pinned: bool) -> u8 {
        let (s, name) = (self.step, self.name);
        s.timeline.step(name, &format!("failed: {why}; rolling back"));
        if pinned {
            let _ = s.act(name, "stop", "stopped").await;
        }
        let pin = BTreeMap::from([(name.to_string(), self.previous.clone())]);
        if let Err(e) = pins::update(s.run_dir, &pin) {
            s.timeline.step(name, &format!("cannot restore the previous pin: {e}"));
        }
        match &self.snap {
            Some(snap) => match snapshot::restore(snap, &self.config, &self.tag) {
                Ok(kept) => {
                    let kept: Vec<String> = kept.iter().map(|p| p.display().to_string()).collect();
                    s.timeline
                        .step(name, &format!("state and config restored; rejected ones kept: {}", kept.join(", ")));
                }
                Err(e) => s
                    .timeline
                    .step(name, &format!("cannot restore the snapshot {}: {e}", snap.dir.display())),
            },
            None => s.timeline.step(name, "no snapshot to restore (--force)"),
        }
        if pinned && let Err(m) = s.reload(None).await {
            s.timeline.step(name, &format!("reload refused: {m}"));
        }
        match s.act(name, "start", "ready").await {
            Ok(()) => s.timeline.step(
                name,
                &format!(
                    "rolled back: ready on its previous version ({})",
                    self.previous.as_deref().unwrap_or("as the fleet file says")
                ),
            ),
            Err(m) => s.timeline.step(name, &format!("rolled back, but not ready: {m}")),
        }
        exit::FAILURE
    }
}

/// Removes the pins of `profiles` (every pin with none named), then reloads.
async fn unpin(client: &Client, run_dir: &Path, profiles: &[String]) -> u8 {
    let names: Vec<String> = if profiles.is_empty() {
        match read_pins(run_dir) {
            Ok(p) => p.into_keys().collect(),
            Err(e) => {
                eprintln!("clawherd: {e}");
                return exit::CONFIG;
            }
        }
    } else {
        profiles.to_vec()
    };
    let changes = names.iter().map(|n| (n.clone(), None)).collect();
    if let Err(e) = pins::update(run_dir, &changes) {
        eprintln!("clawherd: {e}");
        return exit::CONFIG;
    }
    println!("unpinned: {}", if names.is_empty() { "-".into() } else { names.join(", ") });
    super::commands::reload(client).await
}

/// The message of an API error body.
fn api_message(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => match e.hint {
            Some(h) => format!("{} (hint: {h})", e.error),
            None => e.error,
        },
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}
