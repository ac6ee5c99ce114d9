//! Throughput of one large transfer (caller → local service), measured in the same
//! run three ways: direct TCP to the service (the baseline), through pass-node alone
//! (a lease whose owner is an in-bench XMPP client that accepts and reads the proxy
//! connection itself), and through pass-node + `pass-client expose` (the caller's
//! bytes cross the node's relay and the client's bridge to the service). A private
//! Prosody carries the notices. Prints Gbit/s (median of the rounds) and ratios.
//!
//! `cargo bench -p pass-client --bench throughput` (`PASS_BENCH_MIB`, MiB per
//! transfer, default 1024; `PASS_BENCH_ROUNDS`, default 3). Needs `prosody`.

#![allow(dead_code)] // the shared harness has more than this bench uses

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
#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use client::{Kind, XmppClient};
use common::{median, SERVICE};
use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;

const CHUNK: usize = 1 << 20;
const PASS: &str = "jabber:iq:pass";

/// Drains `dst` until `total` bytes came; the instant the last one did.
fn drain(mut dst: std::net::TcpStream, total: u64) -> Instant {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    while got < total {
        let n = dst.read(&mut buf).expect("sink read");
        assert!(n > 0, "closed after {got} of {total} bytes");
        got += n as u64;
    }
    Instant::now()
}

/// Writes `total` bytes into `src` while `sink` (another thread) drains the far end;
/// Gbit/s from the first write to the last byte's arrival.
fn pump(mut src: std::net::TcpStream, sink: std::thread::JoinHandle<Instant>, total: u64) -> f64 {
    let start = Instant::now();
    let buf = vec![0xa5u8; CHUNK];
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(CHUNK as u64) as usize;
        src.write_all(&buf[..n]).expect("source write");
        sent += n as u64;
    }
    let end = sink.join().expect("sink thread");
    let _ = src.shutdown(Shutdown::Both);
    total as f64 * 8.0 / (end - start).as_secs_f64() / 1e9
}

/// A local service that drains each connection: its address, and the sink of the
/// next connection (joined by [`pump`]).
struct Service {
    listener: std::net::TcpListener,
}

impl Service {
    fn start() -> Service {
        Service {
            listener: std::net::TcpListener::bind("127.0.0.1:0").expect("bind"),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("addr")
    }

    fn next_sink(&self, total: u64) -> std::thread::JoinHandle<Instant> {
        let listener = self.listener.try_clone().expect("clone listener");
        std::thread::spawn(move || {
            let (sock, _) = listener.accept().expect("accept");
            drain(sock, total)
        })
    }
}

fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

fn query(inner: &str) -> Element {
    format!("<query xmlns='{PASS}'>{inner}</query>")
        .parse()
        .expect("xml")
}

/// The `<server/>` or `<proxy/>` address in a PASS query.
fn entity(q: &Element, name: &str) -> SocketAddr {
    let e = q.get_child(name, PASS).expect("entity");
    let ip: IpAddr = e.text().trim().parse().expect("ip");
    SocketAddr::new(ip, e.attr("port").expect("port").parse().expect("port"))
}

/// One transfer through pass-node alone: the caller connects to `lease`, `owner`
/// accepts the notice and reads the proxy connection itself.
async fn through_node(owner: &mut XmppClient, lease: SocketAddr, total: u64) -> f64 {
    let caller = connect(lease);
    let notice = owner
        .expect_request(Duration::from_secs(15), "incoming connection")
        .await;
    let Iq::Set { payload, .. } = &notice else {
        panic!("not a notice: {notice:?}")
    };
    let proxy = entity(payload, "proxy");
    owner.reply_result(&notice, None);
    let mut owner_side = None;
    for _ in 0..100 {
        if let Ok(s) = std::net::TcpStream::connect(proxy) {
            owner_side = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let owner_side = owner_side.expect("proxy connection");
    let sink = std::thread::spawn(move || drain(owner_side, total));
    tokio::task::spawn_blocking(move || pump(caller, sink, total))
        .await
        .expect("pump")
}

fn main() {
    let mib = common::env_u64("PASS_BENCH_MIB", 1024);
    let rounds = common::env_u64("PASS_BENCH_ROUNDS", 3);
    let total = mib << 20;
    let rt = common::runtime();
    println!("throughput: {mib} MiB caller → local service, {rounds} rounds (median)");
    println!("machine: {}", common::machine());
    rt.block_on(async {
        let (_prosody, info) = server::Prosody::with_component(SERVICE);
        let world = support::World::start(info).await;
        let service = Service::start();
        let mut exposed = world.expose(service.addr(), &["--service", SERVICE]);
        let public = exposed.registered().await;
        let (name, pw) = info::USERS[1];
        let mut owner = XmppClient::connect(world.info.c2s, name, &world.info.host, pw).await;
        let lease = match owner.request(SERVICE, Kind::Set, query("")).await {
            Iq::Result {
                payload: Some(p), ..
            } => entity(&p, "server"),
            other => panic!("register: {other:?}"),
        };
        let (mut direct, mut node, mut both) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let sink = service.next_sink(total);
            let src = connect(service.addr());
            let d = tokio::task::spawn_blocking(move || pump(src, sink, total))
                .await
                .expect("pump");
            let n = through_node(&mut owner, lease, total).await;
            let sink = service.next_sink(total);
            let src = connect(public);
            let c = tokio::task::spawn_blocking(move || pump(src, sink, total))
                .await
                .expect("pump");
            println!("round {round}: direct {d:.1}, pass-node {n:.1}, pass-node + pass-client {c:.1} Gbit/s");
            direct.push(d);
            node.push(n);
            both.push(c);
            // Let both sessions end before the next round's callers.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let (d, n, c) = (median(direct), median(node), median(both));
        println!("| path | Gbit/s | to direct | to pass-node alone |");
        println!("|---|---|---|---|");
        println!("| direct TCP (baseline) | {d:.1} | 1.00 | – |");
        println!("| pass-node alone (owner reads the proxy) | {n:.1} | {:.2} | 1.00 |", n / d);
        println!(
            "| pass-node + pass-client → local service | {c:.1} | {:.2} | {:.2} |",
            c / d,
            c / n
        );
        exposed.signal("-INT");
        let _ = exposed.exit().await;
    });
}
