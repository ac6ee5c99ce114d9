//! The lease state machine: ports, leases, incoming connections and their owners'
//! answers, proxy ports, relays, expiry — §2 to §5 of XEP-0003.
//!
//! Sans-IO in the quinn-proto manner: `handle_*(now, ...)` feed events in,
//! [`LeaseMachine::poll_action`] drains what to do, [`LeaseMachine::poll_timeout`] says
//! when the next deadline falls and [`LeaseMachine::handle_timeout`] fires it. No
//! sockets, no clock, no threads.

mod action;
mod config;
mod ids;
#[allow(clippy::module_inception)]
mod lease;
mod machine;
mod pool;
mod stats;

pub use action::{Action, ConnId, ListenError};
pub use config::{Config, ConfigError};
pub use machine::{is_bounce, owner_is_gone, LeaseMachine, MAX_LISTEN_TRIES};
pub use stats::{LatencyHistogram, Stats, ANSWER_LATENCY_BOUNDS_MS};
