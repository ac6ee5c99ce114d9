//! One deterministic simulated host for any [`Engine`], and one model of the lease
//! invariants (docs/DESIGN.md decision 18).
//!
//! [`Sim`] does what a host does, the way `pass-node` does it (the
//! [Engine contract](crate::engine)): listeners are a set of ports, accepted
//! connections are in-memory byte pipes with half-close, a bridge relays bytes both
//! ways and reports the session's end at the first EOF of either side
//! (docs/DESIGN.md decision 17), and time is a virtual clock that fires the
//! engine's deadlines and the relays' idle timers. It serves pass-core's unit tests,
//! the quickcheck properties, the cargo-fuzz targets and the conformance runner's
//! in-process target.
//!
//! Opt-in [`Checks`] turn every action into an assertion about the host contract
//! (no port held twice, no action naming a connection the host does not hold, the
//! pool balances, ...); [`HostFault`]s break the host on purpose, to prove that the
//! conformance cases catch a broken relay. [`model`] runs a [`Script`] of events
//! through a checked [`Sim`] around a [`Service`](crate::service::Service) and
//! checks the lease invariants after every event; `Script::decode` makes scripts
//! from bytes, for quickcheck on stable and cargo-fuzz on nightly alike.
//!
//! [`mod@reference`] is the model of the protocol as seen from outside, which
//! `pass-conformance explore` checks any implementation against (decision 130).
//!
//! Built with the `sim` feature (and for pass-core's own tests); no_std + alloc.
//!
//! [`Engine`]: crate::engine::Engine

mod checks;
mod host;
pub mod model;
mod pipe;
pub mod reference;
mod script;

pub use checks::{Checks, Violation};
pub use host::{HostFault, Listens, ReadEvent, Refused, Sim, SimConfig};
pub use pipe::ConnView;
pub use script::{seeds, CloseIp, Event, Expire, Script, Target};
