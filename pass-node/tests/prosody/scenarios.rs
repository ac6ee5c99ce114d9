//! The end-to-end scenarios, run against any XMPP server that has [`USERS`] and
//! accepts the node as a component ([`ServerInfo`]): pass-node as a child process,
//! both users logged in over c2s, third parties as plain TCP sockets. Every wait is
//! bounded. Errors are checked by their RFC 6120 condition and type (the client
//! library drops the legacy `code` attribute; the conformance suite checks codes).

use pass_core::ns;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::client::{Kind, XmppClient};
use crate::node::{Node, NodeSettings};
use crate::ports;

pub(crate) const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Bound on any single step (a notice, a connection, an EOF).
pub(crate) const STEP: Duration = Duration::from_secs(10);
/// Bound on a whole scenario.
const SCENARIO: Duration = Duration::from_secs(50);

pub use crate::info::{ServerInfo, USERS};

/// pass-node (as the server's component) and the two logged-in users. The server
/// itself is owned by the caller.
pub struct Fixture {
    owner: XmppClient,
    other: XmppClient,
    service: String,
    pool: (u16, u16),
    node: Node,
}

impl Fixture {
    /// Starts the node with a pool of `pool_len` ports and extra flags, logs the
    /// users in, and waits until the node answers disco#info through the server.
    async fn start(server: &ServerInfo, pool_len: u16, extra: &[&str]) -> Fixture {
        let pool = ports::free_range(pool_len);
        let node = Node::start(&NodeSettings {
            domain: server.service.clone(),
            secret: server.secret.clone(),
            server: server.component,
            ports: pool,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        });
        let [(owner_name, owner_pw), (other_name, other_pw)] = USERS;
        let owner = XmppClient::connect(server.c2s, owner_name, &server.host, owner_pw).await;
        let other = XmppClient::connect(server.c2s, other_name, &server.host, other_pw).await;
        let mut f = Fixture {
            owner,
            other,
            service: server.service.clone(),
            pool,
            node,
        };
        f.wait_for_component().await;
        f
    }

    /// Until the node is connected the server bounces stanzas for it; poll disco#info.
    async fn wait_for_component(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            self.node.assert_running();
            let query = xml(&format!("<query xmlns='{}'/>", ns::DISCO_INFO));
            match self.owner.request(&self.service, Kind::Get, query).await {
                Iq::Result {
                    payload: Some(p), ..
                } => {
                    let has_pass = p
                        .children()
                        .any(|c| c.name() == "feature" && c.attr("var") == Some(ns::PASS));
                    assert!(
                        has_pass,
                        "disco#info lacks the jabber:iq:pass feature: {p:?}"
                    );
                    return;
                }
                other => assert!(
                    Instant::now() < deadline,
                    "pass-node did not come up as {}; last answer {other:?}\n{}",
                    self.service,
                    self.node.logs()
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn in_pool(&self, port: u16) -> bool {
        (self.pool.0..=self.pool.1).contains(&port)
    }
}

/// Parses an XML literal (test data).
pub(crate) fn xml(s: &str) -> Element {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test XML {s}: {e}"))
}

pub(crate) fn pass_query(inner: &str) -> Element {
    xml(&format!("<query xmlns='{}'>{inner}</query>", ns::PASS))
}

/// `<name port='P'>IP</name>` inside `query` as an address.
pub(crate) fn entity(query: &Element, name: &str) -> SocketAddr {
    let e = query
        .get_child(name, ns::PASS)
        .unwrap_or_else(|| panic!("no <{name}/> in {query:?}"));
    let ip: IpAddr = e.text().trim().parse().expect("entity IP");
    let port: u16 = e
        .attr("port")
        .expect("port attribute")
        .parse()
        .expect("port");
    SocketAddr::new(ip, port)
}

/// The payload of a `set` from the service, checked to be a PASS query.
pub(crate) fn service_set<'a>(service: &str, iq: &'a Iq) -> &'a Element {
    match iq {
        Iq::Set { from, payload, .. } => {
            assert_eq!(
                from.as_ref().map(|j| j.to_string()).as_deref(),
                Some(service)
            );
            assert!(
                payload.is("query", ns::PASS),
                "not a PASS query: {payload:?}"
            );
            payload
        }
        other => panic!("expected a set from the service, got {other:?}"),
    }
}

fn expect_error(iq: &Iq, condition: DefinedCondition, kind: ErrorType, what: &str) {
    match iq {
        Iq::Error { error, .. } => {
            assert_eq!(error.defined_condition, condition, "{what}: {error:?}");
            assert_eq!(error.type_, kind, "{what}: {error:?}");
        }
        other => panic!("{what}: expected an error, got {other:?}"),
    }
}

/// §2: registers a lease; returns the advertised address.
async fn register(f: &mut Fixture, controls: &str) -> SocketAddr {
    match f
        .owner
        .request(&f.service, Kind::Set, pass_query(controls))
        .await
    {
        Iq::Result {
            payload: Some(p), ..
        } => {
            let server = entity(&p, "server");
            assert_eq!(server.ip(), LOOPBACK, "advertised IP");
            assert!(
                f.in_pool(server.port()),
                "{server} outside the pool {:?}",
                f.pool
            );
            server
        }
        other => panic!("register {controls:?} failed: {other:?}"),
    }
}

/// §4.3: the owner (or `other`) closes `proxy_xml`'s lease.
async fn close(c: &mut XmppClient, service: &str, proxy_xml: &str) -> Iq {
    c.request(
        service,
        Kind::Set,
        pass_query(&format!("<close/>{proxy_xml}")),
    )
    .await
}

fn proxy_xml(ip: &str, port: u16) -> String {
    format!("<proxy port='{port}'>{ip}</proxy>")
}

pub(crate) async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(STEP, TcpStream::connect(addr))
        .await
        .unwrap_or_else(|_| panic!("connect {addr} timed out"))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}

