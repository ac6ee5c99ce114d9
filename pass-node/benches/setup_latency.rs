//! Setup latency: from a third party's TCP connect to the first relayed byte at the
//! owner. The third party writes one byte right after connecting (a client that
//! speaks first); the in-process owner gets the notice on the component stream,
//! accepts, connects to the proxy port and reads that byte. Reports p50/p99, and
//! how many connections stalled (no byte within 2 s).
//!
//! `cargo bench -p pass-node --bench setup_latency` (`PASS_BENCH_SETUPS`, default 300)

mod support;

use std::time::{Duration, Instant};
use support::{Link, NodeProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A byte later than this counts as a stall.
const STALL: Duration = Duration::from_secs(2);
/// Give up after this many stalls: the node is broken, not slow.
const MAX_STALLS: usize = 5;

async fn one_setup(link: &mut Link, i: usize) -> Option<Duration> {
    // Oneshot leases free their ports after one relay; the notice is acked later.
    // One account per 5 setups keeps clear of the per-account IQ rate limit.
    let owner = format!("user{}@bench/res", i / 5);
    let server = link.register(&owner, "<oneshot/>").await;
    let start = Instant::now();
    let mut third = TcpStream::connect(server).await.expect("connect lease");
    third.set_nodelay(true).expect("nodelay");
    third.write_all(b"!").await.expect("first byte");
    let proxy = link.accept_incoming().await;
    let mut owner = TcpStream::connect(proxy).await.expect("connect proxy");
    let mut b = [0u8; 1];
    let got = tokio::time::timeout(STALL, owner.read_exact(&mut b)).await;
    let elapsed = start.elapsed();
    drop(third);
    drop(owner);
    match got {
        Ok(Ok(_)) if b[0] == b'!' => Some(elapsed),
        _ => None,
    }
}

fn main() {
    let n: usize = std::env::var("PASS_BENCH_SETUPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("setup_latency: {n} setups, third-party connect → first byte at the owner");
    println!("machine: {}", support::machine());
    for (name, flags) in [
        ("splice", ["--relay-mode", "splice"]),
        ("copy", ["--relay-mode", "copy"]),
    ] {
        let pool = support::free_range(64);
        let (samples, stalls) = rt.block_on(async {
            let (addr, listener) = Link::listen().await;
            let _node = NodeProcess::spawn(
                addr,
                pool,
                &[
                    flags[0],
                    flags[1],
                    "--max-leases-per-account",
                    "64",
                    "--max-leases",
                    "64",
                ],
            );
            let mut link = Link::accept(&listener).await;
            let mut samples = Vec::with_capacity(n);
            let mut stalls = 0usize;
            for i in 0..n {
                match one_setup(&mut link, i).await {
                    Some(d) => samples.push(d),
                    None => {
                        stalls += 1;
                        if stalls >= MAX_STALLS {
                            break;
                        }
                    }
                }
            }
            (samples, stalls)
        });
        let mut sorted = samples;
        sorted.sort();
        println!(
            "  pass-node {name:<7} p50 {:>8.3} ms   p99 {:>8.3} ms   ({} ok, {stalls} stalled{})",
            support::quantile(&sorted, 0.5).as_secs_f64() * 1e3,
            support::quantile(&sorted, 0.99).as_secs_f64() * 1e3,
            sorted.len(),
            if stalls >= MAX_STALLS {
                ", gave up"
            } else {
                ""
            }
        );
    }
}
