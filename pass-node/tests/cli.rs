//! The real binary: check-config, handshake outcomes, SIGTERM.

mod common;

use common::*;
use pass_core::stanza::{Condition, IqType, PassMessage};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_pass-node");

fn check_config(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .env_remove("PASS_NODE_SECRET")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn example_config_is_accepted() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("pass-node.example.toml");
    let (ok, text) = check_config(&std::fs::read_to_string(example).unwrap());
    assert!(ok, "{text}");
    assert!(text.contains("ok"), "{text}");
}

#[test]
fn check_config_names_bad_fields() {
    let base = "server = 'localhost:5347'\ndomain = 'pass.example'\nsecret_file = '/x'\n";
    for (extra, expect) in [
        (
            "ports = '5000-4000'",
            "ports: first port 5000 is greater than last port 4000",
        ),
        ("max_leaes = 3", "max_leaes"),
        ("max_relays = 0", "max_relays: must be at least 1"),
        ("metrics = 'everywhere'", "metrics:"),
        ("public_ip = ['not-an-ip']", "public_ip"),
        ("relay_mode = 'teleport'", "relay_mode"),
        ("iq_rate = 0", "iq_rate: must be at least 1"),
        ("iq_per_second = 0", "iq_per_second: must be at least 1"),
        (
            "max_leases_per_jid = 0",
            "max_leases_per_jid: must be at least 1",
        ),
        (
            "max_leases_per_account = 0",
            "max_leases_per_account: must be at least 1",
        ),
        ("iq_rate = 3\niq_per_second = 3", "duplicate field"),
        ("iq_burst = 0", "iq_burst: must be at least 1"),
        ("iq_burst = -1", "iq_burst"),
        ("call_rate = 0", "call_rate: must be at least 1"),
        ("call_per_second = 0", "call_per_second: must be at least 1"),
        (
            "max_stanza_bytes = 1000",
            "max_stanza_bytes: must be at least 4096",
        ),
        (
            "half_close_timeout = 0",
            "half_close_timeout: must be at least 1 s",
        ),
    ] {
        let (ok, text) = check_config(&format!("{base}{extra}\n"));
        assert!(!ok, "{extra} accepted");
        assert!(text.contains(expect), "{extra}: {text}");
    }
    let (ok, text) = check_config("domain = 'pass.example'\nsecret_file = '/x'\n");
    assert!(!ok);
    assert!(text.contains("server: missing"), "{text}");
}

#[test]
fn help_explains_the_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--server",
        "--domain",
        "--secret-file",
        "--public-ip",
        "--bind",
        "--ports",
        "--max-leases-per-jid",
        "--max-leases",
        "--max-relays",
        "--relay-rate",
        "--total-rate",
        "--answer-timeout",
        "--proxy-window",
        "--max-expire",
        "--relay-mode",
        "--metrics",
        "--log-format",
        "--log-level",
        "--drain-timeout",
        "--half-close-timeout",
        "--relay-idle-timeout",
        "--max-stanza-bytes",
        "--iq-burst",
        "--iq-rate",
        "--call-burst",
        "--call-rate",
        "--max-leases-per-account",
        "--iq-per-second",
        "--call-per-second",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    // The operator must learn why the stanza limit matters (clap rewraps lines).
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("at least the server's own stanza size limit"),
        "{help}"
    );
}

#[test]
fn check_config_accepts_the_new_settings() {
    let (ok, text) = check_config(
        "server = 'localhost:5347'\ndomain = 'pass.example'\nsecret_file = '/x'\n\
         half_close_timeout = 2\nmax_stanza_bytes = 262144\niq_burst = 50\niq_rate = 20\n\
         relay_idle_timeout = 0\n",
    );
    assert!(ok, "{text}");
}

#[test]
fn check_config_accepts_the_old_and_the_aligned_names() {
    let base = "server = 'localhost:5347'\ndomain = 'pass.example'\nsecret_file = '/x'\n";
    for names in [
        "max_leases_per_jid = 3\niq_rate = 5\ncall_rate = 7\n",
        "max_leases_per_account = 3\niq_per_second = 5\ncall_per_second = 7\n",
    ] {
        let (ok, text) = check_config(&format!("{base}{names}"));
        assert!(ok, "{names}: {text}");
    }
}

/// Whether the stream ends with a `<stream:error/>` naming `condition` (bounded).
async fn stream_cut_with(session: &mut Session, condition: &str) -> bool {
    for _ in 0..10 {
        match session.try_next_event(WAIT).await {
            Ok(pass_core::xml::StreamEvent::StreamError(e)) => {
                return e.elements().any(|c| c.name == condition);
            }
            Ok(pass_core::xml::StreamEvent::Stanza(_)) => continue,
            _ => return false,
        }
    }
    false
}

#[tokio::test]
async fn max_stanza_bytes_flag_sets_the_stream_limit() {
    let server = FakeServer::bind(SECRET).await;
    let child = spawn_node(server.addr, SECRET, &["--max-stanza-bytes", "8192"]);
    let mut session = server.accept_ok().await;
    // 12 KB: over the flag's 8 KiB, well under the 64 KiB default (which would
    // answer this ping with an IQ error on a stream that stays up).
    let ping = format!(
        "<iq type='get' id='big' from='someone@example/x' to='{DOMAIN}'>\
         <ping xmlns='urn:xmpp:ping'>{}</ping></iq>",
        "<x/>".repeat(3000)
    );
    session.send_raw(&ping).await;
    assert!(stream_cut_with(&mut session, "policy-violation").await);
    // The node comes back on a new stream (and then stops at once, not after a
    // handshake that never completes).
    let _session = server.accept_ok().await;
    stop(child).await;
}

