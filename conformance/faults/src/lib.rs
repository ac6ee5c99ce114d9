//! Deliberately broken PASS engines: the proof that `pass-conformance` catches
//! faults. [`FaultyEngine`] wraps any [`Engine`] and switches one behaviour off or
//! makes it wrong, by filtering or rewriting the events that go in and the actions
//! that come out. `no_std` (with `alloc`) so it also builds for `wasm32-wasip1`.
//! Each fault declares the conformance cases that must catch it ([`Fault::caught_by`]).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod caught;

pub use caught::{fail, repeated_case, warn, Catch, Verdict};

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use core::net::{IpAddr, SocketAddr};
use pass_core::engine::Engine;
use pass_core::jid::Jid;
use pass_core::lease::{Action, ConnId, ListenError};
use pass_core::ns;
use pass_core::stanza::{Condition, ErrorType, Iq, IqType, PassError, PassMessage, StanzaError};
use pass_core::time::{Duration, Instant};
use pass_core::xml::{Element, Node};

/// One broken behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// §4.1: the expire notice is never sent.
    NoExpireNotice,
    /// §4.2: the oneshot notice is never sent.
    NoOneshotNotice,
    /// §4.3: a close from someone else is acknowledged instead of refused with 401.
    CloseWithoutOwnerCheck,
    /// Error tables: 404 item-not-found is sent where 401 not-authorized is due.
    WrongErrorCode,
    /// §5.2: an owner's deny is taken as an accept.
    DenyIgnored,
    /// DESIGN decision 8: malformed requests get no answer at all.
    SilentOnMalformed,
    /// §2: after a relay the lease port does not listen again.
    NoRelisten,
    /// §3/§4: requests and notices go to another resource than the owner's.
    NoticeToWrongJid,
    /// §2: the registration result's `<server/>` has no port.
    MissingServerPort,
    /// §3/§5.2: the client socket is never dropped (deny, error, no answer).
    NoClientDrop,
    /// §3: `<client/>` names a wrong port for the remote end.
    WrongClientPort,
    /// Error tables: every error carries a `type` other than XEP-0086's for its code
    /// (`wait` where the mapping says otherwise, `cancel` for 502).
    WrongErrorType,
    /// §4.1: the lease expires, and its notice comes, after a third of the `<expire/>`
    /// asked for.
    ExpireNoticeEarly,
    /// §4.1: the expire notice is held back 5 s after the lease expired.
    ExpireNoticeLate,
    /// §3: a caller is hung up on at once; the owner is never asked.
    CallerDroppedAtOnce,
    /// Error tables: errors are sent from another JID than the service's.
    ErrorFromWrongJid,
    // Sequence faults (DESIGN decision 133): each shows only after a sequence of
    // operations no catalogue case performs; `pass-conformance explore` finds them.
    /// §4.1/§4.3: a close does not cancel the lease's expiry timer; the expire notice
    /// comes anyway, for a lease that ended.
    StaleExpireTimer,
    /// Each session's proxy port is never returned to the pool: after
    /// [`LEAK_EXHAUSTS_AFTER`] sessions the pool is exhausted and every registration
    /// gets 502.
    ProxyPortLeak,
    /// §4.3: with two leases on one account, a close of one closes the other.
    CloseOtherLease,
    /// §3/§4: notices go to the resource of the owner's account that spoke last,
    /// not to the full JID that registered the lease.
    NoticeToLatestResource,
    /// §4.1: each session restarts the lease's expiry.
    ExpiryRestartedBySession,
    /// §2: after a session the owner (rather than the caller) ended, the lease port
    /// does not listen again.
    NoRelistenAfterOwnerHangUp,
}

