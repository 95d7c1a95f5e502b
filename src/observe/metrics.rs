//! Prometheus metrics (OpenMetrics text, prometheus-client): served as `GET /metrics` on the
//! control socket and, with `metrics.listen`, on a TCP listener that serves nothing else.
//!
//! Per instance (label `profile`, plus `role` on `clawherd_instance_info`): `up` (a process runs),
//! `ready`, `restarts_total`, `last_exit_code` (128+n for a signal, -1 before any exit),
//! `tree_rss_bytes`, `tree_cpu_seconds_total`, and the probe latency histogram
//! `probe_duration_seconds`; per standby `failovers_total`; clawherd's own `process_rss_bytes`
//! and `process_cpu_seconds_total`. Gauges are read at scrape time from the instances' status
//! and `/proc`; the histogram and the failover counter live for the process (the usual
//! process-wide registry of a Prometheus client).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;

fn probe_histogram() -> Histogram {
    // 1 ms .. ~8 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

/// A histogram family per profile.
pub(crate) type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// Probe round latency per profile, in seconds (recorded by the instance actors).
pub(crate) static PROBE_SECONDS: LazyLock<HistogramFamily> = LazyLock::new(|| Family::new_with_constructor(probe_histogram));

/// Failovers per standby profile (incremented by the failover controllers).
pub(crate) static FAILOVERS: LazyLock<Family<Labels, Counter>> = LazyLock::new(Family::default);

/// Changes rolled back per profile (incremented by the rollout when a changed instance failed
/// its verification).
pub(crate) static ROLLBACKS: LazyLock<Family<Labels, Counter>> = LazyLock::new(Family::default);

/// Label set for one profile.
pub(crate) fn profile_label(profile: &str) -> Labels {
    vec![("profile".to_string(), profile.to_string())]
}

/// One instance's figures at scrape time, as the control API reads them from its status and
/// `/proc`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstanceSample {
    /// Profile name.
    pub profile: String,
    /// Role (`main`, `rescue`, ...).
    pub role: String,
    /// Flavor (`openclaw`, `clawdbot`, `process`).
    pub flavor: String,
    /// Whether a process runs.
    pub up: bool,
    /// Whether the state is `ready`.
    pub ready: bool,
    /// Automatic restarts so far.
    pub restarts: u32,
    /// Last exit code: 128+n for signal n, -1 before any exit, -2 for a failed spawn.
    pub last_exit_code: i64,
    /// Resident memory of the whole tree, bytes.
    pub tree_rss_bytes: u64,
    /// CPU time of the live tree, seconds.
    pub tree_cpu_seconds: f64,
    /// Whether the profile is a standby (it gets a `failovers_total` series).
    pub standby: bool,
}

/// The exposition of `instances` now, plus the process-wide families and clawherd's own
/// figures (OpenMetrics text).
pub(crate) fn render(instances: &[InstanceSample]) -> String {
    let mut reg = Registry::with_prefix("clawherd");
    let info = Family::<Labels, Gauge>::default();
    let up = Family::<Labels, Gauge>::default();
    let ready = Family::<Labels, Gauge>::default();
    let restarts = Family::<Labels, Counter>::default();
    let last_exit = Family::<Labels, Gauge>::default();
    let rss = Family::<Labels, Gauge>::default();
    let cpu = Family::<Labels, Counter<f64, AtomicU64>>::default();
    let tps = procfs::ticks_per_second() as f64;
    for s in instances {
        let l = profile_label(&s.profile);
        let mut li = l.clone();
        li.push(("role".into(), s.role.clone()));
        li.push(("flavor".into(), s.flavor.clone()));
        info.get_or_create(&li).set(1);
        up.get_or_create(&l).set(i64::from(s.up));
        ready.get_or_create(&l).set(i64::from(s.ready));
        restarts.get_or_create(&l).inc_by(u64::from(s.restarts));
        last_exit.get_or_create(&l).set(s.last_exit_code);
        rss.get_or_create(&l).set(i64::try_from(s.tree_rss_bytes).unwrap_or(i64::MAX));
        cpu.get_or_create(&l).inc_by(s.tree_cpu_seconds);
        // Make every profile visible in the histogram and counter families.
        let _ = PROBE_SECONDS.get_or_create(&l);
        let _ = ROLLBACKS.get_or_create(&l);
        if s.standby {
            let _ = FAILOVERS.get_or_create(&l);
        }
    }
    reg.register("instance_info", "Profiles of the fleet (always 1), with role and flavor", info);
    reg.register("instance_up", "1 when the instance's process runs", up);
    reg.register("instance_ready", "1 when GET /readyz answered 200 (state ready)", ready);
    reg.register(
        "instance_restarts",
        "Automatic restarts since clawherd started or the profile was reloaded",
        restarts,
    );
    reg.register(
        "instance_last_exit_code",
        "Last exit code (128+n for signal n, -1 before any exit, -2 spawn failure)",
        last_exit,
    );
    reg.register(
        "instance_tree_rss_bytes",
        "Resident memory of the whole process tree (gateway + workers), bytes",
        rss,
    );
    reg.register("instance_tree_cpu_seconds", "CPU time of the live process tree, seconds", cpu);
    reg.register(
        "probe_duration_seconds",
        "Latency of a health probe round (GET /readyz or /healthz + /readyz), seconds",
        PROBE_SECONDS.clone(),
    );
    reg.register("failovers", "Failovers to this standby profile", FAILOVERS.clone());
    reg.register(
        "rollbacks",
        "Changes of this profile rolled back after a failed verification",
        ROLLBACKS.clone(),
    );
    let own = procfs::process::Process::myself().and_then(|p| p.stat()).ok();
    let own_rss = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    let own_cpu = Counter::<f64, AtomicU64>::default();
    if let Some(st) = own {
        own_rss.set((st.rss * procfs::page_size()) as i64);
        own_cpu.inc_by((st.utime + st.stime) as f64 / tps);
    }
    reg.register("process_rss_bytes", "clawherd's own resident memory, bytes", own_rss);
    reg.register("process_cpu_seconds", "clawherd's own CPU time, seconds", own_cpu);
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &reg) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    out
}
