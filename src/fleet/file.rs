//! Raw serde model of the fleet file (YAML, `version: 1`).
//!
//! This is the *low-level* form (ripgrep's `lowargs`): exactly what the operator wrote, with the
//! line and column of every value kept through [`Spanned`]. Nothing outside `fleet/` sees it;
//! [`super::validate`] turns it into a [`super::Fleet`]. Every struct refuses unknown keys, and all
//! keys are `snake_case`. Durations are humantime strings (`"10s"`, `"2m"`). Enums, durations and
//! sizes are read by their [`FromStr`] impls below into a [`Parsed`], which keeps a text that does
//! not read together with its error, so validation reports every bad value in one run. Every
//! number and duration has an allowed range ([`super::ranges`], docs/fleet-file.md).

use super::diagnostic::did_you_mean;
use super::{Flavor, RestartPolicy, Role, StandbyMode};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

/// A scalar as written and its reading through `T`'s [`FromStr`].
#[derive(Debug, Clone)]
pub(crate) struct Parsed<T> {
    /// The text as written.
    pub text: String,
    /// The value, or what is wrong with the text and how to fix it.
    pub value: Result<T, Invalid>,
}

impl<'de, T: FromStr<Err = Invalid>> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let value = text.parse();
        Ok(Parsed { text, value })
    }
}

/// Why a text is not a value of its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong, lowercase (`unknown role `mian``).
    pub message: String,
    /// How to fix it (`did you mean `main`?`).
    pub hint: String,
}

/// "did you mean" among `choices`, else the list written out (`write `a` or `b``).
fn unknown(what: &str, text: &str, choices: &[&str], list: &str) -> Invalid {
    let hint = did_you_mean(text, choices.iter().copied()).map_or(format!("write {list}"), |s| format!("did you mean `{s}`?"));
    Invalid {
        message: format!("unknown {what} `{text}`"),
        hint,
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "main" => Ok(Role::Main),
            "rescue" => Ok(Role::Rescue),
            _ => Err(unknown("role", s, &["main", "rescue"], "`main` or `rescue`")),
        }
    }
}

impl FromStr for Flavor {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "openclaw" => Ok(Flavor::OpenClaw),
            "clawdbot" | "moltbot" => Ok(Flavor::Clawdbot),
            "process" => Ok(Flavor::Process),
            _ => Err(unknown(
                "flavor",
                s,
                &["openclaw", "clawdbot", "process"],
                "`openclaw`, `clawdbot` or `process`",
            )),
        }
    }
}

impl FromStr for RestartPolicy {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "always" => Ok(RestartPolicy::Always),
            "on-failure" | "on_failure" => Ok(RestartPolicy::OnFailure),
            "never" | "no" => Ok(RestartPolicy::Never),
            _ => Err(unknown(
                "restart policy",
                s,
                &["always", "on-failure", "never"],
                "`always`, `on-failure` or `never`",
            )),
        }
    }
}

impl FromStr for StandbyMode {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "hot" => Ok(StandbyMode::Hot),
            "cold" => Ok(StandbyMode::Cold),
            _ => Err(Invalid {
                message: format!("unknown standby mode `{s}`"),
                hint: "write `hot` (always running) or `cold` (started on failover)".into(),
            }),
        }
    }
}

/// A humantime duration (`500ms`, `10s`, `5m`); any length that fits a [`Duration`] reads, the
/// range of each key is checked in validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        humantime::parse_duration(s.trim()).map(HumanDuration).map_err(|e| Invalid {
            message: format!("`{s}` is not a duration: {e}"),
            hint: "write a duration such as `500ms`, `10s`, `5m`".into(),
        })
    }
}

/// A size in bytes: `4096`, `10MiB`, `500KB`, `1G` (see [`parse_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        parse_size(s).map(ByteSize).ok_or_else(|| Invalid {
            message: format!("`{s}` is not a size"),
            hint: "write bytes or a size such as `10MiB`, `500KB`".into(),
        })
    }
}

/// Parses `4096`, `10MiB`, `500KB`, `1G` (K/M/G are powers of 1024 with or without `i`/`B`).
/// `None` for anything else and for sizes past `u64::MAX` bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().trim_end_matches('b').trim_end_matches('i') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A duration key as written.
pub(crate) type DurationFile = Spanned<Parsed<HumanDuration>>;

