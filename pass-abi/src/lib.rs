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
//! [`VERSION`]. One codec for both ends is docs/DESIGN.md decision 21.
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

/// `pass_handle`'s result: where the output lies in the module's memory, as one
/// `i64`, `(address << 32) | length`.
pub const fn pack_output(address: u32, length: u32) -> u64 {
    ((address as u64) << 32) | length as u64
}

/// The output's `(address, length)` from `pass_handle`'s result.
pub const fn unpack_output(packed: u64) -> (u32, u32) {
    ((packed >> 32) as u32, packed as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_span_packs_into_one_i64() {
        assert_eq!(pack_output(0x0001_0000, 12), 0x0001_0000_0000_000c);
        assert_eq!(unpack_output(pack_output(u32::MAX, 7)), (u32::MAX, 7));
        assert_eq!(unpack_output(pack_output(5, u32::MAX)), (5, u32::MAX));
    }
}
