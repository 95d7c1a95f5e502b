//! Processes: spawning a gateway as a process-group leader with its environment, signalling
//! and reaping its whole tree, and reading `/proc`.

pub mod group;
pub mod limits;
pub mod listeners;
pub mod reaper;
pub mod spawn;
pub mod tool;
pub mod tree;
pub mod trim;
pub mod usage;
