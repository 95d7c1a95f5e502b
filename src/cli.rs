//! The command line (clap derive); each subcommand's help is its doc comment.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Supervisor for fleets of OpenClaw gateways: proves their isolation, keeps them up.
#[derive(Debug, Parser)]
#[command(name = "clawherd", version, about, long_about = None)]
pub struct Cli {
    /// Log filter for clawherd's own messages (tracing env-filter syntax), e.g. `debug`.
    #[arg(long, global = true, env = "CLAWHERD_LOG", default_value = "info")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prove the fleet isolated, then run every gateway in the foreground until SIGTERM/SIGINT.
    Run {
        /// The fleet file.
        #[arg(default_value = "fleet.yaml", env = "CLAWHERD_FLEET")]
        file: PathBuf,
        /// Do not mirror gateway output to stdout (it still goes to the per-instance log files).
        #[arg(long)]
        quiet: bool,
    },
    /// Prove the fleet isolated: paths, ports, OpenClaw config keys and ports bound on this host.
    /// Exit 0 when clean, 78 otherwise.
    Check {
        /// The fleet file.
        #[arg(default_value = "fleet.yaml", env = "CLAWHERD_FLEET")]
        file: PathBuf,
        /// Skip the check of ports already bound on this host.
        #[arg(long)]
        no_host_ports: bool,
    },
    /// Print the port plan: instance, listener, port or range, source.
    Ports {
        /// The fleet file.
        #[arg(default_value = "fleet.yaml", env = "CLAWHERD_FLEET")]
        file: PathBuf,
    },
}
