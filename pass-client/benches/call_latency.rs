//! Caller connect → first byte at the local service, through a private Prosody,
//! pass-node and `pass-client expose`, against the same measured straight to the
//! local service in the same run. The caller writes one byte right after connecting
//! (a client that speaks first); the clock stops when the local service reads it.
//! Each call then ends cleanly (the caller half-closes, the service's EOF comes
//! back) before the next, so every call finds the lease free.
//!
//! `cargo bench -p pass-client --bench call_latency` (`PASS_BENCH_CALLS`, default
//! 200). Needs `prosody` (scripts/setup.sh).

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

use common::SERVICE;
use measure::quantile;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A call whose byte has not arrived by then is a stall.
const STALL: Duration = Duration::from_secs(5);
/// Give up after this many stalls: something is broken, not slow.
const MAX_STALLS: usize = 3;

/// A local service that reports when each connection's first byte arrived, then
/// reads to EOF and closes.
async fn first_byte_service() -> (SocketAddr, mpsc::UnboundedReceiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut b = [0u8; 1];
                if sock.read_exact(&mut b).await.is_ok() {
                    let _ = tx.send(Instant::now());
                    let mut rest = Vec::new();
                    let _ = sock.read_to_end(&mut rest).await;
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    (addr, rx)
}

async fn one_call(
    addr: SocketAddr,
    arrivals: &mut mpsc::UnboundedReceiver<Instant>,
) -> Option<Duration> {
    let start = Instant::now();
    let mut caller = TcpStream::connect(addr).await.ok()?;
    caller.set_nodelay(true).ok()?;
    caller.write_all(b"!").await.ok()?;
    let at = tokio::time::timeout(STALL, arrivals.recv()).await.ok()??;
    // End the session before the next call: half-close, then the service's EOF.
    let _ = caller.shutdown().await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(STALL, caller.read_to_end(&mut rest)).await;
    Some(at - start)
}

async fn calls(
    addr: SocketAddr,
    n: usize,
    arrivals: &mut mpsc::UnboundedReceiver<Instant>,
) -> (Vec<Duration>, usize) {
    let mut samples = Vec::with_capacity(n);
    let mut stalls = 0;
    while samples.len() < n {
        match one_call(addr, arrivals).await {
            Some(d) => samples.push(d),
            None => {
                stalls += 1;
                assert!(
                    stalls < MAX_STALLS,
                    "{stalls} calls stalled: broken, not slow"
                );
                while arrivals.try_recv().is_ok() {}
            }
        }
    }
    samples.sort();
    (samples, stalls)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n = measure::env_u64("PASS_BENCH_CALLS", 200) as usize;
    common::quiet_logs();
    let rt = common::runtime();
    println!("call_latency: {n} calls, caller connect → first byte at the local service");
    println!("machine: {}", measure::machine());
    rt.block_on(async {
        let (_prosody, info) = server::Prosody::with_component(SERVICE);
        // The benchmark calls faster than the default per-lease call rate allows.
        let world = support::World::start_with(
            info,
            &["--call-burst", "100000", "--call-per-second", "100000"],
        )
        .await;
        let (local, mut arrivals) = first_byte_service().await;
        let mut exposed = world.expose(local, common::EXPOSE);
        let public = exposed.registered().await;
        // Warm both paths (first connections, the client's first session).
        calls(local, 5, &mut arrivals).await;
        calls(public, 5, &mut arrivals).await;

        let (direct, direct_stalls) = calls(local, n, &mut arrivals).await;
        let (through, through_stalls) = calls(public, n, &mut arrivals).await;
        let (d50, d95) = (quantile(&direct, 0.5), quantile(&direct, 0.95));
        let (t50, t95) = (quantile(&through, 0.5), quantile(&through, 0.95));
        println!("| path | median | p95 | stalled |");
        println!("|---|---|---|---|");
        println!(
            "| direct to the local service (baseline) | {:.3} ms | {:.3} ms | {direct_stalls} |",
            ms(d50),
            ms(d95)
        );
        println!(
            "| Prosody + pass-node + pass-client | {:.3} ms | {:.3} ms | {through_stalls} |",
            ms(t50),
            ms(t95)
        );
        println!(
            "ratio through / direct: median {:.1}, p95 {:.1}",
            ms(t50) / ms(d50).max(1e-6),
            ms(t95) / ms(d95).max(1e-6)
        );
        exposed.signal("-INT");
        let _ = exposed.exit().await;
    });
}
