//! `pass-wasi`: pass-core's PASS service compiled to a WASI (wasip1) module that
//! speaks the engine ABI of `docs/ENGINE-ABI.md`.
//!
//! The module is driven by its host through exported functions (see [`exports`]);
//! `main` does nothing, so running the module as a command is a no-op. Build:
//! `cargo build --release -p pass-wasi --target wasm32-wasip1`.
//!
//! Layers: [`event`] parses the text records the host sends, [`config`] the
//! configuration record, [`action`] writes the records the host reads back, and
//! [`guest`] holds the engine between calls.

mod action;
mod config;
mod event;
mod exports;
mod guest;
mod line;

fn main() {}
