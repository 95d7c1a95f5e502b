//! clawherd: a supervisor for fleets of OpenClaw gateways on one host.
//!
//! # Layout
//! - [`fleet`]: the fleet file, from YAML to a validated, planned and proved [`fleet::Fleet`]
//!   (`file` raw model, `validate`, `plan` effective paths and ports with their sources,
//!   `isolation` the pairwise proof, `host` ports bound on this host, `openclaw` OpenClaw's rules).
//! - [`instance`]: one actor per profile owning its gateway; `state` is the pure state machine.
//! - [`process`]: spawning as a process-group leader, signalling and reaping whole trees,
//!   subreaper, reading `/proc`.
//! - [`health`]: HTTP readiness and liveness probes.
//! - [`restart`]: restart policy, backoff and crash-loop tally.
//! - [`supervisor`]: owns the instance handles; leftovers, start, shutdown.
//! - [`logs`]: capture of gateway output to per-instance files and the console.
//! - [`exit`]: sysexits codes.
#![warn(missing_docs, clippy::unwrap_used)]

pub mod cli;
pub mod commands;
pub mod control;
pub mod events;
pub mod exit;
pub mod failover;
pub mod fleet;
pub mod health;
pub mod init;
pub mod instance;
pub mod journal;
pub mod logs;
pub mod metrics;
pub mod process;
pub mod restart;
pub mod service;
pub mod supervisor;
pub mod systemd;
pub mod watch;
