//! `~` and `${VAR}` expansion for values in the fleet file and in OpenClaw configs.
//!
//! Fleet file: `~` at the start of a path is the home directory, `${NAME}` is the variable from
//! clawherd's environment (an unset variable is an error, so a typo never becomes an empty path),
//! `$${` is a literal `${`. OpenClaw configs follow OpenClaw's own rule instead
//! (`docs/gateway/configuration/environment-variables.md`): only `[A-Z_][A-Z0-9_]*` names are
//! substituted, a missing or empty one stays visibly unresolved; see [`openclaw_substitute`].

use std::collections::BTreeMap;

/// An unset variable met during [`expand`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVar(pub String);

/// Expands `${NAME}` from `vars` and a leading `~` (alone or before `/`) to `home`.
///
/// Errors with the first unset variable's name. `$${` yields a literal `${`; an unclosed `${`
/// is kept as written.
pub fn expand(input: &str, vars: &dyn Fn(&str) -> Option<String>, home: Option<&str>) -> Result<String, UnsetVar> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    if let Some(h) = home
        && (rest == "~" || rest.starts_with("~/"))
    {
        out.push_str(h);
        rest = &rest[1..];
    }
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            match body.find('}') {
                Some(end) => {
                    let name = &body[..end];
                    out.push_str(&vars(name).ok_or_else(|| UnsetVar(name.to_string()))?);
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str(tail);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// OpenClaw's config substitution: `${NAME}` with `NAME` matching `[A-Z_][A-Z0-9_]*` is replaced
/// by a non-empty value from `env`; a missing or empty one stays as written; `$${X}` yields `${X}`.
pub fn openclaw_substitute(input: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            continue;
        }
        if let Some(body) = tail.strip_prefix("${")
            && let Some(end) = body.find('}')
        {
            let name = &body[..end];
            if is_upper_name(name) {
                match env.get(name).filter(|v| !v.is_empty()) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&tail[..end + 3]),
                }
                rest = &body[end + 1..];
                continue;
            }
        }
        out.push('$');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

fn is_upper_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_uppercase())
        && chars.all(|c| c == '_' || c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("box".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_home_vars_and_escapes() {
        let cases = [
            ("~/x", "/home/u/x"),
            ("~", "/home/u"),
            ("a~/x", "a~/x"),
            ("/srv/${HOST}/state", "/srv/box/state"),
            ("$${HOST}", "${HOST}"),
            ("cost $5", "cost $5"),
            ("${HOST", "${HOST"),
            ("${EMPTY}x", "x"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &vars, Some("/home/u")).as_deref(), Ok(want), "{input}");
        }
        assert_eq!(expand("${NOPE}/x", &vars, None), Err(UnsetVar("NOPE".into())));
    }

    #[test]
    fn openclaw_rule_keeps_missing_and_lowercase() {
        let env = BTreeMap::from([("DIR".to_string(), "/d".to_string()), ("E".to_string(), String::new())]);
        assert_eq!(openclaw_substitute("${DIR}/w", &env), "/d/w");
        assert_eq!(openclaw_substitute("${MISSING}/w", &env), "${MISSING}/w");
        assert_eq!(openclaw_substitute("${E}/w", &env), "${E}/w");
        assert_eq!(openclaw_substitute("${dir}/w", &env), "${dir}/w");
        assert_eq!(openclaw_substitute("$${DIR}", &env), "${DIR}");
    }
}
