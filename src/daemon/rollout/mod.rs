//! Rolling apply with rollback: how a change to running instances (from `reload`, SIGHUP or a
//! watched file) reaches them safely (docs/rollout.md).
//!
//! - [`plan`]: which changed instances go in which order (standbys first, as canaries; one at a
//!   time; main only with its standby covering). Pure.
//! - [`verify`]: the proof of a change: ready within `rollout.verify_timeout`, then stable for
//!   `rollout.soak` (no unrequested exit, no liveness failure).
//! - [`lkg`]: the last-known-good of each instance (its effective setup and the content of its
//!   OpenClaw config file), a bounded history under `run_dir/lkg/`, and the journal of a rollout
//!   in progress (`run_dir/rollout.json`) that a restarted daemon resumes.
//! - [`files`]: the config file side of a rollback: keeping the refused content beside the
//!   original (`<config>.rejected-<timestamp>`) and writing the last-known-good back, never over
//!   an edit made during the rollout.
//!
//! The driver that restarts instances lives with the instances' owner, the supervisor
//! (`daemon::supervisor`); this module knows nothing of it.

pub(crate) mod files;
pub(crate) mod lkg;
pub(crate) mod plan;
pub(crate) mod verify;
