//! Commands that need no daemon: `check` (the isolation proof), `ports` (the port plan) and
//! `init` (discover the profiles on this host and write a fleet file).

use super::exit;
use crate::fleet::{self, Fleet, FleetError, LoadContext};
use std::path::Path;

/// Loads and proves the fleet at `file` (with the host's bound ports if `host_ports`); prints
/// warnings; on failure prints every problem and returns the exit code.
pub fn load(file: &Path, host_ports: bool) -> Result<Fleet, u8> {
    let ctx = LoadContext {
        check_host_ports: host_ports,
        ..LoadContext::from_process()
    };
    match fleet::load(file, &ctx) {
        Ok(f) => {
            if !f.warnings.0.is_empty() {
                eprintln!("{}", f.warnings);
            }
            Ok(f)
        }
        Err(FleetError::Invalid(d)) => {
            eprintln!("{d}\n\nclawherd: {} problem(s) found; nothing was started", d.error_count());
            Err(exit::CONFIG)
        }
        Err(e @ FleetError::Read { .. }) => {
            eprintln!("{e}");
            Err(exit::CONFIG)
        }
    }
}

/// `clawherd check`: prints the proof's result; 0 proved, 78 not.
pub fn check(file: &Path, host_ports: bool) -> u8 {
    match load(file, host_ports) {
        Ok(f) => {
            println!("{}: isolation proved for {} instance(s)", f.path.display(), f.instances.len());
            for (p, plan) in &f.instances {
                let ports = match (
                    plan.listeners.iter().map(|l| l.range.lo).min(),
                    plan.listeners.iter().map(|l| l.range.hi).max(),
                ) {
                    (Some(lo), Some(hi)) => format!("ports {lo}-{hi}"),
                    _ => "no ports".into(),
                };
                let paths = match &plan.gateway {
                    Some(g) => format!(
                        "  state {}  config {}  workspace {}  log {}",
                        g.state_dir.value.display(),
                        g.config.value.display(),
                        g.workspace.value.display(),
                        g.log_file.value.display()
                    ),
                    None => format!("  command {}", plan.argv.join(" ")),
                };
                println!("  {:<10} {:<6} {:<8} {ports}{paths}", p.name, p.role.as_str(), p.flavor.as_str());
            }
            let configs: Vec<(String, std::path::PathBuf)> = f
                .instances
                .iter()
                .filter(|(p, _)| p.flavor == crate::fleet::Flavor::OpenClaw)
                .filter_map(|(p, plan)| plan.gateway.as_ref().map(|g| (p.name.clone(), g.config.value.clone())))
                .collect();
            if let Some(advice) = crate::rollout::files::reload_mode_advice(&configs) {
                eprintln!("{advice}");
            }
            exit::OK
        }
        Err(code) => code,
    }
}

/// `clawherd init`: discover, render, prove, write.
pub fn init(file: &Path, home: Option<std::path::PathBuf>, force: bool, to_stdout: bool) -> u8 {
    let home = match home.or_else(|| std::env::var_os("HOME").map(Into::into)) {
        Some(h) => h,
        None => {
            eprintln!("clawherd: no home to search: set HOME or pass --home");
            return exit::USAGE;
        }
    };
    let openclaw_home = std::env::var_os("OPENCLAW_HOME").map(std::path::PathBuf::from);
    let found = crate::fleet::discover::discover(&home, openclaw_home.as_deref());
    if found.is_empty() {
        eprintln!(
            "clawherd: no OpenClaw profile found under {} (~/.openclaw, ~/.openclaw-*, ~/.clawdbot)",
            home.display()
        );
        eprintln!("  hint: start from config-examples/fleet.yaml instead");
        return exit::FAILURE;
    }
    let text = crate::fleet::discover::render_fleet(&found);
    let path = match std::path::absolute(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("clawherd: {}: {e}", file.display());
            return exit::USAGE;
        }
    };
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    env.insert("HOME".into(), home.display().to_string());
    let report = crate::fleet::discover::proof_report(
        &path,
        &text,
        &LoadContext {
            env,
            check_host_ports: true,
        },
    );
    if to_stdout {
        print!("{text}");
    } else if path.exists() && !force {
        eprintln!(
            "clawherd: {} exists; not overwritten (use --force, or --stdout to see the proposal)",
            path.display()
        );
        return exit::USAGE;
    } else if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("clawherd: cannot write {}: {e}", path.display());
        return exit::FAILURE;
    } else {
        eprintln!(
            "wrote {} with {} profile(s): {}",
            path.display(),
            found.len(),
            found
                .iter()
                .map(|f| format!("{} ({})", f.name, f.role.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    eprintln!("{}", report.text);
    let configs: Vec<(String, std::path::PathBuf)> = found
        .iter()
        .filter(|f| f.flavor == crate::fleet::Flavor::OpenClaw)
        .map(|f| (f.name.clone(), f.config.clone()))
        .collect();
    if let Some(advice) = crate::rollout::files::reload_mode_advice(&configs) {
        eprintln!("{advice}");
    }
    if report.proved { exit::OK } else { exit::CONFIG }
}

/// `clawherd ports`: the port plan as a table; 0, or 78 for a fleet that does not load.
pub fn ports(file: &Path) -> u8 {
    let f = match load(file, false) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let rows: Vec<[String; 4]> = f
        .instances
        .iter()
        .flat_map(|(p, plan)| {
            plan.listeners
                .iter()
                .map(move |l| [p.name.clone(), l.name.clone(), l.range.to_string(), l.source.to_string()])
        })
        .collect();
    let headers = ["INSTANCE", "LISTENER", "PORT", "SOURCE"];
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let print = |r: [&str; 4]| {
        println!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
    };
    print(headers);
    for r in &rows {
        print([&r[0], &r[1], &r[2], &r[3]]);
    }
    for (p, plan) in &f.instances {
        let Some(base) = plan.port() else { continue };
        for n in fleet::plan::not_planned(p.flavor) {
            let port = u32::from(base) + n.offset;
            println!("not planned: {} {} {port} ({}): {}", p.name, n.name, n.claim, n.why);
        }
    }
    exit::OK
}

/// `clawherd ports --chart`: each instance's planned ports, lowest to highest, drawn on one
/// axis as wide as the terminal (80 columns when not a terminal), then the free gaps.
pub fn ports_chart(file: &Path) -> u8 {
    let f = match load(file, false) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let spans: Vec<super::top::chart::Span> = f
        .instances
        .iter()
        .filter_map(|(p, plan)| {
            let lo = plan.listeners.iter().map(|l| l.range.lo).min()?;
            let hi = plan.listeners.iter().map(|l| l.range.hi).max()?;
            Some(super::top::chart::Span {
                name: p.name.clone(),
                lo: u16::try_from(lo).ok()?,
                hi: u16::try_from(hi).ok()?,
            })
        })
        .collect();
    let width = std::io::IsTerminal::is_terminal(&std::io::stdout())
        .then(|| ratatui::crossterm::terminal::size().ok())
        .flatten()
        .map_or(80, |(w, _)| usize::from(w));
    for line in super::top::chart::render(&spans, width) {
        println!("{line}");
    }
    exit::OK
}
