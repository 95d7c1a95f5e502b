//! Processes: spawning a gateway as a process-group leader with its environment, signalling
//! and reaping its whole tree, reading `/proc`, the descriptor limit, and the one small HTTP
//! client ([`http`]) of the probes, the hooks and the CLI.

pub mod group;
pub mod http;
pub mod limits;
pub mod listeners;
pub mod reaper;
pub mod spawn;
pub mod tool;
pub mod tree;
pub mod trim;
pub mod usage;
