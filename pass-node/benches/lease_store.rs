//! The lease store's cost and worth (docs/DESIGN.md decision 54): registrations per
//! second without a store (`--no-state`) and with one (a fresh `--state-dir`), in
//! the same run, and the restart time with 10,000 leases: from SIGKILL to every
//! lease port listening again (seen in /proc/net/tcp), against the time it took to
//! register them in the first place. Registrations are pipelined (`WINDOW` in
//! flight: the node writes each batch in one transaction) and, for the worst case,
//! one at a time (`SEQUENTIAL` of them: one durable write each).
//!
//! `cargo bench -p pass-node --bench lease_store` (`PASS_BENCH_LEASES`, default
//! 10000; `PASS_BENCH_ROUNDS`, default 3, rounds of the rate comparison)

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::{Link, NodeProcess};

const WINDOW: usize = 256;
const SEQUENTIAL: usize = 500;

/// Registers `n` leases over the link, `window` IQs in flight, 10 per account;
/// their ports.
async fn register_all(link: &mut Link, n: usize, tag: &str, window: usize) -> Vec<u16> {
    let mut sent = 0usize;
    let mut ports = Vec::with_capacity(n);
    while ports.len() < n {
        while sent < n && sent - ports.len() < window {
            link.send_register(
                &format!("{tag}{}@bench/res", sent / 10),
                "<expire>3600</expire>",
            )
            .await;
            sent += 1;
        }
        let answer = link.next_stanza().await;
        ports.push(support::registered_addr(&answer).port());
    }
    ports
}

/// Starts the node with `args` on `pool` behind a fresh link, lets it settle; the
/// node, the link, and the link's listener (for the node's next start).
async fn start(
    pool: (u16, u16),
    args: &[&str],
) -> (
    NodeProcess,
    Link,
    std::net::SocketAddr,
    tokio::net::TcpListener,
) {
    let (addr, listener) = Link::listen().await;
    let node = NodeProcess::spawn(addr, pool, args);
    let link = Link::accept(&listener).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    (node, link, addr, listener)
}

/// The local ports in LISTEN state on 127.0.0.1 (/proc/net/tcp).
fn listening_ports() -> HashSet<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            (state == "0A").then_some(())?;
            let port = local.split(':').nth(1)?;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

fn main() {
    let n: usize = std::env::var("PASS_BENCH_LEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rounds: usize = std::env::var("PASS_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("lease_store: {n} leases, {WINDOW} register IQs in flight, {rounds} rounds");
    println!("machine: {}", support::machine());
    let pool = support::free_range(u16::try_from(n + 64).expect("pool fits in u16"));
    let limit = n.to_string();
    let limits = ["--max-leases", &limit, "--max-leases-per-account", "10"];

    rt.block_on(async {
        // (a) Registrations per second, without and with a store, alternating.
        for (count, window) in [(n, WINDOW), (SEQUENTIAL.min(n), 1)] {
        let mut without = Vec::new();
        let mut with = Vec::new();
        for round in 0..rounds {
            for keep in [false, true] {
                let state = tempfile::tempdir().expect("temp dir");
                let dir = state.path().to_str().expect("utf-8 path").to_owned();
                let mut args = limits.to_vec();
                if keep {
                    args.extend(["--state-dir", dir.as_str()]);
                }
                let (node, mut link, _, _) = start(pool, &args).await;
                let started = Instant::now();
                let ports = register_all(&mut link, count, &format!("r{round}u"), window).await;
                let rate = count as f64 / started.elapsed().as_secs_f64();
                assert_eq!(ports.iter().collect::<HashSet<_>>().len(), count);
                if keep { &mut with } else { &mut without }.push(rate);
                drop(node);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (a, b) = (median(&mut without), median(&mut with));
        println!(
            "  registration ({count}, {window} in flight), median of {rounds}: without a store {a:.0} leases/s, \
             with one {b:.0} leases/s; with/without = {:.2} ({:.1} µs of store per registration)",
            b / a,
            (1.0 / b - 1.0 / a) * 1e6
        );
        }

        // (b) Restart with n leases: SIGKILL, start again, until every port listens.
        let state = tempfile::tempdir().expect("temp dir");
        let dir = state.path().to_str().expect("utf-8 path").to_owned();
        let mut args = limits.to_vec();
        args.extend(["--state-dir", dir.as_str()]);
        let (node, mut link, addr, listener) = start(pool, &args).await;
        let started = Instant::now();
        let ports = register_all(&mut link, n, "k", WINDOW).await;
        let registered = started.elapsed();
        let size = std::fs::metadata(state.path().join("leases.redb"))
            .map(|m| m.len())
            .unwrap_or(0);

        let killed = Instant::now();
        drop(node); // SIGKILL, then reaped
        drop(link);
        let node = NodeProcess::spawn(addr, pool, &args);
        let mut polls = 0u32;
        let restored = loop {
            polls += 1;
            let listening = listening_ports();
            if ports.iter().all(|p| listening.contains(p)) {
                break killed.elapsed();
            }
            assert!(
                killed.elapsed() < Duration::from_secs(120),
                "not every lease port listens 120 s after the restart"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let _link = Link::accept(&listener).await;
        println!(
            "  restart with {n} leases: kill to all listening {:.3} s ({polls} polls of /proc/net/tcp); \
             registering them took {:.3} s; restart/registration = {:.2}; store file {:.1} MiB",
            restored.as_secs_f64(),
            registered.as_secs_f64(),
            restored.as_secs_f64() / registered.as_secs_f64(),
            size as f64 / (1024.0 * 1024.0)
        );
        println!(
            "  VmRSS after the restart: {:.1} MiB",
            node.rss_kib() as f64 / 1024.0
        );
    });
}
