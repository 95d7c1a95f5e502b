//! The command line: argument definitions ([`args`], clap derive), the client commands that talk
//! to a running daemon ([`commands`]), shell completion that knows the fleet's profiles
//! ([`complete`]), and the exit codes every command returns ([`exit`]).

pub mod args;
pub mod commands;
pub mod complete;
pub mod exit;
pub mod local;
pub mod top;

pub use args::{Cli, Command, Selection, Target};
