//! 10,000 concurrent leases: how fast the node registers them (1,000 accounts with
//! 10 leases each, the default per-account cap; IQs pipelined 256 at a time over the
//! component stream; each lease a real listening socket), and the node process's
//! resident memory (VmRSS) before and after.
//! Target: < 100 MiB with 10,000 leases.
//!
//! `cargo bench -p pass-node --bench lease_scale` (`PASS_BENCH_LEASES`, default 10000)

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::{Link, NodeProcess};

const WINDOW: usize = 256;

fn main() {
    let n: usize = std::env::var("PASS_BENCH_LEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("lease_scale: {n} leases, {WINDOW} register IQs in flight");
    println!("machine: {}", support::machine());
    let pool_len = u16::try_from(n + 64).expect("pool fits in u16");
    let pool = support::free_range(pool_len);
    let limit = n.to_string();
    rt.block_on(async {
        let (addr, listener) = Link::listen().await;
        let node = NodeProcess::spawn(
            addr,
            pool,
            &["--max-leases", &limit, "--max-leases-per-account", "10"],
        );
        let mut link = Link::accept(&listener).await;
        // Settle, then the idle footprint.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle = node.rss_kib();

        let start = Instant::now();
        let mut sent = 0usize;
        let mut done = 0usize;
        let mut ports = HashSet::with_capacity(n);
        while done < n {
            while sent < n && sent - done < WINDOW {
                link.send_register(&format!("user{}@bench/res", sent / 10), "")
                    .await;
                sent += 1;
            }
            let answer = link.next_stanza().await;
            ports.insert(support::registered_addr(&answer).port());
            done += 1;
        }
        let elapsed = start.elapsed();
        assert_eq!(ports.len(), n, "every lease got its own port");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let loaded = node.rss_kib();
        // Spot-check that the leases really listen.
        let first = *ports.iter().next().expect("a lease");
        std::net::TcpStream::connect(("127.0.0.1", first)).expect("a lease port accepts");

        println!(
            "  registration: {n} leases in {:.3} s = {:.0} leases/s",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        );
        println!(
            "  VmRSS: idle {:.1} MiB, with {n} leases {:.1} MiB ({:.2} KiB per lease); target < 100 MiB: {}",
            idle as f64 / 1024.0,
            loaded as f64 / 1024.0,
            (loaded.saturating_sub(idle)) as f64 / n as f64,
            if loaded < 100 * 1024 { "met" } else { "MISSED" }
        );
    });
}