/// The whole fleet file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FleetFile {
    /// Format version; only `1` exists.
    pub version: Spanned<u32>,
    /// Folder for clawherd's own per-instance files (captured output). Relative to the fleet
    /// file's folder; default `.clawherd` beside the fleet file.
    #[serde(default)]
    pub run_dir: Option<Spanned<String>>,
    /// Rotation of the captured gateway output.
    #[serde(default)]
    pub logs: Option<LogsFile>,
    /// The control socket.
    #[serde(default)]
    pub control: Option<ControlFile>,
    /// Re-read and re-prove the fleet when the fleet file or an OpenClaw config changes.
    #[serde(default)]
    pub watch: Option<Spanned<bool>>,
    /// Run on failover and failback.
    #[serde(default)]
    pub hooks: Option<HooksFile>,
    /// Prometheus metrics over TCP.
    #[serde(default)]
    pub metrics: Option<MetricsFile>,
    /// Settings every profile inherits unless it sets them itself.
    #[serde(default)]
    pub defaults: Option<ProfileFile>,
    /// The profiles, by name (`^[a-z0-9][a-z0-9_-]{0,63}$`, OpenClaw's profile-name rule). Each
    /// is boxed: a `ProfileFile` is about 3.8 KB, and unboxed the parse moved every one through
    /// each layer of the deserializer and the map's node shifts (a tenth of a 100-profile parse).
    pub profiles: BTreeMap<String, Spanned<Box<ProfileFile>>>,
}

/// One profile as written (or the `defaults:` block). Every field is optional here; the
/// `defaults:` block is merged in by [`ProfileFile::over`], built-in defaults are applied in
/// [`super::validate`].
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileFile {
    /// `main` or `rescue`.
    pub role: Option<Spanned<Parsed<Role>>>,
    /// `openclaw` (today's gateway), `clawdbot` (the Moltbot/Clawdbot generation) or `process`.
    pub flavor: Option<Spanned<Parsed<Flavor>>>,
    /// Which OpenClaw profile this is: `default` or a name, as `openclaw --profile NAME` takes.
    pub openclaw_profile: Option<Spanned<String>>,
    /// Explicit OpenClaw config file; overrides the profile's `<state_dir>/openclaw.json`. No NUL
    /// byte, like every path, command word and environment entry.
    pub config: Option<Spanned<String>>,
    /// Explicit state dir; overrides `~/.openclaw[-NAME]`.
    pub state_dir: Option<Spanned<String>>,
    /// Explicit agent workspace; passed as `OPENCLAW_WORKSPACE_DIR`.
    pub workspace: Option<Spanned<String>>,
    /// Explicit base port; passed as `--port` and `OPENCLAW_GATEWAY_PORT`. Range 1..=65535.
    pub port: Option<Spanned<u16>>,
    /// Further declared ports of a `flavor: process` child; each in 1..=65535.
    pub ports: Option<Spanned<Vec<u16>>>,
    /// Gateway command line (program and arguments); default `[openclaw, gateway, run]`.
    pub command: Option<Spanned<Vec<String>>>,
    /// Which installed version of the flavor's package to run, e.g. `"2026.9.6"`: the command
    /// becomes `<run_dir>/versions/<package>@<version>/node_modules/.bin/<package> gateway run`
    /// (`clawherd install openclaw@VERSION` fills it). A plain version only; not with `command`.
    pub openclaw_version: Option<Spanned<String>>,
    /// Extra arguments appended after `command` (and after clawherd's `--port`).
    pub args: Option<Spanned<Vec<String>>>,
    /// Extra environment for the gateway. Merged over `defaults.env` key by key.
    pub env: Option<BTreeMap<String, Spanned<String>>>,
    /// Which variables of clawherd's environment the gateway inherits: `allowlist` (the
    /// default), `all`, or a list of further names and `*` patterns.
    pub env_inherit: Option<Spanned<EnvInheritFile>>,
    /// Restart policy, backoff and crash-loop limit.
    pub restart: Option<RestartFile>,
    /// Time a graceful stop may take before SIGKILL, e.g. `"30s"`; 0 s to 1 h, default 330 s.
    pub stop_timeout: Option<DurationFile>,
    /// Time what the gateway leaves behind (processes of its tree still alive after it exited)
    /// gets between SIGTERM and SIGKILL, e.g. `"2s"`; 0 s to 1 h, default 2 s.
    pub leftover_grace: Option<DurationFile>,
    /// Working directory of the gateway; default its state dir.
    pub cwd: Option<Spanned<String>>,
    /// Unix user the gateway runs as (a name in the user database); default clawherd's own.
    /// Needs a root clawherd, unless it is clawherd's own user.
    pub user: Option<Spanned<String>>,
    /// Unix group the gateway runs as (a name in the group database); default the primary
    /// group of `user`. Only with `user`.
    pub group: Option<Spanned<String>>,
    /// Liveness and readiness probing.
    pub health: Option<HealthFile>,
    /// The profile this one stands by for (failover target); default: the `main`-role profile
    /// for a `rescue`-role profile. Never taken from `defaults:`.
    pub standby_for: Option<Spanned<String>>,
    /// `hot` (always running) or `cold` (started only while the profile it stands by for is down).
    pub standby: Option<Spanned<Parsed<StandbyMode>>>,
    /// How long the protected profile may be not ready before failover, e.g. `60s`; 0 s to 1 day,
    /// default 60 s.
    pub failover_after: Option<DurationFile>,
    /// How long the protected profile must be ready again before failback, e.g. `60s`; 0 s to
    /// 1 day, default 60 s.
    pub failback_after: Option<DurationFile>,
    /// How a change to this profile is rolled out and verified (docs/rollout.md).
    pub rollout: Option<RolloutFile>,
}

