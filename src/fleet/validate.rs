//! `FleetFile` → validated [`Profile`]s, as a pipeline of small rules (process-compose's loader):
//! parse with locations, check the fleet-level settings, merge `defaults:` into each profile
//! ([`ProfileFile::over`]), then validate each merged profile section by section and resolve who
//! stands by for whom. Every problem is gathered with its line, column, profile, key and fix.
//! Every number and duration is checked against its range in [`super::ranges`].

use super::diagnostic::{Diagnostic, Diagnostics, Place, did_you_mean};
use super::expand::{UnsetVar, expand};
use super::file::{
    BackoffFile, ByteSize, CrashLoopFile, DurationFile, EnvInheritFile, FleetFile, HealthFile, HooksFile, LogsFile, Parsed, ProfileFile,
    RestartFile, RolloutFile,
};
use super::locate::{default_run_dir, default_socket};
use super::plan::scrubbed;
use super::ranges::{self, Bound, Range};
use super::versions as version;
use super::{
    EnvInherit, Flavor, FleetSettings, HealthSettings, Hooks, Profile, RestartPolicy, RestartSettings, Role, RolloutSettings, RunAs,
    Sourced, Standby, StandbyMode,
};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use super::file::parse_size;

/// Default graceful stop budget: OpenClaw's own stop policy for an unmanaged/external gateway is
/// a 315 s drain and a 325 s hard deadline, 330 s in all (`gateway-shutdown-budget.mjs`).
/// An idle gateway stops in 0.3–2.6 s, so this only matters for a busy or hung one.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(330);
/// Default `leftover_grace`: what a gateway left behind gets 2 s between SIGTERM and SIGKILL.
pub const DEFAULT_LEFTOVER_GRACE: Duration = Duration::from_secs(2);
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
        "nothing: with it set, openclaw.mjs runs the gateway as a grandchild behind a wrapper that a signal can orphan",
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
    let file: FleetFile = serde_saphyr::from_str(text).map_err(|e| Diagnostics(vec![parse_error(path, text, &e)]))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    let mut cx = Cx {
        path,
        file: Arc::from(path),
        dir: &dir,
        env,
        profile: None,
        diags: Diagnostics::default(),
    };
    cx.version(&file.version);
    cx.some_profiles(&file.profiles);
    let settings = cx.settings(&file);
    let pins = cx.pins(&settings.run_dir, &file.profiles);
    let mut settings = settings;
    let defaults = file.defaults.unwrap_or_default();
    let default_inherit = defaults
        .env_inherit
        .as_ref()
        .map(|s| cx.env_inherit(s, "defaults.env_inherit"))
        .unwrap_or_default();
    settings.hooks.env_inherit = default_inherit.clone();
    let mut failovers = BTreeMap::new();
    let mut profiles = Vec::new();
    for (name, own) in &file.profiles {
        cx.defaults_port(&own.value, &defaults);
        let merged = own.value.over(&defaults);
        let pin = pins.get(name).map(String::as_str);
        if let Some((profile, failover)) = cx.profile(name, own, &merged, (&settings.run_dir, pin), &default_inherit) {
            profiles.push(profile);
            failovers.insert(name.clone(), (merged.standby_for, failover));
        }
    }
    cx.standbys(&failovers, &mut profiles);
    if cx.diags.has_errors() {
        return Err(cx.diags);
    }
    Ok(Validated {
        dir: dir.clone(),
        profiles,
        settings,
        warnings: cx.diags,
    })
}

/// The fleet file's bytes as text.
///
/// Errors: one diagnostic at the line and column of the first byte that is not UTF-8.
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, Diagnostics> {
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = bytes.get(..good).unwrap_or_default();
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = std::str::from_utf8(before.get(line_start..).unwrap_or_default()).map_or(1, |s| s.chars().count() + 1);
        let byte = bytes.get(good).copied().unwrap_or_default();
        let place = Place::at(
            path,
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        );
        let d = Diagnostic::error(place, format!("byte 0x{byte:02x} is not UTF-8: the fleet file must be UTF-8 text"))
            .hint("re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`");
        Diagnostics(vec![d])
    })
}

/// Turns a YAML/serde error into a diagnostic, adding "did you mean" for unknown keys and what was
/// written for a number that does not read.
fn parse_error(path: &Path, text: &str, e: &serde_saphyr::Error) -> Diagnostic {
    let (place, written) = match e.location() {
        Some(l) => {
            let (line, column) = (l.line() as u32, l.column() as u32);
            (Place::at(path, line, column), written_at(text, line, column))
        }
        None => (Place::file(path), None),
    };
    let message = parse_message(&e.without_snippet().to_string());
    let d = Diagnostic::error(place, message.clone());
    if let Some((unknown, expected)) = unknown_field(&message) {
        let hint = match did_you_mean(&unknown, expected.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? (keys here: {})", expected.join(", ")),
            None => format!("remove it; keys allowed here: {}", expected.join(", ")),
        };
        return d.hint(hint);
    }
    if message.contains("recursion limit exceeded") {
        return Diagnostic {
            message: "the YAML nests too deep here (the parser stops at a few hundred levels of lists and maps)".into(),
            ..d
        }
        .hint(
            "a fleet file needs a handful of levels: close the `[`/`{` opened before this point, or write the list one `- item` per line",
        );
    }
    let (what, hint) = if message.contains("u16") {
        ("a port", "a port is an integer from 1 to 65535")
    } else if message.contains("u32") {
        ("a whole number", "write a whole number")
    } else {
        return d;
    };
    match written {
        Some(w) => Diagnostic {
            message: format!("{message}: `{w}` is not {what}"),
            ..d
        },
        None => d,
    }
    .hint(hint)
}

