//! `FleetFile` → validated [`Profile`]s: parse with locations, apply `defaults:`, expand `~` and
//! `${VAR}`, check every value, and gather every problem with its line, column, key and fix.

use super::diagnostic::{Diagnostic, Diagnostics, Place, did_you_mean};
use super::expand::{UnsetVar, expand};
use super::file::{FleetFile, HealthFile, HooksFile, ProfileFile, RestartFile};
use super::{Flavor, FleetSettings, HealthSettings, Hooks, Profile, RestartPolicy, RestartSettings, Role, Sourced, Standby, StandbyMode};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default graceful stop budget: OpenClaw's own stop policy for an unmanaged/external gateway is
/// a 315 s drain and a 325 s hard deadline, 330 s in all (`gateway-shutdown-budget.mjs`,
/// facts §4). An idle gateway stops in 0.3–2.6 s, so this only matters for a busy or hung one.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(330);

/// Environment variables a profile may not set in `env:` because clawherd sets them from the
/// profile's keys, with the key to use instead.
const RESERVED_ENV: &[(&str, &str)] = &[
    ("OPENCLAW_STATE_DIR", "state_dir"),
    ("OPENCLAW_CONFIG_PATH", "config"),
    ("OPENCLAW_GATEWAY_PORT", "port"),
    ("OPENCLAW_PROFILE", "openclaw_profile"),
    ("OPENCLAW_WORKSPACE_DIR", "workspace"),
    ("OPENCLAW_SUPERVISOR_MODE", "nothing: clawherd always sets `external`"),
    ("CLAWDBOT_STATE_DIR", "state_dir"),
    ("CLAWDBOT_CONFIG_PATH", "config"),
    ("CLAWDBOT_GATEWAY_PORT", "port"),
    ("CLAWDBOT_PROFILE", "openclaw_profile"),
    (
        "NODE_COMPILE_CACHE",
        "nothing: with it set, openclaw.mjs runs the gateway as a grandchild behind a wrapper that a signal can orphan (facts §4)",
    ),
];

/// The result of validation: profiles in name order plus warnings.
#[derive(Debug)]
pub struct Validated {
    /// Absolute folder of the fleet file.
    pub dir: PathBuf,
    /// Profiles in name order.
    pub profiles: Vec<Profile>,
    /// Fleet-level settings.
    pub settings: FleetSettings,
    /// Warnings (errors fail instead).
    pub warnings: Diagnostics,
}

/// Parses and validates the fleet file text. `path` must be absolute; `env` is clawherd's
/// environment for `${VAR}` and `~`.
///
/// Errors: every problem found, each located; warnings are returned with them.
pub fn validate(path: &Path, text: &str, env: &BTreeMap<String, String>) -> Result<Validated, Diagnostics> {
    let file: FleetFile = serde_saphyr::from_str(text).map_err(|e| Diagnostics(vec![parse_error(path, &e)]))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    let dir_ref = dir.clone();
    let mut cx = Cx {
        path,
        dir: &dir_ref,
        env,
        diags: Diagnostics::default(),
    };

    if file.version.value != 1 {
        cx.error(
            &file.version,
            "version",
            format!("unsupported fleet file version {}", file.version.value),
            "set `version: 1`",
        );
    }
    let run_dir = match &file.run_dir {
        Some(s) => cx.path_value(s, "run_dir").unwrap_or_else(|| default_run_dir(&dir, env)),
        None => default_run_dir(&dir, env),
    };
    if file.profiles.is_empty() {
        cx.diags.push(
            Diagnostic::error(Place::file(path), "the fleet declares no profiles")
                .key("profiles")
                .hint("add at least one profile under `profiles:`, e.g. `main: {role: main, port: 18789}`"),
        );
    }
    let mut rotation = crate::logs::Rotation::default();
    if let Some(l) = &file.logs {
        if let Some(s) = &l.max_size {
            match parse_size(&s.value) {
                Some(b) if b >= 4096 => rotation.max_bytes = b,
                _ => cx.error(
                    s,
                    "logs.max_size",
                    format!("`{}` is not a size of at least 4KiB", s.value),
                    "write bytes or a size such as `10MiB`, `500KB`",
                ),
            }
        }
        if let Some(k) = &l.keep {
            rotation.keep = k.value;
        }
    }
    let socket = match file.control.as_ref().and_then(|c| c.socket.as_ref()) {
        Some(s) => cx.path_value(s, "control.socket").unwrap_or_else(|| run_dir.join("clawherd.sock")),
        None => default_socket(&run_dir, env),
    };
    let socket_group = match file.control.as_ref().and_then(|c| c.group.as_ref()) {
        Some(g) => match nix::unistd::Group::from_name(&g.value) {
            Ok(Some(grp)) => Some((g.value.clone(), grp.gid.as_raw())),
            _ => {
                cx.error(
                    g,
                    "control.group",
                    format!("group `{}` does not exist on this host", g.value),
                    "create it (`groupadd`), or remove the key to allow only clawherd's user",
                );
                None
            }
        },
        None => None,
    };
    if socket.as_os_str().len() > 100 {
        let place = Place::file(path);
        cx.diags.push(
            Diagnostic::error(
                place,
                format!(
                    "control socket path {} is longer than a Unix socket allows (about 100 bytes)",
                    socket.display()
                ),
            )
            .key("control.socket")
            .hint("set `control: {socket: /run/clawherd/NAME.sock}` or a shorter `run_dir`"),
        );
    }
    let watch = file.watch.as_ref().is_some_and(|w| w.value);
    let hooks = cx.hooks(file.hooks.as_ref());
    let metrics_listen = match file.metrics.as_ref().and_then(|m| m.listen.as_ref()) {
        Some(s) => match s.value.parse::<std::net::SocketAddr>() {
            Ok(a) => {
                if !a.ip().is_loopback() {
                    let d = Diagnostic::warning(cx.place(s), format!("metrics listen on {a}, reachable from other hosts"))
                        .key("metrics.listen")
                        .hint("metrics name your profiles and ports; prefer 127.0.0.1 unless a firewall guards the port");
                    cx.diags.push(d);
                }
                Some(a)
            }
            Err(_) => {
                cx.error(
                    s,
                    "metrics.listen",
                    format!("`{}` is not a host:port address", s.value),
                    "write e.g. `127.0.0.1:9464`",
                );
                None
            }
        },
        None => None,
    };
    let defaults = file.defaults.unwrap_or_default();
    let mut profiles = Vec::new();
    for (name, spanned) in &file.profiles {
        if let Some(p) = cx.profile(name, spanned, &defaults) {
            profiles.push(p);
        }
    }
    cx.standbys(&file.profiles, &defaults, &mut profiles);
    if cx.diags.has_errors() {
        return Err(cx.diags);
    }
    Ok(Validated {
        dir,
        profiles,
        settings: FleetSettings {
            run_dir,
            rotation,
            socket,
            socket_group,
            watch,
            hooks,
            metrics_listen,
        },
        warnings: cx.diags,
    })
}

