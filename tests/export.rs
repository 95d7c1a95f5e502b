//! `clawherd export`: the exports validate, say what the fleet says, and run.
//!
//! - Plain Kubernetes (StatefulSets, Services, Secret skeletons) is checked against the
//!   Kubernetes schemas by PyPI `kubernetes-validate --strict`, and the operator's
//!   `OpenClawInstance`s against `tests/schemas/openclawinstance.schema.json` (the CRD's fields
//!   clawherd emits; its source is named in the file) with `jsonschema`, for
//!   `config-examples/fleet.yaml` and a generated 50-profile fleet. Each validator is first shown
//!   to refuse a broken document, so a pass means something.
//! - Secrets never appear inline; pairs are kept apart; probes and grace follow the fleet.
//! - A fleet that does not prove is refused with 78 and nothing written.
//! - The systemd units run under a real systemd (`tests/systemd_ns/`, skipped with a `skip:` line
//!   when the host cannot boot one) with the stand-in gateway: `systemd-analyze verify` clean,
//!   both active, ports bound as planned, the plan's environment in the gateway, a SIGKILLed
//!   gateway restarted by systemd, `systemctl stop` leaves no process.
//!
//! The validators come with `python3 -m pip install --user kubernetes-validate` (.ci/run does it);
//! without them the validation tests print `skip:`, unless `CLAWHERD_REQUIRE_VALIDATORS=1`
//! (set by .ci/run) makes that a failure.

mod systemd_ns;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn clawherd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clawherd"))
        .args(args)
        .env_remove("CLAWHERD_FLEET")
        .output()
        .expect("run clawherd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether `python3 -c CODE` succeeds.
fn python_ok(code: &str) -> bool {
    Command::new("python3")
        .args(["-c", code])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the validators can run; prints `skip:` (or fails under CLAWHERD_REQUIRE_VALIDATORS)
/// when not.
fn validators() -> bool {
    if python_ok("import kubernetes_validate, jsonschema, yaml") {
        return true;
    }
    let why =
        "python3 with kubernetes-validate (and its jsonschema, yaml) is not installed: python3 -m pip install --user kubernetes-validate";
    assert!(std::env::var_os("CLAWHERD_REQUIRE_VALIDATORS").is_none(), "{why}");
    println!("skip: {why}");
    false
}

/// Exports `fleet` with `args` into a fresh folder; returns the folder and the YAML files.
fn export_dir(fleet: &Path, args: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let out = tempfile::tempdir().expect("temp dir");
    let mut all = vec!["export"];
    all.extend(args);
    let fleet_s = fleet.to_str().expect("utf-8 path");
    let out_s = out.path().to_str().expect("utf-8 path");
    all.extend([fleet_s, "-o", out_s]);
    let r = clawherd(&all);
    assert_eq!(r.status.code(), Some(0), "clawherd {all:?}: {}", text(&r.stderr));
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.path())
        .expect("read output")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    (out, files)
}

/// Every YAML document of `files`, as JSON values.
fn documents(files: &[PathBuf]) -> Vec<Value> {
    files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
        .flat_map(|f| {
            let t = std::fs::read_to_string(f).expect("read export");
            serde_saphyr::from_multiple::<Value>(&t).unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// A fleet of 50 profiles in `dir`: 24 main/rescue pairs (rescue `standby_for` its main, 120
/// ports apart; the last rescue bot a clawdbot), a cold standby for the first main, and one plain
/// process; every main has an
/// API key and a database URL with a password in its environment.
fn fifty_profiles(dir: &Path) -> PathBuf {
    let mut y = String::from(
        "version: 1\ndefaults:\n  stop_timeout: 45s\n  health: {period: 5s, timeout: 2s, failure_threshold: 4, startup_grace: 2m}\nprofiles:\n",
    );
    for k in 0..24u32 {
        let base = 20000 + 360 * k;
        y.push_str(&format!(
            "  m{k:02}:\n    role: main\n    openclaw_profile: m{k:02}\n    port: {base}\n    state_dir: state/m{k:02}\n    config: m{k:02}.json5\n    env:\n      ANTHROPIC_API_KEY: sk-ant-api03-{k:02}secretsecretsecret\n      DATABASE: postgres://bot:hunter{k:02}@db/bots\n      REGION: eu-{k}\n"
        ));
        // The last rescue bot runs the older Clawdbot generation.
        let flavor = if k == 23 { "    flavor: clawdbot\n" } else { "" };
        y.push_str(&format!(
            "  r{k:02}:\n    role: rescue\n{flavor}    standby_for: m{k:02}\n    openclaw_profile: r{k:02}\n    port: {}\n    state_dir: state/r{k:02}\n    config: r{k:02}.json5\n",
            base + 120
        ));
    }
    y.push_str("  cold:\n    role: rescue\n    standby_for: m00\n    standby: cold\n    openclaw_profile: cold\n    port: 29000\n    state_dir: state/cold\n    config: cold.json5\n");
    y.push_str("  tunnel:\n    role: main\n    flavor: process\n    command: [\"/bin/sleep\", \"1000\"]\n    port: 30000\n");
    let path = dir.join("fleet.yaml");
    std::fs::write(&path, y).expect("write fleet");
    path
}

/// The two fleets every validation runs on: the example and the generated one (kept alive by the
/// returned folder).
fn fleets() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let big = fifty_profiles(dir.path());
    (dir, vec![manifest("config-examples/fleet.yaml"), big])
}

fn kubernetes_validate(files: &[PathBuf]) -> Output {
    Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .args(files)
        .output()
        .expect("run kubernetes-validate")
}

fn schema_check(files: &[PathBuf]) -> Output {
    Command::new("python3")
        .arg(manifest("tests/schemas/check_openclawinstances.py"))
        .args(files)
        .output()
        .expect("run check_openclawinstances.py")
}

/// Shows `check` refusing `bad` (so that its passes mean something), then runs it on the export
/// (`clawherd export <args> FLEET -o DIR`) of both fleets; returns each export's documents.
fn validate_exports(bad: &str, check: fn(&[PathBuf]) -> Output, args: &[&str]) -> Vec<Vec<Value>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad_file = dir.path().join("bad.yaml");
    std::fs::write(&bad_file, bad).expect("write");
    let r = check(std::slice::from_ref(&bad_file));
    assert!(!r.status.success(), "the validator accepted:\n{bad}\n{}", text(&r.stdout));
    let (_fleets_dir, fleets) = fleets();
    fleets
        .iter()
        .map(|fleet| {
            let (_out, files) = export_dir(fleet, args);
            let r = check(&files);
            assert!(r.status.success(), "{}: {}{}", fleet.display(), text(&r.stdout), text(&r.stderr));
            let docs = documents(&files);
            println!("{} {args:?}: {} documents valid", fleet.display(), docs.len());
            docs
        })
        .collect()
}

#[test]
fn plain_kubernetes_validates_against_the_kubernetes_schemas() {
    if !validators() {
        return;
    }
    // `replicaz`: a field Kubernetes does not have.
    let bad = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {a: b}}\n  serviceName: x\n  replicaz: 1\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}\n";
    let exports = validate_exports(bad, kubernetes_validate, &["kubernetes", "--plain", "--namespace", "bots"]);
    for (docs, profiles) in exports.iter().zip([2usize, 50]) {
        assert_eq!(kind(docs, "StatefulSet").len(), profiles);
        assert_eq!(kind(docs, "Service").len(), profiles);
        assert!(docs.iter().all(|d| d["metadata"]["namespace"] == "bots"));
    }
}

