//! The reference core compiled to wasm gives the same verdicts as the native core,
//! case for case: same status, same notes, same failure text, same transcript; and it does so within
//! 1% of the default fuel budget and an eighth of the default memory cap, the
//! headroom `GuestLimits` documents.

mod wasm_support;

use pass_conformance::inproc::reference_host;
use pass_conformance::wasm::{wasm_host, GuestLimits};
use pass_conformance::{catalogue, run_suite, RunOptions, Status};
use wasm_support::{block_on, compiled_pass_wasi, verdicts};

#[test]
fn wasm_verdicts_equal_inproc_verdicts() {
    let cases = catalogue();
    let opts = RunOptions::default();
    let native = reference_host().unwrap();
    let (native, _) = block_on(run_suite(Box::new(native), "inproc", &cases, &opts));
    let tight = GuestLimits {
        fuel_per_event: GuestLimits::default().fuel_per_event / 100,
        memory_mib: GuestLimits::default().memory_mib / 8,
    };
    let guest = wasm_host(&compiled_pass_wasi().with_limits(tight), None).unwrap();
    let (guest, h) = block_on(run_suite(Box::new(guest), "wasm", &cases, &opts));
    drop(h);
    assert_eq!(guest.outcomes.len(), cases.len());
    assert_eq!(verdicts(&guest), verdicts(&native));
    // Both run on the same virtual clock: the transcripts, times included, agree
    // event for event (DESIGN decision 44).
    for (g, n) in guest.outcomes.iter().zip(&native.outcomes) {
        assert!(!n.transcript.is_empty(), "{}: no transcript", n.id);
        assert_eq!(g.transcript, n.transcript, "{}", n.id);
    }
    // The comparison means something only if the reference passes.
    assert_eq!(native.count(Status::Fail), 0, "{:#?}", verdicts(&native));
}
