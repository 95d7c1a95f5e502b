//! The command line: argument definitions ([`args`], clap derive), the client commands that talk
//! to a running daemon ([`commands`]), shell completion that knows the fleet's profiles
//! ([`complete`]), the exit codes every command returns ([`exit`]), which fleet a command means
//! without `-f` ([`find`]), the live view ([`top`]), and `clawherd export` ([`export`]: the
//! proved fleet written for Kubernetes or plain systemd, using nothing else of this module).

pub(crate) mod args;
pub(crate) mod chart;
pub mod commands;
pub mod complete;
pub mod exit;
pub(crate) mod export;
pub mod find;
pub(crate) mod lines;
pub mod local;
pub(crate) mod logview;
pub mod man;
pub(crate) mod offline;
pub(crate) mod render;
pub mod top;
pub mod upgrade;
pub(crate) mod wrap;

pub use args::{Cli, Command, ExportTarget, Selection, Target, UpgradeArgs};
