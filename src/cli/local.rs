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
    let width = super::wrap::width(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match fleet::load(file, &ctx) {
        Ok(f) => {
            if !f.warnings.0.is_empty() {
                eprintln!("{}", super::wrap::wrap(&f.warnings.to_string(), width));
            }
            Ok(f)
        }
        Err(FleetError::Invalid(d)) => {
            eprintln!(
                "{}\n\nclawherd: {} problem(s) found; nothing was started",
                super::wrap::wrap(&d.to_string(), width),
                d.error_count()
            );
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
            let width = super::wrap::width(std::io::IsTerminal::is_terminal(&std::io::stdout()));
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
                let line = format!("  {:<10} {:<6} {:<8} {ports}{paths}", p.name, p.role.as_str(), p.flavor.as_str());
                println!("{}", super::wrap::wrap(&line, width));
            }
            let live: Vec<String> = f
                .instances
                .iter()
                .filter(|(p, _)| p.flavor == crate::fleet::Flavor::OpenClaw)
                .filter(|(_, plan)| plan.gateway.as_ref().is_some_and(|g| g.reloads_itself))
                .map(|(p, _)| p.name.clone())
                .collect();
            if let Some(advice) = crate::daemon::rollout::files::live_reload_advice(&live) {
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
        eprintln!(
            "  hint: pass --home DIR if the profiles live under another home, or write the fleet file by hand (every key is in docs/fleet-file.md of clawherd's source)"
        );
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
    if to_stdout {
        // Nothing was written: the places name standard output, not a file that does not exist.
        eprintln!("{}", report.text.replace(&path.display().to_string(), "<stdout>"));
    } else {
        eprintln!("{}", report.text);
    }
    let configs: Vec<(String, std::path::PathBuf)> = found
        .iter()
        .filter(|f| f.flavor == crate::fleet::Flavor::OpenClaw)
        .map(|f| (f.name.clone(), f.config.clone()))
        .collect();
    if let Some(advice) = crate::daemon::rollout::files::reload_mode_advice(&configs) {
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
    // On a terminal, SOURCE wraps under itself.
    let width = super::wrap::width(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let source_at = widths[0] + widths[1] + widths[2] + 6;
    let print = |r: [&str; 4]| {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        match width.filter(|w| *w >= source_at + 20) {
            Some(w) => println!("{}", super::wrap::wrap_line(&line, w, source_at)),
            None => println!("{line}"),
        }
    };
    print(headers);
    for r in &rows {
        print([&r[0], &r[1], &r[2], &r[3]]);
    }
    let mut flavors: Vec<fleet::Flavor> = f.instances.iter().map(|(p, _)| p.flavor).collect();
    flavors.sort_by_key(|f| f.as_str());
    flavors.dedup();
    for note in flavors.into_iter().filter_map(fleet::plan::when_ports_open) {
        println!("{}", super::wrap::wrap(&format!("when: {note}"), width));
    }
    for (p, plan) in &f.instances {
        let Some(base) = plan.port() else { continue };
        for n in fleet::plan::not_planned(p.flavor) {
            let port = u32::from(base) + n.offset;
            let line = format!("not planned: {} {} {port} ({}): {}", p.name, n.name, n.claim, n.why);
            println!("{}", super::wrap::wrap(&line, width));
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
    let spans: Vec<super::chart::Span> = f
        .instances
        .iter()
        .filter_map(|(p, plan)| {
            let parts = plan
                .listeners
                .iter()
                .filter_map(|l| {
                    Some(super::chart::Part {
                        lo: u16::try_from(l.range.lo).ok()?,
                        hi: u16::try_from(l.range.hi).ok()?,
                        connects: l.connects,
                    })
                })
                .collect();
            super::chart::Span::of_parts(&p.name, parts)
        })
        .collect();
    let width = std::io::IsTerminal::is_terminal(&std::io::stdout())
        .then(|| ratatui::crossterm::terminal::size().ok())
        .flatten()
        .map_or(80, |(w, _)| usize::from(w));
    for line in super::chart::render(&spans, width) {
        println!("{line}");
    }
    if !spans.is_empty() {
        println!("{}", super::chart::LEGEND);
    }
    exit::OK
}

/// `clawherd export kubernetes|systemd`: proves the fleet (without the host-port check: the
/// target is another machine), renders it, and prints it or writes it into the `-o` folder.
/// 0 written; 78 a fleet that does not prove or cannot be expressed by the target (nothing
/// written); 1 a file that cannot be written; 70 a rendering failure.
pub fn export(target: super::ExportTarget) -> u8 {
    use crate::cli::export::{self, Destination, ExportError, Exported};
    let (file, output) = match &target {
        super::ExportTarget::Kubernetes {
            file, file_flag, output, ..
        }
        | super::ExportTarget::Systemd { file, file_flag, output } => (file.clone().or_else(|| file_flag.clone()), output.clone()),
    };
    let file = match super::find::fleet_here(file.as_deref()) {
        Ok(found) => found.file().to_path_buf(),
        Err(e) => {
            eprintln!("clawherd: {e}");
            return exit::USAGE;
        }
    };
    if let super::ExportTarget::Kubernetes { namespace: Some(ns), .. } = &target
        && !export::model::is_dns_label(ns)
    {
        eprintln!(
            "clawherd: --namespace {ns:?} is not a Kubernetes namespace name\n  hint: lowercase letters, digits and `-`, at most 63, starting and ending with a letter or digit"
        );
        return exit::USAGE;
    }
    if let super::ExportTarget::Kubernetes { storage, .. } = &target
        && !export::kubernetes::is_quantity(storage)
    {
        eprintln!("clawherd: --storage {storage:?} is not a Kubernetes quantity\n  hint: a number and a unit such as 10Gi, 500Mi or 1T");
        return exit::USAGE;
    }
    let fleet = match load(&file, false) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let parent_env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let rendered = Exported::new(&fleet, &parent_env).and_then(|ex| match target {
        super::ExportTarget::Systemd { .. } => Ok((export::systemd::export(&ex)?, Vec::new())),
        super::ExportTarget::Kubernetes {
            plain,
            namespace,
            storage,
            image,
            ..
        } => {
            let opts = export::kubernetes::Options { namespace, storage, image };
            let files = if plain {
                export::kubernetes_plain::export(&ex, &opts)?
            } else {
                let out = export::kubernetes_operator::export(&ex, &opts)?;
                for (profile, why) in &out.skipped {
                    eprintln!("clawherd: skipped profile `{profile}`: {why}");
                }
                out.files
            };
            let mut notes = export::kubernetes::config_commands(&ex.instances, "openclaw.json", &opts);
            notes.insert(
                0,
                "next: load each OpenClaw config into its ConfigMap (a config may hold tokens, so it is not exported):".into(),
            );
            if files.iter().any(|f| f.name == "secrets.yaml") {
                notes.push("then fill in the keys of the Secrets (secrets.yaml) before `kubectl apply`".into());
            }
            Ok((files, notes))
        }
    });
    let (files, notes) = match rendered {
        Ok(r) => r,
        Err(e) => {
            eprintln!("clawherd: {e}");
            return match e {
                ExportError::Fleet { .. } => exit::CONFIG,
                ExportError::Write { .. } => exit::FAILURE,
                ExportError::Render { .. } => exit::SOFTWARE,
            };
        }
    };
    let yaml = files.iter().all(|f| f.name.ends_with(".yaml"));
    match Destination::parse(output.as_deref()) {
        Destination::Stdout if yaml => print!("{}", export::kubernetes::stream(&files)),
        Destination::Stdout => {
            for f in &files {
                println!("# FILE {}\n{}", f.name, f.text);
            }
        }
        Destination::Dir(dir) => match export::write_dir(&dir, &files) {
            Ok(paths) => {
                for p in paths {
                    eprintln!("wrote {}", p.display());
                }
            }
            Err(e) => {
                eprintln!("clawherd: {e}");
                return exit::FAILURE;
            }
        },
    }
    for n in notes {
        eprintln!("{n}");
    }
    exit::OK
}
