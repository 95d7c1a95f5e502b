//! Redaction of secrets wherever clawherd shows an environment or a command line: by the name
//! of a variable or flag (`OPENAI_KEY`, `--token`), and by the shape of a value (a password in a
//! URL's user-info, well-known token formats), so a secret under an innocent name is hidden too.

/// What replaces a redacted value.
pub(crate) const REDACTED: &str = "<redacted>";
/// What replaces the password of a URL's user-info (`scheme://user:***@host`).
const MASK: &str = "***";

/// Segments that mark a name as secret when a name (split on `_`, `-` and `.`) has one whole:
/// `PAT` in `GH_PAT`, but not in `PATH`.
const SECRET_SEGMENTS: &[&str] = &[
    "KEY",
    "KEYS",
    "APIKEY",
    "TOKEN",
    "TOKENS",
    "SECRET",
    "SECRETS",
    "PASS",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PAT",
    "COOKIE",
    "COOKIES",
    "AUTH",
    "OAUTH",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "WEBHOOK",
    "DSN",
    "PRIVATE",
    "SIGNATURE",
];
/// Words distinctive enough to mark a name as secret inside a longer segment (`GHTOKEN`).
const SECRET_WORDS: &[&str] = &["TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY", "CREDENTIAL", "WEBHOOK", "COOKIE"];
/// Prefixes of well-known token formats (OpenAI and Anthropic `sk-`, GitHub, Slack), each
/// followed by at least [`MIN_TOKEN_TAIL`] token characters.
const TOKEN_PREFIXES: &[&str] = &[
    "sk-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "AKIA",
];
/// Token characters a prefix must be followed by for a word to count as a token.
const MIN_TOKEN_TAIL: usize = 8;

/// Whether a variable or flag name says its value is secret: one of its segments (split on
/// `_`, `-`, `.`; case ignored) is a secret word such as `KEY`, `TOKEN`, `PASS` or `WEBHOOK`,
/// or a segment contains a distinctive one such as `TOKEN` or `PASSWORD`.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper
        .split(['_', '-', '.'])
        .any(|seg| SECRET_SEGMENTS.contains(&seg) || SECRET_WORDS.iter().any(|w| seg.contains(w)))
}

/// Whether `word` has the shape of a well-known token: a known prefix and a long tail, or a
/// JWT (`eyJ…` with three dot-separated parts).
fn is_token_shaped(word: &str) -> bool {
    let token_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let prefixed = TOKEN_PREFIXES.iter().any(|p| {
        word.strip_prefix(p)
            .is_some_and(|tail| tail.len() >= MIN_TOKEN_TAIL && tail.chars().all(token_char))
    });
    let jwt = word.starts_with("eyJ") && {
        let parts: Vec<&str> = word.split('.').collect();
        parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(token_char))
    };
    prefixed || jwt
}

/// `value` with the password of every URL user-info (`scheme://user:pass@host`) masked, or
/// `None` when it has none.
fn mask_url_passwords(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut masked = false;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail.find(['/', '?', '#', ' ', '\t', '\n']).unwrap_or(tail.len());
        let (authority, after) = tail.split_at(end);
        match authority.rfind('@').and_then(|a| authority.get(..a).map(|info| (info, a))) {
            Some((info, a)) if info.contains(':') => {
                let user = info.split(':').next().unwrap_or_default();
                out.push_str(user);
                out.push(':');
                out.push_str(MASK);
                out.push_str(authority.get(a..).unwrap_or_default());
                masked = true;
            }
            _ => out.push_str(authority),
        }
        rest = after;
    }
    out.push_str(rest);
    masked.then_some(out)
}

/// A value as it may be shown: [`REDACTED`] when it holds a token-shaped word, URL passwords
/// masked, otherwise unchanged. The flag says whether anything was hidden.
pub(crate) fn redact_value(value: &str) -> (String, bool) {
    if value
        .split(|c: char| c.is_whitespace() || c == '=' || c == ',' || c == '"' || c == '\'')
        .any(is_token_shaped)
    {
        return (REDACTED.to_string(), true);
    }
    match mask_url_passwords(value) {
        Some(masked) => (masked, true),
        None => (value.to_string(), false),
    }
}

/// An environment variable as it may be shown: [`REDACTED`] under a secret name, else
/// [`redact_value`]. The flag says whether anything was hidden.
pub(crate) fn redact_var(name: &str, value: &str) -> (String, bool) {
    if is_secret_name(name) {
        (REDACTED.to_string(), true)
    } else {
        redact_value(value)
    }
}

