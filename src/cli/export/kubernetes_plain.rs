//! `clawherd export kubernetes --plain`: a StatefulSet and a Service per profile, for clusters
//! without the OpenClaw operator; the same rules as [`super::kubernetes_operator`].
//!
//! Per gateway profile: one replica (0 for a cold standby), the gateway image running the plan's
//! command line with `--bind lan` added (the pod's address must answer the kubelet's probes and
//! the Service; the gateway then requires its token, so `OPENCLAW_GATEWAY_TOKEN`, or
//! `CLAWDBOT_GATEWAY_TOKEN` for `flavor: clawdbot`, is a key of the Secret: the variable each
//! generation reads when `gateway.auth.token` is unset, openclaw `dist/auth-*.mjs`, clawdbot
//! `dist/gateway/auth.js`), the state dir on its own volume (`volumeClaimTemplates`, mounted at
//! [`STATE_MOUNT`]), the profile's OpenClaw config from the ConfigMap `<name>-config` at
//! [`CONFIG_PATH`], the plan's variables with those paths rewritten to the pod's, secrets as
//! `secretKeyRef`s, `/healthz` liveness and startup and `/readyz` readiness probes on the base port
//! from `health`, `terminationGracePeriodSeconds` from `stop_timeout`, and the failover pair's
//! anti-affinity. A `process` profile keeps its command, variables and declared ports and has no
//! probes and no volume. The Service exposes the base port (declared ports for a process), or
//! is headless when there is none.

use super::kubernetes::{self as k8s, Options, Probes};
use super::{EnvEntry, EnvValue, ExportError, Exported, File, Instance};
use serde_json::{Map, Value, json};

/// Where a gateway's state dir volume is mounted in its pod.
pub(crate) const STATE_MOUNT: &str = "/var/lib/openclaw";
/// Folder of the config ConfigMap's mount.
pub(crate) const CONFIG_MOUNT: &str = "/etc/openclaw";
/// The config file in the pod (ConfigMap key `openclaw.json`; OpenClaw reads it as JSON5).
pub(crate) const CONFIG_PATH: &str = "/etc/openclaw/openclaw.json";

/// Renders the export: `<name>.yaml` (StatefulSet, Service) per profile and `secrets.yaml`.
///
/// Errors: [`ExportError::Render`] only.
pub(crate) fn export(fleet: &Exported, opts: &Options) -> Result<Vec<File>, ExportError> {
    let mut per_instance = Vec::new();
    let mut secrets = Vec::new();
    for i in &fleet.instances {
        let vars = env(i);
        per_instance.push((i.k8s_name.clone(), vec![stateful_set(i, &vars, opts), service(i, opts)]));
        secrets.extend(k8s::secret_skeleton(i, &vars, opts));
    }
    k8s::files(per_instance, &secrets)
}

/// The instance's variables as its pod sees them: a gateway's state dir, config and workspace
/// paths rewritten to the pod's, and the gateway token variable added as a secret.
fn env(i: &Instance) -> Vec<EnvEntry> {
    let Some(g) = &i.plan.gateway else {
        return i.env.clone();
    };
    let prefix = i.profile.flavor.env_prefix();
    let host_state = &g.state_dir.value;
    let mut vars: Vec<EnvEntry> = i
        .env
        .iter()
        .map(|e| {
            let rest = e.name.strip_prefix(prefix).and_then(|r| r.strip_prefix('_'));
            let value = match (rest, &e.value) {
                (Some("STATE_DIR"), _) => EnvValue::Plain(STATE_MOUNT.into()),
                (Some("CONFIG_PATH"), _) => EnvValue::Plain(CONFIG_PATH.into()),
                (Some("WORKSPACE_DIR"), EnvValue::Plain(w)) => {
                    let inside = std::path::Path::new(w).strip_prefix(host_state).ok();
                    let rel = inside.map_or_else(|| "workspace".to_string(), |r| r.display().to_string());
                    EnvValue::Plain(format!("{STATE_MOUNT}/{rel}"))
                }
                (_, v) => v.clone(),
            };
            EnvEntry {
                name: e.name.clone(),
                value,
            }
        })
        .collect();
    let token = format!("{prefix}_GATEWAY_TOKEN");
    if !vars.iter().any(|e| e.name == token) {
        vars.push(EnvEntry {
            name: token,
            value: EnvValue::Secret,
        });
        vars.sort_by(|a, b| a.name.cmp(&b.name));
    }
    vars
}