/// Turns a YAML/serde error into a diagnostic, adding "did you mean" for unknown keys.
fn parse_error(path: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let place = match e.location() {
        Some(l) => Place::at(path, l.line() as u32, l.column() as u32),
        None => Place::file(path),
    };
    let raw = e.without_snippet().to_string();
    // serde-saphyr prefixes "error: line L column C: "; the place already says that.
    let message = raw
        .split_once(": ")
        .and_then(|(head, rest)| if head.starts_with("error") { Some(rest) } else { None })
        .map(|rest| match rest.split_once(": ") {
            Some((pos, msg)) if pos.starts_with("line ") => msg,
            _ => rest,
        })
        .unwrap_or(&raw);
    // Some messages repeat the position at their end (", at line 8, column 5"); the place has it.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].trim_end_matches(',').to_string(),
        None => message.to_string(),
    };
    let mut d = Diagnostic::error(place, message.clone());
    if let Some((unknown, expected)) = unknown_field(&message) {
        let hint = match did_you_mean(&unknown, expected.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? (keys here: {})", expected.join(", ")),
            None => format!("remove it; keys allowed here: {}", expected.join(", ")),
        };
        d = d.hint(hint);
    } else if message.contains("u16") {
        d = d.hint("a port is an integer from 1 to 65535");
    } else if message.contains("u32") {
        d = d.hint("write a whole number");
    }
    d
}

/// Parses serde's "unknown field `x`, expected one of `a`, `b`" (backticks optional).
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let list = rest.split_once("expected ").map(|(_, l)| l).unwrap_or("");
    let list = list.strip_prefix("one of ").unwrap_or(list);
    let expected = list
        .split(',')
        .map(|s| s.trim().trim_matches('`').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Some((name.to_string(), expected))
}

/// Validation context: the file, clawherd's env, and the problems found so far.
struct Cx<'a> {
    path: &'a Path,
    dir: &'a Path,
    env: &'a BTreeMap<String, String>,
    diags: Diagnostics,
}