#[test]
fn operator_instances_match_the_crd_fields() {
    if !validators() {
        return;
    }
    let bad = "apiVersion: openclaw.rocks/v1alpha1\nkind: OpenClawInstance\nmetadata: {name: x}\nspec: {config: {format: yaml}}\n";
    let exports = validate_exports(bad, schema_check, &["kubernetes"]);
    // The example's two gateways; 48 of the 50 (the clawdbot and the plain process are not the
    // operator's).
    for (docs, gateways) in exports.iter().zip([2usize, 48]) {
        assert_eq!(kind(docs, "OpenClawInstance").len(), gateways);
    }
}

#[test]
fn exports_keep_secrets_out_and_pairs_apart_and_follow_the_fleet() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fleet = fifty_profiles(dir.path());
    for args in [&["kubernetes"][..], &["kubernetes", "--plain"], &["systemd"]] {
        let (_out, files) = export_dir(&fleet, args);
        let all: String = files.iter().map(|f| std::fs::read_to_string(f).expect("read")).collect();
        assert!(
            !all.contains("secretsecret") && !all.contains("hunter"),
            "{args:?}: a secret value is inline"
        );
        assert!(
            all.contains("ANTHROPIC_API_KEY") && all.contains("DATABASE"),
            "{args:?}: secret keys not named"
        );
        assert!(all.contains("eu-3"), "{args:?}: plain variables are carried");
    }

    let (_out, files) = export_dir(&fleet, &["kubernetes", "--plain"]);
    let docs = documents(&files);
    let sts = |name: &str| {
        kind(&docs, "StatefulSet")
            .into_iter()
            .find(|d| d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no StatefulSet {name}"))
            .clone()
    };
    let peers = |d: &Value| {
        d["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
            ["labelSelector"]["matchExpressions"][0]["values"]
            .clone()
    };
    assert_eq!(peers(&sts("m00")), serde_json::json!(["cold", "r00"]));
    assert_eq!(peers(&sts("r05")), serde_json::json!(["m05"]));
    let pod = &sts("m07")["spec"]["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], 45);
    let c = &pod["containers"][0];
    assert_eq!(c["livenessProbe"]["periodSeconds"], 5);
    assert_eq!(c["livenessProbe"]["timeoutSeconds"], 2);
    assert_eq!(c["readinessProbe"]["failureThreshold"], 4);
    assert_eq!(c["startupProbe"]["failureThreshold"], 24, "2m of startup grace at 5s");
    assert_eq!(c["ports"][0]["containerPort"], 20000 + 360 * 7);
    assert_eq!(sts("cold")["spec"]["replicas"], 0, "a cold standby is exported stopped");
    let secret = kind(&docs, "Secret")
        .into_iter()
        .find(|d| d["metadata"]["name"] == "m07-env")
        .expect("the Secret skeleton of m07")
        .clone();
    assert_eq!(
        secret["stringData"],
        serde_json::json!({"ANTHROPIC_API_KEY": "", "DATABASE": "", "OPENCLAW_GATEWAY_TOKEN": ""})
    );
    let clawdbot = kind(&docs, "Secret")
        .into_iter()
        .find(|d| d["metadata"]["name"] == "r23-env")
        .expect("the Secret skeleton of the clawdbot r23");
    assert_eq!(clawdbot["stringData"], serde_json::json!({"CLAWDBOT_GATEWAY_TOKEN": ""}));
}

#[test]
fn a_fleet_that_does_not_prove_or_bad_options_are_refused_and_nothing_is_written() {
    let out = tempfile::tempdir().expect("temp dir");
    let fleet = manifest("config-examples/broken/ports-20-apart.yaml");
    for target in ["kubernetes", "systemd"] {
        let r = clawherd(&[
            "export",
            target,
            fleet.to_str().expect("utf-8"),
            "-o",
            out.path().to_str().expect("utf-8"),
        ]);
        assert_eq!(r.status.code(), Some(78), "{}", text(&r.stderr));
        assert!(text(&r.stderr).contains("nothing was started"), "{}", text(&r.stderr));
        assert_eq!(std::fs::read_dir(out.path()).expect("read").count(), 0);
    }
    let example = manifest("config-examples/fleet.yaml");
    let r = clawherd(&["export", "kubernetes", example.to_str().expect("utf-8"), "--namespace", "Bots"]);
    assert_eq!(r.status.code(), Some(64), "{}", text(&r.stderr));
    assert!(text(&r.stderr).contains("not a Kubernetes namespace name"), "{}", text(&r.stderr));
    let r = clawherd(&["export", "kubernetes", example.to_str().expect("utf-8"), "--storage", "10 gigs"]);
    assert_eq!(r.status.code(), Some(64), "{}", text(&r.stderr));
    assert!(r.stdout.is_empty());
}

#[test]
fn systemd_units_are_named_as_openclaw_names_them() {
    let (_out, files) = export_dir(&manifest("config-examples/fleet.yaml"), &["systemd"]);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["openclaw-gateway-rescue.service", "openclaw-gateway.service"]);
    let main = std::fs::read_to_string(&files[1]).expect("read");
    for line in [
        "Restart=always",
        "RestartSec=1000ms",
        "TimeoutStopSec=60000ms",
        "StartLimitBurst=6",
        "Environment=\"OPENCLAW_GATEWAY_PORT=18789\"",
        "Environment=\"OPENCLAW_SYSTEMD_UNIT=openclaw-gateway.service\"",
    ] {
        assert!(main.lines().any(|l| l == line), "missing `{line}` in:\n{main}");
    }
    assert!(!main.contains("OPENCLAW_SUPERVISOR_MODE") && !main.contains("CLAWHERD_"), "{main}");
}

/// Two stand-ins with the paths a root service would use; main leaves a worker in its own
/// session, which only the unit's final SIGKILL removes.
fn stand_in_fleet(dir: &Path) -> PathBuf {
    let profile = |name: &str, port: u16, env: &str| {
        format!(
            "  {name}:\n    role: {name}\n    openclaw_profile: {name}\n    port: {port}\n    state_dir: /var/lib/openclaw/{name}\n    config: /var/lib/openclaw/{name}.json5\n{env}"
        )
    };
    let path = dir.join("fleet.yaml");
    let text = format!(
        "version: 1\ndefaults:\n  command: [\"/usr/local/bin/fake-gateway\"]\n  args: [\"--allow-unconfigured\"]\n  stop_timeout: 20s\nprofiles:\n{}{}",
        profile("main", 58789, "    env: {FAKE_SPAWN_WORKER: \"1\"}\n"),
        profile("rescue", 59789, "")
    );
    std::fs::write(&path, text).expect("write fleet");
    path
}

/// `(pid, comm)` of every process inside named `name`.
fn processes(c: &systemd_ns::Container, name: &str) -> Vec<String> {
    c.sh("ps -e -o pid=,comm=")
        .stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(name))
        .map(str::to_string)
        .collect()
}

