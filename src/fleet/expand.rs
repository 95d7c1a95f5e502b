//! `~` and `${VAR}` expansion for values in the fleet file and in OpenClaw configs.
//!
//! Fleet file: `~` at the start of a path is the home directory, `${NAME}` is the variable from
//! clawherd's environment (an unset variable is an error, so a typo never becomes an empty path),
//! `$${` is a literal `${`. OpenClaw configs follow OpenClaw's own rule instead
//! (`docs/gateway/configuration/environment-variables.md`): only `[A-Z_][A-Z0-9_]*` names are
//! substituted, a missing or empty one stays visibly unresolved; see [`openclaw_substitute`].

/// An unset variable met during [`expand`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnsetVar(pub String);

/// Expands `${NAME}` from `vars` and a leading `~` (alone or before `/`) to `home`.
///
/// Errors with the first unset variable's name. `$${` yields a literal `${`; an unclosed `${`
/// is kept as written.
pub(crate) fn expand(input: &str, vars: &dyn Fn(&str) -> Option<String>, home: Option<&str>) -> Result<String, UnsetVar> {
    let (head, rest) = match home {
        Some(h) if input == "~" || input.starts_with("~/") => (h, input.get(1..).unwrap_or("")),
        _ => ("", input),
    };
    let body = substitute(rest, |name| vars(name).map(Some).ok_or_else(|| UnsetVar(name.to_string())))?;
    Ok(format!("{head}{body}"))
}

/// OpenClaw's config substitution: `${NAME}` with `NAME` matching `[A-Z_][A-Z0-9_]*` is replaced
/// by a non-empty value from `env`; a missing or empty one stays as written; `$${X}` yields `${X}`.
pub(crate) fn openclaw_substitute(input: &str, env: &super::Env) -> String {
    let found = substitute(input, |name| {
        let value = env.get(name).filter(|v| is_upper_name(name) && !v.is_empty());
        Ok::<_, std::convert::Infallible>(value.map(str::to_string))
    });
    match found {
        Ok(text) => text,
        Err(never) => match never {},
    }
}

/// The one `${NAME}` scanner of both rules: `$${` yields a literal `${`; each closed `${NAME}` is
/// replaced by `lookup(NAME)`'s value, or kept as written when it gives `None`; a `$` that starts
/// neither (an unclosed `${` included) is kept.
///
/// Errors: the first error `lookup` returns.
fn substitute<E>(input: &str, mut lookup: impl FnMut(&str) -> Result<Option<String>, E>) -> Result<String, E> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        let (text, tail) = rest.split_at(pos);
        out.push_str(text);
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some((name, after)) = tail.strip_prefix("${").and_then(|body| body.split_once('}')) {
            match lookup(name)? {
                Some(value) => out.push_str(&value),
                // `tail` is `${NAME}...`: ASCII around the name, so the cut is on a char boundary.
                None => out.push_str(tail.get(..name.len() + 3).unwrap_or(tail)),
            }
            rest = after;
        } else {
            out.push('$');
            rest = tail.get(1..).unwrap_or("");
        }
    }
    out.push_str(rest);
    Ok(out)
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
            // An unclosed `${` is text; the scan goes on, so a later `$${` is still an escape.
            ("${A $${X", "${A ${X"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &vars, Some("/home/u")).as_deref(), Ok(want), "{input}");
        }
        assert_eq!(expand("${NOPE}/x", &vars, None), Err(UnsetVar("NOPE".into())));
    }

    #[test]
    fn openclaw_rule_keeps_missing_and_lowercase() {
        let env = crate::fleet::Env::from([
            ("DIR".to_string(), "/d".to_string()),
            ("E".to_string(), String::new()),
            ("dir".to_string(), "/lower".to_string()),
        ]);
        assert_eq!(openclaw_substitute("${DIR}/w", &env), "/d/w");
        assert_eq!(openclaw_substitute("${MISSING}/w", &env), "${MISSING}/w");
        assert_eq!(openclaw_substitute("${E}/w", &env), "${E}/w");
        assert_eq!(openclaw_substitute("${dir}/w", &env), "${dir}/w");
        assert_eq!(openclaw_substitute("$${DIR}", &env), "${DIR}");
    }
}
