//! Failover: one controller per standby profile (a rescue bot, or any profile with
//! `standby_for`). It watches the protected profile (main) and:
//!
//! - counts main as **down** when it is in a crash loop or parked (at once), or not ready for
//!   longer than `failover_after` (a restart or a hang that lasts), counted from when it stopped
//!   being ready. A main that has not been ready yet since it was started (with the fleet, by
//!   `clawherd start`, or by a reload) is booting, not down: its boot is given its
//!   `health.startup_grace` when that is longer than `failover_after`, as liveness gives it. So a
//!   cold rescue is not started beside a main that merely takes 20 s to boot;
//! - on failover makes sure the standby is up (a cold one is started), records a `failover`
//!   event with the reason, runs the hooks, and records `standby_ready` once the standby serves
//!   `/readyz`; main's own supervision keeps trying to bring it back meanwhile;
//! - fails back when main has been ready again for `failback_after`: a cold standby is stopped
//!   gracefully, a hot one stays; `failback` event and hooks.
//!
//! Hysteresis on both edges (the two delays) prevents flapping. A deliberately stopped main
//! (`clawherd stop main`) is not "down". The decision core ([`Controller`](controller::Controller)) is pure and tested
//! on paused time; [`run`], one task for the whole fleet, carries out the actions of every
//! controller.

pub(crate) mod controller;
pub(crate) mod hooks;
mod task;

pub(crate) use task::{Board, Pair, PairSettings, Told, mode_name, run};