impl ProfileFile {
    /// This profile with every key it leaves unset taken from `defaults` (`env` key by key, the
    /// `restart:` and `health:` blocks field by field), each value keeping the place it was
    /// written. `standby_for` is not inherited: a profile cannot stand by for itself.
    pub(crate) fn over(&self, defaults: &ProfileFile) -> ProfileFile {
        let d = defaults;
        ProfileFile {
            role: self.role.clone().or_else(|| d.role.clone()),
            flavor: self.flavor.clone().or_else(|| d.flavor.clone()),
            openclaw_profile: self.openclaw_profile.clone().or_else(|| d.openclaw_profile.clone()),
            config: self.config.clone().or_else(|| d.config.clone()),
            state_dir: self.state_dir.clone().or_else(|| d.state_dir.clone()),
            workspace: self.workspace.clone().or_else(|| d.workspace.clone()),
            port: self.port.clone().or_else(|| d.port.clone()),
            ports: self.ports.clone().or_else(|| d.ports.clone()),
            command: self.command.clone().or_else(|| d.command.clone()),
            openclaw_version: self.openclaw_version.clone().or_else(|| d.openclaw_version.clone()),
            args: self.args.clone().or_else(|| d.args.clone()),
            env: merge_env(self.env.as_ref(), d.env.as_ref()),
            env_inherit: self.env_inherit.clone().or_else(|| d.env_inherit.clone()),
            restart: merge_block(self.restart.as_ref(), d.restart.as_ref(), RestartFile::over),
            stop_timeout: self.stop_timeout.clone().or_else(|| d.stop_timeout.clone()),
            leftover_grace: self.leftover_grace.clone().or_else(|| d.leftover_grace.clone()),
            cwd: self.cwd.clone().or_else(|| d.cwd.clone()),
            user: self.user.clone().or_else(|| d.user.clone()),
            group: self.group.clone().or_else(|| d.group.clone()),
            health: merge_block(self.health.as_ref(), d.health.as_ref(), HealthFile::over),
            standby_for: self.standby_for.clone(),
            standby: self.standby.clone().or_else(|| d.standby.clone()),
            failover_after: self.failover_after.clone().or_else(|| d.failover_after.clone()),
            failback_after: self.failback_after.clone().or_else(|| d.failback_after.clone()),
            rollout: merge_block(self.rollout.as_ref(), d.rollout.as_ref(), RolloutFile::over),
        }
    }
}

