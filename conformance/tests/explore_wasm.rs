//! `explore wasm`: the reference compiled to a WASI module explores exactly as the
//! native reference does (same seed, same operations, same states, no mismatch), and
//! a sequence fault of the module built with `faults` is found at the same step as in
//! process (DESIGN decisions 131 and 133). The modules come as for the other `wasm_*`
//! tests (`PASS_WASI_MODULE`, `PASS_WASI_FAULTS_MODULE`, or built once).

mod explore_support;
mod wasm_support;

use explore_support::{block_on, settings};
use pass_conformance::explore::targets;
use pass_conformance::explore::{explore, ExploreOptions, Outcome};
use pass_conformance::faults::KnownFault;
use pass_conformance::wasm::WasmModule;
use pass_faults::Fault;
use wasm_support::{compiled_pass_wasi, compiled_pass_wasi_faults};

/// Another handle on a compiled module (the compiled code is shared).
fn copy(m: &WasmModule) -> WasmModule {
    m.with_limits(m.limits())
}

fn opts(seed: u64) -> ExploreOptions {
    ExploreOptions {
        seed,
        steps: 1000,
        runs: 3,
        ..ExploreOptions::default()
    }
}

#[test]
fn the_module_explores_as_the_native_reference_does() {
    let mut guest = targets::wasm(
        copy(compiled_pass_wasi()),
        "pass-wasi",
        None,
        settings(Some(64)),
    );
    let mut native = targets::inproc(None, settings(Some(64)));
    let (guest, native) = match (
        block_on(explore(&mut guest, &opts(11))).unwrap(),
        block_on(explore(&mut native, &opts(11))).unwrap(),
    ) {
        (Outcome::Passed(g), Outcome::Passed(n)) => (g, n),
        (g, n) => panic!("a mismatch: wasm {g:?}\ninproc {n:?}"),
    };
    assert_eq!(guest.steps, 3000);
    assert_eq!(guest.operations, native.operations);
    assert_eq!(guest.states, native.states);
}

#[test]
fn a_sequence_fault_in_the_module_is_found_where_it_is_in_process() {
    let fault = Fault::CloseOtherLease;
    let mut guest = targets::wasm(
        copy(compiled_pass_wasi_faults()),
        "pass-wasi-faults",
        Some(fault.name().to_string()),
        settings(Some(64)),
    );
    let mut native = targets::inproc(Some(KnownFault::Engine(fault)), settings(Some(64)));
    match (
        block_on(explore(&mut guest, &opts(1))).unwrap(),
        block_on(explore(&mut native, &opts(1))).unwrap(),
    ) {
        (Outcome::Found(g, _), Outcome::Found(n, _)) => {
            assert_eq!((g.run, g.found_at), (n.run, n.found_at));
            assert_eq!(g.ops, n.ops);
            assert_eq!(g.mismatch, n.mismatch);
        }
        (g, n) => panic!("not found in both: wasm {g:?}\ninproc {n:?}"),
    }
}
