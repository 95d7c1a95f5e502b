//! The plan of one instance: its effective paths, base port, derived ports, environment and
//! command line, each value with the place it came from.
//!
//! Precedence follows OpenClaw (`resolveStateDir`, `resolveConfigPath` and `resolveGatewayPort` in
//! its `dist/paths-*.mjs`): base port = fleet `port` (passed as `--port`) > config `gateway.port` >
//! named-profile hash > 18789; state dir = fleet `state_dir` > `~/.openclaw[-NAME]`; config = fleet
//! `config` > `<state>/openclaw.json`; workspace = config `agents.defaults.workspace` > fleet
//! `workspace` (as `OPENCLAW_WORKSPACE_DIR`) > `<state>/workspace`; log file = config
//! `logging.file` > `/tmp/openclaw/openclaw[-NAME]-DATE.log`. Relative paths inside a config
//! resolve against the gateway's cwd, `~` against `OPENCLAW_HOME` or `HOME`, as Node's
//! `path.resolve` does in `resolveUserPath` (`dist/home-dir-*.mjs`).
//!
//! [`plan`] is a pipeline of small steps, one function each: identity paths (state dir, config),
//! the base port, the environment and command line, the workspace and log file, the listeners
//! (one table of data per flavor, [`port_layout`]) and the warnings about what the gateway would
//! refuse at start.

use super::diagnostic::{Diagnostic, Place};
use super::env::Env;
use super::openclaw::{self, ConfigFile};
use super::{Flavor, Profile};
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
        /// Its key path (`profiles.main.port`).
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
    /// The place to point a diagnostic at: the fleet value, the config file, or `profile_place`
    /// for a derived value.
    pub fn place_or(&self, profile_place: &Place) -> Place {
        match self {
            Source::Fleet { place, .. } => place.clone(),
            Source::Config { file, .. } => Place::file(file),
            Source::Derived(_) => profile_place.clone(),
        }
    }

    /// The place in the fleet file, for a value written there; `None` otherwise.
    pub fn fleet_place(&self) -> Option<&Place> {
        match self {
            Source::Fleet { place, .. } => Some(place),
            Source::Config { .. } | Source::Derived(_) => None,
        }
    }

    /// The key path (fleet or config key); `None` for a derived value.
    pub fn key(&self) -> Option<&str> {
        match self {
            Source::Fleet { key, .. } | Source::Config { key, .. } => Some(key),
            Source::Derived(_) => None,
        }
    }
}

/// A value and its origin: written in the fleet file (with its place and key), read from an
/// OpenClaw config (file and key), or derived by an OpenClaw rule. The one "value + origin" type
/// of the fleet pipeline, from the validated [`Profile`] to the proof's diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The effective value (expanded, paths absolute).
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

impl<T> Sourced<T> {
    /// A value with an origin.
    pub fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }

    /// A value written in the fleet file at `place` under the key path `key`.
    pub fn fleet(value: T, place: Place, key: impl Into<String>) -> Self {
        Sourced::new(value, Source::Fleet { place, key: key.into() })
    }

    /// A value derived by the OpenClaw rule described by `rule`.
    pub fn derived(value: T, rule: impl Into<String>) -> Self {
        Sourced::new(value, Source::Derived(rule.into()))
    }
}

/// An inclusive port range; bounds are `u32` so a derived port past 65535 can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// When a row of a port layout applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// Unless the config says `browser.enabled: false`.
    BrowserEnabled,
}

/// A config key that pins a row's ports instead of the base port: the key's port plus `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// Dotted config key holding a port (1-65535), or a URL when `url` is set.
    pub key: &'static str,
    /// Inclusive offsets from that port.
    pub offset: (u32, u32),
    /// `Some(env)` when the key holds an `http://host:port` URL whose port is the pin, and the
    /// environment variable `env` of the gateway pins it too when the key is unset
    /// (clawdbot's `browser.controlUrl` / `CLAWDBOT_BROWSER_CONTROL_URL`).
    pub url: Option<&'static str>,
}

/// A CDP URL key that, when set, replaces a row: the instance connects to the URL's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlKey {
    /// Dotted config key holding the URL.
    pub key: &'static str,
    /// Listener name used for the URL's endpoint.
    pub name: &'static str,
}

/// One listener of a flavor's port layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRow {
    /// Listener name, as `clawherd ports` shows it.
    pub name: &'static str,
    /// Inclusive offsets from the base port.
    pub offset: (u32, u32),
    /// When the listener exists.
    pub when: When,
    /// A config key that pins the ports instead.
    pub pin: Option<Pin>,
    /// A CDP URL key that replaces the row when set.
    pub url: Option<UrlKey>,
    /// The rule shown as the source; `None` for the base port itself (its source is the base port's).
    pub rule: Option<&'static str>,
    /// Where in the OpenClaw package the rule lives.
    pub doc: &'static str,
}

/// The gateway's own listener: the base port.
const GATEWAY_ROW: PortRow = PortRow {
    name: "gateway (HTTP, WebSocket, canvas)",
    offset: (0, 0),
    when: When::Always,
    pin: None,
    url: None,
    rule: None,
    doc: "resolveGatewayPort, dist/paths-*.mjs",
};

/// `browser.cdpUrl`: when set, the default browser profile uses its endpoint instead of the range.
const BROWSER_CDP_URL: UrlKey = UrlKey {
    key: "browser.cdpUrl",
    name: "CDP (browser.cdpUrl)",
};

/// Today's OpenClaw: base, base+2, base+10, base+11..=base+110 (the last three only with the
/// browser enabled; `browser.cdpUrl` replaces the CDP range).
pub const OPENCLAW_PORTS: &[PortRow] = &[
    GATEWAY_ROW,
    PortRow {
        name: "browser control",
        offset: (2, 2),
        when: When::BrowserEnabled,
        pin: None,
        url: None,
        rule: Some("base+2, the browser control server"),
        doc: "resolveBrowserConfig, dist/config-*.mjs",
    },
    PortRow {
        name: "browser extension relay",
        offset: (10, 10),
        when: When::BrowserEnabled,
        pin: None,
        url: None,
        rule: Some("base+10, the extension relay"),
        doc: "dist/relay-server-*.mjs",
    },
    PortRow {
        name: "managed Chrome CDP range",
        offset: (11, 110),
        when: When::BrowserEnabled,
        pin: None,
        url: Some(BROWSER_CDP_URL),
        rule: Some("base+11..=base+110, i.e. controlPort+9..=controlPort+108"),
        doc: "resolveBrowserConfig, dist/config-*.mjs",
    },
];

