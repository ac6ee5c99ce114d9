//! `pass-conformance explore c2s` through a real Prosody on loopback (DESIGN
//! decision 135): explore's accounts are the server's accounts, each acting as two
//! logged-in resources. A short run against the reference pass-node finds no
//! mismatch, and a sequence fault of the node built with `--features faults`
//! (`PASS_NODE_FAULT`) is found through the server.
//!
//! Needs `prosody` (scripts/setup.sh); without it the test fails saying so.

#![allow(dead_code)] // the shared harnesses have more than these tests use

#[path = "../../pass-node/tests/prosody/client.rs"]
mod client;
#[path = "../../pass-node/tests/prosody/info.rs"]
mod info;
#[path = "../../pass-node/tests/prosody/logs.rs"]
mod logs;
#[path = "../../pass-node/tests/prosody/ports.rs"]
mod ports;
#[path = "../../pass-node/tests/prosody/server.rs"]
mod server;

mod c2s_support;

use c2s_support::{account_args, faults_node, reference_node, Node, NODE_TIMEOUT_SECS};
use info::{ServerInfo, USERS};
use server::{ComponentSpec, Prosody};
use std::process::{Command, Output};

/// `pass-conformance explore c2s` against `info`'s server (plain TCP on loopback),
/// as `accounts` (flags), with the node's timeouts, plus `extra`.
fn explore_c2s(info: &ServerInfo, accounts: &[String], extra: &[&str]) -> Output {
    let t = NODE_TIMEOUT_SECS.to_string();
    Command::new(env!("CARGO_BIN_EXE_pass-conformance"))
        .args(["explore", "c2s"])
        .args(["--server", &info.c2s.to_string()])
        .args(["--service", &info.service, "--tls", "none"])
        .args(accounts)
        .args(["--impl-answer-timeout", &t, "--proxy-window", &t])
        .args(extra)
        .output()
        .expect("run pass-conformance")
}

fn text(out: &Output) -> String {
    format!(
        "({})\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_through_prosody_passes_the_node_and_finds_a_sequence_fault() {
    let secret = format!("secret-{}", fastrand::u64(..));
    let specs: Vec<ComponentSpec> = ["pass.localhost", "faulty.localhost"]
        .iter()
        .map(|d| ComponentSpec {
            domain: (*d).to_owned(),
            secret: secret.clone(),
        })
        .collect();
    // Registration on: the faulty node's run makes its own throwaway accounts, since
    // a second login as the same full JID would end the reference run's.
    let prosody = Prosody::start(&specs, &USERS, true);
    let good = prosody.info("pass.localhost", &secret);
    let bad = prosody.info("faulty.localhost", &secret);
    let faulty_bin = faults_node();
    let _reference = Node::start(&reference_node(), &good, &[]).await;
    let _faulty = Node::start(
        &faulty_bin,
        &bad,
        &[("PASS_NODE_FAULT", "notice-to-latest-resource")],
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let users = account_args(dir.path(), &good);
    let tag = format!("{:06x}", fastrand::u32(..0xff_ffff));
    let mut throwaway = vec!["--register".to_owned()];
    for who in ["a", "b"] {
        throwaway.extend(["--account".to_owned(), format!("x{tag}-{who}@{}", bad.host)]);
    }

    // More accounts than --account: refused, saying so.
    let out = explore_c2s(&good, &users, &["--accounts", "3", "--steps", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--accounts 2 at most"),
        "{}",
        text(&out)
    );

    let pass = tokio::task::spawn_blocking(move || {
        explore_c2s(
            &good,
            &users,
            &["--seed", "20261130", "--steps", "40", "--runs", "2"],
        )
    });
    let fail = tokio::task::spawn_blocking(move || {
        explore_c2s(
            &bad,
            &throwaway,
            // Each shrinking try reruns in real time: the run as it went.
            &[
                "--seed",
                "1",
                "--steps",
                "150",
                "--runs",
                "1",
                "--shrink-tries",
                "0",
            ],
        )
    });
    let (pass, fail) = (pass.await.expect("runner"), fail.await.expect("runner"));
    // The summary (shown with --nocapture): steps per second through the server.
    println!("reference:\n{}", text(&pass));
    println!("notice-to-latest-resource:\n{}", text(&fail));
    if pass.status.code() != Some(0) || fail.status.code() != Some(1) {
        eprintln!("{}", prosody.logs());
    }
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    let summary = String::from_utf8_lossy(&pass.stdout);
    assert!(summary.contains("session:asked"), "{summary}");
    assert_eq!(fail.status.code(), Some(1), "{}", text(&fail));
    let replay = String::from_utf8_lossy(&fail.stdout);
    assert!(replay.contains("not the lease's owner"), "{replay}");
    // The replay names the accounts' logged-in resources, as the server stamped them.
    assert!(
        replay.contains(&format!("x{tag}-a@")) && replay.contains("/explore-r"),
        "{replay}"
    );
}