/// Sessions after which [`Fault::ProxyPortLeak`] has leaked the whole pool (more
/// than the whole catalogue relays, so that only a long sequence shows it).
pub const LEAK_EXHAUSTS_AFTER: u32 = 40;

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 22] = [
        Fault::NoExpireNotice,
        Fault::NoOneshotNotice,
        Fault::CloseWithoutOwnerCheck,
        Fault::WrongErrorCode,
        Fault::DenyIgnored,
        Fault::SilentOnMalformed,
        Fault::NoRelisten,
        Fault::NoticeToWrongJid,
        Fault::MissingServerPort,
        Fault::NoClientDrop,
        Fault::WrongClientPort,
        Fault::WrongErrorType,
        Fault::ExpireNoticeEarly,
        Fault::ExpireNoticeLate,
        Fault::CallerDroppedAtOnce,
        Fault::ErrorFromWrongJid,
        Fault::StaleExpireTimer,
        Fault::ProxyPortLeak,
        Fault::CloseOtherLease,
        Fault::NoticeToLatestResource,
        Fault::ExpiryRestartedBySession,
        Fault::NoRelistenAfterOwnerHangUp,
    ];

    /// The faults only a sequence of operations shows (no catalogue case catches
    /// them; `pass-conformance explore` does, DESIGN decision 133).
    pub const SEQUENCE: [Fault; 6] = [
        Fault::StaleExpireTimer,
        Fault::ProxyPortLeak,
        Fault::CloseOtherLease,
        Fault::NoticeToLatestResource,
        Fault::ExpiryRestartedBySession,
        Fault::NoRelistenAfterOwnerHangUp,
    ];

    /// Whether only a sequence of operations shows this fault.
    pub fn is_sequence(self) -> bool {
        Fault::SEQUENCE.contains(&self)
    }

    /// A stable, kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::NoExpireNotice => "no-expire-notice",
            Fault::NoOneshotNotice => "no-oneshot-notice",
            Fault::CloseWithoutOwnerCheck => "close-without-owner-check",
            Fault::WrongErrorCode => "wrong-error-code",
            Fault::DenyIgnored => "deny-ignored",
            Fault::SilentOnMalformed => "silent-on-malformed",
            Fault::NoRelisten => "no-relisten",
            Fault::NoticeToWrongJid => "notice-to-wrong-jid",
            Fault::MissingServerPort => "missing-server-port",
            Fault::NoClientDrop => "no-client-drop",
            Fault::WrongClientPort => "wrong-client-port",
            Fault::WrongErrorType => "wrong-error-type",
            Fault::ExpireNoticeEarly => "expire-notice-early",
            Fault::ExpireNoticeLate => "expire-notice-late",
            Fault::CallerDroppedAtOnce => "caller-dropped-at-once",
            Fault::ErrorFromWrongJid => "error-from-wrong-jid",
            Fault::StaleExpireTimer => "stale-expire-timer",
            Fault::ProxyPortLeak => "proxy-port-leak",
            Fault::CloseOtherLease => "close-other-lease",
            Fault::NoticeToLatestResource => "notice-to-latest-resource",
            Fault::ExpiryRestartedBySession => "expiry-restarted-by-session",
            Fault::NoRelistenAfterOwnerHangUp => "no-relisten-after-owner-hang-up",
        }
    }

    /// The fault with this [`name`](Fault::name).
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// An engine with one fault switched on.
#[derive(Debug)]
pub struct FaultyEngine<E: Engine> {
    inner: E,
    fault: Fault,
    /// Actions the fault adds, handed out before the inner engine's next one.
    extra: VecDeque<Action>,
    /// The port each connection came in on.
    conn_ports: BTreeMap<ConnId, u16>,
    /// Lease ports that must not listen again (NoRelisten).
    dead_ports: BTreeSet<u16>,
    /// The latest `now` the host gave (the clock actions are held against).
    now: Instant,
    /// The connection that came in last (CallerDroppedAtOnce drops it).
    last_conn: Option<ConnId>,
    /// Notices held back, with when they go out (ExpireNoticeLate).
    held: VecDeque<(Instant, Action)>,
    /// What the sequence faults track of the service as seen from outside.
    seq: Sequence,
}

/// A lease as the sequence faults know it (from the register result).
#[derive(Debug, Clone)]
struct Known {
    owner: Jid,
    host: alloc::string::String,
    /// The expiry asked for, kept by the wrapper (StaleExpireTimer,
    /// ExpiryRestartedBySession), and when it is due.
    expire: Option<(Duration, Instant)>,
}

