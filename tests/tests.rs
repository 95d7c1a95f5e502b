//! One integration binary (ripgrep's layout): behaviour of `clawherd` against the stand-in
//! gateway, one module per area. The real-gateway scenarios live in `real_gateway.rs`.

mod support;

mod chaos;
mod check_cli;
mod completions;
mod failover;
mod fuzz;
mod operate;
mod rollout;
mod supervise;
mod top;
mod upgrade;
mod users;