/// clawdbot's browser control override: `browser.controlUrl` in the config, else
/// `CLAWDBOT_BROWSER_CONTROL_URL`, else gateway port + 2 (`resolveBrowserConfig`,
/// `dist/browser/config.js`). It moves the control server, the extension relay (control+1) and
/// the CDP range (control+9..=control+108) together.
const CONTROL_URL: &str = "browser.controlUrl";

/// Pins a clawdbot row at `offset` from the control URL's port.
const fn control_url_pin(offset: (u32, u32)) -> Option<Pin> {
    Some(Pin {
        key: CONTROL_URL,
        offset,
        url: Some("CLAWDBOT_BROWSER_CONTROL_URL"),
    })
}

/// The Clawdbot generation as clawdbot@2026.1.24 binds it: base (HTTP, WebSocket and the canvas at
/// `/__clawdbot__/canvas/`), browser control base+2, Chrome-extension relay base+3 (started at
/// boot, `dist/browser/server.js`), CDP of managed browsers control+9..=control+108
/// (`dist/config/port-defaults.js`, `dist/browser/profiles-service.js`; bound only when a
/// browser starts). All but the base port disappear with `browser.enabled: false`. Nothing on
/// base+4: see [`NOT_PLANNED`].
pub const CLAWDBOT_PORTS: &[PortRow] = &[
    GATEWAY_ROW,
    PortRow {
        name: "browser control",
        offset: (2, 2),
        when: When::BrowserEnabled,
        pin: control_url_pin((0, 0)),
        url: None,
        rule: Some("base+2, browser control"),
        doc: "resolveBrowserConfig, clawdbot's dist/browser/config.js",
    },
    PortRow {
        name: "browser extension relay",
        offset: (3, 3),
        when: When::BrowserEnabled,
        pin: control_url_pin((1, 1)),
        url: None,
        rule: Some("base+3 (control+1), the Chrome-extension relay, bound at boot"),
        doc: "clawdbot's dist/browser/config.js, dist/browser/server.js",
    },
    PortRow {
        name: "managed Chrome CDP range",
        offset: (11, 110),
        when: When::BrowserEnabled,
        pin: control_url_pin((9, 108)),
        url: Some(BROWSER_CDP_URL),
        rule: Some("controlPort+9..=controlPort+108 with controlPort = base+2 (only while a browser runs)"),
        doc: "clawdbot's dist/config/port-defaults.js, dist/browser/profiles-service.js",
    },
];

/// A port the documentation of a flavor claims and the program does not bind, so the plan leaves
/// it out; `clawherd ports` prints it with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPlanned {
    /// Listener name as the docs give it.
    pub name: &'static str,
    /// The docs' rule, as an offset from the base port.
    pub offset: u32,
    /// What the docs say.
    pub claim: &'static str,
    /// Why the plan leaves it out, with the upstream source.
    pub why: &'static str,
}

/// The ports a flavor's docs claim that its program does not bind.
pub fn not_planned(flavor: Flavor) -> &'static [NotPlanned] {
    match flavor {
        Flavor::Clawdbot => NOT_PLANNED,
        Flavor::OpenClaw | Flavor::Process => &[],
    }
}

/// clawdbot's docs (the Moltbot "multiple gateways" page) give a canvas host on
/// `canvasHost.port` = base+4; clawdbot@2026.1.24 serves the canvas on the base port
/// (`dist/gateway/server-runtime-state.js`) and reads `canvasHost.port` only in code nothing calls
/// (`dist/gateway/server-bridge-runtime.js`).
pub const NOT_PLANNED: &[NotPlanned] = &[NotPlanned {
    name: "canvas host",
    offset: 4,
    claim: "the docs say canvasHost.port = base+4",
    why: "clawdbot 2026.1.24 serves the canvas on the base port at /__clawdbot__/canvas/ and never binds canvasHost.port (read only by dead code, dist/gateway/server-bridge-runtime.js)",
}];

/// The port layout of a gateway flavor; empty for `flavor: process` (its ports are declared).
pub fn port_layout(flavor: Flavor) -> &'static [PortRow] {
    match flavor {
        Flavor::OpenClaw => OPENCLAW_PORTS,
        Flavor::Clawdbot => CLAWDBOT_PORTS,
        Flavor::Process => &[],
    }
}

/// The kinds of per-instance paths the proof keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathKind {
    /// The OpenClaw config file.
    Config,
    /// The state dir.
    StateDir,
    /// The agent workspace.
    Workspace,
    /// The gateway's file log.
    LogFile,
    /// clawdbot's canvas root, served on the base port.
    CanvasRoot,
}

impl PathKind {
    /// Human name, as in the isolation checklist.
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::Config => "config file",
            PathKind::StateDir => "state dir",
            PathKind::Workspace => "workspace",
            PathKind::LogFile => "log file",
            PathKind::CanvasRoot => "canvas root",
        }
    }
}

/// The files and folders of a gateway instance (not of a plain `process`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPaths {
    /// The gateway generation these paths follow.
    pub flavor: Flavor,
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
    /// clawdbot's canvas root (absolute); `None` for other flavors or with the canvas host off.
    pub canvas_root: Option<Sourced<PathBuf>>,
}

