//! The plan of one instance: its effective paths, base port, derived ports, environment and
//! command line, each value with the place it came from.
//!
//! Precedence follows OpenClaw (facts §1-3): base port = fleet `port` (passed as `--port`) >
//! config `gateway.port` > named-profile hash > 18789; state dir = fleet `state_dir` >
//! `~/.openclaw[-NAME]`; config = fleet `config` > `<state>/openclaw.json`; workspace = config
//! `agents.defaults.workspace` > fleet `workspace` (as `OPENCLAW_WORKSPACE_DIR`) >
//! `<state>/workspace`; log file = config `logging.file` > `/tmp/openclaw/openclaw[-NAME]-DATE.log`.
//! Relative paths inside a config resolve against the gateway's cwd, `~` against `OPENCLAW_HOME`
//! or `HOME`, as Node's `path.resolve` does in `resolveUserPath` (`dist/home-dir-*.mjs`).

use super::diagnostic::{Diagnostic, Place};
use super::openclaw;
use super::{Flavor, Located, Profile};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Written in the fleet file.
    Fleet {
        /// Place of the value.
        place: Place,
        /// Its key path.
        key: String,
    },
    /// Read from the instance's OpenClaw config.
    Config {
        /// The config file.
        file: PathBuf,
        /// Dotted key path.
        key: String,
    },
    /// Derived by an OpenClaw rule from other values.
    Derived(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Fleet { place, key } => write!(f, "{key} at {place}"),
            Source::Config { file, key } => write!(f, "{key} in {}", file.display()),
            Source::Derived(rule) => write!(f, "{rule}"),
        }
    }
}

impl Source {
    /// The place to point a diagnostic at: the fleet value, the config file, or the profile.
    pub fn place_or(&self, profile_place: &Place) -> Place {
        match self {
            Source::Fleet { place, .. } => place.clone(),
            Source::Config { file, .. } => Place::file(file),
            Source::Derived(_) => profile_place.clone(),
        }
    }
}

/// A value and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The effective value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

impl<T> Sourced<T> {
    fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }
}

fn from_fleet<T: Clone>(l: &Located<T>) -> Sourced<T> {
    Sourced::new(
        l.value.clone(),
        Source::Fleet {
            place: l.place.clone(),
            key: l.key.clone(),
        },
    )
}

/// An inclusive port range; bounds are `u32` so a derived port past 65535 can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    /// First port.
    pub lo: u32,
    /// Last port (inclusive).
    pub hi: u32,
}

impl PortRange {
    /// One port.
    pub fn single(p: u32) -> Self {
        PortRange { lo: p, hi: p }
    }

    /// Whether the two ranges share a port.
    pub fn overlaps(&self, o: &PortRange) -> bool {
        self.lo <= o.hi && o.lo <= self.hi
    }

    /// Whether `p` is inside.
    pub fn contains(&self, p: u32) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// One port or range an instance may listen on or connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// What it is (`gateway`, `browser control`, `CDP range`, `cdp browser.profiles.work.cdpPort`).
    pub name: String,
    /// The ports.
    pub range: PortRange,
    /// Where the port comes from.
    pub source: Source,
    /// Offsets from the base port when it moves with it (`Some((2, 2))` for base+2), `None` when
    /// pinned by a config key.
    pub base_offset: Option<(u32, u32)>,
    /// True for a port the instance connects to (a loopback `cdpUrl`: somebody else's browser)
    /// rather than listens on. Two instances connecting to one endpoint is the shared-`cdpUrl`
    /// rule's business, so the port rule skips such pairs.
    pub connects: bool,
}

/// The kinds of per-instance paths the proof keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// The OpenClaw config file.
    Config,
    /// The state dir.
    StateDir,
    /// The agent workspace.
    Workspace,
    /// The gateway's file log.
    LogFile,
}

impl PathKind {
    /// Human name, as in the isolation checklist.
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::Config => "config file",
            PathKind::StateDir => "state dir",
            PathKind::Workspace => "workspace",
            PathKind::LogFile => "log file",
        }
    }
}

