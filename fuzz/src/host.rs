//! A simulated host around a [`Service`]: it carries out the actions the way
//! pass-node does (listens, unlistens, drops, bridges, sends) and checks, for every
//! action, the invariants a host relies on:
//!
//! - a port is never asked to listen while it is already asked for or listening
//!   (so never held twice), only listening ports are unlistened, and every port
//!   asked for is in the pool;
//! - the pool balances: free + quarantined + held by the host == pool size;
//! - no action names a connection the host does not hold (never seen, closed or
//!   already dropped, including the far side of a relay a Drop ended); a bridge
//!   joins two distinct, unbridged connections;
//! - every IQ sent has the service's `from`, a `to`, and reads back unchanged after
//!   being written (writer → reader);
//! - after [`Service::handle_timeout`], [`Service::poll_timeout`] lies in the future.

use crate::reread_limits;
use pass_core::engine::Engine;
use pass_core::lease::{Action, Config, ConnId, ListenError};
use pass_core::service::Service;
use pass_core::stanza::Iq;
use pass_core::time::{Duration, Instant};
use pass_core::xml::{parse_element, Element};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

/// Most rounds of "fire due timers, drain actions" after one event; the machine
/// fires everything due at once, so one round is enough and more is a bug.
const MAX_TIMEOUT_ROUNDS: usize = 4;

/// The simulated host.
#[derive(Debug)]
pub struct Host {
    /// The service under test.
    pub service: Service,
    /// The host's clock.
    pub now: Instant,
    first_port: u16,
    last_port: u16,
    /// Ports asked to listen whose result the host has not reported, oldest first.
    pub pending_listens: Vec<u16>,
    /// Ports listening.
    pub listening: BTreeSet<u16>,
    /// Connections accepted and neither dropped nor closed, with their local port.
    pub open: BTreeMap<ConnId, u16>,
    /// Peers of every connection ever accepted.
    pub peers: BTreeMap<ConnId, SocketAddr>,
    /// Local ports of every connection ever accepted (for stale close reports).
    pub local_ports: BTreeMap<ConnId, u16>,
    /// Bridged connections, each side to the other.
    pub relays: BTreeMap<ConnId, ConnId>,
    next_conn: u64,
}

impl Host {
    /// A host around a service built from `config` (which must be valid).
    pub fn new(config: Config) -> Host {
        let (first_port, last_port) = (config.first_port, config.last_port);
        let service = match Service::new(config) {
            Ok(s) => s,
            Err(e) => panic!("the fuzz configuration is invalid: {e}"),
        };
        Host {
            service,
            now: Instant::from_millis(0),
            first_port,
            last_port,
            pending_listens: Vec::new(),
            listening: BTreeSet::new(),
            open: BTreeMap::new(),
            peers: BTreeMap::new(),
            local_ports: BTreeMap::new(),
            relays: BTreeMap::new(),
            next_conn: 1,
        }
    }

    /// Whether `port` is in the service's pool.
    pub fn in_pool(&self, port: u16) -> bool {
        (self.first_port..=self.last_port).contains(&port)
    }

    /// A stanza arrives; returns the actions it caused (timers included).
    pub fn stanza(&mut self, element: &Element) -> Vec<Action> {
        self.service.handle_stanza(self.now, element);
        self.settle()
    }

    /// Reports the listen result of the pending port at `pick` (modulo their number).
    pub fn listen_result(&mut self, pick: usize, result: Result<(), ListenError>) -> Vec<Action> {
        if self.pending_listens.is_empty() {
            return Vec::new();
        }
        let port = self
            .pending_listens
            .remove(pick % self.pending_listens.len());
        if result.is_ok() {
            self.listening.insert(port);
        }
        self.service.handle_listen_result(self.now, port, result);
        self.settle()
    }

    /// Reports a listen result for a port the service did not ask for (ignored by
    /// the service; the host's state does not change).
    pub fn spurious_listen_result(
        &mut self,
        port: u16,
        result: Result<(), ListenError>,
    ) -> Vec<Action> {
        if self.pending_listens.contains(&port) {
            return Vec::new();
        }
        self.service.handle_listen_result(self.now, port, result);
        self.settle()
    }