/// A command line as it may be shown, and the flags (or `argv[N]`) whose values were hidden:
/// the value of a secret-named flag (`--token x`, `--token=x`, `--api-key x`, `--password=x`)
/// is [`REDACTED`], and every other argument goes through [`redact_value`].
pub(crate) fn redact_argv(argv: &[String]) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::with_capacity(argv.len());
    let mut hidden = Vec::new();
    let mut secret_flag: Option<&str> = None;
    for (i, arg) in argv.iter().enumerate() {
        if let Some(flag) = secret_flag.take() {
            out.push(REDACTED.to_string());
            hidden.push(flag.to_string());
            continue;
        }
        let flag_name = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')).filter(|_| i > 0);
        if let Some(name) = flag_name.map(|f| f.split('=').next().unwrap_or_default())
            && !name.is_empty()
            && is_secret_name(name)
        {
            let flag = arg.split('=').next().unwrap_or_default();
            if arg.contains('=') {
                out.push(format!("{flag}={REDACTED}"));
                hidden.push(flag.to_string());
            } else {
                out.push(arg.clone());
                secret_flag = Some(flag);
            }
            continue;
        }
        let (shown, redacted) = redact_value(arg);
        if redacted {
            hidden.push(format!("argv[{i}]"));
        }
        out.push(shown);
    }
    (out, hidden)
}

/// Free text as it may be shown (an error message, an event, a gateway's last output line, an
/// API error body): every token-shaped word becomes [`REDACTED`], so does the value of a
/// secret-named flag (`--token x`, `--api-key=x`) or assignment (`OPENAI_KEY=x`), and URL
/// passwords are masked. Whitespace, punctuation around a word and everything else are kept.
/// Linear in the text.
pub(crate) fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut secret_flag_before = false;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end_matches(char::is_whitespace);
        let space = piece.get(word.len()..).unwrap_or_default();
        let (shown, flag) = redact_word(word, secret_flag_before);
        secret_flag_before = flag;
        out.push_str(&shown);
        out.push_str(space);
    }
    mask_url_passwords(&out).unwrap_or(out)
}

