//! The component target against the real reference node: with `--strict`, every case
//! passes (no WARN, no SKIP).
//!
//! Needs `pass-node` built in the same target directory and profile as this test
//! (`cargo test --workspace` builds it for pass-node's own tests; with
//! `cargo test -p pass-conformance` alone, `cargo build -p pass-node` first).

use pass_conformance::runner::{RunOptions, Status};
use pass_conformance::{report, selftest, Level};

#[test]
fn reference_node_passes_every_case_strictly() {
    let exe = std::env::current_exe().unwrap();
    let node = selftest::locate_node(&exe).unwrap_or_else(|| {
        panic!(
            "pass-node not found next to {}: build it first with `cargo build -p pass-node` \
             (same CARGO_TARGET_DIR and profile as this test)",
            exe.display()
        )
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt
        .block_on(selftest::run_with_node(
            &node,
            &RunOptions {
                strict: true,
                ..RunOptions::default()
            },
        ))
        .unwrap_or_else(|e| panic!("the run could not happen: {e}"));
    eprintln!("{}", report::table(&report));
    let failed: Vec<&str> = report
        .outcomes
        .iter()
        .filter(|o| o.level == Level::Must && o.status != Status::Pass)
        .map(|o| o.id.as_str())
        .collect();
    assert!(failed.is_empty(), "MUST cases not passed: {failed:?}");
    assert_eq!(report.exit_code(), 0, "the reference must pass --strict");
    assert_eq!(report.outcomes.len(), pass_conformance::catalogue().len());
}
