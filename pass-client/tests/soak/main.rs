//! The chaos soak (issue 15, item 3; DESIGN decision 58): the real `pass-node` as a
//! process behind a real private Prosody on loopback, owners running the real
//! `pass-client expose` in front of local services that check every byte, callers
//! relaying seeded streams back to back, and a nemesis that restarts Prosody and
//! `kill -9`s the node at seeded random moments. Checked: no byte of any session
//! corrupted or reordered; every lease held, on the same port, after every fault;
//! every expire notice delivered exactly once; the node's memory and descriptors back
//! to the baseline at the end. Sessions cut by a fault are counted, never dropped.
//!
//! `PASS_SOAK_SECS` (default 100) lengthens it, `PASS_SOAK_SEED` replays a run
//! (docs/OPERATING.md, "The chaos soak"). Needs `prosody` (scripts/setup.sh) and the
//! `pass-node` binary beside this test (`cargo test --workspace` builds it).

#![allow(dead_code)] // the shared harness has more than the soak uses

#[path = "../../../pass-node/tests/prosody/client.rs"]
mod client;
#[path = "../../../pass-node/tests/prosody/info.rs"]
mod info;
#[path = "../../../pass-node/tests/prosody/logs.rs"]
mod logs;
#[path = "../../../pass-node/tests/prosody/ports.rs"]
mod ports;
#[path = "../../../pass-node/tests/prosody/server.rs"]
mod server;
#[path = "../support/mod.rs"]
mod support;

mod caller;
mod node;
mod owner;
mod run;
mod service;
mod stream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_soak_loses_no_byte_no_lease_and_no_notice() {
    let plan = run::Plan::from_env();
    let report = run::soak(&plan).await;
    // Past the test harness's capture: CI logs show the summary on success too.
    run::say(&report.to_string());
    let lost = report.lost();
    assert!(
        lost.is_empty(),
        "the soak lost something (replay with PASS_SOAK_SEED={}):\n{}",
        plan.seed,
        lost.join("\n")
    );
}
