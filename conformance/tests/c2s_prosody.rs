//! The c2s target against the reference node behind a real Prosody on loopback
//! (pass-node's Prosody harness, included by path): every case PASS with --strict,
//! accounts made by the harness (prosodyctl).
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

use c2s_support::{account_args, assert_success, reference_node, run_c2s, Node};
use server::Prosody;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_through_prosody() {
    let (prosody, info) = Prosody::with_component("pass.localhost");
    let node = Node::start(&reference_node(), &info, &[]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = account_args(dir.path(), &info);
    args.extend(["--exhaust".into(), "20".into(), "--strict".into()]);
    let (out, report) = run_c2s(&info, &args);
    // The table (shown with --nocapture, or when the test fails).
    println!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        eprintln!("{}", prosody.logs());
    }
    assert_success(&out);
    // The target's own events are in the transcript: the owner logged out.
    let offline = report["outcomes"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|o| o["id"] == "pass/3/owner-offline-drops-client")
        })
        .map(|o| o["transcript"].to_string())
        .unwrap_or_default();
    assert!(
        offline.contains("c2s: logged in as owner@") && offline.contains("c2s: logged out owner@"),
        "the transcript shows the owner's login and logout: {offline}"
    );
    let ran = c2s_support::statuses(&report);
    assert!(
        ran.iter()
            .any(|(id, s)| id == "pass/2/no-ports-502" && s == "PASS"),
        "--exhaust runs the 502 case: {ran:?}"
    );

    // Without --exhaust the 502 case must not use a deployed service's ports up.
    let mut args = account_args(dir.path(), &info);
    args.extend(["--only".into(), "pass/2/no-ports-502".into()]);
    let (out, report) = run_c2s(&info, &args);
    assert_success(&out);
    let o = &report["outcomes"][0];
    assert_eq!(o["status"], "SKIP", "{report}");
    assert!(
        o["notes"].to_string().contains("--exhaust N"),
        "the reason names --exhaust: {o}"
    );
    drop(node);
}

/// `--register` over STARTTLS (`--tls-ca`, a test CA): the runner creates two
/// throwaway accounts by XEP-0077, runs every case as them (so they existed), and
/// removes them: afterwards Prosody stores neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_creates_and_removes_throwaway_accounts() {
    let (mut prosody, info) = Prosody::with_component_and("pass.localhost", true);
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = prosody.install_certificate(dir.path());
    let node = Node::start(&reference_node(), &info, &[]).await;
    let tag = format!("{:08x}", fastrand::u32(..));
    let accounts = [
        format!("conformance-{tag}-a@{}", info.host),
        format!("conformance-{tag}-b@{}", info.host),
    ];
    let mut args = vec![
        "--register".to_owned(),
        "--tls-ca".to_owned(),
        ca.display().to_string(),
    ];
    for a in &accounts {
        args.extend(["--account".to_owned(), a.clone()]);
    }
    args.extend(["--exhaust".into(), "20".into(), "--strict".into()]);
    let (out, _) = run_c2s(&info, &args);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        eprintln!("{}", prosody.logs());
    }
    assert_success(&out);
    // Prosody's internal storage: one file per account (the harness's users are
    // there, the throwaway ones are gone).
    let stored: Vec<String> = std::fs::read_dir(prosody.data_dir().join("localhost/accounts"))
        .expect("Prosody's accounts folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(stored.iter().any(|f| f == "owner.dat"), "{stored:?}");
    assert!(
        !stored.iter().any(|f| f.contains(&tag)),
        "the throwaway accounts are removed: {stored:?}"
    );
    drop(node);
}

#[test]
fn a_bad_password_file_line_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("passwords");
    std::fs::write(&file, "a@localhost pw-a\nb@localhost\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pass-conformance"))
        .args([
            "c2s",
            "--server",
            "127.0.0.1:1",
            "--service",
            "pass.localhost",
        ])
        .args(["--account", "a@localhost", "--account", "b@localhost"])
        .arg("--password-file")
        .arg(&file)
        .args(["--tls", "none"])
        .output()
        .expect("run pass-conformance");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 2"), "names the line: {stderr}");
}