/// The sequence faults' bookkeeping.
#[derive(Debug, Default)]
struct Sequence {
    /// The service's JID (from the first thing it sent).
    service: Option<Jid>,
    /// Register requests in flight: id → (from, expiry kept by the wrapper).
    registers: BTreeMap<alloc::string::String, (Jid, Option<Duration>)>,
    /// Close requests in flight: id → port closed.
    closes: BTreeMap<alloc::string::String, u16>,
    /// Live leases by port.
    leases: BTreeMap<u16, Known>,
    /// The full JID of each account that spoke last.
    latest: BTreeMap<alloc::string::String, Jid>,
    /// Relays: owner connection → lease port.
    relays: BTreeMap<ConnId, u16>,
    /// Relays: client connection → owner connection.
    relay_clients: BTreeMap<ConnId, ConnId>,
    /// Sessions bridged so far (ProxyPortLeak).
    sessions: u32,
    /// Closed leases whose expiry timer was not cancelled (StaleExpireTimer).
    stale: alloc::vec::Vec<(u16, Known)>,
    /// Ids of what the wrapper itself sent or asked (their answers are swallowed).
    own_ids: BTreeSet<alloc::string::String>,
    next_own: u64,
}

/// How long ExpireNoticeLate holds a notice: well beyond any sensible tolerance.
const LATE_BY: Duration = Duration::from_secs(5);

/// The JID ErrorFromWrongJid sends errors from.
const WRONG_SENDER: &str = "elsewhere.invalid";

impl<E: Engine> FaultyEngine<E> {
    /// Wraps `inner` with `fault` on.
    pub fn new(inner: E, fault: Fault) -> Self {
        FaultyEngine {
            inner,
            fault,
            extra: VecDeque::new(),
            conn_ports: BTreeMap::new(),
            dead_ports: BTreeSet::new(),
            now: Instant::default(),
            last_conn: None,
            held: VecDeque::new(),
            seq: Sequence::default(),
        }
    }