/// One whitespace-free word of [`redact_text`], and whether it is a secret-named flag whose
/// value is the next word.
fn redact_word(word: &str, after_secret_flag: bool) -> (String, bool) {
    let punct = |c: char| "`\"'()[]{}<>,;".contains(c);
    let core = word.trim_matches(punct).trim_end_matches(['.', ':']);
    if core.is_empty() || core == REDACTED {
        return (word.to_string(), false);
    }
    let replace = |with: &str| word.replacen(core, with, 1);
    if after_secret_flag {
        return (replace(REDACTED), false);
    }
    let flag = core.strip_prefix("--").or_else(|| core.strip_prefix('-'));
    let (name, value) = match core.split_once('=') {
        Some((n, v)) => (n.trim_start_matches('-'), Some(v)),
        None => (flag.unwrap_or_default(), None),
    };
    if !name.is_empty() && is_secret_name(name) {
        return match value {
            Some(v) if !v.is_empty() => (
                replace(&format!("{}={REDACTED}", core.split('=').next().unwrap_or_default())),
                false,
            ),
            Some(_) => (word.to_string(), false),
            None => (word.to_string(), flag.is_some()),
        };
    }
    let value = value.unwrap_or(core);
    if is_token_shaped(value) {
        return (word.replacen(value, REDACTED, 1), false);
    }
    (word.to_string(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "OPENCLAW_GATEWAY_TOKEN",
            "openai_api_key",
            "DB_PASSWORD",
            "GITHUB_AUTH",
            "OPENAI_KEY",
            "ANTHROPIC_KEY",
            "GH_PAT",
            "JWT_SIGNING_KEY",
            "SESSION_COOKIE",
            "BOT_PASS",
            "SLACK_WEBHOOK_URL",
            "SENTRY_DSN",
            "AWS_CREDENTIALS",
            "GHTOKEN",
            "api-key",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "PATH",
            "HOME",
            "OPENCLAW_STATE_DIR",
            "KEYBOARD_LAYOUT",
            "PWD",
            "AUTHOR",
            "PATCH_LEVEL",
            "DATABASE_URL",
            "port",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    /// Regression (hardening issue): these printed in clear under `clawherd env`.
    #[test]
    fn environment_table() {
        let cases: &[(&str, &str, &str)] = &[
            ("OPENAI_KEY", "abc", REDACTED),
            ("ANTHROPIC_KEY", "abc", REDACTED),
            ("GH_PAT", "abc", REDACTED),
            ("JWT_SIGNING_KEY", "abc", REDACTED),
            ("SESSION_COOKIE", "abc", REDACTED),
            ("BOT_PASS", "abc", REDACTED),
            ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x", REDACTED),
            (
                "DATABASE_URL",
                "postgres://app:hunter2@db:5432/app",
                "postgres://app:***@db:5432/app",
            ),
            (
                "UPSTREAM",
                "https://u:p@a.example/x and http://b.example/",
                "https://u:***@a.example/x and http://b.example/",
            ),
            ("LLM", "sk-proj-abcdefghijklmnop", REDACTED),
            ("ANTHROPIC", "sk-ant-api03-abcdefghijkl", REDACTED),
            ("GITHUB", "ghp_0123456789abcdefghij", REDACTED),
            ("SLACK", "xoxb-1234-5678-abcdefgh", REDACTED),
            ("SLACK_USER", "xoxp-1234-5678-abcdefgh", REDACTED),
            ("SESSION", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", REDACTED),
            ("PATH", "/usr/bin:/bin", "/usr/bin:/bin"),
            ("HOME", "/home/app", "/home/app"),
            ("SITE", "https://example.com/a?b=c", "https://example.com/a?b=c"),
            ("USER_ONLY", "ssh://git@github.com/x", "ssh://git@github.com/x"),
            ("NOTE", "sk-short", "sk-short"),
        ];
        for (name, value, shown) in cases {
            let (got, hidden) = redact_var(name, value);
            assert_eq!(&got, shown, "{name}={value}");
            assert_eq!(hidden, got != *value, "{name}");
        }
    }

    #[test]
    fn argv_table() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["gw", "--token", "x"], &["gw", "--token", REDACTED], &["--token"]),
            (
                &["gw", "--token=x", "--port", "1"],
                &["gw", "--token=<redacted>", "--port", "1"],
                &["--token"],
            ),
            (&["gw", "--password", "x"], &["gw", "--password", REDACTED], &["--password"]),
            (&["gw", "--api-key=x"], &["gw", "--api-key=<redacted>"], &["--api-key"]),
            (
                &["gw", "--api-key", "x", "--verbose"],
                &["gw", "--api-key", REDACTED, "--verbose"],
                &["--api-key"],
            ),
            (
                &["gw", "--db", "mysql://r:pw@h/d"],
                &["gw", "--db", "mysql://r:***@h/d"],
                &["argv[2]"],
            ),
            (
                &["gw", "--port", "18789", "--bind", "loopback"],
                &["gw", "--port", "18789", "--bind", "loopback"],
                &[],
            ),
            (&["gw", "--path", "/x"], &["gw", "--path", "/x"], &[]),
        ];
        for (input, shown, hidden) in cases {
            let (got, names) = redact_argv(&argv(input));
            assert_eq!(got, argv(shown), "{input:?}");
            assert_eq!(names, argv(hidden), "{input:?}");
        }
    }

    /// Regression (hardening issue): free text the daemon echoes (an event, a parked reason, an
    /// API error) printed secrets in clear.
    #[test]
    fn free_text_table() {
        let cases: &[(&str, &str)] = &[
            ("`sk-proj-abcdefghijklmnop` is not a port", "`<redacted>` is not a port"),
            (
                "spawn `gw --token hunter2 --port 1`: failed",
                "spawn `gw --token <redacted> --port 1`: failed",
            ),
            ("gw --api-key=abc,", "gw --api-key=<redacted>,"),
            (
                "env OPENAI_KEY=abc GH_PAT=x PATH=/bin",
                "env OPENAI_KEY=<redacted> GH_PAT=<redacted> PATH=/bin",
            ),
            ("LLM=sk-ant-api03-abcdefghijkl.", "LLM=<redacted>."),
            (
                "Invalid config: db postgres://app:hunter2@db/app",
                "Invalid config: db postgres://app:***@db/app",
            ),
            ("bearer (eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl)", "bearer (<redacted>)"),
            ("no profile `main` in this fleet", "no profile `main` in this fleet"),
            (
                "the key is short: sk-short\n  hint: --port 2",
                "the key is short: sk-short\n  hint: --port 2",
            ),
            ("token: x", "token: x"),
            ("", ""),
        ];
        for (input, shown) in cases {
            assert_eq!(redact_text(input), *shown, "{input}");
        }
    }
}
