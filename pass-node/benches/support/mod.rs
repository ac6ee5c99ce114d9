//! What the node benchmarks share: the `pass-node` binary as a child process, and a
//! minimal XEP-0114 server on pass-core's framer that also plays the lease owner
//! (an XMPP server routing for its users, collapsed into one process).
#![allow(dead_code)] // each bench binary uses a different part

mod measure;
#[path = "../../tests/common/server_end.rs"]
mod server_end;

// Each bench binary uses a different part.
#[allow(unused_imports)]
pub use measure::{env_u64, gbit_per_s, machine, pump, quantile, CHUNK};

use pass_core::component::ServerHandshake;
use pass_core::ns;
use pass_core::xml::{Element, Limits, StreamEvent, StreamFramer};
use server_end::{serve_opening, HandshakeOutcome, ServerEnd};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;

/// The component name used by every bench.
pub const DOMAIN: &str = "pass.bench";
/// The shared secret of every bench.
const SECRET: &str = "bench-secret";
/// The owner notices are answered for when an IQ lacks `to`.
const OWNER: &str = "owner@bench/res";
/// Bound on any single wait.
pub const WAIT: Duration = Duration::from_secs(20);

/// `pass-node` as a child process; killed when dropped.
pub struct NodeProcess {
    child: Child,
}

impl NodeProcess {
    /// Starts the release binary against `server`, loopback only, no metrics port.
    pub fn spawn(server: SocketAddr, ports: (u16, u16), extra: &[&str]) -> NodeProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_pass-node"))
            .args(["--server", &server.to_string(), "--domain", DOMAIN])
            .args(["--public-ip", "127.0.0.1", "--bind", "127.0.0.1"])
            .args(["--ports", &format!("{}-{}", ports.0, ports.1)])
            .args(["--metrics", "off", "--log-level", "warn"])
            .args(extra)
            .env("PASS_NODE_SECRET", SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its warnings (the stream going down at exit) would clutter the report.
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pass-node");
        NodeProcess { child }
    }

    /// The process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS line")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server side of the node's component stream.
pub struct Link {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    framer: StreamFramer,
    buf: Vec<u8>,
    next_id: u64,
}

impl Link {
    /// Listens on 127.0.0.1, returns the address and a future accepting the node.
    pub async fn listen() -> (SocketAddr, TcpListener) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        (l.local_addr().expect("addr"), l)
    }

    /// Accepts the node and completes the XEP-0114 handshake.
    pub async fn accept(listener: &TcpListener) -> Link {
        let (stream, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("node did not connect")
            .expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let (reader, writer) = stream.into_split();
        let mut link = Link {
            reader,
            writer,
            framer: StreamFramer::new(Limits::default()),
            buf: vec![0; 64 * 1024],
            next_id: 0,
        };
        let opening = ServerHandshake::new(DOMAIN, SECRET, "bench-stream");
        let outcome = serve_opening(&mut link, opening).await;
        assert_eq!(
            outcome,
            HandshakeOutcome::Accepted,
            "the node's handshake digest"
        );
        link
    }

    /// Writes raw XML.
    pub async fn send(&mut self, xml: &str) {
        self.writer.write_all(xml.as_bytes()).await.expect("write");
    }

    async fn next_event(&mut self) -> StreamEvent {
        loop {
            if let Some(ev) = self.framer.next_event() {
                return ev.expect("node sent bad XML");
            }
            let n = tokio::time::timeout(WAIT, self.reader.read(&mut self.buf))
                .await
                .expect("node silent")
                .expect("read");
            assert!(n > 0, "node closed the component stream");
            self.framer.feed(&self.buf[..n]);
        }
    }

    /// The next stanza from the node.
    pub async fn next_stanza(&mut self) -> Element {
        match self.next_event().await {
            StreamEvent::Stanza(e) => e,
            other => panic!("expected a stanza, got {other:?}"),
        }
    }

    /// Sends a register IQ from `owner` (a full JID); returns its id. The node limits
    /// IQs per account (20 at once, then 10 a second), so benches spread leases over
    /// accounts, as real users would be.
    pub async fn send_register(&mut self, owner: &str, controls: &str) -> String {
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        let xml = format!(
            "<iq type='set' id='{id}' from='{owner}' to='{DOMAIN}'>\
             <query xmlns='{}'>{controls}</query></iq>",
            ns::PASS
        );
        self.send(&xml).await;
        id
    }

    /// Registers a lease for `owner` and returns its address.
    pub async fn register(&mut self, owner: &str, controls: &str) -> SocketAddr {
        let id = self.send_register(owner, controls).await;
        loop {
            let e = self.next_stanza().await;
            if e.attr("id") == Some(id.as_str()) {
                return registered_addr(&e);
            }
            self.answer_notice(&e).await;
        }
    }

    /// Waits for an incoming-connection notice, accepts it, returns the proxy address.
    /// Other notices (oneshot, expire) are acknowledged on the way.
    pub async fn accept_incoming(&mut self) -> SocketAddr {
        loop {
            let e = self.next_stanza().await;
            let query = e.get_child("query", ns::PASS);
            let proxy = query.and_then(|q| entity(q, "proxy"));
            let is_incoming = query.is_some_and(|q| q.get_child("client", ns::PASS).is_some());
            self.answer_notice(&e).await;
            if let (true, Some(proxy)) = (is_incoming, proxy) {
                return proxy;
            }
        }
    }

    /// Answers an IQ set from the node with an empty result.
    async fn answer_notice(&mut self, e: &Element) {
        if e.attr("type") != Some("set") {
            return;
        }
        let id = e.attr("id").unwrap_or_default().to_owned();
        let to = e.attr("to").unwrap_or(OWNER).to_owned();
        let xml = format!(
            "<iq type='result' id='{id}' from='{to}' to='{DOMAIN}'><query xmlns='{}'/></iq>",
            ns::PASS
        );
        self.send(&xml).await;
    }
}

impl ServerEnd for Link {
    async fn next_event(&mut self) -> StreamEvent {
        Link::next_event(self).await
    }

    async fn send(&mut self, xml: &str) {
        Link::send(self, xml).await;
    }
}

/// `<name port='P'>IP</name>` inside `query`.
fn entity(query: &Element, name: &str) -> Option<SocketAddr> {
    let e = query.get_child(name, ns::PASS)?;
    let ip: IpAddr = e.text().trim().parse().ok()?;
    let port: u16 = e.attr("port")?.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// The `<server/>` address of a register result; panics on an error answer.
pub fn registered_addr(iq: &Element) -> SocketAddr {
    assert_eq!(iq.attr("type"), Some("result"), "register failed: {iq:?}");
    iq.get_child("query", ns::PASS)
        .and_then(|q| entity(q, "server"))
        .unwrap_or_else(|| panic!("no <server/> in {iq:?}"))
}

/// `len` consecutive ports below Linux's ephemeral range (32768+), all free on
/// 127.0.0.1 now. A busy port restarts the search just after it.
pub fn free_range(len: u16) -> (u16, u16) {
    const FLOOR: u32 = 10_000;
    const CEILING: u32 = 32_768;
    let len32 = u32::from(len);
    let mut first = FLOOR;
    let mut p = first;
    while first + len32 <= CEILING {
        if p == first + len32 {
            let first = u16::try_from(first).expect("below 32768");
            return (first, first + len - 1);
        }
        let port = u16::try_from(p).expect("below 32768");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            first = p + 1;
        }
        p += 1;
    }
    panic!("no {len} free consecutive ports in {FLOOR}-{CEILING}");
}
