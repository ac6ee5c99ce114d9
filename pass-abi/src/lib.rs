//! The records of `docs/ENGINE-ABI.md` (version [`VERSION`]), as typed values with
//! one encoder and one decoder shared by both ends of the ABI: the guest
//! (`pass-wasi`, compiled to `wasm32-wasip1`) and the host (`pass-conformance`'s
//! wasm target, native).
//!
//! - [`Event`]: a record from host to guest, one per call; the first is
//!   [`Event::Config`], a [`ConfigRecord`].
//! - [`Output`]: what the guest answers to one event: an optional refusal, the
//!   actions, then the next deadline.
//! - [`RecordError`]: why bytes are not a record, naming the record and the field.
//!
//! Encoding is [`Display`](core::fmt::Display) (so `to_string()`), decoding is
//! [`Event::decode`] and [`Output::decode`]; `decode(encode(r)) == r` for every
//! record whose JIDs are bare (`tests/round_trip.rs`). The wire format is the
//! interface that modules in other languages speak: it changes only with
//! [`VERSION`].
//!
//! ```
//! use pass_abi::{Event, Output};
//! use pass_core::lease::Action;
//! use pass_core::time::Instant;
//!
//! let event = Event::Timeout { now: Instant::from_millis(1500) };
//! assert_eq!(event.to_string(), "timeout 1500");
//! assert_eq!(Event::decode(b"timeout 1500\n"), Ok(event));
//!
//! let output = Output::decode("unlisten 40001\nnext none\n").unwrap();
//! assert_eq!(output.actions, vec![Action::Unlisten { port: 40001 }]);
//! assert_eq!(output.to_string(), "unlisten 40001\nnext none\n");
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod config;
mod error;
mod event;
mod field;
mod output;

pub use config::ConfigRecord;
pub use error::{RecordError, RecordKind};
pub use event::Event;
pub use output::Output;

/// The version of `docs/ENGINE-ABI.md` these records belong to: what a module's
/// `pass_abi_version` export returns and what a host accepts.
pub const VERSION: u32 = 1;
