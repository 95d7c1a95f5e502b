//! What both Kubernetes targets share: labels, probes and grace period from the fleet's health
//! and stop settings, the anti-affinity that keeps a failover pair on different nodes, env lists
//! whose secrets are `secretKeyRef`s, the Secret skeleton, and YAML rendering.

use super::{ExportError, File, Instance};
use crate::fleet::StandbyMode;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Settings of a Kubernetes export that the fleet file does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// `metadata.namespace` of every object; none: the namespace `kubectl apply` uses.
    pub namespace: Option<String>,
    /// Size of each state dir's volume, a Kubernetes quantity (`10Gi`, the operator's default).
    pub storage: String,
    /// Gateway image of the plain target (`ghcr.io/openclaw/openclaw:latest`, the operator's
    /// default repository and tag, `internal/resources/common.go`).
    pub image: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: None,
            storage: "10Gi".into(),
            image: "ghcr.io/openclaw/openclaw:latest".into(),
        }
    }
}

/// Whether `s` is a plain Kubernetes storage quantity: digits with an optional fraction, then
/// an optional binary (`Ki`..`Ei`) or decimal (`k`, `M`..`E`) suffix, e.g. `10Gi`, `1.5T`.
pub(crate) fn is_quantity(s: &str) -> bool {
    const SUFFIXES: &[&str] = &["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", ""];
    let number = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = s.get(number.len()..).unwrap_or_default();
    let mut parts = number.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    !whole.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()))
        && SUFFIXES.contains(&suffix)
}

/// The pod label naming the instance. The operator puts `app.kubernetes.io/name: openclaw` and
/// `app.kubernetes.io/instance: <OpenClawInstance name>` on the pods it makes
/// (`SelectorLabels`, openclaw-rocks/k8s-operator `internal/resources/common.go`); the plain
/// target uses the same two, so one anti-affinity rule reads the same in both.
pub(crate) const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// See [`INSTANCE_LABEL`].
pub(crate) const NAME_LABEL: &str = "app.kubernetes.io/name";

/// Labels of every exported object: the pod labels above, `managed-by: clawherd`, and the fleet
/// profile and role it came from.
pub(crate) fn labels(i: &Instance) -> Value {
    json!({
        NAME_LABEL: "openclaw",
        INSTANCE_LABEL: i.k8s_name,
        "app.kubernetes.io/managed-by": "clawherd",
        "clawherd.io/profile": i.profile.name,
        "clawherd.io/role": i.profile.role.as_str(),
    })
}

/// `metadata` with name, namespace (when given) and labels.
pub(crate) fn metadata(name: &str, i: &Instance, opts: &Options) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(ns) = &opts.namespace {
        m.insert("namespace".into(), json!(ns));
    }
    m.insert("labels".into(), labels(i));
    Value::Object(m)
}

/// Whole seconds, rounded up, at least `min` (Kubernetes counts probe and grace settings in
/// seconds; a 500 ms timeout becomes 1 s, never 0).
pub(crate) fn seconds(d: Duration, min: u64) -> u64 {
    let whole = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    whole.max(min)
}

/// The probe settings of a profile in Kubernetes terms, without the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probes {
    /// `health.period`, seconds (≥ 1).
    pub period: u64,
    /// `health.timeout`, seconds (≥ 1).
    pub timeout: u64,
    /// `health.failure_threshold`.
    pub failures: u32,
    /// Startup probe failures allowed: `startup_grace / period`, rounded up (≥ 1): liveness is
    /// judged only once the startup probe passed, so a slow boot is not killed within the
    /// grace, as under clawherd.
    pub startup_failures: u64,
    /// `health.liveness`.
    pub liveness: bool,
}

impl Probes {
    /// From a profile's health settings.
    pub(crate) fn of(i: &Instance) -> Self {
        let h = &i.profile.health;
        let period = seconds(h.period, 1);
        Probes {
            period,
            timeout: seconds(h.timeout, 1),
            failures: h.failure_threshold,
            startup_failures: seconds(h.startup_grace, 0).div_ceil(period).max(1),
            liveness: h.liveness,
        }
    }
}

/// `terminationGracePeriodSeconds`: the profile's `stop_timeout` (SIGTERM, then SIGKILL after it).
pub(crate) fn grace_seconds(i: &Instance) -> u64 {
    seconds(i.profile.stop_timeout, 0)
}

/// Whether the profile is a cold standby: exported stopped (replicas 0, `suspended`), to be
/// scaled up by hand when its main fails: there is no failover controller in the cluster.
pub(crate) fn is_cold(i: &Instance) -> bool {
    i.profile.standby.as_ref().is_some_and(|s| s.mode == StandbyMode::Cold)
}