/// Ports listening on 127.0.0.1 inside (from /proc/net/tcp).
fn listening(c: &systemd_ns::Container) -> Vec<u16> {
    c.sh("cat /proc/net/tcp")
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let (addr, port) = cols.get(1)?.split_once(':')?;
            (addr == "0100007F" && cols.get(3) == Some(&"0A")).then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

#[test]
fn exported_units_run_under_a_real_systemd() {
    let Some(c) = systemd_ns::Container::up("export-units") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (_out, files) = export_dir(&stand_in_fleet(dir.path()), &["systemd"]);
    let fake = c.share(Path::new(env!("CARGO_BIN_EXE_fake-gateway")), "fake-gateway");
    let mut install = format!(
        "install -m 0755 {} /usr/local/bin/ && mkdir -p /var/lib/openclaw/main /var/lib/openclaw/rescue",
        fake.display()
    );
    for f in &files {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let shared = c.share(f, &name);
        install.push_str(&format!(" && install -m 0644 {} /etc/systemd/system/{name}", shared.display()));
    }
    c.ok(&format!("{install} && systemctl daemon-reload"));
    let units = ["openclaw-gateway-main.service", "openclaw-gateway-rescue.service"];
    let verify = c.sh(&format!(
        "systemd-analyze verify {} 2>&1",
        units.map(|u| format!("/etc/systemd/system/{u}")).join(" ")
    ));
    // Only the two keys of systemd ≥ 254 may be unknown here (the host's systemd may be older).
    let complaints: Vec<&str> = verify
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("'RestartSteps'") && !l.contains("'RestartMaxDelaySec'"))
        .collect();
    assert!(complaints.is_empty(), "systemd-analyze verify:\n{}", verify.stdout);
    c.ok(&format!("systemctl start {}", units.join(" ")));

    let deadline = Duration::from_secs(120);
    systemd_ns::wait_for("both units active and their ports bound", deadline, || {
        let states: Vec<String> = units.iter().map(|u| c.show(u, "ActiveState")).collect();
        let ports = listening(&c);
        if states.iter().all(|s| s == "active") && ports.contains(&58789) && ports.contains(&59789) {
            Ok(())
        } else {
            Err(format!("states {states:?}, listening {ports:?}"))
        }
    });
    let env = c.ok("tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value openclaw-gateway-main.service)/environ");
    assert!(env.lines().any(|l| l == "OPENCLAW_STATE_DIR=/var/lib/openclaw/main"), "{env}");
    assert!(
        env.lines().any(|l| l == "OPENCLAW_SYSTEMD_UNIT=openclaw-gateway-main.service"),
        "{env}"
    );
    assert!(
        processes(&c, "fake-gateway").len() >= 3,
        "main, its worker and rescue: {:?}",
        processes(&c, "fake-gateway")
    );

    // The restart policy is systemd's now: a SIGKILLed gateway comes back under a new pid.
    let rescue = units[1];
    let killed = c.show(rescue, "MainPID");
    c.ok(&format!("kill -9 {killed}"));
    systemd_ns::wait_for("rescue restarted by systemd with its port bound again", deadline, || {
        let (pid, restarts) = (c.show(rescue, "MainPID"), c.show(rescue, "NRestarts"));
        if pid != killed && pid != "0" && restarts != "0" && listening(&c).contains(&59789) {
            Ok(())
        } else {
            Err(format!("MainPID {pid} (killed {killed}), NRestarts {restarts}"))
        }
    });

    c.ok(&format!("systemctl stop {}", units.join(" ")));
    systemd_ns::wait_for("no process left after systemctl stop", deadline, || {
        let left = processes(&c, "fake-gateway");
        let states: Vec<String> = units.iter().map(|u| c.show(u, "ActiveState")).collect();
        if left.is_empty() && states.iter().all(|s| s == "inactive") {
            Ok(())
        } else {
            Err(format!("left {left:?}, states {states:?}"))
        }
    });
}
