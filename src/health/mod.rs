//! Health checks of a gateway over HTTP on its base port (facts §5).

pub mod probe;
