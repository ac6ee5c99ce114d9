//! The in-process target: any [`Engine`] driven by a simulated host.
//!
//! Listeners are a set of ports, connections are in-memory byte pipes, a bridge
//! copies bytes between two of them (half-close and disconnects included), and time
//! is virtual: waiting advances the clock and fires [`Engine::handle_timeout`] at each
//! deadline the engine asks for. The whole suite runs in well under a second.
//!
//! [`HostFault`]s break the host on purpose, to prove the cases catch a relay that
//! loses disconnects, corrupts bytes or swallows half-closes.

use crate::harness::{ConnectError, Harness, HarnessError, ReadEvent, SockId, TargetInfo};
use async_trait::async_trait;
use pass_core::engine::Engine;
use pass_core::lease::{Action, Config, ConnId, ListenError};
use pass_core::time::Instant;
use pass_core::xml::Element;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The service JID of the in-process reference configuration.
pub const SERVICE_JID: &str = "pass.localhost";
/// The address the simulated third parties and owners connect from (RFC 5737).
pub const PEER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
/// Which byte of each relayed direction [`HostFault::CorruptRelayByte`] flips.
const CORRUPT_AT: u64 = 7;

/// A deliberately broken host behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostFault {
    /// A side hanging up is not passed on to the other side of a relay.
    NoDisconnectPropagation,
    /// One relayed byte is flipped.
    CorruptRelayByte,
    /// A half-close (FIN) is not passed on through a relay.
    NoHalfClose,
    /// The host keeps listening after the engine says stop.
    IgnoreUnlisten,
}

impl HostFault {
    /// Every host fault.
    pub const ALL: [HostFault; 4] = [
        HostFault::NoDisconnectPropagation,
        HostFault::CorruptRelayByte,
        HostFault::NoHalfClose,
        HostFault::IgnoreUnlisten,
    ];

    /// A stable name.
    pub fn name(self) -> &'static str {
        match self {
            HostFault::NoDisconnectPropagation => "host-no-disconnect-propagation",
            HostFault::CorruptRelayByte => "host-corrupt-relay-byte",
            HostFault::NoHalfClose => "host-no-half-close",
            HostFault::IgnoreUnlisten => "host-ignore-unlisten",
        }
    }
}

