//! The client target against the reference pass-client: its c2s endpoint lets the
//! real client log in (plain and STARTTLS).
//!
//! Needs `pass-client` built in the same target directory and profile as this test
//! (`cargo test --workspace` builds it for pass-client's own tests; with
//! `cargo test -p pass-conformance` alone, `cargo build -p pass-client` first).

use pass_conformance::client::{C2sServer, Inbound};
use pass_conformance::selftest::locate_beside;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

fn pass_client() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    locate_beside(&exe, "pass-client").unwrap_or_else(|| {
        panic!(
            "pass-client not found next to {}: build it first with `cargo build -p pass-client`",
            exe.display()
        )
    })
}

/// Starts `pass-client answer` against the server and waits for it to bind.
async fn logs_in(server: &mut C2sServer, tls: &[&str]) -> String {
    let mut child = tokio::process::Command::new(pass_client())
        .args(["answer", "--jid", "alice@localhost", "--server"])
        .arg(server.addr().to_string())
        .args(tls)
        .env("PASS_CLIENT_PASSWORD", "s3cret")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn pass-client");
    let mut seen = Vec::new();
    let jid = loop {
        match server.next(Duration::from_secs(10)).await {
            Some(Inbound::Online(jid)) => break jid,
            Some(other) => seen.push(format!("{other:?}")),
            None => {
                let _ = child.kill().await;
                let out = child.wait_with_output().await.expect("output");
                panic!(
                    "pass-client did not log in within 10 s; saw {seen:?}; its stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    };
    let _ = child.kill().await;
    jid
}

#[tokio::test]
async fn pass_client_logs_in_over_plain_tcp_and_starttls() {
    let mut server = C2sServer::start("127.0.0.1:0", "localhost", "pass.localhost", "s3cret")
        .await
        .expect("server starts");
    let jid = logs_in(&mut server, &["--tls", "none"]).await;
    assert!(jid.starts_with("alice@localhost/"), "{jid}");
    let ca = server.ca_path().to_path_buf();
    let ca = ca.to_string_lossy().to_string();
    let jid = logs_in(&mut server, &["--tls", "starttls", "--tls-ca", &ca]).await;
    assert!(jid.starts_with("alice@localhost/"), "{jid}");
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let mut server = C2sServer::start("127.0.0.1:0", "localhost", "pass.localhost", "other")
        .await
        .expect("server starts");
    let out = tokio::process::Command::new(pass_client())
        .args([
            "answer",
            "--jid",
            "alice@localhost",
            "--tls",
            "none",
            "--server",
        ])
        .arg(server.addr().to_string())
        .env("PASS_CLIENT_PASSWORD", "s3cret")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out)
        .await
        .expect("pass-client ends")
        .expect("runs");
    // docs/CLIENT.md: exit 4, the server refused the login.
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server
        .next(Duration::from_millis(100))
        .await
        .is_none_or(|e| !matches!(e, Inbound::Online(_))));
}

/// The reference passes every client case with --strict: every case PASS, no WARN,
/// no SKIP (issue 12's "Done when"). It goes through the built-in shim, as
/// `client-self-test` does.
#[tokio::test(flavor = "current_thread")]
async fn the_reference_client_passes_every_case_strictly() {
    let opts = pass_conformance::RunOptions {
        strict: true,
        ..Default::default()
    };
    let report = pass_conformance::selftest::run_client_with(&pass_client(), &opts)
        .await
        .expect("the run happens");
    let not_passed: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| o.status != pass_conformance::Status::Pass)
        .map(|o| format!("{} {}: {:?} {:?}", o.status, o.id, o.failure, o.notes))
        .collect();
    assert!(
        not_passed.is_empty(),
        "{not_passed:#?}\n{:?}",
        report.impl_log_tail
    );
    assert_eq!(
        report.outcomes.len(),
        pass_conformance::client::client_catalogue().len()
    );
    assert_eq!(report.exit_code(), 0);
    // Every case recorded what it exchanged.
    assert!(report.outcomes.iter().all(|o| !o.transcript.is_empty()));
    // The "promptly" SHOULD reports the delay it measured.
    let prompt = report
        .outcomes
        .iter()
        .find(|o| o.id == "pass/client/3/proxy-promptly")
        .expect("the case ran");
    assert!(
        prompt
            .notes
            .iter()
            .any(|n| n.contains("ms after its accept")),
        "{:?}",
        prompt.notes
    );
}

#[test]
fn client_self_test_and_list_work_from_the_command_line() {
    let bin = env!("CARGO_BIN_EXE_pass-conformance");
    let list = std::process::Command::new(bin)
        .args(["list", "--target", "client"])
        .output()
        .expect("runs");
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    for c in pass_conformance::client::client_catalogue() {
        assert!(text.contains(c.id), "{} missing from the list", c.id);
    }
    // The runner finds pass-client beside itself (both are in target/<profile>/).
    let run = std::process::Command::new(bin)
        .args([
            "client-self-test",
            "--strict",
            "--format",
            "json",
            "--only",
            "pass/client/2/*",
        ])
        .output()
        .expect("runs");
    let json: serde_json::Value =
        serde_json::from_slice(&run.stdout).expect("a JSON report on stdout");
    assert_eq!(run.status.code(), Some(0), "{json:#}");
    assert_eq!(
        json["outcomes"].as_array().map(Vec::len),
        Some(3),
        "{json:#}"
    );
}

/// Exit 89 is "unsupported": every case is SKIP (which --strict counts), and the
/// reason says so; any other early exit is a FAIL.
#[tokio::test(flavor = "current_thread")]
async fn exit_89_skips_and_another_exit_fails() {
    use pass_conformance::client::{self, ClientOptions};
    let lenient = pass_conformance::RunOptions::default();
    let only = |g: &str| pass_conformance::RunOptions {
        only: vec![glob::Pattern::new(g).expect("a glob")],
        ..lenient.clone()
    };
    let r = client::run(&ClientOptions::new("exit 89"), &only("pass/client/2/*"))
        .await
        .expect("runs");
    assert_eq!(r.outcomes.len(), 3);
    for o in &r.outcomes {
        assert_eq!(o.status, pass_conformance::Status::Skip, "{}", o.id);
        assert!(
            o.notes.iter().any(|n| n.contains("unsupported")),
            "{:?}",
            o.notes
        );
    }
    assert_eq!(r.exit_code(), 0);
    let r = client::run(
        &ClientOptions::new("echo broken >&2; exit 1"),
        &only("pass/client/3/accept-listing-4"),
    )
    .await
    .expect("runs");
    assert_eq!(r.outcomes[0].status, pass_conformance::Status::Fail);
    let got = r.outcomes[0].failure_text().unwrap_or_default();
    assert!(got.contains("exit status: 1"), "{got}");
    assert_eq!(r.exit_code(), 1);
}

/// --case-timeout ends a case that hangs, and the client with it.
#[tokio::test(flavor = "current_thread")]
async fn a_case_that_outlives_case_timeout_fails() {
    use pass_conformance::client::{self, ClientOptions};
    let mut copts = ClientOptions::new("sleep 30");
    copts.case_timeout = Duration::from_secs(1);
    let opts = pass_conformance::RunOptions {
        only: vec![glob::Pattern::new("pass/client/2/register-listing-1").expect("a glob")],
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let r = client::run(&copts, &opts).await.expect("runs");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(r.outcomes[0].status, pass_conformance::Status::Fail);
    let got = r.outcomes[0].failure_text().unwrap_or_default();
    assert!(got.contains("--case-timeout"), "{got}");
}
