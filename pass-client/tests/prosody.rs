//! pass-client end to end: a real Prosody on 127.0.0.1 (pass-node's Prosody harness,
//! included by path, not copied), the real pass-node as its component (in process,
//! through its library), the `pass-client` binary as the user, and plain TCP sockets
//! as callers.
//!
//! Needs `prosody` (scripts/setup.sh); without it the tests fail saying so.

#![allow(dead_code)] // the shared harness has more than these tests use

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

use client::{Kind, XmppClient};
use info::{ServerInfo, USERS};
use server::Prosody;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::oneshot;

const SERVICE: &str = "pass.localhost";
/// Bound on a single step.
const STEP: Duration = Duration::from_secs(15);

/// Prosody, pass-node in process, and a password file for `owner`.
struct World {
    prosody: Prosody,
    info: ServerInfo,
    stop_node: Option<oneshot::Sender<()>>,
    dir: tempfile::TempDir,
}

impl World {
    async fn start() -> World {
        // The in-process node's log, shown when a test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("pass_node=debug")
            .with_test_writer()
            .try_init();
        let (prosody, info) = Prosody::with_component(SERVICE);
        let dir = tempfile::tempdir().expect("temp dir");
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, &info.secret).expect("secret file");
        std::fs::write(dir.path().join("owner-pw"), USERS[0].1).expect("password file");
        std::fs::write(dir.path().join("other-pw"), USERS[1].1).expect("password file");
        let (first, last) = ports::free_range(8);
        let cli = pass_node::config::Cli::parse_args_from([
            "pass-node".to_owned(),
            "--server".into(),
            info.component.to_string(),
            "--domain".into(),
            SERVICE.into(),
            "--secret-file".into(),
            secret_file.display().to_string(),
            "--public-ip".into(),
            "127.0.0.1".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--ports".into(),
            format!("{first}-{last}"),
            "--metrics".into(),
            "off".into(),
        ])
        .expect("node flags");
        let config = pass_node::config::resolve(
            &cli.settings,
            &pass_node::config::ConfigFile::default(),
            pass_node::config::SecretSource::Read,
        )
        .expect("node settings");
        let (stop_node, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            if let Err(e) = pass_node::run(config, async {
                let _ = stopped.await;
            })
            .await
            {
                eprintln!("pass-node ended: {e}");
            }
        });
        let world = World {
            prosody,
            info,
            stop_node: Some(stop_node),
            dir,
        };
        world.wait_for_component().await;
        world
    }

    /// Until the node is connected, Prosody bounces stanzas for it.
    async fn wait_for_component(&self) {
        let (name, pw) = USERS[1];
        let mut other = XmppClient::connect(self.info.c2s, name, &self.info.host, pw).await;
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let query: tokio_xmpp::minidom::Element =
                "<query xmlns='http://jabber.org/protocol/disco#info'/>"
                    .parse()
                    .expect("xml");
            let answer = other.request(SERVICE, Kind::Get, query).await;
            if matches!(answer, tokio_xmpp::parsers::iq::Iq::Result { .. }) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "pass-node did not come up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A test CA (outside Prosody's reach) and a certificate it signs for `localhost`
    /// in Prosody's certificate folder; Prosody restarted to take it (c2s then offers
    /// STARTTLS). Returns the CA certificate's path.
    async fn install_certificate(&mut self) -> PathBuf {
        let certs = self.prosody.certs_dir();
        let ca = self.dir.path().join("ca.crt");
        let ca_key = self.dir.path().join("ca.key");
        let csr = self.dir.path().join("localhost.csr");
        let ext = self.dir.path().join("localhost.ext");
        std::fs::write(&ext, "subjectAltName=DNS:localhost\n").expect("ext file");
        let p = |p: &PathBuf| p.display().to_string();
        let steps: [Vec<String>; 3] = [
            vec![
                "req".into(),
                "-x509".into(),
                "-newkey".into(),
                "rsa:2048".into(),
                "-nodes".into(),
                "-days".into(),
                "2".into(),
                "-subj".into(),
                "/CN=pass test CA".into(),
                "-keyout".into(),
                p(&ca_key),
                "-out".into(),
                p(&ca),
            ],
            vec![
                "req".into(),
                "-newkey".into(),
                "rsa:2048".into(),
                "-nodes".into(),
                "-subj".into(),
                "/CN=localhost".into(),
                "-keyout".into(),
                p(&certs.join("localhost.key")),
                "-out".into(),
                p(&csr),
            ],
            vec![
                "x509".into(),
                "-req".into(),
                "-in".into(),
                p(&csr),
                "-CA".into(),
                p(&ca),
                "-CAkey".into(),
                p(&ca_key),
                "-CAcreateserial".into(),
                "-days".into(),
                "2".into(),
                "-extfile".into(),
                p(&ext),
                "-out".into(),
                p(&certs.join("localhost.crt")),
            ],
        ];
        for args in steps {
            let out = std::process::Command::new("openssl")
                .args(&args)
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        self.prosody.restart();
        self.wait_for_component().await;
        ca
    }

    fn password_file(&self) -> PathBuf {
        self.dir.path().join("owner-pw")
    }

    /// The `pass-client` binary as `user` (`owner` or `other`): plain TCP to Prosody,
    /// the user's password file, stdout piped, `args` after the subcommand's.
    fn pass_client(&self, user: &str, args: &[&str]) -> (Child, BufReader<ChildStdout>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pass-client"))
            .args(args)
            .args(["--jid", &format!("{user}@localhost")])
            .args(if args.contains(&"--tls") {
                &[][..]
            } else {
                &["--tls", "none"][..]
            })
            .arg("--server")
            .arg(self.info.c2s.to_string())
            .arg("--password-file")
            .arg(self.dir.path().join(format!("{user}-pw")))
            .env_remove("PASS_CLIENT_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn pass-client");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        (child, stdout)
    }

    /// `pass-client expose LOCAL --json` as `owner`, plus `extra`.
    fn expose(&self, local: SocketAddr, extra: &[&str]) -> Exposed {
        let local = local.to_string();
        let mut args = vec!["expose", local.as_str(), "--json"];
        args.extend_from_slice(extra);
        let (child, stdout) = self.pass_client("owner", &args);
        Exposed { child, stdout }
    }

    /// `pass-client answer --ip IP` as `other`; the child and the full JID it printed.
    async fn answer(&self, ip: &str) -> (Child, String) {
        let (child, mut out) = self.pass_client("other", &["answer", "--ip", ip]);
        let mut line = String::new();
        tokio::time::timeout(STEP, out.read_line(&mut line))
            .await
            .expect("answer prints its JID in time")
            .expect("read stdout");
        // "answering as JID with IP"
        let jid = line
            .split_whitespace()
            .nth(2)
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        (child, jid)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_node.take() {
            let _ = stop.send(());
        }
    }
}

/// A running `pass-client expose`.
struct Exposed {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Exposed {
    /// The next JSON event on stdout.
    async fn event(&mut self) -> serde_json::Value {
        let mut line = String::new();
        let n = tokio::time::timeout(STEP, self.stdout.read_line(&mut line))
            .await
            .expect("no event in time")
            .expect("read stdout");
        assert!(n > 0, "pass-client closed its stdout");
        // Shown when the test fails.
        println!("pass-client: {}", line.trim_end());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
    }

    /// Events until one named `name`.
    async fn until(&mut self, name: &str) -> serde_json::Value {
        loop {
            let ev = self.event().await;
            if ev["event"] == name {
                return ev;
            }
        }
    }

    /// The public address from the `registered` event.
    async fn registered(&mut self) -> SocketAddr {
        let ev = self.until("registered").await;
        let ip = ev["ip"].as_str().expect("ip");
        let port = ev["port"].as_u64().expect("port");
        format!("{ip}:{port}").parse().expect("address")
    }

    async fn exit(&mut self) -> ExitStatus {
        tokio::time::timeout(STEP, self.child.wait())
            .await
            .expect("pass-client did not exit in time")
            .expect("wait")
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        assert!(ok.success());
    }
}

/// An echo server on loopback: each connection's bytes back, EOF carried.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = sock.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// Sends `data` through `addr` and reads until EOF; what came back.
async fn round_trip(addr: SocketAddr, data: Vec<u8>) -> Vec<u8> {
    try_round_trip(addr, data).await.expect("round trip")
}

/// [`round_trip`], with the caller's I/O errors returned. The caller half-closes once
/// its bytes are back (a caller's EOF before it is bridged may count as hanging up),
/// and then the echo's EOF must come back through the bridge.
async fn try_round_trip(addr: SocketAddr, data: Vec<u8>) -> std::io::Result<Vec<u8>> {
    let sock = TcpStream::connect(addr).await?;
    let (mut r, mut w) = sock.into_split();
    let len = data.len();
    let writer = tokio::spawn(async move { w.write_all(&data).await.map(|()| w) });
    let mut back = vec![0; len];
    let read = async {
        r.read_exact(&mut back).await?;
        let mut w = writer.await.expect("writer task")?;
        w.shutdown().await?;
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await?;
        back.extend_from_slice(&rest);
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("echo within 60 s")?;
    Ok(back)
}

/// A caller that sends nothing and reads until the end: the bytes it got.
async fn denied_caller(addr: SocketAddr) -> Vec<u8> {
    let mut caller = TcpStream::connect(addr).await.expect("caller connects");
    let mut got = Vec::new();
    tokio::time::timeout(STEP, caller.read_to_end(&mut got))
        .await
        .expect("the denied caller is cut off in time")
        .expect("EOF, not a reset");
    got
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(n as u64);
    (0..n).map(|_| rng.u8(..)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_registers_bridges_16_mib_each_way_and_sigint_closes_the_port() {
    let world = World::start().await;
    let echo = echo_server().await;
    // No --service: found by disco on the account's server.
    let mut client = world.expose(echo, &[]);
    let public = client.registered().await;
    assert_ne!(public.port(), echo.port());

    let data = random_bytes(16 * 1024 * 1024);
    let back = round_trip(public, data.clone()).await;
    assert_eq!(back.len(), data.len(), "every byte came back");
    assert!(back == data, "byte-exact both ways");
    let conn = client.until("connection").await;
    assert!(conn["client"]
        .as_str()
        .expect("client")
        .starts_with("127.0.0.1:"));
    client.until("session-ended").await;

    client.signal("-INT");
    client.until("closed").await;
    assert!(client.exit().await.success(), "SIGINT exits 0");
    let refused = TcpStream::connect(public).await;
    assert!(refused.is_err(), "the port refuses after the close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_outside_allow_is_denied_and_gets_eof_without_a_byte() {
    let world = World::start().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--allow", "10.0.0.0/8"]);
    let public = client.registered().await;
    let got = denied_caller(public).await;
    assert!(got.is_empty(), "no byte reaches a denied caller: {got:?}");
    let denied = client.until("denied").await;
    assert_eq!(denied["reason"], "not-allowed");
    client.signal("-TERM");
    assert!(client.exit().await.success(), "SIGTERM exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_acknowledged_and_exits_0() {
    let world = World::start().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--expire", "2"]);
    let public = client.registered().await;
    client.until("expired").await;
    assert!(client.exit().await.success(), "expiry exits 0");
    assert!(
        TcpStream::connect(public).await.is_err(),
        "the port is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_oneshot_lease_serves_one_caller_then_exits_0() {
    let world = World::start().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--oneshot"]);
    let public = client.registered().await;
    let back = round_trip(public, b"once".to_vec()).await;
    assert_eq!(back, b"once");
    let closed = client.until("closed").await;
    assert_eq!(closed["reason"], "oneshot");
    assert!(client.exit().await.success(), "oneshot exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_exits_4() {
    let world = World::start().await;
    std::fs::write(world.password_file(), "not-the-password").expect("write");
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE]);
    assert_eq!(client.exit().await.code(), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_jid_admits_the_caller_at_the_answered_ip() {
    let world = World::start().await;
    let (_answerer, jid) = world.answer("127.0.0.1").await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--allow-jid", &jid]);
    let public = client.registered().await;
    let back = round_trip(public, b"friend".to_vec()).await;
    assert_eq!(back, b"friend");
    client.until("connection").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_jid_denies_a_caller_at_another_ip() {
    let world = World::start().await;
    let (_answerer, jid) = world.answer("192.0.2.1").await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--allow-jid", &jid]);
    let public = client.registered().await;
    let got = denied_caller(public).await;
    assert!(got.is_empty(), "no byte reaches a denied caller: {got:?}");
    let denied = client.until("denied").await;
    assert_eq!(denied["reason"], "no-matching-answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_survives_an_xmpp_server_restart() {
    let mut world = World::start().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE]);
    let public = client.registered().await;
    assert_eq!(round_trip(public, b"before".to_vec()).await, b"before");

    world.prosody.restart();
    // Both the client and the node log in again (backoff); the same port serves once
    // both are back, so retry the caller for a bounded time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let back = try_round_trip(public, b"after".to_vec()).await;
        if back.as_ref().is_ok_and(|b| b == b"after") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease did not serve again after the restart"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_registers_again_after_an_expiry_and_the_new_port_serves() {
    let world = World::start().await;
    let echo = echo_server().await;
    let mut client = world.expose(echo, &["--service", SERVICE, "--expire", "2", "--keep"]);
    let first = client.registered().await;
    client.until("expired").await;
    let second = client.registered().await;
    assert_eq!(round_trip(second, b"again".to_vec()).await, b"again");
    assert!(
        client.child.try_wait().expect("try_wait").is_none(),
        "--keep stays up after an expiry (first lease was {first})"
    );
    client.signal("-INT");
    assert!(client.exit().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_private_ca_relays_and_an_unknown_ca_exits_5() {
    let mut world = World::start().await;
    let crt = world.install_certificate().await;
    let crt = crt.to_str().expect("UTF-8 path");
    let echo = echo_server().await;

    let mut untrusted = world.expose(echo, &["--service", SERVICE, "--tls", "starttls"]);
    assert_eq!(
        untrusted.exit().await.code(),
        Some(5),
        "an unknown CA is a TLS failure"
    );

    let tls = ["--service", SERVICE, "--tls", "starttls", "--tls-ca", crt];
    let mut client = world.expose(echo, &tls);
    let public = client.registered().await;
    assert_eq!(round_trip(public, b"secret".to_vec()).await, b"secret");
    client.signal("-INT");
    assert!(client.exit().await.success());

    let insecure = ["--service", SERVICE, "--tls", "starttls", "--tls-insecure"];
    let mut client = world.expose(echo, &insecure);
    client.registered().await;
}

/// A one-page HTTP/1.0 server on loopback: answers any request with `body`.
async fn http_server(body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sock = BufReader::new(sock);
                // Headers until the empty line.
                let mut line = String::new();
                while sock.read_line(&mut line).await.unwrap_or(0) > 2 {
                    line.clear();
                }
                let reply = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let mut sock = sock.into_inner();
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_behind_the_client_answers_a_caller() {
    let world = World::start().await;
    let http = http_server("hello through PASS").await;
    let mut client = world.expose(http, &["--service", SERVICE]);
    let public = client.registered().await;
    let mut caller = TcpStream::connect(public).await.expect("caller connects");
    caller
        .write_all(b"GET / HTTP/1.0\r\nHost: example\r\n\r\n")
        .await
        .expect("request");
    let mut response = String::new();
    tokio::time::timeout(STEP, caller.read_to_string(&mut response))
        .await
        .expect("response in time")
        .expect("read");
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n"), "{response:?}");
    assert!(
        response.ends_with("\r\n\r\nhello through PASS"),
        "{response:?}"
    );
}