    /// The fault.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// The wrapped engine.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// The fault's view of an outgoing action: `None` swallows it.
    fn filter(&mut self, action: Action) -> Option<Action> {
        match (self.fault, action) {
            (Fault::NoExpireNotice, Action::Send(iq)) if is_set_with(&iq, "expire") => None,
            (Fault::NoOneshotNotice, Action::Send(iq)) if is_set_with(&iq, "oneshot") => None,
            (Fault::CloseWithoutOwnerCheck, Action::Send(mut iq))
                if error_is(&iq, 401, Condition::NotAuthorized) =>
            {
                iq.kind = IqType::Result;
                iq.error = None;
                iq.payload = Some(Element::new("query", ns::PASS));
                Some(Action::Send(iq))
            }
            (Fault::WrongErrorCode, Action::Send(mut iq))
                if error_is(&iq, 401, Condition::NotAuthorized) =>
            {
                if let Some(e) = iq.error.as_mut() {
                    e.code = Some(404);
                    e.condition = Some(Condition::ItemNotFound);
                    e.kind = Some(ErrorType::Cancel);
                }
                Some(Action::Send(iq))
            }
            (Fault::SilentOnMalformed, Action::Send(iq))
                if error_is(&iq, 400, Condition::BadRequest) =>
            {
                None
            }
            (Fault::NoticeToWrongJid, Action::Send(mut iq))
                if is_set_with(&iq, "expire")
                    || is_set_with(&iq, "oneshot")
                    || is_set_with(&iq, "client") =>
            {
                if let Some(to) = &iq.to {
                    let wrong = format!("{}/wrong-resource", to.to_bare());
                    iq.to = Jid::new(&wrong).ok().or(iq.to.take());
                }
                Some(Action::Send(iq))
            }
            (Fault::MissingServerPort, Action::Send(mut iq)) if iq.kind == IqType::Result => {
                if let Some(q) = iq.payload.as_mut().filter(|q| q.is("query", ns::PASS)) {
                    for n in q.children.iter_mut() {
                        if let Node::Element(e) = n {
                            if e.is("server", ns::PASS) {
                                e.attributes.retain(|a| a.name != "port");
                            }
                        }
                    }
                }
                Some(Action::Send(iq))
            }
            (Fault::WrongClientPort, Action::Send(mut iq)) if is_set_with(&iq, "client") => {
                if let Some(q) = iq.payload.as_mut() {
                    for n in q.children.iter_mut() {
                        if let Node::Element(e) = n {
                            if e.is("client", ns::PASS) {
                                let port = e
                                    .attr("port")
                                    .and_then(|p| p.parse::<u16>().ok())
                                    .unwrap_or(0);
                                e.set_attr("port", &format!("{}", port.wrapping_add(1)));
                            }
                        }
                    }
                }
                Some(Action::Send(iq))
            }
            (Fault::NoClientDrop, Action::Drop { .. }) => None,
            (Fault::WrongErrorType, Action::Send(mut iq)) if iq.kind == IqType::Error => {
                if let Some(e) = iq.error.as_mut() {
                    let mapped = e.condition.map(|c| c.legacy().1);
                    e.kind = Some(match (e.code, mapped) {
                        (Some(502), _) | (_, Some(ErrorType::Wait)) => ErrorType::Cancel,
                        _ => ErrorType::Wait,
                    });
                }
                Some(Action::Send(iq))
            }
            (Fault::ExpireNoticeLate, Action::Send(iq)) if is_set_with(&iq, "expire") => {
                self.held.push_back((self.now + LATE_BY, Action::Send(iq)));
                None
            }
            (Fault::CallerDroppedAtOnce, Action::Send(iq)) if is_set_with(&iq, "client") => {
                let conn = self.last_conn.take()?;
                // The service forgets the caller as if it had hung up.
                self.inner.handle_closed(self.now, conn);
                Some(Action::Drop { conn })
            }
            (Fault::ErrorFromWrongJid, Action::Send(mut iq)) if iq.kind == IqType::Error => {
                iq.from = Jid::new(WRONG_SENDER).ok().or(iq.from.take());
                Some(Action::Send(iq))
            }
            (
                Fault::NoRelisten,
                Action::Bridge {
                    client,
                    owner,
                    account,
                },
            ) => {
                if let Some(port) = self.conn_ports.get(&client).copied() {
                    self.dead_ports.insert(port);
                    self.extra.push_back(Action::Unlisten { port });
                }
                Some(Action::Bridge {
                    client,
                    owner,
                    account,
                })
            }
            (Fault::NoRelisten, Action::Listen { port }) if self.dead_ports.contains(&port) => None,
            (Fault::NoRelisten | Fault::NoRelistenAfterOwnerHangUp, Action::Unlisten { port }) => {
                self.dead_ports.remove(&port);
                Some(Action::Unlisten { port })
            }
            (Fault::NoRelistenAfterOwnerHangUp, Action::Listen { port })
                if self.dead_ports.contains(&port) =>
            {
                None
            }
            (Fault::NoticeToLatestResource, Action::Send(mut iq))
                if is_set_with(&iq, "expire")
                    || is_set_with(&iq, "oneshot")
                    || is_set_with(&iq, "client") =>
            {
                if let Some(latest) = iq
                    .to
                    .as_ref()
                    .and_then(|to| self.seq.latest.get(&format!("{}", to.to_bare())))
                {
                    iq.to = Some(latest.clone());
                }
                Some(Action::Send(iq))
            }
            (_, Action::Send(iq)) if self.seq.own_ids.contains(&iq.id) => {
                // The answer to a close the wrapper asked for itself.
                self.seq.own_ids.remove(&iq.id);
                None
            }
            (_, a) => Some(a),
        }
    }
}

/// The sequence faults' view of the traffic (DESIGN decision 133).
impl<E: Engine> FaultyEngine<E> {
    fn own_id(&mut self) -> alloc::string::String {
        self.seq.next_own += 1;
        let id = format!("fault-{}", self.seq.next_own);
        self.seq.own_ids.insert(id.clone());
        id
    }