/// The files and folders of a gateway instance (not of a plain `process`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPaths {
    /// Effective config file (absolute).
    pub config: Sourced<PathBuf>,
    /// Whether the config file exists.
    pub config_exists: bool,
    /// Effective state dir (absolute).
    pub state_dir: Sourced<PathBuf>,
    /// Effective workspace (absolute).
    pub workspace: Sourced<PathBuf>,
    /// Effective log file (absolute; default ones carry `YYYY-MM-DD` for the date).
    pub log_file: Sourced<PathBuf>,
}

/// The effective setup of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Fleet profile name.
    pub profile: String,
    /// The gateway's paths; `None` for `flavor: process`.
    pub gateway: Option<GatewayPaths>,
    /// Base port: the gateway's, or a process's declared `port`.
    pub base_port: Option<Sourced<u16>>,
    /// Port whose `GET /readyz` decides readiness; `None` = ready once spawned.
    pub ready_port: Option<u16>,
    /// Every port and range of the instance, base port first.
    pub listeners: Vec<Listener>,
    /// CDP URLs pinned in the config (`browser.cdpUrl`, `browser.profiles.<n>.cdpUrl`), as written
    /// after substitution; must not be shared between instances.
    pub cdp_urls: Vec<Sourced<String>>,
    /// Working directory of the child.
    pub cwd: PathBuf,
    /// Full environment of the child (clawherd's, scrubbed, plus the instance's).
    pub env: BTreeMap<String, String>,
    /// Full command line: program, arguments.
    pub argv: Vec<String>,
}

impl Plan {
    /// The paths the proof keeps apart, with their kind (none for a plain process).
    pub fn paths(&self) -> Vec<(PathKind, &Sourced<PathBuf>)> {
        match &self.gateway {
            Some(g) => vec![
                (PathKind::Config, &g.config),
                (PathKind::StateDir, &g.state_dir),
                (PathKind::Workspace, &g.workspace),
                (PathKind::LogFile, &g.log_file),
            ],
            None => Vec::new(),
        }
    }

    /// The base port's value, if any.
    pub fn port(&self) -> Option<u16> {
        self.base_port.as_ref().map(|p| p.value)
    }
}

/// Variables removed from clawherd's environment before it becomes a gateway's (facts §4 spawn
/// recipe): systemd/launchd hints would make the gateway hand restarts to systemd instead of us,
/// `NODE_COMPILE_CACHE` puts a wrapper between us and the gateway. Prefixes end in `_`.
pub const SCRUBBED_ENV: &[&str] = &[
    "INVOCATION_ID",
    "SYSTEMD_EXEC_PID",
    "JOURNAL_STREAM",
    "NOTIFY_SOCKET",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
    "LISTEN_PID",
    "LISTEN_FDS",
    "LISTEN_FDNAMES",
    "MANAGERPID",
    "LAUNCH_JOB_LABEL",
    "LAUNCH_JOB_NAME",
    "XPC_SERVICE_NAME",
    "NODE_COMPILE_CACHE",
    "OPENCLAW_",
    "CLAWDBOT_",
    "MOLTBOT_",
    "CLAWHERD_",
];

fn scrubbed(name: &str) -> bool {
    SCRUBBED_ENV
        .iter()
        .any(|s| if s.ends_with('_') { name.starts_with(s) } else { name == *s })
}

