//! The command line: argument definitions ([`args`], clap derive), the client commands that talk
//! to a running daemon ([`commands`]), and the exit codes every command returns ([`exit`]).

pub mod args;
pub mod commands;
pub mod exit;
pub mod local;
pub mod top;
pub mod upgrade;

pub use args::{Cli, Command, Selection, Target, UpgradeArgs};