#[tokio::test]
async fn iq_burst_and_rate_flags_set_the_rate_limit() {
    // The aligned name and its old spelling.
    for rate_flag in ["--iq-per-second", "--iq-rate"] {
        let server = FakeServer::bind(SECRET).await;
        let child = spawn_node(server.addr, SECRET, &["--iq-burst", "2", rate_flag, "1"]);
        let mut session = server.accept_ok().await;
        // Five requests at once from one account: the default burst (20) would
        // answer all of them, a burst of 2 refuses some with resource-constraint.
        for i in 0..5 {
            session
                .send_iq(
                    "flood@example/x",
                    &format!("d{i}"),
                    "get",
                    "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                )
                .await;
        }
        let mut refused = 0;
        for _ in 0..5 {
            let iq = session.next_iq().await;
            if iq.error.as_ref().and_then(|e| e.condition) == Some(Condition::ResourceConstraint) {
                refused += 1;
            }
        }
        assert!(refused >= 2, "{rate_flag}: only {refused} of 5 refused");
        stop(child).await;
    }
}

/// SIGTERM then wait for the exit (bounded).
async fn stop(child: std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("the `kill` command (procps) is needed: apt-get install procps");
    assert!(status.success());
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Starts the binary against `server` with `secret` in the environment.
fn spawn_node(server: std::net::SocketAddr, secret: &str, extra: &[&str]) -> std::process::Child {
    let (first, last) = port_pool();
    Command::new(BIN)
        .args(["--server", &server.to_string(), "--domain", DOMAIN])
        .args(["--public-ip", "127.0.0.1", "--metrics", "off"])
        .args(["--ports", &format!("{first}-{last}")])
        .args(extra)
        .env("PASS_NODE_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the process to exit (bounded); returns (code, stderr).
fn wait_exit(mut child: std::process::Child) -> (Option<i32>, String) {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    panic!(
        "node did not exit; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn wrong_secret_exits_3_with_a_clear_message() {
    let server = FakeServer::bind(SECRET).await;
    let child = spawn_node(server.addr, "not-the-secret", &[]);
    let (_session, outcome) = server.accept().await;
    assert_eq!(outcome, HandshakeOutcome::Refused);
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("not-authorized"), "{stderr}");
    assert!(stderr.contains("handshake refused"), "{stderr}");
}

#[tokio::test]
async fn missing_secret_is_a_config_error() {
    let out = Command::new(BIN)
        .args(["--server", "127.0.0.1:1", "--domain", DOMAIN])
        .env_remove("PASS_NODE_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("secret_file: missing"));
}

#[tokio::test]
async fn sigterm_sends_close_notices_and_exits_0() {
    let server = FakeServer::bind(SECRET).await;
    let child = spawn_node(server.addr, SECRET, &["--drain-timeout", "2"]);
    let mut session = server.accept_ok().await;
    let lease = session.register("owner@example/home", "").await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("the `kill` command (procps) is needed: apt-get install procps");
    assert!(status.success());
    // The owner is told its port is closed.
    let iq = session.next_iq().await;
    assert_eq!(iq.kind, IqType::Set);
    match PassMessage::from_iq(&iq).unwrap() {
        PassMessage::ExpireNotice { proxy } | PassMessage::OneshotNotice { proxy } => {
            assert_eq!(proxy, lease)
        }
        PassMessage::Close { proxy } => assert!(proxy.is_some()),
        other => panic!("expected a close notice, got {other:?}"),
    }
    // Then the stream is closed.
    match session.try_next_event(WAIT).await {
        Ok(pass_core::xml::StreamEvent::End) | Err(_) => {}
        Ok(other) => panic!("expected the stream to end, got {other:?}"),
    }
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn metrics_address_in_use_exits_5() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let server = FakeServer::bind(SECRET).await;
    let (first, last) = port_pool();
    let child = Command::new(BIN)
        .args(["--server", &server.addr.to_string(), "--domain", DOMAIN])
        .args(["--metrics", &addr, "--ports", &format!("{first}-{last}")])
        .env("PASS_NODE_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stderr) = tokio::task::spawn_blocking(move || wait_exit(child))
        .await
        .unwrap();
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("metrics endpoint"), "{stderr}");
    drop(taken);
}

/// docs/pass-node-help.md is `--help` of the binary and of its subcommand, verbatim
/// (the Debian package ships it: docs/DESIGN.md decision 102). After a change to a
/// flag, regenerate it: `PASS_BLESS=1 cargo test -p pass-node --test cli help_doc`.
#[test]
fn help_doc_is_the_binarys_help() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = format!(
        "# pass-node --help\n\n\
         Generated from the binary by pass-node/tests/cli.rs (`help_doc_is_the_binarys_help`);\n\
         do not edit. docs/OPERATING.md explains the settings.\n\n\
         ```text\n$ pass-node --help\n{}```\n\n\
         ```text\n$ pass-node check-config --help\n{}```\n",
        help(&["--help"]),
        help(&["check-config", "--help"]),
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/pass-node-help.md");
    if std::env::var_os("PASS_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        doc == text,
        "docs/pass-node-help.md differs from --help: \
         PASS_BLESS=1 cargo test -p pass-node --test cli help_doc"
    );
}