/// `env_inherit:` as written: a word (`allowlist`, `all`, checked in validation) or a list of
/// variable names and patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvInheritFile {
    /// `env_inherit: WORD`.
    Word(String),
    /// `env_inherit: [NAME, PATTERN, ...]`.
    Names(Vec<String>),
}

impl<'de> Deserialize<'de> for EnvInheritFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = EnvInheritFile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`allowlist`, `all` or a list of variable names such as [OPENAI_API_KEY, \"AWS_*\"]")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EnvInheritFile::Word(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(EnvInheritFile::Names(names))
            }
        }
        d.deserialize_any(V)
    }
}

/// `env:` of the defaults with the profile's entries over it, key by key.
fn merge_env(
    own: Option<&BTreeMap<String, Spanned<String>>>,
    d: Option<&BTreeMap<String, Spanned<String>>>,
) -> Option<BTreeMap<String, Spanned<String>>> {
    if own.is_none() && d.is_none() {
        return None;
    }
    let mut env = d.cloned().unwrap_or_default();
    env.extend(own.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
    Some(env)
}

/// A block of the profile merged over the same block of the defaults by `over`.
fn merge_block<T: Clone>(own: Option<&T>, d: Option<&T>, over: fn(&T, &T) -> T) -> Option<T> {
    match (own, d) {
        (Some(own), Some(d)) => Some(over(own, d)),
        (own, d) => own.or(d).cloned(),
    }
}

/// `health:` block.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthFile {
    /// Probe period once ready, e.g. `10s`; 100 ms to 1 day, default 10 s.
    pub period: Option<DurationFile>,
    /// Timeout of one probe, e.g. `5s`; 1 ms to 1 h, default 5 s.
    pub timeout: Option<DurationFile>,
    /// Consecutive failures that count (liveness: restart; readiness: unready); 1 to 100,
    /// default 3.
    pub failure_threshold: Option<Spanned<u32>>,
    /// Liveness is not judged before this much time after spawn unless ready earlier, e.g. `5m`;
    /// 0 s to 1 day, default 5 min.
    pub startup_grace: Option<DurationFile>,
    /// Graceful stop budget of a liveness restart before SIGKILL, e.g. `15s`; 0 s to 1 h,
    /// default 15 s.
    pub kill_after: Option<DurationFile>,
    /// `false` turns liveness probing off.
    pub liveness: Option<Spanned<bool>>,
}

impl HealthFile {
    /// Each field of `self`, else of `d`.
    fn over(&self, d: &HealthFile) -> HealthFile {
        HealthFile {
            period: self.period.clone().or_else(|| d.period.clone()),
            timeout: self.timeout.clone().or_else(|| d.timeout.clone()),
            failure_threshold: self.failure_threshold.clone().or_else(|| d.failure_threshold.clone()),
            startup_grace: self.startup_grace.clone().or_else(|| d.startup_grace.clone()),
            kill_after: self.kill_after.clone().or_else(|| d.kill_after.clone()),
            liveness: self.liveness.clone().or_else(|| d.liveness.clone()),
        }
    }
}

/// `rollout:` block: how a change to a profile is verified and rolled back (docs/rollout.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolloutFile {
    /// How long a changed instance may take to become ready, e.g. `2m`; 1 s to 1 day, default 2 min.
    pub verify_timeout: Option<DurationFile>,
    /// How long it must then stay ready (no exit, no liveness failure), e.g. `30s`; 0 s to 1 day,
    /// default 30 s.
    pub soak: Option<DurationFile>,
    /// `false`: a failed change is reported but not rolled back. Default `true`.
    pub rollback: Option<Spanned<bool>>,
}

impl RolloutFile {
    /// Each field of `self`, else of `d`.
    fn over(&self, d: &RolloutFile) -> RolloutFile {
        RolloutFile {
            verify_timeout: self.verify_timeout.clone().or_else(|| d.verify_timeout.clone()),
            soak: self.soak.clone().or_else(|| d.soak.clone()),
            rollback: self.rollback.clone().or_else(|| d.rollback.clone()),
        }
    }
}

