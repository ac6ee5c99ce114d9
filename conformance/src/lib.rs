//! `pass-conformance`: checks any implementation of XEP-0003, Proxy Accept Socket
//! Service (`jabber:iq:pass`), against every listing and error code of the spec.
//!
//! - [`mod@catalogue`]: the cases, each with a stable id, its spec section, listing,
//!   requirement level and a one-line description.
//! - [`cases`]: one module per spec section, each case a short async scenario written
//!   against [`ctx::Ctx`], which wraps a [`harness::Harness`].
//! - Targets (implementations of [`harness::Harness`]): [`inproc`] drives any
//!   [`pass_core::engine::Engine`] with a simulated host and virtual time;
//!   [`component`] plays the XMPP server side of XEP-0114 for a networked service;
//!   [`wasm`] runs an engine compiled to a WASI module inside the in-process host.
//! - [`faults`]: every deliberate fault (engine and host) and the cases declared to
//!   catch it, the suite's proof that it catches faults.
//! - [`spec`]: the stored XEP-0003 text the cases quote; [`xep0086`]: the condition
//!   and type XEP-0086 maps each legacy error code to.
//! - [`runner`] runs a selection of cases and [`report`] renders the outcome for
//!   people (a table) and machines (JSON, JUnit XML).
//! - For implementers' CI: [`expect`] turns declared known failures into XFAIL
//!   (`--expect`), [`baseline`] fails a run only on cases that passed in an earlier
//!   report (`--baseline`).
//! - [`explore`]: random operation sequences checked against pass-core's reference
//!   model, shrunk to a replay file on a mismatch (`pass-conformance explore`).
//! - [`transcript`]: what each case exchanged with the implementation, with times.

pub mod baseline;
pub mod c2s;
pub mod cases;
pub mod catalogue;
pub mod client;
pub mod component;
pub mod ctx;
pub mod expect;
pub mod explore;
pub mod faults;
pub mod harness;
pub mod ibr;
pub mod inproc;
pub mod report;
pub mod runner;
pub mod selftest;
pub mod sockets;
pub mod spec;
pub mod transcript;
pub mod wasm;
pub mod xep0086;
pub mod xmlfmt;

pub use catalogue::{catalogue, Case, Level};
pub use harness::Harness;
pub use runner::{run_suite, Outcome, RunOptions, Status, SuiteReport};
