//! The command line: argument definitions ([`args`], clap derive), the client commands that talk
//! to a running daemon ([`commands`]), shell completion that knows the fleet's profiles
//! ([`complete`]), the exit codes every command returns ([`exit`]), and which fleet a command
//! means without `-f` ([`find`]).

pub mod args;
pub mod commands;
pub mod complete;
pub mod exit;
pub mod find;
pub mod local;
pub mod logview;
pub mod man;
pub mod offline;
pub mod top;
pub mod upgrade;
pub mod wrap;

pub use args::{Cli, Command, ExportTarget, Selection, Target, UpgradeArgs};
