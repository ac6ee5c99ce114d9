//! A faulty engine compiled to wasm (`fault=NAME` in the configuration record) is
//! caught by the wasm target exactly as declared (docs/DESIGN.md decision 80), and
//! exactly as the same fault is caught in process. The faults exist only in the
//! module built with `--features faults`; the shipped module refuses the key.

mod wasm_support;

use pass_conformance::faults::KnownFault;
use pass_conformance::wasm::{wasm_host, WasmError};
use pass_conformance::{catalogue, run_suite, RunOptions};
use pass_faults::Fault;
use wasm_support::{block_on, compiled_pass_wasi, compiled_pass_wasi_faults, verdicts};

#[test]
fn every_fault_is_caught_in_wasm_by_exactly_its_declared_cases() {
    let cases = catalogue();
    let opts = RunOptions::default();
    let mut wrong = Vec::new();
    for fault in Fault::ALL {
        let known = KnownFault::Engine(fault);
        let native = known.inproc_host().unwrap();
        let (native, _) = block_on(run_suite(native, "inproc", &cases, &opts));
        let guest = wasm_host(compiled_pass_wasi_faults(), Some(fault.name())).unwrap();
        let (guest, _) = block_on(run_suite(Box::new(guest), "wasm", &cases, &opts));
        assert_eq!(
            verdicts(&guest),
            verdicts(&native),
            "fault {}",
            fault.name()
        );
        wrong.extend(known.mismatches(&guest));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn unknown_fault_is_refused_by_the_module() {
    let err = wasm_host(compiled_pass_wasi_faults(), Some("no-such-fault")).err();
    let Some(WasmError::Protocol(message)) = err else {
        panic!("{err:?}")
    };
    assert!(
        message.starts_with(
            "engine refused the event: config: fault: no fault named \"no-such-fault\""
        ),
        "{message}"
    );
}

#[test]
fn shipped_module_has_no_faults() {
    let err = wasm_host(compiled_pass_wasi(), Some(Fault::ALL[0].name())).err();
    let Some(WasmError::Protocol(message)) = err else {
        panic!("{err:?}")
    };
    let want = format!(
        "engine refused the event: config: fault \"{}\": this module has no fault \
         injection (pass-wasi is built with it by `--features faults`)",
        Fault::ALL[0].name()
    );
    assert!(message.starts_with(&want), "{message}");
}
