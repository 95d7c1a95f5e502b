//! OpenClaw's restart hand-back (docs/openclaw.md, "Restart hand-off"; openclaw 2026.9.6
//! `dist/gateway-cli-*.mjs` `restart-handoff consume` and `dist/restart-handoff-*.mjs`).
//!
//! Under `OPENCLAW_SUPERVISOR_MODE=external` (clawherd sets it) a gateway that wants a full
//! restart (SIGUSR2, a config change that needs one, `openclaw gateway restart`) writes a
//! handoff row with its pid and a 60 s lifetime to its state database, then exits 0. Its
//! supervisor asks `openclaw gateway restart-handoff consume --expected-pid <pid> --json`:
//! `accepted` (the row is deleted) means "restart me now"; `none` (no row) or `rejected` (the row
//! is another pid's, expired or invalid) means the exit 0 was not a restart request.
//!
//! Under `restart.policy: always` every exit restarts anyway, so clawherd asks only when the
//! policy alone would leave the gateway down (`on-failure` after an exit 0), which keeps the
//! default restart free of a CLI run (5.4 s on the 2-core dev machine, measured by the
//! real-gateway test).

use crate::fleet::Plan;
use crate::process::tool;
use std::time::Duration;

/// How long the consume command may take (a Node CLI start: 5.4 s on the 2-core dev machine).
pub(crate) const CONSUME_TIMEOUT: Duration = Duration::from_secs(30);

/// What consume answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The gateway handed a restart back; `reason` is the handoff's own (e.g. `sigusr2`).
    Accepted {
        /// `handoff.reason`, when given.
        reason: Option<String>,
    },
    /// No restart was asked for: `status` is `none` or `rejected`, with OpenClaw's reason
    /// (`missing`, `pid-mismatch`, `expired`, `invalid`).
    NotAsked {
        /// `status`.
        status: String,
        /// `reason`, when given.
        reason: Option<String>,
    },
}

/// The consume command for a gateway run by `command` (the profile's command, such as
/// `openclaw gateway run` or `node /opt/openclaw/openclaw.mjs gateway run`): its program and
/// leading arguments with `gateway run` replaced by `gateway restart-handoff consume
/// --expected-pid <pid> --json`. `None` when `command` does not end in `gateway run` (a
/// wrapper script, whose CLI is unknown).
pub(crate) fn consume_argv(command: &[String], pid: i32) -> Option<Vec<String>> {
    let cli = command.strip_suffix(&["gateway".to_string(), "run".to_string()])?;
    if cli.is_empty() {
        return None;
    }
    let mut argv = cli.to_vec();
    argv.extend(["gateway", "restart-handoff", "consume", "--expected-pid"].map(String::from));
    argv.extend([pid.to_string(), "--json".to_string()]);
    Some(argv)
}

/// Parses consume's JSON (`{"ok":true,"protocol":"openclaw.gateway.restart-handoff",
/// "protocolVersion":1,"status":...}`).
///
/// Errors: not that JSON (the text, shortened, is in the message).
pub(crate) fn parse(stdout: &[u8]) -> Result<Verdict, String> {
    fn str_at(x: Option<&serde_json::Value>) -> Option<&str> {
        x.and_then(serde_json::Value::as_str)
    }
    let text = String::from_utf8_lossy(stdout);
    let v: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("restart-handoff consume printed no JSON ({e}): {:.200}", text.trim()))?;
    if str_at(v.get("protocol")) != Some("openclaw.gateway.restart-handoff")
        || v.get("ok").and_then(serde_json::Value::as_bool) != Some(true)
    {
        return Err(format!("unexpected restart-handoff answer: {v}"));
    }
    let reason = |x: Option<&serde_json::Value>| str_at(x).map(str::to_owned);
    match str_at(v.get("status")) {
        Some("accepted") => Ok(Verdict::Accepted {
            reason: reason(v.get("handoff").and_then(|h| h.get("reason"))),
        }),
        Some(status @ ("none" | "rejected")) => Ok(Verdict::NotAsked {
            status: status.to_owned(),
            reason: reason(v.get("reason")),
        }),
        _ => Err(format!("unexpected restart-handoff status: {v}")),
    }
}

/// Runs `argv` (from [`consume_argv`]) with the gateway's environment and working directory.
///
/// Errors: the command could not run, failed, timed out, or printed something else.
pub(crate) async fn consume(argv: &[String], plan: &Plan) -> Result<Verdict, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("the restart-handoff consume command is empty".to_string());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).env_clear().envs(&plan.env).current_dir(&plan.cwd);
    let (status, out) = tool::run(&mut cmd, CONSUME_TIMEOUT).await.map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("`{}` ended with {status}", argv.join(" ")));
    }
    parse(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_cli_is_the_command_without_gateway_run() {
        assert_eq!(
            consume_argv(&s(&["openclaw", "gateway", "run"]), 42),
            Some(s(&[
                "openclaw",
                "gateway",
                "restart-handoff",
                "consume",
                "--expected-pid",
                "42",
                "--json"
            ]))
        );
        assert_eq!(
            consume_argv(&s(&["node", "/o/openclaw.mjs", "gateway", "run"]), 7).map(|a| a[..3].to_vec()),
            Some(s(&["node", "/o/openclaw.mjs", "gateway"]))
        );
        assert_eq!(consume_argv(&s(&["/usr/local/bin/my-gateway.sh"]), 1), None);
        assert_eq!(consume_argv(&s(&["gateway", "run"]), 1), None);
    }

    #[test]
    fn answers_as_openclaw_prints_them() {
        let head = r#""ok":true,"protocol":"openclaw.gateway.restart-handoff","protocolVersion":1"#;
        let accepted = format!(r#"{{{head},"status":"accepted","handoff":{{"pid":42,"reason":"sigusr2","source":"signal"}}}}"#);
        assert_eq!(
            parse(accepted.as_bytes()),
            Ok(Verdict::Accepted {
                reason: Some("sigusr2".into())
            })
        );
        let none = format!("{{{head},\"status\":\"none\",\"reason\":\"missing\"}}\n");
        assert_eq!(
            parse(none.as_bytes()),
            Ok(Verdict::NotAsked {
                status: "none".into(),
                reason: Some("missing".into())
            })
        );
        let mismatch = format!(r#"{{{head},"status":"rejected","reason":"pid-mismatch","handoffPid":9}}"#);
        assert!(matches!(parse(mismatch.as_bytes()), Ok(Verdict::NotAsked { status, .. }) if status == "rejected"));
        assert!(parse(b"Gateway restart handoff consume failed").is_err());
        assert!(parse(br#"{"ok":true,"protocol":"other","status":"accepted"}"#).is_err());
        assert!(parse(format!(r#"{{{head},"status":"later"}}"#).as_bytes()).is_err());
    }
}
