//! Restart decisions: the policy ([`policy`]) and the delay and crash-loop tally ([`backoff`]).

pub mod backoff;
pub mod policy;