/// Computes the plan of `profile`. `fleet_dir` is the fleet file's folder, `parent_env`
/// clawherd's environment, `marker` the value of `CLAWHERD_INSTANCE`.
///
/// Errors: the config cannot be read or parsed, a config value has the wrong type, or the
/// config holds a key the flavor refuses. Warnings: a fleet port that differs from the config's
/// `gateway.port`, a config the gateway would refuse to start with.
pub fn plan(
    profile: &Profile,
    fleet_dir: &Path,
    parent_env: &BTreeMap<String, String>,
    marker: &str,
) -> Result<(Plan, Vec<Diagnostic>), Vec<Diagnostic>> {
    if profile.flavor == Flavor::Process {
        return Ok((plan_process(profile, fleet_dir, parent_env, marker), Vec::new()));
    }
    let flavor = profile.flavor;
    let prefix = flavor.env_prefix();
    let oc_profile = profile.openclaw_profile.as_deref();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let err = |d: Diagnostic| d.profile(&profile.name);

    // Home as the gateway will see it: the fleet env's OPENCLAW_HOME, else HOME.
    let home_var = format!("{prefix}_HOME");
    let home = profile
        .env
        .get(&home_var)
        .or_else(|| profile.env.get("HOME"))
        .or_else(|| parent_env.get("HOME"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));

    let state_dir = match &profile.state_dir {
        Some(l) => from_fleet(l),
        None => {
            let dir = openclaw::default_state_dir(flavor, oc_profile, &home);
            let rule = match oc_profile {
                Some(n) => format!("default state dir of OpenClaw profile '{n}'"),
                None => "default state dir of OpenClaw's default profile".to_string(),
            };
            Sourced::new(dir, Source::Derived(rule))
        }
    };
    let config = match &profile.config {
        Some(l) => from_fleet(l),
        None => Sourced::new(
            openclaw::default_config_path(flavor, &state_dir.value),
            Source::Derived("default config file in the state dir".into()),
        ),
    };
    let cfg = match openclaw::read_config(&config.value) {
        Ok(c) => c,
        Err(e) => {
            let place = match e.position {
                Some((l, c)) => Place::at(&config.value, l, c),
                None => Place::file(&config.value),
            };
            let d = Diagnostic::error(place, format!("OpenClaw config {}", e.message))
                .note(format!("config of this profile comes from {}", config.source))
                .hint("fix the file (the gateway exits 78 on it), or point `config:` at another one");
            return Err(vec![err(d)]);
        }
    };
    let cfg_place = |key: &str| Source::Config {
        file: config.value.clone(),
        key: key.to_string(),
    };

    for (key, why) in openclaw::refused_keys(flavor) {
        if cfg.get(key).is_some() {
            let d = Diagnostic::error(
                Place::file(&config.value),
                format!("key not accepted by the `{}` flavor", flavor.as_str()),
            )
            .key(*key)
            .hint(*why);
            errors.push(err(d));
        }
    }

    // Base port.
    let config_port = match cfg.get("gateway.port") {
        None => None,
        Some(v) => match v.as_u64().filter(|p| (1..=65535).contains(p)) {
            Some(p) => Some(Sourced::new(p as u16, cfg_place("gateway.port"))),
            None => {
                let d = Diagnostic::error(Place::file(&config.value), format!("{v} is not a port (1-65535)"))
                    .key("gateway.port")
                    .hint("write an integer port such as 18789");
                errors.push(err(d));
                None
            }
        },
    };
    let base_port = match (&profile.port, &config_port) {
        (Some(l), Some(c)) if l.value != c.value => {
            warnings.push(err(Diagnostic::warning(l.place.clone(), format!("base port {} differs from gateway.port {} in {}", l.value, c.value, config.value.display()))
                .key(l.key.clone())
                .note("the gateway listens on the fleet's port (clawherd passes --port), but `openclaw` CLI commands read gateway.port and would probe the other one (facts §2)")
                .hint(format!("set gateway.port to {} in the config, or remove `port` from the fleet file", l.value))));
            from_fleet(l)
        }
        (Some(l), _) => from_fleet(l),
        (None, Some(c)) => c.clone(),
        (None, None) => match oc_profile {
            Some(n) => Sourced::new(
                openclaw::profile_port_hash(n),
                Source::Derived(format!("OpenClaw's port hash of profile '{n}' (FNV-1a)")),
            ),
            None => Sourced::new(openclaw::DEFAULT_BASE_PORT, Source::Derived("OpenClaw's default base port".into())),
        },
    };

    // Environment and command line (the spawn recipe of facts §4).
    let mut env = base_env(parent_env, profile, fleet_dir, marker);
    env.insert(format!("{prefix}_STATE_DIR"), state_dir.value.display().to_string());
    env.insert(format!("{prefix}_CONFIG_PATH"), config.value.display().to_string());
    env.insert(format!("{prefix}_GATEWAY_PORT"), base_port.value.to_string());
    if flavor == Flavor::OpenClaw {
        env.insert("OPENCLAW_SUPERVISOR_MODE".into(), "external".into());
    }
    if let Some(n) = oc_profile {
        env.insert(format!("{prefix}_PROFILE"), n.to_string());
    }
    if let Some(w) = &profile.workspace {
        env.insert(format!("{prefix}_WORKSPACE_DIR"), w.value.display().to_string());
    }
    env.insert("NO_COLOR".into(), "1".into());
    env.extend(profile.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut argv = profile.command.clone();
    argv.extend(["--port".to_string(), base_port.value.to_string()]);
    argv.extend(profile.args.iter().cloned());
    let cwd = profile.cwd.clone().unwrap_or_else(|| state_dir.value.clone());

    let resolve = |raw: &str| resolve_user_path(raw, &home, &cwd);
    let config_string = |key: &str, errors: &mut Vec<Diagnostic>| match cfg.get_str(key, &env) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(msg)) => {
            errors.push(err(Diagnostic::error(Place::file(&config.value), msg)
                .key(key)
                .hint("write a string")));
            None
        }
    };

    let workspace_cfg = config_string("agents.defaults.workspace", &mut errors);
    let workspace = match (workspace_cfg, &profile.workspace) {
        (Some(w), fleet) => {
            let v = resolve(&w);
            if let Some(l) = fleet.as_ref().filter(|l| l.value != v) {
                errors.push(err(Diagnostic::error(
                    l.place.clone(),
                    format!(
                        "workspace {} is overridden by agents.defaults.workspace {} in {}",
                        l.value.display(),
                        v.display(),
                        config.value.display()
                    ),
                )
                .key(l.key.clone())
                .hint("keep one of the two: OpenClaw's config wins over OPENCLAW_WORKSPACE_DIR")));
            }
            Sourced::new(v, cfg_place("agents.defaults.workspace"))
        }
        (None, Some(l)) => from_fleet(l),
        (None, None) => Sourced::new(
            state_dir.value.join("workspace"),
            Source::Derived("default workspace in the state dir".into()),
        ),
    };
    let log_file = match config_string("logging.file", &mut errors) {
        Some(f) => Sourced::new(resolve(&f), cfg_place("logging.file")),
        None => Sourced::new(
            openclaw::default_log_file(flavor, oc_profile),
            Source::Derived("OpenClaw's default log file (shared by every instance of the same OpenClaw profile)".into()),
        ),
    };

    // Derived ports (resolveBrowserConfig, dist/config-*.mjs; facts §2).
    let base = u32::from(base_port.value);
    let derived = |name: &str, lo: u32, hi: u32, rule: &str| Listener {
        name: name.to_string(),
        range: PortRange {
            lo: base + lo,
            hi: base + hi,
        },
        source: Source::Derived(rule.to_string()),
        base_offset: Some((lo, hi)),
        connects: false,
    };
    let pinned = |name: String, lo: u32, hi: u32, key: &str, connects: bool| Listener {
        name,
        range: PortRange { lo, hi },
        source: cfg_place(key),
        base_offset: None,
        connects,
    };
    let mut listeners = vec![Listener {
        name: "gateway (HTTP, WebSocket, canvas)".into(),
        range: PortRange::single(base),
        source: base_port.source.clone(),
        base_offset: Some((0, 0)),
        connects: false,
    }];
    // A config port key: an integer 1..=65535, else an error.
    let port_key = |key: &str, errors: &mut Vec<Diagnostic>| -> Option<u32> {
        let v = cfg.get(key)?;
        let port = v.as_u64().filter(|p| (1..=65535).contains(p)).map(|p| p as u32);
        if port.is_none() {
            errors.push(err(Diagnostic::error(
                Place::file(&config.value),
                format!("{v} is not a port (1-65535)"),
            )
            .key(key)
            .hint("write an integer port")));
        }
        port
    };
    // A CDP URL: remembered for the shared-URL rule; a loopback one also occupies its port.
    let mut cdp_urls = Vec::new();
    let mut cdp_url = |key: &str, label: String, errors: &mut Vec<Diagnostic>, listeners: &mut Vec<Listener>| -> bool {
        let Some(url) = config_string(key, errors) else { return false };
        match openclaw::url_host_port(&url) {
            Some((host, port)) if openclaw::is_loopback_host(&host) => {
                listeners.push(pinned(label, u32::from(port), u32::from(port), key, true))
            }
            Some(_) => {}
            None => errors.push(err(Diagnostic::error(
                Place::file(&config.value),
                format!("`{url}` is not an http(s):// or ws(s):// URL"),
            )
            .key(key)
            .hint("write e.g. http://127.0.0.1:9222"))),
        }
        cdp_urls.push(Sourced::new(url, cfg_place(key)));
        true
    };
    let browser_enabled = cfg.get("browser.enabled") != Some(&Value::Bool(false));
    match flavor {
        Flavor::OpenClaw if browser_enabled => {
            listeners.push(derived("browser control", 2, 2, "base+2, the browser control server"));
            listeners.push(derived("browser extension relay", 10, 10, "base+10, the extension relay"));
            if !cdp_url("browser.cdpUrl", "CDP (browser.cdpUrl)".into(), &mut errors, &mut listeners) {
                listeners.push(derived(
                    "managed Chrome CDP range",
                    11,
                    110,
                    "base+11..=base+110, i.e. controlPort+9..=controlPort+108",
                ));
            }
        }
        Flavor::OpenClaw | Flavor::Process => {}
        Flavor::Clawdbot => {
            let control = port_key("browser.controlPort", &mut errors);
            listeners.push(match control {
                Some(p) => pinned("browser control".into(), p, p, "browser.controlPort", false),
                None => derived("browser control", 2, 2, "base+2, browser control"),
            });
            listeners.push(match port_key("canvasHost.port", &mut errors) {
                Some(p) => pinned("canvas host".into(), p, p, "canvasHost.port", false),
                None => derived("canvas host", 4, 4, "base+4, canvasHost.port default"),
            });
            if !cdp_url("browser.cdpUrl", "CDP (browser.cdpUrl)".into(), &mut errors, &mut listeners) {
                listeners.push(match control {
                    Some(c) => pinned("managed Chrome CDP range".into(), c + 9, c + 108, "browser.controlPort", false),
                    None => derived(
                        "managed Chrome CDP range",
                        11,
                        110,
                        "controlPort+9..=controlPort+108 with controlPort = base+2",
                    ),
                });
            }
        }
    }
    if let Some(Value::Object(profiles)) = cfg.get("browser.profiles") {
        for name in profiles.keys() {
            let key = format!("browser.profiles.{name}.cdpPort");
            if let Some(p) = port_key(&key, &mut errors) {
                listeners.push(pinned(format!("CDP of browser profile '{name}'"), p, p, &key, false));
            }
            let key = format!("browser.profiles.{name}.cdpUrl");
            cdp_url(
                &key,
                format!("CDP of browser profile '{name}' (cdpUrl)"),
                &mut errors,
                &mut listeners,
            );
        }
    }

    // What the gateway itself would refuse at start (facts §3): warnings, the proof is still about isolation.
    let allow_unconfigured = profile.args.iter().chain(&profile.command).any(|a| a == "--allow-unconfigured");
    if flavor == Flavor::OpenClaw && !allow_unconfigured {
        if cfg.value.is_none() {
            warnings.push(err(Diagnostic::warning(
                Place::file(&config.value),
                "the config file does not exist; OpenClaw's defaults are assumed",
            )
            .note("`openclaw gateway run` exits 78 without a config unless given --allow-unconfigured")
            .hint(
                "create it with at least {gateway: {mode: \"local\"}}, or add `--allow-unconfigured` to args",
            )));
        } else if cfg.get("gateway.mode").and_then(Value::as_str) != Some("local") {
            warnings.push(err(Diagnostic::warning(
                Place::file(&config.value),
                "gateway.mode is not \"local\"; the gateway exits 78 on start",
            )
            .key("gateway.mode")
            .hint("set gateway.mode: \"local\"")));
        }
        if cfg.value.is_some() && cfg.get("gateway.bind").is_none() && in_container() {
            warnings.push(err(Diagnostic::warning(
                Place::file(&config.value),
                "gateway.bind is unset and this host looks like a container, so OpenClaw binds 0.0.0.0 and exits 78 without auth",
            )
            .key("gateway.bind")
            .hint("set gateway.bind: \"loopback\"")));
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let config_exists = cfg.value.is_some();
    let gateway = GatewayPaths {
        config,
        config_exists,
        state_dir,
        workspace,
        log_file,
    };
    let ready_port = Some(base_port.value);
    let plan = Plan {
        profile: profile.name.clone(),
        gateway: Some(gateway),
        base_port: Some(base_port),
        ready_port,
        listeners,
        cdp_urls,
        cwd,
        env,
        argv,
    };
    Ok((plan, warnings))
}

/// The environment every child gets: clawherd's, scrubbed, plus the three markers.
fn base_env(parent_env: &BTreeMap<String, String>, profile: &Profile, fleet_dir: &Path, marker: &str) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = parent_env
        .iter()
        .filter(|(k, _)| !scrubbed(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.insert("CLAWHERD_INSTANCE".into(), marker.to_string());
    env.insert("CLAWHERD_PROFILE".into(), profile.name.clone());
    env.insert("CLAWHERD_FLEET_DIR".into(), fleet_dir.display().to_string());
    env
}

/// The plan of a plain process (`flavor: process`): its command as written, its declared ports
/// (pinned, proved like any other), no OpenClaw paths, ready once spawned.
fn plan_process(profile: &Profile, fleet_dir: &Path, parent_env: &BTreeMap<String, String>, marker: &str) -> Plan {
    let mut env = base_env(parent_env, profile, fleet_dir, marker);
    env.extend(profile.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut argv = profile.command.clone();
    argv.extend(profile.args.iter().cloned());
    let listeners = profile
        .port
        .iter()
        .chain(&profile.ports)
        .map(|l| Listener {
            name: "declared port".into(),
            range: PortRange::single(u32::from(l.value)),
            source: Source::Fleet {
                place: l.place.clone(),
                key: l.key.clone(),
            },
            base_offset: None,
            connects: false,
        })
        .collect();
    Plan {
        profile: profile.name.clone(),
        gateway: None,
        base_port: profile.port.as_ref().map(from_fleet),
        ready_port: None,
        listeners,
        cdp_urls: Vec::new(),
        cwd: profile.cwd.clone().unwrap_or_else(|| fleet_dir.to_path_buf()),
        env,
        argv,
    }
}

/// OpenClaw's container check (`dist/container-environment-*.mjs`), the file-marker part.
fn in_container() -> bool {
    Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists()
}

/// `resolveUserPath`: `~` → `home`, relative → against `cwd`, then lexically normalized (`..`
/// and `.` removed), as Node's `path.resolve` does.
pub fn resolve_user_path(raw: &str, home: &Path, cwd: &Path) -> PathBuf {
    let raw = raw.trim();
    let p = if raw == "~" {
        home.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home.join(rest)
    } else {
        cwd.join(raw)
    };
    normalize(&p)
}

/// Removes `.` and `..` components without touching the file system.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}
