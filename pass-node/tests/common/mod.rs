//! Test harness: an in-test XEP-0114 server on 127.0.0.1 (port 0) built on
//! pass-core's framer and its server side of the opening
//! ([`pass_core::component::ServerHandshake`]), which lets a test play XMPP users
//! on the component stream; plus helpers to start a node in-process.
#![allow(dead_code)]

mod server_end;

use pass_core::component::ServerHandshake;
use pass_core::stanza::{Iq, IqType, PassMessage};
use pass_core::xml::{Limits, StreamEvent, StreamFramer, STREAM_CLOSE};
use pass_node::config::{NodeConfig, RelayMode};
use pass_node::NodeError;
pub use server_end::{serve_opening, HandshakeOutcome, ServerEnd};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The component name every test uses.
pub const DOMAIN: &str = "pass.example";
/// The shared secret every test uses.
pub const SECRET: &str = "s3cret";
/// A generous bound for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(10);

/// An XEP-0114 server side.
pub struct FakeServer {
    listener: TcpListener,
    /// Where the node connects.
    pub addr: SocketAddr,
    secret: String,
}

impl FakeServer {
    /// Binds 127.0.0.1 on a free port.
    pub async fn bind(secret: &str) -> FakeServer {
        Self::bind_at("127.0.0.1:0".parse().unwrap(), secret).await
    }

    /// Binds a given address (to come back on the same port after going away).
    pub async fn bind_at(addr: SocketAddr, secret: &str) -> FakeServer {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        FakeServer {
            listener,
            addr,
            secret: secret.to_string(),
        }
    }

    /// Accepts the node's connection and does the handshake; panics on timeout.
    pub async fn accept(&self) -> (Session, HandshakeOutcome) {
        let mut s = self.accept_connection().await;
        let outcome = s.handshake(&self.secret).await;
        (s, outcome)
    }

    /// Accepts the node's connection, nothing read yet; panics on timeout.
    pub async fn accept_connection(&self) -> Session {
        let (stream, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("the node did not connect in time")
            .unwrap();
        let (reader, writer) = stream.into_split();
        Session {
            reader,
            writer,
            framer: StreamFramer::new(Limits::default()),
        }
    }

    /// Accepts and asserts the handshake succeeded.
    pub async fn accept_ok(&self) -> Session {
        let (s, outcome) = self.accept().await;
        assert_eq!(outcome, HandshakeOutcome::Accepted);
        s
    }
}

/// One component stream, seen from the server.
pub struct Session {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    framer: StreamFramer,
}

impl Session {
    /// Plays the server's side of the opening with a fresh stream id: checks the
    /// node's header (namespace, `to` = [`DOMAIN`]) and its digest for `secret`,
    /// answers `<handshake/>` or `not-authorized`. Panics on anything else.
    pub async fn handshake(&mut self, secret: &str) -> HandshakeOutcome {
        let id = format!("id{}", fastrand::u32(..));
        serve_opening(self, ServerHandshake::new(DOMAIN, secret, &id)).await
    }

    /// Writes raw XML.
    pub async fn send_raw(&mut self, xml: &str) {
        self.writer.write_all(xml.as_bytes()).await.unwrap();
    }

