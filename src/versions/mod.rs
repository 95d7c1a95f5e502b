//! OpenClaw versions side by side: which version a command runs ([`detect`]), the versioned
//! store `clawherd install` fills ([`store`]), and the pins `clawherd upgrade` writes
//! ([`pins`]). The `openclaw_version` fleet key and the store's layout are the fleet's
//! ([`crate::fleet::version`]); docs/upgrades.md tells the whole story.

pub mod detect;
pub mod pins;
pub mod snapshot;
pub mod store;
