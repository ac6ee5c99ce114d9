//! [`Sim`]: the simulated host, driving an [`Engine`] as `pass-node` does.

use super::checks::{Checks, Violation};
use super::pipe::{Conn, ConnView, Relay};
use crate::engine::Engine;
use crate::lease::{Action, ConnId, ListenError};
use crate::stanza::Iq;
use crate::time::{Duration, Instant};
use crate::xml::Element;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::vec::Vec;
use core::net::SocketAddr;

/// Most actions carried out in one drain: an engine that keeps producing actions
/// is cut off, not waited on.
const MAX_ACTIONS: usize = 1_000_000;
/// Most deadlines fired while time passes in one call.
const MAX_STEPS: usize = 1_000_000;
/// Rounds of "fire due timers, drain" after which a deadline still due is a
/// violation: the engine fires everything due at once, so one is enough.
const MAX_TIMEOUT_ROUNDS: usize = 4;
/// Which byte of each relayed direction [`HostFault::CorruptRelayByte`] flips.
const CORRUPT_AT: u64 = 7;

/// How the host answers an [`Action::Listen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Listens {
    /// At once, as the node does: a port the host already listens on fails with
    /// [`ListenError::AddrInUse`], any other succeeds.
    Auto,
    /// Held until the caller reports each result ([`Sim::listen_result`]), so that
    /// tests and scripts choose failures and the order of results.
    Manual,
}

/// A deliberately broken host behaviour, to prove that tests catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostFault {
    /// A side hanging up (closing both ways) is not passed on to the other side of
    /// its relay, and the relay is never torn down.
    NoDisconnectPropagation,
    /// One relayed byte of each direction is flipped.
    CorruptRelayByte,
    /// A half-close (FIN from a side that still reads) is swallowed: neither passed
    /// on through the relay nor reported.
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

/// How the simulated host behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How listens are answered.
    pub listens: Listens,
    /// How long a relay may idle after its first EOF before both sides are closed
    /// (pass-node's `half_close_timeout`, default 5 s).
    pub half_close_timeout: Duration,
    /// How long a relay may move nothing either way before it is closed
    /// (pass-node's `relay_idle_timeout`, default 600 s; `None`: no limit).
    pub idle_timeout: Option<Duration>,
    /// Check the host contract on every action; `None`: trust the engine.
    pub checks: Option<Checks>,
    /// Host faults switched on.
    pub faults: Vec<HostFault>,
    /// Keep every action carried out, for [`Sim::take_log`].
    pub keep_log: bool,
}

impl Default for SimConfig {
    /// The node's behaviour and defaults, no checks, no log.
    fn default() -> Self {
        SimConfig {
            listens: Listens::Auto,
            half_close_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(600)),
            checks: None,
            faults: Vec::new(),
            keep_log: false,
        }
    }
}

/// A connection attempt on a port nothing listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

impl core::fmt::Display for Refused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("connection refused")
    }
}

impl core::error::Error for Refused {}

/// What a peer's read gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEvent {
    /// Bytes (at least one).
    Data(Vec<u8>),
    /// The host closed its side (or the connection is unknown).
    Eof,
    /// Nothing yet.
    Nothing,
}

/// A deterministic host around an engine: virtual clock, listeners, in-memory
/// connections, relays. Every method that feeds the engine an event then carries
/// out the actions it asks for, in order, and fires what fell due, as the node's
/// driver does (see the [Engine contract](crate::engine)).
#[derive(Debug)]
pub struct Sim<E> {
    engine: E,
    config: SimConfig,
    now: Instant,
    /// The latest instant passed to the engine.
    engine_time: Instant,
    /// The instant the next engine call is stamped with, if not `now`.
    stamp_back: Option<Instant>,
    listening: BTreeSet<u16>,
    pending_listens: Vec<u16>,
    conns: BTreeMap<ConnId, Conn>,
    relays: BTreeMap<u64, Relay>,
    next_conn: u64,
    next_relay: u64,
    outbox: VecDeque<Iq>,
    log: Vec<Action>,
    violations: Vec<Violation>,
    shut_down: bool,
    /// Stopped with [`Sim::suspend`]: leases hold ports that do not listen.
    suspended: bool,
}

