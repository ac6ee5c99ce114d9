//! Free loopback ports, so parallel runs do not collide.
//!
//! A port found free can be taken by someone else before it is used; the window is
//! short and the ranges are drawn at random, which is enough on a test machine.

use std::net::{Ipv4Addr, TcpListener};

/// Below Linux's ephemeral range (32768–60999), so outgoing connections made during
/// a test never land in a node's pool.
const POOL_FLOOR: u16 = 15_000;
const POOL_CEILING: u16 = 32_000;

/// A port the kernel reports free on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// `len` consecutive ports, all free on 127.0.0.1 right now: (first, last).
pub fn free_range(len: u16) -> (u16, u16) {
    assert!(len >= 1);
    for _ in 0..200 {
        let first = fastrand::u16(POOL_FLOOR..POOL_CEILING - len);
        let last = first + len - 1;
        let all_free = (first..=last).all(|p| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok());
        if all_free {
            return (first, last);
        }
    }
    panic!("no {len} consecutive free ports found in {POOL_FLOOR}-{POOL_CEILING}");
}