/// serde-saphyr's message without what the place already says: the "error: line L column C: "
/// prefix and a trailing ", at line L, column C". Anything else, such as an alias's
/// "(defined at line L, column C) (used at line L, column C)", is kept whole.
fn parse_message(raw: &str) -> String {
    let message = raw
        .split_once(": ")
        .and_then(|(head, rest)| if head.starts_with("error") { Some(rest) } else { None })
        .map(|rest| match rest.split_once(": ") {
            Some((pos, msg)) if pos.starts_with("line ") => msg,
            _ => rest,
        })
        .unwrap_or(raw);
    let Some((head, position)) = message.rsplit_once(" at line ") else {
        return message.to_string();
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match position.split_once(", column ") {
        Some((line, column)) if digits(line) && digits(column) => head.trim_end_matches(',').to_string(),
        _ => message.to_string(),
    }
}

/// The scalar written at 1-based `line` and `column` of `text` (up to a `,`, `]`, `}` or `#`).
fn written_at(text: &str, line: u32, column: u32) -> Option<String> {
    let row = text.lines().nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let from: String = row.chars().skip(usize::try_from(column).ok()?.saturating_sub(1)).collect();
    let scalar = from.split([',', ']', '}', '#']).next().unwrap_or_default().trim();
    (!scalar.is_empty()).then(|| scalar.chars().take(40).collect())
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

/// Validation context: the file, clawherd's env, the profile being validated, and the problems
/// found so far.
struct Cx<'a> {
    path: &'a Path,
    /// `path`, shared by the places of the values written in it.
    file: Arc<Path>,
    dir: &'a Path,
    env: &'a BTreeMap<String, String>,
    /// The profile whose values are being checked: every diagnostic meanwhile names it, and its
    /// keys are `profiles.<name>.<key>`.
    profile: Option<String>,
    diags: Diagnostics,
}

/// Value helpers: place, errors, text, paths, enums, durations and counts with their ranges.
impl Cx<'_> {
    fn place<T>(&self, s: &Spanned<T>) -> Place {
        Place::shared(&self.file, s.referenced.line() as u32, s.referenced.column() as u32)
    }

    /// The full key path of `key`: `profiles.<name>.<key>` inside a profile.
    fn key(&self, key: &str) -> String {
        match &self.profile {
            Some(p) => format!("profiles.{p}.{key}"),
            None => key.to_string(),
        }
    }

    /// An error at `s` about `key` (relative to the current profile).
    fn error<T>(&mut self, s: &Spanned<T>, key: &str, message: String, hint: impl Into<String>) {
        let mut d = Diagnostic::error(self.place(s), message).key(self.key(key)).hint(hint);
        if let Some(p) = &self.profile {
            d = d.profile(p);
        }
        self.diags.push(d);
    }

    fn home(&self) -> Option<&str> {
        self.env.get("HOME").map(String::as_str)
    }

    /// Expands `~`/`${VAR}` in one string; reports an unset variable and a NUL byte.
    fn expand_one(&mut self, s: &Spanned<impl Sized>, item: &str, key: &str) -> Option<String> {
        let env = self.env;
        let lookup = |name: &str| env.get(name).cloned();
        match expand(item, &lookup, self.home()) {
            Ok(v) if v.contains('\0') => {
                let message = "the value contains a NUL byte".to_string();
                self.error(
                    s,
                    key,
                    message,
                    "remove it: no program can be given a NUL byte, so every start would fail",
                );
                None
            }
            Ok(v) => Some(v),
            Err(UnsetVar(name)) => {
                let msg = format!("`${{{name}}}` is not set in clawherd's environment");
                let hint = format!("export {name} before starting clawherd, or write `$${{{name}}}` for a literal `${{{name}}}`");
                self.error(s, key, msg, hint);
                None
            }
        }
    }

    /// Expands a string value.
    fn text(&mut self, s: &Spanned<String>, key: &str) -> Option<String> {
        self.expand_one(s, &s.value, key)
    }

    /// Expands each item of a list value (a command line), with no spare room (a profile keeps
    /// it for the daemon's life).
    fn list(&mut self, s: &Spanned<Vec<String>>, key: &str) -> Vec<String> {
        let mut items: Vec<String> = s.value.iter().filter_map(|item| self.expand_one(s, item, key)).collect();
        items.shrink_to_fit();
        items
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

    fn located_path(&mut self, s: &Spanned<String>, key: &str) -> Option<Sourced<PathBuf>> {
        let value = self.path_value(s, key)?;
        Some(Sourced::fleet(value, self.place(s), self.key(key)))
    }

    /// The value of an enum, duration or size key; `None` with its error reported.
    fn parsed<T: Clone>(&mut self, s: &Spanned<Parsed<T>>, key: &str) -> Option<T> {
        match &s.value.value {
            Ok(v) => Some(v.clone()),
            Err(e) => {
                let (message, hint) = (e.message.clone(), e.hint.clone());
                self.error(s, key, message, hint);
                None
            }
        }
    }

    /// Whether `value` (written as `written`) is in `range`; reports it if not.
    fn in_range<T: Bound, U>(&mut self, s: &Spanned<U>, written: &str, value: T, key: &str, range: &Range<T>) -> bool {
        if range.contains(value) {
            return true;
        }
        let message = format!("`{written}` is out of range: it must be {}", range.describe());
        let hint = format!(
            "write a value from {} to {} (docs/fleet-file.md lists every range)",
            range.min.show(),
            range.max.show()
        );
        self.error(s, key, message, hint);
        false
    }

    /// A duration key: `default` when unset; a bad or out-of-range value is reported (and read
    /// as `default`, validation fails anyway).
    fn duration(&mut self, s: Option<&DurationFile>, key: &str, range: &Range<Duration>, default: Duration) -> Duration {
        let Some(s) = s else { return default };
        match self.parsed(s, key) {
            Some(d) if self.in_range(s, &s.value.text, d.0, key, range) => d.0,
            _ => default,
        }
    }

    /// A count key: `default` when unset; a 0 that `zero` explains is reported with that
    /// message, any other value out of range with the range.
    fn count(&mut self, s: Option<&Spanned<u32>>, key: &str, range: &Range<u32>, zero: Option<&str>, default: u32) -> u32 {
        let Some(s) = s else { return default };
        if let (0, Some(why)) = (s.value, zero) {
            self.error(s, key, why.into(), "use 1 or more");
            return default;
        }
        if self.in_range(s, &s.value.to_string(), s.value, key, range) {
            s.value
        } else {
            default
        }
    }
}

/// Fleet-level rules: version, settings, hooks.
impl Cx<'_> {
    fn version(&mut self, version: &Spanned<u32>) {
        if version.value != 1 {
            let message = format!("unsupported fleet file version {}", version.value);
            self.error(version, "version", message, "set `version: 1`");
        }
    }

    /// The pins `clawherd upgrade` wrote under `run_dir`; an unreadable pins file is an error,
    /// a pin for a profile the fleet does not have a warning.
    fn pins(&mut self, run_dir: &Path, profiles: &BTreeMap<String, Spanned<Box<ProfileFile>>>) -> BTreeMap<String, String> {
        let path = version::pins_path(run_dir);
        match version::read_pins(run_dir) {
            Ok(pins) => {
                // One warning for all of them: a pins file may name any number of profiles.
                let unknown: Vec<&str> = pins.keys().filter(|n| !profiles.contains_key(*n)).map(String::as_str).collect();
                if let Some(message) = unknown_pins(&unknown) {
                    self.diags.push(
                        Diagnostic::warning(Place::file(&path), message)
                            .key("openclaw_version")
                            .hint("run `clawherd upgrade --unpin`, or remove the entries"),
                    );
                }
                pins
            }
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(Place::file(&path), e.to_string())
                        .key("openclaw_version")
                        .hint("fix or delete the file (`clawherd upgrade` writes it); the fleet file's `openclaw_version` then applies"),
                );
                BTreeMap::new()
            }
        }
    }

    fn some_profiles(&mut self, profiles: &BTreeMap<String, Spanned<Box<ProfileFile>>>) {
        if profiles.is_empty() {
            self.diags.push(
                Diagnostic::error(Place::file(self.path), "the fleet declares no profiles")
                    .key("profiles")
                    .hint("add at least one profile under `profiles:`, e.g. `main: {role: main, port: 18789}`"),
            );
        }
    }

    fn settings(&mut self, file: &FleetFile) -> FleetSettings {
        let run_dir = match &file.run_dir {
            Some(s) => self.path_value(s, "run_dir").unwrap_or_else(|| default_run_dir(self.dir, self.env)),
            None => default_run_dir(self.dir, self.env),
        };
        let control = file.control.as_ref();
        FleetSettings {
            rotation: self.rotation(file.logs.as_ref()),
            socket: self.socket(control.and_then(|c| c.socket.as_ref()), &run_dir),
            socket_group: control.and_then(|c| c.group.as_ref()).and_then(|g| self.group(g)),
            watch: file.watch.as_ref().is_some_and(|w| w.value),
            hooks: self.hooks(file.hooks.as_ref()),
            metrics_listen: file
                .metrics
                .as_ref()
                .and_then(|m| m.listen.as_ref())
                .and_then(|s| self.metrics_listen(s)),
            run_dir,
        }
    }

    fn rotation(&mut self, logs: Option<&LogsFile>) -> super::Rotation {
        let mut rotation = super::Rotation::default();
        let Some(l) = logs else { return rotation };
        if let Some(s) = &l.max_size
            && let Some(ByteSize(b)) = self.parsed(s, "logs.max_size")
            && self.in_range(s, &s.value.text, b, "logs.max_size", &ranges::LOGS_MAX_SIZE)
        {
            rotation.max_bytes = b;
        }
        rotation.keep = self.count(l.keep.as_ref(), "logs.keep", &ranges::LOGS_KEEP, None, rotation.keep);
        rotation
    }

    /// The control socket path, refused when longer than a Unix socket address allows.
    fn socket(&mut self, s: Option<&Spanned<String>>, run_dir: &Path) -> PathBuf {
        let socket = match s {
            Some(s) => self
                .path_value(s, "control.socket")
                .unwrap_or_else(|| run_dir.join("clawherd.sock")),
            None => default_socket(run_dir, self.env),
        };
        if socket.as_os_str().len() > 100 {
            let message = format!(
                "control socket path {} is longer than a Unix socket allows (about 100 bytes)",
                socket.display()
            );
            self.diags.push(
                Diagnostic::error(Place::file(self.path), message)
                    .key("control.socket")
                    .hint("set `control: {socket: /run/clawherd/NAME.sock}` or a shorter `run_dir`"),
            );
        }
        // Something other than a socket at the path is never replaced by `run`: say so now.
        if let Ok(meta) = std::fs::symlink_metadata(&socket) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                let message = format!(
                    "control socket path {} is {}, not a socket; clawherd will not replace it",
                    socket.display(),
                    super::read::file_kind(meta.file_type())
                );
                let place = s.map_or_else(|| Place::file(self.path), |s| self.place(s));
                self.diags.push(
                    Diagnostic::error(place, message)
                        .key("control.socket")
                        .hint("move or remove it, or set `control.socket` to another path"),
                );
            }
        }
        socket
    }

    fn group(&mut self, g: &Spanned<String>) -> Option<(String, u32)> {
        match nix::unistd::Group::from_name(&g.value) {
            Ok(Some(grp)) => Some((g.value.clone(), grp.gid.as_raw())),
            _ => {
                let message = format!("group `{}` does not exist on this host", g.value);
                let hint = "create it (`groupadd`), or remove the key to allow only clawherd's user";
                self.error(g, "control.group", message, hint);
                None
            }
        }
    }

    fn metrics_listen(&mut self, s: &Spanned<String>) -> Option<std::net::SocketAddr> {
        let Ok(a) = s.value.parse::<std::net::SocketAddr>() else {
            let message = format!("`{}` is not a host:port address", s.value);
            self.error(s, "metrics.listen", message, "write e.g. `127.0.0.1:9464`");
            return None;
        };
        if !a.ip().is_loopback() {
            let d = Diagnostic::warning(self.place(s), format!("metrics listen on {a}, reachable from other hosts"))
                .key("metrics.listen")
                .hint("metrics name your profiles and ports; prefer 127.0.0.1 unless a firewall guards the port");
            self.diags.push(d);
        }
        Some(a)
    }

    /// The fleet-level `hooks:` block.
    fn hooks(&mut self, h: Option<&HooksFile>) -> Hooks {
        let default_timeout = Duration::from_secs(10);
        let Some(h) = h else {
            return Hooks {
                command: None,
                url: None,
                timeout: default_timeout,
                env_inherit: EnvInherit::default(),
            };
        };
        let command = h.command.as_ref().map(|c| self.list(c, "hooks.command")).filter(|c| !c.is_empty());
        let url = h.url.as_ref().and_then(|u| {
            let v = self.text(u, "hooks.url")?;
            if v.starts_with("http://") {
                return Some(v);
            }
            let hint = "clawherd posts hooks over plain HTTP, e.g. to a local relay: http://127.0.0.1:9000/clawherd";
            self.error(u, "hooks.url", format!("`{v}` is not an http:// URL"), hint);
            None
        });
        let timeout = self.duration(h.timeout.as_ref(), "hooks.timeout", &ranges::TIMEOUT, default_timeout);
        // `env_inherit` is `defaults.env_inherit`, filled in by `validate`.
        Hooks {
            command,
            url,
            timeout,
            env_inherit: EnvInherit::default(),
        }
    }
}

