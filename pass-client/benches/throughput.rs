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
#[path = "../../pass-node/benches/support/measure.rs"]
mod measure;

use client::{Kind, XmppClient};
use common::{median, SERVICE};
use measure::{gbit_per_s, pump};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;

const PASS: &str = "jabber:iq:pass";

/// A local service (a listener the pass-client bridge or a direct caller reaches).
fn service() -> std::net::TcpListener {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind")
}

/// Connects to `addr`, accepts the connection that arrives at `local` because of it
/// (directly or bridged), and pumps `total` bytes across: Gbit/s.
fn transfer(addr: SocketAddr, local: &std::net::TcpListener, total: u64) -> f64 {
    let src = connect(addr);
    let (dst, _) = local.accept().expect("accept at the local service");
    gbit_per_s(total, pump(src, dst, total))
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
    tokio::task::spawn_blocking(move || gbit_per_s(total, pump(caller, owner_side, total)))
        .await
        .expect("pump")
}

fn main() {
    let mib = measure::env_u64("PASS_BENCH_MIB", 1024);
    let rounds = measure::env_u64("PASS_BENCH_ROUNDS", 3);
    let total = mib << 20;
    common::quiet_logs();
    let rt = common::runtime();
    println!("throughput: {mib} MiB caller → local service, {rounds} rounds (median)");
    println!("machine: {}", measure::machine());
    rt.block_on(async {
        let (_prosody, info) = server::Prosody::with_component(SERVICE);
        let world = support::World::start(info).await;
        let local = std::sync::Arc::new(service());
        let local_addr = local.local_addr().expect("addr");
        let mut exposed = world.expose(local_addr, common::EXPOSE);
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
            let l = local.clone();
            let d = tokio::task::spawn_blocking(move || transfer(local_addr, &l, total))
                .await
                .expect("direct");
            let n = through_node(&mut owner, lease, total).await;
            let l = local.clone();
            let c = tokio::task::spawn_blocking(move || transfer(public, &l, total))
                .await
                .expect("through pass-client");
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