impl<E: Engine> Sim<E> {
    /// A host around `engine` at virtual time 0.
    pub fn new(engine: E, config: SimConfig) -> Self {
        Sim {
            engine,
            config,
            now: Instant::default(),
            engine_time: Instant::default(),
            stamp_back: None,
            listening: BTreeSet::new(),
            pending_listens: Vec::new(),
            conns: BTreeMap::new(),
            relays: BTreeMap::new(),
            next_conn: 1,
            next_relay: 1,
            outbox: VecDeque::new(),
            log: Vec::new(),
            violations: Vec::new(),
            shut_down: false,
            suspended: false,
        }
    }

    // ---- what there is to see --------------------------------------------------

    /// The engine inside.
    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// The engine inside, to drain what the host does not carry out (lease
    /// changes, DESIGN decision 52).
    pub fn engine_mut(&mut self) -> &mut E {
        &mut self.engine
    }

    /// The engine, out of its host (a fresh host can take it up).
    pub fn into_engine(self) -> E {
        self.engine
    }

    /// The host's settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The host's clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The latest instant the engine was given (an engine never goes back, so this
    /// is its idea of now).
    pub fn engine_time(&self) -> Instant {
        self.engine_time
    }

    /// Ports listening.
    pub fn listening(&self) -> &BTreeSet<u16> {
        &self.listening
    }

    /// Ports asked to listen whose result is not reported yet, oldest first
    /// ([`Listens::Manual`]).
    pub fn pending_listens(&self) -> &[u16] {
        &self.pending_listens
    }