/// Identity rules: the `user:`/`group:` a gateway runs as.
impl Cx<'_> {
    /// `user:` and `group:`, looked up in the user and group databases; `None` (with the error
    /// reported, if any) when unset or wrong.
    fn run_as(&mut self, p: &ProfileFile) -> Option<RunAs> {
        let Some(u) = &p.user else {
            if let Some(g) = &p.group {
                let hint = "add `user: NAME` (the gateway runs as that user, with this group), or remove `group`";
                self.error(g, "group", "`group` is set without `user`".into(), hint);
            }
            return None;
        };
        let name = self.text(u, "user")?;
        if let Some((message, hint)) = not_a_user_name(&name) {
            self.error(u, "user", message, hint);
            return None;
        }
        let user = match nix::unistd::User::from_name(&name) {
            Ok(Some(user)) => user,
            Ok(None) => {
                let hint = format!(
                    "create it (`useradd --system --create-home --home-dir /var/lib/{name} --shell /usr/sbin/nologin {name}`), or fix the name"
                );
                self.error(u, "user", format!("user `{name}` does not exist on this host"), hint);
                return None;
            }
            Err(e) => {
                let hint = "check the user database (`getent passwd NAME`)";
                self.error(u, "user", format!("cannot look user `{name}` up: {e}"), hint);
                return None;
            }
        };
        let (group, gid) = match &p.group {
            Some(g) => {
                let gname = self.text(g, "group")?;
                match nix::unistd::Group::from_name(&gname) {
                    Ok(Some(grp)) => (gname, grp.gid),
                    _ => {
                        let hint = format!("create it (`groupadd --system {gname}`), or remove `group` to use the user's primary group");
                        self.error(g, "group", format!("group `{gname}` does not exist on this host"), hint);
                        return None;
                    }
                }
            }
            None => {
                let gname = nix::unistd::Group::from_gid(user.gid).ok().flatten().map(|g| g.name);
                (gname.unwrap_or_else(|| user.gid.to_string()), user.gid)
            }
        };
        let (uid, gid) = (user.uid.as_raw(), gid.as_raw());
        let me = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        if let Err(message) = may_switch(me, (uid, gid), &name) {
            let hint = "run clawherd as root (the system unit, docs/systemd.md), or remove `user`/`group` to run the gateway as clawherd's own user";
            self.error(u, "user", message, hint);
            return None;
        }
        // Supplementary groups as a login would have them; the name has no NUL (checked above).
        let groups = std::ffi::CString::new(name.clone())
            .ok()
            .and_then(|c| nix::unistd::getgrouplist(&c, nix::unistd::Gid::from_raw(gid)).ok())
            .map_or_else(|| vec![gid], |g| g.into_iter().map(|g| g.as_raw()).collect());
        Some(RunAs {
            user: name,
            group,
            credentials: crate::process::spawn::Credentials { uid, gid, groups },
            home: user.dir,
            place: self.place(u),
        })
    }
}

/// Profiles named at most in one warning about pins for profiles the fleet does not have.
const UNKNOWN_PINS_SHOWN: usize = 5;

/// The warning about pins for profiles the fleet does not have (`unknown`, in order), naming
/// the first [`UNKNOWN_PINS_SHOWN`] and counting the rest; `None` when there are none.
fn unknown_pins(unknown: &[&str]) -> Option<String> {
    let (first, rest) = match unknown {
        [] => return None,
        [one] => return Some(format!("a version is pinned for `{one}`, which the fleet does not have")),
        _ => unknown.split_at(unknown.len().min(UNKNOWN_PINS_SHOWN)),
    };
    let names = first.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let more = if rest.is_empty() {
        String::new()
    } else {
        format!(" and {} more", rest.len())
    };
    Some(format!(
        "versions are pinned for {} profiles the fleet does not have: {names}{more}",
        unknown.len()
    ))
}

/// Why `name` cannot be a `user:` (message, hint), before it is looked up: a number (the key
/// takes a name; a uid would be taken for a name and the hint would say to create a user
/// called `1000`), or characters no user name has (blanks, control characters, `:` and `/`,
/// which would also break the `useradd` line of the hint). `None` for a plausible name.
fn not_a_user_name(name: &str) -> Option<(String, String)> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        let owner = name
            .parse::<u32>()
            .ok()
            .and_then(|uid| nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten());
        let hint = match owner {
            Some(u) => format!("write the name: uid {name} is user `{}`, so `user: {}`", u.name, u.name),
            None => format!("write a user name; no user has uid {name} on this host"),
        };
        return Some((format!("`user:` takes a user name, not a uid ({name})"), hint));
    }
    let bad = name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '/'));
    bad.then(|| {
        (
            format!("{name:?} is not a user name"),
            "write the name of an existing user (`getent passwd NAME`), without blanks, control characters, `:` or `/`".to_string(),
        )
    })
}

/// Whether a clawherd running with effective uid and gid `me` may run a gateway as `to` (uid,
/// gid) of user `name`: root may switch to anyone; any other user only runs gateways as itself
/// (its own uid and gid: nothing to switch).
///
/// Errors: what stands in the way, for the diagnostic at `user:`.
pub fn may_switch(me: (u32, u32), to: (u32, u32), name: &str) -> Result<(), String> {
    if me.0 == 0 || me == to {
        return Ok(());
    }
    Err(format!(
        "clawherd runs as uid {} gid {}, not root, so it cannot run this gateway as user `{name}` (uid {} gid {})",
        me.0, me.1, to.0, to.1
    ))
}

