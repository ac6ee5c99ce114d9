//! What the c2s target's tests share: the reference pass-node as a process behind a
//! private XMPP server (pass-node's Prosody and ejabberd harnesses, included by
//! path by each test crate, as modules `client`, `info`, `ports`), and the
//! `pass-conformance c2s` command run against it.

use crate::client::{Kind, XmppClient};
use crate::info::{ServerInfo, USERS};
use crate::ports;
#[allow(unused_imports)] // not every test including this one proves faults
pub use faults_support::faults_node;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../faults_support/mod.rs"]
mod faults_support;

/// The node's owner-answer timeout and proxy window, in seconds (short: the runs
/// wait for them).
pub const NODE_TIMEOUT_SECS: u64 = 2;
/// The node's lease limit (also per account): `--exhaust` reaches it, and 502.
const MAX_LEASES: usize = 8;

/// The reference node (or `binary`) as the component of `info`'s server, killed on drop.
pub struct Node {
    child: Child,
    dir: tempfile::TempDir,
}

impl Node {
    /// Starts `binary` (pass-node) with `env`, and waits until the server routes to it.
    pub async fn start(binary: &Path, info: &ServerInfo, env: &[(&str, &str)]) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let secret = dir.path().join("secret");
        std::fs::write(&secret, &info.secret).expect("secret file");
        let (first, last) = ports::free_range(32);
        let t = NODE_TIMEOUT_SECS.to_string();
        let child = Command::new(binary)
            .args(["--server", &info.component.to_string()])
            .args(["--domain", &info.service])
            .arg("--secret-file")
            .arg(&secret)
            .args(["--public-ip", "127.0.0.1", "--bind", "127.0.0.1"])
            .args(["--ports", &format!("{first}-{last}")])
            .args(["--answer-timeout", &t, "--proxy-window", &t])
            .args(["--max-leases", &MAX_LEASES.to_string()])
            .args(["--max-leases-per-account", &MAX_LEASES.to_string()])
            // One account acts for every case: the per-account rate is not under test.
            .args(["--iq-burst", "1000", "--iq-per-second", "1000"])
            .args(["--metrics", "off", "--no-state"])
            .envs(env.iter().copied())
            // Its own state directory (pass-node-state/ under the working
            // directory): nodes running side by side must not share a lease store.
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create(dir.path().join("node.log")).expect("log"),
            ))
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("node.err")).expect("log"),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let node = Node { child, dir };
        node.wait_routed(info).await;
        node
    }

    /// Until the node is connected, the server bounces stanzas for it.
    async fn wait_routed(&self, info: &ServerInfo) {
        let (name, pw) = USERS[1];
        let mut other = XmppClient::connect(info.c2s, name, &info.host, pw).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let query: tokio_xmpp::minidom::Element =
                "<query xmlns='http://jabber.org/protocol/disco#info'/>"
                    .parse()
                    .expect("xml");
            let answer = other.request(&info.service, Kind::Get, query).await;
            if matches!(answer, tokio_xmpp::parsers::iq::Iq::Result { .. }) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pass-node did not come up:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node's output.
    pub fn log(&self) -> String {
        let mut s = String::new();
        for f in ["node.log", "node.err"] {
            s.push_str(&std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default());
        }
        s
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("===== pass-node output =====\n{}", self.log());
        }
    }
}

/// The reference pass-node binary beside the test (cargo builds it for the
/// workspace's tests).
pub fn reference_node() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    pass_conformance::selftest::locate_node(&exe).unwrap_or_else(|| {
        panic!(
            "pass-node not found next to {}: cargo build -p pass-node",
            exe.display()
        )
    })
}

/// A password file for [`USERS`] on `info.host`, in `dir`.
fn password_file(dir: &Path, info: &ServerInfo) -> PathBuf {
    let path = dir.join("passwords");
    let text: String = USERS
        .iter()
        .map(|(name, pw)| format!("{name}@{} {pw}\n", info.host))
        .collect();
    std::fs::write(&path, text).expect("password file");
    path
}

/// The two accounts' `--account` flags and their `--password-file` (written in `dir`).
pub fn account_args(dir: &Path, info: &ServerInfo) -> Vec<String> {
    let mut args: Vec<String> = USERS
        .iter()
        .flat_map(|(name, _)| ["--account".to_owned(), format!("{name}@{}", info.host)])
        .collect();
    args.push("--password-file".into());
    args.push(password_file(dir, info).display().to_string());
    args
}

/// `pass-conformance c2s` against `info`'s server over plain TCP (loopback), with
/// the node's timeouts, plus `extra`; the JSON report is parsed.
pub fn run_c2s(info: &ServerInfo, extra: &[String]) -> (Output, serde_json::Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_pass-conformance"))
        .arg("c2s")
        .args(["--server", &info.c2s.to_string()])
        .args(["--service", &info.service])
        // Plain TCP on loopback unless the test chose.
        .args(if extra.iter().any(|a| a == "--tls" || a == "--tls-ca") {
            &[][..]
        } else {
            &["--tls", "none"][..]
        })
        .args(["--impl-answer-timeout", &NODE_TIMEOUT_SECS.to_string()])
        .args(extra)
        .args(["--format", "json", "--output"])
        .arg(&report)
        .output()
        .expect("run pass-conformance");
    let json = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (out, json)
}

/// Panics with the report table and stderr unless the run exited 0.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "pass-conformance c2s failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each case id and status of a JSON report.
pub fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["outcomes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["id"].as_str().unwrap_or("").to_owned(),
                        o["status"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
