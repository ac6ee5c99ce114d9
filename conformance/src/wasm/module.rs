//! A compiled guest module, ready to be instantiated once per engine.

use super::engine::{HostState, WasmEngine};
use super::{GuestLimits, WasmError};
use pass_core::lease::Config;
use std::path::Path;
use wasmtime::{InstancePre, Linker, Module};

/// A module compiled once; each [`WasmModule::instantiate`] is a fresh engine.
pub struct WasmModule {
    pre: InstancePre<HostState>,
    limits: GuestLimits,
}

impl WasmModule {
    /// Reads and compiles a `.wasm` file (or `.wat` text).
    pub fn load(path: &Path, limits: GuestLimits) -> Result<WasmModule, WasmError> {
        let bytes =
            std::fs::read(path).map_err(|e| WasmError::Load(format!("{}: {e}", path.display())))?;
        WasmModule::from_bytes(&bytes, limits)
    }

    /// Compiles a module from its binary or text form.
    pub fn from_bytes(bytes: &[u8], limits: GuestLimits) -> Result<WasmModule, WasmError> {
        let mut config = wasmtime::Config::new();
        config.consume_fuel(true);
        let engine =
            wasmtime::Engine::new(&config).map_err(|e| WasmError::Load(format!("{e:#}")))?;
        let module = Module::new(&engine, bytes).map_err(|e| WasmError::Load(format!("{e:#}")))?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut HostState| &mut s.wasi)
            .map_err(|e| WasmError::Load(format!("{e:#}")))?;
        // The import check happens here: a module wanting more than WASI preview 1
        // (or another version of it) is refused before any case runs.
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| WasmError::Abi(format!("{e:#}")))?;
        Ok(WasmModule { pre, limits })
    }

    /// The same compiled module, with other limits for the instances it makes.
    pub fn with_limits(&self, limits: GuestLimits) -> WasmModule {
        WasmModule {
            pre: self.pre.clone(),
            limits,
        }
    }

    /// The limits each instance gets.
    pub fn limits(&self) -> GuestLimits {
        self.limits
    }

    /// A fresh instance configured with `config` and, if given, the fault of that
    /// name (`fault=NAME` in the configuration record).
    pub fn instantiate(
        &self,
        config: &Config,
        fault: Option<&str>,
    ) -> Result<WasmEngine, WasmError> {
        WasmEngine::new(&self.pre, self.limits, config, fault)
    }
}