    /// A connection the host accepted (and has not forgotten).
    pub fn conn(&self, id: ConnId) -> Option<ConnView<'_>> {
        self.conns.get(&id).map(|conn| ConnView { conn })
    }

    /// Every connection the host accepted and has not forgotten, by id.
    pub fn conns(&self) -> impl Iterator<Item = (ConnId, ConnView<'_>)> + '_ {
        self.conns.iter().map(|(id, conn)| (*id, ConnView { conn }))
    }

    /// Relays running (half-open ones included).
    pub fn relay_count(&self) -> usize {
        self.relays.len()
    }

    /// The id the next accepted connection gets.
    pub fn next_conn_id(&self) -> ConnId {
        ConnId(self.next_conn)
    }

    /// The actions carried out since the last call ([`SimConfig::keep_log`]).
    pub fn take_log(&mut self) -> Vec<Action> {
        core::mem::take(&mut self.log)
    }

    /// The oldest IQ the engine sent that nobody took yet.
    pub fn next_sent(&mut self) -> Option<Iq> {
        self.outbox.pop_front()
    }

    /// Whether the engine sent an IQ nobody took yet.
    pub fn has_sent(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Forgets the IQs nobody took.
    pub fn clear_sent(&mut self) {
        self.outbox.clear();
    }

    /// The first broken invariant [`Checks`] found, if any.
    pub fn check(&self) -> Result<(), Violation> {
        match self.violations.first() {
            Some(v) => Err(v.clone()),
            None => Ok(()),
        }
    }

    /// The instant the next engine call will be stamped with.
    pub fn next_stamp(&self) -> Instant {
        self.stamp_back.unwrap_or(self.now)
    }

    /// Every broken invariant [`Checks`] found, in order.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The host's next deadline: the engine's or a relay's idle timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        let relay = self
            .relays
            .values()
            .filter_map(|r| self.relay_deadline(r))
            .min();
        match (self.engine.poll_timeout(), relay) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- the XMPP side ----------------------------------------------------------

    /// A stanza arrives from the XMPP stream.
    pub fn stanza(&mut self, stanza: &Element) {
        let t = self.stamp();
        self.engine.handle_stanza(t, stanza);
        self.settle();
    }

    /// The host shuts the engine down (it goes on relaying; the node drains).
    pub fn shutdown(&mut self) {
        self.shut_down = true;
        let t = self.stamp();
        self.engine.shutdown(t);
        self.settle();
    }

    /// The host stops keeping its leases for the next run (DESIGN decision 53);
    /// it goes on relaying.
    pub fn suspend(&mut self) {
        self.shut_down = true;
        self.suspended = true;
        let t = self.stamp();
        self.engine.suspend(t);
        self.settle();
    }

    // ---- listens ------------------------------------------------------------------

    /// Reports the result of the pending listen on `port`; `false` if none is
    /// pending there.
    pub fn listen_result(&mut self, port: u16, result: Result<(), ListenError>) -> bool {
        let Some(i) = self.pending_listens.iter().position(|p| *p == port) else {
            return false;
        };
        self.pending_listens.remove(i);
        if result.is_ok() {
            self.listening.insert(port);
        }
        let t = self.stamp();
        self.engine.handle_listen_result(t, port, result);
        self.settle();
        true
    }

    /// Reports the result of the pending listen at `pick` (modulo their number),
    /// giving its port; `None` if no listen is pending.
    pub fn listen_result_at(
        &mut self,
        pick: usize,
        result: Result<(), ListenError>,
    ) -> Option<u16> {
        if self.pending_listens.is_empty() {
            return None;
        }
        let port = self.pending_listens[pick % self.pending_listens.len()];
        self.listen_result(port, result);
        Some(port)
    }

    /// Reports a listen result for a port the engine did not ask for (a confused
    /// host; the engine must ignore it). Nothing happens if a listen is pending there.
    pub fn spurious_listen_result(&mut self, port: u16, result: Result<(), ListenError>) {
        if self.pending_listens.contains(&port) {
            return;
        }
        let t = self.stamp();
        self.engine.handle_listen_result(t, port, result);
        self.settle();
    }

    // ---- connections ----------------------------------------------------------------

    /// A peer at `peer` connects to `port`: refused unless the host listens there.
    pub fn connect(&mut self, port: u16, peer: SocketAddr) -> Result<ConnId, Refused> {
        if !self.listening.contains(&port) {
            return Err(Refused);
        }
        Ok(self.accept(port, peer))
    }

    /// The host hands the engine a connection on `port` whether it listens there or
    /// not (a listener closed while accepting; the node filters these, the engine
    /// must cope anyway).
    pub fn accept_stray(&mut self, port: u16, peer: SocketAddr) -> ConnId {
        self.accept(port, peer)
    }

    fn accept(&mut self, port: u16, peer: SocketAddr) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(id, Conn::new(port, peer));
        let t = self.stamp();
        self.engine.handle_connection(t, id, port, peer);
        self.settle();
        id
    }

    /// The peer of `conn` writes `data` (lost if it can write no more, or if the
    /// host is done with the connection).
    pub fn write(&mut self, conn: ConnId, data: &[u8]) {
        let relay = match self.conns.get_mut(&conn) {
            Some(c) if !c.write_shut && !c.ended => {
                c.unrelayed.extend_from_slice(data);
                c.relay
            }
            _ => return,
        };
        if let Some(r) = relay {
            self.flow(r);
            self.settle();
        }
    }

    /// The peer of `conn` shuts down its write side (FIN) and goes on reading.
    pub fn shutdown_write(&mut self, conn: ConnId) {
        let hide = self.has(HostFault::NoHalfClose);
        match self.conns.get_mut(&conn) {
            Some(c) if !c.write_shut => {
                c.write_shut = true;
                c.fin = !hide;
            }
            _ => return,
        }
        self.saw_fin(conn);
    }

    /// The peer of `conn` closes it both ways.
    pub fn close(&mut self, conn: ConnId) {
        match self.conns.get_mut(&conn) {
            Some(c) if !c.closed => {
                c.closed = true;
                c.write_shut = true;
                c.fin = true;
            }
            _ => return,
        }
        self.saw_fin(conn);
    }

    /// Reports `conn` closed to the engine once more, whatever its state (hosts may
    /// report twice; the engine must ignore it).
    pub fn report_closed_again(&mut self, conn: ConnId) {
        let t = self.stamp();
        self.engine.handle_closed(t, conn);
        self.settle();
    }

    /// What the peer of `conn` reads now.
    pub fn read(&mut self, conn: ConnId) -> ReadEvent {
        match self.conns.get_mut(&conn) {
            None => ReadEvent::Eof,
            Some(c) if !c.readable.is_empty() => ReadEvent::Data(core::mem::take(&mut c.readable)),
            Some(c) if c.eof => ReadEvent::Eof,
            Some(_) => ReadEvent::Nothing,
        }
    }

    /// Every peer closes its connection.
    pub fn close_all(&mut self) {
        let open: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.closed)
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            self.close(id);
        }
    }

    /// Forgets the connections their peers closed and that are in no running
    /// relay (what the engine does with them later is ignored).
    pub fn forget_closed(&mut self) {
        let relays = &self.relays;
        self.conns
            .retain(|_, c| !c.closed || c.relay.is_some_and(|r| relays.contains_key(&r)));
    }

    // ---- time -------------------------------------------------------------------------

    /// Time passes by `by`, firing every deadline on the way.
    pub fn advance(&mut self, by: Duration) {
        let t = self.now + by;
        self.advance_to(t);
    }

    /// Time passes up to `t` (never back), firing every deadline on the way.
    pub fn advance_to(&mut self, t: Instant) {
        self.run_until(t, |_| false);
    }

    /// Time passes, deadline by deadline, until `done` holds or `t` is reached;
    /// returns whether `done` holds. The clock stays where `done` became true.
    pub fn run_until(&mut self, t: Instant, done: impl Fn(&Self) -> bool) -> bool {
        for _ in 0..MAX_STEPS {
            if done(self) {
                return true;
            }
            match self.next_deadline() {
                Some(d) if d <= t => {
                    self.now = self.now.max(d);
                    self.fire_due();
                }
                _ => break,
            }
        }
        if done(self) {
            return true;
        }
        self.now = self.now.max(t);
        done(self)
    }

    /// Time jumps to the next deadline, if there is one, and fires it.
    pub fn to_next_deadline(&mut self) {
        if let Some(d) = self.next_deadline() {
            self.now = self.now.max(d);
            self.fire_due();
        }
    }

    /// The host's timer wakes the engine now, due or not (an early wake-up is
    /// harmless: the engine fires only what fell due).
    pub fn wake(&mut self) {
        let t = self.stamp();
        self.engine.handle_timeout(t);
        self.settle();
    }

    /// A late timer: [`Engine::handle_timeout`] with an instant `by` before the
    /// host's clock (the engine must take it as the latest instant it saw).
    pub fn late_timeout(&mut self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let past = Instant::from_millis(self.now.as_millis().saturating_sub(by));
        self.engine_time = self.engine_time.max(past);
        self.engine.handle_timeout(past);
        self.settle();
    }

    /// Stamps the next engine call with `at` instead of the clock (an instant in the
    /// past, to check that the engine never goes back).
    pub fn stamp_next_call(&mut self, at: Instant) {
        self.stamp_back = Some(at);
    }

    // ---- carrying out actions ------------------------------------------------------

    /// Carries out `action` as if the engine had asked for it (checked like the
    /// engine's own), then what it caused.
    pub fn carry_out(&mut self, action: Action) {
        self.apply(action);
        self.settle();
    }

    fn has(&self, fault: HostFault) -> bool {
        self.config.faults.contains(&fault)
    }

    /// The instant for the next engine call.
    fn stamp(&mut self) -> Instant {
        let t = self.stamp_back.take().unwrap_or(self.now);
        self.engine_time = self.engine_time.max(t);
        t
    }

    fn violation(&mut self, message: alloc::string::String) {
        if self.config.checks.is_some() {
            self.violations.push(Violation::new(message));
        }
    }

    /// Drains the engine's actions, then fires what fell due by now.
    fn settle(&mut self) {
        self.drain();
        self.fire_due();
    }

    fn drain(&mut self) {
        for _ in 0..MAX_ACTIONS {
            match self.engine.poll_action() {
                Some(action) => self.apply(action),
                None => break,
            }
        }
        self.check_balance();
    }

    /// Fires every deadline at or before the clock: the engine's (as often as it
    /// asks, up to a bound) and the relays' idle timers.
    fn fire_due(&mut self) {
        let mut stale = 0;
        for _ in 0..MAX_STEPS {
            let mut fired = false;
            if self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
                let t = self.stamp();
                self.engine.handle_timeout(t);
                self.drain();
                fired = true;
                if self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
                    stale += 1;
                    if stale >= MAX_TIMEOUT_ROUNDS {
                        let due = self.engine.poll_timeout();
                        let now = self.now;
                        self.violation(format!(
                            "poll_timeout still says {due:?} after handle_timeout({now:?})"
                        ));
                        return;
                    }
                }
            }
            let due: Vec<u64> = self
                .relays
                .iter()
                .filter(|(_, r)| self.relay_deadline(r).is_some_and(|d| d <= self.now))
                .map(|(id, _)| *id)
                .collect();
            for id in due {
                self.end_relay(id);
                fired = true;
            }
            if !fired {
                return;
            }
            self.drain();
        }
    }

    fn relay_deadline(&self, r: &Relay) -> Option<Instant> {
        if r.immortal {
            None
        } else if r.first_eof.is_some() {
            Some(r.last_activity + self.config.half_close_timeout)
        } else {
            self.config.idle_timeout.map(|d| r.last_activity + d)
        }
    }

    fn apply(&mut self, action: Action) {
        if self.config.keep_log {
            self.log.push(action.clone());
        }
        match action {
            Action::Send(iq) => {
                if let Some(checks) = &self.config.checks {
                    if let Err(v) = checks.sent(&iq) {
                        self.violations.push(v);
                    }
                }
                self.outbox.push_back(iq);
            }
            Action::Listen { port } => self.listen(port),
            Action::Unlisten { port } => {
                if !self.listening.contains(&port) {
                    let pending = self.pending_listens.contains(&port);
                    self.violation(format!(
                        "Unlisten on port {port}, which is not listening (pending: {pending})"
                    ));
                }
                if !self.has(HostFault::IgnoreUnlisten) {
                    self.listening.remove(&port);
                }
            }
            Action::Bridge { client, owner, .. } => self.bridge(client, owner),
            Action::Drop { conn } => self.drop_conn(conn),
        }
    }

    fn listen(&mut self, port: u16) {
        if let Some(checks) = &self.config.checks {
            if !checks.in_pool(port) {
                self.violation(format!("Listen on port {port}, outside the pool"));
            }
        }
        if self.pending_listens.contains(&port) {
            self.violation(format!("Listen on port {port}, already asked to listen"));
            return;
        }
        if self.listening.contains(&port) {
            self.violation(format!("Listen on port {port}, already listening"));
        }
        match self.config.listens {
            Listens::Manual => self.pending_listens.push(port),
            Listens::Auto => {
                let result = if self.listening.insert(port) {
                    Ok(())
                } else {
                    Err(ListenError::AddrInUse)
                };
                let t = self.stamp();
                self.engine.handle_listen_result(t, port, result);
            }
        }
    }

    fn held(&self, conn: ConnId) -> bool {
        self.conns.get(&conn).is_some_and(|c| !c.ended)
    }

    /// The node's `do_drop`: a waiting connection is closed; a relayed one cuts its
    /// relay, and the other side is reported (unless its EOF was already).
    fn drop_conn(&mut self, conn: ConnId) {
        if !self.held(conn) {
            self.violation(format!("Drop of {conn}, which the host does not hold"));
            return;
        }
        let relay = self.conns.get(&conn).and_then(|c| c.relay);
        match relay.and_then(|id| self.relays.remove(&id)) {
            Some(r) => {
                for side in [r.client, r.owner] {
                    if let Some(c) = self.conns.get_mut(&side) {
                        c.end();
                    }
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.reported = true;
                }
                self.report(r.other(conn));
            }
            None => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.end();
                    c.reported = true;
                }
            }
        }
    }

    /// The node's `do_bridge`: both sides still there start a relay; otherwise
    /// both are reported closed (the one still there is closed too).
    fn bridge(&mut self, client: ConnId, owner: ConnId) {
        if client == owner {
            self.violation(format!("Bridge of {client} with itself"));
            return;
        }
        for c in [client, owner] {
            if !self.held(c) {
                self.violation(format!("Bridge names {c}, which the host does not hold"));
            } else if self.conns.get(&c).is_some_and(|c| c.relay.is_some()) {
                self.violation(format!("Bridge names {c}, which is already bridged"));
                return;
            }
        }
        if !self.held(client) || !self.held(owner) {
            for c in [client, owner] {
                if let Some(conn) = self.conns.get_mut(&c) {
                    conn.end();
                    conn.reported = true;
                }
                let t = self.stamp();
                self.engine.handle_closed(t, c);
            }
            return;
        }
        let id = self.next_relay;
        self.next_relay += 1;
        self.relays.insert(
            id,
            Relay {
                client,
                owner,
                first_eof: None,
                done: [false, false],
                last_activity: self.now,
                immortal: false,
            },
        );
        for c in [client, owner] {
            if let Some(conn) = self.conns.get_mut(&c) {
                conn.relay = Some(id);
            }
        }
        self.flow(id);
    }

    /// The host saw `conn`'s FIN (or its peer closed): a relay passes it on; a
    /// waiting connection with nothing unread is over (the node's watcher peeks:
    /// a FIN behind unread bytes is the relay's to deliver).
    fn saw_fin(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.ended {
            return;
        }
        match c.relay {
            Some(r) => self.flow(r),
            None => {
                if c.fin && c.unrelayed.is_empty() {
                    c.end();
                    self.report(conn);
                }
            }
        }
        self.settle();
    }

    /// Moves what each side of relay `id` wrote to the other side, passes EOFs
    /// on, reports the first one, and ends the relay when both are through.
    fn flow(&mut self, id: u64) {
        let Some(dirs) = self.relays.get(&id).map(Relay::directions) else {
            return;
        };
        let corrupt = self.has(HostFault::CorruptRelayByte);
        let keep_disconnects = self.has(HostFault::NoDisconnectPropagation);
        for (src, dst, i) in dirs {
            let (bytes, fin, src_closed) = match self.conns.get_mut(&src) {
                Some(c) => (core::mem::take(&mut c.unrelayed), c.fin, c.closed),
                None => continue,
            };
            if !bytes.is_empty() {
                let dst_closed = self.conns.get(&dst).is_none_or(|c| c.closed);
                if dst_closed {
                    // Writing to a peer that closed: the node's write fails (a
                    // reset) and the relay ends.
                    self.end_relay(id);
                    return;
                }
                if let Some(c) = self.conns.get_mut(&dst) {
                    deliver(c, &bytes, corrupt);
                }
                if let Some(r) = self.relays.get_mut(&id) {
                    r.last_activity = self.now;
                }
            }
            let Some(r) = self.relays.get_mut(&id) else {
                return;
            };
            if fin && !r.done[i] {
                r.done[i] = true;
                let first = r.first_eof.is_none();
                if first {
                    r.first_eof = Some(src);
                    // The half-close timer starts at the first EOF.
                    r.last_activity = self.now;
                }
                if keep_disconnects && src_closed {
                    r.immortal = true;
                } else if let Some(c) = self.conns.get_mut(&dst) {
                    c.eof = true;
                }
                if first {
                    // The session is over for the engine at the first EOF.
                    self.report(src);
                }
            }
        }
        if self.relays.get(&id).is_some_and(|r| r.done == [true, true]) {
            self.end_relay(id);
        }
    }

    /// Relay `id` is over: both sides are closed and those not reported yet are.
    fn end_relay(&mut self, id: u64) {
        let Some(r) = self.relays.remove(&id) else {
            return;
        };
        for side in [r.client, r.owner] {
            if let Some(c) = self.conns.get_mut(&side) {
                c.end();
            }
        }
        for side in [r.client, r.owner] {
            self.report(side);
        }
    }

    /// Tells the engine `conn` closed, once.
    fn report(&mut self, conn: ConnId) {
        match self.conns.get_mut(&conn) {
            Some(c) if !c.reported => c.reported = true,
            _ => return,
        }
        let t = self.stamp();
        self.engine.handle_closed(t, conn);
    }

    /// The pool balances (free + quarantined + held by the host = its size) and
    /// the engine counts as many relays as the host runs with no side reported.
    fn check_balance(&mut self) {
        let Some(checks) = &self.config.checks else {
            return;
        };
        let stats = self.engine.stats();
        let mut held = self
            .pending_listens
            .iter()
            .chain(&self.listening)
            .filter(|p| checks.in_pool(**p))
            .count();
        if self.suspended {
            // Suspended leases hold their ports without listening (decision 53).
            held += self
                .engine
                .lease_records()
                .iter()
                .filter(|r| {
                    !self.listening.contains(&r.port) && !self.pending_listens.contains(&r.port)
                })
                .count();
        }
        let pool = checks.pool_size();
        if stats.ports_free + stats.ports_quarantined + held != pool {
            let message = format!(
                "pool out of balance: {} free + {} quarantined + {held} held by the host \
                 (pending {:?}, listening {:?}) != {pool}",
                stats.ports_free, stats.ports_quarantined, self.pending_listens, self.listening
            );
            self.violations.push(Violation::new(message));
        }
        let live = self
            .relays
            .values()
            .filter(|r| r.first_eof.is_none())
            .count();
        if !self.shut_down && stats.relays != live {
            let message = format!(
                "the engine counts {} relays, the host runs {live} with no side closed",
                stats.relays
            );
            self.violations.push(Violation::new(message));
        }
    }
}