/// Required pod anti-affinity against the pods of `i.peers` per node (`kubernetes.io/hostname`),
/// or `None` without peers.
pub(crate) fn anti_affinity(i: &Instance) -> Option<Value> {
    if i.peers.is_empty() {
        return None;
    }
    Some(json!({
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {
                    "matchExpressions": [{"key": INSTANCE_LABEL, "operator": "In", "values": i.peers}]
                },
                "topologyKey": "kubernetes.io/hostname"
            }]
        }
    }))
}

/// Name of the Secret holding an instance's secret variables: `<name>-env`.
pub(crate) fn secret_name(i: &Instance) -> String {
    format!("{}-env", i.k8s_name)
}

/// A container `env` list: `{name, value}`, or `{name, valueFrom.secretKeyRef}` into
/// [`secret_name`] under the variable's own name for secrets. `extra_secrets` are secret keys
/// the target needs beyond the plan's (e.g. the gateway token of a non-loopback bind).
pub(crate) fn env_list(i: &Instance, vars: &[super::EnvEntry]) -> Value {
    let secret = secret_name(i);
    Value::Array(
        vars.iter()
            .map(|e| match &e.value {
                super::EnvValue::Plain(v) => json!({"name": e.name, "value": v}),
                super::EnvValue::Secret => json!({
                    "name": e.name,
                    "valueFrom": {"secretKeyRef": {"name": secret, "key": e.name}}
                }),
            })
            .collect(),
    )
}

/// The Secret skeleton of an instance: its secret keys with empty values, for the operator to
/// fill in (`kubectl edit secret`, or a secret manager); `None` without secrets.
pub(crate) fn secret_skeleton(i: &Instance, vars: &[super::EnvEntry], opts: &Options) -> Option<Value> {
    let keys: Map<String, Value> = vars.iter().filter(|e| e.is_secret()).map(|e| (e.name.clone(), json!(""))).collect();
    if keys.is_empty() {
        return None;
    }
    Some(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(&secret_name(i), i, opts),
        "type": "Opaque",
        "stringData": keys,
    }))
}

/// Renders documents as one multi-document YAML text.
///
/// Errors: [`ExportError::Render`] (the serializer refused a value; not expected for JSON).
pub(crate) fn yaml(what: &str, docs: &[Value]) -> Result<String, ExportError> {
    serde_saphyr::to_string_multiple(docs).map_err(|e| ExportError::Render {
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// The files of a Kubernetes export: `<name>.yaml` per instance (its documents), and
/// `secrets.yaml` with every Secret skeleton (mode 0600 once filled in).
pub(crate) fn files(per_instance: Vec<(String, Vec<Value>)>, secrets: &[Value]) -> Result<Vec<File>, ExportError> {
    let mut out = Vec::with_capacity(per_instance.len() + 1);
    for (name, docs) in per_instance {
        out.push(File {
            text: yaml(&name, &docs)?,
            name: format!("{name}.yaml"),
            private: false,
        });
    }
    if !secrets.is_empty() {
        out.push(File {
            name: "secrets.yaml".into(),
            text: yaml("secrets.yaml", secrets)?,
            private: true,
        });
    }
    Ok(out)
}

/// The whole export as one YAML stream (for stdout).
pub(crate) fn stream(files: &[File]) -> String {
    files
        .iter()
        .map(|f| f.text.trim_end_matches('\n'))
        .collect::<Vec<_>>()
        .join("\n---\n")
        + "\n"
}

/// The commands that create each instance's config ConfigMap from its OpenClaw config file
/// under `key` (not exported inline: a config may hold tokens); printed after an export.
pub(crate) fn config_commands(instances: &[Instance], key: &str, opts: &Options) -> Vec<String> {
    let ns = opts.namespace.as_ref().map(|n| format!(" -n {n}")).unwrap_or_default();
    instances
        .iter()
        .filter_map(|i| {
            let g = i.plan.gateway.as_ref()?;
            Some(format!(
                "kubectl create configmap{ns} {}-config --from-file={key}={}",
                i.k8s_name,
                g.config.value.display()
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_seconds() {
        for ok in ["10Gi", "500M", "1.5T", "100"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "Gi", "10 Gi", "10gb", "1.", "-1Gi", "1.2.3Gi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
        assert_eq!(seconds(Duration::from_millis(500), 1), 1);
        assert_eq!(seconds(Duration::from_millis(2500), 1), 3);
        assert_eq!(seconds(Duration::ZERO, 0), 0);
    }
}
