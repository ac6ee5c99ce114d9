//! What can go wrong with a guest module.

use std::fmt;

/// Why a module could not be loaded or an instance stopped. After any of these an
/// instance is dead: it takes no more events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WasmError {
    /// The file could not be read or compiled.
    Load(String),
    /// The module does not have the ABI's exports, or speaks another version.
    Abi(String),
    /// An event ran out of fuel: the guest looped or worked far too hard.
    FuelExhausted {
        /// The budget per event.
        budget: u64,
    },
    /// The guest asked for more linear memory than the cap.
    MemoryCap {
        /// The cap, in MiB.
        mib: u64,
    },
    /// The guest trapped (a Rust guest panicking ends here); with what it wrote
    /// to stderr, if anything.
    Trap(String),
    /// The guest refused an event (an `error` record) or answered with records the
    /// ABI does not allow.
    Protocol(String),
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmError::Load(m) => write!(f, "cannot load the module: {m}"),
            WasmError::Abi(m) => write!(f, "module does not implement ENGINE-ABI 1: {m}"),
            WasmError::FuelExhausted { budget } => {
                write!(f, "engine exceeded its fuel budget of {budget} per event")
            }
            WasmError::MemoryCap { mib } => {
                write!(f, "engine exceeded its memory cap of {mib} MiB")
            }
            WasmError::Trap(m) => write!(f, "engine trapped: {m}"),
            WasmError::Protocol(m) => write!(f, "engine broke ENGINE-ABI: {m}"),
        }
    }
}

impl std::error::Error for WasmError {}