/// The effective setup of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Fleet profile name.
    pub profile: String,
    /// The gateway's paths; `None` for `flavor: process`.
    pub gateway: Option<GatewayPaths>,
    /// Base port: the gateway's, or a process's declared `port`. Stored only here; the
    /// listeners, `--port` and `OPENCLAW_GATEWAY_PORT` are computed from it.
    pub base_port: Option<Sourced<u16>>,
    /// Every port and range of the instance, base port first.
    pub listeners: Vec<Listener>,
    /// CDP URLs pinned in the config (`browser.cdpUrl`, `browser.profiles.<n>.cdpUrl`), as written
    /// after substitution; must not be shared between instances.
    pub cdp_urls: Vec<Sourced<String>>,
    /// Working directory of the child.
    pub cwd: PathBuf,
    /// Full environment of the child (clawherd's, scrubbed, plus the instance's); the
    /// inherited part is shared between plans ([`Env`]).
    pub env: Env,
    /// Full command line: program, arguments.
    pub argv: Vec<String>,
    /// The uid, gid and groups the child switches to before exec (the profile's `user:`);
    /// `None` keeps clawherd's.
    pub credentials: Option<crate::process::spawn::Credentials>,
}

impl Plan {
    /// The paths the proof keeps apart, with their kind (none for a plain process).
    pub fn paths(&self) -> Vec<(PathKind, &Sourced<PathBuf>)> {
        match &self.gateway {
            Some(g) => {
                let mut v = vec![
                    (PathKind::Config, &g.config),
                    (PathKind::StateDir, &g.state_dir),
                    (PathKind::Workspace, &g.workspace),
                    (PathKind::LogFile, &g.log_file),
                ];
                v.extend(g.canvas_root.as_ref().map(|c| (PathKind::CanvasRoot, c)));
                v
            }
            None => Vec::new(),
        }
    }

    /// The base port's value, if any.
    pub fn port(&self) -> Option<u16> {
        self.base_port.as_ref().map(|p| p.value)
    }

    /// Port whose `GET /readyz` decides readiness: a gateway's base port; `None` for a plain
    /// process (ready once spawned).
    pub fn ready_port(&self) -> Option<u16> {
        self.gateway.as_ref().and(self.port())
    }
}

/// Variables removed from clawherd's environment before it becomes a gateway's: systemd/launchd
/// hints would make the gateway hand restarts to systemd instead of us
/// (`resolveGatewayRestartDecision`, `dist/supervisor-markers-*.mjs`), `NODE_COMPILE_CACHE` puts a
/// wrapper between us and the gateway (`openclaw.mjs`). Prefixes end in `_`.
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
    let home = gateway_home(profile, parent_env);
    let state_dir = state_dir_of(profile, &home);
    let config = config_of(profile, &state_dir.value);
    let cfg = read_config(profile, &config)?;
    let mut cx = Cx {
        profile,
        config: &config.value,
        cfg: &cfg,
        errors: refused_keys(profile, &config.value, &cfg),
        warnings: Vec::new(),
    };
    let base_port = cx.base_port();
    let env = gateway_env(
        profile,
        parent_env,
        fleet_dir,
        marker,
        &state_dir.value,
        &config.value,
        base_port.value,
    );
    let argv = gateway_argv(profile, base_port.value);
    let cwd = profile.cwd.clone().unwrap_or_else(|| state_dir.value.clone());
    let resolve = |raw: &str| resolve_user_path(raw, &home, &cwd);
    let workspace = cx.workspace(&env, &state_dir.value, &resolve);
    let log_file = cx.log_file(&env, &resolve);
    let canvas_root = cx.canvas_root(&env, &resolve);
    let (listeners, cdp_urls) = cx.listeners(&env, &base_port);
    cx.start_warnings();
    let Cx { errors, warnings, .. } = cx;
    if !errors.is_empty() {
        return Err(errors);
    }
    let gateway = GatewayPaths {
        flavor: profile.flavor,
        config_exists: cfg.value.is_some(),
        config,
        state_dir,
        workspace,
        log_file,
        canvas_root,
    };
    let plan = Plan {
        profile: profile.name.clone(),
        gateway: Some(gateway),
        base_port: Some(base_port),
        listeners,
        cdp_urls,
        cwd,
        env,
        argv,
        credentials: profile.run_as.as_ref().map(|r| r.credentials.clone()),
    };
    Ok((plan, warnings))
}

