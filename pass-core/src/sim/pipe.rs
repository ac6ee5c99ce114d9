//! A simulated TCP connection as the host holds it, seen from both ends, and the
//! relay that joins two of them.

use crate::lease::ConnId;
use crate::time::Instant;
use alloc::vec::Vec;
use core::net::SocketAddr;

/// One accepted connection: what its peer (the test side) can read, what it wrote
/// that the host has not relayed yet, and how far each end has closed it.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The port it arrived on.
    pub(crate) local_port: u16,
    /// The remote end.
    pub(crate) peer: SocketAddr,
    /// Bytes the peer can read.
    pub(crate) readable: Vec<u8>,
    /// The peer reads EOF once `readable` is drained.
    pub(crate) eof: bool,
    /// Written by the peer and not relayed yet (all of it, before a bridge).
    pub(crate) unrelayed: Vec<u8>,
    /// The peer can write no more (it shut down its write side or closed).
    pub(crate) write_shut: bool,
    /// The host saw the peer's FIN (a host fault may hide it).
    pub(crate) fin: bool,
    /// The peer closed both ways: it reads nothing any more.
    pub(crate) closed: bool,
    /// The host is done with it (dropped, hung up, or its relay ended).
    pub(crate) ended: bool,
    /// The engine was told it closed.
    pub(crate) reported: bool,
    /// The relay it is in.
    pub(crate) relay: Option<u64>,
    /// Bytes relayed into it so far (for [`HostFault::CorruptRelayByte`](super::HostFault)).
    pub(crate) relayed_in: u64,
}

impl Conn {
    pub(crate) fn new(local_port: u16, peer: SocketAddr) -> Conn {
        Conn {
            local_port,
            peer,
            readable: Vec::new(),
            eof: false,
            unrelayed: Vec::new(),
            write_shut: false,
            fin: false,
            closed: false,
            ended: false,
            reported: false,
            relay: None,
            relayed_in: 0,
        }
    }

    /// The host ends it: the peer reads what is there, then EOF.
    pub(crate) fn end(&mut self) {
        self.ended = true;
        self.eof = true;
        self.unrelayed.clear();
    }
}

/// A read-only view of a connection, for models and harnesses.
#[derive(Debug, Clone, Copy)]
pub struct ConnView<'a> {
    pub(crate) conn: &'a Conn,
}

impl ConnView<'_> {
    /// The port it arrived on.
    pub fn local_port(&self) -> u16 {
        self.conn.local_port
    }

    /// The remote end's address.
    pub fn peer(&self) -> SocketAddr {
        self.conn.peer
    }

    /// The host still holds it: neither dropped nor hung up nor out of its relay.
    pub fn is_held(&self) -> bool {
        !self.conn.ended
    }

    /// It is one side of a relay that still runs.
    pub fn is_relayed(&self) -> bool {
        !self.conn.ended && self.conn.relay.is_some()
    }

    /// Bytes waiting for the peer to read.
    pub fn readable(&self) -> &[u8] {
        &self.conn.readable
    }

    /// The peer has bytes to read or would read EOF.
    pub fn has_news(&self) -> bool {
        !self.conn.readable.is_empty() || self.conn.eof
    }
}

/// Two bridged connections. Each direction is done at its source's EOF; the
/// session is over for the engine at the first of them (docs/DESIGN.md decision
/// 17), the relay itself when both are done, when one fails, or when it idles.
#[derive(Debug)]
pub(crate) struct Relay {
    /// The third party's connection.
    pub(crate) client: ConnId,
    /// The owner's connection.
    pub(crate) owner: ConnId,
    /// The side whose EOF came first (reported to the engine then).
    pub(crate) first_eof: Option<ConnId>,
    /// Client to owner, then owner to client: the source's EOF went through.
    pub(crate) done: [bool; 2],
    /// When bytes last moved either way (or the relay started).
    pub(crate) last_activity: Instant,
    /// A host fault keeps it from ever being torn down by a timer.
    pub(crate) immortal: bool,
}

impl Relay {
    /// The two directions as (source, destination, index into `done`).
    pub(crate) fn directions(&self) -> [(ConnId, ConnId, usize); 2] {
        [(self.client, self.owner, 0), (self.owner, self.client, 1)]
    }

    /// The other side.
    pub(crate) fn other(&self, conn: ConnId) -> ConnId {
        if conn == self.client {
            self.owner
        } else {
            self.client
        }
    }
}
