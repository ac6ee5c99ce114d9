//! The bounds a guest runs within: fuel per event and a linear-memory cap.

use wasmtime::ResourceLimiter;

/// Limits every instance of a [`WasmModule`](super::WasmModule) gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestLimits {
    /// Fuel (roughly, wasm instructions) one call into the guest may burn. The
    /// reference module runs the whole suite within 1% of the default per event
    /// (`tests/wasm_equals_inproc.rs` checks both).
    pub fuel_per_event: u64,
    /// Most linear memory an instance may have, in MiB. The reference module runs
    /// the whole suite in an eighth of the default.
    pub memory_mib: u64,
}

impl Default for GuestLimits {
    fn default() -> Self {
        GuestLimits {
            fuel_per_event: 50_000_000,
            memory_mib: 64,
        }
    }
}

/// The guest asked for memory past the cap (the error that traps its `memory.grow`).
#[derive(Debug)]
pub(super) struct MemoryCapExceeded;

impl std::fmt::Display for MemoryCapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory cap exceeded")
    }
}

impl std::error::Error for MemoryCapExceeded {}

/// Refuses memory past the cap by trapping (not by failing `memory.grow`, which a
/// guest could ignore and keep asking), and remembers that it did.
pub(super) struct MemoryCap {
    bytes: usize,
    /// Set once a growth was refused, so the host can name the limit even if the
    /// error reaches it wrapped.
    pub(super) hit: bool,
}

/// Most table elements (function references) an instance may have.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl MemoryCap {
    pub(super) fn new(mib: u64) -> Self {
        let bytes = usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        MemoryCap { bytes, hit: false }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.bytes {
            self.hit = true;
            return Err(wasmtime::Error::new(MemoryCapExceeded));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
