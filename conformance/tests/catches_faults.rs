//! Proof per case (docs/DESIGN.md decision 80): with each engine fault (pass-faults)
//! and each host fault of the simulated host on, exactly the cases the fault declares
//! (`pass_conformance::faults`) catch it, with the declared verdict (FAIL, or WARN
//! where the rules make the deviation a warning; FAIL for both under `--strict`),
//! and every other case passes. Without any fault, every case passes.

use pass_conformance::faults::KnownFault;
use pass_conformance::inproc::reference_host;
use pass_conformance::runner::{run_suite, RunOptions, Status, SuiteReport};
use pass_conformance::{catalogue, Harness};

fn run(host: Box<dyn Harness>, strict: bool) -> SuiteReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions {
        strict,
        ..RunOptions::default()
    };
    rt.block_on(run_suite(host, "inproc", &catalogue(), &opts))
        .0
}

#[test]
fn every_fault_is_caught_by_exactly_its_declared_cases() {
    let mut wrong = Vec::new();
    for fault in KnownFault::all() {
        for strict in [false, true] {
            let report = run(fault.inproc_host().unwrap(), strict);
            assert_eq!(report.outcomes.len(), catalogue().len());
            wrong.extend(fault.mismatches(&report));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_fault_is_caught_by_some_case() {
    // An empty declaration would make "exactly its cases" vacuous. The sequence
    // faults are the exception: no case catches them (the test above proves every
    // case passes with them on), `explore` does (tests/explore_faults.rs).
    let missed: Vec<&str> = KnownFault::all()
        .filter(|f| !matches!(f, KnownFault::Engine(e) if e.is_sequence()))
        .filter(|f| f.caught_by().iter().all(|c| c.cases.is_empty()))
        .map(|f| f.name())
        .collect();
    assert!(missed.is_empty(), "faults no case catches: {missed:?}");
}

#[test]
fn no_fault_no_failure() {
    for strict in [false, true] {
        let report = run(Box::new(reference_host().unwrap()), strict);
        assert_eq!(
            report.count(Status::Pass),
            catalogue().len(),
            "{}",
            pass_conformance::report::table(&report)
        );
    }
}
