//! Proof through a real server: the reference node built with `--features faults`,
//! behind one Prosody, once per engine fault (`PASS_NODE_FAULT=NAME`), checked with
//! the c2s target. For each fault, a sample of the cases it declares
//! (`pass-conformance list --faults`) must fail (`--strict`: FAIL, WARN included),
//! one case it does not declare must pass, and where a c2s-only case catches the
//! fault as well, it must fail too. With `--exhaust`, no declared case is SKIP.
//!
//! The faults run side by side (one component domain and one pair of throwaway
//! accounts, `--register`, each) to keep the test short. Needs `prosody`
//! (scripts/setup.sh); without it the test fails saying so.

#![allow(dead_code)] // the shared harnesses have more than this test uses

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

use c2s_support::{faults_node, run_c2s, statuses, Node};
use info::USERS;
use pass_conformance::faults::KnownFault;
use pass_conformance::Status;
use server::{ComponentSpec, Prosody};
use std::sync::Arc;

/// How many declared cases of each fault run.
const SAMPLE: usize = 2;
/// A case no engine fault declares: it must still pass with each fault on.
const CONTROL: &str = "pass/robustness/disco-info";
/// How many faults run at once.
const PARALLEL: usize = 6;

/// c2s-only cases that catch an engine fault too (no other target runs them, so
/// pass-faults' declarations cannot name them).
fn c2s_only_catches(fault: &str) -> &'static [&'static str] {
    match fault {
        "no-client-drop" => &["pass/3/owner-offline-drops-client"],
        "notice-to-wrong-jid" => &["pass/4.1/notices-to-registering-jid"],
        _ => &[],
    }
}

/// The cases one fault's run selects, and what each must come out as.
fn selection(fault: KnownFault) -> Vec<(&'static str, Status)> {
    let mut picked: Vec<&'static str> = Vec::new();
    for id in fault
        .caught_by()
        .iter()
        .flat_map(|c| c.cases.iter().copied())
    {
        if picked.len() < SAMPLE && !picked.contains(&id) {
            picked.push(id);
        }
    }
    let mut out: Vec<(&str, Status)> = picked
        .into_iter()
        .map(|id| (id, fault.expected_status(id, true)))
        .collect();
    out.extend(
        c2s_only_catches(fault.name())
            .iter()
            .map(|id| (*id, Status::Fail)),
    );
    assert_eq!(
        fault.expected_status(CONTROL, true),
        Status::Pass,
        "{}",
        fault.name()
    );
    out.push((CONTROL, Status::Pass));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_engine_fault_fails_its_cases_through_prosody() {
    let binary = Arc::new(faults_node());
    let faults: Vec<KnownFault> = KnownFault::all()
        .filter(|f| matches!(f, KnownFault::Engine(_)))
        .collect();
    let secret = format!("secret-{}", fastrand::u64(..));
    let specs: Vec<ComponentSpec> = (0..faults.len())
        .map(|i| ComponentSpec {
            domain: format!("pass{i}.localhost"),
            secret: secret.clone(),
        })
        .collect();
    let prosody = Arc::new(Prosody::start(&specs, &USERS, true));
    let tag = format!("{:06x}", fastrand::u32(..0xff_ffff));
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut runs = Vec::new();
    for (i, fault) in faults.into_iter().enumerate() {
        let (binary, prosody, gate) = (binary.clone(), prosody.clone(), gate.clone());
        let (secret, tag) = (secret.clone(), tag.clone());
        runs.push(tokio::spawn(async move {
            let _slot = gate.acquire().await.expect("semaphore");
            let info = prosody.info(&format!("pass{i}.localhost"), &secret);
            let node = Node::start(&binary, &info, &[("PASS_NODE_FAULT", fault.name())]).await;
            let want = selection(fault);
            let mut args = vec!["--register".to_owned(), "--strict".to_owned()];
            for who in ["a", "b"] {
                args.push("--account".into());
                args.push(format!("f{i}-{tag}-{who}@{}", info.host));
            }
            args.extend([
                "--exhaust".into(),
                "20".into(),
                "--answer-wait".into(),
                "3".into(),
            ]);
            for (id, _) in &want {
                args.extend(["--only".to_owned(), (*id).to_owned()]);
            }
            let (out, report) = tokio::task::spawn_blocking(move || run_c2s(&info, &args))
                .await
                .expect("runner thread");
            drop(node);
            // Shown with --nocapture.
            println!(
                "{}:\n{}",
                fault.name(),
                String::from_utf8_lossy(&out.stdout)
            );
            let got = statuses(&report);
            let mut wrong = Vec::new();
            for (id, status) in &want {
                let s = got.iter().find(|(g, _)| g == id).map(|(_, s)| s.as_str());
                if s != Some(status.to_string().as_str()) {
                    wrong.push(format!(
                        "{}: {id} is {}, expected {status}",
                        fault.name(),
                        s.unwrap_or("missing")
                    ));
                }
            }
            if !wrong.is_empty() {
                wrong.push(format!(
                    "{} run ({}):\n{}\n{}",
                    fault.name(),
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            wrong
        }));
    }
    let mut wrong = Vec::new();
    for r in runs {
        wrong.extend(r.await.expect("fault run"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The faults build has the switch the default build lacks (pass-node/tests/cli.rs
/// checks that absence), and refuses a name that is no engine fault.
#[test]
fn the_faults_build_takes_engine_fault_names_only() {
    let binary = faults_node();
    let bytes = std::fs::read(&binary).expect("read the faults build");
    assert!(
        bytes.windows(15).any(|w| w == b"PASS_NODE_FAULT"),
        "the faults build has the switch"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s").expect("secret");
    let out = std::process::Command::new(&binary)
        .args(["--server", "127.0.0.1:1", "--domain", "pass.localhost"])
        .arg("--secret-file")
        .arg(&secret)
        .args(["--metrics", "off"])
        .env("PASS_NODE_FAULT", "host-corrupt-relay-byte")
        .output()
        .expect("run the faults build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("host fault") && stderr.contains("deny-ignored"),
        "says why and lists the engine faults: {stderr}"
    );
}
