//! What clawherd knows of OpenClaw's own rules, each with its source in openclaw@2026.9.6
//! (each checked against a running gateway): the named-profile port hash, the
//! default state dir, config file and log file, reading a JSON5 config, and the keys a flavor
//! refuses.

use super::Flavor;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The default base port when neither `--port`, `OPENCLAW_GATEWAY_PORT`, `gateway.port` nor a
/// named profile gives one (`resolveGatewayPort`, `dist/paths-*.mjs`).
pub(crate) const DEFAULT_BASE_PORT: u16 = 18789;

/// The base port OpenClaw derives for a named profile without a configured port:
/// FNV-1a-32 of the name, `20000 + h % 40000` (`dist/paths-*.mjs`; `rescue` → 23532,
/// `main` → 23592, `ops` → 55291, observed).
pub(crate) fn profile_port_hash(name: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (20_000 + h % 40_000) as u16
}

/// The state dir OpenClaw uses for `profile` (None = default) under `home`: `~/.openclaw` or
/// `~/.openclaw-NAME` (`resolveProfileStateDir`, `dist/profile-utils-*.mjs`). For the default
/// profile an existing legacy `~/.clawdbot` is used when `~/.openclaw` does not exist.
pub(crate) fn default_state_dir(flavor: Flavor, profile: Option<&str>, home: &Path) -> PathBuf {
    let base = flavor.home_dir_name();
    match profile {
        Some(name) => home.join(format!("{base}-{name}")),
        None => {
            let dir = home.join(base);
            let legacy = home.join(".clawdbot");
            if flavor == Flavor::OpenClaw && !dir.exists() && legacy.is_dir() {
                legacy
            } else {
                dir
            }
        }
    }
}

/// The config file inside a state dir: `openclaw.json`, or an existing legacy `clawdbot.json`
/// when `openclaw.json` does not exist (`resolveConfigPath`).
pub(crate) fn default_config_path(flavor: Flavor, state_dir: &Path) -> PathBuf {
    let file = state_dir.join(flavor.config_file_name());
    let legacy = state_dir.join("clawdbot.json");
    if flavor == Flavor::OpenClaw && !file.exists() && legacy.is_file() {
        legacy
    } else {
        file
    }
}

/// OpenClaw's default rolling log file for an instance, with the date left as `YYYY-MM-DD`
/// (two instances share it on every day alike): `/tmp/openclaw/openclaw[-<encoded profile>]-YYYY-MM-DD.log`
/// (`resolveDefaultRollingLogFile`, `dist/logger-*.mjs`). The profile segment comes from
/// `OPENCLAW_PROFILE`, which clawherd sets for named profiles.
///
/// clawdbot's is `/tmp/clawdbot/clawdbot-YYYY-MM-DD.log` for every profile (no segment;
/// `defaultRollingPathForToday`, clawdbot's dist/logging/logger.js): pass `None` for it.
pub(crate) fn default_log_file(flavor: Flavor, profile: Option<&str>) -> PathBuf {
    let stem = match flavor {
        Flavor::OpenClaw | Flavor::Process => "openclaw",
        Flavor::Clawdbot => "clawdbot",
    };
    let segment = profile.map(|p| format!("-{}", encode_log_profile_segment(p))).unwrap_or_default();
    PathBuf::from(format!("/tmp/{stem}/{stem}{segment}-YYYY-MM-DD.log"))
}

/// `encodeLogProfileSegment` (`dist/logger-*.mjs`): `[a-z0-9]` kept, `-` → `--`, `_` → `-0`,
/// uppercase → `-1` + lowercase, anything else `-2<hex>-`.
fn encode_log_profile_segment(profile: &str) -> String {
    let mut out = String::new();
    for c in profile.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            '-' => out.push_str("--"),
            '_' => out.push_str("-0"),
            'A'..='Z' => {
                out.push_str("-1");
                out.push(c.to_ascii_lowercase());
            }
            other => out.push_str(&format!("-2{:x}-", u32::from(other))),
        }
    }
    out
}

/// A parsed OpenClaw config file, or the absence of one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfigFile {
    /// The file.
    pub path: PathBuf,
    /// Its parsed content; `None` when the file does not exist (OpenClaw then uses defaults).
    pub value: Option<Value>,
}

impl ConfigFile {
    /// Whether OpenClaw applies edits of this config by itself, outside clawherd's proof: its
    /// `gateway.reload.mode` is not `"off"` (the default is `"hybrid"`: hot-safe keys live,
    /// others by restarting itself; openclaw@2026.9.6 `docs/gateway/config-gateway.md`, "Config
    /// reload"). A missing file counts (OpenClaw's defaults).
    pub(crate) fn reloads_itself(&self) -> bool {
        let mode = self
            .value
            .as_ref()
            .and_then(|v| v.pointer("/gateway/reload/mode"))
            .and_then(|m| m.as_str());
        mode != Some("off")
    }
}

