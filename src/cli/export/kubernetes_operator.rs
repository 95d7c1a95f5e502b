//! `clawherd export kubernetes`: one `OpenClawInstance` (`openclaw.rocks/v1alpha1`) per profile,
//! for the OpenClaw Kubernetes operator.
//!
//! Every field written is one of the operator's API types (openclaw-rocks/k8s-operator
//! `api/v1alpha1/openclawinstance_types.go`, CRD `config/crd/bases/openclaw.rocks_openclawinstances.yaml`;
//! `tests/schemas/openclawinstance.schema.json` holds the part of the CRD used here):
//! - `spec.config.configMapRef` `{name: <name>-config, key: openclaw.json}`, `format: json5`: the
//!   profile's own OpenClaw config, loaded into that ConfigMap by the printed `kubectl` line;
//! - `spec.env`: the instance's own variables, secrets as `secretKeyRef`s into `<name>-env` (the
//!   Secret skeleton in `secrets.yaml`). The operator owns the state dir (a PVC at
//!   `~/.openclaw`), the config path and the gateway port (18789 in every pod), so the plan's
//!   path, port and `*_PROFILE` variables are left to it;
//! - `spec.storage.persistence` `{enabled: true, size}`: the state dir's volume;
//! - `spec.probes`: liveness, readiness and startup from the fleet's `health` settings;
//! - `spec.availability.affinity`: required pod anti-affinity per node against the other members
//!   of the failover pair, matched on the operator's `app.kubernetes.io/instance` pod label;
//! - `spec.suspended: true` for a cold standby.
//!
//! The operator's API has no grace period field: its pods keep the operator's own (the fleet's
//! `stop_timeout` is carried by the plain target). Only `flavor: openclaw` profiles become
//! instances; the others are listed as skipped.

use super::kubernetes::{self as k8s, Options, Probes};
use super::{EnvEntry, ExportError, Exported, File, Instance};
use crate::fleet::Flavor;
use serde_json::{Map, Value, json};

/// The API version and kind written.
pub(crate) const API_VERSION: &str = "openclaw.rocks/v1alpha1";
/// See [`API_VERSION`].
pub(crate) const KIND: &str = "OpenClawInstance";

/// Variable-name suffixes (after `OPENCLAW_`) that the operator decides in its pods.
const OPERATOR_OWNED: &[&str] = &["STATE_DIR", "CONFIG_PATH", "GATEWAY_PORT", "PROFILE", "WORKSPACE_DIR"];

/// The result: files, and the profiles left out with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Export {
    /// `<name>.yaml` per instance and `secrets.yaml`.
    pub files: Vec<File>,
    /// `(profile, why)` of profiles that are not OpenClaw gateways.
    pub skipped: Vec<(String, String)>,
}

/// Renders the export.
///
/// Errors: [`ExportError::Render`] only.
pub(crate) fn export(fleet: &Exported, opts: &Options) -> Result<Export, ExportError> {
    let mut per_instance = Vec::new();
    let mut secrets = Vec::new();
    let mut skipped = Vec::new();
    for i in &fleet.instances {
        if i.profile.flavor != Flavor::OpenClaw {
            skipped.push((
                i.profile.name.clone(),
                format!(
                    "flavor `{}` is not run by the OpenClaw operator; `clawherd export kubernetes --plain` exports it",
                    i.profile.flavor.as_str()
                ),
            ));
            continue;
        }
        let vars = env(i);
        per_instance.push((i.k8s_name.clone(), vec![instance(i, &vars, opts)]));
        secrets.extend(k8s::secret_skeleton(i, &vars, opts));
    }
    Ok(Export {
        files: k8s::files(per_instance, &secrets)?,
        skipped,
    })
}

/// The instance's variables without those the operator owns.
fn env(i: &Instance) -> Vec<EnvEntry> {
    i.env
        .iter()
        .filter(|e| !e.name.strip_prefix("OPENCLAW_").is_some_and(|rest| OPERATOR_OWNED.contains(&rest)))
        .cloned()
        .collect()
}

/// One probe of `spec.probes`.
fn probe(enabled: bool, period: u64, timeout: u64, failures: u64) -> Value {
    json!({"enabled": enabled, "periodSeconds": period, "timeoutSeconds": timeout, "failureThreshold": failures})
}

/// The `OpenClawInstance` of one profile.
fn instance(i: &Instance, vars: &[EnvEntry], opts: &Options) -> Value {
    let p = Probes::of(i);
    let mut spec = Map::new();
    spec.insert(
        "config".into(),
        json!({"configMapRef": {"name": format!("{}-config", i.k8s_name), "key": "openclaw.json"}, "format": "json5"}),
    );
    if !vars.is_empty() {
        spec.insert("env".into(), k8s::env_list(i, vars));
    }
    spec.insert("storage".into(), json!({"persistence": {"enabled": true, "size": opts.storage}}));
    spec.insert(
        "probes".into(),
        json!({
            "liveness": probe(p.liveness, p.period, p.timeout, u64::from(p.failures)),
            "readiness": probe(true, p.period, p.timeout, u64::from(p.failures)),
            "startup": probe(true, p.period, p.timeout, p.startup_failures),
        }),
    );
    if let Some(affinity) = k8s::anti_affinity(i) {
        spec.insert("availability".into(), json!({"affinity": affinity}));
    }
    if k8s::is_cold(i) {
        spec.insert("suspended".into(), json!(true));
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": k8s::metadata(&i.k8s_name, i, opts),
        "spec": spec,
    })
}
