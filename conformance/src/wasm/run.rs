//! `pass-conformance wasm MODULE.wasm`: the whole suite against a guest module.

use super::{GuestLimits, WasmError, WasmHarness, WasmModule};
use crate::catalogue::catalogue;
use crate::inproc::{reference_config, InprocHost, SERVICE_JID};
use crate::runner::{run_suite, RunOptions, SuiteReport};
use std::path::Path;

/// An in-process host around a fresh instance of `module`, configured like the
/// in-process reference target ([`reference_config`]) plus `fault=NAME` if given.
pub fn wasm_host(module: &WasmModule, fault: Option<&str>) -> Result<WasmHarness, WasmError> {
    let config = reference_config();
    let engine = module.instantiate(&config, fault)?;
    let host = InprocHost::new(
        engine,
        SERVICE_JID,
        config.advertised.clone(),
        config.answer_timeout,
    );
    Ok(WasmHarness::new(host))
}

/// Loads the module at `path` and runs the cases `opts` selects against it, exactly
/// as the in-process target runs them against the native core.
pub async fn run_wasm(
    path: &Path,
    opts: &RunOptions,
    limits: GuestLimits,
) -> Result<SuiteReport, WasmError> {
    let module = WasmModule::load(path, limits)?;
    let host = wasm_host(&module, None)?;
    let target = format!("wasm {}", path.display());
    let (report, _) = run_suite(Box::new(host), &target, &catalogue(), opts).await;
    Ok(report)
}
