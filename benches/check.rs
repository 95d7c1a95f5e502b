//! `clawherd check` cost on a 200-profile fleet (criterion): parse + validate + plan + the
//! pairwise isolation proof, without the host checks. Run with `cargo bench --bench check`.

use clawherd::fleet::{LoadContext, load_str};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// A fleet of `n` openclaw-flavor profiles, bases 200 apart from 20000, each with its own state
/// dir and (missing, so defaults) config.
fn fleet_text(n: usize) -> String {
    let mut y = String::from("version: 1\ndefaults:\n  args: [--allow-unconfigured]\nprofiles:\n");
    for i in 0..n {
        let role = if i == 0 { "main" } else { "rescue" };
        y.push_str(&format!(
            "  p{i}:\n    role: {role}\n    openclaw_profile: p{i}\n    port: {}\n    state_dir: state/p{i}\n",
            20_000 + 200 * i
        ));
    }
    y
}

fn check_200(c: &mut Criterion) {
    let text = fleet_text(200);
    let dir = std::env::temp_dir().join("clawherd-bench-fleet");
    let path = dir.join("fleet.yaml");
    let ctx = LoadContext {
        env: std::env::vars().collect(),
        check_host_ports: false,
    };
    // Sanity: the fleet is valid and proves clean.
    let fleet = load_str(&path, &text, &ctx).expect("the generated fleet proves clean");
    assert_eq!(fleet.instances.len(), 200);
    c.bench_function("check 200 profiles (parse, validate, plan, prove)", |b| {
        b.iter(|| load_str(black_box(&path), black_box(&text), &ctx).expect("valid"))
    });
}

criterion_group!(benches, check_200);
criterion_main!(benches);