    /// Accepts a new connection on `local_port` from `peer`.
    pub fn connect(&mut self, local_port: u16, peer: SocketAddr) -> (ConnId, Vec<Action>) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.open.insert(conn, local_port);
        self.peers.insert(conn, peer);
        self.local_ports.insert(conn, local_port);
        self.service
            .handle_connection(self.now, conn, local_port, peer);
        (conn, self.settle())
    }

    /// `conn` ends. A bridged connection ends its relay, so the host reports both
    /// sides; a connection the host no longer holds is reported again anyway
    /// (hosts may report twice, the service must ignore it).
    pub fn close(&mut self, conn: ConnId) -> Vec<Action> {
        self.open.remove(&conn);
        let mut closed = vec![conn];
        if let Some(other) = self.relays.remove(&conn) {
            self.relays.remove(&other);
            self.open.remove(&other);
            closed.push(other);
        }
        for c in closed {
            self.service.handle_closed(self.now, c);
        }
        self.settle()
    }

    /// Time passes by `by`.
    pub fn advance(&mut self, by: Duration) -> Vec<Action> {
        self.now = self.now + by;
        self.service.handle_timeout(self.now);
        self.settle()
    }

    /// A late timer: `handle_timeout` with an instant `by` before the host's clock.
    pub fn stale_timeout(&mut self, by: Duration) -> Vec<Action> {
        let past = Instant::from_millis(
            self.now
                .as_millis()
                .saturating_sub(u64::try_from(by.as_millis()).unwrap_or(u64::MAX)),
        );
        self.service.handle_timeout(past);
        self.settle()
    }

    /// Time jumps to the service's next deadline, if it has one.
    pub fn to_next_deadline(&mut self) -> Vec<Action> {
        match self.service.poll_timeout() {
            Some(at) => {
                self.now = self.now.max(at);
                self.service.handle_timeout(self.now);
                self.settle()
            }
            None => Vec::new(),
        }
    }

    /// The host shuts down.
    pub fn shutdown(&mut self) -> Vec<Action> {
        self.service.shutdown(self.now);
        self.settle()
    }

    /// Drains the actions, then fires due timers as a host would (it sleeps until
    /// `poll_timeout`, which may already have passed) and drains again.
    fn settle(&mut self) -> Vec<Action> {
        let mut actions = self.drain();
        for _ in 0..MAX_TIMEOUT_ROUNDS {
            match self.service.poll_timeout() {
                Some(at) if at <= self.now => {
                    self.service.handle_timeout(self.now);
                    actions.extend(self.drain());
                }
                _ => return actions,
            }
        }
        panic!(
            "poll_timeout still says {:?} after handle_timeout({:?})",
            self.service.poll_timeout(),
            self.now
        );
    }

    fn drain(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some(action) = self.service.poll_action() {
            self.carry_out(&action);
            actions.push(action);
        }
        self.check_pool_balance();
        actions
    }

    fn carry_out(&mut self, action: &Action) {
        match action {
            Action::Listen { port } => {
                let port = *port;
                assert!(
                    self.in_pool(port),
                    "Listen on port {port}, outside the pool"
                );
                assert!(
                    !self.pending_listens.contains(&port),
                    "Listen on port {port}, already asked to listen"
                );
                assert!(
                    !self.listening.contains(&port),
                    "Listen on port {port}, already listening"
                );
                self.pending_listens.push(port);
            }
            Action::Unlisten { port } => {
                assert!(
                    self.listening.remove(port),
                    "Unlisten on port {port}, which is not listening (pending: {})",
                    self.pending_listens.contains(port)
                );
            }
            Action::Drop { conn } => {
                assert!(
                    self.open.remove(conn).is_some(),
                    "Drop of {conn}, which the host does not hold"
                );
                // Dropping one side of a relay ends the relay and closes the other
                // side with it (the Action::Drop contract).
                if let Some(other) = self.relays.remove(conn) {
                    self.relays.remove(&other);
                    self.open.remove(&other);
                }
            }
            Action::Bridge { client, owner, .. } => {
                assert_ne!(client, owner, "Bridge of {client} with itself");
                for c in [client, owner] {
                    assert!(
                        self.open.contains_key(c),
                        "Bridge names {c}, which the host does not hold"
                    );
                    assert!(
                        !self.relays.contains_key(c),
                        "Bridge names {c}, which is already bridged"
                    );
                }
                self.relays.insert(*client, *owner);
                self.relays.insert(*owner, *client);
            }
            Action::Send(iq) => self.check_sent(iq),
        }
    }

    fn check_sent(&self, iq: &Iq) {
        assert_eq!(
            iq.from.as_ref(),
            Some(&self.service.config().service),
            "an IQ sent without the service's from: {iq:?}"
        );
        assert!(iq.to.is_some(), "an IQ sent without a to: {iq:?}");
        let written = Element::from(iq).to_xml();
        let reread = parse_element(written.as_bytes(), &reread_limits())
            .map_err(|e| e.to_string())
            .and_then(|e| Iq::try_from(&e).map_err(|e| e.to_string()));
        assert_eq!(
            reread.as_ref(),
            Ok(iq),
            "a sent IQ does not read back\n  written: {written}"
        );
    }

    fn check_pool_balance(&self) {
        let stats = self.service.stats();
        let held = self.pending_listens.len() + self.listening.len();
        let pool = self.service.machine().pool_size();
        assert_eq!(
            stats.ports_free + stats.ports_quarantined + held,
            pool,
            "pool out of balance: {} free + {} quarantined + {held} held by the host \
             (pending {:?}, listening {:?}) != {pool}",
            stats.ports_free,
            stats.ports_quarantined,
            self.pending_listens,
            self.listening
        );
    }
}
