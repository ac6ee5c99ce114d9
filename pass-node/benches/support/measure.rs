//! Measuring, shared by the node's benches and pass-client's (which include this
//! file by path): the bulk pump, rates, quantiles and the machine's description.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// The write and read size of the pump.
pub const CHUNK: usize = 1 << 20;

/// An environment variable as a number, else `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `total` bytes into `src` while another thread drains `dst`; the time until
/// the last byte arrived.
pub fn pump(mut src: TcpStream, mut dst: TcpStream, total: u64) -> Duration {
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

/// Gbit/s of `bytes` in `d`.
pub fn gbit_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e9
}

/// The `q`-quantile (0..=1) of sorted samples.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// One line describing the machine, for the record.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}
