//! The in-process reference target simulates the reference node (docs/DESIGN.md
//! decisions 17 and 18): the whole catalogue, run against the reference service in
//! `pass_core::sim` and against the real `pass-node` over the component target,
//! gives the same verdict case by case; and the node passes every MUST case.
//!
//! Needs `pass-node` built in the same target directory and profile as this test
//! (`cargo test --workspace` builds it for pass-node's own tests; with
//! `cargo test -p pass-conformance` alone, `cargo build -p pass-node` first).

use pass_conformance::inproc::reference_host;
use pass_conformance::runner::{run_suite, RunOptions, Status, SuiteReport};
use pass_conformance::transcript::{Event, Side};
use pass_conformance::{catalogue, report, selftest, Level};
use std::collections::BTreeMap;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Each case's verdict and, when it did not pass, why.
fn verdicts(report: &SuiteReport) -> BTreeMap<String, (Status, String)> {
    report
        .outcomes
        .iter()
        .map(|o| {
            let why = o
                .failure_text()
                .unwrap_or_else(|| o.notes.join("; "))
                .replace('\n', " ");
            (o.id.clone(), (o.status, why))
        })
        .collect()
}

#[test]
fn inproc_verdicts_equal_node_verdicts() {
    let exe = std::env::current_exe().unwrap();
    let node = selftest::locate_node(&exe).unwrap_or_else(|| {
        panic!(
            "pass-node not found next to {}: build it first with `cargo build -p pass-node` \
             (same CARGO_TARGET_DIR and profile as this test)",
            exe.display()
        )
    });
    let cases = catalogue();
    // Strict: SHOULD cases count as much as MUST cases here.
    let opts = RunOptions {
        strict: true,
        ..RunOptions::default()
    };
    let (inproc, _) = block_on(run_suite(
        Box::new(reference_host().unwrap()),
        "inproc",
        &cases,
        &opts,
    ));
    let node = block_on(selftest::run_with_node(&node, &opts))
        .unwrap_or_else(|e| panic!("the run against pass-node could not happen: {e}"));
    eprintln!("{}", report::table(&node));
    let must_not_passed: Vec<&str> = node
        .outcomes
        .iter()
        .filter(|o| o.level == Level::Must && o.status != Status::Pass)
        .map(|o| o.id.as_str())
        .collect();
    assert!(
        must_not_passed.is_empty(),
        "MUST cases pass-node did not pass: {must_not_passed:?}"
    );
    assert_eq!(node.exit_code(), 0, "the reference node must pass --strict");
    // The component target records transcripts too, on the wall clock (DESIGN
    // decision 44): every case has one, in time order, over real sockets.
    for o in &node.outcomes {
        let times: Vec<u64> = o.transcript.entries.iter().map(|e| e.at_ms).collect();
        assert!(!times.is_empty(), "{}: no transcript", o.id);
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "{}: {times:?}",
            o.id
        );
    }
    let events: Vec<&Event> = node
        .outcomes
        .iter()
        .flat_map(|o| o.transcript.entries.iter().map(|e| &e.event))
        .collect();
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Connect { local, .. } if local.starts_with("127.0.0.1:"))));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Fin {
            by: Side::Implementation,
            ..
        }
    )));
    let (inproc, node) = (verdicts(&inproc), verdicts(&node));
    assert_eq!(inproc.len(), cases.len());
    assert_eq!(node.len(), cases.len());
    let differ: Vec<String> = inproc
        .iter()
        .filter_map(|(id, (status, why))| {
            let (node_status, node_why) = node.get(id)?;
            (status != node_status).then(|| {
                format!("{id:<40} inproc {status:<4} node {node_status:<4}\n    inproc: {why}\n    node:   {node_why}")
            })
        })
        .collect();
    assert!(
        differ.is_empty(),
        "the in-process target and pass-node disagree on {} case(s):\n{}",
        differ.len(),
        differ.join("\n")
    );
    // The comparison means something only if the reference passes.
    let failed: Vec<&String> = inproc
        .iter()
        .filter(|(_, (s, _))| *s == Status::Fail)
        .map(|(id, _)| id)
        .collect();
    assert!(failed.is_empty(), "the reference fails {failed:?}");
}
