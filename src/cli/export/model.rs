//! What every export target reads of a proved fleet: per profile, the instance's own environment
//! (secret values marked, never copied), a name valid for Kubernetes, and its failover partners.

use super::ExportError;
use crate::fleet::{Fleet, Plan, Profile};
use crate::observe::redact;
use std::collections::BTreeMap;

/// Variables of a plan that only mean something to a running clawherd: its instance marker
/// (which names the exporting process) and profile tags, and the spawn recipe's
/// `OPENCLAW_SUPERVISOR_MODE=external`, which tells OpenClaw that clawherd will follow its
/// exit-0 restart hand-off (docs/openclaw.md "Restart hand-off"). Without clawherd, nobody
/// would. Prefixes end in `_`.
const CLAWHERD_ONLY: &[&str] = &["CLAWHERD_", "OPENCLAW_SUPERVISOR_MODE"];

/// An environment variable as exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvEntry {
    /// The variable's name.
    pub name: String,
    /// Its value, or that it is secret.
    pub value: EnvValue,
}

/// The value of an exported variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvValue {
    /// Shown as is.
    Plain(String),
    /// Secret by [`redact::redact_var`]'s rules (a name such as `*_TOKEN`/`*_KEY`, or a
    /// token-shaped value, or a URL with a password): exported as a reference to a key of the
    /// same name in a Secret or environment file, never with its value.
    Secret,
}

impl EnvEntry {
    /// `name=value`, classified: secret when [`redact::redact_var`] would hide anything of it.
    pub(crate) fn classify(name: &str, value: &str) -> Self {
        let secret = redact::redact_var(name, value).1;
        EnvEntry {
            name: name.to_string(),
            value: if secret {
                EnvValue::Secret
            } else {
                EnvValue::Plain(value.to_string())
            },
        }
    }

    /// Whether the value is secret.
    pub(crate) fn is_secret(&self) -> bool {
        self.value == EnvValue::Secret
    }
}

/// One profile as the targets see it.
#[derive(Debug, Clone)]
pub(crate) struct Instance<'a> {
    /// The validated profile.
    pub profile: &'a Profile,
    /// Its proved plan.
    pub plan: &'a Plan,
    /// A DNS-1123 label derived from the profile name (`_` → `-`), at most
    /// [`MAX_K8S_NAME`] characters: the name of its Kubernetes objects.
    pub k8s_name: String,
    /// The instance's own variables, name order: those the plan sets (paths, port, profile,
    /// `NO_COLOR`, ...) and every variable of the profile's `env:`, without those that only a
    /// running clawherd understands. Variables merely inherited from the exporting shell are
    /// left out.
    pub env: Vec<EnvEntry>,
    /// [`Instance::k8s_name`]s of the other members of its failover pair (main and the
    /// profiles standing by for it), which must run on other nodes.
    pub peers: Vec<String>,
}

/// Longest Kubernetes name given to a profile: a StatefulSet's pods are labelled with
/// `<name>-<10-character revision hash>`, and a label value has at most 63 characters.
pub(crate) const MAX_K8S_NAME: usize = 52;

/// A proved fleet prepared for export.
#[derive(Debug, Clone)]
pub(crate) struct Exported<'a> {
    /// The fleet.
    pub fleet: &'a Fleet,
    /// Its profiles, in name order.
    pub instances: Vec<Instance<'a>>,
}

