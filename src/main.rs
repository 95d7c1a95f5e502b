//! `clawherd`: parse the command line, run the subcommand, map errors to exit codes in one place.

use clap::Parser;
use clawherd::cli::{Cli, Command};
use clawherd::control::server::{self, AccessPolicy, AppState, ControlError};
use clawherd::fleet::{self, Fleet, FleetError, LoadContext};
use clawherd::logs::OutputSink;
use clawherd::supervisor::{self, Request, Supervisor};
use clawherd::{commands, exit, watch};
use std::path::Path;
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

fn main() -> ExitCode {
    // One malloc arena: clawherd's few threads allocate little, and glibc's per-thread arenas
    // (one per writer thread) would each keep their own touched pages resident.
    // SAFETY: called first, before any other thread exists.
    unsafe { nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1) };
    let cli = Cli::parse();
    init_tracing(&cli.log);
    if !matches!(cli.command, Command::Run { .. }) {
        restore_sigpipe();
    }
    let code = match cli.command {
        Command::Check { file, no_host_ports } => check(&file, !no_host_ports),
        Command::Ports { file } => ports(&file),
        Command::Run { file, quiet } => run(&file, quiet),
        Command::Status { profile, json, target } => {
            client_command(&target, |c| async move { commands::status(&c, profile.as_deref(), json).await })
        }
        Command::Start { sel, target } => client_command(&target, |c| async move { commands::act(&c, "start", &sel).await }),
        Command::Stop { sel, target } => client_command(&target, |c| async move { commands::act(&c, "stop", &sel).await }),
        Command::Restart { sel, target } => client_command(&target, |c| async move { commands::act(&c, "restart", &sel).await }),
        Command::Logs {
            profiles,
            follow,
            lines,
            since,
            target,
        } => client_command(&target, |c| async move {
            commands::logs(&c, &profiles, follow, lines, since.as_deref()).await
        }),
        Command::Events {
            follow,
            lines,
            json,
            target,
        } => client_command(&target, |c| async move { commands::events(&c, follow, lines, json).await }),
        Command::Init { file, home, force, stdout } => init(&file, home, force, stdout),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "clawherd", &mut std::io::stdout());
            exit::OK
        }
        Command::Man => match clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut std::io::stdout()) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("clawherd: {e}");
                exit::SOFTWARE
            }
        },
        Command::Reload { target } => client_command(&target, |c| async move { commands::reload(&c).await }),
        Command::Env {
            profile,
            show_secrets,
            target,
        } => client_command(&target, |c| async move { commands::env(&c, &profile, show_secrets).await }),
    };
    ExitCode::from(code)
}

/// Client commands end quietly when their output pipe closes (`clawherd logs -F | head`), as
/// command-line tools do. The daemon keeps Rust's default of ignoring SIGPIPE.
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called first thing in main, single-threaded, installing the default disposition.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// clawherd's own log: to the journal with structured fields when stderr is the journal, else
/// plain text to stderr; never both.
fn init_tracing(filter: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if let Some(journald) = clawherd::journal::journald_layer() {
        tracing_subscriber::registry().with(filter).with(journald).init();
        return;
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    // Never report write errors with eprintln!: a daemon whose stderr reader went away (a closed
    // pipe) would panic on its next log line and leave its gateways behind.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .log_internal_errors(false)
        .init();
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    // Blocking-pool threads (parallel spawns at start-up, file reads) leave after 1 s idle.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .build()
        .map_err(|e| {
            eprintln!("clawherd: cannot start the runtime: {e}");
            exit::SOFTWARE
        })
}

/// Runs a client command on a small runtime.
fn client_command<F, Fut>(target: &clawherd::cli::Target, f: F) -> u8
where
    F: FnOnce(clawherd::control::client::Client) -> Fut,
    Fut: std::future::Future<Output = u8>,
{
    let client = match commands::client(target) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match runtime() {
        Ok(rt) => rt.block_on(f(client)),
        Err(code) => code,
    }
}

/// Loads the fleet; prints warnings; on failure prints every problem and returns the exit code.
fn load(file: &Path, host_ports: bool) -> Result<Fleet, u8> {
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

fn check(file: &Path, host_ports: bool) -> u8 {
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
            exit::OK
        }
        Err(code) => code,
    }
}

/// `clawherd init`: discover, render, prove, write.
fn init(file: &Path, home: Option<std::path::PathBuf>, force: bool, to_stdout: bool) -> u8 {
    let home = match home.or_else(|| std::env::var_os("HOME").map(Into::into)) {
        Some(h) => h,
        None => {
            eprintln!("clawherd: no home to search: set HOME or pass --home");
            return exit::USAGE;
        }
    };
    let openclaw_home = std::env::var_os("OPENCLAW_HOME").map(std::path::PathBuf::from);
    let found = clawherd::init::discover(&home, openclaw_home.as_deref());
    if found.is_empty() {
        eprintln!(
            "clawherd: no OpenClaw profile found under {} (~/.openclaw, ~/.openclaw-*, ~/.clawdbot)",
            home.display()
        );
        eprintln!("  hint: start from config-examples/fleet.yaml instead");
        return exit::FAILURE;
    }
    let text = clawherd::init::render_fleet(&found);
    let path = match std::path::absolute(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("clawherd: {}: {e}", file.display());
            return exit::USAGE;
        }
    };
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    env.insert("HOME".into(), home.display().to_string());
    let report = clawherd::init::proof_report(
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
    if report.proved { exit::OK } else { exit::CONFIG }
}