/// The ports a profile serves: a gateway's base port, a process's declared ports.
fn ports(i: &Instance) -> Vec<(String, u32)> {
    match &i.plan.gateway {
        Some(_) => i.plan.port().map(|p| ("gateway".to_string(), u32::from(p))).into_iter().collect(),
        None => i
            .plan
            .listeners
            .iter()
            .enumerate()
            .map(|(n, l)| (format!("port-{n}"), l.range.lo))
            .collect(),
    }
}

/// An `httpGet` probe of `path` on the base port.
fn http_probe(path: &str, port: u32, period: u64, timeout: u64, failures: u64) -> Value {
    json!({
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    })
}

/// The gateway container.
fn container(i: &Instance, vars: &[EnvEntry], opts: &Options) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!("gateway"));
    c.insert("image".into(), json!(opts.image));
    let mut command = i.plan.argv.clone();
    if i.plan.gateway.is_some() {
        command.extend(["--bind".to_string(), "lan".to_string()]);
    }
    c.insert("command".into(), json!(command));
    if !vars.is_empty() {
        c.insert("env".into(), k8s::env_list(i, vars));
    }
    let ports = ports(i);
    if !ports.is_empty() {
        c.insert(
            "ports".into(),
            Value::Array(
                ports
                    .iter()
                    .map(|(name, p)| json!({"name": name, "containerPort": p, "protocol": "TCP"}))
                    .collect(),
            ),
        );
    }
    if let (Some(_), Some(port)) = (&i.plan.gateway, i.plan.port()) {
        let p = Probes::of(i);
        let port = u32::from(port);
        let failures = u64::from(p.failures);
        if p.liveness {
            c.insert("livenessProbe".into(), http_probe("/healthz", port, p.period, p.timeout, failures));
        }
        c.insert("readinessProbe".into(), http_probe("/readyz", port, p.period, p.timeout, failures));
        c.insert(
            "startupProbe".into(),
            http_probe("/healthz", port, p.period, p.timeout, p.startup_failures),
        );
        c.insert("workingDir".into(), json!(STATE_MOUNT));
        c.insert(
            "volumeMounts".into(),
            json!([
                {"name": "state", "mountPath": STATE_MOUNT},
                {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": true},
            ]),
        );
    }
    Value::Object(c)
}

/// The StatefulSet of one profile.
fn stateful_set(i: &Instance, vars: &[EnvEntry], opts: &Options) -> Value {
    let selector = json!({k8s::NAME_LABEL: "openclaw", k8s::INSTANCE_LABEL: i.k8s_name});
    let mut pod = Map::new();
    pod.insert("terminationGracePeriodSeconds".into(), json!(k8s::grace_seconds(i)));
    if let Some(affinity) = k8s::anti_affinity(i) {
        pod.insert("affinity".into(), affinity);
    }
    pod.insert("containers".into(), json!([container(i, vars, opts)]));
    let mut spec = Map::new();
    spec.insert("serviceName".into(), json!(i.k8s_name));
    spec.insert("replicas".into(), json!(if k8s::is_cold(i) { 0 } else { 1 }));
    spec.insert("selector".into(), json!({"matchLabels": selector}));
    if i.plan.gateway.is_some() {
        pod.insert(
            "volumes".into(),
            json!([{"name": "config", "configMap": {"name": format!("{}-config", i.k8s_name)}}]),
        );
        spec.insert(
            "volumeClaimTemplates".into(),
            json!([{
                "metadata": {"name": "state"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": opts.storage}}}
            }]),
        );
    }
    spec.insert("template".into(), json!({"metadata": {"labels": k8s::labels(i)}, "spec": pod}));
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": k8s::metadata(&i.k8s_name, i, opts),
        "spec": spec,
    })
}

/// The Service of one profile: its ports, or headless without any.
fn service(i: &Instance, opts: &Options) -> Value {
    let ports = ports(i);
    let mut spec = Map::new();
    spec.insert(
        "selector".into(),
        json!({k8s::NAME_LABEL: "openclaw", k8s::INSTANCE_LABEL: i.k8s_name}),
    );
    if ports.is_empty() {
        spec.insert("clusterIP".into(), json!("None"));
    } else {
        spec.insert(
            "ports".into(),
            Value::Array(
                ports
                    .iter()
                    .map(|(name, p)| json!({"name": name, "port": p, "targetPort": p, "protocol": "TCP"}))
                    .collect(),
            ),
        );
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": k8s::metadata(&i.k8s_name, i, opts),
        "spec": spec,
    })
}
