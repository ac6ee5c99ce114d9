//! `pass-wasi`: pass-core's PASS service compiled to a WASI (wasip1) module that
//! speaks the engine ABI of `docs/ENGINE-ABI.md`.
//!
//! The module is driven by its host through exported functions (see [`exports`]);
//! `main` does nothing, so running the module as a command is a no-op. Build:
//! `cargo build --release -p pass-wasi --target wasm32-wasip1` (add
//! `--features faults` for the testing module that takes `fault=NAME`).
//!
//! Layers: `pass_abi` reads the records the host sends and writes the ones it
//! reads back (the host uses the same codec), [`guest`] holds the engine between
//! calls, and [`exports`] are the functions the host calls.

mod exports;
mod guest;

fn main() {}