    /// An incoming stanza as the sequence faults see it: `None` swallows it.
    fn seq_in(&mut self, stanza: &Element) -> Option<Element> {
        let Ok(iq) = Iq::try_from(stanza) else {
            return Some(stanza.clone());
        };
        let from = iq.from.clone()?;
        if from.resource().is_some() {
            self.seq
                .latest
                .insert(format!("{}", from.to_bare()), from.clone());
        }
        if matches!(iq.kind, IqType::Result | IqType::Error) && self.seq.own_ids.remove(&iq.id) {
            // The owner's acknowledgement of a notice the wrapper sent.
            return None;
        }
        let msg = PassMessage::from_iq(&iq).ok();
        match msg {
            Some(PassMessage::Register { expire, .. }) if iq.kind == IqType::Set => {
                if self.fault == Fault::ProxyPortLeak && self.seq.sessions >= LEAK_EXHAUSTS_AFTER {
                    let refusal =
                        Iq::error_for(&iq, StanzaError::from(PassError::NoPortsAvailable));
                    self.extra.push_back(Action::Send(refusal));
                    return None;
                }
                let keeps = matches!(
                    self.fault,
                    Fault::StaleExpireTimer | Fault::ExpiryRestartedBySession
                );
                match expire.filter(|s| *s > 0) {
                    Some(secs) if keeps => {
                        self.seq
                            .registers
                            .insert(iq.id.clone(), (from, Some(Duration::from_secs(secs))));
                        return without_expire(stanza).or_else(|| Some(stanza.clone()));
                    }
                    _ => {
                        self.seq.registers.insert(iq.id.clone(), (from, None));
                    }
                }
            }
            Some(PassMessage::Close { proxy: Some(p) }) if iq.kind == IqType::Set => {
                let Some(port) = p.port else {
                    return Some(stanza.clone());
                };
                let mut closes = port;
                if self.fault == Fault::CloseOtherLease {
                    let account = from.to_bare();
                    let own = |k: &Known| k.owner.to_bare() == account;
                    let holds = self.seq.leases.get(&port).is_some_and(own);
                    let other = self
                        .seq
                        .leases
                        .iter()
                        .find(|(q, k)| **q != port && own(k))
                        .map(|(q, _)| *q);
                    if let (true, Some(other)) = (holds, other) {
                        closes = other;
                    }
                }
                self.seq.closes.insert(iq.id.clone(), closes);
                if closes != port {
                    return Some(with_close_port(stanza, closes));
                }
            }
            _ => {}
        }
        Some(stanza.clone())
    }

