//! `clawherd`: parse the command line, run the subcommand, map errors to exit codes in one place.
#![warn(clippy::unwrap_used, clippy::too_many_lines)]
#![cfg_attr(not(test), warn(clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

use clap::Parser;
use clawherd::cli::{Cli, Command, commands, exit, local, top, upgrade};
use clawherd::control::server;
use clawherd::daemon;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    // One malloc arena: clawherd's few threads allocate little, and glibc's per-thread arenas
    // (one per writer thread) would each keep their own touched pages resident.
    // SAFETY: called first, before any other thread exists.
    unsafe { nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1) };
    // A shell asking for completions (`COMPLETE=bash clawherd -- ...`) is answered here.
    clawherd::cli::complete::complete_if_asked();
    // Every usage error exits 64 (sysexits), not clap's 2; help and version exit 0.
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    init_tracing(&cli.log);
    if !matches!(cli.command, Command::Run { .. }) {
        restore_sigpipe();
    }
    let code = match cli.command {
        Command::Check {
            file,
            file_flag,
            no_host_ports,
        } => with_fleet(file.or(file_flag), |f| local::check(f, !no_host_ports)),
        Command::Ports {
            file,
            file_flag,
            chart: false,
        } => with_fleet(file.or(file_flag), local::ports),
        Command::Ports {
            file,
            file_flag,
            chart: true,
        } => with_fleet(file.or(file_flag), local::ports_chart),
        Command::Run { file, file_flag, quiet } => with_fleet(file.or(file_flag), |f| run(f, quiet)),
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
        } => {
            let run_dir = commands::offline_run_dir(&target);
            client_command(&target, |c| async move {
                commands::logs(&c, &profiles, (follow, lines, since.as_deref()), run_dir.as_deref()).await
            })
        }
        Command::Events {
            follow,
            lines,
            json,
            target,
        } => {
            let run_dir = commands::offline_run_dir(&target);
            client_command(&target, |c| async move {
                commands::events(&c, follow, lines, json, run_dir.as_deref()).await
            })
        }
        Command::Init { file, home, force, stdout } => local::init(&file, home, force, stdout),
        Command::Completions { shell } => match clawherd::cli::complete::write_registration(shell, &mut std::io::stdout()) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("clawherd: {e}");
                exit::SOFTWARE
            }
        },
        Command::Man => match clawherd::cli::man::render(&mut std::io::stdout()) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("clawherd: {e}");
                exit::SOFTWARE
            }
        },
        Command::Export { target } => local::export(target),
        Command::Install { spec, file, timeout } => with_fleet(file, |file| match runtime() {
            Ok(rt) => rt.block_on(upgrade::install(file, &spec, timeout)),
            Err(code) => code,
        }),
        Command::Upgrade { upgrade: request, target } => with_fleet(target.file.clone(), |file| {
            let file = file.to_path_buf();
            client_command(&target, |c| async move { upgrade::upgrade(&c, &file, request).await })
        }),
        Command::Reload { target } => client_command(&target, |c| async move { commands::reload(&c).await }),
        Command::Top { target } => client_command(&target, |c| async move { top::run(c).await }),
        Command::Env {
            profile,
            show_secrets,
            target,
        } => {
            let fleet = commands::offline_fleet(&target);
            client_command(&target, |c| async move {
                commands::env(&c, &profile, show_secrets, fleet.as_deref()).await
            })
        }
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
    if let Some(journald) = clawherd::systemd::journal::journald_layer() {
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

/// Runs `f` on the fleet file `given`, or the one [`clawherd::cli::find`] finds; 64 when none.
fn with_fleet(given: Option<std::path::PathBuf>, f: impl FnOnce(&Path) -> u8) -> u8 {
    match clawherd::cli::find::fleet_here(given.as_deref()) {
        Ok(found) => f(found.file()),
        Err(e) => {
            eprintln!("clawherd: {e}");
            exit::USAGE
        }
    }
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

fn run(file: &Path, quiet: bool) -> u8 {
    // The fleet's lock first, before the file is even read: a second daemon of the same fleet
    // file must stop here, whatever the file now says (an edited `run_dir` or
    // `control.socket` no longer leads to the first one's socket).
    let registration = match daemon::registry::acquire(file) {
        Ok(r) => Some(r),
        Err(e @ daemon::registry::RegistryError::Held { .. }) => {
            eprintln!("clawherd: {e}");
            return exit::UNAVAILABLE;
        }
        Err(e) => {
            tracing::warn!("{e}; running without the one-daemon-per-fleet lock");
            None
        }
    };
    // Still one thread: the descriptor table grows now without waiting for the kernel.
    daemon::reserve_descriptors_early();
    // Holding the lock (or without one, when the registry cannot be used): the look for
    // leftovers of an earlier daemon runs beside the fleet's load.
    daemon::scan_for_leftovers_early(file);
    let fleet = match local::load(file, true) {
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
            Err(e) => {
                eprintln!("clawherd: {e}");
                return exit::of_control(&e);
            }
        };
        if let Some(r) = &registration
            && let Err(e) = r.publish(&fleet.settings.socket, &fleet.settings.run_dir)
        {
            tracing::warn!("{e}; clients find this daemon by the fleet file's socket only");
        }
        let shutdown = match daemon::shutdown_signal() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("clawherd: cannot install signal handlers: {e}");
                return exit::SOFTWARE;
            }
        };
        let code = match daemon::run(fleet, listener, daemon::Options { quiet }, shutdown).await {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("clawherd: {e}");
                exit::of_daemon(&e)
            }
        };
        // Held until every gateway is gone.
        drop(registration);
        code
    })
}
