//! The WASI target: a PASS engine compiled to a wasip1 module speaking
//! `docs/ENGINE-ABI.md`, run inside an embedded wasmtime.
//!
//! - [`WasmModule`]: a compiled module and the limits every instance gets.
//! - [`WasmEngine`]: one instance behind [`pass_core::engine::Engine`], so every
//!   in-process case runs against it unchanged.
//! - [`GuestLimits`]: the fuel budget per event and the memory cap; a guest that
//!   loops or hoards memory stops with a [`WasmError`] naming the limit.
//! - [`WasmHarness`]: the in-process host around a guest, turning a guest failure
//!   into a harness error that names the limit.
//! - [`run_wasm`]: `pass-conformance wasm MODULE.wasm`.
//!
//! The records themselves (events out, output in) are `pass_abi`'s, the codec the
//! reference guest uses too.

mod engine;
mod error;
mod harness;
mod limits;
mod module;
mod run;

pub use engine::WasmEngine;
pub use error::WasmError;
pub use harness::WasmHarness;
pub use limits::GuestLimits;
pub use module::WasmModule;
pub use run::{run_wasm, wasm_host};
