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
//!
//! What lives per profile is kept small (1,000 profiles on one host): the label set is a
//! [`ProfileLabel`] (a shared `Arc<str>`, no allocation when made from the actor's name, where
//! a `Vec<(String, String)>` took three), and the probe histogram is a [`ProbeHistogram`]: its
//! counts in one allocation of 160 bytes, where prometheus-client's `Histogram` takes about
//! 470 bytes in two (its own copy of the bucket bounds beside the counts, and room for a
//! native histogram's state). Both encode to the same text as the crate's types.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, LazyLock, Mutex};

/// The label set of a per-profile series: `profile="NAME"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ProfileLabel {
    /// The profile's name (shared with the instance actor's when made from it).
    profile: Arc<str>,
}

/// The label set of `clawherd_instance_info`: `profile`, `role`, `flavor`, in that order.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    profile: Arc<str>,
    role: String,
    flavor: String,
}

/// What [`profile_label`] takes: a name to copy (`&str`, `&String`) or to share (`&Arc<str>`).
pub(crate) trait ProfileName {
    /// The name as a shared string.
    fn shared(&self) -> Arc<str>;
}

impl ProfileName for str {
    fn shared(&self) -> Arc<str> {
        Arc::from(self)
    }
}

impl ProfileName for String {
    fn shared(&self) -> Arc<str> {
        Arc::from(self.as_str())
    }
}

impl ProfileName for Arc<str> {
    fn shared(&self) -> Arc<str> {
        self.clone()
    }
}

/// Label set for one profile (no allocation when `profile` is an `Arc<str>`).
pub(crate) fn profile_label<P: ProfileName + ?Sized>(profile: &P) -> ProfileLabel {
    ProfileLabel { profile: profile.shared() }
}

/// Upper bounds of the probe histogram's buckets, seconds: 1 ms doubling to about 8 s (14
/// bounds, as `exponential_buckets(0.001, 2.0, 14)`), then +Inf.
const BUCKETS: usize = 15;

/// The bucket bounds, computed once as prometheus-client computes them.
static BOUNDS: LazyLock<[f64; BUCKETS]> = LazyLock::new(|| {
    let mut bounds = [f64::INFINITY; BUCKETS];
    for (slot, bound) in bounds.iter_mut().zip(exponential_buckets(0.001, 2.0, 14)) {
        *slot = bound;
    }
    bounds
});

/// One profile's probe latencies: a classic histogram with the [`BOUNDS`] buckets, encoded
/// as prometheus-client's `Histogram` with the same buckets is (`_sum`, `_count`, `_bucket`
/// with cumulative counts). Cheap to clone (shared counts).
#[derive(Clone, Debug, Default)]
pub(crate) struct ProbeHistogram(Arc<Mutex<Counts>>);

/// Sum, count and per-bucket counts (not cumulative), as the crate's `Histogram` keeps them.
#[derive(Debug, Default)]
struct Counts {
    sum: f64,
    count: u64,
    buckets: [u64; BUCKETS],
}

impl ProbeHistogram {
    /// Records one observation `v` (seconds) as prometheus-client's `Histogram::observe`
    /// does: into the first bucket whose bound is at least `v` (NaN: the last).
    pub(crate) fn observe(&self, v: f64) {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        c.sum += v;
        c.count += 1;
        // The last bound is +Inf: only NaN is above every bound.
        let i = BOUNDS.iter().position(|b| *b >= v).unwrap_or(BUCKETS - 1);
        if let Some(n) = c.buckets.get_mut(i) {
            *n += 1;
        }
    }
}

impl TypedMetric for ProbeHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for ProbeHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = {
            let c = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let mut buckets = [(0.0, 0); BUCKETS];
            for ((slot, bound), n) in buckets.iter_mut().zip(BOUNDS.iter()).zip(c.buckets) {
                *slot = (*bound, n);
            }
            (c.sum, c.count, buckets)
        };
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// A histogram family per profile.
pub(crate) type HistogramFamily = Family<ProfileLabel, ProbeHistogram>;

/// Probe round latency per profile, in seconds (recorded by the instance actors).
pub(crate) static PROBE_SECONDS: LazyLock<HistogramFamily> = LazyLock::new(Family::default);

/// Failovers per standby profile (incremented by the failover controllers).
pub(crate) static FAILOVERS: LazyLock<Family<ProfileLabel, Counter>> = LazyLock::new(Family::default);

