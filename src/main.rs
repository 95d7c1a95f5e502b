//! `clawherd`: parse the command line, run the subcommand, map errors to exit codes in one place.

use clap::Parser;
use clawherd::cli::{Cli, Command};
use clawherd::exit;
use clawherd::fleet::{self, Fleet, FleetError, LoadContext};
use clawherd::logs::OutputSink;
use clawherd::supervisor;
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    let code = match cli.command {
        Command::Check { file, no_host_ports } => check(&file, !no_host_ports),
        Command::Ports { file } => ports(&file),
        Command::Run { file, quiet } => run(&file, quiet),
    };
    ExitCode::from(code)
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}

/// Loads the fleet; prints warnings; on failure prints every problem and returns the exit code.
fn load(file: &std::path::Path, host_ports: bool) -> Result<Fleet, u8> {
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

fn check(file: &std::path::Path, host_ports: bool) -> u8 {
    match load(file, host_ports) {
        Ok(f) => {
            println!("{}: isolation proved for {} instance(s)", f.path.display(), f.instances.len());
            for (p, plan) in &f.instances {
                let span_hi = plan.listeners.iter().map(|l| l.range.hi).max().unwrap_or(0);
                println!(
                    "  {:<10} {:<6} base {} (ports {}-{})  state {}  config {}  workspace {}  log {}",
                    p.name,
                    p.role.as_str(),
                    plan.base_port.value,
                    plan.base_port.value,
                    span_hi,
                    plan.state_dir.value.display(),
                    plan.config.value.display(),
                    plan.workspace.value.display(),
                    plan.log_file.value.display()
                );
            }
            exit::OK
        }
        Err(code) => code,
    }
}

fn ports(file: &std::path::Path) -> u8 {
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
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].len()).chain([headers[i].len()]).max().unwrap_or(0))
        .collect();
    println!(
        "{:<w0$}  {:<w1$}  {:<w2$}  {}",
        headers[0],
        headers[1],
        headers[2],
        headers[3],
        w0 = widths[0],
        w1 = widths[1],
        w2 = widths[2]
    );
    for r in rows {
        println!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    exit::OK
}

fn run(file: &std::path::Path, quiet: bool) -> u8 {
    let fleet = match load(file, true) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("clawherd: cannot start the runtime: {e}");
            return exit::SOFTWARE;
        }
    };
    runtime.block_on(async move {
        let output = OutputSink::start(fleet.run_dir.join("logs"), !quiet);
        tracing::info!(fleet = %fleet.path.display(), instances = fleet.instances.len(), "isolation proved; starting");
        let shutdown = match shutdown_signal() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("clawherd: cannot install signal handlers: {e}");
                return exit::SOFTWARE;
            }
        };
        match supervisor::run(fleet, output, shutdown).await {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("clawherd: {e}");
                exit::SOFTWARE
            }
        }
    })
}

/// Resolves on the first SIGTERM or SIGINT. SIGHUP is caught so a closed terminal does not kill
/// clawherd and orphan its gateways; it is logged and otherwise ignored.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("received SIGTERM"); break; }
                _ = int.recv() => { tracing::info!("received SIGINT"); break; }
                _ = hup.recv() => tracing::warn!("received SIGHUP: ignored (clawherd keeps running; live reload of the fleet file is not available yet)"),
            }
        }
    })
}
