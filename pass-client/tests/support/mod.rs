//! What pass-client's end-to-end tests share, whatever the XMPP server: pass-node in
//! process as its component, the `pass-client` binary as a user, and plain TCP
//! services and callers. The including test crate provides the harness modules
//! `client`, `info` and `ports` (from pass-node/tests/prosody, by path).

use crate::client::{Kind, XmppClient};
use crate::info::{ServerInfo, USERS};
use crate::ports;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::oneshot;

/// Bound on a single step.
pub const STEP: Duration = Duration::from_secs(15);

/// pass-node in process as the component of an XMPP server under test, and password
/// files for its users.
pub struct World {
    /// The server and the component domain.
    pub info: ServerInfo,
    stop_node: Option<oneshot::Sender<()>>,
    dir: tempfile::TempDir,
}

impl World {
    /// Starts the node as `info.service` and waits until the server routes to it.
    pub async fn start(info: ServerInfo) -> World {
        World::start_with(info, &[]).await
    }

    /// [`World::start`] with `extra` pass-node flags (the benches lift the call rate).
    pub async fn start_with(info: ServerInfo, extra: &[&str]) -> World {
        // The in-process node's log, shown when a test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("pass_node=debug")
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, &info.secret).expect("secret file");
        std::fs::write(dir.path().join("owner-pw"), USERS[0].1).expect("password file");
        std::fs::write(dir.path().join("other-pw"), USERS[1].1).expect("password file");
        let (first, last) = ports::free_range(8);
        let cli = pass_node::config::Cli::parse_args_from(
            [
                "pass-node".to_owned(),
                "--server".into(),
                info.component.to_string(),
                "--domain".into(),
                info.service.clone(),
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
            ]
            .into_iter()
            .chain(extra.iter().map(|s| s.to_string())),
        )
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
            info,
            stop_node: Some(stop_node),
            dir,
        };
        world.wait_for_component().await;
        world
    }

    /// Until the node is connected, Prosody bounces stanzas for it.
    pub async fn wait_for_component(&self) {
        let (name, pw) = USERS[1];
        let mut other = XmppClient::connect(self.info.c2s, name, &self.info.host, pw).await;
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let query: tokio_xmpp::minidom::Element =
                "<query xmlns='http://jabber.org/protocol/disco#info'/>"
                    .parse()
                    .expect("xml");
            let answer = other.request(&self.info.service, Kind::Get, query).await;
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

    /// A folder for the test's files (kept until the world drops).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// `owner`'s password file.
    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("owner-pw")
    }

    /// The `pass-client` binary as `user` (`owner` or `other`): plain TCP to Prosody,
    /// the user's password file, stdout piped, `args` after the subcommand's.
    pub fn pass_client(&self, user: &str, args: &[&str]) -> (Child, BufReader<ChildStdout>) {
        self.pass_client_via(self.info.c2s, user, args)
    }

    /// [`World::pass_client`] logging in through `server` (a [`Gate`]).
    pub fn pass_client_via(
        &self,
        server: SocketAddr,
        user: &str,
        args: &[&str],
    ) -> (Child, BufReader<ChildStdout>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pass-client"))
            .args(args)
            .args(["--jid", &format!("{user}@localhost")])
            .args(if args.contains(&"--tls") {
                &[][..]
            } else {
                &["--tls", "none"][..]
            })
            .arg("--server")
            .arg(server.to_string())
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
    pub fn expose(&self, local: SocketAddr, extra: &[&str]) -> Exposed {
        self.expose_via(self.info.c2s, local, extra)
    }

    /// [`World::expose`] logging in through `server` (a [`Gate`]).
    pub fn expose_via(&self, server: SocketAddr, local: SocketAddr, extra: &[&str]) -> Exposed {
        let local = local.to_string();
        let mut args = vec!["expose", local.as_str(), "--json"];
        args.extend_from_slice(extra);
        let (child, stdout) = self.pass_client_via(server, "owner", &args);
        Exposed { child, stdout }
    }

    /// `pass-client answer --ip IP` as `other`; the child and the full JID it printed.
    pub async fn answer(&self, ip: &str) -> (Child, String) {
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
pub struct Exposed {
    /// The process.
    pub child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Exposed {
    /// The next JSON event on stdout.
    pub async fn event(&mut self) -> serde_json::Value {
        self.event_within(STEP).await
    }

    /// The next JSON event on stdout, waiting at most `within`.
    pub async fn event_within(&mut self, within: Duration) -> serde_json::Value {
        let mut line = String::new();
        let n = tokio::time::timeout(within, self.stdout.read_line(&mut line))
            .await
            .expect("no event in time")
            .expect("read stdout");
        assert!(n > 0, "pass-client closed its stdout");
        // Shown when the test fails.
        println!("pass-client: {}", line.trim_end());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
    }

    /// Events until one named `name`.
    pub async fn until(&mut self, name: &str) -> serde_json::Value {
        loop {
            let ev = self.event().await;
            if ev["event"] == name {
                return ev;
            }
        }
    }

    /// The public address from the `registered` event.
    pub async fn registered(&mut self) -> SocketAddr {
        let ev = self.until("registered").await;
        let ip = ev["ip"].as_str().expect("ip");
        let port = ev["port"].as_u64().expect("port");
        format!("{ip}:{port}").parse().expect("address")
    }

    pub async fn exit(&mut self) -> ExitStatus {
        tokio::time::timeout(STEP, self.child.wait())
            .await
            .expect("pass-client did not exit in time")
            .expect("wait")
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        assert!(ok.success());
    }
}

/// An echo server on loopback: each connection's bytes back, EOF carried.
pub async fn echo_server() -> SocketAddr {
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
pub async fn round_trip(addr: SocketAddr, data: Vec<u8>) -> Vec<u8> {
    try_round_trip(addr, data).await.expect("round trip")
}

/// [`round_trip`], with the caller's I/O errors returned. The caller half-closes once
/// its bytes are back (a caller's EOF before it is bridged may count as hanging up),
/// and then the echo's EOF must come back through the bridge.
pub async fn try_round_trip(addr: SocketAddr, data: Vec<u8>) -> std::io::Result<Vec<u8>> {
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
pub async fn denied_caller(addr: SocketAddr) -> Vec<u8> {
    let mut caller = TcpStream::connect(addr).await.expect("caller connects");
    let mut got = Vec::new();
    tokio::time::timeout(STEP, caller.read_to_end(&mut got))
        .await
        .expect("the denied caller is cut off in time")
        .expect("EOF, not a reset");
    got
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(n as u64);
    (0..n).map(|_| rng.u8(..)).collect()
}

/// A one-page HTTP/1.0 server on loopback: answers any request with `body`.
pub async fn http_server(body: &'static str) -> SocketAddr {
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

/// A TCP forwarder to the XMPP server's c2s port that a test can shut: shut, it
/// cuts every connection through it and hangs up on new ones at once, so that a
/// client stays offline while the server and its component are up.
pub struct Gate {
    /// Where clients connect.
    pub addr: SocketAddr,
    open: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Gate {
    /// An open gate to `upstream`.
    pub async fn to(upstream: SocketAddr) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let open = std::sync::Arc::new(tokio::sync::watch::Sender::new(true));
        let state = open.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut rx = state.subscribe();
                if !*rx.borrow_and_update() {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Gate { addr, open }
    }

    /// Cuts every connection and refuses new ones.
    pub fn shut(&self) {
        self.open.send_replace(false);
    }

    /// Lets connections through again.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}
