//! `explore` against the real pass-node over the component target (real, bounded
//! waits): a short random run finds no mismatch, and the nemesis (the component
//! stream cut mid-session) is survived with the leases kept.
//!
//! Needs `pass-node` built in the same target directory and profile as this test
//! (`cargo build -p pass-node` first when running `cargo test -p pass-conformance`).

mod explore_support;

use explore_support::{block_on, settings};
use pass_conformance::explore::op::{How, Op, Side};
use pass_conformance::explore::targets::{self, Component};
use pass_conformance::explore::{explore, replay, ExploreOptions, Outcome, Target};
use pass_conformance::selftest;
use std::io::Write;
use std::time::Duration;

/// The node spawned as the self-test spawns it (2 s answer timeout and proxy
/// window), behind the component target. The secret file lives as long as the run.
async fn node() -> (Component, tempfile::NamedTempFile) {
    let exe = std::env::current_exe().unwrap();
    let node = selftest::locate_node(&exe).unwrap_or_else(|| {
        panic!(
            "pass-node not found next to {}: build it first with `cargo build -p pass-node`",
            exe.display()
        )
    });
    let secret = "explore-secret-0123456789abcdef";
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(secret.as_bytes()).unwrap();
    let mut copts = selftest::options(&node, file.path()).unwrap();
    copts.secret = secret.to_string();
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