/// Profile rules: one function per section of a profile, on the profile merged with `defaults:`.
impl Cx<'_> {
    /// `defaults.port` applies one base port to every profile that sets none: a warning.
    /// Said once for the fleet, not once per profile.
    fn defaults_port(&mut self, own: &ProfileFile, defaults: &ProfileFile) {
        let said = self.diags.0.iter().any(|d| d.key.as_deref() == Some("defaults.port"));
        if let (None, Some(s), false) = (&own.port, &defaults.port, said) {
            self.diags.push(
                Diagnostic::warning(self.place(s), "`defaults.port` gives every profile the same base port")
                    .key("defaults.port")
                    .hint("set `port` per profile instead"),
            );
        }
    }

    /// Profile `name`, as written (`own`) and merged with the defaults (`p`), with its failover
    /// settings for [`Cx::standbys`]; `version` is the run dir (the store's home) and the
    /// profile's pin from `clawherd upgrade`, if any.
    fn profile(
        &mut self,
        name: &str,
        own: &Spanned<Box<ProfileFile>>,
        p: &ProfileFile,
        version: (&Path, Option<&str>),
        default_inherit: &EnvInherit,
    ) -> Option<(Profile, Failover)> {
        let errors_before = self.diags.error_count();
        self.profile = Some(name.to_string());
        self.profile_name(name, own);
        let role = self.role(name, own, p);
        let flavor = match &p.flavor {
            Some(s) => self.parsed(s, "flavor"),
            None => Some(Flavor::OpenClaw),
        };
        let openclaw_profile = self.openclaw_profile(p);
        let config = p.config.as_ref().and_then(|s| self.located_path(s, "config"));
        let state_dir = p.state_dir.as_ref().and_then(|s| self.located_path(s, "state_dir"));
        let workspace = p.workspace.as_ref().and_then(|s| self.located_path(s, "workspace"));
        let cwd = p.cwd.as_ref().and_then(|s| self.path_value(s, "cwd"));
        let run_as = self.run_as(p);
        let port = self.port(p);
        let ports = self.ports(flavor, p);
        if flavor == Some(Flavor::Process) {
            self.process_keys(own, p);
        }
        let command = match self.versioned_command(flavor, p, version) {
            Some(c) => c,
            None => self.command(flavor, p),
        };
        let args = p.args.as_ref().map(|s| self.list(s, "args")).unwrap_or_default();
        let env = self.env(p);
        // A `defaults.env_inherit` was checked once, at `defaults:`.
        let env_inherit = match &own.value.env_inherit {
            Some(s) => self.env_inherit(s, "env_inherit"),
            None => default_inherit.clone(),
        };
        let restart = self.restart(flavor, p.restart.as_ref());
        let health = self.health(p.health.as_ref());
        let stop_timeout = self.duration(p.stop_timeout.as_ref(), "stop_timeout", &ranges::STOP_TIMEOUT, DEFAULT_STOP_TIMEOUT);
        let leftover_grace = self.duration(
            p.leftover_grace.as_ref(),
            "leftover_grace",
            &ranges::STOP_TIMEOUT,
            DEFAULT_LEFTOVER_GRACE,
        );
        let failover = self.failover(p);
        let rollout = self.rollout(p.rollout.as_ref());
        self.profile = None;
        if self.diags.error_count() > errors_before {
            return None;
        }
        let profile = Profile {
            name: name.to_string(),
            place: self.place(own),
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
            env_inherit,
            cwd,
            run_as,
            restart,
            stop_timeout,
            leftover_grace,
            health,
            standby: None,
            rollout,
        };
        Some((profile, failover?))
    }

    fn profile_name(&mut self, name: &str, own: &Spanned<Box<ProfileFile>>) {
        if !valid_profile_name(name) {
            let d = Diagnostic::error(self.place(own), format!("`{name}` is not a valid profile name"))
                .profile(name)
                .key("profiles")
                .hint("use 1-64 lowercase letters, digits, `-` or `_`, starting with a letter or digit (OpenClaw's profile-name rule)");
            self.diags.push(d);
        }
    }

    /// The role as written, else the one a profile named `main` or `rescue` has.
    fn role(&mut self, name: &str, own: &Spanned<Box<ProfileFile>>, p: &ProfileFile) -> Option<Role> {
        if let Some(s) = &p.role {
            return self.parsed(s, "role");
        }
        match name {
            "main" => Some(Role::Main),
            "rescue" => Some(Role::Rescue),
            _ => {
                self.error(own, "role", "no role".into(), "add `role: main` or `role: rescue`");
                None
            }
        }
    }

    /// `openclaw_profile`: `None` for OpenClaw's default profile.
    fn openclaw_profile(&mut self, p: &ProfileFile) -> Option<String> {
        let s = p.openclaw_profile.as_ref()?;
        if s.value.eq_ignore_ascii_case("default") {
            return None;
        }
        if valid_profile_name(&s.value.to_ascii_lowercase()) {
            return Some(s.value.clone());
        }
        let message = format!("`{}` is not a valid OpenClaw profile name (openclaw would exit 2)", s.value);
        self.error(
            s,
            "openclaw_profile",
            message,
            "use `default` or a name matching ^[a-z0-9][a-z0-9_-]{0,63}$",
        );
        None
    }

    fn port(&mut self, p: &ProfileFile) -> Option<Sourced<u16>> {
        let s = p.port.as_ref()?;
        if s.value == 0 {
            self.error(s, "port", "port 0 is not a fixed port".into(), "choose a port in 1024..=65425");
            return None;
        }
        Some(Sourced::fleet(s.value, self.place(s), self.key("port")))
    }

    /// `ports`, only for `flavor: process`, each a fixed port.
    fn ports(&mut self, flavor: Option<Flavor>, p: &ProfileFile) -> Vec<Sourced<u16>> {
        let Some(s) = p.ports.as_ref() else { return Vec::new() };
        if flavor != Some(Flavor::Process) {
            let hint = "a gateway's ports are derived from `port`; remove `ports`";
            self.error(s, "ports", "`ports` is for `flavor: process`".into(), hint);
            return Vec::new();
        }
        let mut ports = Vec::new();
        for &value in &s.value {
            if self.in_range(s, &value.to_string(), value, "ports", &ranges::PORT) {
                let (place, key) = (self.place(s), self.key("ports"));
                ports.push(Sourced::fleet(value, place, key));
            }
        }
        ports
    }

    /// A plain process sets none of a gateway's keys itself, and needs a command.
    fn process_keys(&mut self, own: &Spanned<Box<ProfileFile>>, p: &ProfileFile) {
        let o = &own.value;
        let gateway_only = [
            ("openclaw_profile", o.openclaw_profile.is_some()),
            ("config", o.config.is_some()),
            ("state_dir", o.state_dir.is_some()),
            ("workspace", o.workspace.is_some()),
        ];
        for (k, _) in gateway_only.into_iter().filter(|(_, set)| *set) {
            let hint = format!("remove `{k}`, or use a gateway flavor");
            self.error(own, k, format!("`{k}` is not used by `flavor: process`"), hint);
        }
        if p.command.is_none() {
            let hint = "add e.g. `command: [cloudflared, tunnel, run]`";
            self.error(own, "command", "`flavor: process` needs a command".into(), hint);
        }
    }

    /// The store's program for the profile's `openclaw_version` (or its pin from `clawherd
    /// upgrade`, which wins): `None` when neither is set. Reports a version that is not plain, a
    /// `flavor: process` or an explicit `command` beside it, and a version not installed.
    fn versioned_command(&mut self, flavor: Option<Flavor>, p: &ProfileFile, (run_dir, pin): (&Path, Option<&str>)) -> Option<Vec<String>> {
        let written = p.openclaw_version.as_ref();
        let (version, from) = match (pin, written) {
            (Some(pin), _) => (pin.to_string(), format!("the pin in {}", version::pins_path(run_dir).display())),
            (None, Some(s)) => (s.value.trim().to_string(), "`openclaw_version`".to_string()),
            (None, None) => return None,
        };
        let package = match flavor {
            Some(Flavor::Clawdbot) => "clawdbot",
            Some(Flavor::OpenClaw) => "openclaw",
            Some(Flavor::Process) | None => "",
        };
        let place = |cx: &Self| match (pin, written) {
            (None, Some(s)) => cx.place(s),
            _ => Place::file(&version::pins_path(run_dir)),
        };
        if package.is_empty() {
            if flavor.is_some() {
                let d = Diagnostic::error(place(self), format!("{from} is for gateways, not `flavor: process`"))
                    .key(self.key("openclaw_version"))
                    .hint("remove it, or set `flavor: openclaw`");
                self.push_profile_diag(d);
            }
            return Some(Vec::new());
        }
        if !version::is_plain_version(&version) {
            let d = Diagnostic::error(place(self), format!("{from}: `{version}` is not a plain version"))
                .key(self.key("openclaw_version"))
                .hint("write the exact version npm publishes, e.g. `openclaw_version: \"2026.9.6\"` (no range, tag, path or URL)");
            self.push_profile_diag(d);
            return Some(Vec::new());
        }
        if let Some(c) = &p.command {
            self.error(
                c,
                "command",
                format!("`command` and {from} are both set"),
                "remove one: the version decides the command",
            );
            return Some(Vec::new());
        }
        let program = version::program(run_dir, package, &version);
        if !program.exists() {
            let d = Diagnostic::error(
                place(self),
                format!("{package}@{version} ({from}) is not installed: {} is missing", program.display()),
            )
            .key(self.key("openclaw_version"))
            .hint(format!("run `clawherd install {package}@{version} -f {}`", self.path.display()));
            self.push_profile_diag(d);
            return Some(Vec::new());
        }
        Some(vec![program.display().to_string(), "gateway".into(), "run".into()])
    }

    /// Pushes `d` naming the current profile.
    fn push_profile_diag(&mut self, mut d: Diagnostic) {
        if let Some(p) = &self.profile {
            d = d.profile(p);
        }
        self.diags.push(d);
    }

    /// The command line, default the flavor's gateway command.
    fn command(&mut self, flavor: Option<Flavor>, p: &ProfileFile) -> Vec<String> {
        let program = match flavor {
            Some(Flavor::Clawdbot) => "clawdbot",
            _ => "openclaw",
        };
        let default_command = vec![program.to_string(), "gateway".into(), "run".into()];
        match &p.command {
            Some(s) if s.value.first().is_none_or(|c| c.trim().is_empty()) => {
                let hint = "write e.g. `command: [openclaw, gateway, run]`";
                self.error(s, "command", "the command is empty".into(), hint);
                default_command
            }
            Some(s) => self.list(s, "command"),
            None => default_command,
        }
    }

    /// `env:`, the defaults' entries with the profile's over them.
    fn env(&mut self, p: &ProfileFile) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for (k, v) in p.env.iter().flatten() {
            if let Some(value) = self.env_entry(k, v) {
                env.insert(k.clone(), value);
            }
        }
        env
    }

    /// `env_inherit:` at `key`: `allowlist`, `all`, or extra names and `*` patterns; an invalid
    /// value is reported and read as the plain allowlist.
    fn env_inherit(&mut self, s: &Spanned<EnvInheritFile>, key: &str) -> EnvInherit {
        let names = match &s.value {
            EnvInheritFile::Word(w) if w == "allowlist" => return EnvInherit::default(),
            EnvInheritFile::Word(w) if w == "all" => return EnvInherit::All,
            EnvInheritFile::Word(w) => {
                let hint = "write `allowlist` (the default), `all`, or a list of extra names such as [OPENAI_API_KEY, \"AWS_*\"]";
                self.error(s, key, format!("`{w}` is not a choice of env_inherit"), hint);
                return EnvInherit::default();
            }
            EnvInheritFile::Names(names) => names,
        };
        let mut ok = Vec::new();
        for name in names {
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '*')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            let literal = name.split('*').next().unwrap_or_default();
            if !valid {
                let hint =
                    "a name is letters, digits and `_` (not starting with a digit); `*` matches any run of characters, as in `AWS_*`";
                self.error(s, key, format!("`{name}` is not a variable name or pattern"), hint);
            } else if scrubbed(literal) {
                let example = if name.contains('*') {
                    "OPENCLAW_GATEWAY_TOKEN"
                } else {
                    name.as_str()
                };
                let hint = format!(
                    "clawherd never passes these from its own environment (it sets OPENCLAW_*/CLAWDBOT_* itself and keeps supervisor hints away from the gateway); give a value in env instead, e.g. `env: {{{example}: \"${{{example}}}\"}}`"
                );
                self.error(
                    s,
                    key,
                    format!("`{name}` names variables clawherd removes from every child's environment"),
                    hint,
                );
            } else {
                ok.push(name.clone());
            }
        }
        EnvInherit::Allowlist(ok)
    }

    fn env_entry(&mut self, k: &str, v: &Spanned<String>) -> Option<String> {
        let key = format!("env.{k}");
        let valid = !k.is_empty() && !k.contains('=') && !k.contains('\0') && !k.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            let message = format!("`{k}` is not a valid environment variable name");
            self.error(v, &key, message, "use letters, digits and `_`");
            return None;
        }
        if let Some((_, instead)) = RESERVED_ENV.iter().find(|(r, _)| *r == k) {
            self.error(
                v,
                &key,
                format!("`{k}` is set by clawherd"),
                format!("remove it from env and set {instead}"),
            );
            return None;
        }
        if k.starts_with("CLAWHERD_") {
            let message = format!("`{k}` is reserved for clawherd's own markers");
            self.error(v, &key, message, "choose another name");
            return None;
        }
        self.text(v, &key)
    }

    /// The `restart:` block.
    fn restart(&mut self, flavor: Option<Flavor>, r: Option<&RestartFile>) -> RestartSettings {
        let policy = r.and_then(|r| r.policy.as_ref()).and_then(|s| self.parsed(s, "restart.policy"));
        let (backoff_initial, backoff_max, backoff_reset_after) = self.backoff(r.and_then(|r| r.backoff.as_ref()));
        let crash_loop = r.and_then(|r| r.crash_loop.as_ref());
        let (crash_loop_max_starts, crash_loop_window, crash_loop_retry) = self.crash_loop(flavor, crash_loop);
        RestartSettings {
            policy: policy.unwrap_or(RestartPolicy::Always),
            backoff_initial,
            backoff_max,
            backoff_reset_after,
            crash_loop_max_starts,
            crash_loop_window,
            crash_loop_retry,
        }
    }

    /// `restart.backoff:` initial, max (not below initial) and reset_after.
    fn backoff(&mut self, b: Option<&BackoffFile>) -> (Duration, Duration, Duration) {
        let field = |f: fn(&BackoffFile) -> Option<&DurationFile>| b.and_then(f);
        let (range, default) = (&ranges::DELAY, Duration::from_secs(60));
        let initial = self.duration(
            field(|b| b.initial.as_ref()),
            "restart.backoff.initial",
            range,
            Duration::from_secs(1),
        );
        let max_s = field(|b| b.max.as_ref());
        let max = self.duration(max_s, "restart.backoff.max", range, default);
        let reset = self.duration(field(|b| b.reset_after.as_ref()), "restart.backoff.reset_after", range, default);
        if max < initial
            && let Some(s) = max_s
        {
            let hint = format!("set it to at least {}", humantime::format_duration(initial));
            let message = "the maximum backoff is below the initial one".to_string();
            self.error(s, "restart.backoff.max", message, hint);
        }
        (initial, max, reset)
    }

    /// `restart.crash_loop:` max_starts, window and retry_every. The defaults depend on what
    /// runs: a gateway boots in 10-40 s, so 6 starts in 5 min is a loop (retried every 5 min); a
    /// plain process restarts in milliseconds, so it gets systemd-like limits: 10 starts in 10 s,
    /// retried every 30 s.
    fn crash_loop(&mut self, flavor: Option<Flavor>, c: Option<&CrashLoopFile>) -> (u32, Duration, Duration) {
        let (def_max, def_window, def_retry) = match flavor {
            Some(Flavor::Process) => (10, Duration::from_secs(10), Duration::from_secs(30)),
            _ => (6, Duration::from_secs(300), Duration::from_secs(300)),
        };
        let max_starts_s = c.and_then(|c| c.max_starts.as_ref());
        let zero = Some("0 starts allows none");
        let max_starts = self.count(max_starts_s, "restart.crash_loop.max_starts", &ranges::MAX_STARTS, zero, def_max);
        let window_s = c.and_then(|c| c.window.as_ref());
        let window = self.duration(window_s, "restart.crash_loop.window", &ranges::DELAY, def_window);
        let retry_s = c.and_then(|c| c.retry_every.as_ref());
        let retry = self.duration(retry_s, "restart.crash_loop.retry_every", &ranges::CRASH_LOOP_RETRY, def_retry);
        (max_starts, window, retry)
    }

    /// The `rollout:` block (defaults: 2 min to become ready, 30 s of soak, rollback on).
    fn rollout(&mut self, r: Option<&RolloutFile>) -> RolloutSettings {
        let d = RolloutSettings::default();
        let verify = r.and_then(|r| r.verify_timeout.as_ref());
        let soak = r.and_then(|r| r.soak.as_ref());
        RolloutSettings {
            verify_timeout: self.duration(verify, "rollout.verify_timeout", &ranges::VERIFY_TIMEOUT, d.verify_timeout),
            soak: self.duration(soak, "rollout.soak", &ranges::DELAY, d.soak),
            rollback: r.and_then(|r| r.rollback.as_ref()).is_none_or(|b| b.value),
        }
    }

    /// The `health:` block.
    fn health(&mut self, h: Option<&HealthFile>) -> HealthSettings {
        let get = |f: fn(&HealthFile) -> Option<&DurationFile>| h.and_then(f);
        let period_s = get(|h| h.period.as_ref());
        let period = match period_s {
            Some(s) if matches!(&s.value.value, Ok(d) if d.0.is_zero()) => {
                self.error(
                    s,
                    "health.period",
                    "a zero period would probe without pause".into(),
                    "use e.g. `10s`",
                );
                Duration::from_secs(10)
            }
            _ => self.duration(period_s, "health.period", &ranges::PROBE_PERIOD, Duration::from_secs(10)),
        };
        let timeout = self.duration(
            get(|h| h.timeout.as_ref()),
            "health.timeout",
            &ranges::TIMEOUT,
            Duration::from_secs(5),
        );
        let grace_s = get(|h| h.startup_grace.as_ref());
        let startup_grace = self.duration(grace_s, "health.startup_grace", &ranges::DELAY, Duration::from_secs(300));
        let kill_s = get(|h| h.kill_after.as_ref());
        let kill_after = self.duration(kill_s, "health.kill_after", &ranges::STOP_TIMEOUT, Duration::from_secs(15));
        let threshold = h.and_then(|h| h.failure_threshold.as_ref());
        let why = Some("a threshold of 0 would fail on no failure");
        let failure_threshold = self.count(threshold, "health.failure_threshold", &ranges::FAILURE_THRESHOLD, why, 3);
        HealthSettings {
            period,
            timeout,
            failure_threshold,
            startup_grace,
            kill_after,
            liveness: h.and_then(|h| h.liveness.as_ref()).is_none_or(|l| l.value),
        }
    }
}

