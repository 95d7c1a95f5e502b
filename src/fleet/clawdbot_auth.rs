//! What a clawdbot gateway expects a client to present in its WebSocket `connect`: its token,
//! its password, or nothing. Resolved from the plan's inputs (arguments, environment, config) as
//! the gateway resolves them, so that the instance layer can ask the gateway's `health` and the
//! proof can warn when it will not be able to (docs/openclaw.md, "The legacy generation").

use super::openclaw::ConfigFile;

/// What clawherd presents in the `connect` request. The secret is never printed: `Debug` shows
/// the kind only.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The gateway has no auth (mode `none`, loopback only): a placeholder token is sent.
    Open,
    /// Auth mode `token` with this token.
    Token(String),
    /// Auth mode `password` with this password (sent with the placeholder token, which only
    /// lets a connect without a device identity through).
    Password(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Open => "Open",
            Credentials::Token(_) => "Token(..)",
            Credentials::Password(_) => "Password(..)",
        })
    }
}

/// The credentials a clawdbot gateway expects, from its arguments `argv`, its environment `env`
/// and its parsed config `cfg`, resolved as the gateway does (`resolveGatewayAuth`,
/// clawdbot's `dist/gateway/auth.js`, with the flags of `dist/cli/gateway-cli/run.js`): the
/// `--auth`, `--token`, `--password` flags, else the config's `gateway.auth.mode`, `.token`,
/// `.password` (with `${VAR}` substitution from `env`), else `CLAWDBOT_GATEWAY_TOKEN` and
/// `CLAWDBOT_GATEWAY_PASSWORD` from `env`, then from the config's `env.vars` or `env` block (which
/// never overrides the environment, `dist/config/io.js`); the mode is `password` when a password
/// is known, else `token` when a token is, else none.
///
/// Errors (a sentence naming the keys that fix it): the auth mode is set but its secret is not
/// found where clawherd looks (it may come from a `.env` file that the gateway loads from its
/// working directory or state dir, `dist/infra/dotenv.js`, which clawherd does not read), or the
/// mode is not `token` or `password`.
pub(crate) fn resolve(argv: &[String], env: &super::Env, cfg: &ConfigFile) -> Result<Credentials, String> {
    // `--name VALUE` or `--name=VALUE`; the last one wins, as with the gateway's option parser.
    let flag = |name: &str| {
        let mut found = None;
        let mut args = argv.iter();
        while let Some(a) = args.next() {
            if a == name {
                found = args.next().cloned();
            } else if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                found = Some(v.to_string());
            }
        }
        found
    };
    let from_config = |key: &str| cfg.get_str(key, env).and_then(Result::ok).filter(|s| !s.is_empty());
    // The config's `env.vars.NAME` or `env.NAME`, which fill only variables the environment lacks.
    let config_env = |name: &str| {
        let block = |b: &str| cfg.get(b).and_then(|b| b.get(name)).and_then(|v| v.as_str()).map(str::to_string);
        block("env.vars").or_else(|| block("env")).filter(|s| !s.trim().is_empty())
    };
    let var = |name: &str| {
        env.get(name)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
            .or_else(|| config_env(name))
    };
    let token = flag("--token")
        .or_else(|| from_config("gateway.auth.token"))
        .or_else(|| var("CLAWDBOT_GATEWAY_TOKEN"));
    let password = flag("--password")
        .or_else(|| from_config("gateway.auth.password"))
        .or_else(|| var("CLAWDBOT_GATEWAY_PASSWORD"));
    let mode = flag("--auth")
        .filter(|m| m == "token" || m == "password")
        .or_else(|| from_config("gateway.auth.mode"));
    let unknown = |what: &str| {
        format!(
            "gateway auth mode is {what} but clawherd finds no {what} in {}, the profile's env or the gateway's arguments (it does not read .env files); set gateway.auth.{what} there or CLAWDBOT_GATEWAY_{} in the profile's env",
            cfg.path.display(),
            what.to_ascii_uppercase()
        )
    };
    match (mode.as_deref(), token, password) {
        (Some("password") | None, _, Some(p)) => Ok(Credentials::Password(p)),
        (Some("password"), _, None) => Err(unknown("password")),
        (Some("token") | None, Some(t), _) => Ok(Credentials::Token(t)),
        (Some("token"), None, _) => Err(unknown("token")),
        (None, None, None) => Ok(Credentials::Open),
        (Some(other), _, _) => Err(format!(
            "gateway.auth.mode {other:?} in {} is not one clawdbot knows (token, password)",
            cfg.path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(value: serde_json::Value) -> ConfigFile {
        ConfigFile {
            path: "/etc/cb/clawdbot.json".into(),
            value: Some(value),
        }
    }

    #[test]
    fn credentials_are_resolved_as_the_gateway_resolves_them() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<crate::fleet::Env>()
        };
        let none = env(&[]);
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let run = args(&["clawdbot", "gateway", "run"]);
        // Nothing configured: no auth.
        assert_eq!(resolve(&run, &none, &cfg(json!({}))), Ok(Credentials::Open));
        // The config's token, with ${VAR} substitution from the gateway's environment.
        let c = cfg(json!({"gateway": {"auth": {"token": "${TOK}"}}}));
        assert_eq!(resolve(&run, &env(&[("TOK", "abc")]), &c), Ok(Credentials::Token("abc".into())));
        // The environment's token when the config has none; the config's wins over it.
        let e = env(&[("CLAWDBOT_GATEWAY_TOKEN", "from-env")]);
        assert_eq!(resolve(&run, &e, &cfg(json!({}))), Ok(Credentials::Token("from-env".into())));
        let c = cfg(json!({"gateway": {"auth": {"token": "from-config"}}}));
        assert_eq!(resolve(&run, &e, &c), Ok(Credentials::Token("from-config".into())));
        // The config's env block fills a variable the environment lacks, never overrides it.
        let c = cfg(json!({"env": {"vars": {"CLAWDBOT_GATEWAY_PASSWORD": "pw"}}}));
        assert_eq!(resolve(&run, &none, &c), Ok(Credentials::Password("pw".into())));
        let e = env(&[("CLAWDBOT_GATEWAY_PASSWORD", "env-pw")]);
        assert_eq!(resolve(&run, &e, &c), Ok(Credentials::Password("env-pw".into())));
        // A password wins the mode when none is set; an explicit mode picks its secret.
        let c = cfg(json!({"gateway": {"auth": {"token": "t", "password": "p"}}}));
        assert_eq!(resolve(&run, &none, &c), Ok(Credentials::Password("p".into())));
        let c = cfg(json!({"gateway": {"auth": {"mode": "token", "token": "t", "password": "p"}}}));
        assert_eq!(resolve(&run, &none, &c), Ok(Credentials::Token("t".into())));
        // The gateway's flags win over the config.
        let flags = args(&["clawdbot", "gateway", "run", "--token", "flag-t", "--auth=token"]);
        assert_eq!(resolve(&flags, &none, &c), Ok(Credentials::Token("flag-t".into())));
        // A mode whose secret clawherd cannot find: the reason, with the keys that fix it.
        let c = cfg(json!({"gateway": {"auth": {"mode": "token"}}}));
        let why = resolve(&run, &none, &c).expect_err("unknown token");
        assert!(
            why.contains("gateway.auth.token") && why.contains("CLAWDBOT_GATEWAY_TOKEN"),
            "{why}"
        );
        let c = cfg(json!({"gateway": {"auth": {"mode": "password", "token": "t"}}}));
        assert!(resolve(&run, &none, &c).is_err());
        let c = cfg(json!({"gateway": {"auth": {"mode": "tailscale"}}}));
        assert!(resolve(&run, &none, &c).expect_err("unknown mode").contains("tailscale"));
    }
}
