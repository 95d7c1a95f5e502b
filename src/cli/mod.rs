//! The command line: argument definitions ([`args`], clap derive), the client commands that talk
//! to a running daemon ([`commands`]), shell completion that knows the fleet's profiles
//! ([`complete`]), the exit codes every command returns ([`exit`]), and which fleet a command
//! means without `-f` ([`find`]).

pub(crate) mod args;
pub mod commands;
pub mod complete;
pub mod exit;
pub mod find;
pub(crate) mod lines;
pub mod local;
pub(crate) mod logview;
pub mod man;
pub(crate) mod offline;
pub mod top;
pub mod upgrade;
pub(crate) mod wrap;

pub use args::{Cli, Command, ExportTarget, Selection, Target, UpgradeArgs};
