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

/// A fleet of `n` profiles that all clash: one base port, one state dir (so one config, one
/// workspace, one log file).
fn clashing_text(n: usize) -> String {
    let mut y = String::from("version: 1\ndefaults:\n  args: [--allow-unconfigured]\n  state_dir: shared\nprofiles:\n");
    for i in 0..n {
        let role = if i == 0 { "main" } else { "rescue" };
        y.push_str(&format!("  p{i}:\n    role: {role}\n    port: 18789\n"));
    }
    y
}

/// The proof's worst case (issue 12): 1,000 profiles all clashing. Prints the size of the
/// errors once; criterion gives the time.
fn check_1000_clashing(c: &mut Criterion) {
    let text = clashing_text(1000);
    let dir = std::env::temp_dir().join("clawherd-bench-clashing");
    let path = dir.join("fleet.yaml");
    let ctx = LoadContext {
        env: [("HOME".to_string(), dir.display().to_string())].into(),
        check_host_ports: false,
    };
    let errors = match load_str(&path, &text, &ctx) {
        Ok(_) => panic!("the clashing fleet must not prove"),
        Err(e) => e.to_string(),
    };
    eprintln!("figure: check 1000 clashing profiles: {} bytes of errors", errors.len());
    c.bench_function("check 1000 clashing profiles (parse, validate, plan, prove)", |b| {
        b.iter(|| load_str(black_box(&path), black_box(&text), &ctx).expect_err("clashes"))
    });
}

/// 1,000 profiles on bases 1 apart, each with its own paths: every base meets its neighbours.
fn check_1000_run(c: &mut Criterion) {
    let mut text = String::from("version: 1\ndefaults:\n  args: [--allow-unconfigured]\nprofiles:\n");
    for i in 0..1000 {
        let role = if i == 0 { "main" } else { "rescue" };
        text.push_str(&format!(
            "  p{i}:\n    role: {role}\n    openclaw_profile: p{i}\n    port: {}\n    state_dir: s/p{i}\n",
            20_000 + i
        ));
    }
    let dir = std::env::temp_dir().join("clawherd-bench-run");
    let path = dir.join("fleet.yaml");
    let ctx = LoadContext {
        env: [("HOME".to_string(), dir.display().to_string())].into(),
        check_host_ports: false,
    };
    let errors = match load_str(&path, &text, &ctx) {
        Ok(_) => panic!("the fleet must not prove"),
        Err(e) => e.to_string(),
    };
    eprintln!("figure: check 1000 profiles on bases 1 apart: {} bytes of errors", errors.len());
    c.bench_function("check 1000 profiles on bases 1 apart (parse, validate, plan, prove)", |b| {
        b.iter(|| load_str(black_box(&path), black_box(&text), &ctx).expect_err("clashes"))
    });
}

criterion_group!(benches, check_200, check_1000_clashing, check_1000_run);
criterion_main!(benches);