/// `metrics:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsFile {
    /// `host:port` of a TCP listener serving only `GET /metrics`, e.g. `127.0.0.1:9464`.
    pub listen: Option<Spanned<String>>,
}

/// `hooks:` block (fleet level): run on failover and failback.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HooksFile {
    /// A command run with the event in its environment (`CLAWHERD_EVENT`, ...).
    pub command: Option<Spanned<Vec<String>>>,
    /// An `http://` URL that receives the event as a JSON POST.
    pub url: Option<Spanned<String>>,
    /// Timeout of one hook run, e.g. `10s`; 1 ms to 1 h, default 10 s.
    pub timeout: Option<DurationFile>,
}

/// `restart:` block.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestartFile {
    /// `always`, `on-failure` or `never`.
    pub policy: Option<Spanned<Parsed<RestartPolicy>>>,
    /// Delay growth between restarts.
    pub backoff: Option<BackoffFile>,
    /// How many starts within a window make a crash loop.
    pub crash_loop: Option<CrashLoopFile>,
}

impl RestartFile {
    /// Each field of `self`, else of `d` (the two sub-blocks field by field).
    fn over(&self, d: &RestartFile) -> RestartFile {
        RestartFile {
            policy: self.policy.clone().or_else(|| d.policy.clone()),
            backoff: merge_block(self.backoff.as_ref(), d.backoff.as_ref(), BackoffFile::over),
            crash_loop: merge_block(self.crash_loop.as_ref(), d.crash_loop.as_ref(), CrashLoopFile::over),
        }
    }
}

/// `restart.backoff:` block; all durations.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackoffFile {
    /// First delay after a failure, e.g. `"1s"`; 0 s to 1 day, default 1 s.
    pub initial: Option<DurationFile>,
    /// Largest delay, e.g. `"60s"`; `initial` to 1 day, default 60 s.
    pub max: Option<DurationFile>,
    /// Uptime after which the delay goes back to `initial`, e.g. `"60s"`; 0 s to 1 day,
    /// default 60 s.
    pub reset_after: Option<DurationFile>,
}

impl BackoffFile {
    /// Each field of `self`, else of `d`.
    fn over(&self, d: &BackoffFile) -> BackoffFile {
        BackoffFile {
            initial: self.initial.clone().or_else(|| d.initial.clone()),
            max: self.max.clone().or_else(|| d.max.clone()),
            reset_after: self.reset_after.clone().or_else(|| d.reset_after.clone()),
        }
    }
}

/// `restart.crash_loop:` block.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CrashLoopFile {
    /// Starts allowed within `window` (count); 1 to 1,000,000, default 6 (10 for `flavor:
    /// process`).
    pub max_starts: Option<Spanned<u32>>,
    /// The sliding window, e.g. `"5m"`; 0 s to 1 day, default 5 min (10 s for `flavor: process`).
    pub window: Option<DurationFile>,
    /// The slow cadence of retries while in a crash loop, e.g. `"5m"`; 100 ms to 1 day, default
    /// 5 min (30 s for `flavor: process`).
    pub retry_every: Option<DurationFile>,
}

impl CrashLoopFile {
    /// Each field of `self`, else of `d`.
    fn over(&self, d: &CrashLoopFile) -> CrashLoopFile {
        CrashLoopFile {
            max_starts: self.max_starts.clone().or_else(|| d.max_starts.clone()),
            window: self.window.clone().or_else(|| d.window.clone()),
            retry_every: self.retry_every.clone().or_else(|| d.retry_every.clone()),
        }
    }
}

/// `logs:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogsFile {
    /// Rotate a file when it would grow past this size: bytes, or `10MiB`, `500KB`; 4 KiB to
    /// 4 GiB, default 10 MiB.
    pub max_size: Option<Spanned<Parsed<ByteSize>>>,
    /// Rotated files kept per instance; 0 to 100, default 5.
    pub keep: Option<Spanned<u32>>,
}

/// `control:` block.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ControlFile {
    /// Path of the Unix socket; default `<run_dir>/clawherd.sock`.
    pub socket: Option<Spanned<String>>,
    /// A group whose members may use the socket too (mode 0660 instead of 0600).
    pub group: Option<Spanned<String>>,
}
