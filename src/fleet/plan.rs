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
use super::{EnvInherit, Flavor, Profile};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Where an effective value came from. Kept with every value of a profile and plan for the
/// daemon's life: the config file is shared by the values read from it, a fleet key by the
/// copies of its value (the plan's state dir, config and base port are the profile's), and a
/// rule that is fixed text is not copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// Written in the fleet file.
    Fleet {
        /// Place of the value.
        place: Place,
        /// Its key path (`profiles.main.port`).
        key: Arc<str>,
    },
    /// Read from the instance's OpenClaw config.
    Config {
        /// The config file.
        file: Arc<Path>,
        /// Dotted key path.
        key: String,
    },
    /// Derived by an OpenClaw rule from other values.
    Derived(Cow<'static, str>),
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
            Source::Config { file, .. } => Place::whole(file),
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
            Source::Fleet { key, .. } => Some(key),
            Source::Config { key, .. } => Some(key),
            Source::Derived(_) => None,
        }
    }
}

/// A value and its origin: written in the fleet file (with its place and key), read from an
/// OpenClaw config (file and key), or derived by an OpenClaw rule. The one "value + origin" type
/// of the fleet pipeline, from the validated [`Profile`] to the proof's diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    pub fn fleet(value: T, place: Place, key: impl Into<Arc<str>>) -> Self {
        Sourced::new(value, Source::Fleet { place, key: key.into() })
    }

    /// A value derived by the OpenClaw rule described by `rule`.
    pub fn derived(value: T, rule: impl Into<Cow<'static, str>>) -> Self {
        Sourced::new(value, Source::Derived(rule.into()))
    }
}

/// An inclusive port range; bounds are `u32` so a derived port past 65535 can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
pub(crate) enum When {
    /// Always.
    Always,
    /// Unless the config says `browser.enabled: false`.
    BrowserEnabled,
    /// The Chrome-extension relay of the built-in `chrome` browser profile, with the browser
    /// enabled: the row gives its default port, and the flavor's rule decides whether the
    /// built-in profile exists and which relays the config's own `driver: "extension"` profiles
    /// add (see `Cx::extension_relays`).
    ExtensionRelays,
}

/// A config key that pins a row's ports instead of the base port: the key's port plus `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pin {
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
pub(crate) struct UrlKey {
    /// Dotted config key holding the URL.
    pub key: &'static str,
    /// Listener name used for the URL's endpoint.
    pub name: &'static str,
}

/// One listener of a flavor's port layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortRow {
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
/// browser enabled; `browser.cdpUrl` replaces the CDP range). base+10 is the extension relay of
/// the built-in `chrome` profile; further `driver: "extension"` profiles take base+9 down to
/// base+3 (see `Cx::extension_relays`). The relays open on first browser use, browser control
/// only with `OPENCLAW_EAGER_BROWSER_CONTROL_SERVER=1`, CDP ports while a browser runs.
pub(crate) const OPENCLAW_PORTS: &[PortRow] = &[
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
        when: When::ExtensionRelays,
        pin: None,
        url: None,
        rule: Some("base+10, the extension relay of the built-in `chrome` profile (opens on first browser use)"),
        doc: "resolveBrowserConfig, resolveExtensionRelayPorts, dist/config-*.mjs; dist/relay-lifecycle-*.mjs",
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
/// `/__clawdbot__/canvas/`), browser control base+2, the built-in `chrome` profile's
/// Chrome-extension relay base+3 (control+1; started at boot with every other
/// `driver: "extension"` profile's relay, `dist/browser/server.js`, see
/// `Cx::extension_relays`), CDP of managed browsers control+9..=control+108
/// (`dist/config/port-defaults.js`, `dist/browser/profiles-service.js`; bound only when a
/// browser starts). All but the base port disappear with `browser.enabled: false`. Nothing on
/// base+4: see [`NOT_PLANNED`].
pub(crate) const CLAWDBOT_PORTS: &[PortRow] = &[
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
        when: When::ExtensionRelays,
        pin: control_url_pin((1, 1)),
        url: None,
        rule: Some("base+3 (control+1), the Chrome-extension relay of the built-in `chrome` profile, bound at boot"),
        doc: "ensureDefaultChromeExtensionProfile, clawdbot's dist/browser/config.js, dist/browser/server.js",
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
pub(crate) struct NotPlanned {
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
pub(crate) fn not_planned(flavor: Flavor) -> &'static [NotPlanned] {
    match flavor {
        Flavor::Clawdbot => NOT_PLANNED,
        Flavor::OpenClaw | Flavor::Process => &[],
    }
}

/// When a flavor's planned ports open, as `clawherd ports` explains under its table: which are
/// bound at boot and which only later, so that a planned port nobody listens on yet is expected.
/// `None` for `flavor: process` (its ports are what it declares).
pub(crate) fn when_ports_open(flavor: Flavor) -> Option<&'static str> {
    match flavor {
        Flavor::OpenClaw => Some(
            "openclaw: the base port is bound at boot; the extension relays (base+10 for the built-in `chrome`, further `driver: \"extension\"` profiles down to base+3, or their cdpPort) open on first browser use; browser control (base+2) only at boot with OPENCLAW_EAGER_BROWSER_CONTROL_SERVER=1; CDP ports only while a managed browser runs",
        ),
        Flavor::Clawdbot => Some(
            "clawdbot: the base port, browser control (control = base+2 or browser.controlUrl) and one extension relay per `driver: \"extension\"` browser profile (its cdpUrl or cdpPort, plus the built-in `chrome` on control+1 unless the config has a `chrome` profile or a profile on control+1) are bound at boot; CDP ports only while a managed browser runs",
        ),
        Flavor::Process => None,
    }
}

/// clawdbot's docs (the Moltbot "multiple gateways" page) give a canvas host on
/// `canvasHost.port` = base+4; clawdbot@2026.1.24 serves the canvas on the base port
/// (`dist/gateway/server-runtime-state.js`) and reads `canvasHost.port` only in code nothing calls
/// (`dist/gateway/server-bridge-runtime.js`).
pub(crate) const NOT_PLANNED: &[NotPlanned] = &[NotPlanned {
    name: "canvas host",
    offset: 4,
    claim: "the docs say canvasHost.port = base+4",
    why: "clawdbot 2026.1.24 serves the canvas on the base port at /__clawdbot__/canvas/ and never binds canvasHost.port (read only by dead code, dist/gateway/server-bridge-runtime.js)",
}];

/// The port layout of a gateway flavor; empty for `flavor: process` (its ports are declared).
pub(crate) fn port_layout(flavor: Flavor) -> &'static [PortRow] {
    match flavor {
        Flavor::OpenClaw => OPENCLAW_PORTS,
        Flavor::Clawdbot => CLAWDBOT_PORTS,
        Flavor::Process => &[],
    }
}

/// The kinds of per-instance paths the proof keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
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
    /// The workspace of one agent of `agents.list` (or OpenClaw's `agents.entries`) that does
    /// not share the instance's own workspace.
    AgentWorkspace,
    /// The `agentDir` written for one agent (its default lies in the state dir).
    AgentDir,
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
            PathKind::AgentWorkspace => "agent workspace",
            PathKind::AgentDir => "agent dir",
        }
    }
}