/// Why a config could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// 1-based line and column, when the parser gave one.
    pub position: Option<(u32, u32)>,
    /// What went wrong.
    pub message: String,
}

/// Reads and parses an OpenClaw config (JSON5: comments, unquoted keys, trailing commas).
/// A missing file is `Ok` with `value: None`.
///
/// Errors: unreadable file (permissions, not a regular file such as a FIFO or a device, larger
/// than 16 MiB, not UTF-8; see [`read_bounded`](super::read_bounded)), nesting deeper than
/// [`MAX_NESTING`](super::read::MAX_NESTING) (with line and column), JSON5 syntax error (with line
/// and column), or a top level that is not an object. OpenClaw exits 78 on the last two.
pub(crate) fn read_config(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = match super::read::read_bounded(path) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            return Ok(ConfigFile {
                path: path.to_path_buf(),
                value: None,
            });
        }
        Err(e) => {
            let position = match e {
                super::read::ReadError::NotUtf8 { line, column } => Some((line, column)),
                _ => None,
            };
            return Err(ConfigError {
                position,
                message: format!("cannot be read: {e}"),
            });
        }
    };
    // The JSON5 parser recurses once per level: refuse deep nesting before it can overflow the stack.
    if let Some(position) = super::read::json5_too_deep(&text, super::read::MAX_NESTING) {
        return Err(ConfigError {
            position: Some(position),
            message: format!(
                "nests deeper than {} levels of [ and {{ here; no OpenClaw config needs that (flatten it)",
                super::read::MAX_NESTING
            ),
        });
    }
    let value: Value = json5::from_str(&text).map_err(|e| ConfigError {
        position: e.position().map(|p| (p.line as u32 + 1, p.column as u32 + 1)),
        message: format!("is not valid JSON5: {}", strip_position(&e.to_string())),
    })?;
    if !value.is_object() {
        return Err(ConfigError {
            position: None,
            message: "the top level is not an object".into(),
        });
    }
    Ok(ConfigFile {
        path: path.to_path_buf(),
        value: Some(value),
    })
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

impl ConfigFile {
    /// The value at a dotted key path (`gateway.port`), if the file exists and has it. A
    /// segment may end in an array index (`agents.list[2].workspace`).
    pub(crate) fn get(&self, dotted: &str) -> Option<&Value> {
        dotted.split('.').try_fold(self.value.as_ref()?, |v, k| match k.split_once('[') {
            Some((name, rest)) => v.get(name)?.get(rest.strip_suffix(']')?.parse::<usize>().ok()?),
            None => v.get(k),
        })
    }

    /// A string at `dotted` with OpenClaw's `${VAR}` substitution applied from `env`.
    pub(crate) fn get_str(&self, dotted: &str, env: &super::Env) -> Option<Result<String, String>> {
        self.get(dotted).map(|v| match v {
            Value::String(s) => Ok(super::expand::openclaw_substitute(s, env)),
            other => Err(format!("expected a string, found {other}")),
        })
    }
}

/// Keys a flavor's gateway refuses, with the reason and the fix. Today's OpenClaw has a strict
/// schema and exits 78 on an unknown key (`dist/config-*.mjs` validation): `browser.controlPort` never existed
/// there, `browser.cdpPortRangeStart` is retired (`dist/legacy-*.mjs`), `canvasHost` was removed
/// (`doctor --fix` migrates it to `plugins.entries.canvas.config.host`), `agents.list` became
/// `agents.entries` (observed: "Unrecognized key: \"list\"").
pub(crate) fn refused_keys(flavor: Flavor) -> &'static [(&'static str, &'static str)] {
    match flavor {
        Flavor::OpenClaw => &[
            (
                "browser.controlPort",
                "today's openclaw has no browser.controlPort (control is always base+2) and exits 78 on it; remove the key (clawdbot refuses it too; there the override is browser.controlUrl)",
            ),
            (
                "browser.cdpPortRangeStart",
                "browser.cdpPortRangeStart is retired and openclaw exits 78 on it; remove it and pin browser.profiles.<name>.cdpPort instead",
            ),
            (
                "canvasHost",
                "canvasHost was removed (canvas is served on the base port) and openclaw exits 78 on it; run `openclaw doctor --fix` or remove the block",
            ),
            (
                "agents.list",
                "today's openclaw has no agents.list (\"Unrecognized key\", exit 78): write each agent as agents.entries.<id>: {...}, or run `openclaw doctor --fix`, which moves the list there (dist/legacy-*.mjs)",
            ),
        ],
        Flavor::Clawdbot => &[(
            "browser.controlPort",
            "clawdbot 2026.1.24's strict schema has no browser.controlPort and the gateway exits 1 on it (dist/config/zod-schema.js); write browser.controlUrl: \"http://127.0.0.1:PORT\" instead, which moves control (PORT), the extension relay (PORT+1) and the CDP range (PORT+9..PORT+108) together",
        )],
        Flavor::Process => &[],
    }
}

