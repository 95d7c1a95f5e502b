//! [`InstanceView`]: one instance as the daemon, the control API and the failover tasks see it:
//! its profile, plan and marker beside the handle of its actor.

use super::InstanceHandle;
use crate::fleet::{Plan, Profile};
use std::sync::Arc;

/// One instance as the control API sees it. Cheap to clone: the profile and plan are shared
/// (every status call and metrics scrape takes a view of every instance).
#[derive(Debug, Clone)]
pub struct InstanceView {
    /// The profile.
    pub profile: Arc<Profile>,
    /// Its plan (the same one the instance's actor spawns by).
    pub plan: Arc<Plan>,
    /// Its `CLAWHERD_INSTANCE` marker.
    pub marker: String,
    /// Being stopped by a reload that removes or restarts the profile: its actor is ending, and
    /// controls sent to it are dropped.
    pub retiring: bool,
    /// Its actor.
    pub handle: InstanceHandle,
}
