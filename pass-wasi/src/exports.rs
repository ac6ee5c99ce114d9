//! The functions the host calls (ENGINE-ABI.md, "Exports").
//!
//! Buffers stay inside the module's state, so the host's pointers are only ever
//! compared with them, never dereferenced: no `unsafe` is needed.

use crate::guest::{Guest, Refusal};
use std::cell::RefCell;
use std::vec::Vec;

/// Largest event record accepted, in bytes.
const MAX_EVENT_BYTES: u32 = 1 << 20;

#[derive(Default)]
struct State {
    guest: Guest,
    input: Vec<u8>,
    output: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// `pass_abi_version() -> i32`.
#[no_mangle]
pub extern "C" fn pass_abi_version() -> u32 {
    pass_abi::VERSION
}

/// `pass_alloc(len) -> ptr`: a buffer of `len` bytes for the next event, valid
/// until the next call into the module; 0 when `len` is 0 or too large.
#[no_mangle]
pub extern "C" fn pass_alloc(len: u32) -> u32 {
    if len == 0 || len > MAX_EVENT_BYTES {
        return 0;
    }
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.input.clear();
        s.input.resize(len as usize, 0);
        address(&s.input)
    })
}

/// `pass_handle(ptr, len) -> u64`: handles the event the host wrote at `ptr`
/// (the last `pass_alloc` buffer); returns the output records as
/// `(address << 32) | length`, valid until the next call into the module.
#[no_mangle]
pub extern "C" fn pass_handle(ptr: u32, len: u32) -> u64 {
    STATE.with(|s| {
        let s = &mut *s.borrow_mut();
        let output = if len as usize <= s.input.len() && ptr == address(&s.input) {
            s.guest.handle(&s.input[..len as usize])
        } else {
            s.guest.refuse(Refusal::ForeignBuffer)
        };
        s.output = output.into_bytes();
        s.input = Vec::new();
        // Outputs stay far below 4 GiB (events are at most 1 MiB).
        pass_abi::pack_output(address(&s.output), s.output.len() as u32)
    })
}

fn address(buf: &[u8]) -> u32 {
    // Addresses fit in 32 bits on wasm32; natively (unit tests) they are truncated,
    // which only matters for the comparison in `pass_handle`.
    buf.as_ptr() as usize as u32
}
