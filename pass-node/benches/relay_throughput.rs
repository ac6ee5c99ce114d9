//! Relay throughput over loopback, one direction (third party → owner), against
//! baselines measured in the same run: direct TCP, socat, and a plain tokio
//! `copy_bidirectional` relay; then pass-node in splice mode, copy mode, and copy
//! mode with (non-binding) rate limits on. Prints Gbit/s and the ratio to direct.
//!
//! `cargo bench -p pass-node --bench relay_throughput`
//! Env: `PASS_BENCH_GIB` (GiB per round, default 2), `PASS_BENCH_ROUNDS` (default 3;
//! the median round is reported). Needs `socat` (scripts/setup.sh installs it).

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Link, NodeProcess};

const CHUNK: usize = 1 << 20;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `total` bytes into `src` while another thread drains `dst`; the time until
/// the last byte arrived.
fn pump(mut src: TcpStream, mut dst: TcpStream, total: u64) -> Duration {
    let start = Instant::now();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        while got < total {
            let n = dst.read(&mut buf).expect("sink read");
            assert!(n > 0, "relay closed after {got} of {total} bytes");
            got += n as u64;
        }
        Instant::now()
    });
    let buf = vec![0xa5u8; CHUNK];
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(CHUNK as u64) as usize;
        src.write_all(&buf[..n]).expect("source write");
        sent += n as u64;
    }
    let end = reader.join().expect("reader thread");
    let _ = src.shutdown(Shutdown::Both);
    end - start
}

fn gbit_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e9
}

/// A connected pair straight through the kernel.
fn direct_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let src = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (dst, _) = l.accept().expect("accept");
    (src, dst)
}

/// Connects to `addr`, retrying while a relay process starts.
fn connect_retry(addr: SocketAddr) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("connect {addr}: {e}"),
        }
    }
}

fn socat_round(total: u64) -> Duration {
    let sink = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = support::free_range(1).0;
    let mut socat = Command::new("socat")
        .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"))
        .arg(format!("TCP:{}", sink.local_addr().expect("addr")))
        .stdin(Stdio::null())
        .spawn()
        .expect("socat is missing: run scripts/setup.sh (apt-get install socat)");
    let src = connect_retry(SocketAddr::from(([127, 0, 0, 1], port)));
    let (dst, _) = sink.accept().expect("accept from socat");
    let d = pump(src, dst, total);
    let _ = socat.kill();
    let _ = socat.wait();
    d
}

/// A plain tokio relay: accept, connect onwards, `copy_bidirectional`.
fn tokio_round(rt: &tokio::runtime::Runtime, total: u64) -> Duration {
    let sink = TcpListener::bind("127.0.0.1:0").expect("bind");
    let sink_addr = sink.local_addr().expect("addr");
    let front = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let front_addr = front.local_addr().expect("addr");
    rt.spawn(async move {
        let (mut a, _) = front.accept().await.expect("accept");
        let mut b = tokio::net::TcpStream::connect(sink_addr)
            .await
            .expect("connect sink");
        let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
    });
    let src = TcpStream::connect(front_addr).expect("connect relay");
    let (dst, _) = sink.accept().expect("accept from relay");
    pump(src, dst, total)
}

/// One relay through pass-node: a fresh lease, the third party connects, the
/// in-process owner accepts and connects to the proxy port, then the pump.
fn node_round(rt: &tokio::runtime::Runtime, link: &mut Link, total: u64) -> Duration {
    let server = rt.block_on(link.register("owner@bench/res", ""));
    let src = TcpStream::connect(server).expect("connect lease");
    let proxy = rt.block_on(link.accept_incoming());
    let dst = TcpStream::connect(proxy).expect("connect proxy");
    // Let the bridge start before the first byte.
    std::thread::sleep(Duration::from_millis(50));
    pump(src, dst, total)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let total = env_u64("PASS_BENCH_GIB", 2) << 30;
    let rounds = env_u64("PASS_BENCH_ROUNDS", 3).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "relay_throughput: {} GiB per round, median of {rounds} rounds, third party → owner",
        total >> 30
    );
    println!("machine: {}", support::machine());

    let mut results: Vec<(String, Duration)> = Vec::new();
    let mut run = |name: &str, f: &mut dyn FnMut() -> Duration| {
        let d = median((0..rounds).map(|_| f()).collect());
        println!("  {name:<34} {:>6.2} Gbit/s", gbit_per_s(total, d));
        results.push((name.to_owned(), d));
    };

    run("direct TCP", &mut || {
        let (src, dst) = direct_pair();
        pump(src, dst, total)
    });
    run("tokio copy_bidirectional relay", &mut || {
        tokio_round(&rt, total)
    });
    run("socat", &mut || socat_round(total));

    let node_cases: [(&str, &[&str]); 3] = [
        ("pass-node splice", &["--relay-mode", "splice"]),
        ("pass-node copy", &["--relay-mode", "copy"]),
        (
            "pass-node copy + rate limits",
            &[
                "--relay-mode",
                "copy",
                "--relay-rate",
                "100000000000",
                "--total-rate",
                "100000000000",
            ],
        ),
    ];
    for (name, flags) in node_cases {
        let pool = support::free_range(16);
        let (addr, listener) = rt.block_on(Link::listen());
        let _node = NodeProcess::spawn(addr, pool, flags);
        let mut link = rt.block_on(Link::accept(&listener));
        run(name, &mut || node_round(&rt, &mut link, total));
    }

    let direct = results[0].1;
    println!("ratio to direct TCP (higher is better):");
    for (name, d) in &results {
        println!(
            "  {name:<34} {:>5.2}",
            direct.as_secs_f64() / d.as_secs_f64()
        );
    }
}