fn ports(file: &Path) -> u8 {
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
    exit::OK
}

fn run(file: &Path, quiet: bool) -> u8 {
    let fleet = match load(file, true) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    rt.block_on(async move {
        // The socket first: if another clawherd serves this fleet, it must not be disturbed (its
        // gateways would look like leftovers).
        let listener = match server::bind(&fleet.settings.socket, fleet.settings.socket_group.as_ref().map(|g| g.1)).await {
            Ok(l) => l,
            Err(e @ ControlError::AlreadyRunning(_)) => {
                eprintln!("clawherd: {e}");
                return exit::UNAVAILABLE;
            }
            Err(e) => {
                eprintln!("clawherd: {e}");
                return exit::SOFTWARE;
            }
        };
        let shutdown = match shutdown_signal() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("clawherd: cannot install signal handlers: {e}");
                return exit::SOFTWARE;
            }
        };
        let console = match (quiet, clawherd::journal::stdout_is_journal()) {
            (true, _) => clawherd::logs::Console::Off,
            (false, true) => match clawherd::journal::JournalWriter::new() {
                Ok(j) => clawherd::logs::Console::Journal(j),
                Err(_) => clawherd::logs::Console::Stdout,
            },
            (false, false) => clawherd::logs::Console::Stdout,
        };
        let output = OutputSink::start(fleet.settings.run_dir.join("logs"), fleet.settings.rotation, console);
        let events = clawherd::events::EventSink::start(Some(fleet.settings.run_dir.join("events.jsonl")));
        let (requests, requests_rx) = mpsc::channel(16);
        let state = AppState {
            requests: requests.clone(),
            output: output.clone(),
            keep: fleet.settings.rotation.keep,
            fleet_path: fleet.path.clone(),
            access: AccessPolicy { owner_uid: nix::unistd::geteuid().as_raw(), group_gid: fleet.settings.socket_group.as_ref().map(|g| g.1) },
            events: events.clone(),
            cpu: Default::default(),
        };
        let socket = fleet.settings.socket.clone();
        let metrics_listener = match fleet.settings.metrics_listen {
            Some(addr) => match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("clawherd: cannot listen for metrics on {addr}: {e}\n  hint: choose another `metrics.listen` port");
                    return exit::UNAVAILABLE;
                }
            },
            None => None,
        };
        let watched = watch::watched_paths(&fleet);
        let watching = fleet.settings.watch;
        tracing::info!(fleet = %fleet.path.display(), instances = fleet.instances.len(), socket = %socket.display(), "isolation proved; starting");
        let sup = match Supervisor::start(fleet, output, events).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("clawherd: {e}");
                return exit::SOFTWARE;
            }
        };
        // Owned here, stopped below: the API server, the SIGHUP listener and the watcher.
        let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
        let api = tokio::spawn(server::serve(listener, state, async move {
            let _ = api_stopped.await;
        }));
        let hup = tokio::spawn(reload_on_sighup(requests.clone()));
        let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        let metrics_task = metrics_listener.map(|l| {
            tokio::spawn(server::serve_metrics(l, requests.clone(), async move {
                let _ = metrics_stopped.await;
            }))
        });
        let notifier = std::sync::Arc::new(clawherd::systemd::Notifier::from_env());
        // Once the fleet is up, give back the code only start-up needed: CLI, fleet file and
        // configs, the proof, the first spawns and probes (see process::trim). Not earlier:
        // the first spawns would fault the dropped code straight back in.
        let views = sup.views();
        let trim_task = tokio::spawn(async move {
            clawherd::service::settled(&views).await;
            let advised = clawherd::process::trim::page_out_startup_code();
            tracing::debug!(advised_bytes = advised, "fleet up: paged out start-up code");
        });
        let notify_task = clawherd::service::start(notifier.clone(), sup.views());
        let watcher = if watching { watch::start(watched, requests.clone()) } else { None };
        supervisor::serve(sup, requests_rx, shutdown, &notifier).await;
        if let Some(t) = notify_task {
            t.abort();
        }
        trim_task.abort();
        drop(watcher);
        hup.abort();
        let _ = stop_api.send(());
        let _ = api.await;
        let _ = stop_metrics.send(());
        if let Some(t) = metrics_task {
            let _ = t.await;
        }
        let _ = std::fs::remove_file(&socket);
        exit::OK
    })
}

/// SIGHUP reloads the fleet file (as `clawherd reload` does), so a closed terminal never kills
/// clawherd and orphans its gateways.
async fn reload_on_sighup(requests: mpsc::Sender<Request>) {
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("received SIGHUP: reloading the fleet file");
        if requests.send(Request::Reload(None)).await.is_err() {
            return;
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("received SIGTERM"),
            _ = int.recv() => tracing::info!("received SIGINT"),
        }
    })
}