/// The files and folders of a gateway instance (not of a plain `process`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The paths of the config's agents that lie outside the state dir and differ from
    /// `workspace`: workspaces and written `agentDir`s, in the config's order.
    pub agents: Vec<AgentPath>,
    /// Whether the gateway applies edits of its config by itself, as the config read for this
    /// plan says ([`ConfigFile::reloads_itself`](super::openclaw::ConfigFile::reloads_itself)):
    /// what `check` advises on, without reading each config again.
    #[serde(default)]
    pub reloads_itself: bool,
}

/// A path of one agent of the config (`agents.list[N]`, or `agents.entries.<id>` in today's
/// OpenClaw).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentPath {
    /// [`PathKind::AgentWorkspace`] or [`PathKind::AgentDir`].
    pub kind: PathKind,
    /// The agent's id, normalized as the gateway does (lowercase, `[a-z0-9_-]`).
    pub agent: String,
    /// The config key that sets this path (`agents.list[2].workspace`), written or not.
    pub key: String,
    /// Where in the config the key is written, else where the agent's entry is.
    pub place: Place,
    /// The path (absolute) and its origin.
    pub path: Sourced<PathBuf>,
}

/// The effective setup of one instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Full environment of the child (what `env_inherit` passes of clawherd's, plus the
    /// instance's); the inherited part is shared between plans ([`Env`]).
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
                v.extend(g.agents.iter().map(|a| (a.kind, &a.path)));
                v
            }
            None => Vec::new(),
        }
    }

    /// The agent whose path `path` is (one of [`Plan::paths`]'s, compared by address).
    pub fn agent_path(&self, path: &Sourced<PathBuf>) -> Option<&AgentPath> {
        self.gateway.as_ref()?.agents.iter().find(|a| std::ptr::eq(&a.path, path))
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
pub(crate) const SCRUBBED_ENV: &[&str] = &[
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

/// Whether `name` is one of [`SCRUBBED_ENV`]: never inherited from clawherd's environment,
/// whatever `env_inherit` says.
pub(crate) fn scrubbed(name: &str) -> bool {
    use std::collections::HashSet;
    use std::sync::LazyLock;
    // Asked for every variable of clawherd's environment for every profile: the names in a set,
    // the few prefixes (`OPENCLAW_`, ...) tried one by one.
    static NAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| SCRUBBED_ENV.iter().copied().filter(|s| !s.ends_with('_')).collect());
    static PREFIXES: LazyLock<Vec<&'static str>> = LazyLock::new(|| SCRUBBED_ENV.iter().copied().filter(|s| s.ends_with('_')).collect());
    NAMES.contains(name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The variables of clawherd's environment a child inherits by default (`env_inherit:
/// allowlist`), as names or patterns (`*`: any run of characters). What any program expects of
/// a login (`PATH`, `HOME`, `USER`, `LOGNAME`, `SHELL`, `TMPDIR`, the locale, `TZ`, the XDG base
/// folders), the network setup (proxies in both spellings, CA bundles), Node's own `NODE_*`, and
/// the credential variables OpenClaw documents as its environment contract: the provider keys
/// of `docs/help/environment.md` ("Provider credentials") and the channel bot tokens of
/// `docs/channels/*.md` in the `openclaw` package. Everything else of an operator's shell
/// (`TMUX`, `OLDPWD`, `SHLVL`, `SSH_*`, ...) stays out; `env_inherit: [NAME, ...]` adds names.
pub(crate) const INHERITED_ENV: &[&str] = &[
    // A login's basics.
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "TZ",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    // Network.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    // Node (`NODE_OPTIONS`, `NODE_EXTRA_CA_CERTS`, ...; `NODE_COMPILE_CACHE` is scrubbed).
    "NODE_*",
    // OpenClaw's documented provider credentials.
    "AI_GATEWAY_API_KEY",
    "ANTHROPIC_ADMIN_API_KEY",
    "ANTHROPIC_ADMIN_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_OAUTH_TOKEN",
    "ARCEEAI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_SPEECH_API_KEY",
    "AZURE_SPEECH_KEY",
    "AZURE_SPEECH_REGION",
    "BASETEN_API_KEY",
    "BRAVE_API_KEY",
    "BYTEPLUS_API_KEY",
    "BYTEPLUS_SEED_SPEECH_API_KEY",
    "CEREBRAS_API_KEY",
    "CHUTES_API_KEY",
    "CHUTES_OAUTH_TOKEN",
    "CLAWROUTER_API_KEY",
    "CLOUDFLARE_AI_GATEWAY_API_KEY",
    "CODEX_API_KEY",
    "COHERE_API_KEY",
    "COMFY_API_KEY",
    "COMFY_CLOUD_API_KEY",
    "COPILOT_GITHUB_TOKEN",
    "DASHSCOPE_API_KEY",
    "DEEPGRAM_API_KEY",
    "DEEPINFRA_API_KEY",
    "DEEPSEEK_API_KEY",
    "ELEVENLABS_API_KEY",
    "EXA_API_KEY",
    "FAL_API_KEY",
    "FAL_KEY",
    "FEATHERLESS_API_KEY",
    "FIRECRAWL_API_KEY",
    "FIREWORKS_API_KEY",
    "FISH_API_KEY",
    "FISH_AUDIO_API_KEY",
    "GCLOUD_PROJECT",
    "GEMINI_API_KEY",
    "GMI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_API_KEY",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_CLOUD_PROJECT",
    "GRADIUM_API_KEY",
    "GROQ_API_KEY",
    "HF_TOKEN",
    "HUGGINGFACE_HUB_TOKEN",
    "INWORLD_API_KEY",
    "KILOCODE_API_KEY",
    "KIMICODE_API_KEY",
    "KIMI_API_KEY",
    "LITELLM_API_KEY",
    "LLAMA_SERVER_API_KEY",
    "LM_API_TOKEN",
    "LONGCAT_API_KEY",
    "MINIMAX_API_KEY",
    "MINIMAX_CODE_PLAN_KEY",
    "MINIMAX_CODING_API_KEY",
    "MINIMAX_OAUTH_TOKEN",
    "MISTRAL_API_KEY",
    "MODELSTUDIO_API_KEY",
    "MODEL_API_KEY",
    "MOONSHOT_API_KEY",
    "NOVITA_API_KEY",
    "NVIDIA_API_KEY",
    "OLLAMA_API_KEY",
    "OPENAI_ADMIN_KEY",
    "OPENAI_API_KEY",
    "OPENCODE_API_KEY",
    "OPENCODE_ZEN_API_KEY",
    "OPENROUTER_API_KEY",
    "PARALLEL_API_KEY",
    "PERPLEXITY_API_KEY",
    "PIXVERSE_API_KEY",
    "QIANFAN_API_KEY",
    "QWEN_API_KEY",
    "QWEN_TOKEN_PLAN_API_KEY",
    "RUNWAYML_API_SECRET",
    "RUNWAY_API_KEY",
    "SENSEAUDIO_API_KEY",
    "SGLANG_API_KEY",
    "SPEECH_KEY",
    "SPEECH_REGION",
    "STEPFUN_API_KEY",
    "SYNTHETIC_API_KEY",
    "TAVILY_API_KEY",
    "TOGETHER_API_KEY",
    "TOKENHUB_API_KEY",
    "TOKENPLAN_API_KEY",
    "VENICE_API_KEY",
    "VLLM_API_KEY",
    "VOLCANO_ENGINE_API_KEY",
    "VOLCENGINE_TTS_API_KEY",
    "VOLCENGINE_TTS_APPID",
    "VOLCENGINE_TTS_TOKEN",
    "VOYAGE_API_KEY",
    "VYDRA_API_KEY",
    "XAI_API_KEY",
    "XIAOMI_API_KEY",
    "XIAOMI_TOKEN_PLAN_API_KEY",
    "XI_API_KEY",
    "ZAI_API_KEY",
    "Z_AI_API_KEY",
    // OpenClaw's documented channel bot tokens.
    "CLICKCLACK_BOT_TOKEN",
    "DISCORD_BOT_TOKEN",
    "MATTERMOST_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_BOT_TOKEN",
    "TELEGRAM_BOT_TOKEN",
    "ZALO_BOT_TOKEN",
];

/// Whether `name` is on the default allowlist ([`INHERITED_ENV`]): one hash lookup for its
/// names and a match against its few patterns, since every variable of clawherd's environment
/// is asked for every profile (1,000 profiles and 35 variables went through the 138 entries one
/// by one: the largest item of `check`'s profile).
pub(crate) fn inherited_by_default(name: &str) -> bool {
    use std::collections::HashSet;
    use std::sync::LazyLock;
    static NAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| INHERITED_ENV.iter().copied().filter(|p| !p.contains('*')).collect());
    static PATTERNS: LazyLock<Vec<&'static str>> = LazyLock::new(|| INHERITED_ENV.iter().copied().filter(|p| p.contains('*')).collect());
    NAMES.contains(name) || PATTERNS.iter().any(|p| env_pattern_matches(p, name))
}

/// Whether the variable `name` matches `pattern`, an `env_inherit` entry: a name, or a pattern
/// where each `*` matches any run of characters (none included), e.g. `LC_*`, `*_API_KEY`.
/// Case-sensitive, as variable names are. Linear in the lengths, without recursion.
pub(crate) fn env_pattern_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0usize, 0usize);
    // Where the last `*` was and which name position it is trying to cover up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if Some(c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == b'*'))
}

