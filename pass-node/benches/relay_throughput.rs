//! Relay throughput over loopback, one direction (third party → owner), against
//! baselines measured in the same run: direct TCP, socat, a plain tokio
//! `copy_bidirectional` relay, a bare blocking splice(2) relay and a bare blocking
//! copy relay; then pass-node in splice mode, copy mode, and copy mode with
//! (non-binding) rate limits on.
//! Prints Gbit/s and the ratio to direct.
//!
//! Also in each round: iperf3's own direct loopback run (the same byte count), the
//! baseline the 0.75 target was set against. iperf3 cannot run through a
//! lease (its control and data connections would be two sessions on one lease
//! port), so every case is pumped by this bench's generator, and a second ratio
//! divides each case's Gbit/s by iperf3's direct Gbit/s of the same round: two
//! generators, so read it as a calibration against the reference, not as a
//! measurement of its own.
//!
//! `cargo bench -p pass-node --bench relay_throughput`
//! Env: `PASS_BENCH_GIB` (GiB per round, default 2), `PASS_BENCH_ROUNDS` (default 3;
//! the median round is reported). Needs `socat` and `iperf3` (scripts/setup.sh
//! installs both).

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{env_u64, gbit_per_s, pump, Link, NodeProcess};

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

/// iperf3 over direct loopback TCP, `total` bytes, one stream: its receiver's
/// Gbit/s.
fn iperf3_direct(total: u64) -> f64 {
    let port = support::free_range(1).0;
    let mut server = Command::new("iperf3")
        .args(["-s", "-1", "-B", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("iperf3 is missing: run scripts/setup.sh (apt-get install iperf3)");
    // The one-off server takes one test: retry the client (not a probe connection)
    // until the server listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let out = Command::new("iperf3")
            .args(["-c", "127.0.0.1", "-p", &port.to_string(), "-J"])
            .args(["-n", &total.to_string()])
            .stdin(Stdio::null())
            .output()
            .expect("run iperf3 -c");
        if out.status.success() {
            break out.stdout;
        }
        assert!(
            Instant::now() < deadline,
            "iperf3 client failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = server.wait();
    let json: serde_json::Value = serde_json::from_slice(&report).expect("iperf3 -J output");
    json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .expect("iperf3 report lacks end.sum_received.bits_per_second")
        / 1e9
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

/// A bare splice(2) relay, one direction, blocking, 1 MiB pipe: the ceiling a
/// user-space relay can reach on this machine (no accounting, no limits, no XMPP).
fn splice_round(total: u64) -> Duration {
    use nix::fcntl::{fcntl, splice, FcntlArg, SpliceFFlags};
    let sink = TcpListener::bind("127.0.0.1:0").expect("bind");
    let sink_addr = sink.local_addr().expect("addr");
    let front = TcpListener::bind("127.0.0.1:0").expect("bind");
    let front_addr = front.local_addr().expect("addr");
    let relay = std::thread::spawn(move || {
        let (from, _) = front.accept().expect("accept");
        let to = TcpStream::connect(sink_addr).expect("connect sink");
        let (pipe_r, pipe_w) = nix::unistd::pipe().expect("pipe");
        let _ = fcntl(&pipe_w, FcntlArg::F_SETPIPE_SZ(1 << 20));
        let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_MORE;
        loop {
            let n = splice(&from, None, &pipe_w, None, 1 << 20, flags).expect("splice in");
            if n == 0 {
                break;
            }
            let mut left = n;
            while left > 0 {
                left -= splice(&pipe_r, None, &to, None, left, flags).expect("splice out");
            }
        }
    });
    let src = TcpStream::connect(front_addr).expect("connect relay");
    let (dst, _) = sink.accept().expect("accept from relay");
    let d = pump(src, dst, total);
    relay.join().expect("splice relay thread");
    d
}

/// A bare copy relay, one direction, blocking, 256 KiB buffer (pass-node's copy
/// buffer): the same four copies per byte as pass-node's copy mode, with nothing
/// else (no accounting, no limits, no runtime), so pass-node's own overhead shows.
fn copy_round(total: u64) -> Duration {
    use std::io::{Read as _, Write as _};
    let sink = TcpListener::bind("127.0.0.1:0").expect("bind");
    let sink_addr = sink.local_addr().expect("addr");
    let front = TcpListener::bind("127.0.0.1:0").expect("bind");
    let front_addr = front.local_addr().expect("addr");
    let relay = std::thread::spawn(move || {
        let (mut from, _) = front.accept().expect("accept");
        let mut to = TcpStream::connect(sink_addr).expect("connect sink");
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = from.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            to.write_all(&buf[..n]).expect("write");
        }
    });
    let src = TcpStream::connect(front_addr).expect("connect relay");
    let (dst, _) = sink.accept().expect("accept from relay");
    let d = pump(src, dst, total);
    relay.join().expect("copy relay thread");
    d
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The relays under test, each measured once per round.
enum Case {
    Direct,
    Tokio,
    Socat,
    Splice,
    Copy,
    /// The link plays the owner; the process is kept until the end.
    Node(Box<(Link, NodeProcess)>),
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
        "relay_throughput: {} GiB per measurement, third party → owner, {rounds} rounds; \
         each round measures every case once, so a busy machine slows them alike",
        total >> 30
    );
    println!("machine: {}", support::machine());

    let node_flags: [(&str, &[&str]); 3] = [
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
    let mut cases: Vec<(&str, Case)> = vec![
        ("direct TCP", Case::Direct),
        ("tokio copy_bidirectional relay", Case::Tokio),
        ("socat", Case::Socat),
        ("bare splice relay (1 MiB pipe)", Case::Splice),
        ("bare copy relay (256 KiB)", Case::Copy),
    ];
    for (name, flags) in node_flags {
        let pool = support::free_range(16);
        let (addr, listener) = rt.block_on(Link::listen());
        let node = NodeProcess::spawn(addr, pool, flags);
        let link = rt.block_on(Link::accept(&listener));
        cases.push((name, Case::Node(Box::new((link, node)))));
    }

    // gbits[case][round], ratios[case][round] (to that round's direct run),
    // to_iperf3[case][round] (to that round's iperf3 direct run).
    let mut gbits: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut to_iperf3: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut iperf3: Vec<f64> = Vec::new();
    for _ in 0..rounds {
        let reference = iperf3_direct(total);
        iperf3.push(reference);
        let mut direct = Duration::ZERO;
        for (i, (_, case)) in cases.iter_mut().enumerate() {
            let d = match case {
                Case::Direct => {
                    let (src, dst) = direct_pair();
                    pump(src, dst, total)
                }
                Case::Tokio => tokio_round(&rt, total),
                Case::Socat => socat_round(total),
                Case::Splice => splice_round(total),
                Case::Copy => copy_round(total),
                Case::Node(node) => node_round(&rt, &mut node.0, total),
            };
            if i == 0 {
                direct = d;
            }
            gbits[i].push(gbit_per_s(total, d));
            ratios[i].push(direct.as_secs_f64() / d.as_secs_f64());
            to_iperf3[i].push(gbit_per_s(total, d) / reference);
        }
    }
    println!(
        "  {:<32} {:>12} {:>16} {:>16}",
        "case", "Gbit/s", "ratio to direct", "to iperf3 direct"
    );
    println!(
        "  {:<32} {:>12.2} {:>16} {:>16.2}",
        "iperf3 direct (reference)",
        median(iperf3.clone()),
        "-",
        1.0
    );
    for (i, (name, _)) in cases.iter().enumerate() {
        println!(
            "  {name:<32} {:>12.2} {:>16.2} {:>16.2}",
            median(gbits[i].clone()),
            median(ratios[i].clone()),
            median(to_iperf3[i].clone())
        );
    }
    println!(
        "(medians over the rounds; ratio = direct time / case time in the same round; \
         to iperf3 = case Gbit/s / iperf3's direct Gbit/s in the same round)"
    );
}