/// Appends relayed bytes to what `to`'s peer can read, flipping byte
/// [`CORRUPT_AT`] of the direction if `corrupt`.
fn deliver(to: &mut Conn, data: &[u8], corrupt: bool) {
    if to.closed {
        return;
    }
    let start = to.relayed_in;
    to.relayed_in += data.len() as u64;
    let at = to.readable.len();
    to.readable.extend_from_slice(data);
    if corrupt && start <= CORRUPT_AT && CORRUPT_AT < start + data.len() as u64 {
        let i = at + usize::try_from(CORRUPT_AT - start).unwrap_or(0);
        if let Some(byte) = to.readable.get_mut(i) {
            *byte ^= 0x20;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The host's side of the Engine contract, against an engine that records what
    //! it is told and asks for what the test queues.

    use super::*;
    use alloc::vec;

    #[derive(Debug, Default)]
    struct Recorder {
        closed: Vec<ConnId>,
        queued: VecDeque<Action>,
    }

    impl Engine for Recorder {
        fn handle_stanza(&mut self, _: Instant, _: &Element) {}
        fn handle_listen_result(&mut self, _: Instant, _: u16, _: Result<(), ListenError>) {}
        fn handle_connection(&mut self, _: Instant, _: ConnId, _: u16, _: SocketAddr) {}
        fn handle_closed(&mut self, _: Instant, conn: ConnId) {
            self.closed.push(conn);
        }
        fn handle_timeout(&mut self, _: Instant) {}
        fn shutdown(&mut self, _: Instant) {}
        fn poll_action(&mut self) -> Option<Action> {
            self.queued.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    const PORT: u16 = 40000;

    fn peer() -> SocketAddr {
        SocketAddr::from(([203, 0, 113, 7], 30000))
    }

    fn sim(faults: Vec<HostFault>) -> Sim<Recorder> {
        let config = SimConfig {
            faults,
            ..SimConfig::default()
        };
        let mut sim = Sim::new(Recorder::default(), config);
        sim.carry_out(Action::Listen { port: PORT });
        sim
    }

    fn ask(sim: &mut Sim<Recorder>, action: Action) {
        sim.engine.queued.push_back(action);
        sim.settle();
    }

    /// A running relay: (client, owner).
    fn relay(sim: &mut Sim<Recorder>) -> (ConnId, ConnId) {
        let client = sim.connect(PORT, peer()).unwrap();
        let owner = sim.connect(PORT, peer()).unwrap();
        let account = crate::jid::Jid::new("a@example.org").unwrap();
        ask(
            sim,
            Action::Bridge {
                client,
                owner,
                account,
            },
        );
        (client, owner)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_first_eof_of_a_relay_is_reported_at_once_and_the_other_way_drains() {
        let mut sim = sim(vec![]);
        let (client, owner) = relay(&mut sim);
        sim.write(client, b"bye");
        sim.shutdown_write(client);
        // docs/DESIGN.md decision 17: the session is over now, not when both closed.
        assert_eq!(sim.engine().closed, [client]);
        assert_eq!(sim.read(owner), ReadEvent::Data(b"bye".to_vec()));
        assert_eq!(sim.read(owner), ReadEvent::Eof);
        // The other direction still relays, and its bytes keep the relay up.
        sim.advance(secs(4));
        sim.write(owner, b"answer");
        assert_eq!(sim.read(client), ReadEvent::Data(b"answer".to_vec()));
        sim.advance(secs(4));
        assert_eq!(sim.relay_count(), 1);
        // Idle for the half-close timeout (5 s): both closed, the other reported.
        sim.advance(secs(1));
        assert_eq!(sim.relay_count(), 0);
        assert_eq!(sim.read(client), ReadEvent::Eof);
        assert_eq!(sim.engine().closed, [client, owner]);
    }

    #[test]
    fn the_half_close_timer_starts_at_the_first_eof() {
        let mut sim = sim(vec![]);
        let (client, _) = relay(&mut sim);
        sim.advance(secs(60));
        sim.shutdown_write(client);
        sim.advance(secs(4));
        assert_eq!(sim.relay_count(), 1, "idle before the EOF does not count");
        sim.advance(secs(1));
        assert_eq!(sim.relay_count(), 0);
    }

    #[test]
    fn both_eofs_end_the_relay_and_report_each_side_once() {
        let mut sim = sim(vec![]);
        let (client, owner) = relay(&mut sim);
        sim.close(owner);
        sim.close(client);
        assert_eq!(sim.engine().closed, [owner, client]);
        assert_eq!(sim.relay_count(), 0);
        sim.report_closed_again(owner);
        assert_eq!(sim.engine().closed, [owner, client, owner]);
    }

    #[test]
    fn a_relay_idle_both_ways_is_closed_after_the_idle_timeout() {
        let mut sim = sim(vec![]);
        let (client, owner) = relay(&mut sim);
        sim.advance(secs(599));
        assert!(sim.engine().closed.is_empty());
        sim.advance(secs(1));
        assert_eq!(sim.engine().closed, [client, owner]);
    }

    #[test]
    fn writing_to_a_side_that_closed_ends_the_relay() {
        let mut sim = sim(vec![]);
        let (client, owner) = relay(&mut sim);
        sim.close(client);
        sim.write(owner, b"too late");
        assert_eq!(sim.relay_count(), 0);
        assert_eq!(sim.engine().closed, [client, owner]);
    }

    #[test]
    fn a_waiting_connection_is_reported_at_a_fin_with_nothing_unread() {
        let mut sim = sim(vec![]);
        let quiet = sim.connect(PORT, peer()).unwrap();
        let talker = sim.connect(PORT, peer()).unwrap();
        sim.shutdown_write(quiet);
        assert_eq!(sim.engine().closed, [quiet]);
        assert_eq!(sim.read(quiet), ReadEvent::Eof);
        // A FIN behind unread bytes is the relay's to deliver (the node only peeks).
        sim.write(talker, b"early");
        sim.close(talker);
        assert_eq!(sim.engine().closed, [quiet]);
    }

    #[test]
    fn bytes_and_eof_sent_before_the_bridge_go_through_it() {
        let mut sim = sim(vec![]);
        let client = sim.connect(PORT, peer()).unwrap();
        let owner = sim.connect(PORT, peer()).unwrap();
        sim.write(client, b"early");
        sim.shutdown_write(client);
        assert!(sim.engine().closed.is_empty());
        let account = crate::jid::Jid::new("a@example.org").unwrap();
        ask(
            &mut sim,
            Action::Bridge {
                client,
                owner,
                account,
            },
        );
        assert_eq!(sim.read(owner), ReadEvent::Data(b"early".to_vec()));
        assert_eq!(sim.read(owner), ReadEvent::Eof);
        assert_eq!(sim.engine().closed, [client]);
    }

    #[test]
    fn dropping_one_side_cuts_the_relay_and_reports_the_other() {
        let mut sim = sim(vec![]);
        let (client, owner) = relay(&mut sim);
        ask(&mut sim, Action::Drop { conn: client });
        assert_eq!(sim.engine().closed, [owner]);
        assert_eq!(sim.read(client), ReadEvent::Eof);
        assert_eq!(sim.read(owner), ReadEvent::Eof);
    }

    #[test]
    fn a_bridge_of_a_side_that_hung_up_reports_both() {
        let mut sim = sim(vec![]);
        let client = sim.connect(PORT, peer()).unwrap();
        let owner = sim.connect(PORT, peer()).unwrap();
        sim.close(client);
        let account = crate::jid::Jid::new("a@example.org").unwrap();
        ask(
            &mut sim,
            Action::Bridge {
                client,
                owner,
                account,
            },
        );
        assert_eq!(sim.engine().closed, [client, client, owner]);
        assert_eq!(sim.read(owner), ReadEvent::Eof);
    }

    #[test]
    fn listens_are_refused_until_asked_and_after_unlisten() {
        let mut sim = sim(vec![]);
        assert_eq!(sim.connect(PORT + 1, peer()), Err(Refused));
        ask(&mut sim, Action::Unlisten { port: PORT });
        assert_eq!(sim.connect(PORT, peer()), Err(Refused));
        let mut faulty = self::sim(vec![HostFault::IgnoreUnlisten]);
        ask(&mut faulty, Action::Unlisten { port: PORT });
        assert!(faulty.connect(PORT, peer()).is_ok());
    }

    #[test]
    fn host_faults_break_what_they_say() {
        let mut sim = self::sim(vec![HostFault::NoHalfClose]);
        let (client, owner) = relay(&mut sim);
        sim.shutdown_write(client);
        assert!(sim.engine().closed.is_empty());
        assert_eq!(sim.read(owner), ReadEvent::Nothing);

        let mut sim = self::sim(vec![HostFault::NoDisconnectPropagation]);
        let (client, owner) = relay(&mut sim);
        sim.close(client);
        sim.advance(secs(3600));
        assert_eq!(sim.engine().closed, [client]);
        assert_eq!(sim.read(owner), ReadEvent::Nothing);

        let mut sim = self::sim(vec![HostFault::CorruptRelayByte]);
        let (client, owner) = relay(&mut sim);
        sim.write(client, b"0123");
        sim.write(client, b"4567");
        assert_eq!(sim.read(owner), ReadEvent::Data(b"0123456\x17".to_vec()));
    }
}