    /// Writes bytes; `false` once the node no longer takes them (it cut the stream).
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        matches!(
            tokio::time::timeout(WAIT, self.writer.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// Closes the stream as a server going away would.
    pub async fn close(mut self) {
        let _ = self.writer.write_all(STREAM_CLOSE.as_bytes()).await;
        let _ = self.writer.shutdown().await;
    }

    /// The next framer event; panics on timeout, EOF or bad XML.
    pub async fn next_event(&mut self) -> StreamEvent {
        self.try_next_event(WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next framer event, or why there is none.
    pub async fn try_next_event(&mut self, wait: Duration) -> Result<StreamEvent, String> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = [0u8; 8192];
        loop {
            if let Some(ev) = self.framer.next_event() {
                return ev.map_err(|e| format!("bad XML from node: {e}"));
            }
            let n = tokio::time::timeout_at(deadline, self.reader.read(&mut buf))
                .await
                .map_err(|_| "timed out waiting for the node".to_string())?
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("node closed the connection".to_string());
            }
            self.framer.feed(&buf[..n]);
        }
    }

    /// The next IQ from the node.
    pub async fn next_iq(&mut self) -> Iq {
        match self.next_event().await {
            StreamEvent::Stanza(e) => Iq::try_from(&e).expect("node sent a valid IQ"),
            other => panic!("expected a stanza, got {other:?}"),
        }
    }

    /// Sends an IQ from `from` to the component.
    pub async fn send_iq(&mut self, from: &str, id: &str, kind: &str, payload: &str) {
        let xml = format!("<iq type='{kind}' id='{id}' from='{from}' to='{DOMAIN}'>{payload}</iq>");
        self.send_raw(&xml).await;
    }

    /// Registers a lease for `from`; returns the IQ answer.
    pub async fn register_raw(&mut self, from: &str, id: &str, controls: &str) -> Iq {
        self.send_iq(
            from,
            id,
            "set",
            &format!("<query xmlns='jabber:iq:pass'>{controls}</query>"),
        )
        .await;
        let iq = self.next_iq().await;
        assert_eq!(iq.id, id, "answer to another request: {iq:?}");
        iq
    }

    /// Registers a lease for `from` and returns its address.
    pub async fn register(&mut self, from: &str, controls: &str) -> SocketAddr {
        let id = format!("reg{}", fastrand::u32(..));
        let iq = self.register_raw(from, &id, controls).await;
        assert_eq!(iq.kind, IqType::Result, "register answer: {iq:?}");
        match PassMessage::from_iq(&iq).expect("registered result parses") {
            PassMessage::Registered { servers } => servers[0],
            other => panic!("expected Registered, got {other:?}"),
        }
    }

    /// Waits for an incoming-connection notice; returns (iq, client, proxy).
    pub async fn expect_incoming(&mut self) -> (Iq, SocketAddr, SocketAddr) {
        let iq = self.next_iq().await;
        assert_eq!(iq.kind, IqType::Set, "{iq:?}");
        match PassMessage::from_iq(&iq).expect("notice parses") {
            PassMessage::IncomingConnection { client, proxy } => (iq, client, proxy),
            other => panic!("expected an incoming-connection notice, got {other:?}"),
        }
    }

    /// Answers a request from the node with an empty result.
    pub async fn ack(&mut self, request: &Iq) {
        let to = request
            .to
            .as_ref()
            .map(|j| j.to_string())
            .unwrap_or_default();
        let xml = format!(
            "<iq type='result' id='{}' from='{to}' to='{DOMAIN}'><query xmlns='jabber:iq:pass'/></iq>",
            request.id
        );
        self.send_raw(&xml).await;
    }
}

impl ServerEnd for Session {
    async fn next_event(&mut self) -> StreamEvent {
        Session::next_event(self).await
    }

    async fn send(&mut self, xml: &str) {
        self.send_raw(xml).await;
    }
}

/// A node running in-process.
pub struct Node {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), NodeError>>,
}

impl Node {
    /// Asks it to shut down and waits for the result.
    pub async fn stop(mut self) -> Result<(), NodeError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .expect("node did not stop in time")
            .expect("node task panicked")
    }

    /// Waits for the node to end by itself.
    pub async fn join(mut self) -> Result<(), NodeError> {
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("node did not end in time")
            .expect("node task panicked")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port pool of 20 ports no other node of this test process uses, below Linux's
/// ephemeral range (32768–60999) so that no outgoing connection holds one.
pub fn port_pool() -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slot = NEXT.fetch_add(1, Ordering::Relaxed) % 30;
    let base = 20000 + (std::process::id() % 20) as u16 * 600 + slot * 20;
    (base, base + 19)
}

/// A config for a node talking to `server`, loopback only, small timeouts.
pub fn config(server: SocketAddr) -> NodeConfig {
    let mut c = NodeConfig::new(&server.to_string(), DOMAIN, SECRET).unwrap();
    let (first, last) = port_pool();
    c.core.first_port = first;
    c.core.last_port = last;
    c.backoff.initial = Duration::from_millis(50);
    c.backoff.max = Duration::from_millis(400);
    c.drain_timeout = Duration::from_secs(2);
    c.relay.mode = RelayMode::Auto;
    c
}

/// Starts a node in-process.
pub fn start(config: NodeConfig) -> Node {
    // Logs for debugging a test: PASS_TEST_LOG=debug cargo test -- --nocapture
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PASS_TEST_LOG"))
        .with_test_writer()
        .try_init();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(pass_node::run(config, async {
        let _ = rx.await;
    }));
    Node {
        stop: Some(tx),
        task,
    }
}

/// A fake server and a node connected to it, handshake done.
pub async fn node_with(tweak: impl FnOnce(&mut NodeConfig)) -> (FakeServer, Session, Node) {
    let server = FakeServer::bind(SECRET).await;
    let mut c = config(server.addr);
    tweak(&mut c);
    let node = start(c);
    let session = server.accept_ok().await;
    (server, session, node)
}

/// Random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    fastrand::fill(&mut v);
    v
}

/// Connects to `addr`, with a timeout.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect failed")
}

/// Connects to a proxy port, retrying briefly: it listens once the notice is out,
/// and the owner's accept (result) may still be on its way to the node.
pub async fn connect_proxy(proxy: SocketAddr) -> TcpStream {
    for _ in 0..50 {
        if let Ok(s) = TcpStream::connect(proxy).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("proxy port {proxy} never accepted");
}

/// Reads until EOF (or error), with a timeout; returns what was read and whether it
/// ended in a clean EOF.
pub async fn read_to_end(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let r = tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("read_to_end timed out");
    (out, r.is_ok())
}

/// Whether the peer closed `s` (EOF or reset) within the wait; fails on data.
pub async fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => false,
        Err(_) => false,
    }
}
