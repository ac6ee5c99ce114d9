//! `explore` against the real pass-node over the component target (real, bounded
//! waits): a short random run finds no mismatch, the nemesis (the component stream
//! cut mid-session) is survived with the leases kept, and sequence faults of
//! pass-faults in the node (run in process around a faulty engine) are found over
//! the network.
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

/// pass-node in process around `fault`'s engine, connecting to a component target
/// that listens on a free port; stopped when the sender is dropped.
async fn faulty_node(
    fault: pass_faults::Fault,
) -> (
    Component,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let secret = "explore-secret-0123456789abcdef";
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, secret).unwrap();
    let port = selftest::free_port().unwrap();
    let (first, last) = selftest::free_range().unwrap();
    let t = selftest::NODE_TIMEOUT_SECS.to_string();
    let cli = pass_node::config::Cli::parse_args_from([
        "pass-node".to_owned(),
        "--server".into(),
        format!("127.0.0.1:{port}"),
        "--domain".into(),
        "pass.localhost".into(),
        "--secret-file".into(),
        secret_file.display().to_string(),
        "--public-ip".into(),
        "127.0.0.1".into(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--ports".into(),
        format!("{first}-{last}"),
        "--answer-timeout".into(),
        t.clone(),
        "--proxy-window".into(),
        t,
        "--max-leases".into(),
        "8".into(),
        "--max-leases-per-account".into(),
        "4".into(),
        "--metrics".into(),
        "off".into(),
    ])
    .unwrap();
    let config = pass_node::config::resolve(
        &cli.settings,
        &pass_node::config::ConfigFile::default(),
        pass_node::config::SecretSource::Read,
    )
    .unwrap();
    let service = pass_core::service::Service::new(config.core.clone()).unwrap();
    let engine = pass_faults::FaultyEngine::new(service, fault);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = pass_node::run_with_engine(config, engine, async {
            let _ = stopped.await;
        })
        .await;
    });
    let copts = pass_conformance::component::ComponentOptions {
        listen: format!("127.0.0.1:{port}"),
        domain: "pass.localhost".into(),
        secret: secret.into(),
        spawn: None,
        answer_wait: Duration::from_secs(5),
        io_wait: Duration::from_secs(5),
        impl_answer_timeout: Duration::from_secs(selftest::NODE_TIMEOUT_SECS),
        connect_wait: Duration::from_secs(10),
    };
    let target = targets::component(
        copts,
        Duration::from_secs(selftest::NODE_TIMEOUT_SECS),
        settings(None),
    )
    .await
    .unwrap();
    (target, stop, dir)
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
            let (mut t, stop, _dir) = faulty_node(fault).await;
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
            drop(stop);
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