    /// An action of the inner engine, before the fault's filter.
    fn seq_out(&mut self, action: &Action) {
        let now = self.now;
        match action {
            Action::Send(iq) => {
                if self.seq.service.is_none() {
                    self.seq.service = iq.from.clone();
                }
                if let Some((owner, keep)) = self.seq.registers.remove(&iq.id) {
                    if let Ok(PassMessage::Registered { servers }) = PassMessage::from_iq(iq) {
                        if let Some(first) = servers.first() {
                            let known = Known {
                                owner,
                                host: format!("{}", first.ip()),
                                expire: keep.map(|d| (d, now + d)),
                            };
                            self.seq.leases.insert(first.port(), known);
                        }
                    }
                    return;
                }
                if let Some(port) = self.seq.closes.remove(&iq.id) {
                    if iq.kind == IqType::Result {
                        if let Some(k) = self.seq.leases.remove(&port) {
                            if self.fault == Fault::StaleExpireTimer && k.expire.is_some() {
                                // The bug: the timer is not cancelled.
                                self.seq.stale.push((port, k));
                            }
                        }
                    }
                    return;
                }
                if iq.kind == IqType::Set {
                    if let Ok(
                        PassMessage::OneshotNotice { proxy } | PassMessage::ExpireNotice { proxy },
                    ) = PassMessage::from_iq(iq)
                    {
                        self.seq.leases.remove(&proxy.port());
                    }
                }
            }
            Action::Bridge { client, owner, .. } => {
                self.seq.sessions = self.seq.sessions.saturating_add(1);
                if let Some(port) = self.conn_ports.get(client).copied() {
                    self.seq.relays.insert(*owner, port);
                    self.seq.relay_clients.insert(*client, *owner);
                    if self.fault == Fault::ExpiryRestartedBySession {
                        if let Some(k) = self.seq.leases.get_mut(&port) {
                            if let Some((d, _)) = k.expire {
                                k.expire = Some((d, now + d));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A connection ended: NoRelistenAfterOwnerHangUp stops the lease port when the
    /// owner's side of a relay ended first.
    fn seq_closed(&mut self, conn: ConnId) {
        if let Some(owner) = self.seq.relay_clients.remove(&conn) {
            self.seq.relays.remove(&owner);
            return;
        }
        if let Some(port) = self.seq.relays.remove(&conn) {
            self.seq.relay_clients.retain(|_, o| *o != conn);
            if self.fault == Fault::NoRelistenAfterOwnerHangUp {
                self.dead_ports.insert(port);
                self.extra.push_back(Action::Unlisten { port });
            }
        }
    }

    /// Expiries the wrapper keeps (StaleExpireTimer, ExpiryRestartedBySession).
    fn fire_timers(&mut self, now: Instant) {
        let due: alloc::vec::Vec<u16> = self
            .seq
            .leases
            .iter()
            .filter(|(_, k)| k.expire.is_some_and(|(_, at)| at <= now))
            .map(|(p, _)| *p)
            .collect();
        for port in due {
            let Some(k) = self.seq.leases.remove(&port) else {
                continue;
            };
            self.expire_notice(port, &k);
            // The service ends the lease as its expiry would.
            let id = self.own_id();
            let close = close_stanza(&id, &k, port, self.seq.service.clone());
            self.inner.handle_stanza(now, &close);
        }
        let stale: alloc::vec::Vec<(u16, Known)> = self
            .seq
            .stale
            .iter()
            .filter(|(_, k)| k.expire.is_some_and(|(_, at)| at <= now))
            .cloned()
            .collect();
        self.seq
            .stale
            .retain(|(_, k)| k.expire.is_some_and(|(_, at)| at > now));
        for (port, k) in stale {
            self.expire_notice(port, &k);
        }
    }

    fn expire_notice(&mut self, port: u16, k: &Known) {
        let Ok(ip) = k.host.parse::<IpAddr>() else {
            return;
        };
        let id = self.own_id();
        let proxy = SocketAddr::new(ip, port);
        let iq = PassMessage::ExpireNotice { proxy }.to_iq(
            &id,
            self.seq.service.clone(),
            Some(k.owner.clone()),
        );
        self.extra.push_back(Action::Send(iq));
    }

    fn next_wrapper_timer(&self) -> Option<Instant> {
        self.seq
            .leases
            .values()
            .chain(self.seq.stale.iter().map(|(_, k)| k))
            .filter_map(|k| k.expire.map(|(_, at)| at))
            .min()
    }
}

/// A registration without its `<expire/>` (the wrapper keeps the expiry).
fn without_expire(stanza: &Element) -> Option<Element> {
    let mut out = stanza.clone();
    let q = out.children.iter_mut().find_map(|n| match n {
        Node::Element(e) if e.is("query", ns::PASS) => Some(e),
        _ => None,
    })?;
    q.children
        .retain(|n| !matches!(n, Node::Element(e) if e.is("expire", ns::PASS)));
    Some(out)
}

/// A close naming `port` instead.
fn with_close_port(stanza: &Element, port: u16) -> Element {
    let mut out = stanza.clone();
    for n in out.children.iter_mut() {
        if let Node::Element(q) = n {
            for c in q.children.iter_mut() {
                if let Node::Element(p) = c {
                    if p.is("proxy", ns::PASS) {
                        p.set_attr("port", &format!("{port}"));
                    }
                }
            }
        }
    }
    out
}

/// The close the wrapper sends the inner engine as the lease's owner.
fn close_stanza(id: &str, k: &Known, port: u16, service: Option<Jid>) -> Element {
    let proxy = pass_core::stanza::PassEntity::new(&k.host, Some(port));
    PassMessage::Close { proxy: Some(proxy) }
        .to_iq(id, Some(k.owner.clone()), service)
        .to_element()
}

/// Whether `iq` is a set whose `jabber:iq:pass` query has a child named `child`.
fn is_set_with(iq: &Iq, child: &str) -> bool {
    iq.kind == IqType::Set
        && iq
            .payload
            .as_ref()
            .is_some_and(|q| q.is("query", ns::PASS) && q.get_child(child, ns::PASS).is_some())
}

/// Whether `iq` is an error with this code or condition.
fn error_is(iq: &Iq, code: u16, condition: Condition) -> bool {
    iq.kind == IqType::Error
        && iq
            .error
            .as_ref()
            .is_some_and(|e| e.code == Some(code) || e.condition == Some(condition))
}

/// A registration (an IQ set whose `jabber:iq:pass` query has an `<expire/>`) with
/// its expiry divided by `by` (at least 1 s); `None` for anything else.
fn with_expire_divided(stanza: &Element, by: u64) -> Option<Element> {
    if stanza.name != "iq" || stanza.attr("type") != Some("set") {
        return None;
    }
    let mut out = stanza.clone();
    let q = out.children.iter_mut().find_map(|n| match n {
        Node::Element(e) if e.is("query", ns::PASS) => Some(e),
        _ => None,
    })?;
    let expire = q.children.iter_mut().find_map(|n| match n {
        Node::Element(e) if e.is("expire", ns::PASS) => Some(e),
        _ => None,
    })?;
    let secs: u64 = expire.text().trim().parse().ok()?;
    expire.children = alloc::vec![Node::Text(format!("{}", (secs / by).max(1)))];
    Some(out)
}

/// Whether an incoming element is an owner's deny (an error IQ saying 401).
fn is_deny(e: &Element) -> bool {
    e.name == "iq"
        && e.attr("type") == Some("error")
        && e.elements().any(|c| {
            c.name == "error"
                && (c.attr("code") == Some("401")
                    || c.elements().any(|k| k.name == "not-authorized"))
        })
}

impl<E: Engine> Engine for FaultyEngine<E> {
    fn handle_stanza(&mut self, now: Instant, stanza: &Element) {
        self.now = now;
        self.fire_timers(now);
        let rewritten;
        let stanza = if self.fault.is_sequence() {
            match self.seq_in(stanza) {
                Some(s) => {
                    rewritten = s;
                    &rewritten
                }
                None => return,
            }
        } else {
            stanza
        };
        if self.fault == Fault::ExpireNoticeEarly {
            if let Some(shorter) = with_expire_divided(stanza, 3) {
                self.inner.handle_stanza(now, &shorter);
                return;
            }
        }
        if self.fault == Fault::DenyIgnored && is_deny(stanza) {
            // The canonical accept (§3 listing 4): same id, an empty query.
            let mut accept = stanza.clone();
            accept.set_attr("type", "result");
            accept.children = alloc::vec![Node::Element(Element::new("query", ns::PASS))];
            self.inner.handle_stanza(now, &accept);
        } else {
            self.inner.handle_stanza(now, stanza);
        }
    }

    fn handle_listen_result(&mut self, now: Instant, port: u16, result: Result<(), ListenError>) {
        self.now = now;
        self.inner.handle_listen_result(now, port, result);
    }

    fn handle_connection(&mut self, now: Instant, conn: ConnId, local_port: u16, peer: SocketAddr) {
        self.now = now;
        self.last_conn = Some(conn);
        self.conn_ports.insert(conn, local_port);
        self.inner.handle_connection(now, conn, local_port, peer);
    }

    fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.now = now;
        self.fire_timers(now);
        self.inner.handle_closed(now, conn);
        self.seq_closed(conn);
        self.conn_ports.remove(&conn);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.fire_timers(now);
        while self.held.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, a)) = self.held.pop_front() {
                self.extra.push_back(a);
            }
        }
        self.inner.handle_timeout(now);
    }

    fn shutdown(&mut self, now: Instant) {
        self.now = now;
        self.inner.shutdown(now);
    }

    fn poll_action(&mut self) -> Option<Action> {
        // Bounded by the inner engine's queue: each turn consumes one of its actions.
        loop {
            if let Some(a) = self.extra.pop_front() {
                return Some(a);
            }
            let a = self.inner.poll_action()?;
            if self.fault.is_sequence() {
                self.seq_out(&a);
            }
            if let Some(a) = self.filter(a) {
                return Some(a);
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let held = self
            .held
            .front()
            .map(|(due, _)| *due)
            .into_iter()
            .chain(self.next_wrapper_timer())
            .min();
        match (self.inner.poll_timeout(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn is_proxy_port(&self, port: u16) -> bool {
        self.inner.is_proxy_port(port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for f in Fault::ALL {
            assert_eq!(Fault::from_name(f.name()), Some(f));
            assert_eq!(
                Fault::ALL.iter().filter(|g| g.name() == f.name()).count(),
                1
            );
        }
        assert_eq!(Fault::from_name("no-such-fault"), None);
    }
}