impl<'a> Exported<'a> {
    /// Prepares `fleet` for export; `parent_env` is the environment the fleet was loaded with
    /// (so that inherited variables can be told from the instance's own).
    ///
    /// Errors: [`ExportError::Fleet`] when two profile names map to the same Kubernetes name.
    pub(crate) fn new(fleet: &'a Fleet, parent_env: &BTreeMap<String, String>) -> Result<Self, ExportError> {
        let mut instances: Vec<Instance<'a>> = Vec::with_capacity(fleet.instances.len());
        let mut taken: BTreeMap<String, &str> = BTreeMap::new();
        for (profile, plan) in &fleet.instances {
            let k8s_name = k8s_name(&profile.name);
            if let Some(other) = taken.insert(k8s_name.clone(), &profile.name) {
                return Err(ExportError::Fleet {
                    fleet: fleet.path.clone(),
                    profile: profile.name.clone(),
                    what: format!("its Kubernetes name `{k8s_name}` is also that of profile `{other}`"),
                    hint: format!(
                        "Kubernetes names allow no `_` and at most {MAX_K8S_NAME} characters here; rename one of the two profiles"
                    ),
                });
            }
            instances.push(Instance {
                profile,
                plan,
                k8s_name,
                env: own_env(profile, plan, parent_env),
                peers: Vec::new(),
            });
        }
        let group: Vec<String> = instances.iter().map(|i| pair_of(i.profile)).collect();
        let names: Vec<String> = instances.iter().map(|i| i.k8s_name.clone()).collect();
        for (i, inst) in instances.iter_mut().enumerate() {
            inst.peers = group
                .iter()
                .zip(&names)
                .enumerate()
                .filter(|(j, (g, _))| *j != i && group.get(i) == Some(*g))
                .map(|(_, (_, n))| n.clone())
                .collect();
        }
        Ok(Exported { fleet, instances })
    }
}

/// The failover pair a profile belongs to: the main it stands by for, else its own name.
fn pair_of(profile: &Profile) -> String {
    profile
        .standby
        .as_ref()
        .map_or_else(|| profile.name.clone(), |s| s.standby_for.clone())
}

/// A DNS-1123 label for a valid profile name (`[a-z0-9][a-z0-9_-]{0,63}`): `_` becomes `-`,
/// cut to [`MAX_K8S_NAME`] characters, trailing `-` removed; `x` if nothing is left.
pub(crate) fn k8s_name(profile: &str) -> String {
    let mapped: String = profile
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(MAX_K8S_NAME)
        .collect();
    let trimmed = mapped.trim_matches('-');
    if trimmed.is_empty() { "x".to_string() } else { trimmed.to_string() }
}

/// Whether `s` is a DNS-1123 label (a namespace name): 1 to 63 lowercase letters, digits and
/// `-`, starting and ending with a letter or digit.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let ok_end = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (1..=63).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && ok_end(s.chars().next())
        && ok_end(s.chars().last())
}

/// See [`Instance::env`].
fn own_env(profile: &Profile, plan: &Plan, parent_env: &BTreeMap<String, String>) -> Vec<EnvEntry> {
    plan.env
        .iter()
        .filter(|(k, v)| profile.env.contains_key(*k) || parent_env.get(*k).map(String::as_str) != Some(*v))
        .filter(|(k, _)| {
            !CLAWHERD_ONLY
                .iter()
                .any(|p| if p.ends_with('_') { k.starts_with(p) } else { k == p })
        })
        .map(|(k, v)| EnvEntry::classify(k, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k8s_names_are_dns_labels() {
        assert_eq!(k8s_name("main"), "main");
        assert_eq!(k8s_name("bot_2"), "bot-2");
        assert_eq!(k8s_name("a-"), "a");
        assert_eq!(k8s_name(&"x".repeat(64)).len(), MAX_K8S_NAME);
        assert!(is_dns_label("bots") && is_dns_label(&"a".repeat(63)));
        assert!(!is_dns_label("Bots") && !is_dns_label("-a") && !is_dns_label("") && !is_dns_label(&"a".repeat(64)));
    }

    #[test]
    fn secrets_are_classified_by_name_and_by_value() {
        assert!(EnvEntry::classify("OPENAI_API_KEY", "x").is_secret());
        assert!(EnvEntry::classify("DB", "postgres://u:pw@h/db").is_secret());
        assert!(!EnvEntry::classify("OPENCLAW_GATEWAY_PORT", "18789").is_secret());
    }
}
