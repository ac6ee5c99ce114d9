//! The smoke test of docs/OPERATING.md's quick start: proves that a caller reaches
//! a local service through a running node, as a user would see it.
//!
//!   cargo run -p pass-node --example smoke -- C2S_ADDR USER@HOST PASSWORD SERVICE_JID
//!   (or scripts/smoke.sh with the same arguments)
//!
//! It logs USER@HOST in over plain TCP at C2S_ADDR (Prosody allows it on a loopback
//! interface listed in `secure_interfaces`), starts a local service on 127.0.0.1
//! that greets whoever connects, leases a port from SERVICE_JID, calls that port as
//! a third party would, accepts the notice, connects to the proxy port and splices
//! it to the local service; then the caller must read the greeting and get its own
//! line echoed. The lease is closed at the end. Exit 0 and "smoke: ok" on success;
//! a panic naming the failed step otherwise.
//!
//! The XMPP client is the one the Prosody tests use (pass-node/tests/prosody/client.rs).

#[path = "../tests/prosody/client.rs"]
#[allow(dead_code)]
mod client;

use client::{Kind, XmppClient};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;

const PASS: &str = "jabber:iq:pass";
const GREETING: &str = "hello from the local service";
const STEP: Duration = Duration::from_secs(10);

fn usage() -> ! {
    eprintln!("usage: smoke C2S_ADDR USER@HOST PASSWORD SERVICE_JID");
    std::process::exit(2)
}

fn query(inner: &str) -> Element {
    format!("<query xmlns='{PASS}'>{inner}</query>")
        .parse()
        .unwrap_or_else(|e| panic!("query: {e}"))
}

/// `<name port='P'>IP</name>` in a `jabber:iq:pass` payload.
fn entity(payload: &Element, name: &str) -> SocketAddr {
    let e = payload
        .get_child(name, PASS)
        .unwrap_or_else(|| panic!("no <{name}/> in {payload:?}"));
    let ip: IpAddr = e
        .text()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("<{name}/> IP: {e}"));
    let port = e
        .attr("port")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("<{name}/> without a port"));
    SocketAddr::new(ip, port)
}

/// The local service: greets, then echoes one line.
async fn local_service() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("local service: bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let _ = w.write_all(format!("{GREETING}\n").as_bytes()).await;
                let mut line = String::new();
                let _ = BufReader::new(r).read_line(&mut line).await;
                let _ = w.write_all(format!("echo: {line}").as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [c2s, jid, password, service] = args.as_slice() else {
        usage()
    };
    let c2s: SocketAddr = c2s.parse().unwrap_or_else(|_| usage());
    let Some((user, host)) = jid.split_once('@') else {
        usage()
    };
    let service_addr = local_service().await;

    let mut owner = XmppClient::connect(c2s, user, host, password).await;
    println!("smoke: logged in as {}", owner.jid);
    let lease = match owner.request(service, Kind::Set, query("")).await {
        Iq::Result {
            payload: Some(p), ..
        } => entity(&p, "server"),
        other => panic!("register refused: {other:?}"),
    };
    println!("smoke: leased {lease}");

    // The third party calls the leased port.
    let caller = tokio::time::timeout(STEP, TcpStream::connect(lease))
        .await
        .unwrap_or_else(|_| panic!("calling {lease} timed out"))
        .unwrap_or_else(|e| panic!("calling {lease}: {e}"));
    let notice = owner
        .expect_request(STEP, "incoming-connection notice")
        .await;
    let Iq::Set { payload, .. } = &notice else {
        panic!("not a notice: {notice:?}")
    };
    let proxy = entity(payload, "proxy");
    println!(
        "smoke: caller {} announced, proxy {proxy}",
        entity(payload, "client")
    );
    owner.reply_result(&notice, None);

    // The owner connects to the proxy port and hands it to the local service.
    let mut to_proxy = TcpStream::connect(proxy)
        .await
        .unwrap_or_else(|e| panic!("connecting to the proxy {proxy}: {e}"));
    let mut to_service = TcpStream::connect(service_addr)
        .await
        .unwrap_or_else(|e| panic!("local service: {e}"));
    tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut to_proxy, &mut to_service).await;
    });

    let (r, mut w) = caller.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    tokio::time::timeout(STEP, r.read_line(&mut line))
        .await
        .unwrap_or_else(|_| panic!("the caller got no greeting within {STEP:?}"))
        .unwrap_or_else(|e| panic!("caller: {e}"));
    assert_eq!(line.trim_end(), GREETING, "the caller read something else");
    w.write_all(b"ping\n")
        .await
        .unwrap_or_else(|e| panic!("caller: {e}"));
    line.clear();
    tokio::time::timeout(STEP, r.read_line(&mut line))
        .await
        .unwrap_or_else(|_| panic!("no echo within {STEP:?}"))
        .unwrap_or_else(|e| panic!("caller: {e}"));
    assert_eq!(line.trim_end(), "echo: ping", "the echo came back wrong");
    println!("smoke: the caller reached the local service through {service}");

    let close = query(&format!(
        "<close/><proxy port='{}'>{}</proxy>",
        lease.port(),
        lease.ip()
    ));
    match owner.request(service, Kind::Set, close).await {
        Iq::Result { .. } => {}
        other => panic!("close refused: {other:?}"),
    }
    println!("smoke: ok");
}