/// 1-based line and column of the key `dotted`'s last segment in a JSON5 config's text, found as
/// the first `segment:` / `"segment":` / `'segment':` at or after the previous segments; `None`
/// when the file cannot be read or the key is not written literally. Good enough to point at a
/// refused key; not a parser.
pub(crate) fn locate_key(path: &Path, dotted: &str) -> Option<(u32, u32)> {
    let text = super::read::read_bounded(path).ok()?;
    locate_key_in(&text, dotted)
}

/// [`locate_key`] in a config's text already read.
pub(crate) fn locate_key_in(text: &str, dotted: &str) -> Option<(u32, u32)> {
    key_offset(text, dotted).map(|at| line_column(text, at))
}

/// The value of the key `dotted` as written in a JSON5 config's text (`NaN`, `Infinity`,
/// `'18789'`, `1e400`), with the 1-based line and column where it starts; `None` when the key
/// is not written literally. The parsed config cannot tell these
/// apart: JSON5 reads `NaN` and `±Infinity` and serde's JSON values have no place for them, so
/// they arrive as `null`. The text runs to the first `,`, `}`, `]`, line end or comment, cut at
/// 40 characters.
pub(crate) fn written_value_in(text: &str, dotted: &str) -> Option<(u32, u32, String)> {
    let key = key_offset(text, dotted)?;
    let colon = key + text.get(key..)?.find(':')? + 1;
    let rest = text.get(colon..)?;
    let start = colon + (rest.len() - rest.trim_start().len());
    let value = text.get(start..)?;
    let end = value.find([',', '}', ']', '\n']).unwrap_or(value.len());
    let end = value.find("//").filter(|c| *c < end).unwrap_or(end);
    let end = value.find("/*").filter(|c| *c < end).unwrap_or(end);
    let written: String = value.get(..end)?.trim_end().chars().take(40).collect();
    let (line, column) = line_column(text, start);
    Some((line, column, written))
}

/// Byte offset of the key `dotted`'s last segment in `text` (see [`locate_key`]). A segment may
/// end in an array index (`agents.list[2].workspace`): the offset then moves to that element.
fn key_offset(text: &str, dotted: &str) -> Option<usize> {
    let mut from = 0;
    for seg in dotted.split('.') {
        let (name, index) = match seg.split_once('[') {
            Some((name, rest)) => (name, Some(rest.strip_suffix(']')?.parse::<usize>().ok()?)),
            None => (seg, None),
        };
        from += find_key(text.get(from..)?, name)?;
        if let Some(n) = index {
            from = nth_element(text, from, n)?;
        }
    }
    Some(from)
}

/// Byte offset of element `n` of the array that is the value of the key written at `key`:
/// strings and comments skipped, nested arrays and objects counted as one element each.
fn nth_element(text: &str, key: usize, n: usize) -> Option<usize> {
    let colon = key + text.get(key..)?.find(':')?;
    let open = colon + text.get(colon..)?.find('[')?;
    let (mut depth, mut commas, mut st) = (0usize, 0usize, Lex::Code);
    let mut chars = text.get(open + 1..)?.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|(_, c)| *c);
        st = match (st, c) {
            (Lex::Code, '/') if next == Some('/') => Lex::LineComment,
            (Lex::Code, '/') if next == Some('*') => {
                chars.next();
                Lex::BlockComment
            }
            (Lex::Code, c) if c.is_whitespace() => Lex::Code,
            (Lex::Code, ',') if depth == 0 => {
                commas += 1;
                Lex::Code
            }
            (Lex::Code, ']' | '}') if depth == 0 => return None,
            (Lex::Code, c) => {
                if depth == 0 && commas == n {
                    return Some(open + 1 + i);
                }
                match c {
                    '[' | '{' => depth += 1,
                    ']' | '}' => depth -= 1,
                    _ => {}
                }
                if c == '"' || c == '\'' { Lex::Str(c) } else { Lex::Code }
            }
            (Lex::Str(q), '\\') => Lex::Escape(q),
            (Lex::Escape(q), _) => Lex::Str(q),
            (Lex::Str(q), c) if c == q => Lex::Code,
            (Lex::LineComment, '\n') => Lex::Code,
            (Lex::BlockComment, '*') if next == Some('/') => {
                chars.next();
                Lex::Code
            }
            (other, _) => other,
        };
    }
    None
}

