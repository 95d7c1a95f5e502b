//! systemd's two protocols, with no knowledge of instances: `sd_notify(3)` datagrams
//! ([`notify`]) and structured journal entries ([`journal`]).

pub mod journal;
pub(crate) mod notify;