impl Cx<'_> {
    fn place<T>(&self, s: &Spanned<T>) -> Place {
        Place::at(self.path, s.referenced.line() as u32, s.referenced.column() as u32)
    }

    fn error<T>(&mut self, s: &Spanned<T>, key: &str, message: String, hint: &str) {
        let d = Diagnostic::error(self.place(s), message).key(key).hint(hint);
        self.diags.push(d);
    }

    fn profile_error<T>(&mut self, profile: &str, s: &Spanned<T>, key: &str, message: String, hint: String) {
        let d = Diagnostic::error(self.place(s), message).profile(profile).key(key).hint(hint);
        self.diags.push(d);
    }

    /// A count that must be at least 1: `default` when unset; 0 is reported (`why`) and read as 1.
    fn count(&mut self, profile: &str, s: Option<&Spanned<u32>>, key: &str, why: &str, default: u32) -> u32 {
        match s {
            Some(s) if s.value == 0 => {
                self.profile_error(profile, s, key, why.into(), "use 1 or more".into());
                1
            }
            Some(s) => s.value,
            None => default,
        }
    }

    fn home(&self) -> Option<&str> {
        self.env.get("HOME").map(String::as_str)
    }

    /// Expands `~`/`${VAR}` in a string value; reports an unset variable.
    fn text(&mut self, s: &Spanned<String>, key: &str) -> Option<String> {
        let env = self.env;
        let lookup = |name: &str| env.get(name).cloned();
        match expand(&s.value, &lookup, self.home()) {
            Ok(v) => Some(v),
            Err(UnsetVar(name)) => {
                let msg = format!("`${{{name}}}` is not set in clawherd's environment");
                let hint = format!("export {name} before starting clawherd, or write `$${{{name}}}` for a literal `${{{name}}}`");
                let d = Diagnostic::error(self.place(s), msg).key(key).hint(hint);
                self.diags.push(d);
                None
            }
        }
    }

    /// Expands and anchors a path value at the fleet file's folder.
    fn path_value(&mut self, s: &Spanned<String>, key: &str) -> Option<PathBuf> {
        let v = self.text(s, key)?;
        if v.trim().is_empty() {
            self.error(s, key, "the path is empty".into(), "write a path, or remove the key");
            return None;
        }
        Some(self.dir.join(v))
    }

    fn located_path(&mut self, s: &Spanned<String>, key: String) -> Option<Sourced<PathBuf>> {
        let value = self.path_value(s, &key)?;
        Some(Sourced::fleet(value, self.place(s), key))
    }

    fn duration(&mut self, s: &Spanned<String>, key: &str) -> Option<Duration> {
        match humantime::parse_duration(s.value.trim()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    s,
                    key,
                    format!("`{}` is not a duration: {e}", s.value),
                    "write a duration such as `500ms`, `10s`, `5m`",
                );
                None
            }
        }
    }

    fn profile(&mut self, name: &str, spanned: &Spanned<ProfileFile>, d: &ProfileFile) -> Option<Profile> {
        let p = &spanned.value;
        let place = self.place(spanned);
        let errors_before = self.diags.error_count();
        let key = |k: &str| format!("profiles.{name}.{k}");

        if !valid_profile_name(name) {
            self.profile_error(
                name,
                spanned,
                "profiles",
                format!("`{name}` is not a valid profile name"),
                "use 1-64 lowercase letters, digits, `-` or `_`, starting with a letter or digit (OpenClaw's profile-name rule)".into(),
            );
        }

        let role = match p.role.as_ref().or(d.role.as_ref()) {
            Some(s) => match s.value.as_str() {
                "main" => Some(Role::Main),
                "rescue" => Some(Role::Rescue),
                other => {
                    let hint = did_you_mean(other, ["main", "rescue"])
                        .map_or("write `main` or `rescue`".to_string(), |s| format!("did you mean `{s}`?"));
                    self.profile_error(name, s, &key("role"), format!("unknown role `{other}`"), hint);
                    None
                }
            },
            None => match name {
                "main" => Some(Role::Main),
                "rescue" => Some(Role::Rescue),
                _ => {
                    self.profile_error(
                        name,
                        spanned,
                        &key("role"),
                        "no role".into(),
                        "add `role: main` or `role: rescue`".into(),
                    );
                    None
                }
            },
        };

        let flavor = match p.flavor.as_ref().or(d.flavor.as_ref()) {
            Some(s) => match s.value.as_str() {
                "openclaw" => Some(Flavor::OpenClaw),
                "clawdbot" | "moltbot" => Some(Flavor::Clawdbot),
                "process" => Some(Flavor::Process),
                other => {
                    let hint = did_you_mean(other, ["openclaw", "clawdbot", "process"])
                        .map_or("write `openclaw`, `clawdbot` or `process`".to_string(), |s| {
                            format!("did you mean `{s}`?")
                        });
                    self.profile_error(name, s, &key("flavor"), format!("unknown flavor `{other}`"), hint);
                    None
                }
            },
            None => Some(Flavor::OpenClaw),
        };

        let openclaw_profile = match p.openclaw_profile.as_ref().or(d.openclaw_profile.as_ref()) {
            Some(s) if s.value.eq_ignore_ascii_case("default") => None,
            Some(s) if valid_profile_name(&s.value.to_ascii_lowercase()) => Some(s.value.clone()),
            Some(s) => {
                self.profile_error(
                    name,
                    s,
                    &key("openclaw_profile"),
                    format!("`{}` is not a valid OpenClaw profile name (openclaw would exit 2)", s.value),
                    "use `default` or a name matching ^[a-z0-9][a-z0-9_-]{0,63}$".into(),
                );
                None
            }
            None => None,
        };

        let config = p
            .config
            .as_ref()
            .or(d.config.as_ref())
            .and_then(|s| self.located_path(s, key("config")));
        let state_dir = p
            .state_dir
            .as_ref()
            .or(d.state_dir.as_ref())
            .and_then(|s| self.located_path(s, key("state_dir")));
        let workspace = p
            .workspace
            .as_ref()
            .or(d.workspace.as_ref())
            .and_then(|s| self.located_path(s, key("workspace")));
        let cwd = p.cwd.as_ref().or(d.cwd.as_ref()).and_then(|s| self.path_value(s, &key("cwd")));
        let port = match p.port.as_ref().or(d.port.as_ref()) {
            Some(s) if s.value == 0 => {
                self.profile_error(
                    name,
                    s,
                    &key("port"),
                    "port 0 is not a fixed port".into(),
                    "choose a port in 1024..=65425".into(),
                );
                None
            }
            Some(s) => Some(Sourced::fleet(s.value, self.place(s), key("port"))),
            None => None,
        };
        if let (None, Some(s)) = (&p.port, &d.port) {
            self.diags.push(
                Diagnostic::warning(self.place(s), "`defaults.port` gives every profile the same base port")
                    .key("defaults.port")
                    .hint("set `port` per profile instead"),
            );
        }

        let ports: Vec<Sourced<u16>> = match p.ports.as_ref().or(d.ports.as_ref()) {
            Some(s) if flavor != Some(Flavor::Process) => {
                self.profile_error(
                    name,
                    s,
                    &key("ports"),
                    "`ports` is for `flavor: process`".into(),
                    "a gateway's ports are derived from `port`; remove `ports`".into(),
                );
                Vec::new()
            }
            Some(s) => s.value.iter().map(|v| Sourced::fleet(*v, self.place(s), key("ports"))).collect(),
            None => Vec::new(),
        };
        if flavor == Some(Flavor::Process) {
            let gateway_only = [
                ("openclaw_profile", p.openclaw_profile.is_some()),
                ("config", p.config.is_some()),
                ("state_dir", p.state_dir.is_some()),
                ("workspace", p.workspace.is_some()),
            ];
            for (k, set) in gateway_only {
                if set {
                    self.profile_error(
                        name,
                        spanned,
                        &key(k),
                        format!("`{k}` is not used by `flavor: process`"),
                        format!("remove `{k}`, or use a gateway flavor"),
                    );
                }
            }
            if p.command.is_none() && d.command.is_none() {
                self.profile_error(
                    name,
                    spanned,
                    &key("command"),
                    "`flavor: process` needs a command".into(),
                    "add e.g. `command: [cloudflared, tunnel, run]`".into(),
                );
            }
        }
        let default_command = match flavor {
            Some(Flavor::Clawdbot) => vec!["clawdbot".to_string(), "gateway".into(), "run".into()],
            _ => vec!["openclaw".to_string(), "gateway".into(), "run".into()],
        };
        let command = match p.command.as_ref().or(d.command.as_ref()) {
            Some(s) if s.value.is_empty() || s.value[0].trim().is_empty() => {
                self.profile_error(
                    name,
                    s,
                    &key("command"),
                    "the command is empty".into(),
                    "write e.g. `command: [openclaw, gateway, run]`".into(),
                );
                default_command
            }
            Some(s) => self.list(s, &key("command")),
            None => default_command,
        };
        let args = match p.args.as_ref().or(d.args.as_ref()) {
            Some(s) => self.list(s, &key("args")),
            None => Vec::new(),
        };

        let mut env = BTreeMap::new();
        for source in [d.env.as_ref(), p.env.as_ref()].into_iter().flatten() {
            for (k, v) in source {
                if let Some(value) = self.env_entry(name, k, v) {
                    env.insert(k.clone(), value);
                }
            }
        }

        let restart = self.restart(name, flavor, p.restart.as_ref(), d.restart.as_ref());
        let health = self.health(name, p.health.as_ref(), d.health.as_ref());
        let stop_timeout = p
            .stop_timeout
            .as_ref()
            .or(d.stop_timeout.as_ref())
            .and_then(|s| self.duration(s, &key("stop_timeout")))
            .unwrap_or(DEFAULT_STOP_TIMEOUT);

        if self.diags.error_count() > errors_before {
            return None;
        }
        Some(Profile {
            name: name.to_string(),
            place,
            role: role?,
            flavor: flavor?,
            openclaw_profile,
            config,
            state_dir,
            workspace,
            port,
            ports,
            command,
            args,
            env,
            cwd,
            restart: restart?,
            stop_timeout,
            health: health?,
            standby: None,
        })
    }

    /// The `health:` block, profile fields over defaults fields.
    fn health(&mut self, profile: &str, p: Option<&HealthFile>, d: Option<&HealthFile>) -> Option<HealthSettings> {
        let before = self.diags.error_count();
        let key = |k: &str| format!("profiles.{profile}.health.{k}");
        let pick = |f: fn(&HealthFile) -> Option<&Spanned<String>>| p.and_then(f).or_else(|| d.and_then(f));
        let mut dur =
            |s: Option<&Spanned<String>>, k: &str, default: Duration| s.and_then(|s| self.duration(s, &key(k))).unwrap_or(default);
        let period = dur(pick(|h| h.period.as_ref()), "period", Duration::from_secs(10));
        let timeout = dur(pick(|h| h.timeout.as_ref()), "timeout", Duration::from_secs(5));
        let startup_grace = dur(pick(|h| h.startup_grace.as_ref()), "startup_grace", Duration::from_secs(300));
        let kill_after = dur(pick(|h| h.kill_after.as_ref()), "kill_after", Duration::from_secs(15));
        let threshold = p
            .and_then(|h| h.failure_threshold.as_ref())
            .or_else(|| d.and_then(|h| h.failure_threshold.as_ref()));
        let failure_threshold = self.count(
            profile,
            threshold,
            &key("failure_threshold"),
            "a threshold of 0 would fail on no failure",
            3,
        );
        let liveness = p
            .and_then(|h| h.liveness.as_ref())
            .or_else(|| d.and_then(|h| h.liveness.as_ref()))
            .is_none_or(|l| l.value);
        if period.is_zero() {
            let s = pick(|h| h.period.as_ref()).expect("a zero period was written");
            self.profile_error(
                profile,
                s,
                &key("period"),
                "a zero period would probe without pause".into(),
                "use e.g. `10s`".into(),
            );
        }
        if self.diags.error_count() > before {
            return None;
        }
        Some(HealthSettings {
            period,
            timeout,
            failure_threshold,
            startup_grace,
            kill_after,
            liveness,
        })
    }

    /// The fleet-level `hooks:` block.
    fn hooks(&mut self, h: Option<&HooksFile>) -> Hooks {
        let Some(h) = h else {
            return Hooks {
                command: None,
                url: None,
                timeout: Duration::from_secs(10),
            };
        };
        let command = h.command.as_ref().map(|c| self.list(c, "hooks.command")).filter(|c| !c.is_empty());
        let url = h.url.as_ref().and_then(|u| {
            let v = self.text(u, "hooks.url")?;
            if v.starts_with("http://") {
                Some(v)
            } else {
                self.error(
                    u,
                    "hooks.url",
                    format!("`{v}` is not an http:// URL"),
                    "clawherd posts hooks over plain HTTP, e.g. to a local relay: http://127.0.0.1:9000/clawherd",
                );
                None
            }
        });
        let timeout = h
            .timeout
            .as_ref()
            .and_then(|t| self.duration(t, "hooks.timeout"))
            .unwrap_or(Duration::from_secs(10));
        Hooks { command, url, timeout }
    }

    /// Resolves who stands by for whom, once every profile is known. A `rescue`-role profile
    /// stands by for the only `main`-role profile unless it names another with `standby_for`.
    fn standbys(&mut self, raw: &BTreeMap<String, Spanned<ProfileFile>>, d: &ProfileFile, profiles: &mut [Profile]) {
        let names: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
        let mains: Vec<String> = profiles.iter().filter(|p| p.role == Role::Main).map(|p| p.name.clone()).collect();
        for profile in profiles.iter_mut() {
            let Some(spanned) = raw.get(&profile.name) else { continue };
            let p = &spanned.value;
            let key = |k: &str| format!("profiles.{}.{k}", profile.name);
            let target = match p.standby_for.as_ref() {
                Some(s) if s.value == profile.name => {
                    self.profile_error(
                        &profile.name,
                        s,
                        &key("standby_for"),
                        "a profile cannot stand by for itself".into(),
                        "name the profile to protect, e.g. `main`".into(),
                    );
                    continue;
                }
                Some(s) if !names.contains(&s.value) => {
                    let hint = did_you_mean(&s.value, names.iter().map(String::as_str))
                        .map_or(format!("profiles: {}", names.join(", ")), |n| format!("did you mean `{n}`?"));
                    self.profile_error(
                        &profile.name,
                        s,
                        &key("standby_for"),
                        format!("no profile `{}` to stand by for", s.value),
                        hint,
                    );
                    continue;
                }
                Some(s) => s.value.clone(),
                None if profile.role == Role::Rescue && mains.len() == 1 => mains[0].clone(),
                None => continue,
            };
            let mode = match p.standby.as_ref().or(d.standby.as_ref()) {
                Some(s) => match s.value.as_str() {
                    "hot" => StandbyMode::Hot,
                    "cold" => StandbyMode::Cold,
                    other => {
                        self.profile_error(
                            &profile.name,
                            s,
                            &key("standby"),
                            format!("unknown standby mode `{other}`"),
                            "write `hot` (always running) or `cold` (started on failover)".into(),
                        );
                        continue;
                    }
                },
                None => StandbyMode::Hot,
            };
            let mut dur =
                |s: Option<&Spanned<String>>, k: &str, default: Duration| s.and_then(|s| self.duration(s, &key(k))).unwrap_or(default);
            let failover_after = dur(
                p.failover_after.as_ref().or(d.failover_after.as_ref()),
                "failover_after",
                Duration::from_secs(60),
            );
            let failback_after = dur(
                p.failback_after.as_ref().or(d.failback_after.as_ref()),
                "failback_after",
                Duration::from_secs(60),
            );
            profile.standby = Some(Standby {
                standby_for: target,
                mode,
                failover_after,
                failback_after,
            });
        }
    }

    fn list(&mut self, s: &Spanned<Vec<String>>, key: &str) -> Vec<String> {
        let env = self.env;
        let lookup = |n: &str| env.get(n).cloned();
        let mut out = Vec::new();
        for item in &s.value {
            match expand(item, &lookup, self.home()) {
                Ok(v) => out.push(v),
                Err(UnsetVar(n)) => {
                    let hint = format!("export {n} before starting clawherd");
                    self.error(s, key, format!("`${{{n}}}` is not set in clawherd's environment"), &hint);
                }
            }
        }
        out
    }

    fn env_entry(&mut self, profile: &str, k: &str, v: &Spanned<String>) -> Option<String> {
        let key = format!("env.{k}");
        let valid = !k.is_empty() && !k.contains('=') && !k.contains('\0') && !k.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            self.profile_error(
                profile,
                v,
                &key,
                format!("`{k}` is not a valid environment variable name"),
                "use letters, digits and `_`".into(),
            );
            return None;
        }
        if let Some((_, instead)) = RESERVED_ENV.iter().find(|(r, _)| *r == k) {
            self.profile_error(
                profile,
                v,
                &key,
                format!("`{k}` is set by clawherd"),
                format!("remove it from env and set {instead}"),
            );
            return None;
        }
        if k.starts_with("CLAWHERD_") {
            self.profile_error(
                profile,
                v,
                &key,
                format!("`{k}` is reserved for clawherd's own markers"),
                "choose another name".into(),
            );
            return None;
        }
        self.text(v, &key)
    }

    /// The `restart:` block, profile fields over defaults fields. Crash-loop defaults depend on
    /// what runs: a gateway boots in 10-40 s, so 6 starts in 5 min is a loop (retried every
    /// 5 min); a plain process restarts in milliseconds, so it gets systemd-like limits: 10 starts
    /// in 10 s, retried every 30 s.
    fn restart(
        &mut self,
        profile: &str,
        flavor: Option<Flavor>,
        p: Option<&RestartFile>,
        d: Option<&RestartFile>,
    ) -> Option<RestartSettings> {
        let (def_max, def_window, def_retry) = match flavor {
            Some(Flavor::Process) => (10, Duration::from_secs(10), Duration::from_secs(30)),
            _ => (6, Duration::from_secs(300), Duration::from_secs(300)),
        };
        let key = |k: &str| format!("profiles.{profile}.restart.{k}");
        let pick = |f: fn(&RestartFile) -> Option<&Spanned<String>>| p.and_then(f).or_else(|| d.and_then(f));
        let before = self.diags.error_count();
        let policy = match pick(|r| r.policy.as_ref()) {
            Some(s) => match s.value.as_str() {
                "always" => RestartPolicy::Always,
                "on-failure" | "on_failure" => RestartPolicy::OnFailure,
                "never" | "no" => RestartPolicy::Never,
                other => {
                    let hint = did_you_mean(other, ["always", "on-failure", "never"])
                        .map_or("write `always`, `on-failure` or `never`".to_string(), |s| {
                            format!("did you mean `{s}`?")
                        });
                    self.profile_error(profile, s, &key("policy"), format!("unknown restart policy `{other}`"), hint);
                    RestartPolicy::Always
                }
            },
            None => RestartPolicy::Always,
        };
        let initial_s = backoff_field(p, d, |b| b.initial.as_ref());
        let max_s = backoff_field(p, d, |b| b.max.as_ref());
        let reset_s = backoff_field(p, d, |b| b.reset_after.as_ref());
        let window_s = crash_field(p, d, |c| c.window.as_ref());
        let max_starts_s = crash_field(p, d, |c| c.max_starts.as_ref());
        let mut dur =
            |sp: Option<&Spanned<String>>, k: &str, default: Duration| sp.and_then(|s| self.duration(s, &key(k))).unwrap_or(default);
        let initial = dur(initial_s, "backoff.initial", Duration::from_secs(1));
        let max = dur(max_s, "backoff.max", Duration::from_secs(60));
        let reset = dur(reset_s, "backoff.reset_after", Duration::from_secs(60));
        let window = dur(window_s, "crash_loop.window", def_window);
        let retry = dur(crash_field(p, d, |c| c.retry_every.as_ref()), "crash_loop.retry_every", def_retry);
        let max_starts = self.count(
            profile,
            max_starts_s,
            &key("crash_loop.max_starts"),
            "0 starts allows none",
            def_max,
        );
        if max < initial
            && let Some(s) = max_s
        {
            self.profile_error(
                profile,
                s,
                &key("backoff.max"),
                "the maximum backoff is below the initial one".into(),
                format!("set it to at least {}", humantime::format_duration(initial)),
            );
        }
        if self.diags.error_count() > before {
            return None;
        }
        Some(RestartSettings {
            policy,
            backoff_initial: initial,
            backoff_max: max,
            backoff_reset_after: reset,
            crash_loop_max_starts: max_starts,
            crash_loop_window: window,
            crash_loop_retry: retry,
        })
    }
}

