//! clawherd: a supervisor for fleets of OpenClaw gateways on one host.
//!
//! # Layout
//! Each folder is one concern; dependencies point down this list, never up (checked by
//! `scripts/check-layers`).
//! - [`cli`]: argument definitions, the client commands and their rendering, exit codes, `top`,
//!   and `export` (the proved fleet written for another engine: OpenClaw operator resources,
//!   plain Kubernetes StatefulSets and Services, systemd units).
//! - [`daemon`]: `clawherd run`: the supervisor task that owns the instances, reload and its
//!   rollout (standbys first, each change proved ready then soaked, rollback to the
//!   last-known-good), leftovers, the file watch, the task that keeps systemd told, and the
//!   registry (one daemon per fleet file, found by clients).
//! - [`control`]: the control API (HTTP over a Unix socket): server, handlers, client, protocol.
//! - [`failover`]: the pure failover controller per standby, its task and hooks.
//! - [`instance`]: one actor per profile owning its gateway; the pure state machine, restart
//!   policy and backoff, probes, OpenClaw's restart hand-off.
//! - [`observe`]: events, captured gateway output, Prometheus metrics.
//! - [`fleet`]: the fleet file, from YAML to a validated, planned and proved [`fleet::Fleet`];
//!   discovery of existing profiles for `init`; OpenClaw versions side by side (detection, the
//!   versioned store, upgrade pins).
//! - [`process`]: spawning as a process-group leader, signalling and reaping whole trees,
//!   subreaper, `/proc` readings (trees, listeners, resource usage), the open-file limit, the one
//!   small HTTP client (probes, hooks, CLI).
//! - [`systemd`]: the `sd_notify` and journal protocols.
//!
//! The public surface is what the two binaries (`clawherd`, `fake-gateway`), the integration
//! tests and the benchmark use; every other module is `pub(crate)`, and so is every item that
//! cannot be reached from outside (`unreachable_pub`), so `pub` means public.
#![warn(missing_docs, unreachable_pub, clippy::unwrap_used, clippy::too_many_lines)]
// Most modules are `pub(crate)`: the library's public surface is what the binaries and the
// integration tests use. The documentation is for the people working on clawherd, and its links
// reach into the internal modules; `cargo doc --no-deps --document-private-items` renders them all.
#![allow(rustdoc::private_intra_doc_links)]
#![cfg_attr(not(test), warn(clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod cli;
pub mod control;
pub mod daemon;
pub(crate) mod failover;
pub mod fleet;
pub mod instance;
pub mod observe;
pub mod process;
pub mod systemd;