/// Home as the gateway will see it: the profile env's `OPENCLAW_HOME`, else its `HOME`, else
/// the home of its `user:`, else clawherd's `HOME`, else `/`.
fn gateway_home(profile: &Profile, parent_env: &BTreeMap<String, String>) -> PathBuf {
    let home_var = format!("{}_HOME", profile.flavor.env_prefix());
    let own = profile.env.get(&home_var).or_else(|| profile.env.get("HOME")).map(PathBuf::from);
    own.or_else(|| profile.run_as.as_ref().map(|r| r.home.clone()))
        .or_else(|| parent_env.get("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The state dir: the fleet's `state_dir`, else OpenClaw's default for the OpenClaw profile.
fn state_dir_of(profile: &Profile, home: &Path) -> Sourced<PathBuf> {
    if let Some(s) = &profile.state_dir {
        return s.clone();
    }
    let oc_profile = profile.openclaw_profile.as_deref();
    let dir = openclaw::default_state_dir(profile.flavor, oc_profile, home);
    let rule = match oc_profile {
        Some(n) => format!("default state dir of OpenClaw profile '{n}'"),
        None => "default state dir of OpenClaw's default profile".to_string(),
    };
    Sourced::derived(dir, rule)
}

/// The config file: the fleet's `config`, else the default one in the state dir.
fn config_of(profile: &Profile, state_dir: &Path) -> Sourced<PathBuf> {
    match &profile.config {
        Some(c) => c.clone(),
        None => Sourced::derived(
            openclaw::default_config_path(profile.flavor, state_dir),
            "default config file in the state dir",
        ),
    }
}

/// Reads the config; an unreadable or unparsable one is the profile's only error.
fn read_config(profile: &Profile, config: &Sourced<PathBuf>) -> Result<ConfigFile, Vec<Diagnostic>> {
    openclaw::read_config(&config.value).map_err(|e| {
        let place = match e.position {
            Some((l, c)) => Place::at(&config.value, l, c),
            None => Place::file(&config.value),
        };
        let d = Diagnostic::error(place, format!("OpenClaw config {}", e.message))
            .profile(&profile.name)
            .note(format!("config of this profile comes from {}", config.source))
            .hint("fix the file (the gateway exits 78 on it), or point `config:` at another one");
        vec![d]
    })
}

/// One error per key of the config that the profile's flavor refuses.
fn refused_keys(profile: &Profile, config: &Path, cfg: &ConfigFile) -> Vec<Diagnostic> {
    let flavor = profile.flavor;
    openclaw::refused_keys(flavor)
        .iter()
        .filter(|(key, _)| cfg.get(key).is_some())
        .map(|(key, why)| {
            let place = match openclaw::locate_key(config, key) {
                Some((line, col)) => Place::at(config, line, col),
                None => Place::file(config),
            };
            Diagnostic::error(place, format!("key not accepted by the `{}` flavor", flavor.as_str()))
                .profile(&profile.name)
                .key(*key)
                .hint(*why)
        })
        .collect()
}

/// The environment of a gateway: [`base_env`], the spawn recipe's `OPENCLAW_*` variables
/// (`OPENCLAW_SUPERVISOR_MODE=external` for today's OpenClaw), `NO_COLOR`, then the profile's own.
fn gateway_env(
    profile: &Profile,
    parent_env: &BTreeMap<String, String>,
    fleet_dir: &Path,
    marker: &str,
    state_dir: &Path,
    config: &Path,
    base_port: u16,
) -> Env {
    let prefix = profile.flavor.env_prefix();
    let mut env = base_env(parent_env, profile, fleet_dir, marker);
    env.insert(format!("{prefix}_STATE_DIR"), state_dir.display().to_string());
    env.insert(format!("{prefix}_CONFIG_PATH"), config.display().to_string());
    env.insert(format!("{prefix}_GATEWAY_PORT"), base_port.to_string());
    if profile.flavor == Flavor::OpenClaw {
        env.insert("OPENCLAW_SUPERVISOR_MODE".into(), "external".into());
    }
    if let Some(n) = &profile.openclaw_profile {
        env.insert(format!("{prefix}_PROFILE"), n.clone());
    }
    match profile.flavor {
        // clawdbot never reads CLAWDBOT_WORKSPACE_DIR; a fleet `workspace` is refused for it.
        Flavor::OpenClaw | Flavor::Process => {
            if let Some(w) = &profile.workspace {
                env.insert(format!("{prefix}_WORKSPACE_DIR"), w.value.display().to_string());
            }
        }
        // Without it the `clawdbot` entry re-spawns itself to add a Node flag and stays as a
        // wrapper (about 54 MiB) between clawherd and the gateway; a SIGKILL to the wrapper then
        // orphans a listening gateway (clawdbot's dist/entry.js, dist/process/child-process-bridge.js).
        Flavor::Clawdbot => {
            env.insert("CLAWDBOT_NO_RESPAWN".into(), "1".into());
        }
    }
    env.insert("NO_COLOR".into(), "1".into());
    env.extend(profile.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// The gateway's command line: the command, `--port BASE`, then the profile's arguments.
fn gateway_argv(profile: &Profile, base_port: u16) -> Vec<String> {
    let mut argv = profile.command.clone();
    argv.extend(["--port".to_string(), base_port.to_string()]);
    argv.extend(profile.args.iter().cloned());
    argv
}

/// What the planning steps of one gateway profile share: the profile, its config, and the
/// errors and warnings found so far.
struct Cx<'a> {
    profile: &'a Profile,
    config: &'a Path,
    cfg: &'a ConfigFile,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn source(&self, key: &str) -> Source {
        Source::Config {
            file: self.config.to_path_buf(),
            key: key.to_string(),
        }
    }

    fn error(&mut self, key: &str, message: String, hint: &str) {
        let d = Diagnostic::error(Place::file(self.config), message)
            .profile(&self.profile.name)
            .key(key)
            .hint(hint);
        self.errors.push(d);
    }

    fn warn(&mut self, d: Diagnostic) {
        self.warnings.push(d.profile(&self.profile.name));
    }

    /// A config port key: an integer 1..=65535, else an error (`hint` says what to write).
    fn port_key(&mut self, key: &str, hint: &str) -> Option<u32> {
        let v = self.cfg.get(key)?;
        let port = v.as_u64().filter(|p| (1..=65535).contains(p)).map(|p| p as u32);
        if port.is_none() {
            // `NaN` and `±Infinity` parse to null: say what is written, and where.
            match openclaw::written_value(self.config, key) {
                Some((line, column, written)) => {
                    let d = Diagnostic::error(Place::at(self.config, line, column), format!("{written} is not a port (1-65535)"))
                        .profile(&self.profile.name)
                        .key(key)
                        .hint(hint);
                    self.errors.push(d);
                }
                None => self.error(key, format!("{v} is not a port (1-65535)"), hint),
            }
        }
        port
    }

    /// A config string with OpenClaw's `${VAR}` substitution from `env`; a non-string is an error.
    fn string(&mut self, key: &str, env: &Env) -> Option<String> {
        match self.cfg.get_str(key, env)? {
            Ok(s) => Some(s),
            Err(msg) => {
                self.error(key, msg, "write a string");
                None
            }
        }
    }

    /// The base port: the fleet's `port` (warning when `gateway.port` differs), else
    /// `gateway.port`, else the named profile's hash, else 18789.
    fn base_port(&mut self) -> Sourced<u16> {
        let config_port = self
            .port_key("gateway.port", "write an integer port such as 18789")
            .map(|p| Sourced::new(p as u16, self.source("gateway.port")));
        let fleet = self.profile.port.clone();
        match (fleet, config_port) {
            (Some(f), Some(c)) if f.value != c.value => {
                let place = f.source.place_or(&self.profile.place);
                let d = Diagnostic::warning(place, format!("base port {} differs from gateway.port {} in {}", f.value, c.value, self.config.display()))
                    .key(f.source.key().unwrap_or("port"))
                    .note("the gateway listens on the fleet's port (clawherd passes --port), but `openclaw` CLI commands read gateway.port and would probe the other one (resolveGatewayPort, dist/paths-*.mjs)")
                    .hint(format!("set gateway.port to {} in the config, or remove `port` from the fleet file", f.value));
                self.warn(d);
                f
            }
            (Some(f), _) => f,
            (None, Some(c)) => c,
            (None, None) => match &self.profile.openclaw_profile {
                Some(n) if self.profile.flavor == Flavor::OpenClaw => Sourced::derived(
                    openclaw::profile_port_hash(n),
                    format!("OpenClaw's port hash of profile '{n}' (FNV-1a)"),
                ),
                // clawdbot has no per-profile hash: 18789 for every profile (`resolveGatewayPort`,
                // clawdbot's dist/config/paths.js).
                _ => Sourced::derived(openclaw::DEFAULT_BASE_PORT, "OpenClaw's default base port"),
            },
        }
    }

    /// The workspace: `agents.defaults.workspace` (an error when the fleet's `workspace`
    /// differs), else the fleet's `workspace`, else `<state>/workspace`.
    fn workspace(&mut self, env: &Env, state_dir: &Path, resolve: &dyn Fn(&str) -> PathBuf) -> Sourced<PathBuf> {
        let fleet = self.profile.workspace.clone();
        let configured = self.string("agents.defaults.workspace", env);
        if self.profile.flavor == Flavor::Clawdbot {
            return self.clawdbot_workspace(fleet, configured, resolve);
        }
        let Some(w) = configured else {
            return fleet.unwrap_or_else(|| Sourced::derived(state_dir.join("workspace"), "default workspace in the state dir"));
        };
        let v = resolve(&w);
        if let Some(f) = fleet.filter(|f| f.value != v) {
            let message = format!(
                "workspace {} is overridden by agents.defaults.workspace {} in {}",
                f.value.display(),
                v.display(),
                self.config.display()
            );
            let d = Diagnostic::error(f.source.place_or(&self.profile.place), message)
                .profile(&self.profile.name)
                .key(f.source.key().unwrap_or("workspace"))
                .hint("keep one of the two: OpenClaw's config wins over OPENCLAW_WORKSPACE_DIR");
            self.errors.push(d);
        }
        Sourced::new(v, self.source("agents.defaults.workspace"))
    }

    /// clawdbot's workspace: `agents.defaults.workspace`, else `~/clawd`, or `~/clawd-<profile>` for
    /// a named profile (`resolveAgentWorkspaceDir`, clawdbot's dist/agents/agent-scope.js and
    /// dist/agents/workspace.js), so every default-profile instance shares `~/clawd`. A fleet
    /// `workspace` is an error unless it names the same folder: clawdbot reads no workspace variable.
    fn clawdbot_workspace(
        &mut self,
        fleet: Option<Sourced<PathBuf>>,
        configured: Option<String>,
        resolve: &dyn Fn(&str) -> PathBuf,
    ) -> Sourced<PathBuf> {
        let planned = match configured {
            Some(w) => Sourced::new(resolve(&w), self.source("agents.defaults.workspace")),
            None => {
                let (dir, rule) = match self.profile.openclaw_profile.as_deref() {
                    Some(n) if !n.eq_ignore_ascii_case("default") => {
                        (format!("~/clawd-{n}"), format!("clawdbot's default workspace of profile '{n}'"))
                    }
                    _ => (
                        "~/clawd".to_string(),
                        "clawdbot's default workspace (shared by every default-profile instance)".to_string(),
                    ),
                };
                Sourced::derived(resolve(&dir), rule)
            }
        };
        if let Some(f) = fleet.filter(|f| f.value != planned.value) {
            let message = format!(
                "`workspace` {} has no effect on a clawdbot gateway, which uses {} ({})",
                f.value.display(),
                planned.value.display(),
                planned.source
            );
            let d = Diagnostic::error(f.source.place_or(&self.profile.place), message)
                .profile(&self.profile.name)
                .key(f.source.key().unwrap_or("workspace"))
                .hint(format!(
                    "clawdbot reads its workspace only from its config: set agents.defaults.workspace: \"{}\" in {} and remove `workspace:`",
                    f.value.display(),
                    self.config.display()
                ));
            self.errors.push(d);
        }
        planned
    }

    /// clawdbot's canvas root: `canvasHost.root`, else `~/clawd/canvas` for every profile, even
    /// with a workspace configured (`createCanvasHostHandler`, clawdbot's dist/canvas-host/server.js);
    /// none with `canvasHost.enabled: false` or `CLAWDBOT_SKIP_CANVAS_HOST=1`
    /// (dist/gateway/server-runtime-config.js), or for another flavor.
    fn canvas_root(&mut self, env: &Env, resolve: &dyn Fn(&str) -> PathBuf) -> Option<Sourced<PathBuf>> {
        let off = self.cfg.get("canvasHost.enabled") == Some(&Value::Bool(false))
            || env.get("CLAWDBOT_SKIP_CANVAS_HOST").map(String::as_str) == Some("1");
        if self.profile.flavor != Flavor::Clawdbot || off {
            return None;
        }
        Some(match self.string("canvasHost.root", env) {
            Some(r) => Sourced::new(resolve(&r), self.source("canvasHost.root")),
            None => Sourced::derived(
                resolve("~/clawd/canvas"),
                "clawdbot's default canvas root (shared by every instance with the same HOME)",
            ),
        })
    }

    /// The log file: `logging.file`, else OpenClaw's default rolling file of the OpenClaw profile.
    fn log_file(&mut self, env: &Env, resolve: &dyn Fn(&str) -> PathBuf) -> Sourced<PathBuf> {
        match self.string("logging.file", env) {
            Some(f) => Sourced::new(resolve(&f), self.source("logging.file")),
            None if self.profile.flavor == Flavor::Clawdbot => Sourced::derived(
                openclaw::default_log_file(Flavor::Clawdbot, None),
                "clawdbot's default log file (no profile segment: shared by every clawdbot instance)",
            ),
            None => Sourced::derived(
                openclaw::default_log_file(self.profile.flavor, self.profile.openclaw_profile.as_deref()),
                "OpenClaw's default log file (shared by every instance of the same OpenClaw profile)",
            ),
        }
    }

    /// Every listener: the flavor's [`port_layout`] rows that apply, then each browser profile's
    /// `cdpPort`/`cdpUrl`; and the CDP URLs found on the way.
    fn listeners(&mut self, env: &Env, base: &Sourced<u16>) -> (Vec<Listener>, Vec<Sourced<String>>) {
        let mut out = Ports::default();
        let browser_enabled = self.cfg.get("browser.enabled") != Some(&Value::Bool(false));
        // A pin key may pin several rows (Clawdbot's controlPort); it is read, and refused, once.
        let mut pins: BTreeMap<&str, Option<(u32, Source)>> = BTreeMap::new();
        for row in port_layout(self.profile.flavor) {
            if row.when == When::BrowserEnabled && !browser_enabled {
                continue;
            }
            if let Some(url) = row.url
                && self.cdp_url(url.key, url.name.to_string(), env, &mut out)
            {
                continue;
            }
            let pinned = row.pin.and_then(|pin| {
                let port = pins.entry(pin.key).or_insert_with(|| match pin.url {
                    Some(var) => self.url_port(pin.key, var, env),
                    None => self.port_key(pin.key, "write an integer port").map(|p| (p, self.source(pin.key))),
                });
                port.clone().map(|p| (pin, p))
            });
            out.listeners.push(match pinned {
                Some((pin, (p, source))) => Listener {
                    name: row.name.to_string(),
                    range: PortRange {
                        lo: p + pin.offset.0,
                        hi: p + pin.offset.1,
                    },
                    source,
                    base_offset: None,
                    connects: false,
                },
                None => derived_listener(row, base),
            });
        }
        self.browser_profiles(env, &mut out);
        (out.listeners, out.cdp_urls)
    }

    /// The port of a URL pin: the config `key`, else the gateway's environment variable `var`
    /// (an `http://host:port` URL; clawdbot's `parseHttpUrl` takes 80/443 for a URL without one).
    /// A value that is not such a URL is an error at its key.
    fn url_port(&mut self, key: &str, var: &str, env: &Env) -> Option<(u32, Source)> {
        let (raw, source) = match self.string(key, env) {
            Some(raw) => (raw, self.source(key)),
            None => {
                let raw = env.get(var)?.clone();
                (raw, Source::Derived(format!("{var} in the gateway's environment")))
            }
        };
        match openclaw::url_host_port(raw.trim()) {
            Some((_, port)) => Some((u32::from(port), source)),
            None => {
                let message = format!("`{raw}` (from {source}) is not an http:// URL with a port");
                self.error(key, message, "write e.g. http://127.0.0.1:18791");
                None
            }
        }
    }

    fn pinned(&self, name: String, lo: u32, hi: u32, key: &str, connects: bool) -> Listener {
        Listener {
            name,
            range: PortRange { lo, hi },
            source: self.source(key),
            base_offset: None,
            connects,
        }
    }

    /// `browser.profiles.<name>.cdpPort` and `.cdpUrl` of every browser profile in the config.
    fn browser_profiles(&mut self, env: &Env, out: &mut Ports) {
        let Some(Value::Object(profiles)) = self.cfg.get("browser.profiles") else {
            return;
        };
        for name in profiles.keys() {
            let key = format!("browser.profiles.{name}.cdpPort");
            if let Some(p) = self.port_key(&key, "write an integer port") {
                let l = self.pinned(format!("CDP of browser profile '{name}'"), p, p, &key, false);
                out.listeners.push(l);
            }
            let key = format!("browser.profiles.{name}.cdpUrl");
            self.cdp_url(&key, format!("CDP of browser profile '{name}' (cdpUrl)"), env, out);
        }
    }

    /// A CDP URL at `key`: remembered for the shared-URL rule; a loopback one also occupies its
    /// port (as a port the instance connects to). Returns whether the key is set.
    fn cdp_url(&mut self, key: &str, label: String, env: &Env, out: &mut Ports) -> bool {
        let Some(url) = self.string(key, env) else { return false };
        match openclaw::Endpoint::of_url(&url) {
            Some(ep) if ep.is_local() => {
                let l = self.pinned(label, u32::from(ep.port), u32::from(ep.port), key, true);
                out.listeners.push(l);
            }
            Some(_) => {}
            None => self.error(
                key,
                format!("`{url}` is not an http(s):// or ws(s):// URL"),
                "write e.g. http://127.0.0.1:9222",
            ),
        }
        out.cdp_urls.push(Sourced::new(url, self.source(key)));
        true
    }

    /// What the gateway itself would refuse at start (`openclaw gateway run`'s config guards):
    /// warnings, the proof is still about isolation.
    fn start_warnings(&mut self) {
        let profile = self.profile;
        let allow_unconfigured = profile.args.iter().chain(&profile.command).any(|a| a == "--allow-unconfigured");
        if profile.flavor != Flavor::OpenClaw || allow_unconfigured {
            return;
        }
        let file = Place::file(self.config);
        if self.cfg.value.is_none() {
            self.warn(
                Diagnostic::warning(file, "the config file does not exist; OpenClaw's defaults are assumed")
                    .note("`openclaw gateway run` exits 78 without a config unless given --allow-unconfigured")
                    .hint("create it with at least {gateway: {mode: \"local\"}}, or add `--allow-unconfigured` to args"),
            );
            return;
        }
        if self.cfg.get("gateway.mode").and_then(Value::as_str) != Some("local") {
            self.warn(
                Diagnostic::warning(file.clone(), "gateway.mode is not \"local\"; the gateway exits 78 on start")
                    .key("gateway.mode")
                    .hint("set gateway.mode: \"local\""),
            );
        }
        if self.cfg.get("gateway.bind").is_none() && in_container() {
            self.warn(
                Diagnostic::warning(
                    file,
                    "gateway.bind is unset and this host looks like a container, so OpenClaw binds 0.0.0.0 and exits 78 without auth",
                )
                .key("gateway.bind")
                .hint("set gateway.bind: \"loopback\""),
            );
        }
    }
}

/// Listeners and CDP URLs gathered while planning.
#[derive(Default)]
struct Ports {
    listeners: Vec<Listener>,
    cdp_urls: Vec<Sourced<String>>,
}

/// A row's listener moved with the base port; the base port's own row takes its source.
fn derived_listener(row: &PortRow, base: &Sourced<u16>) -> Listener {
    let b = u32::from(base.value);
    Listener {
        name: row.name.to_string(),
        range: PortRange {
            lo: b + row.offset.0,
            hi: b + row.offset.1,
        },
        source: match row.rule {
            Some(rule) => Source::Derived(rule.to_string()),
            None => base.source.clone(),
        },
        base_offset: Some(row.offset),
        connects: false,
    }
}

/// The environment every child gets: clawherd's, scrubbed, plus the three markers, and with
/// `user:` set that user's `HOME`, `USER` and `LOGNAME`.
fn base_env(parent_env: &BTreeMap<String, String>, profile: &Profile, fleet_dir: &Path, marker: &str) -> Env {
    let mut env = Env::inherit(parent_env.iter().filter(|(k, _)| !scrubbed(k)));
    env.insert("CLAWHERD_INSTANCE".into(), marker.to_string());
    env.insert("CLAWHERD_PROFILE".into(), profile.name.clone());
    env.insert("CLAWHERD_FLEET_DIR".into(), fleet_dir.display().to_string());
    // The environment follows the user, as a login would set it (the profile's `env:` still wins).
    if let Some(r) = &profile.run_as {
        env.insert("HOME".into(), r.home.display().to_string());
        env.insert("USER".into(), r.user.clone());
        env.insert("LOGNAME".into(), r.user.clone());
    }
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
            source: l.source.clone(),
            base_offset: None,
            connects: false,
        })
        .collect();
    Plan {
        profile: profile.name.clone(),
        gateway: None,
        base_port: profile.port.clone(),
        listeners,
        cdp_urls: Vec::new(),
        cwd: profile.cwd.clone().unwrap_or_else(|| fleet_dir.to_path_buf()),
        env,
        argv,
        credentials: profile.run_as.as_ref().map(|r| r.credentials.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{LoadContext, load_str};

    fn ports_of(dir: &Path, fleet: &str) -> Vec<(String, String, String)> {
        let ctx = LoadContext {
            env: [("HOME".to_string(), dir.display().to_string())].into(),
            check_host_ports: false,
        };
        let f = match load_str(&dir.join("fleet.yaml"), fleet, &ctx) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        f.instances
            .iter()
            .flat_map(|(p, plan)| plan.listeners.iter().map(|l| (p.name.clone(), l.name.clone(), l.range.to_string())))
            .collect()
    }

    /// The tables give today's layouts: OpenClaw base, +2, +10, +11..=+110; clawdbot base, +2, +3,
    /// +11..=+110 with no canvas port (issue 13: base+4 is never bound), and `browser.controlUrl`
    /// moves control, relay and the CDP range together.
    #[test]
    fn port_tables_give_each_flavors_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("c.json5"),
            "{browser: {controlUrl: 'http://127.0.0.1:21000'}, canvasHost: {port: 18793}}",
        )
        .expect("write");
        let fleet = "version: 1\ndefaults:\n  args: [--allow-unconfigured]\nprofiles:\n  a:\n    role: main\n    port: 18789\n    state_dir: a\n  b:\n    role: rescue\n    flavor: clawdbot\n    port: 20000\n    state_dir: b\n    config: c.json5\n";
        let got = ports_of(dir.path(), fleet);
        let want = [
            ("a", "gateway (HTTP, WebSocket, canvas)", "18789"),
            ("a", "browser control", "18791"),
            ("a", "browser extension relay", "18799"),
            ("a", "managed Chrome CDP range", "18800-18899"),
            ("b", "gateway (HTTP, WebSocket, canvas)", "20000"),
            ("b", "browser control", "21000"),
            ("b", "browser extension relay", "21001"),
            ("b", "managed Chrome CDP range", "21009-21108"),
        ];
        let want: Vec<(String, String, String)> = want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
        assert_eq!(got, want);
    }

    /// Issue 17: the plans of one fleet hold clawherd's environment once between them (it was a
    /// full copy per plan: about 7 KB per instance with a 35-variable environment), and each
    /// child still gets the whole of it under its own variables, scrubbed names left out.
    #[test]
    fn plans_share_the_inherited_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = LoadContext {
            env: [
                ("HOME".to_string(), dir.path().display().to_string()),
                ("PATH".to_string(), "/usr/bin:/bin".to_string()),
                ("LANG".to_string(), "C.UTF-8".to_string()),
                ("INVOCATION_ID".to_string(), "abc".to_string()),
            ]
            .into(),
            check_host_ports: false,
        };
        let fleet = "version: 1\ndefaults:\n  args: [--allow-unconfigured]\nprofiles:\n  a:\n    role: main\n    port: 18789\n    openclaw_profile: a\n    state_dir: a\n    env: {LANG: en_US.UTF-8}\n  b:\n    role: rescue\n    openclaw_profile: b\n    port: 19789\n    state_dir: b\n  c:\n    role: rescue\n    flavor: process\n    command: [/bin/true]\n";
        let f = match load_str(&dir.path().join("fleet.yaml"), fleet, &ctx) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        let envs: Vec<&Env> = f.instances.iter().map(|(_, plan)| &plan.env).collect();
        assert_eq!(envs.len(), 3);
        assert!(envs.iter().all(|e| e.shares_inherited_with(envs[0])), "each plan has its own copy");
        let get = |i: usize, k: &str| envs[i].get(k).map(String::as_str);
        assert_eq!(
            (get(0, "LANG"), get(1, "LANG"), get(2, "LANG")),
            (Some("en_US.UTF-8"), Some("C.UTF-8"), Some("C.UTF-8"))
        );
        assert_eq!((get(0, "PATH"), get(0, "INVOCATION_ID")), (Some("/usr/bin:/bin"), None));
        assert_eq!(get(1, "CLAWHERD_PROFILE"), Some("b"));
        assert_eq!(get(1, "OPENCLAW_GATEWAY_PORT"), Some("19789"));
        let names: Vec<&String> = envs[0].iter().map(|(k, _)| k).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "in name order, each once: {names:?}");
    }

    fn load_err(dir: &Path, fleet: &str, env: &[(&str, &str)]) -> String {
        let mut env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.insert("HOME".into(), dir.display().to_string());
        let ctx = LoadContext {
            env,
            check_host_ports: false,
        };
        match load_str(&dir.join("fleet.yaml"), fleet, &ctx) {
            Ok(_) => panic!("must not load"),
            Err(e) => e.to_string(),
        }
    }

    /// Issue 13: clawdbot's schema refuses `browser.controlPort` (exit 1); the proof refuses it at
    /// its line and column and names `browser.controlUrl`.
    #[test]
    fn clawdbot_control_port_is_refused_at_its_place_with_the_control_url_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("c.json5"),
            "{\n  browser: {\n    \"controlPort\": 21000,\n  },\n}\n",
        )
        .expect("write");
        let fleet =
            "version: 1\nprofiles:\n  b:\n    role: main\n    flavor: clawdbot\n    port: 20000\n    state_dir: b\n    config: c.json5\n";
        let e = load_err(dir.path(), fleet, &[]);
        assert!(e.contains("c.json5:3:5"), "{e}");
        assert!(e.contains("browser.controlPort") && e.contains("browser.controlUrl"), "{e}");
    }

    /// Issue 13: a named clawdbot profile gets 18789 (no FNV hash), and the control URL given in
    /// the profile's environment moves control and relay.
    #[test]
    fn clawdbot_named_profile_defaults_to_18789_and_env_control_url_pins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet = "version: 1\ndefaults:\n  flavor: clawdbot\nprofiles:\n  r:\n    role: main\n    openclaw_profile: rescue\n    state_dir: r\n    env:\n      CLAWDBOT_BROWSER_CONTROL_URL: http://127.0.0.1:30000\n";
        let got = ports_of(dir.path(), fleet);
        let ranges: Vec<&str> = got.iter().map(|(_, _, r)| r.as_str()).collect();
        assert_eq!(ranges, ["18789", "30000", "30001", "30009-30108"]);
    }

    /// `browser.enabled: false` leaves clawdbot with its base port only.
    #[test]
    fn clawdbot_browser_disabled_is_base_port_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("c.json5"), "{browser: {enabled: false}}").expect("write");
        let fleet =
            "version: 1\nprofiles:\n  b:\n    role: main\n    flavor: clawdbot\n    port: 20000\n    state_dir: b\n    config: c.json5\n";
        let got = ports_of(dir.path(), fleet);
        assert_eq!(got.len(), 1, "{got:?}");
    }

    /// Without overrides clawdbot binds base, base+2 and base+3; the CDP range starts at base+11.
    #[test]
    fn clawdbot_default_layout_is_base_control_relay_cdp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet = "version: 1\nprofiles:\n  c:\n    role: main\n    flavor: clawdbot\n    port: 22000\n    state_dir: c\n";
        let got = ports_of(dir.path(), fleet);
        let ranges: Vec<&str> = got.iter().map(|(_, _, r)| r.as_str()).collect();
        assert_eq!(ranges, ["22000", "22002", "22003", "22011-22110"]);
    }

    /// Issue 13: two default-profile clawdbot instances share `~/clawd`, `~/clawd/canvas` and
    /// `/tmp/clawdbot/clawdbot-DATE.log`; the proof refuses both with the config key that fixes it.
    #[test]
    fn clawdbot_default_workspace_and_log_file_are_shared_and_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet = "version: 1\ndefaults:\n  flavor: clawdbot\nprofiles:\n  a:\n    role: main\n    port: 20000\n    state_dir: a\n  b:\n    role: rescue\n    port: 21000\n    state_dir: b\n";
        let e = load_err(dir.path(), fleet, &[]);
        assert!(e.contains(&format!("{}/clawd", dir.path().display())), "{e}");
        assert!(e.contains("set agents.defaults.workspace in"), "{e}");
        assert!(e.contains("/tmp/clawdbot/clawdbot-YYYY-MM-DD.log"), "{e}");
        assert!(e.contains("set logging.file in"), "{e}");
        assert!(e.contains(&format!("{}/clawd/canvas", dir.path().display())), "{e}");
        assert!(e.contains("set canvasHost.root in"), "{e}");
    }

    /// A named clawdbot profile works in `~/clawd-<name>`; the env has CLAWDBOT_NO_RESPAWN=1 and
    /// no CLAWDBOT_WORKSPACE_DIR; a fleet `workspace` that clawdbot would ignore is an error.
    #[test]
    fn clawdbot_workspace_env_and_fleet_workspace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet = "version: 1\nprofiles:\n  r:\n    role: main\n    flavor: clawdbot\n    openclaw_profile: rescue\n    state_dir: r\n";
        let ctx = LoadContext {
            env: [("HOME".to_string(), dir.path().display().to_string())].into(),
            check_host_ports: false,
        };
        let f = match load_str(&dir.path().join("fleet.yaml"), fleet, &ctx) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        let (_, plan) = f.get("r").expect("profile r");
        let g = plan.gateway.as_ref().expect("gateway");
        assert_eq!(g.workspace.value, dir.path().join("clawd-rescue"));
        assert_eq!(plan.env.get("CLAWDBOT_NO_RESPAWN").map(String::as_str), Some("1"));
        assert!(!plan.env.contains_key("CLAWDBOT_WORKSPACE_DIR"));
        let fleet = format!("{fleet}    workspace: ws\n");
        let e = load_err(dir.path(), &fleet, &[]);
        assert!(
            e.contains("has no effect on a clawdbot gateway") && e.contains("agents.defaults.workspace"),
            "{e}"
        );
    }

    /// Issue 13, mixed generations: without `~/.openclaw` today's openclaw falls back to an
    /// existing `~/.clawdbot`, so a default-profile openclaw instance and a legacy clawdbot one
    /// land on one state dir; the proof refuses it.
    #[test]
    fn openclaw_falling_back_to_a_legacy_state_dir_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(".clawdbot")).expect("mkdir");
        let fleet = "version: 1\nprofiles:\n  new:\n    role: main\n    port: 18789\n    args: [--allow-unconfigured]\n  old:\n    role: rescue\n    flavor: clawdbot\n    port: 20789\n";
        let e = load_err(dir.path(), fleet, &[]);
        let legacy = dir.path().join(".clawdbot").display().to_string();
        assert!(e.contains(&format!("state dir {legacy}")), "{e}");
    }
}
