//! Free loopback ports, so parallel tests and runs do not collide.
//!
//! All ports come from one range below Linux's ephemeral range (32768–60999), so an
//! outgoing connection made during a test never takes a port that a server or a
//! node's pool is about to bind, and every port is handed out at most once per test
//! process, so tests running in parallel never get the same one. Another process can
//! still take a port between the check and its use: servers confirm from their own
//! log that they bound what they were given (see `server.rs`).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

const FLOOR: u16 = 15_000;
const CEILING: u16 = 32_000;

/// Ports this process has handed out; never handed out again.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// One port, free on 127.0.0.1 right now and not handed out before.
pub fn free_port() -> u16 {
    free_range(1).0
}

/// `len` consecutive ports, all free on 127.0.0.1 right now and none handed out
/// before: (first, last).
pub fn free_range(len: u16) -> (u16, u16) {
    assert!(len >= 1);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..200 {
        let first = fastrand::u16(FLOOR..CEILING - len);
        let last = first + len - 1;
        let usable = (first..=last).all(|p| {
            !handed_out.contains(&p) && TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok()
        });
        if usable {
            handed_out.extend(first..=last);
            return (first, last);
        }
    }
    panic!("no {len} consecutive free ports found in {FLOOR}-{CEILING}");
}
