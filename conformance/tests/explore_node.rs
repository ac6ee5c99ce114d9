//! `explore` against the real pass-node over the component target (real, bounded
//! waits): a short random run finds no mismatch, the nemesis (the component stream
//! cut mid-session) is survived with the leases kept, and sequence faults of
//! pass-faults in the real node built with its `faults` feature
//! (`PASS_NODE_FAULTS_BIN`, `PASS_NODE_FAULT`) are found over the network.
//!
//! Needs `pass-node` built in the same target directory and profile as this test
//! (`cargo build -p pass-node` first when running `cargo test -p pass-conformance`).
//! The faults build is `PASS_NODE_FAULTS_BIN` (scripts/build-faults.sh), or built on
//! first use into `target/node-faults/`.

mod explore_support;
mod faults_support;

use explore_support::{block_on, settings};
use faults_support::faults_node;
use pass_conformance::explore::op::{How, Op, Side};
use pass_conformance::explore::targets::{self, Component};
use pass_conformance::explore::{explore, replay, ExploreOptions, Outcome, Target};
use pass_conformance::selftest;
use std::io::Write;
use std::time::Duration;

/// The node spawned as the self-test spawns it (2 s answer timeout and proxy
/// window), behind the component target.
async fn node() -> (Component, tempfile::NamedTempFile) {
    let exe = std::env::current_exe().unwrap();
    let node = selftest::locate_node(&exe).unwrap_or_else(|| {
        panic!(
            "pass-node not found next to {}: build it first with `cargo build -p pass-node`",
            exe.display()
        )
    });
    spawned(&node, None).await
}

/// `binary` spawned by the component target as the self-test spawns the node, with
/// `fault` switched on by `PASS_NODE_FAULT` (a `--features faults` build). The secret
/// file lives as long as the run.
async fn spawned(
    binary: &std::path::Path,
    fault: Option<pass_faults::Fault>,
) -> (Component, tempfile::NamedTempFile) {
    let secret = "explore-secret-0123456789abcdef";
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(secret.as_bytes()).unwrap();
    let mut copts = selftest::options(binary, file.path()).unwrap();
    copts.secret = secret.to_string();
    if let Some(fault) = fault {
        copts.spawn = copts
            .spawn
            .map(|cmd| format!("PASS_NODE_FAULT={} {cmd}", fault.name()));
    }
    let t = targets::component(
        copts,
        Duration::from_secs(selftest::NODE_TIMEOUT_SECS),
        settings(None),
    )
    .await
    .unwrap();
    (t, file)
}

#[test]
fn a_short_run_against_pass_node_finds_no_mismatch() {
    block_on(async {
        let (mut t, _secret) = node().await;
        let opts = ExploreOptions {
            seed: 20261130,
            steps: 60,
            runs: 1,
            time_budget: Some(Duration::from_secs(60)),
            ..ExploreOptions::default()
        };
        let outcome = explore(&mut t, &opts).await;
        t.finish().await;
        match outcome.unwrap() {
            Outcome::Passed(s) => {
                assert!(s.steps >= 30, "{s:?}");
                assert!(s.states.contains("session:asked"), "{s:?}");
            }
            Outcome::Found(r, _) => panic!("pass-node mismatched:\n{}", r.render()),
        }
    });
}

#[test]
fn the_node_survives_a_cut_stream_with_its_leases() {
    let ops = [
        Op::Register {
            account: 0,
            resource: 0,
            expire: None,
            oneshot: false,
        },
        Op::Register {
            account: 1,
            resource: 1,
            expire: Some(4),
            oneshot: false,
        },
        Op::Call { lease: 0 },
        Op::Answer {
            session: 0,
            how: How::Accept,
        },
        Op::OwnerConnect { session: 0 },
        Op::Bytes {
            session: 0,
            from: Side::Caller,
            len: 1000,
        },
        Op::Nemesis,
        // The relay, the leases and their expiry outlive the cut.
        Op::Bytes {
            session: 0,
            from: Side::Owner,
            len: 1000,
        },
        Op::HangUp {
            session: 0,
            side: Side::Caller,
        },
        Op::Call { lease: 1 },
        Op::Answer {
            session: 0,
            how: How::Deny,
        },
        Op::Wait { ms: 4500 },
        Op::Call { lease: 0 },
    ];
    block_on(async {
        let (mut t, _secret) = node().await;
        let found = replay(&mut t, &ops, 2).await;
        t.finish().await;
        if let Some(r) = found.unwrap() {
            panic!("pass-node mismatched:\n{}", r.render());
        }
    });
}

/// The real pass-node built with `--features faults`, `fault` switched on.
async fn faulty_node(fault: pass_faults::Fault) -> (Component, tempfile::NamedTempFile) {
    spawned(&faults_node(), Some(fault)).await
}

#[test]
fn sequence_faults_in_the_node_are_found_over_the_network() {
    use pass_faults::Fault;
    // Those found in a few dozen steps in process (docs/BENCHMARKS.md); over the
    // network the same seed draws the same operations while the states agree.
    for (fault, says) in [
        (Fault::NoticeToLatestResource, "not the lease's owner"),
        (Fault::NoRelistenAfterOwnerHangUp, "was refused"),
    ] {
        block_on(async {
            let (mut t, _secret) = faulty_node(fault).await;
            let opts = ExploreOptions {
                seed: 1,
                steps: 300,
                runs: 1,
                // Each try reruns from fresh in real time: the run as it went.
                shrink_tries: 0,
                ..ExploreOptions::default()
            };
            let outcome = explore(&mut t, &opts).await;
            t.finish().await;
            match outcome.unwrap() {
                Outcome::Found(r, s) => {
                    assert!(
                        r.mismatch.contains(says),
                        "{}: {}",
                        fault.name(),
                        r.render()
                    );
                    eprintln!(
                        "{}: found over the network after {} steps",
                        fault.name(),
                        s.steps
                    );
                }
                Outcome::Passed(s) => {
                    panic!(
                        "{}: not found in {} steps over the network",
                        fault.name(),
                        s.steps
                    )
                }
            }
        });
    }
}
