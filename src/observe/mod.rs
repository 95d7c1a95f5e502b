//! What the fleet tells its operators: the event stream ([`events`]), captured gateway output
//! ([`logs`]) and Prometheus metrics ([`metrics`]); secrets hidden from what is shown
//! ([`redact`]); the span an instance actor's log lines carry ([`span`]).

pub mod events;
pub mod logs;
pub(crate) mod metrics;
pub(crate) mod redact;
pub(crate) mod span;