/// Where a scan of JSON5 text is: in code, in a string (with its quote), after a backslash in
/// one, or in a comment.
#[derive(Clone, Copy, PartialEq)]
enum Lex {
    Code,
    Str(char),
    Escape(char),
    LineComment,
    BlockComment,
}

/// 1-based line and column (in characters) of byte offset `at` of `text`.
fn line_column(text: &str, at: usize) -> (u32, u32) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, col)
}

/// Byte offset of the first `seg` written as an object key in `text`.
fn find_key(text: &str, seg: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = text[at..].find(seg) {
        let start = at + i;
        let end = start + seg.len();
        let prev = text[..start].chars().next_back();
        let quoted = matches!(prev, Some('"' | '\''));
        let word_before = prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        let rest = text[end..].trim_start_matches(['"', '\'']);
        if (quoted || !word_before) && rest.trim_start().starts_with(':') {
            return Some(if quoted { start - 1 } else { start });
        }
        at = end;
    }
    None
}

/// Host and port of a `http://`/`ws://` CDP URL, with the scheme's default port.
/// `None` when it is not such a URL.
pub(crate) fn url_host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_ascii_lowercase(), port.parse().ok()?)),
        None => Some((authority.to_ascii_lowercase(), default)),
    }
}

/// The host of an [`Endpoint`], with every spelling of this machine folded into one value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum EndpointHost {
    /// This machine: `localhost` (and `*.localhost`), `127.0.0.0/8`, `::1`, `::ffff:127.x.y.z`,
    /// and the listen-all addresses `0.0.0.0` and `::`, which meet every loopback spelling.
    Local,
    /// Another host: a lowercased name without a trailing dot, or an IP address in canonical form.
    Remote(String),
}

/// A TCP endpoint that a CDP setting (`cdpUrl`, `cdpPort`) reaches. Two settings reach the same
/// browser exactly when their endpoints are equal, whatever the spelling of the URL: host aliases
/// of this machine, the scheme's default port (80 for http/ws, 443 for https/wss), user info,
/// path, query and fragment do not matter. Non-loopback addresses of this host's own interfaces
/// count as remote (they are not enumerated).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Endpoint {
    /// The host.
    pub host: EndpointHost,
    /// The TCP port.
    pub port: u16,
}

impl Endpoint {
    /// The endpoint of a `http(s)://` or `ws(s)://` URL; `None` when it is not such a URL.
    pub(crate) fn of_url(url: &str) -> Option<Endpoint> {
        let (host, port) = url_host_port(url.trim())?;
        Some(Endpoint {
            host: endpoint_host(&host),
            port,
        })
    }

    /// A port on this machine (a `cdpPort`).
    #[cfg_attr(not(test), allow(dead_code, reason = "only the unit tests use it"))]
    pub(crate) fn local(port: u16) -> Endpoint {
        Endpoint {
            host: EndpointHost::Local,
            port,
        }
    }

    /// Whether the endpoint is on this machine (so it occupies one of its ports).
    pub(crate) fn is_local(&self) -> bool {
        self.host == EndpointHost::Local
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            EndpointHost::Local => write!(f, "port {} of this host", self.port),
            EndpointHost::Remote(h) if h.contains(':') => write!(f, "[{h}]:{}", self.port),
            EndpointHost::Remote(h) => write!(f, "{h}:{}", self.port),
        }
    }
}