/// Computes the plan of `profile`. `fleet_dir` is the fleet file's folder, `parent_env`
/// clawherd's environment (shared by the plans of one fleet: what each `env_inherit` setting
/// passes is filtered once), `marker` the value of `CLAWHERD_INSTANCE`.
///
/// Errors: the config cannot be read or parsed, a config value has the wrong type, or the
/// config holds a key the flavor refuses. Warnings: a fleet port that differs from the config's
/// `gateway.port`, a config the gateway would refuse to start with.
pub(crate) fn plan(
    profile: &Profile,
    fleet_dir: &Path,
    parent_env: &mut ParentEnv<'_>,
    marker: &str,
) -> Result<(Plan, Vec<Diagnostic>), Vec<Diagnostic>> {
    if profile.flavor == Flavor::Process {
        return Ok((plan_process(profile, fleet_dir, parent_env, marker), Vec::new()));
    }
    let home = gateway_home(profile, parent_env.vars);
    let state_dir = state_dir_of(profile, &home);
    let config = config_of(profile, &state_dir.value);
    let cfg = read_config(profile, &config)?;
    let mut cx = Cx {
        profile,
        config: &config.value,
        config_file: std::cell::OnceCell::new(),
        cfg: &cfg,
        text: std::cell::OnceCell::new(),
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
    let agents = cx.agent_paths(&env, &workspace.value, &resolve);
    let (listeners, cdp_urls) = cx.listeners(&env, &base_port);
    cx.start_warnings();
    cx.clawdbot_auth_warning(&argv, &env);
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
        agents,
        reloads_itself: cfg.reloads_itself(),
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
    let rule: Cow<'static, str> = match oc_profile {
        Some(n) => format!("default state dir of OpenClaw profile '{n}'").into(),
        None => "default state dir of OpenClaw's default profile".into(),
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
    parent_env: &mut ParentEnv<'_>,
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
    let mut argv = Vec::with_capacity(profile.command.len() + 2 + profile.args.len());
    argv.extend(profile.command.iter().cloned());
    argv.extend(["--port".to_string(), base_port.to_string()]);
    argv.extend(profile.args.iter().cloned());
    argv
}

/// What the planning steps of one gateway profile share: the profile, its config, and the
/// errors and warnings found so far.
struct Cx<'a> {
    profile: &'a Profile,
    config: &'a Path,
    /// `config`, shared by the sources and places of the values read from it (made on first use).
    config_file: std::cell::OnceCell<Arc<Path>>,
    cfg: &'a ConfigFile,
    /// The config's text, read once on the first [`Cx::locate`] (only a located diagnostic or
    /// an agent path needs it).
    text: std::cell::OnceCell<Option<String>>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Cx<'_> {
    /// The config's text, read on the first call; `None` when it cannot be read.
    fn text(&self) -> Option<&str> {
        self.text.get_or_init(|| super::read::read_bounded(self.config).ok()).as_deref()
    }

    /// Line and column of `key` in the config ([`openclaw::locate_key`]).
    fn locate(&self, key: &str) -> Option<(u32, u32)> {
        openclaw::locate_key_in(self.text()?, key)
    }

    /// The config file, shared.
    fn config_file(&self) -> &Arc<Path> {
        self.config_file.get_or_init(|| Arc::from(self.config))
    }

    fn source(&self, key: &str) -> Source {
        Source::Config {
            file: Arc::clone(self.config_file()),
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
            match self.text().and_then(|t| openclaw::written_value_in(t, key)) {
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
        let off = self.cfg.get("canvasHost.enabled") == Some(&Value::Bool(false)) || env.get("CLAWDBOT_SKIP_CANVAS_HOST") == Some("1");
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

    /// The paths of the config's agents that the proof must keep apart from other instances':
    /// each agent's workspace unless it is the instance's `workspace`, and each written
    /// `agentDir`. An agent's workspace is its own `workspace` key; else the default agent's is
    /// the instance's workspace; else clawdbot gives `~/clawd-<id>` (in HOME, whatever the
    /// profile; `resolveAgentWorkspaceDir`, clawdbot's dist/agents/agent-scope.js) and today's
    /// OpenClaw `<agents.defaults.workspace>/<id>` or `<state dir>/workspace-<id>`
    /// (`resolveAgentWorkspaceDir`, dist/agent-scope-config-*.mjs), inside the instance's own
    /// paths, so left out (observed with `openclaw agents list --json`). An unwritten `agentDir`
    /// is `<state dir>/agents/<id>/agent`.
    fn agent_paths(&mut self, env: &Env, workspace: &Path, resolve: &dyn Fn(&str) -> PathBuf) -> Vec<AgentPath> {
        let entries = self.agent_entries();
        let default = self.default_agent(&entries);
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (prefix, id) in entries {
            if seen.contains(&id) {
                continue; // the gateway reads the first entry of an id
            }
            seen.push(id.clone());
            let key = format!("{prefix}.workspace");
            let path = match self.string(&key, env).filter(|w| !w.trim().is_empty()) {
                Some(w) => Some(Sourced::new(resolve(&w), self.source(&key))),
                None if Some(&id) == default.as_ref() || self.profile.flavor != Flavor::Clawdbot => None,
                None => Some(Sourced::derived(
                    resolve(&format!("~/clawd-{id}")),
                    format!("clawdbot's workspace of agent '{id}', which sets none: ~/clawd-{id} whatever the profile"),
                )),
            };
            if let Some(path) = path.filter(|p| p.value != workspace) {
                out.push(self.agent_path(PathKind::AgentWorkspace, &id, &prefix, key, path));
            }
            let key = format!("{prefix}.agentDir");
            if let Some(d) = self.string(&key, env).filter(|d| !d.trim().is_empty()) {
                let path = Sourced::new(resolve(&d), self.source(&key));
                out.push(self.agent_path(PathKind::AgentDir, &id, &prefix, key, path));
            }
        }
        out
    }

    fn agent_path(&self, kind: PathKind, id: &str, prefix: &str, key: String, path: Sourced<PathBuf>) -> AgentPath {
        let at = self.locate(&key).or_else(|| self.locate(prefix));
        AgentPath {
            kind,
            agent: id.to_string(),
            key,
            place: at.map_or_else(
                || Place::whole(self.config_file()),
                |(l, c)| Place::shared(self.config_file(), l, c),
            ),
            path,
        }
    }

    /// The agents of the config as (key prefix, normalized id): `agents.list[N]` entries that are
    /// objects, or for today's OpenClaw the `agents.entries` record when present.
    fn agent_entries(&self) -> Vec<(String, String)> {
        if self.profile.flavor == Flavor::OpenClaw
            && let Some(Value::Object(entries)) = self.cfg.get("agents.entries")
        {
            return entries
                .iter()
                .filter(|(_, e)| e.is_object())
                .map(|(id, _)| (format!("agents.entries.{id}"), normalize_agent_id(id)))
                .collect();
        }
        let Some(Value::Array(list)) = self.cfg.get("agents.list") else {
            return Vec::new();
        };
        list.iter()
            .enumerate()
            .filter(|(_, e)| e.is_object())
            .map(|(i, e)| {
                (
                    format!("agents.list[{i}]"),
                    normalize_agent_id(e.get("id").and_then(Value::as_str).unwrap_or("")),
                )
            })
            .collect()
    }

    /// clawdbot's default agent (`resolveDefaultAgentId`, dist/agents/agent-scope.js): the first
    /// entry with `default` set (as JavaScript tests it), else the first entry. Only clawdbot needs
    /// it: today's OpenClaw puts every agent without a workspace inside the instance's own paths.
    fn default_agent(&self, entries: &[(String, String)]) -> Option<String> {
        let marked = entries
            .iter()
            .find(|(prefix, _)| self.cfg.get(&format!("{prefix}.default")).is_some_and(truthy));
        marked.or(entries.first()).map(|(_, id)| id.clone())
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
            if row.when != When::Always && !browser_enabled {
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
            let listener = match pinned {
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
            };
            if row.when == When::ExtensionRelays {
                let relays = self.extension_relays(listener, env);
                out.listeners.extend(relays);
            } else {
                out.listeners.push(listener);
            }
        }
        self.browser_profiles(env, &mut out);
        // Kept for the plan's life (1,000 plans): no spare room.
        out.listeners.shrink_to_fit();
        out.cdp_urls.shrink_to_fit();
        (out.listeners, out.cdp_urls)
    }

    /// The port of a URL pin: the config `key`, else the gateway's environment variable `var`
    /// (an `http://host:port` URL; clawdbot's `parseHttpUrl` takes 80/443 for a URL without one).
    /// A value that is not such a URL is an error at its key.
    fn url_port(&mut self, key: &str, var: &str, env: &Env) -> Option<(u32, Source)> {
        let (raw, source) = match self.string(key, env) {
            Some(raw) => (raw, self.source(key)),
            None => {
                let raw = env.get(var)?.to_string();
                (raw, Source::Derived(format!("{var} in the gateway's environment").into()))
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

    /// The browser profiles of the config, by name, read without diagnostics (the
    /// type errors are [`Cx::browser_profiles`]'s).
    fn browser_profile_list(&self, env: &Env) -> Vec<BrowserProfile> {
        let Some(Value::Object(profiles)) = self.cfg.get("browser.profiles") else {
            return Vec::new();
        };
        profiles
            .iter()
            .map(|(name, v)| BrowserProfile {
                name: name.clone(),
                extension: v.get("driver").and_then(Value::as_str) == Some("extension"),
                cdp_port: v
                    .get("cdpPort")
                    .and_then(Value::as_u64)
                    .filter(|p| (1..=65535).contains(p))
                    .map(|p| p as u32),
                cdp_url: match v.get("cdpUrl") {
                    Some(Value::String(u)) if !u.trim().is_empty() => Some(super::expand::openclaw_substitute(u, env)),
                    _ => None,
                },
            })
            .collect()
    }

    /// The Chrome-extension relays the gateway listens on, given `builtin`, the built-in `chrome`
    /// profile's relay as the flavor's row plans it.
    ///
    /// clawdbot 2026.1.24 (`resolveBrowserConfig`, `ensureDefaultChromeExtensionProfile` in
    /// dist/browser/config.js; `startBrowserControlServerFromConfig` in dist/browser/server.js;
    /// dist/browser/extension-relay.js) binds at boot, right after the control server, one relay
    /// per `driver: "extension"` profile on the host and port of its `cdpUrl` (else of its
    /// `cdpPort` on the `browser.cdpUrl` or control host), when that host is loopback
    /// (`localhost`, `127.0.0.1`, `::1`, `0.0.0.0`, `::`); it adds the built-in `chrome` profile
    /// on control+1 only when the config has no `chrome` profile and no profile (the implicit
    /// `clawd` one included, whose port is `browser.cdpUrl`'s) already uses control+1.
    ///
    /// Today's OpenClaw (`resolveBrowserConfig`, `resolveExtensionRelayPorts`, `resolveProfile` in
    /// dist/config-*.mjs; `startConfiguredExtensionRelays` in dist/relay-lifecycle-*.mjs) always
    /// adds the built-in `chrome` unless the config has its own; every extension profile's relay
    /// listens on 127.0.0.1 at its `cdpPort`, or, without one, on a port counted down from
    /// control+8 (base+10) in name order, skipping every profile's `cdpPort` (the implicit
    /// `openclaw` profile's is `browser.cdpUrl`'s port or base+11), down to control+1; past that
    /// the gateway's browser fails to start ("No available extension relay ports"). Relays open
    /// with the browser control service on first browser use (observed: `openclaw browser
    /// profiles` bound base+10, base+9 and a pinned cdpPort); the eager control server of
    /// `OPENCLAW_EAGER_BROWSER_CONTROL_SERVER=1` binds base+2 but no relay.
    fn extension_relays(&mut self, builtin: Listener, env: &Env) -> Vec<Listener> {
        let profiles = self.browser_profile_list(env);
        let cdp_url = self
            .cfg
            .get_str("browser.cdpUrl", env)
            .and_then(Result::ok)
            .filter(|u| !u.trim().is_empty());
        let cdp_url = cdp_url.as_deref().and_then(|u| openclaw::url_host_port(u.trim()));
        match self.profile.flavor {
            Flavor::Clawdbot => self.clawdbot_relays(builtin, &profiles, cdp_url),
            Flavor::OpenClaw | Flavor::Process => self.openclaw_relays(builtin, &profiles, cdp_url),
        }
    }

    /// clawdbot's relays (see `extension_relays`); `cdp_url` is `browser.cdpUrl`'s host and port.
    fn clawdbot_relays(&mut self, builtin: Listener, profiles: &[BrowserProfile], cdp_url: Option<(String, u16)>) -> Vec<Listener> {
        let mut out = Vec::new();
        // `getUsedPorts` over the profiles as resolved: cdpPort, else cdpUrl's port; the implicit
        // `clawd` profile's is `browser.cdpUrl`'s port, else control+9.
        let mut used: Vec<u32> = profiles
            .iter()
            .filter_map(|p| {
                p.cdp_port.or_else(|| {
                    p.cdp_url
                        .as_deref()
                        .and_then(|u| openclaw::url_host_port(u.trim()))
                        .map(|(_, port)| u32::from(port))
                })
            })
            .collect();
        if !has_profile(profiles, "clawd") {
            used.push(cdp_url.as_ref().map_or(builtin.range.lo + 8, |(_, port)| u32::from(*port)));
        }
        if !has_profile(profiles, "chrome") && !used.contains(&builtin.range.lo) {
            out.push(builtin);
        }
        let control_host = cdp_url.map_or_else(|| "127.0.0.1".to_string(), |(host, _)| host);
        for p in profiles.iter().filter(|p| p.extension) {
            let at = match (&p.cdp_url, p.cdp_port) {
                (Some(u), _) => openclaw::url_host_port(u.trim()).map(|(h, port)| (h, u32::from(port), "cdpUrl")),
                (None, Some(port)) => Some((control_host.clone(), port, "cdpPort")),
                (None, None) => None,
            };
            if let Some((_, port, key)) = at.filter(|(h, _, _)| RELAY_HOSTS.contains(&h.as_str())) {
                let key = format!("browser.profiles.{}.{key}", p.name);
                let name = format!("browser extension relay of browser profile '{}' (bound at boot)", p.name);
                out.push(self.pinned(name, port, port, &key, false));
            }
        }
        out
    }

    /// Today's OpenClaw's relays (see `extension_relays`); `cdp_url` is `browser.cdpUrl`'s host
    /// and port. An error when the unpinned extension profiles outnumber the relay ports.
    fn openclaw_relays(&mut self, builtin: Listener, profiles: &[BrowserProfile], cdp_url: Option<(String, u16)>) -> Vec<Listener> {
        let mut out = Vec::new();
        let default = builtin.range.lo;
        let floor = default.saturating_sub(8);
        let mut reserved: Vec<u32> = profiles.iter().filter_map(|p| p.cdp_port).collect();
        if !has_profile(profiles, "openclaw") {
            reserved.push(cdp_url.map_or(default + 1, |(_, port)| u32::from(port)));
        }
        let mut unpinned: Vec<&str> = profiles
            .iter()
            .filter(|p| p.extension && p.cdp_port.is_none())
            .map(|p| p.name.as_str())
            .collect();
        let builtin_chrome = !has_profile(profiles, "chrome");
        if builtin_chrome {
            unpinned.push("chrome");
        }
        unpinned.sort_unstable();
        let mut next = default;
        for name in unpinned {
            while next > floor && reserved.contains(&next) {
                next -= 1;
            }
            if next <= floor {
                let message = format!(
                    "no relay port is left for extension profile '{name}': OpenClaw gives extension profiles without cdpPort {}..={default} only, and its browser then fails to start",
                    floor + 1
                );
                self.error(
                    "browser.profiles",
                    message,
                    "pin the relay of some extension profiles with browser.profiles.<name>.cdpPort",
                );
                break;
            }
            reserved.push(next);
            let down = default - next;
            let is_builtin = builtin_chrome && name == "chrome";
            let mut l = builtin.clone();
            if !is_builtin || down != 0 {
                let off = builtin.base_offset.map_or(10, |o| o.0) - down;
                let who = if is_builtin {
                    "the built-in `chrome` profile".to_string()
                } else {
                    l.name = format!("browser extension relay of browser profile '{name}'");
                    format!("browser.profiles.{name} (driver \"extension\")")
                };
                l.range = PortRange::single(next);
                l.base_offset = Some((off, off));
                l.source = Source::Derived(
                    format!(
                        "base+{off}, the extension relay of {who}; relays of extension profiles without cdpPort count down from base+10 in name order"
                    )
                    .into(),
                );
            }
            out.push(l);
            next -= 1;
        }
        for p in profiles.iter().filter(|p| p.extension) {
            if let Some(port) = p.cdp_port {
                let key = format!("browser.profiles.{}.cdpPort", p.name);
                let name = format!("browser extension relay of browser profile '{}'", p.name);
                out.push(self.pinned(name, port, port, &key, false));
            }
        }
        out
    }

    /// `browser.profiles.<name>.cdpPort` and `.cdpUrl` of every browser profile in the config
    /// that is not an extension profile (whose port is its relay's, see `extension_relays`).
    fn browser_profiles(&mut self, env: &Env, out: &mut Ports) {
        let Some(Value::Object(profiles)) = self.cfg.get("browser.profiles") else {
            return;
        };
        for (name, profile) in profiles {
            if profile.get("driver").and_then(Value::as_str) == Some("extension") {
                self.extension_profile_keys(name, env);
                continue;
            }
            let key = format!("browser.profiles.{name}.cdpPort");
            if let Some(p) = self.port_key(&key, "write an integer port") {
                let l = self.pinned(format!("CDP of browser profile '{name}'"), p, p, &key, false);
                out.listeners.push(l);
            }
            let key = format!("browser.profiles.{name}.cdpUrl");
            self.cdp_url(&key, format!("CDP of browser profile '{name}' (cdpUrl)"), env, out);
        }
    }

    /// The type checks of an extension profile's `cdpPort` and `cdpUrl` (its relay is planned by
    /// `extension_relays`), and today's OpenClaw's refusal of a `cdpUrl` on one: its schema says
    /// "Profile cdpUrl is not supported with driver=\"extension\"" and the gateway exits 78
    /// (`dist/zod-schema-*.mjs`).
    fn extension_profile_keys(&mut self, name: &str, env: &Env) {
        self.port_key(&format!("browser.profiles.{name}.cdpPort"), "write an integer port");
        let key = format!("browser.profiles.{name}.cdpUrl");
        if self.string(&key, env).is_some() && self.profile.flavor == Flavor::OpenClaw {
            self.error(
                &key,
                "openclaw refuses a cdpUrl on a `driver: \"extension\"` profile (the relay owns the endpoint) and exits 78".to_string(),
                "remove cdpUrl; to pin the relay's port write browser.profiles.<name>.cdpPort",
            );
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
    /// A clawdbot gateway whose secret clawherd cannot find ([`clawdbot_auth::resolve`]) is
    /// probed without its `health` call: warned here, at `gateway.auth.mode` when written.
    ///
    /// [`clawdbot_auth::resolve`]: super::clawdbot_auth::resolve
    fn clawdbot_auth_warning(&mut self, argv: &[String], env: &Env) {
        if self.profile.flavor != Flavor::Clawdbot {
            return;
        }
        let Err(why) = super::clawdbot_auth::resolve(argv, env, self.cfg) else {
            return;
        };
        let place = match self.locate("gateway.auth.mode") {
            Some((line, col)) => Place::at(self.config, line, col),
            None => Place::file(self.config),
        };
        self.warn(
            Diagnostic::warning(place, format!("clawherd cannot ask this clawdbot gateway's health: {why}"))
                .key("gateway.auth")
                .note("readiness then comes from its connect.challenge event and liveness from GET /tools/invoke (docs/openclaw.md)"),
        );
    }

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

/// An agent id as both generations normalize it (`normalizeAgentId`): a valid id
/// (`[a-z0-9][a-z0-9_-]{0,63}`, any case) lowercased; else lowercased with each run of other
/// characters turned into `-`, leading and trailing `-` removed, cut at 64; `main` when empty.
fn normalize_agent_id(raw: &str) -> String {
    let lower = raw.trim().to_lowercase();
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    let valid = lower.len() <= 64 && lower.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) && lower.chars().all(ok);
    if valid {
        return lower;
    }
    let mut out = String::new();
    let mut in_run = false;
    for c in lower.chars() {
        if ok(c) {
            out.push(c);
        } else if !in_run {
            out.push('-');
        }
        in_run = !ok(c);
    }
    let out: String = out.trim_matches('-').chars().take(64).collect();
    if out.is_empty() { "main".to_string() } else { out }
}

/// JavaScript's truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Hosts on which clawdbot's extension relay agrees to listen (`isLoopbackHost` in its
/// dist/browser/extension-relay.js, as a URL's host without brackets).
const RELAY_HOSTS: &[&str] = &["localhost", "127.0.0.1", "0.0.0.0", "::1", "::"];

/// Whether the config has a browser profile called `name`.
fn has_profile(profiles: &[BrowserProfile], name: &str) -> bool {
    profiles.iter().any(|p| p.name == name)
}

/// One `browser.profiles.<name>` entry, as the relay rules read it.
struct BrowserProfile {
    name: String,
    /// `driver: "extension"`.
    extension: bool,
    /// A valid `cdpPort`.
    cdp_port: Option<u32>,
    /// A non-empty `cdpUrl`, after `${VAR}` substitution.
    cdp_url: Option<String>,
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
            Some(rule) => Source::Derived(Cow::Borrowed(rule)),
            None => base.source.clone(),
        },
        base_offset: Some(row.offset),
        connects: false,
    }
}

/// clawherd's environment, and what each `env_inherit` setting of a fleet passes of it, filtered
/// once per setting rather than once per profile (the filter asks every variable of a set and a
/// few patterns: at 1,000 profiles, a few milliseconds of `check`).
pub(crate) struct ParentEnv<'a> {
    /// clawherd's environment (name → value).
    vars: &'a BTreeMap<String, String>,
    /// Settings seen so far and what they pass; at most [`ParentEnv::KEPT`].
    passed: Vec<(EnvInherit, Env)>,
}

impl<'a> ParentEnv<'a> {
    /// At most this many settings are kept; a fleet with more filters the others each time.
    const KEPT: usize = 16;

    /// The environment `vars`, nothing filtered yet.
    pub(crate) fn new(vars: &'a BTreeMap<String, String>) -> Self {
        ParentEnv { vars, passed: Vec::new() }
    }

    /// What `policy` passes of clawherd's environment, with none of the instance's own yet.
    fn passed(&mut self, policy: &EnvInherit) -> Env {
        if let Some((_, env)) = self.passed.iter().find(|(p, _)| p == policy) {
            return env.clone();
        }
        let env = Env::inherit(self.vars.iter().filter(|(k, _)| policy.passes(k)));
        if self.passed.len() < Self::KEPT {
            self.passed.push((policy.clone(), env.clone()));
        }
        env
    }
}

/// The environment every child gets: what `env_inherit` passes of clawherd's, plus the three markers, and with
/// `user:` set that user's `HOME`, `USER` and `LOGNAME`.
fn base_env(parent_env: &mut ParentEnv<'_>, profile: &Profile, fleet_dir: &Path, marker: &str) -> Env {
    let mut env = parent_env.passed(&profile.env_inherit);
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
fn plan_process(profile: &Profile, fleet_dir: &Path, parent_env: &mut ParentEnv<'_>, marker: &str) -> Plan {
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
pub(crate) fn resolve_user_path(raw: &str, home: &Path, cwd: &Path) -> PathBuf {
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
pub(crate) fn normalize(p: &Path) -> PathBuf {
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

    #[test]
    fn env_patterns_match_names_and_star_runs() {
        for (pattern, name) in [
            ("PATH", "PATH"),
            ("LC_*", "LC_ALL"),
            ("LC_*", "LC_"),
            ("*_API_KEY", "OPENAI_API_KEY"),
            ("A*B*C", "AxxBxBxC"),
            ("*", "ANY"),
            ("**", ""),
        ] {
            assert!(env_pattern_matches(pattern, name), "{pattern} matches {name}");
        }
        for (pattern, name) in [
            ("PATH", "PATHX"),
            ("PATH", "PAT"),
            ("LC_*", "LANG"),
            ("*_API_KEY", "OPENAI_API_KEYS"),
            ("A*B*C", "AxxBxBx"),
            ("path", "PATH"),
            ("X", ""),
        ] {
            assert!(!env_pattern_matches(pattern, name), "{pattern} does not match {name}");
        }
    }

    /// The plans of one fleet filter clawherd's environment once per `env_inherit` setting, and
    /// each setting still gets what it passes, however the profiles alternate.
    #[test]
    fn parent_env_filters_once_per_setting_and_keeps_settings_apart() {
        let vars: BTreeMap<String, String> = [("PATH", "/bin"), ("TMUX", "t"), ("AWS_REGION", "eu")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut parent = ParentEnv::new(&vars);
        let names = |e: Env| e.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>();
        let settings = [EnvInherit::default(), EnvInherit::All, EnvInherit::Allowlist(vec!["AWS_*".into()])];
        for _ in 0..2 {
            assert_eq!(names(parent.passed(&settings[0])), ["PATH"]);
            assert_eq!(names(parent.passed(&settings[1])), ["AWS_REGION", "PATH", "TMUX"]);
            assert_eq!(names(parent.passed(&settings[2])), ["AWS_REGION", "PATH"]);
        }
        assert_eq!(parent.passed.len(), 3);
        // Past the kept number of settings, the others are still filtered right, each time.
        for n in 0..ParentEnv::KEPT + 4 {
            let own = EnvInherit::Allowlist(vec![format!("X{n}")]);
            assert_eq!(names(parent.passed(&own)), ["PATH"]);
        }
        assert_eq!(parent.passed.len(), ParentEnv::KEPT);
    }

    #[test]
    fn a_child_inherits_the_allowlist_unless_all_and_never_the_scrubbed() {
        let parent: BTreeMap<String, String> = [
            "PATH",
            "HOME",
            "LC_ALL",
            "TMUX",
            "OLDPWD",
            "SHLVL",
            "OPENAI_API_KEY",
            "NODE_OPTIONS",
            "NODE_COMPILE_CACHE",
            "INVOCATION_ID",
            "OPENCLAW_PROFILE",
            "AWS_REGION",
            "GITHUB_TOKEN",
        ]
        .iter()
        .map(|k| (k.to_string(), "v".to_string()))
        .collect();
        let keys = |i: &crate::fleet::EnvInherit| parent.keys().filter(|k| i.passes(k)).cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&crate::fleet::EnvInherit::default()),
            ["HOME", "LC_ALL", "NODE_OPTIONS", "OPENAI_API_KEY", "PATH"]
        );
        assert_eq!(
            keys(&crate::fleet::EnvInherit::Allowlist(vec!["AWS_*".into(), "GITHUB_TOKEN".into()])),
            [
                "AWS_REGION",
                "GITHUB_TOKEN",
                "HOME",
                "LC_ALL",
                "NODE_OPTIONS",
                "OPENAI_API_KEY",
                "PATH"
            ]
        );
        assert_eq!(
            keys(&crate::fleet::EnvInherit::All),
            [
                "AWS_REGION",
                "GITHUB_TOKEN",
                "HOME",
                "LC_ALL",
                "NODE_OPTIONS",
                "OLDPWD",
                "OPENAI_API_KEY",
                "PATH",
                "SHLVL",
                "TMUX"
            ]
        );
    }

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
        let get = |i: usize, k: &str| envs[i].get(k);
        assert_eq!(
            (get(0, "LANG"), get(1, "LANG"), get(2, "LANG")),
            (Some("en_US.UTF-8"), Some("C.UTF-8"), Some("C.UTF-8"))
        );
        assert_eq!((get(0, "PATH"), get(0, "INVOCATION_ID")), (Some("/usr/bin:/bin"), None));
        assert_eq!(get(1, "CLAWHERD_PROFILE"), Some("b"));
        assert_eq!(get(1, "OPENCLAW_GATEWAY_PORT"), Some("19789"));
        let names: Vec<&str> = envs[0].iter().map(|(k, _)| k).collect();
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

    /// Issue 13: a clawdbot config whose auth mode names a secret clawherd cannot find is
    /// warned about at `gateway.auth.mode`, with the keys that fix it; found, no warning.
    #[test]
    fn clawdbot_auth_without_a_secret_clawherd_can_read_is_warned() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("c.json5"), "{\n  gateway: {\n    auth: {mode: 'token'},\n  },\n}\n").expect("write");
        let ctx = LoadContext {
            env: [("HOME".to_string(), dir.path().display().to_string())].into(),
            check_host_ports: false,
        };
        let fleet = |env: &str| {
            format!(
                "version: 1\nprofiles:\n  b:\n    role: main\n    flavor: clawdbot\n    port: 20000\n    state_dir: b\n    config: c.json5\n{env}"
            )
        };
        let f = load_str(&dir.path().join("fleet.yaml"), &fleet(""), &ctx).unwrap_or_else(|e| panic!("{e}"));
        let w = f.warnings.to_string();
        assert!(
            w.contains("c.json5:3:12") && w.contains("cannot ask this clawdbot gateway's health"),
            "{w}"
        );
        assert!(w.contains("CLAWDBOT_GATEWAY_TOKEN"), "{w}");
        let with_token = fleet("    env:\n      CLAWDBOT_GATEWAY_TOKEN: t\n");
        let f = load_str(&dir.path().join("fleet.yaml"), &with_token, &ctx).unwrap_or_else(|e| panic!("{e}"));
        assert!(!f.warnings.to_string().contains("health"), "{}", f.warnings);
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
        assert_eq!(plan.env.get("CLAWDBOT_NO_RESPAWN"), Some("1"));
        assert!(!plan.env.contains_key("CLAWDBOT_WORKSPACE_DIR"));
        let fleet = format!("{fleet}    workspace: ws\n");
        let e = load_err(dir.path(), &fleet, &[]);
        assert!(
            e.contains("has no effect on a clawdbot gateway") && e.contains("agents.defaults.workspace"),
            "{e}"
        );
    }

    /// The plan of profile `c` (flavor `flavor`, base 22000) with the config `cfg`, as
    /// (listener, port, source) rows; or the load error.
    fn one_plan(flavor: &str, cfg: &str) -> Result<Vec<(String, String, String)>, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("c.json5"), cfg).expect("write");
        let fleet = format!(
            "version: 1\nprofiles:\n  c:\n    role: main\n    flavor: {flavor}\n    port: 22000\n    state_dir: c\n    config: c.json5\n    args: [--allow-unconfigured]\n"
        );
        let ctx = LoadContext {
            env: [("HOME".to_string(), dir.path().display().to_string())].into(),
            check_host_ports: false,
        };
        let f = load_str(&dir.path().join("fleet.yaml"), &fleet, &ctx).map_err(|e| e.to_string())?;
        let rows = f
            .instances
            .iter()
            .flat_map(|(_, plan)| plan.listeners.iter())
            .map(|l| (l.name.clone(), l.range.to_string(), l.source.to_string()))
            .collect();
        Ok(rows)
    }

    fn row<'a>(rows: &'a [(String, String, String)], port: &str) -> Option<&'a (String, String, String)> {
        rows.iter().find(|(_, p, _)| p == port)
    }

    /// Issue 13 (relay ≠ control+1): clawdbot binds a relay at boot for every extension profile on
    /// its cdpUrl's (else cdpPort's) loopback port, with that key as its origin; a user `chrome`
    /// profile replaces the built-in one, so control+1 is not planned; a non-extension profile's
    /// cdpPort stays a CDP port; an extension profile on a remote host gets no relay.
    #[test]
    fn clawdbot_plans_a_relay_per_extension_profile_and_no_builtin_beside_a_user_chrome() {
        let cfg = "{browser: {profiles: {
            work: {driver: 'extension', cdpUrl: 'http://127.0.0.1:23050', color: '#00AA00'},
            home: {driver: 'extension', cdpPort: 23060, color: '#00AA00'},
            far: {driver: 'extension', cdpUrl: 'http://10.0.0.5:9222', color: '#00AA00'},
            chrome: {cdpPort: 23070, color: '#00AA00'},
        }}}";
        let rows = one_plan("clawdbot", cfg).expect("loads");
        let ports: Vec<&str> = rows.iter().map(|(_, p, _)| p.as_str()).collect();
        assert_eq!(ports, ["22000", "22002", "23060", "23050", "22011-22110", "23070"], "{rows:#?}");
        let work = row(&rows, "23050").expect("work's relay");
        assert!(
            work.0
                .starts_with("browser extension relay of browser profile 'work' (bound at boot"),
            "{work:?}"
        );
        assert!(work.2.starts_with("browser.profiles.work.cdpUrl in "), "{work:?}");
        let home = row(&rows, "23060").expect("home's relay");
        assert!(home.2.starts_with("browser.profiles.home.cdpPort in "), "{home:?}");
        assert_eq!(row(&rows, "23070").map(|r| r.0.as_str()), Some("CDP of browser profile 'chrome'"));
    }

    /// clawdbot adds the built-in `chrome` relay on control+1 only when no profile already uses
    /// control+1: a legacy `browser.cdpUrl` on control+1 (the implicit `clawd` profile's port)
    /// leaves it out.
    #[test]
    fn clawdbot_builtin_relay_yields_to_a_profile_on_control_plus_one() {
        let rows = one_plan("clawdbot", "{}").expect("loads");
        let relay = row(&rows, "22003").expect("built-in relay");
        assert_eq!(relay.0, "browser extension relay");
        let rows = one_plan("clawdbot", "{browser: {cdpUrl: 'http://127.0.0.1:22003'}}").expect("loads");
        assert!(row(&rows, "22003").is_none_or(|r| r.0 != "browser extension relay"), "{rows:#?}");
    }

    /// Today's OpenClaw keeps the relays: base+10 for the built-in `chrome`, then extension profiles
    /// without cdpPort count down in name order, skipping pinned cdpPorts; a pinned one listens on
    /// its cdpPort. A cdpUrl on an extension profile is refused (the gateway exits 78).
    #[test]
    fn openclaw_relays_count_down_from_base_plus_10_in_name_order() {
        let cfg = "{browser: {profiles: {
            zed: {driver: 'extension'},
            alpha: {driver: 'extension'},
            pinned: {driver: 'extension', cdpPort: 22008},
            other: {cdpPort: 22009},
        }}}";
        let rows = one_plan("openclaw", cfg).expect("loads");
        let names: Vec<(&str, &str)> = rows.iter().map(|(n, p, _)| (n.as_str(), p.as_str())).collect();
        assert_eq!(
            names,
            [
                ("gateway (HTTP, WebSocket, canvas)", "22000"),
                ("browser control", "22002"),
                ("browser extension relay of browser profile 'alpha'", "22010"),
                ("browser extension relay", "22007"),
                ("browser extension relay of browser profile 'zed'", "22006"),
                ("browser extension relay of browser profile 'pinned'", "22008"),
                ("managed Chrome CDP range", "22011-22110"),
                ("CDP of browser profile 'other'", "22009"),
            ],
            "{rows:#?}"
        );
        let e = one_plan(
            "openclaw",
            "{browser: {profiles: {work: {driver: 'extension', cdpUrl: 'http://127.0.0.1:9'}}}}",
        )
        .expect_err("refused");
        assert!(e.contains("browser.profiles.work.cdpUrl") && e.contains("exits 78"), "{e}");
    }

    /// Issue 13 (per-agent workspaces): a clawdbot agent that sets no workspace and is not the
    /// default works in `~/clawd-<id>` whatever the profile, so two instances with an agent
    /// `ops` share it; an OpenClaw agent's own workspace (`agents.entries.<id>`) inside another
    /// instance's state dir is refused too. Each error is at the agent's entry or key in its config, with the key to set.
    #[test]
    fn agent_workspaces_of_two_instances_must_not_meet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        for (name, extra) in [
            ("a", "{id: 'main', default: true}, {id: 'ops'}"),
            ("b", "{id: 'main'},\n      {id: 'Ops'}"),
        ] {
            let cfg = format!(
                "{{\n  logging: {{file: '{d}/{name}.log'}},\n  canvasHost: {{root: '{d}/{name}-canvas'}},\n  agents: {{\n    defaults: {{workspace: '{d}/{name}-ws'}},\n    list: [{extra}],\n  }},\n}}\n"
            );
            std::fs::write(dir.path().join(format!("{name}.json5")), cfg).expect("write");
        }
        let c = format!("{{\n  agents: {{entries: {{\n    main: {{default: true}},\n    helper: {{workspace: '{d}/a/ws'}},\n  }}}},\n}}\n");
        std::fs::write(dir.path().join("c.json5"), c).expect("write");
        let fleet = "version: 1\nprofiles:\n  a:\n    role: main\n    flavor: clawdbot\n    port: 20000\n    state_dir: a\n    config: a.json5\n  b:\n    role: rescue\n    flavor: clawdbot\n    port: 21000\n    state_dir: b\n    config: b.json5\n  c:\n    role: rescue\n    port: 22000\n    state_dir: c\n    config: c.json5\n    args: [--allow-unconfigured]\n";
        let e = load_err(dir.path(), fleet, &[]);
        let ops = format!("{d}/clawd-ops");
        assert!(
            e.contains(&format!("b.json5:7:7: error: profile 'b': agents.list[1].workspace: workspace of agent 'ops' {ops} is the same as the workspace of agent 'ops' of profile 'a' ({ops})")),
            "{e}"
        );
        assert!(e.contains(&format!("hint: set agents.list[1].workspace in {d}/b.json5")), "{e}");
        assert!(
            e.contains(&format!("c.json5:4:14: error: profile 'c': agents.entries.helper.workspace: workspace of agent 'helper' {d}/a/ws lies inside the state dir of profile 'a' ({d}/a)")),
            "{e}"
        );
    }

    /// Today's OpenClaw refuses `agents.list` (its roster is `agents.entries`; exit 78).
    #[test]
    fn openclaw_agents_list_is_refused_with_agents_entries_as_the_fix() {
        let e = one_plan("openclaw", "{agents: {list: [{id: 'a'}]}}").expect_err("refused");
        assert!(
            e.contains("agents.list: key not accepted by the `openclaw` flavor") && e.contains("agents.entries.<id>"),
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

    /// A fleet value's copies (the plan's state dir, config and base port are the profile's)
    /// share its key; the JSON is the one written before they did.
    #[test]
    fn copies_of_a_fleet_value_share_its_key_and_serialize_as_before() {
        let place = Place::at(Path::new("/f/fleet.yaml"), 4, 11);
        let port = Sourced::fleet(18789u16, place, "profiles.main.port");
        let copy = port.clone();
        match (&port.source, &copy.source) {
            (Source::Fleet { key: a, .. }, Source::Fleet { key: b, .. }) => assert!(Arc::ptr_eq(a, b)),
            other => panic!("not fleet sources: {other:?}"),
        }
        let json = serde_json::to_string(&port).expect("json");
        assert_eq!(
            json,
            r#"{"value":18789,"source":{"Fleet":{"place":{"file":"/f/fleet.yaml","line":4,"column":11},"key":"profiles.main.port"}}}"#
        );
        assert_eq!(serde_json::from_str::<Sourced<u16>>(&json).expect("read"), port);
        let derived = Sourced::derived(1u16, "OpenClaw's default base port");
        let json = serde_json::to_string(&derived).expect("json");
        assert_eq!(json, r#"{"value":1,"source":{"Derived":"OpenClaw's default base port"}}"#);
        assert_eq!(serde_json::from_str::<Sourced<u16>>(&json).expect("read"), derived);
    }
}
