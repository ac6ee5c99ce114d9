//! The reference service passes every case in process, and the report is stable.

use pass_conformance::inproc::reference_host;
use pass_conformance::runner::{run_suite, RunOptions, Status};
use pass_conformance::{catalogue, report};

fn run() -> pass_conformance::SuiteReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host = reference_host().unwrap();
    rt.block_on(run_suite(
        Box::new(host),
        "inproc",
        &catalogue(),
        &RunOptions::default(),
    ))
    .0
}

#[test]
fn reference_service_passes_every_case() {
    let report = run();
    let bad: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| o.status != Status::Pass)
        .map(|o| {
            format!(
                "{} {}\n{}\n{:?}",
                o.status,
                o.id,
                o.failure_text().unwrap_or_default(),
                o.notes
            )
        })
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
    assert_eq!(report.outcomes.len(), catalogue().len());
    eprintln!("{}", report::table(&report));
}