/// A profile's failover settings, checked with the profile; they apply once it turns out to
/// stand by for another.
#[derive(Debug, Clone, Copy)]
struct Failover {
    mode: StandbyMode,
    failover_after: Duration,
    failback_after: Duration,
}

/// Failover rules: each profile's settings, then who stands by for whom once every profile is
/// known.
impl Cx<'_> {
    /// `standby`, `failover_after` and `failback_after` (defaults: hot, 60 s, 60 s).
    fn failover(&mut self, p: &ProfileFile) -> Option<Failover> {
        let mode = match &p.standby {
            Some(s) => self.parsed(s, "standby"),
            None => Some(StandbyMode::Hot),
        };
        let minute = Duration::from_secs(60);
        let failover_after = self.duration(p.failover_after.as_ref(), "failover_after", &ranges::DELAY, minute);
        let failback_after = self.duration(p.failback_after.as_ref(), "failback_after", &ranges::DELAY, minute);
        Some(Failover {
            mode: mode?,
            failover_after,
            failback_after,
        })
    }

    /// Resolves who stands by for whom. A `rescue`-role profile stands by for the only
    /// `main`-role profile unless it names another with `standby_for`.
    fn standbys(&mut self, failovers: &BTreeMap<String, (Option<Spanned<String>>, Failover)>, profiles: &mut [Profile]) {
        let names: Vec<String> = profiles.iter().map(|p| p.name.clone()).collect();
        let mains: Vec<String> = profiles.iter().filter(|p| p.role == Role::Main).map(|p| p.name.clone()).collect();
        for profile in profiles.iter_mut() {
            let Some((standby_for, f)) = failovers.get(&profile.name) else {
                continue;
            };
            self.profile = Some(profile.name.clone());
            profile.standby = self
                .standby_target(profile, standby_for.as_ref(), &names, &mains)
                .map(|target| Standby {
                    standby_for: target,
                    mode: f.mode,
                    failover_after: f.failover_after,
                    failback_after: f.failback_after,
                });
        }
        self.profile = None;
    }

    /// The profile `profile` stands by for: as named by `standby_for`, else the only main for a
    /// rescue; `None` for a profile that stands by for none (or names a wrong one, reported).
    fn standby_target(
        &mut self,
        profile: &Profile,
        standby_for: Option<&Spanned<String>>,
        names: &[String],
        mains: &[String],
    ) -> Option<String> {
        match standby_for {
            Some(s) if s.value == profile.name => {
                let hint = "name the profile to protect, e.g. `main`";
                self.error(s, "standby_for", "a profile cannot stand by for itself".into(), hint);
                None
            }
            Some(s) if !names.contains(&s.value) => {
                let hint = did_you_mean(&s.value, names.iter().map(String::as_str))
                    .map_or(format!("profiles: {}", names.join(", ")), |n| format!("did you mean `{n}`?"));
                self.error(s, "standby_for", format!("no profile `{}` to stand by for", s.value), hint);
                None
            }
            Some(s) => Some(s.value.clone()),
            None if profile.role == Role::Rescue => match mains {
                [only] => Some(only.clone()),
                _ => None,
            },
            None => None,
        }
    }
}