/// `restart.backoff.<field>` of the profile, else of the defaults.
fn backoff_field<'a, T>(
    p: Option<&'a RestartFile>,
    d: Option<&'a RestartFile>,
    f: fn(&'a super::file::BackoffFile) -> Option<&'a T>,
) -> Option<&'a T> {
    p.and_then(|r| r.backoff.as_ref())
        .and_then(f)
        .or_else(|| d.and_then(|r| r.backoff.as_ref()).and_then(f))
}

/// `restart.crash_loop.<field>` of the profile, else of the defaults.
fn crash_field<'a, T>(
    p: Option<&'a RestartFile>,
    d: Option<&'a RestartFile>,
    f: fn(&'a super::file::CrashLoopFile) -> Option<&'a T>,
) -> Option<&'a T> {
    p.and_then(|r| r.crash_loop.as_ref())
        .and_then(f)
        .or_else(|| d.and_then(|r| r.crash_loop.as_ref()).and_then(f))
}

/// The run dir when the fleet file names none: `.clawherd` beside the fleet file, or systemd's
/// `$STATE_DIRECTORY` (`StateDirectory=clawherd`: /var/lib/clawherd) for a service started by
/// systemd, whose fleet file usually sits in a read-only /etc.
pub fn default_run_dir(fleet_dir: &Path, env: &BTreeMap<String, String>) -> PathBuf {
    match env.get("STATE_DIRECTORY") {
        Some(d) if env.contains_key("INVOCATION_ID") => PathBuf::from(d.split(':').next().unwrap_or(d)),
        _ => fleet_dir.join(".clawherd"),
    }
}