/// Changes rolled back per profile (incremented by the rollout when a changed instance failed
/// its verification).
pub(crate) static ROLLBACKS: LazyLock<Family<ProfileLabel, Counter>> = LazyLock::new(Family::default);

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
    let info = Family::<InfoLabels, Gauge>::default();
    let up = Family::<ProfileLabel, Gauge>::default();
    let ready = Family::<ProfileLabel, Gauge>::default();
    let restarts = Family::<ProfileLabel, Counter>::default();
    let last_exit = Family::<ProfileLabel, Gauge>::default();
    let rss = Family::<ProfileLabel, Gauge>::default();
    let cpu = Family::<ProfileLabel, Counter<f64, AtomicU64>>::default();
    let tps = procfs::ticks_per_second() as f64;
    for s in instances {
        let l = profile_label(&s.profile);
        let li = InfoLabels {
            profile: l.profile.clone(),
            role: s.role.clone(),
            flavor: s.flavor.clone(),
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::histogram::Histogram;

    /// The exposition of one family registered as `name`.
    fn text(name: &str, help: &str, metric: impl prometheus_client::registry::Metric) -> String {
        let mut reg = Registry::with_prefix("clawherd");
        reg.register(name, help, metric);
        let mut out = String::new();
        encode(&mut out, &reg).expect("encode");
        out
    }

    /// The probe histogram and the profile label encode byte for byte as prometheus-client's
    /// `Histogram` with `exponential_buckets(0.001, 2.0, 14)` under a `Vec<(String, String)>`
    /// label set did (the types they replace), for observations in every bucket, on a bound,
    /// past the last bound, NaN, and none at all.
    #[test]
    fn probe_histogram_encodes_as_the_crates_histogram() {
        type Old = Family<Vec<(String, String)>, Histogram, fn() -> Histogram>;
        let old: Old = Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 14)));
        let new = HistogramFamily::default();
        let name: Arc<str> = Arc::from("main");
        let old_label = vec![("profile".to_string(), "main".to_string())];
        let mut values: Vec<f64> = (0..40).map(|i| 0.0004 * 1.5f64.powi(i)).collect();
        values.extend([0.0, 0.001, 0.004, 8.192, 100.0, f64::NAN]);
        for (i, v) in values.iter().enumerate() {
            old.get_or_create(&old_label).observe(*v);
            new.get_or_create_owned(&profile_label(&name)).observe(*v);
            // The same after each observation, not only at the end.
            if i % 7 == 0 {
                let help = "Latency of a probe round, seconds";
                assert_eq!(
                    text("probe_duration_seconds", help, new.clone()),
                    text("probe_duration_seconds", help, old.clone())
                );
            }
        }
        let help = "Latency of a probe round, seconds";
        let (a, b) = (
            text("probe_duration_seconds", help, new.clone()),
            text("probe_duration_seconds", help, old.clone()),
        );
        assert_eq!(a, b);
        assert!(
            a.contains("clawherd_probe_duration_seconds_bucket{le=\"0.002\",profile=\"main\"} "),
            "{a}"
        );
        // A family member never observed, and the empty family.
        let (old_idle, new_idle): (Old, HistogramFamily) = (
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 14))),
            Family::default(),
        );
        assert_eq!(text("p", "h", new_idle.clone()), text("p", "h", old_idle.clone()));
        let _ = new_idle.get_or_create(&profile_label("idle"));
        let _ = old_idle.get_or_create(&vec![("profile".to_string(), "idle".to_string())]);
        assert_eq!(text("p", "h", new_idle), text("p", "h", old_idle));
    }

    /// Counters and the info gauge under the struct label sets: the same text as under
    /// `Vec<(String, String)>`, a label value needing escapes included.
    #[test]
    fn label_structs_encode_as_the_label_vectors() {
        let odd = "we\"ird\\name\nx";
        let new = Family::<ProfileLabel, Counter>::default();
        let old = Family::<Vec<(String, String)>, Counter>::default();
        new.get_or_create(&profile_label(odd)).inc_by(3);
        old.get_or_create(&vec![("profile".into(), odd.into())]).inc_by(3);
        assert_eq!(text("failovers", "Failovers", new), text("failovers", "Failovers", old));
        let new = Family::<InfoLabels, Gauge>::default();
        let old = Family::<Vec<(String, String)>, Gauge>::default();
        new.get_or_create(&InfoLabels {
            profile: Arc::from("main"),
            role: "rescue".into(),
            flavor: "openclaw".into(),
        })
        .set(1);
        old.get_or_create(&vec![
            ("profile".into(), "main".into()),
            ("role".into(), "rescue".into()),
            ("flavor".into(), "openclaw".into()),
        ])
        .set(1);
        assert_eq!(text("instance_info", "Profiles", new), text("instance_info", "Profiles", old));
    }

    /// A label made from the actor's `Arc<str>` shares it: no copy of the name per profile.
    #[test]
    fn a_label_from_an_arc_shares_the_name() {
        let name: Arc<str> = Arc::from("main");
        let label = profile_label(&name);
        assert!(Arc::ptr_eq(&label.profile, &name));
        assert_eq!(profile_label("main"), label);
        assert_eq!(profile_label(&"main".to_string()), label);
    }
}