/// Connects, retrying for a bounded time (a port re-listens a moment after a relay).
async fn connect_eventually(addr: SocketAddr) -> TcpStream {
    let deadline = Instant::now() + STEP;
    loop {
        match TcpStream::connect(addr).await {
            Ok(s) => return s,
            Err(e) => assert!(Instant::now() < deadline, "{addr} never accepted: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The port stops accepting connections within a bounded time.
async fn assert_closed(addr: SocketAddr) {
    let deadline = Instant::now() + STEP;
    loop {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
            Err(e) => panic!("connect {addr}: unexpected {e}"),
            Ok(_) => assert!(
                Instant::now() < deadline,
                "{addr} still accepts connections"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The peer closes: a read returns EOF (or a reset) within a bounded time.
async fn assert_hung_up(sock: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(STEP, sock.read(&mut buf)).await {
        Err(_) => panic!("{what}: still open after {STEP:?}"),
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!("{what}: unexpected {n} bytes"),
    }
}

/// A third party connects and the owner gets the §3 notice for it. A lease whose
/// previous session has ended on the wire but not yet in the node drops a new
/// connection unannounced (one session at a time, DESIGN decision 2): then connect again,
/// within [`STEP`]. A late notice for an abandoned attempt is refused.
async fn incoming_notice(f: &mut Fixture, server: SocketAddr) -> (TcpStream, Iq) {
    let deadline = Instant::now() + STEP;
    loop {
        let third = connect_eventually(server).await;
        let me = third.local_addr().expect("local addr");
        let attempt_end = Instant::now() + Duration::from_secs(1);
        while let Some(notice) = f
            .owner
            .next_request(attempt_end.saturating_duration_since(Instant::now()))
            .await
        {
            if entity(service_set(&f.service, &notice), "client") == me {
                return (third, notice);
            }
            let gone = StanzaError::new(
                ErrorType::Cancel,
                DefinedCondition::ItemNotFound,
                "en",
                "gone",
            );
            f.owner.reply_error(&notice, None, gone);
        }
        assert!(
            Instant::now() < deadline,
            "no notice for a connection to {server} within {STEP:?}"
        );
    }
}

/// A third party connects to the lease; the owner gets the §3 notice, checks it and
/// accepts. Returns the third party's socket, the owner's socket on the proxy port.
async fn incoming_accepted(f: &mut Fixture, server: SocketAddr) -> (TcpStream, TcpStream) {
    let (third, notice) = incoming_notice(f, server).await;
    let query = service_set(&f.service, &notice);
    let client = entity(query, "client");
    let proxy = entity(query, "proxy");
    assert_eq!(
        client,
        third.local_addr().expect("local addr"),
        "<client/> is the third party"
    );
    assert_eq!(proxy.ip(), LOOPBACK, "proxy IP");
    assert!(f.in_pool(proxy.port()), "proxy {proxy} outside the pool");
    assert_ne!(proxy.port(), server.port(), "proxy port is a fresh port");
    f.owner.reply_result(&notice, Some(pass_query("")));
    let owner_sock = connect(proxy).await;
    (third, owner_sock)
}

/// Sends `a` from one side and `b` from the other at once; each side must read
/// exactly what the other sent.
pub(crate) async fn relay_both_ways(x: &mut TcpStream, y: &mut TcpStream, a: &[u8], b: &[u8]) {
    let (mut xr, mut xw) = x.split();
    let (mut yr, mut yw) = y.split();
    let mut from_y = vec![0u8; b.len()];
    let mut from_x = vec![0u8; a.len()];
    let work = async {
        tokio::try_join!(
            xw.write_all(a),
            yw.write_all(b),
            xr.read_exact(&mut from_y),
            yr.read_exact(&mut from_x),
        )
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("relay timed out")
        .expect("relay I/O");
    assert!(from_x == a, "bytes x→y differ");
    assert!(from_y == b, "bytes y→x differ");
}

pub(crate) fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Runs a scenario under [`SCENARIO`]'s bound.
pub async fn bounded<F: std::future::Future<Output = ()>>(scenario: F) {
    tokio::time::timeout(SCENARIO, scenario)
        .await
        .expect("scenario exceeded its time bound");
}

/// register → a third party connects → notice → accept → the owner connects to the
/// proxy port → 10 MiB each way, byte-exact → disconnects propagate both ways.
pub async fn register_incoming_accept_relay_and_disconnect(server: &ServerInfo, relay_mode: &str) {
    let mut f = Fixture::start(server, 8, &["--relay-mode", relay_mode]).await;
    let server = register(&mut f, "<expire>600</expire>").await;

    let (mut third, mut owner) = incoming_accepted(&mut f, server).await;
    let a = random_bytes(10 << 20, 1);
    let b = random_bytes(10 << 20, 2);
    relay_both_ways(&mut third, &mut owner, &a, &b).await;
    // The third party hangs up: the node hangs up on the owner.
    drop(third);
    assert_hung_up(&mut owner, "owner after third party left").await;
    // The node propagates the close as a half-close (FIN); the relay ends when the
    // owner closes its side too, as any client does on EOF.
    drop(owner);

    // The lease outlives the relay (DESIGN decision 2): a second session, ended by the owner.
    let (mut third, mut owner) = incoming_accepted(&mut f, server).await;
    relay_both_ways(&mut third, &mut owner, b"hello", b"world").await;
    drop(owner);
    assert_hung_up(&mut third, "third party after owner left").await;
}

pub async fn owner_denies_incoming_connection(server: &ServerInfo) {
    let mut f = Fixture::start(server, 4, &[]).await;
    let server = register(&mut f, "").await;
    let (mut third, notice) = incoming_notice(&mut f, server).await;
    let echoed = service_set(&f.service, &notice).clone();
    // §5.2: deny with an error echoing the query.
    let deny = StanzaError::new(
        ErrorType::Auth,
        DefinedCondition::NotAuthorized,
        "en",
        "Unauthorized",
    );
    f.owner.reply_error(&notice, Some(echoed), deny);
    assert_hung_up(&mut third, "denied third party").await;

    // A denial does not end the lease (DESIGN decision 2): the port listens again.
    let (_third, again) = incoming_notice(&mut f, server).await;
    service_set(&f.service, &again);
}

/// DESIGN decisions 100 and 94 against a real server: the owner logs off, a caller
/// comes, the server bounces the notice to the gone full JID, the caller is dropped,
/// and the node ends the lease when its reconnect grace (2 s here) runs out.
pub async fn owner_gone_ends_the_lease(server: &ServerInfo) {
    let f = Fixture::start(server, 4, &["--reconnect-grace", "2"]).await;
    let Fixture {
        mut owner,
        service,
        node,
        ..
    } = f;
    let lease = match owner.request(&service, Kind::Set, pass_query("")).await {
        Iq::Result {
            payload: Some(p), ..
        } => entity(&p, "server"),
        other => panic!("register: {other:?}"),
    };
    // The owner's session ends (its connection closes); give the server a moment
    // to notice.
    drop(owner);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut third = connect_eventually(lease).await;
    assert_hung_up(&mut third, "caller of a gone owner").await;
    assert_closed(lease).await;
    let logs = node.logs();
    assert!(
        logs.contains("lease ended: its owner is gone"),
        "no INFO line for the ended lease:\n{logs}"
    );
}

pub async fn expire_notice_closes_the_port(server: &ServerInfo) {
    let mut f = Fixture::start(server, 4, &[]).await;
    let started = Instant::now();
    let server = register(&mut f, "<expire>2</expire>").await;
    let notice = f.owner.expect_request(STEP, "expire notice").await;
    let query = service_set(&f.service, &notice);
    assert!(started.elapsed() >= Duration::from_secs(1), "expired early");
    assert!(
        query.get_child("expire", ns::PASS).is_some(),
        "<expire/> in {query:?}"
    );
    assert!(
        query.get_child("close", ns::PASS).is_some(),
        "<close/> in {query:?}"
    );
    assert_eq!(entity(query, "proxy"), server, "notice names the lease");
    f.owner.reply_result(&notice, Some(pass_query("")));
    assert_closed(server).await;
}

pub async fn oneshot_notice_after_one_relay(server: &ServerInfo) {
    let mut f = Fixture::start(server, 4, &[]).await;
    let server = register(&mut f, "<oneshot/>").await;
    let (mut third, mut owner) = incoming_accepted(&mut f, server).await;
    relay_both_ways(&mut third, &mut owner, b"one", b"shot").await;
    drop(third);
    assert_hung_up(&mut owner, "owner after the oneshot relay").await;
    drop(owner);
    let notice = f.owner.expect_request(STEP, "oneshot notice").await;
    let query = service_set(&f.service, &notice);
    assert!(
        query.get_child("oneshot", ns::PASS).is_some(),
        "<oneshot/> in {query:?}"
    );
    assert!(
        query.get_child("close", ns::PASS).is_some(),
        "<close/> in {query:?}"
    );
    assert_eq!(entity(query, "proxy"), server, "notice names the lease");
    f.owner.reply_result(&notice, Some(pass_query("")));
    assert_closed(server).await;
}

pub async fn close_and_its_four_errors(server: &ServerInfo) {
    let mut f = Fixture::start(server, 4, &[]).await;
    let server = register(&mut f, "").await;
    let port = server.port();

    let r = close(&mut f.owner, &f.service, "").await;
    expect_error(
        &r,
        DefinedCondition::BadRequest,
        ErrorType::Modify,
        "400 close without <proxy/>",
    );

    let r = close(&mut f.other, &f.service, &proxy_xml("127.0.0.1", port)).await;
    expect_error(
        &r,
        DefinedCondition::NotAuthorized,
        ErrorType::Auth,
        "401 close by another JID",
    );

    let unleased = (f.pool.0..=f.pool.1)
        .find(|p| *p != port)
        .expect("a second pool port");
    let r = close(&mut f.owner, &f.service, &proxy_xml("127.0.0.1", unleased)).await;
    expect_error(
        &r,
        DefinedCondition::ItemNotFound,
        ErrorType::Cancel,
        "404 port not leased",
    );

    // 192.0.2.1 is TEST-NET-1: only written in the stanza, never contacted.
    let r = close(&mut f.owner, &f.service, &proxy_xml("192.0.2.1", port)).await;
    expect_error(
        &r,
        DefinedCondition::NotAllowed,
        ErrorType::Cancel,
        "405 proxy IP mismatch",
    );

    // The errors left the lease alone: it still listens, and the owner closes it.
    let (third, notice) = incoming_notice(&mut f, server).await;
    drop(third);
    f.owner.reply_error(
        &notice,
        None,
        StanzaError::new(
            ErrorType::Auth,
            DefinedCondition::NotAuthorized,
            "en",
            "not now",
        ),
    );
    let r = close(&mut f.owner, &f.service, &proxy_xml("127.0.0.1", port)).await;
    assert!(matches!(r, Iq::Result { .. }), "close: {r:?}");
    assert_closed(server).await;
    let r = close(&mut f.owner, &f.service, &proxy_xml("127.0.0.1", port)).await;
    expect_error(
        &r,
        DefinedCondition::ItemNotFound,
        ErrorType::Cancel,
        "404 after close",
    );
}

pub async fn exhausted_pool_gets_502(server: &ServerInfo) {
    let mut f = Fixture::start(server, 1, &[]).await;
    let server = register(&mut f, "").await;
    let r = f.other.request(&f.service, Kind::Set, pass_query("")).await;
    expect_error(
        &r,
        DefinedCondition::ServiceUnavailable,
        ErrorType::Wait,
        "502 no ports",
    );
    // Closing frees the port for the next registration.
    let r = close(
        &mut f.owner,
        &f.service,
        &proxy_xml("127.0.0.1", server.port()),
    )
    .await;
    assert!(matches!(r, Iq::Result { .. }), "close: {r:?}");
    // Wait until the listener is really gone: a register racing the node's
    // unlisten can find the port still bound (then quarantined, and a 502).
    assert_closed(server).await;
    let r = f.other.request(&f.service, Kind::Set, pass_query("")).await;
    assert!(
        matches!(r, Iq::Result { .. }),
        "register after close: {r:?}"
    );
}

/// A node given the wrong secret is refused by the server (`<not-authorized/>`)
/// and exits with code 3 (authentication refused) instead of retrying forever.
pub async fn wrong_secret_is_refused(server: &ServerInfo) {
    let mut node = Node::start(&NodeSettings {
        domain: server.service.clone(),
        secret: format!("not-{}", server.secret),
        server: server.component,
        ports: ports::free_range(2),
        extra: Vec::new(),
    });
    let status = tokio::task::block_in_place(|| node.wait_exit(STEP));
    let status = status.unwrap_or_else(|| panic!("node still running after {STEP:?}"));
    assert_eq!(
        status.code(),
        Some(3),
        "exit status {status}\n{}",
        node.logs()
    );
    let logs = node.logs();
    assert!(
        logs.contains("not-authorized"),
        "the refusal is logged:\n{logs}"
    );
}