fn endpoint_host(host: &str) -> EndpointHost {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return EndpointHost::Local;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            let ip = match ip {
                std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
                v4 => v4,
            };
            if ip.is_loopback() || ip.is_unspecified() {
                EndpointHost::Local
            } else {
                EndpointHost::Remote(ip.to_string())
            }
        }
        Err(_) => EndpointHost::Remote(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_hash_matches_observed_values() {
        assert_eq!(profile_port_hash("rescue"), 23532);
        assert_eq!(profile_port_hash("main"), 23592);
        assert_eq!(profile_port_hash("ops"), 55291);
    }

    #[test]
    fn default_identity_follows_profile() {
        let home = Path::new("/nonexistent-home");
        assert_eq!(default_state_dir(Flavor::OpenClaw, None, home), home.join(".openclaw"));
        assert_eq!(
            default_state_dir(Flavor::OpenClaw, Some("rescue"), home),
            home.join(".openclaw-rescue")
        );
        assert_eq!(default_state_dir(Flavor::Clawdbot, Some("x"), home), home.join(".clawdbot-x"));
        assert_eq!(
            default_config_path(Flavor::OpenClaw, &home.join(".openclaw")),
            home.join(".openclaw/openclaw.json")
        );
        assert_eq!(
            default_log_file(Flavor::OpenClaw, None),
            PathBuf::from("/tmp/openclaw/openclaw-YYYY-MM-DD.log")
        );
        assert_eq!(
            default_log_file(Flavor::OpenClaw, Some("a_b-c")),
            PathBuf::from("/tmp/openclaw/openclaw-a-0b--c-YYYY-MM-DD.log")
        );
    }

    #[test]
    fn legacy_clawdbot_dir_is_used_when_openclaw_dir_is_missing() {
        let home = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(home.path().join(".clawdbot")).expect("mkdir");
        assert_eq!(
            default_state_dir(Flavor::OpenClaw, None, home.path()),
            home.path().join(".clawdbot")
        );
        std::fs::create_dir(home.path().join(".openclaw")).expect("mkdir");
        assert_eq!(
            default_state_dir(Flavor::OpenClaw, None, home.path()),
            home.path().join(".openclaw")
        );
    }

    #[test]
    fn reads_json5_and_reports_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("c.json");
        std::fs::write(&p, "// comment\n{gateway: {port: 19789,},}\n").expect("write");
        let c = read_config(&p).expect("parses");
        assert_eq!(c.get("gateway.port"), Some(&Value::from(19789)));
        std::fs::write(&p, "{\n  gateway: {port: 1\n  mode: 'local'}\n}").expect("write");
        let e = read_config(&p).expect_err("bad json5");
        assert_eq!(e.position.map(|p| p.0), Some(3));
        assert!(read_config(&dir.path().join("missing.json")).expect("missing ok").value.is_none());
    }

    /// `agents.list[N].workspace` is found in element N, past comments, strings and nested
    /// values of the elements before it.
    #[test]
    fn locates_keys_inside_array_elements() {
        let text = "{\n  agents: {\n    list: [\n      {id: 'a', tools: [1, {x: ','}], workspace: '/a'}, // ],\n      /* , */ {id: \"b\",\n        workspace: '/b'},\n    ],\n  },\n}\n";
        let at = |k: &str| key_offset(text, k).map(|o| line_column(text, o));
        assert_eq!(at("agents.list[0].workspace"), Some((4, 39)));
        assert_eq!(at("agents.list[1]"), Some((5, 15)));
        assert_eq!(at("agents.list[1].workspace"), Some((6, 9)));
        assert_eq!(at("agents.list[2]"), None);
    }

    #[test]
    fn parses_cdp_urls() {
        assert_eq!(url_host_port("http://127.0.0.1:9222"), Some(("127.0.0.1".into(), 9222)));
        assert_eq!(
            url_host_port("ws://LOCALHOST:9333/devtools/browser/x"),
            Some(("localhost".into(), 9333))
        );
        assert_eq!(url_host_port("http://[::1]:9444/"), Some(("::1".into(), 9444)));
        assert_eq!(url_host_port("https://chrome.example"), Some(("chrome.example".into(), 443)));
        assert_eq!(url_host_port("nonsense"), None);
    }

    /// Regression (issue 12): one endpoint, many spellings; the proof compared strings.
    #[test]
    fn endpoints_fold_spellings() {
        let e = |u: &str| Endpoint::of_url(u).expect(u);
        let local = Endpoint::local(9222);
        for u in [
            "http://127.0.0.1:9222",
            "http://localhost:9222/json/version",
            "ws://LOCALHOST.:9222/devtools/browser/x?y=1",
            "http://[::1]:9222",
            "http://[::ffff:127.0.0.1]:9222",
            "http://user:pw@127.0.0.2:9222/#frag",
            "http://0.0.0.0:9222",
            "http://[::]:9222",
        ] {
            assert_eq!(e(u), local, "{u}");
        }
        assert_eq!(e("http://chrome.example"), e("ws://Chrome.Example:80/x"));
        assert_eq!(e("https://chrome.example"), e("wss://chrome.example:443"));
        assert_ne!(e("http://chrome.example"), e("https://chrome.example"));
        assert_ne!(e("http://10.0.0.5:9222"), local);
        assert_eq!(e("http://[2001:DB8::1]:9222"), e("http://[2001:db8:0::1]:9222"));
    }
}