/// The reference configuration the in-process target uses: small pool and limits so
/// that the 502 case runs out of ports quickly, short timeouts for the timeout cases.
pub fn reference_config() -> Config {
    let service = pass_core::jid::Jid::new(SERVICE_JID).unwrap_or_else(|_| unreachable_jid());
    let mut c = Config::new(service, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    c.first_port = 40000;
    c.last_port = 40063;
    c.max_leases = 8;
    c.max_leases_per_account = 4;
    c.answer_timeout = pass_core::time::Duration::from_secs(2);
    c.proxy_window = pass_core::time::Duration::from_secs(2);
    c.max_expire = pass_core::time::Duration::from_secs(3600);
    c
}

// Only reached if the constant above stops being a JID.
fn unreachable_jid() -> pass_core::jid::Jid {
    pass_core::jid::Jid::new("localhost").unwrap_or_else(|_| panic!("'localhost' is a JID"))
}

#[derive(Debug, Default)]
struct SimConn {
    /// Bytes the test side can read.
    readable: Vec<u8>,
    /// The test side reads EOF once `readable` is empty.
    eof: bool,
    /// Written by the test side before a bridge existed.
    pending: Vec<u8>,
    /// The test side half-closed.
    wrote_eof: bool,
    /// The test side closed fully.
    closed: bool,
    /// The other end of the relay.
    bridge: Option<u64>,
    /// The engine has been told (or decided) this connection is over.
    ended: bool,
    /// Bytes a relay has delivered to this side so far.
    relayed_in: u64,
}

/// The simulated host around an engine.
pub struct InprocHost<E: Engine> {
    engine: E,
    info: TargetInfo,
    ips: Vec<IpAddr>,
    now: u64,
    listening: BTreeSet<u16>,
    conns: BTreeMap<u64, SimConn>,
    next_conn: u64,
    outbox: VecDeque<Element>,
    faults: Vec<HostFault>,
}

impl<E: Engine> InprocHost<E> {
    /// A host around `engine`, whose advertised addresses are `ips` and whose owner
    /// answer timeout is `answer_timeout`.
    pub fn new(engine: E, service: &str, ips: Vec<IpAddr>, answer_timeout: Duration) -> Self {
        InprocHost {
            engine,
            info: TargetInfo {
                service: service.to_string(),
                user_domain: "localhost".into(),
                answer_wait: Duration::from_secs(5),
                io_wait: Duration::from_secs(5),
                impl_answer_timeout: answer_timeout,
            },
            ips,
            now: 0,
            listening: BTreeSet::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            outbox: VecDeque::new(),
            faults: Vec::new(),
        }
    }

    /// Same host with a host fault switched on.
    pub fn with_fault(mut self, fault: HostFault) -> Self {
        self.faults.push(fault);
        self
    }

    /// The engine inside.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    fn has(&self, f: HostFault) -> bool {
        self.faults.contains(&f)
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Carries out every action the engine has queued (and those they cause).
    fn pump(&mut self) {
        // Bounded: an engine that keeps producing actions is cut off, not waited on.
        for _ in 0..1_000_000 {
            let Some(action) = self.engine.poll_action() else {
                return;
            };
            self.apply(action);
        }
    }

    fn apply(&mut self, action: Action) {
        let now = self.now();
        match action {
            Action::Send(iq) => self.outbox.push_back(Element::from(&iq)),
            Action::Listen { port } => {
                let result = if self.listening.insert(port) {
                    Ok(())
                } else {
                    Err(ListenError::AddrInUse)
                };
                self.engine.handle_listen_result(now, port, result);
            }
            Action::Unlisten { port } => {
                if !self.has(HostFault::IgnoreUnlisten) {
                    self.listening.remove(&port);
                }
            }
            Action::Bridge { client, owner, .. } => self.bridge(client.0, owner.0),
            Action::Drop { conn } => {
                let peer = match self.conns.get_mut(&conn.0) {
                    Some(c) => {
                        c.eof = true;
                        c.ended = true;
                        c.bridge
                    }
                    None => None,
                };
                if let Some(p) = peer {
                    self.hang_up(p);
                }
            }
        }
    }

    /// The relay's far side `id` goes down because its partner did.
    fn hang_up(&mut self, id: u64) {
        if let Some(c) = self.conns.get_mut(&id) {
            if !c.ended {
                c.eof = true;
                c.ended = true;
                let now = self.now();
                self.engine.handle_closed(now, ConnId(id));
            }
        }
    }

    fn bridge(&mut self, a: u64, b: u64) {
        if !self.conns.contains_key(&a) || !self.conns.contains_key(&b) {
            return;
        }
        for (x, y) in [(a, b), (b, a)] {
            if let Some(c) = self.conns.get_mut(&x) {
                c.bridge = Some(y);
            }
        }
        for (x, y) in [(a, b), (b, a)] {
            let (pending, wrote_eof, closed) = match self.conns.get_mut(&x) {
                Some(c) => (std::mem::take(&mut c.pending), c.wrote_eof, c.closed),
                None => continue,
            };
            self.relay(y, &pending);
            if closed {
                self.end_from(x);
            } else if wrote_eof {
                self.half_close_from(x, y);
            }
        }
    }

    /// Copies bytes into the readable buffer of `to` (a relay hop).
    fn relay(&mut self, to: u64, data: &[u8]) {
        let corrupt = self.has(HostFault::CorruptRelayByte);
        let Some(c) = self.conns.get_mut(&to) else {
            return;
        };
        if c.closed || c.ended {
            return;
        }
        let start = c.relayed_in;
        c.relayed_in += data.len() as u64;
        let at = c.readable.len();
        c.readable.extend_from_slice(data);
        if corrupt && start <= CORRUPT_AT && CORRUPT_AT < start + data.len() as u64 {
            let i = at + usize::try_from(CORRUPT_AT - start).unwrap_or(0);
            if let Some(byte) = c.readable.get_mut(i) {
                *byte ^= 0x20;
            }
        }
    }

    fn half_close_from(&mut self, from: u64, to: u64) {
        if !self.has(HostFault::NoHalfClose) {
            if let Some(c) = self.conns.get_mut(&to) {
                c.eof = true;
            }
        }
        let both = [from, to]
            .iter()
            .all(|x| self.conns.get(x).is_some_and(|c| c.wrote_eof || c.closed));
        if both {
            self.end_from(from);
        }
    }

    /// The test side of `id` is gone (fully closed): the engine hears of it, and the
    /// relay partner is disconnected.
    fn end_from(&mut self, id: u64) {
        let now = self.now();
        let peer = match self.conns.get_mut(&id) {
            Some(c) if !c.ended => {
                c.ended = true;
                self.engine.handle_closed(now, ConnId(id));
                c.bridge
            }
            Some(c) => c.bridge,
            None => None,
        };
        if let Some(p) = peer {
            if !self.has(HostFault::NoDisconnectPropagation) {
                self.hang_up(p);
            }
        }
    }

    /// Lets virtual time pass up to `wait`, firing deadlines, until `done` holds.
    fn advance(&mut self, wait: Duration, done: &dyn Fn(&Self) -> bool) -> bool {
        let target = self
            .now
            .saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        for _ in 0..100_000 {
            if done(self) {
                return true;
            }
            match self.engine.poll_timeout() {
                Some(t) if t.as_millis() <= target => {
                    self.now = self.now.max(t.as_millis());
                    let now = self.now();
                    self.engine.handle_timeout(now);
                    self.pump();
                }
                _ => break,
            }
        }
        if done(self) {
            return true;
        }
        self.now = target;
        done(self)
    }
}

#[async_trait(?Send)]
impl<E: Engine> Harness for InprocHost<E> {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    async fn send_stanza(&mut self, stanza: &Element) -> Result<(), HarnessError> {
        let now = self.now();
        self.engine.handle_stanza(now, stanza);
        self.pump();
        Ok(())
    }

    async fn next_stanza(&mut self, wait: Duration) -> Result<Option<Element>, HarnessError> {
        self.advance(wait, &|h| !h.outbox.is_empty());
        Ok(self.outbox.pop_front())
    }

    async fn connect(&mut self, addr: SocketAddr) -> Result<(SockId, SocketAddr), ConnectError> {
        if !self.ips.contains(&addr.ip()) || !self.listening.contains(&addr.port()) {
            return Err(ConnectError::Refused);
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let peer = SocketAddr::new(
            PEER_IP,
            30000u16.wrapping_add(u16::try_from(id % 30000).unwrap_or(0)),
        );
        self.conns.insert(id, SimConn::default());
        let now = self.now();
        self.engine
            .handle_connection(now, ConnId(id), addr.port(), peer);
        self.pump();
        Ok((SockId(id), peer))
    }

    async fn write(&mut self, sock: SockId, data: &[u8]) -> Result<(), HarnessError> {
        let target = match self.conns.get_mut(&sock.0) {
            Some(c) if c.closed || c.wrote_eof || c.ended => None,
            Some(c) => match c.bridge {
                Some(b) => Some(b),
                None => {
                    c.pending.extend_from_slice(data);
                    None
                }
            },
            None => None,
        };
        if let Some(b) = target {
            self.relay(b, data);
        }
        Ok(())
    }

    async fn shutdown_write(&mut self, sock: SockId) -> Result<(), HarnessError> {
        let peer = match self.conns.get_mut(&sock.0) {
            Some(c) if !c.wrote_eof => {
                c.wrote_eof = true;
                c.bridge
            }
            _ => None,
        };
        if let Some(p) = peer {
            self.half_close_from(sock.0, p);
        }
        self.pump();
        Ok(())
    }

    async fn close(&mut self, sock: SockId) {
        let known = match self.conns.get_mut(&sock.0) {
            Some(c) if !c.closed => {
                c.closed = true;
                c.wrote_eof = true;
                true
            }
            _ => false,
        };
        if known {
            self.end_from(sock.0);
            self.pump();
        }
    }

    async fn read(&mut self, sock: SockId, wait: Duration) -> Result<ReadEvent, HarnessError> {
        let id = sock.0;
        self.advance(wait, &|h| {
            h.conns
                .get(&id)
                .is_none_or(|c| !c.readable.is_empty() || c.eof)
        });
        Ok(match self.conns.get_mut(&id) {
            None => ReadEvent::Eof,
            Some(c) if !c.readable.is_empty() => ReadEvent::Data(std::mem::take(&mut c.readable)),
            Some(c) if c.eof => ReadEvent::Eof,
            Some(_) => ReadEvent::Timeout,
        })
    }

    async fn sleep(&mut self, d: Duration) {
        self.advance(d, &|_| false);
    }

    async fn reset(&mut self) -> Result<(), HarnessError> {
        let open: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.closed)
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            self.close(SockId(id)).await;
        }
        self.conns.clear();
        self.outbox.clear();
        Ok(())
    }
}

/// The reference service with [`reference_config`], ready for a run.
pub fn reference_host() -> Result<InprocHost<pass_core::service::Service>, String> {
    let config = reference_config();
    let timeout = config.answer_timeout;
    let ips = config.advertised.clone();
    let service =
        pass_core::service::Service::new(config).map_err(|e| format!("reference config: {e}"))?;
    Ok(InprocHost::new(service, SERVICE_JID, ips, timeout))
}