/// The control socket when the fleet file names none: `<run_dir>/clawherd.sock`, or
/// `/run/clawherd/clawherd.sock` for a system service (root, started by systemd, which gives a
/// `RuntimeDirectory=` as `$RUNTIME_DIRECTORY`).
pub fn default_socket(run_dir: &Path, env: &BTreeMap<String, String>) -> PathBuf {
    match env.get("RUNTIME_DIRECTORY") {
        Some(d) if nix::unistd::geteuid().is_root() && env.contains_key("INVOCATION_ID") => {
            Path::new(d.split(':').next().unwrap_or(d)).join("clawherd.sock")
        }
        _ => run_dir.join("clawherd.sock"),
    }
}

/// Parses `4096`, `10MiB`, `500KB`, `1G` (K/M/G are powers of 1024 with or without `i`/`B`).
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

/// OpenClaw's profile-name rule `^[a-z0-9][a-z0-9_-]{0,63}$` (`dist/profile-utils-*.mjs`), applied
/// to lowercase names.
pub fn valid_profile_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        BTreeMap::from([("HOME".to_string(), "/home/u".to_string()), ("SRV".to_string(), "/srv".to_string())])
    }

    fn run(text: &str) -> Result<Validated, Diagnostics> {
        validate(Path::new("/f/fleet.yaml"), text, &env())
    }

    fn first_error(text: &str) -> String {
        run(text).expect_err("must fail").0[0].to_string()
    }

    #[test]
    fn applies_defaults_and_expands_paths() {
        let v = run("version: 1\ndefaults:\n  env: {A: a, B: b}\n  stop_timeout: 10s\n  restart: {policy: on-failure, backoff: {initial: 2s}}\nprofiles:\n  main:\n    port: 18789\n    state_dir: ~/s\n    config: ${SRV}/main.json\n    env: {B: override}\n  rescue:\n    state_dir: state/rescue\n    restart: {backoff: {max: 5s}}\n")
            .expect("valid");
        let main = &v.profiles[0];
        assert_eq!(main.name, "main");
        assert_eq!(main.role, Role::Main);
        assert_eq!(main.state_dir.as_ref().map(|l| l.value.clone()), Some(PathBuf::from("/home/u/s")));
        assert_eq!(main.config.as_ref().map(|l| l.value.clone()), Some(PathBuf::from("/srv/main.json")));
        assert_eq!(main.env.get("A").map(String::as_str), Some("a"));
        assert_eq!(main.env.get("B").map(String::as_str), Some("override"));
        assert_eq!(main.stop_timeout, Duration::from_secs(10));
        assert_eq!(main.restart.policy, RestartPolicy::OnFailure);
        assert_eq!(main.restart.backoff_initial, Duration::from_secs(2));
        assert_eq!(
            main.port.as_ref().map(|p| (p.value, p.source.fleet_place().and_then(|pl| pl.line))),
            Some((18789, Some(8)))
        );
        let rescue = &v.profiles[1];
        assert_eq!(rescue.role, Role::Rescue);
        assert_eq!(
            rescue.state_dir.as_ref().map(|l| l.value.clone()),
            Some(PathBuf::from("/f/state/rescue"))
        );
        assert_eq!(rescue.restart.backoff_max, Duration::from_secs(5));
        assert_eq!(rescue.command, ["openclaw", "gateway", "run"]);
    }

    #[test]
    fn unknown_key_gets_did_you_mean_with_place() {
        let e = first_error("version: 1\nprofiles:\n  main:\n    prot: 1\n");
        assert!(e.starts_with("/f/fleet.yaml:4:5: error: unknown field `prot`"), "{e}");
        assert!(e.contains("hint: did you mean `port`?"), "{e}");
    }

    #[test]
    fn bad_values_are_all_reported_at_once() {
        let d = run("version: 2\nprofiles:\n  main:\n    role: mian\n    stop_timeout: soon\n    env: {OPENCLAW_STATE_DIR: /x}\n  x:\n    port: 1\n").expect_err("must fail");
        let all = d.to_string();
        assert!(all.contains("unsupported fleet file version 2"), "{all}");
        assert!(all.contains("unknown role `mian`") && all.contains("did you mean `main`?"), "{all}");
        assert!(all.contains("`soon` is not a duration"), "{all}");
        assert!(
            all.contains("`OPENCLAW_STATE_DIR` is set by clawherd") && all.contains("set state_dir"),
            "{all}"
        );
        assert!(all.contains("profile 'x': profiles.x.role: no role"), "{all}");
        assert_eq!(d.error_count(), 5, "{all}");
    }

    #[test]
    fn crash_loop_defaults_depend_on_the_flavor() {
        let v =
            run("version: 1\nprofiles:\n  main: {}\n  tunnel: {role: rescue, flavor: process, command: [sleep, \"9\"]}\n").expect("valid");
        let r = |i: usize| {
            (
                v.profiles[i].restart.crash_loop_max_starts,
                v.profiles[i].restart.crash_loop_window.as_secs(),
                v.profiles[i].restart.crash_loop_retry.as_secs(),
            )
        };
        assert_eq!(r(0), (6, 300, 300), "a gateway");
        assert_eq!(r(1), (10, 10, 30), "a plain process");
    }

    #[test]
    fn sizes_and_fleet_settings() {
        assert_eq!(parse_size("10MiB"), Some(10 << 20));
        assert_eq!(parse_size("500KB"), Some(500 << 10));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1 G"), Some(1 << 30));
        assert_eq!(parse_size("ten"), None);
        let v = run("version: 1\nlogs: {max_size: 1MiB, keep: 2}\nwatch: true\ncontrol: {socket: s.sock}\nprofiles:\n  main: {}\n")
            .expect("valid");
        assert_eq!(
            v.settings.rotation,
            crate::logs::Rotation {
                max_bytes: 1 << 20,
                keep: 2
            }
        );
        assert!(v.settings.watch);
        assert_eq!(v.settings.socket, PathBuf::from("/f/s.sock"));
        assert!(first_error("version: 1\nlogs: {max_size: 1KB}\nprofiles:\n  main: {}\n").contains("at least 4KiB"));
        assert!(first_error("version: 1\ncontrol: {group: no-such-group-here}\nprofiles:\n  main: {}\n").contains("does not exist"));
    }

    #[test]
    fn unset_variable_and_bad_names_are_errors() {
        assert!(first_error("version: 1\nprofiles:\n  main:\n    state_dir: ${NOPE}/s\n").contains("`${NOPE}` is not set"));
        assert!(first_error("version: 1\nprofiles:\n  Main:\n    role: main\n").contains("not a valid profile name"));
        assert!(first_error("version: 1\nprofiles:\n  main:\n    openclaw_profile: -x\n").contains("not a valid OpenClaw profile name"));
        assert!(first_error("version: 1\nprofiles:\n  main:\n    port: 70000\n").contains("invalid u16"));
        assert!(first_error("version: 1\nprofiles: {}\n").contains("declares no profiles"));
        assert!(first_error("version: 1\nprofiles:\n  main: {}\n  main: {}\n").contains("duplicate"));
    }
}