/// OpenClaw's profile-name rule `^[a-z0-9][a-z0-9_-]{0,63}$` (`dist/profile-utils-*.mjs`), applied
/// to lowercase names.
pub fn valid_profile_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() <= 64
        && b.first().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_switches_users_and_anyone_may_name_itself() {
        assert_eq!(may_switch((0, 0), (1001, 1001), "oc"), Ok(()));
        assert_eq!(may_switch((1001, 1001), (1001, 1001), "oc"), Ok(()), "its own user and group");
        let other_user = may_switch((1000, 1000), (1001, 1001), "oc").expect_err("not root");
        assert!(
            other_user.contains("uid 1000 gid 1000, not root") && other_user.contains("user `oc` (uid 1001 gid 1001)"),
            "{other_user}"
        );
        assert!(
            may_switch((1001, 1001), (1001, 50), "oc").is_err(),
            "its own user with another group"
        );
    }

    /// A uid or a name no user can have is said to be one, not looked up as a name (whose hint
    /// said to `useradd` a user called `0`, or put a line break into the command).
    #[test]
    fn user_takes_a_name() {
        let user = |u: &str| {
            let text = format!("version: 1\nprofiles:\n  main: {{flavor: process, command: [x], user: {u}}}\n");
            run(&text)
                .expect_err("refused")
                .0
                .first()
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        let e = user("0");
        assert!(
            e.contains("`user:` takes a user name, not a uid (0)") && e.contains("uid 0 is user `root`"),
            "{e}"
        );
        let e = user("99999999999999999999");
        assert!(e.contains("not a uid") && e.contains("no user has uid 99999999999999999999"), "{e}");
        let e = user("\"x\\ny\"");
        assert!(e.contains(r#""x\ny" is not a user name"#) && !e.contains("useradd"), "{e}");
        assert!(user("no-such-user-here").contains("does not exist on this host"));
    }

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
    fn env_inherit_is_a_word_or_a_list_and_a_profile_replaces_the_default() {
        let v = run("version: 1\ndefaults:\n  env_inherit: [GITHUB_TOKEN, \"AWS_*\"]\nprofiles:\n  main:\n    port: 18789\n  rescue:\n    port: 19789\n    env_inherit: all\n  x:\n    role: rescue\n    port: 20789\n    env_inherit: allowlist\n")
            .expect("valid");
        let inherit: Vec<_> = v.profiles.iter().map(|p| p.env_inherit.clone()).collect();
        assert_eq!(
            inherit,
            [
                EnvInherit::Allowlist(vec!["GITHUB_TOKEN".into(), "AWS_*".into()]),
                EnvInherit::All,
                EnvInherit::Allowlist(Vec::new()),
            ]
        );
        assert_eq!(v.settings.hooks.env_inherit, inherit[0], "hooks follow defaults.env_inherit");
        let none = run("version: 1\nprofiles:\n  main: {port: 18789}\n").expect("valid");
        assert_eq!(none.profiles[0].env_inherit, EnvInherit::Allowlist(Vec::new()), "the default");
    }

    #[test]
    fn env_inherit_refuses_unknown_words_bad_names_and_never_inherited_ones() {
        let e = first_error("version: 1\nprofiles:\n  main:\n    env_inherit: everything\n");
        assert!(
            e.contains("profiles.main.env_inherit") && e.contains("`everything` is not a choice"),
            "{e}"
        );
        let d = run("version: 1\ndefaults:\n  env_inherit: [\"A-B\", OPENCLAW_GATEWAY_TOKEN, \"CLAWDBOT_*\", NODE_COMPILE_CACHE, OK_*]\nprofiles:\n  main: {port: 18789}\n")
            .expect_err("must fail");
        let all: Vec<String> = d.0.iter().map(ToString::to_string).collect();
        assert_eq!(all.len(), 4, "each bad entry once, at defaults, not again per profile: {all:#?}");
        assert!(
            all[0].contains("defaults.env_inherit") && all[0].contains("`A-B` is not a variable name"),
            "{all:#?}"
        );
        assert!(
            all[1].contains("`OPENCLAW_GATEWAY_TOKEN` names variables clawherd removes")
                && all[1].contains("env: {OPENCLAW_GATEWAY_TOKEN: \"${OPENCLAW_GATEWAY_TOKEN}\"}"),
            "{}",
            all[1]
        );
        assert!(
            all[2].contains("`CLAWDBOT_*`") && all[3].contains("`NODE_COMPILE_CACHE`"),
            "{all:#?}"
        );
        let e = first_error("version: 1\nprofiles:\n  main:\n    env_inherit: {A: b}\n");
        assert!(e.contains("`allowlist`, `all` or a list of variable names"), "{e}");
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
            main.port.as_ref().map(|p| (p.value, p.source.fleet_place().and_then(Place::line))),
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
            crate::fleet::Rotation {
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

    /// Issue 12: values `check` accepted but `run` could not survive (`Instant + d` overflow on
    /// stop, on a crash and at start; a 100 GB allocation in `clawherd logs`).
    #[test]
    fn every_number_and_duration_has_a_located_range() {
        let text = "version: 1\nlogs: {keep: 4294967295, max_size: 5GiB}\nhooks: {timeout: 2h}\nprofiles:\n  main:\n    stop_timeout: 300000000000y\n    restart: {backoff: {initial: 300000000000y}, crash_loop: {max_starts: 1000001, retry_every: 10ms}}\n    health: {period: 50ms, timeout: 0s, failure_threshold: 101, kill_after: 2h, startup_grace: 2d}\n  rescue:\n    failover_after: 300000000000y\n    failback_after: 25h\n  tunnel: {role: rescue, flavor: process, command: [x], ports: [0]}\n";
        let d = run(text).expect_err("must fail");
        let all = d.to_string();
        let want = [
            (
                "2:14",
                "logs.keep: `4294967295` is out of range: it must be at least 0 and at most 100",
            ),
            (
                "2:36",
                "logs.max_size: `5GiB` is out of range: it must be at least 4KiB and at most 4GiB",
            ),
            (
                "3:18",
                "hooks.timeout: `2h` is out of range: it must be at least 1ms and at most 1h",
            ),
            (
                "6:19",
                "profile 'main': profiles.main.stop_timeout: `300000000000y` is out of range: it must be at least 0s and at most 1h",
            ),
            (
                "7:34",
                "profiles.main.restart.backoff.initial: `300000000000y` is out of range: it must be at least 0s and at most 1day",
            ),
            ("7:75", "profiles.main.restart.crash_loop.max_starts: `1000001` is out of range"),
            (
                "7:97",
                "profiles.main.restart.crash_loop.retry_every: `10ms` is out of range: it must be at least 100ms",
            ),
            (
                "8:22",
                "profiles.main.health.period: `50ms` is out of range: it must be at least 100ms and at most 1day",
            ),
            (
                "8:37",
                "profiles.main.health.timeout: `0s` is out of range: it must be at least 1ms",
            ),
            (
                "8:60",
                "profiles.main.health.failure_threshold: `101` is out of range: it must be at least 1 and at most 100",
            ),
            (
                "8:77",
                "profiles.main.health.kill_after: `2h` is out of range: it must be at least 0s and at most 1h",
            ),
            ("8:96", "profiles.main.health.startup_grace: `2d` is out of range"),
            (
                "10:21",
                "profile 'rescue': profiles.rescue.failover_after: `300000000000y` is out of range: it must be at least 0s and at most 1day",
            ),
            ("11:21", "profiles.rescue.failback_after: `25h` is out of range"),
            (
                "12:64",
                "profiles.tunnel.ports: `0` is out of range: it must be at least 1 and at most 65535",
            ),
        ];
        for (at, message) in want {
            let line = all
                .lines()
                .find(|l| l.contains(message))
                .unwrap_or_else(|| panic!("{message}\n{all}"));
            assert!(line.starts_with(&format!("/f/fleet.yaml:{at}: error: ")), "{line}");
        }
        assert!(
            all.contains("hint: write a value from 0s to 1h (docs/fleet-file.md lists every range)"),
            "{all}"
        );
        assert_eq!(d.error_count(), want.len(), "{all}");
    }

    /// Issue 12: a NUL byte passed `check`, then every spawn failed.
    #[test]
    fn nul_bytes_are_refused_where_written() {
        let text = "version: 1\nhooks: {command: [\"h\\0\"]}\nprofiles:\n  main:\n    env: {A: \"a\\0b\", \"B\\0\": x}\n    command: [\"x\\0\"]\n    args: [\"--a\\0\"]\n    state_dir: \"/s\\0\"\n    config: \"/c\\0\"\n    workspace: \"/w\\0\"\n    cwd: \"/d\\0\"\n";
        let d = run(text).expect_err("must fail");
        let all = d.to_string();
        for key in [
            "hooks.command",
            "env.A",
            "command",
            "args",
            "state_dir",
            "config",
            "workspace",
            "cwd",
        ] {
            assert!(
                all.lines().any(|l| l.contains(&format!("{key}: the value contains a NUL byte"))),
                "{key}\n{all}"
            );
        }
        assert!(
            all.contains("profiles.main.env.B\0: `B\0` is not a valid environment variable name"),
            "{all}"
        );
        assert!(
            all.contains("/f/fleet.yaml:8:16: error: profile 'main': profiles.main.state_dir: the value contains a NUL"),
            "{all}"
        );
        assert!(all.contains("hint: remove it: no program can be given a NUL byte"), "{all}");
        assert_eq!(d.error_count(), 9, "{all}");
    }

    /// Issue 12: a non-UTF-8 fleet file was refused without a place.
    #[test]
    fn non_utf8_is_located_at_the_first_bad_byte() {
        let bytes = b"version: 1\nprofiles:\n  main:\n    state_dir: /\xc3\xa9t\xff\n".to_vec();
        let e = decode(Path::new("/f/fleet.yaml"), bytes).expect_err("not UTF-8").to_string();
        assert!(e.starts_with("/f/fleet.yaml:4:19: error: byte 0xff is not UTF-8"), "{e}");
        assert!(e.contains("hint: re-save the file as UTF-8"), "{e}");
        assert_eq!(
            decode(Path::new("/f"), b"a: \xc3\xa9\n".to_vec()).ok().as_deref(),
            Some("a: \u{e9}\n")
        );
    }

    /// Issue 12: a message that names an alias's places (as budget errors met while replaying an
    /// alias do) was cut at "(used".
    #[test]
    fn parser_messages_are_printed_whole() {
        let cut = "error: line 3 column 7: budget breached: Nodes { nodes: 250001 } (used at line 3, column 7)";
        assert_eq!(
            parse_message(cut),
            "budget breached: Nodes { nodes: 250001 } (used at line 3, column 7)"
        );
        assert_eq!(parse_message("error: invalid type: map, at line 8, column 5"), "invalid type: map");
        let e = first_error("version: 1\ndefaults:\n  env: {A: &p 70000}\nprofiles:\n  main:\n    port: *p\n");
        assert!(
            e.contains("invalid u16 (defined at line 3, column 15) (used at line 6, column 11)"),
            "{e}"
        );
    }

    /// Issue 12: `port: .nan` said neither what was written nor the range.
    #[test]
    fn a_nan_port_says_what_was_written_and_the_range() {
        let e = first_error("version: 1\nprofiles:\n  main:\n    port: .nan\n");
        assert!(e.starts_with("/f/fleet.yaml:4:11: error: invalid u16: `.nan` is not a port"), "{e}");
        assert!(e.contains("hint: a port is an integer from 1 to 65535"), "{e}");
        let e = first_error("version: 1\nprofiles:\n  main: {health: {failure_threshold: -1}}\n");
        assert!(e.contains("`-1` is not a whole number"), "{e}");
    }

    /// `rollout:` merges field by field over `defaults:`, has its defaults, and a value out of
    /// range or of the wrong kind is located.
    #[test]
    fn rollout_block_defaults_merge_and_ranges() {
        let v = run("version: 1\ndefaults:\n  rollout: {verify_timeout: 5m, rollback: false}\nprofiles:\n  main:\n    rollout: {soak: 1m}\n  rescue: {}\n")
            .expect("valid");
        let (main, rescue) = (&v.profiles[0].rollout, &v.profiles[1].rollout);
        assert_eq!(
            (main.verify_timeout, main.soak, main.rollback),
            (Duration::from_secs(300), Duration::from_secs(60), false)
        );
        assert_eq!((rescue.soak, rescue.rollback), (Duration::from_secs(30), false));
        let d = run("version: 1\nprofiles:\n  main: {}\n").expect("valid");
        assert_eq!(d.profiles[0].rollout, RolloutSettings::default());
        let e = first_error("version: 1\nprofiles:\n  main:\n    rollout: {verify_timeout: 0s}\n");
        assert!(
            e.starts_with("/f/fleet.yaml:4:31: error: profile 'main': profiles.main.rollout.verify_timeout: `0s` is out of range: it must be at least 1s"),
            "{e}"
        );
        let e = first_error("version: 1\nprofiles:\n  main:\n    rollout: {soak: soon}\n");
        assert!(e.contains("rollout.soak") && e.contains("`soon` is not a duration"), "{e}");
        let e = first_error("version: 1\nprofiles:\n  main:\n    rollout: {sok: 1s}\n");
        assert!(e.contains("sok"), "{e}");
    }

    #[test]
    fn defaults_merge_block_by_block_and_standby_for_stays_own() {
        let v = run("version: 1\ndefaults:\n  standby_for: main\n  failover_after: 5s\n  health: {period: 2s, timeout: 1s}\n  restart: {crash_loop: {window: 1m}}\nprofiles:\n  main:\n    health: {timeout: 3s}\n    restart: {crash_loop: {max_starts: 2}}\n  rescue: {}\n")
            .expect("valid");
        let main = &v.profiles[0];
        assert_eq!(
            (main.health.period, main.health.timeout),
            (Duration::from_secs(2), Duration::from_secs(3))
        );
        assert_eq!(
            (main.restart.crash_loop_max_starts, main.restart.crash_loop_window),
            (2, Duration::from_secs(60))
        );
        assert_eq!(main.standby, None, "standby_for is not inherited");
        let standby = v.profiles[1].standby.as_ref().expect("rescue stands by");
        assert_eq!(
            (standby.standby_for.as_str(), standby.failover_after),
            ("main", Duration::from_secs(5))
        );
    }

    proptest::proptest! {
        /// Whatever number and unit a duration key is given, validation either refuses it or
        /// yields a value in the key's range, which `run` can add to any deadline.
        #[test]
        fn accepted_durations_are_in_range_and_usable_as_deadlines(
            key in proptest::sample::select(vec!["stop_timeout", "failover_after", "health: {period", "restart: {backoff: {initial", "restart: {crash_loop: {retry_every"]),
            n in proptest::prop_oneof![0u64..2000, proptest::num::u64::ANY],
            unit in proptest::sample::select(vec!["ns", "ms", "s", "m", "h", "d", "w", "y"]),
        ) {
            let close = "}".repeat(key.matches('{').count());
            let text = format!("version: 1\nprofiles:\n  main: {{}}\n  rescue:\n    {key}: {n}{unit}{close}\n");
            if let Ok(v) = run(&text) {
                let p = &v.profiles[1];
                let standby = p.standby.as_ref().map(|s| s.failover_after).unwrap_or_default();
                for (d, range) in [
                    (p.stop_timeout, ranges::STOP_TIMEOUT),
                    (standby, ranges::DELAY),
                    (p.health.period, ranges::PROBE_PERIOD),
                    (p.restart.backoff_initial, ranges::DELAY),
                    (p.restart.crash_loop_retry, ranges::CRASH_LOOP_RETRY),
                ] {
                    proptest::prop_assert!(range.contains(d), "{text}: {d:?}");
                    proptest::prop_assert!(tokio::time::Instant::now().checked_add(d * 2).is_some());
                }
            }
        }
    }
    /// `openclaw_version` resolves to the store's program, a pin from `clawherd upgrade` wins,
    /// and every misuse is an error at its line with the fix.
    #[test]
    fn openclaw_version_resolves_to_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fleet = dir.path().join("fleet.yaml");
        let check = |text: &str| validate(&fleet, text, &env());
        let text = "version: 1\ndefaults:\n  openclaw_version: \"2026.9.5\"\nprofiles:\n  main: {}\n";
        let e = check(text).expect_err("not installed").0[0].to_string();
        assert!(
            e.contains("fleet.yaml:3:") && e.contains("openclaw@2026.9.5 (`openclaw_version`) is not installed"),
            "{e}"
        );
        assert!(e.contains("clawherd install openclaw@2026.9.5 -f"), "{e}");
        let run_dir = dir.path().join(".clawherd");
        for v in ["2026.9.5", "2026.9.6"] {
            let program = super::version::program(&run_dir, "openclaw", v);
            std::fs::create_dir_all(program.parent().expect("bin dir")).expect("mkdir");
            std::fs::write(&program, "").expect("write");
        }
        let v = check(text).expect("installed");
        let want = super::version::program(&run_dir, "openclaw", "2026.9.5").display().to_string();
        assert_eq!(v.profiles[0].command, [want.as_str(), "gateway", "run"]);
        let pins = BTreeMap::from([("main".to_string(), Some("2026.9.6".to_string()))]);
        std::fs::create_dir_all(super::version::store_dir(&run_dir)).expect("mkdir");
        std::fs::write(super::version::pins_path(&run_dir), serde_json::to_string(&pins).expect("json")).expect("write");
        let v = check(text).expect("pinned");
        assert!(
            v.profiles[0].command[0].contains("openclaw@2026.9.6"),
            "{:?}",
            v.profiles[0].command
        );
        // A pins file naming many profiles the fleet lacks: one warning, not one per entry.
        let many: BTreeMap<String, &str> = (0..1000).map(|n| (format!("gone{n:04}"), "2026.9.6")).collect();
        std::fs::write(super::version::pins_path(&run_dir), serde_json::to_string(&many).expect("json")).expect("write");
        let v = check(text).expect("pins of unknown profiles are warnings");
        let warnings: Vec<String> = v.warnings.0.iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("versions are pinned for 1000 profiles the fleet does not have: `gone0000`")
                && warnings[0].contains("and 995 more"),
            "{warnings:?}"
        );
        for (bad, want) in [
            (
                "version: 1\nprofiles:\n  main: {openclaw_version: \"^2026.9.5\"}\n",
                "is not a plain version",
            ),
            (
                "version: 1\nprofiles:\n  main: {openclaw_version: \"2026.9.5\", command: [x]}\n",
                "are both set",
            ),
            (
                "version: 1\nprofiles:\n  main: {role: main}\n  t: {role: rescue, flavor: process, command: [x], openclaw_version: \"2026.9.5\"}\n",
                "not `flavor: process`",
            ),
        ] {
            std::fs::remove_file(super::version::pins_path(&run_dir)).ok();
            let e = check(bad).expect_err(want).0[0].to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
