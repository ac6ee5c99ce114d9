//! The lease machine: registrations, leases, incoming connections, owner answers,
//! proxy ports, relays and deadlines (§2–§5 of XEP-0003 and DESIGN decisions 1, 2,
//! 6, 7, 9, 10).
//!
//! Its semantics are documented on [`LeaseMachine`].

use super::ids::{parse_id, IdGen};
use super::lease::{End, Lease, Phase, Registration, Session, Timer};
use super::pool::PortPool;
use super::stats::{count_error, LatencyHistogram, Stats};
use super::{Action, Config, ConnId, LeaseChange, LeaseRecord, ListenError};
use crate::jid::Jid;
use crate::stanza::{Condition, Iq, IqType, PassEntity, PassError, PassMessage, StanzaError};
use crate::time::{Duration, Instant};
use crate::token_bucket::{Rate, TokenBucket};
use crate::xml::Element;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Most ports tried for one registration or one proxy before giving up.
pub const MAX_LISTEN_TRIES: u8 = 8;

/// Most unanswered expire/oneshot/close notices remembered (their answers are only
/// consumed; past this the oldest is forgotten and its late answer ignored).
const MAX_OUTSTANDING_NOTICES: usize = 1024;

/// The lease state machine.
///
/// Semantics, in the order a lease lives them:
/// - **Register** (§2). `<expire>0</expire>` is a bad-request; a longer expiry than
///   [`Config::max_expire`] is clamped to it (the client is not told: the spec has no
///   way to say so). An account past [`Config::max_leases_per_account`] gets
///   resource-constraint (500, wait); past [`Config::max_leases`] or with no free
///   port, 502. A port is drawn at random from the free part of the pool and
///   [`Action::Listen`] asked for; the result IQ (one `<server/>` per advertised
///   address) goes out when the host reports the listen succeeded. A failed listen
///   quarantines the port for [`Config::quarantine`] and another is tried, up to
///   [`MAX_LISTEN_TRIES`] ports, then 502; a host out of descriptors
///   ([`ListenError::NoResources`]) gets 502 at once and the port back (decision 51). The expiry counts from the request.
/// - **Incoming connection** (§3). One session at a time per lease (decision 2): a
///   connection on a busy lease, or past [`Config::max_relays`] sessions (pending or
///   relaying), or past the lease's call rate ([`Config::call_burst`],
///   [`Config::call_per_second`]), is dropped unannounced. Otherwise a proxy port is drawn and
///   listened on; once it listens the notice goes to the owner's full JID and the
///   answer timer ([`Config::answer_timeout`]) starts. The proxy port takes one
///   connection, the owner's (decision 1): at the first one it is unlistened and
///   returned to the pool.
/// - **Answer**. A `result` accepts: bridge at once if the owner is connected, else
///   wait [`Config::proxy_window`] for it. Any `error` (a deny, §5.2, or a bounce by
///   the XMPP server), no answer in time, the window passing, or either side closing
///   before the bridge cancels the session: the client (and a held owner
///   connection) is dropped, the proxy port released; the lease port never stopped
///   listening and a oneshot lease is not used up (decision 2).
/// - **Relay**. On the first close the host reports (the first EOF of either side,
///   docs/DESIGN.md decision 17), the session is over: a oneshot
///   lease ends (§4.2 notice); a plain one accepts the next connection (its port
///   kept listening all along, so no new `Listen` is asked for).
/// - **Expire** (§4.1). At request time + expiry the lease ends with one notice;
///   whatever is in flight on it (pending client, held owner, relay) is dropped: a
///   lease's resources end at its deadline. With oneshot too, whichever comes first
///   ends it, with exactly one notice.
/// - **Close** (§4.3). Checked in this order: no `<proxy/>` or no port → 400; proxy
///   IP not advertised → 405; port not a lease → 404; another account's lease → 401
///   (any resource of the owning account may close, decision 6); else the lease ends
///   (in-flight connections dropped) and an empty query acknowledges it.
/// - **Owner gone** (DESIGN decisions 100 and 94). An incoming-connection notice
///   answered with an error meaning its recipient is gone ([`owner_is_gone`]:
///   service-unavailable, recipient-unavailable, item-not-found, gone; what an XMPP
///   server bounces for an offline full JID, RFC 6120 §8.3.3 and §10.5.3.2) drops
///   its caller and starts the lease's reconnect grace
///   ([`Config::reconnect_grace`]); a later bounce leaves it running. Any IQ from
///   the owner's full JID other than such a bounce ends the grace (the owner is
///   back: [`LeaseMachine::handle_iq_seen`]). When the grace runs out the lease
///   ends: port freed, no notice (it would bounce too), counted in
///   [`Stats::leases_owner_gone`]. A zero grace ends it at the first bounce. Any
///   other error is a deny (§5.2).
/// - **Idle** (DESIGN decision 101). A lease with no caller, no session and no
///   `jabber:iq:pass` IQ from its account for [`Config::max_idle_lease`] ends with
///   a §4.1 expire notice, counted in [`Stats::leases_idle`]; zero turns it off.
/// - **Restore** (DESIGN decision 52). A host that keeps leases across a restart
///   hands the machine what it kept ([`LeaseMachine::restore`]) before any other
///   event: each lease whose port is free in the pool takes it again and
///   [`Action::Listen`] is asked for; a lease whose expiry passed meanwhile, or
///   whose port is not free or fails to listen, ends with a §4.1 expire notice.
///   From then on every grant and every end is queued as a [`LeaseChange`]
///   ([`LeaseMachine::poll_lease_change`]) for the host to write down.
/// - **Suspend** (DESIGN decision 53). A host that keeps leases stops with
///   [`LeaseMachine::suspend`]: every port is unlistened and pending connections
///   dropped, relays are left to the host to drain, but the leases stay (no
///   notice, no change): the next run restores them.
/// - **Shutdown**. Every lease ends with a close notice
///   (`<query><close/><proxy port=P>IP</proxy></query>`, our choice: the spec has
///   no server-initiated close), every port is unlistened and pending connections
///   dropped; relays are left to the host to drain. Later registers get 502.
///
/// Time never goes backwards for the machine: an earlier `now` counts as the last one
/// seen. Every `handle_*` first fires what fell due by `now`.
#[derive(Debug)]
pub struct LeaseMachine {
    config: Config,
    /// The latest instant seen.
    now: Instant,
    pool: PortPool,
    ids: IdGen,
    /// Leases by port.
    leases: BTreeMap<u16, Lease>,
    /// Register requests waiting for the listen result of their candidate port.
    registrations: BTreeMap<u16, Registration>,
    /// Leases and registrations per account, for the per-account limit.
    per_account: BTreeMap<Jid, usize>,
    /// Proxy ports (asked for or listening) to their lease port.
    proxies: BTreeMap<u16, u16>,
    /// Ports asked to listen whose purpose went away before the result: on `Ok`
    /// they are unlistened and released.
    abandoned: BTreeSet<u16>,
    /// Connections in sessions, to their lease port.
    conns: BTreeMap<ConnId, u16>,
    /// Incoming-connection notices awaiting an answer: id number to lease port.
    asked: BTreeMap<u64, u16>,
    /// Other notices awaiting their answer: id number to recipient and notice, kept
    /// to be sent again if the recipient's server bounces it (DESIGN decision 59).
    notices: BTreeMap<u64, (Jid, PassMessage)>,
    /// Notices whose recipient's server bounced them, oldest first: sent again at
    /// the recipient's next IQ, forgotten when the reconnect grace runs out (the
    /// instant kept with each).
    undelivered: VecDeque<(Jid, PassMessage, Instant)>,
    /// Deadlines, earliest first.
    timers: BTreeSet<(Instant, Timer)>,
    /// Leases whose owner's server bounced a notice, by port: when their reconnect
    /// grace runs out (DESIGN decision 94).
    outages: BTreeMap<u16, Instant>,
    /// Restored leases whose port's listen result is still to come.
    restoring: BTreeSet<u16>,
    /// Changes of the lease table for the host to write down; `None` until the
    /// host asks for them by calling [`LeaseMachine::restore`].
    changes: Option<VecDeque<LeaseChange>>,
    /// Stopped by [`LeaseMachine::suspend`]: lease ports no longer listen.
    suspended: bool,
    /// Sessions in flight (pending or relaying).
    sessions: usize,
    /// Sessions relaying.
    relays: usize,
    shut_down: bool,
    registrations_total: u64,
    notices_sent: u64,
    calls_throttled: u64,
    calls_busy: u64,
    calls_over_capacity: u64,
    leases_owner_gone: u64,
    leases_idle: u64,
    /// The shape of every lease's call bucket.
    call_rate: Rate,
    errors_sent: Vec<(u16, u64)>,
    answer_latency: LatencyHistogram,
    actions: VecDeque<Action>,
}

impl LeaseMachine {
    /// A machine with no leases. It does not panic on an invalid `config` (an empty
    /// pool answers 502; no advertised address advertises `0.0.0.0`), but check it
    /// with [`Config::validate`] first.
    pub fn new(config: Config) -> Self {
        let call_rate = Rate::new(config.call_burst, config.call_per_second);
        LeaseMachine {
            pool: PortPool::new(config.first_port, config.last_port, config.seed),
            config,
            now: Instant::default(),
            ids: IdGen::default(),
            leases: BTreeMap::new(),
            registrations: BTreeMap::new(),
            per_account: BTreeMap::new(),
            proxies: BTreeMap::new(),
            abandoned: BTreeSet::new(),
            conns: BTreeMap::new(),
            asked: BTreeMap::new(),
            notices: BTreeMap::new(),
            undelivered: VecDeque::new(),
            timers: BTreeSet::new(),
            outages: BTreeMap::new(),
            restoring: BTreeSet::new(),
            changes: None,
            suspended: false,
            sessions: 0,
            relays: 0,
            shut_down: false,
            registrations_total: 0,
            notices_sent: 0,
            calls_throttled: 0,
            calls_busy: 0,
            calls_over_capacity: 0,
            leases_owner_gone: 0,
            leases_idle: 0,
            call_rate,
            errors_sent: Vec::new(),
            answer_latency: LatencyHistogram::default(),
            actions: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The next action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`LeaseMachine::handle_timeout`] should next be called: the earliest
    /// expiry, answer timer, proxy window or quarantine end.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = self.timers.first().map(|(t, _)| *t);
        match (timer, self.pool.next_quarantine_end()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires everything due by `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    /// A `jabber:iq:pass` message `from` sent in `iq` (already parsed by the
    /// router). Requests (register, close) are answered; results and errors go to
    /// [`LeaseMachine::handle_answer`]; messages only the service sends are refused
    /// with bad-request.
    pub fn handle_pass(&mut self, now: Instant, from: &Jid, iq: &Iq, msg: PassMessage) {
        self.advance(now);
        self.touch_account(from);
        if matches!(iq.kind, IqType::Result | IqType::Error) {
            self.handle_answer(now, iq);
            return;
        }
        match msg {
            PassMessage::Register { expire, oneshot } if iq.kind == IqType::Set => {
                self.register(from, iq, expire, oneshot)
            }
            PassMessage::Close { proxy } if iq.kind == IqType::Set => self.close(from, iq, proxy),
            PassMessage::ClientIpQuery => {
                let error = StanzaError::new(Condition::FeatureNotImplemented).with_text(
                    "the service does not know your peers' IPs: ask the peer itself (§5.1)",
                );
                self.reply_error(from, &iq.id, error);
            }
            other => {
                let text = format!("{} is sent by the service, not to it", message_name(&other));
                self.reply_error(
                    from,
                    &iq.id,
                    StanzaError::new(Condition::BadRequest).with_text(&text),
                );
            }
        }
    }

    /// A `result` or `error` IQ: matched to an outstanding request by id and by the
    /// JID it was sent to; anything unmatched is ignored. A result to an
    /// incoming-connection notice accepts it, any error denies it (§3, §5.2).
    pub fn handle_answer(&mut self, now: Instant, iq: &Iq) {
        self.advance(now);
        let Some(from) = iq.from.as_ref() else { return };
        let Some(n) = parse_id(&iq.id) else { return };
        let accepted = match iq.kind {
            IqType::Result => true,
            IqType::Error => false,
            IqType::Get | IqType::Set => return,
        };
        if let Some(&port) = self.asked.get(&n) {
            let Some(lease) = self.leases.get(&port) else {
                return;
            };
            if lease.owner != *from {
                return;
            }
            self.asked.remove(&n);
            if accepted {
                self.accept(port);
            } else if is_bounce(iq) {
                self.owner_unreachable(port);
            } else {
                self.cancel_session(port, None);
            }
        } else if self.notices.get(&n).is_some_and(|(to, _)| to == from) {
            if let Some((to, msg)) = self.notices.remove(&n) {
                let grace = self.config.reconnect_grace;
                if is_bounce(iq) && !grace.is_zero() {
                    // Not delivered: its recipient may be reconnecting (decision 59).
                    self.undelivered.push_back((to, msg, self.now + grace));
                    while self.undelivered.len() > MAX_OUTSTANDING_NOTICES {
                        self.undelivered.pop_front();
                    }
                }
            }
        }
    }

    /// Any IQ the router read (request or answer, whatever its payload): from the
    /// full JID of a lease's owner, and not itself a bounce ([`is_bounce`]), it says
    /// the owner is online, which ends that lease's reconnect grace (DESIGN decision
    /// 94), and sends it again every notice its server bounced meanwhile (DESIGN
    /// decision 59). The router calls it before routing the IQ.
    pub fn handle_iq_seen(&mut self, now: Instant, iq: &Iq) {
        self.advance(now);
        if is_bounce(iq) {
            return;
        }
        let Some(from) = iq.from.as_ref() else { return };
        self.send_undelivered(from);
        if self.outages.is_empty() {
            return;
        }
        let back: Vec<u16> = self
            .outages
            .keys()
            .copied()
            .filter(|port| self.leases.get(port).is_some_and(|l| l.owner == *from))
            .collect();
        for port in back {
            if let Some(until) = self.outages.remove(&port) {
                self.timers.remove(&(until, Timer::Grace(port)));
            }
        }
    }

    /// Sends `to` again each notice its server bounced within the reconnect grace,
    /// in the order they were first sent; forgets those older than the grace.
    fn send_undelivered(&mut self, to: &Jid) {
        let now = self.now;
        self.undelivered.retain(|(_, _, until)| *until > now);
        if !self.undelivered.iter().any(|(jid, ..)| jid == to) {
            return;
        }
        let (again, kept): (VecDeque<_>, VecDeque<_>) = core::mem::take(&mut self.undelivered)
            .into_iter()
            .partition(|(jid, ..)| jid == to);
        self.undelivered = kept;
        for (jid, msg, _) in again {
            self.send_notice(jid, msg);
        }
    }

    /// The owner's server bounced a notice of the lease at `port`: drop its caller
    /// and start its reconnect grace, or end it now without one.
    fn owner_unreachable(&mut self, port: u16) {
        let grace = self.config.reconnect_grace;
        if grace.is_zero() {
            self.leases_owner_gone += 1;
            return self.end_lease(port, End::OwnerGone);
        }
        self.cancel_session(port, None);
        if !self.leases.contains_key(&port) || self.outages.contains_key(&port) {
            // A later bounce does not move the end of the grace.
            return;
        }
        let until = self.now + grace;
        self.outages.insert(port, until);
        self.timers.insert((until, Timer::Grace(port)));
    }

    /// The outcome of an [`Action::Listen`]. Results for ports the machine did not
    /// ask for are ignored.
    pub fn handle_listen_result(
        &mut self,
        now: Instant,
        port: u16,
        result: Result<(), ListenError>,
    ) {
        self.advance(now);
        self.listen_result(port, result);
        // A lease granted late may already be past its expiry.
        self.fire_due();
    }

    fn listen_result(&mut self, port: u16, result: Result<(), ListenError>) {
        if let Some(reg) = self.registrations.remove(&port) {
            match result {
                Ok(()) => self.grant(port, reg),
                Err(ListenError::NoResources) => {
                    // Out of descriptors: the port is fine, and every other port
                    // would fail alike (DESIGN decision 51).
                    self.pool.release(port);
                    self.forget_account_use(&reg.account);
                    let error = StanzaError::from(PassError::NoPortsAvailable);
                    self.reply_error(&reg.owner, &reg.request_id, error);
                }
                Err(_) => {
                    self.quarantine(port);
                    self.retry_registration(reg);
                }
            }
        } else if self.restoring.remove(&port) {
            match result {
                Ok(()) if self.suspended => self.actions.push_back(Action::Unlisten { port }),
                Ok(()) => {}
                Err(e) => {
                    if e == ListenError::NoResources {
                        self.pool.release(port);
                    } else {
                        self.quarantine(port);
                    }
                    self.end_lease(port, End::Unbindable);
                }
            }
        } else if let Some(&lease_port) = self.proxies.get(&port) {
            let tries = match self.session(lease_port).map(|s| &s.phase) {
                Some(Phase::Opening { tries }) => *tries,
                // A duplicate result for a proxy that already listens.
                _ => return,
            };
            match result {
                Ok(()) => self.ask_owner(lease_port, port),
                Err(ListenError::NoResources) => {
                    // As for a registration: give the port back, drop the caller.
                    self.proxies.remove(&port);
                    self.pool.release(port);
                    if let Some(s) = self.session_mut(lease_port) {
                        s.proxy = None;
                    }
                    self.calls_over_capacity += 1;
                    self.cancel_session(lease_port, None);
                }
                Err(_) => {
                    self.proxies.remove(&port);
                    self.quarantine(port);
                    if let Some(s) = self.session_mut(lease_port) {
                        s.proxy = None;
                    }
                    let next = if tries < MAX_LISTEN_TRIES {
                        self.pool.take()
                    } else {
                        None
                    };
                    match next {
                        Some(proxy) => {
                            self.proxies.insert(proxy, lease_port);
                            if let Some(s) = self.session_mut(lease_port) {
                                s.proxy = Some(proxy);
                                s.phase = Phase::Opening { tries: tries + 1 };
                            }
                            self.actions.push_back(Action::Listen { port: proxy });
                        }
                        None => self.cancel_session(lease_port, None),
                    }
                }
            }
        } else if self.abandoned.remove(&port) {
            match result {
                Ok(()) => {
                    self.actions.push_back(Action::Unlisten { port });
                    self.pool.release(port);
                }
                Err(ListenError::NoResources) => self.pool.release(port),
                Err(_) => self.quarantine(port),
            }
        }
    }

    /// The host accepted `conn` on `local_port` from `peer`. On a lease port it
    /// starts a session (or is dropped if the lease is busy or no proxy port is
    /// free); on a listening proxy port it is the owner's; anything else is dropped.
    pub fn handle_connection(
        &mut self,
        now: Instant,
        conn: ConnId,
        local_port: u16,
        peer: SocketAddr,
    ) {
        self.advance(now);
        if self.conns.contains_key(&conn) {
            // The host reused a live id: leave the known connection alone.
            return;
        }
        if let Some(lease) = self.leases.get_mut(&local_port) {
            // A caller, even one dropped below, is a sign of life (decision 101).
            lease.active_at = now.max(lease.active_at);
            // Every caller dropped here is counted, by why (a lost caller must
            // show): DESIGN decision 50.
            if lease.session.is_some() || self.shut_down {
                self.calls_busy += 1;
                self.actions.push_back(Action::Drop { conn });
                return;
            }
            if self.sessions >= self.config.max_relays {
                self.calls_over_capacity += 1;
                self.actions.push_back(Action::Drop { conn });
                return;
            }
            let call_rate = self.call_rate;
            let within_rate = self
                .leases
                .get_mut(&local_port)
                .is_some_and(|l| l.calls.take(call_rate, now));
            if !within_rate {
                self.calls_throttled += 1;
                self.actions.push_back(Action::Drop { conn });
                return;
            }
            let Some(proxy) = self.pool.take() else {
                self.calls_over_capacity += 1;
                self.actions.push_back(Action::Drop { conn });
                return;
            };
            self.proxies.insert(proxy, local_port);
            self.conns.insert(conn, local_port);
            if let Some(lease) = self.leases.get_mut(&local_port) {
                lease.session = Some(Session {
                    client: conn,
                    peer,
                    proxy: Some(proxy),
                    owner_conn: None,
                    phase: Phase::Opening { tries: 1 },
                });
            }
            self.sessions += 1;
            self.actions.push_back(Action::Listen { port: proxy });
            return;
        }
        let Some(&lease_port) = self.proxies.get(&local_port) else {
            self.actions.push_back(Action::Drop { conn });
            return;
        };
        let listening = matches!(
            self.session(lease_port),
            Some(Session {
                phase: Phase::Asking { .. } | Phase::Waiting { .. },
                owner_conn: None,
                ..
            })
        );
        if !listening {
            self.actions.push_back(Action::Drop { conn });
            return;
        }
        // The owner (decision 1: the first connection; see decision 10).
        self.proxies.remove(&local_port);
        self.actions
            .push_back(Action::Unlisten { port: local_port });
        self.pool.release(local_port);
        self.conns.insert(conn, lease_port);
        let waiting = match self.session_mut(lease_port) {
            Some(s) => {
                s.proxy = None;
                s.owner_conn = Some(conn);
                matches!(s.phase, Phase::Waiting { .. })
            }
            None => false,
        };
        if waiting {
            self.bridge(lease_port);
        }
    }

    /// `conn` ended. Closing either side of a relay ends it (a oneshot lease with
    /// it); closing either side before the bridge cancels the session. Unknown or
    /// already forgotten connections are ignored (hosts may report twice).
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.advance(now);
        let Some(lease_port) = self.conns.remove(&conn) else {
            return;
        };
        let relaying = matches!(
            self.session(lease_port).map(|s| &s.phase),
            Some(Phase::Relaying)
        );
        if relaying {
            let Some(lease) = self.leases.get_mut(&lease_port) else {
                return;
            };
            let oneshot = lease.oneshot;
            if let Some(s) = lease.session.take() {
                // The host ends the relay and reports the other side too.
                self.conns.remove(&s.client);
                if let Some(o) = s.owner_conn {
                    self.conns.remove(&o);
                }
            }
            self.sessions = self.sessions.saturating_sub(1);
            self.relays = self.relays.saturating_sub(1);
            self.touch(lease_port);
            if oneshot {
                self.end_lease(lease_port, End::Oneshot);
            }
        } else {
            self.cancel_session(lease_port, Some(conn));
        }
    }

    /// Shutting down: see [`LeaseMachine`] (every lease ends with a close notice).
    pub fn shutdown(&mut self, now: Instant) {
        self.advance(now);
        self.shut_down = true;
        let ports: Vec<u16> = self.leases.keys().copied().collect();
        for port in ports {
            self.end_lease(port, End::Shutdown);
        }
        self.refuse_pending_registrations();
    }

    /// Answers every register waiting for its listen result with 502 (the host
    /// stops); their ports are released when the results come.
    fn refuse_pending_registrations(&mut self) {
        let pending = core::mem::take(&mut self.registrations);
        for (port, reg) in pending {
            self.abandoned.insert(port);
            self.forget_account_use(&reg.account);
            let error = StanzaError::from(PassError::NoPortsAvailable);
            self.reply_error(&reg.owner, &reg.request_id, error);
        }
    }

    /// Takes up the leases a previous run kept (see [`LeaseMachine`], **Restore**;
    /// DESIGN decision 52), and from now on queues every change of the lease table
    /// for [`LeaseMachine::poll_lease_change`]. Call it once, before any other
    /// event (with no records for a first start): a port held by then is not free.
    ///
    /// A record whose expiry is at or before `now` ends at once with its §4.1
    /// expire notice (queued like any IQ: a host sends it once its stream is up);
    /// so does one whose port is outside the pool, already held, or (later) fails
    /// to listen. Of two records for one port the first counts. The lease limits
    /// are not applied: these leases were granted. Each restored lease counts as
    /// active at `now` for [`Config::max_idle_lease`].
    pub fn restore(&mut self, now: Instant, records: impl IntoIterator<Item = LeaseRecord>) {
        self.advance(now);
        if self.changes.is_none() {
            self.changes = Some(VecDeque::new());
        }
        let mut wanted = BTreeSet::new();
        let mut live = Vec::new();
        for record in records {
            if record.expires_at.is_some_and(|at| at <= self.now) {
                self.end_unrestored(record);
            } else if wanted.insert(record.port) {
                live.push(record);
            }
        }
        let taken = self.pool.take_ports(&wanted);
        for record in live {
            if !taken.contains(&record.port) {
                self.end_unrestored(record);
                continue;
            }
            let port = record.port;
            let account = record.owner.to_bare();
            *self.per_account.entry(account.clone()).or_insert(0) += 1;
            if let Some(at) = record.expires_at {
                self.timers.insert((at, Timer::Expire(port)));
            }
            let idle_check = self.idle_deadline(self.now);
            if let Some(at) = idle_check {
                self.timers.insert((at, Timer::Idle(port)));
            }
            self.leases.insert(
                port,
                Lease {
                    account,
                    owner: record.owner,
                    oneshot: record.oneshot,
                    expires_at: record.expires_at,
                    active_at: self.now,
                    idle_check,
                    session: None,
                    calls: TokenBucket::full(self.call_rate, self.now),
                },
            );
            self.restoring.insert(port);
            self.actions.push_back(Action::Listen { port });
        }
    }

    /// A kept lease that cannot be taken up again: its expire notice, and its end
    /// for the host's store.
    fn end_unrestored(&mut self, record: LeaseRecord) {
        let proxy = SocketAddr::new(self.first_advertised(), record.port);
        self.send_notice(record.owner, PassMessage::ExpireNotice { proxy });
        self.changed(LeaseChange::Ended { port: record.port });
    }

    /// The next change of the lease table since [`LeaseMachine::restore`], in the
    /// order they happened; `None` when there is none (or `restore` was never
    /// called). A host writes each down before it carries out the actions queued
    /// with it, so that an owner never hears of a lease its store does not hold.
    pub fn poll_lease_change(&mut self) -> Option<LeaseChange> {
        self.changes.as_mut().and_then(VecDeque::pop_front)
    }

    /// Whether `port` is a proxy port asked for or listening (the owner of an
    /// announced session connects there), not a lease port (DESIGN decision 140).
    pub fn is_proxy_port(&self, port: u16) -> bool {
        self.proxies.contains_key(&port)
    }

    /// Every lease held now, as data, by port.
    pub fn lease_records(&self) -> impl Iterator<Item = LeaseRecord> + '_ {
        self.leases
            .iter()
            .map(|(&port, l)| LeaseRecord::new(port, l.owner.clone(), l.oneshot, l.expires_at))
    }

    /// Stopping, to restore the leases at the next start (see [`LeaseMachine`],
    /// **Suspend**; DESIGN decision 53): no port listens any more, pending
    /// connections are dropped and pending registrations get 502, relays are left
    /// to the host to drain; the leases stay, with no notice and no change. Their
    /// deadlines still fire while the host drains.
    pub fn suspend(&mut self, now: Instant) {
        self.advance(now);
        self.shut_down = true;
        self.suspended = true;
        let ports: Vec<u16> = self.leases.keys().copied().collect();
        for port in ports {
            if !self.forget_relay(port) {
                self.cancel_session(port, None);
            }
            if !self.restoring.contains(&port) {
                self.actions.push_back(Action::Unlisten { port });
            }
        }
        self.refuse_pending_registrations();
    }

    /// Counters and gauges.
    pub fn stats(&self) -> Stats {
        Stats {
            leases: self.leases.len(),
            pending: self.sessions.saturating_sub(self.relays),
            relays: self.relays,
            ports_free: self.pool.free_count(),
            ports_quarantined: self.pool.quarantined_count(),
            registrations: self.registrations_total,
            notices_sent: self.notices_sent,
            calls_throttled: self.calls_throttled,
            calls_busy: self.calls_busy,
            calls_over_capacity: self.calls_over_capacity,
            leases_owner_gone: self.leases_owner_gone,
            leases_idle: self.leases_idle,
            errors_sent: self.errors_sent.clone(),
            answer_latency: self.answer_latency.clone(),
        }
    }

    /// Ports in the pool, free or not.
    pub fn pool_size(&self) -> usize {
        self.pool.size()
    }

    /// The ports leased now, in order.
    pub fn lease_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.leases.keys().copied()
    }

    /// Queues an IQ the router built (a reply to a neighbouring protocol), so that
    /// it goes out in order with the machine's own and is counted in
    /// [`Stats::errors_sent`].
    pub fn send(&mut self, iq: Iq) {
        if iq.kind == IqType::Error {
            let code = iq.error.as_ref().and_then(|e| e.code).unwrap_or(0);
            count_error(&mut self.errors_sent, code);
        }
        self.actions.push_back(Action::Send(iq));
    }

    // ---- registration -------------------------------------------------------

    fn register(&mut self, from: &Jid, iq: &Iq, expire: Option<u64>, oneshot: bool) {
        if self.shut_down {
            let error = StanzaError::from(PassError::NoPortsAvailable);
            return self.reply_error(from, &iq.id, error);
        }
        if expire == Some(0) {
            let error = StanzaError::new(Condition::BadRequest)
                .with_text("expire must be at least 1 second");
            return self.reply_error(from, &iq.id, error);
        }
        let account = from.to_bare();
        let held = self.per_account.get(&account).copied().unwrap_or(0);
        if held >= self.config.max_leases_per_account {
            let text =
                format!("{account} already holds {held} leases, the most one account may hold");
            let error = StanzaError::new(Condition::ResourceConstraint).with_text(&text);
            return self.reply_error(from, &iq.id, error);
        }
        if self.leases.len() + self.registrations.len() >= self.config.max_leases {
            return self.reply_error(from, &iq.id, StanzaError::from(PassError::NoPortsAvailable));
        }
        let Some(port) = self.pool.take() else {
            return self.reply_error(from, &iq.id, StanzaError::from(PassError::NoPortsAvailable));
        };
        // Clamped to max_expire (the protocol cannot tell the client).
        let expire = expire.map(|s| Duration::from_secs(s).min(self.config.max_expire));
        *self.per_account.entry(account.clone()).or_insert(0) += 1;
        self.registrations.insert(
            port,
            Registration {
                request_id: iq.id.clone(),
                owner: from.clone(),
                account,
                expire,
                oneshot,
                requested_at: self.now,
                tries: 1,
            },
        );
        self.actions.push_back(Action::Listen { port });
    }

    fn retry_registration(&mut self, mut reg: Registration) {
        let next = if reg.tries < MAX_LISTEN_TRIES {
            self.pool.take()
        } else {
            None
        };
        match next {
            Some(port) => {
                reg.tries += 1;
                self.registrations.insert(port, reg);
                self.actions.push_back(Action::Listen { port });
            }
            None => {
                self.forget_account_use(&reg.account);
                let error = StanzaError::from(PassError::NoPortsAvailable);
                self.reply_error(&reg.owner, &reg.request_id, error);
            }
        }
    }

    fn grant(&mut self, port: u16, reg: Registration) {
        let expires_at = reg.expire.map(|d| reg.requested_at + d);
        if let Some(at) = expires_at {
            self.timers.insert((at, Timer::Expire(port)));
        }
        let idle_check = self.idle_deadline(self.now);
        if let Some(at) = idle_check {
            self.timers.insert((at, Timer::Idle(port)));
        }
        let servers = self
            .config
            .advertised
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect();
        let payload = PassMessage::Registered { servers }.to_query();
        self.reply_result(&reg.owner, &reg.request_id, payload);
        self.registrations_total += 1;
        self.changed(LeaseChange::Granted(LeaseRecord::new(
            port,
            reg.owner.clone(),
            reg.oneshot,
            expires_at,
        )));
        self.leases.insert(
            port,
            Lease {
                account: reg.account,
                owner: reg.owner,
                oneshot: reg.oneshot,
                expires_at,
                active_at: self.now,
                idle_check,
                session: None,
                calls: TokenBucket::full(self.call_rate, self.now),
            },
        );
    }

    // ---- close ----------------------------------------------------------------

    fn close(&mut self, from: &Jid, iq: &Iq, proxy: Option<PassEntity>) {
        let Some((host, port)) = proxy.and_then(|p| p.port.map(|port| (p.host, port))) else {
            return self.reply_error(from, &iq.id, StanzaError::from(PassError::MissingProxy));
        };
        let advertised = host
            .trim()
            .parse::<IpAddr>()
            .is_ok_and(|ip| self.config.advertised.contains(&ip));
        if !advertised {
            return self.reply_error(from, &iq.id, StanzaError::from(PassError::ProxyIpMismatch));
        }
        let Some(lease) = self.leases.get(&port) else {
            return self.reply_error(from, &iq.id, StanzaError::from(PassError::PortNotFound));
        };
        if !lease.account.same_account(from) {
            return self.reply_error(from, &iq.id, StanzaError::from(PassError::NotYourPort));
        }
        self.end_lease(port, End::Closed);
        self.reply_result(from, &iq.id, PassMessage::Ack.to_query());
    }

    // ---- sessions ---------------------------------------------------------------

    fn session(&self, lease_port: u16) -> Option<&Session> {
        self.leases
            .get(&lease_port)
            .and_then(|l| l.session.as_ref())
    }

    fn session_mut(&mut self, lease_port: u16) -> Option<&mut Session> {
        self.leases
            .get_mut(&lease_port)
            .and_then(|l| l.session.as_mut())
    }

    /// The proxy listens: tell the owner (§3) and start the answer timer.
    fn ask_owner(&mut self, lease_port: u16, proxy: u16) {
        let Some(lease) = self.leases.get(&lease_port) else {
            return;
        };
        let Some(session) = lease.session.as_ref() else {
            return;
        };
        let peer = session.peer;
        let owner = lease.owner.clone();
        let proxy_addr = SocketAddr::new(self.advertised_for(&peer), proxy);
        let msg = PassMessage::IncomingConnection {
            client: peer,
            proxy: proxy_addr,
        };
        let (n, id) = self.ids.next();
        self.send_set(&owner, id, msg);
        let deadline = self.now + self.config.answer_timeout;
        self.asked.insert(n, lease_port);
        self.set_phase(
            lease_port,
            Phase::Asking {
                id: n,
                asked_at: self.now,
                deadline,
            },
        );
    }

    /// The owner accepted: bridge if connected, else open the proxy window.
    fn accept(&mut self, lease_port: u16) {
        let Some(s) = self.session(lease_port) else {
            return;
        };
        let owner_connected = s.owner_conn.is_some();
        if let Phase::Asking { asked_at, .. } = s.phase {
            let latency = self.now - asked_at;
            self.answer_latency.record(latency);
        }
        if owner_connected {
            self.bridge(lease_port);
        } else {
            let deadline = self.now + self.config.proxy_window;
            self.set_phase(lease_port, Phase::Waiting { deadline });
        }
    }

    fn bridge(&mut self, lease_port: u16) {
        let Some(lease) = self.leases.get(&lease_port) else {
            return;
        };
        let Some(s) = lease.session.as_ref() else {
            return;
        };
        let Some(owner) = s.owner_conn else { return };
        let action = Action::Bridge {
            client: s.client,
            owner,
            account: lease.account.clone(),
        };
        self.set_phase(lease_port, Phase::Relaying);
        self.relays += 1;
        self.actions.push_back(action);
    }

    /// Moves a session to `phase`, moving its deadline timer along.
    fn set_phase(&mut self, lease_port: u16, phase: Phase) {
        let Some(s) = self.session_mut(lease_port) else {
            return;
        };
        let old = s.phase.deadline();
        let new = phase.deadline();
        s.phase = phase;
        if let Some(at) = old {
            self.timers.remove(&(at, Timer::Session(lease_port)));
        }
        if let Some(at) = new {
            self.timers.insert((at, Timer::Session(lease_port)));
        }
    }

    /// Ends a session before (or instead of) its relay: drops its connections
    /// (except `closed`, which the host already reported), gives the proxy port back.
    /// The lease stays, listening, and a oneshot lease is not used up.
    fn cancel_session(&mut self, lease_port: u16, closed: Option<ConnId>) {
        let Some(s) = self
            .leases
            .get_mut(&lease_port)
            .and_then(|l| l.session.take())
        else {
            return;
        };
        self.touch(lease_port);
        self.sessions = self.sessions.saturating_sub(1);
        match s.phase {
            Phase::Asking { id, deadline, .. } => {
                self.asked.remove(&id);
                self.timers.remove(&(deadline, Timer::Session(lease_port)));
            }
            Phase::Waiting { deadline } => {
                self.timers.remove(&(deadline, Timer::Session(lease_port)));
            }
            Phase::Relaying => self.relays = self.relays.saturating_sub(1),
            Phase::Opening { .. } => {}
        }
        // Dropping one side of a relay ends the relay, which closes the other: one
        // Drop (of the client) is enough, and a second would name a closed conn.
        let relaying = s.phase == Phase::Relaying;
        for conn in [Some(s.client), s.owner_conn].into_iter().flatten() {
            self.conns.remove(&conn);
            if Some(conn) != closed && !(relaying && conn != s.client) {
                self.actions.push_back(Action::Drop { conn });
            }
        }
        if let Some(proxy) = s.proxy {
            self.proxies.remove(&proxy);
            if matches!(s.phase, Phase::Opening { .. }) {
                // Its listen result is still to come.
                self.abandoned.insert(proxy);
            } else {
                self.actions.push_back(Action::Unlisten { port: proxy });
                self.pool.release(proxy);
            }
        }
    }

    // ---- lease end ----------------------------------------------------------------

    /// Forgets the relay on the lease at `port` without dropping it (the host
    /// drains it); `false` if it had none.
    fn forget_relay(&mut self, port: u16) -> bool {
        let relaying = matches!(self.session(port).map(|s| &s.phase), Some(Phase::Relaying));
        if !relaying {
            return false;
        }
        if let Some(s) = self.leases.get_mut(&port).and_then(|l| l.session.take()) {
            self.conns.remove(&s.client);
            if let Some(o) = s.owner_conn {
                self.conns.remove(&o);
            }
            self.sessions = self.sessions.saturating_sub(1);
            self.relays = self.relays.saturating_sub(1);
        }
        true
    }

    fn end_lease(&mut self, port: u16, why: End) {
        // At shutdown relays are the host's to drain.
        if !(why == End::Shutdown && self.forget_relay(port)) {
            self.cancel_session(port, None);
        }
        let Some(lease) = self.leases.remove(&port) else {
            return;
        };
        if let Some(at) = lease.expires_at {
            self.timers.remove(&(at, Timer::Expire(port)));
        }
        if let Some(at) = lease.idle_check {
            self.timers.remove(&(at, Timer::Idle(port)));
        }
        if let Some(at) = self.outages.remove(&port) {
            self.timers.remove(&(at, Timer::Grace(port)));
        }
        if self.restoring.remove(&port) {
            // Its listen result is still to come.
            self.abandoned.insert(port);
        } else if why != End::Unbindable {
            // (An unbindable port never listened; its caller rests or frees it.)
            if !self.suspended {
                self.actions.push_back(Action::Unlisten { port });
            }
            self.pool.release(port);
        }
        self.forget_account_use(&lease.account);
        self.changed(LeaseChange::Ended { port });
        let proxy = SocketAddr::new(self.first_advertised(), port);
        let notice = match why {
            End::Expired | End::Idle | End::Unbindable => Some(PassMessage::ExpireNotice { proxy }),
            End::Oneshot => Some(PassMessage::OneshotNotice { proxy }),
            End::Shutdown => Some(PassMessage::Close {
                proxy: Some(PassEntity {
                    host: proxy.ip().to_string(),
                    port: Some(port),
                }),
            }),
            End::Closed | End::OwnerGone => None,
        };
        if let Some(msg) = notice {
            self.send_notice(lease.owner, msg);
        }
    }

    /// Sends `owner` a notice whose answer is only consumed, unless it is a bounce.
    fn send_notice(&mut self, owner: Jid, msg: PassMessage) {
        let (n, id) = self.ids.next();
        self.send_set(&owner, id, msg.clone());
        self.notices.insert(n, (owner, msg));
        while self.notices.len() > MAX_OUTSTANDING_NOTICES {
            self.notices.pop_first();
        }
    }

    /// Queues a change of the lease table if the host keeps leases.
    fn changed(&mut self, change: LeaseChange) {
        if let Some(changes) = self.changes.as_mut() {
            changes.push_back(change);
        }
    }

    fn forget_account_use(&mut self, account: &Jid) {
        if let Some(n) = self.per_account.get_mut(account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_account.remove(account);
            }
        }
    }

    // ---- time ---------------------------------------------------------------------

    /// Moves time forward to `now` (never back) and fires what fell due, in order.
    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        self.fire_due();
    }

    /// Fires every deadline at or before the current instant, earliest first.
    fn fire_due(&mut self) {
        self.pool.end_quarantines(self.now);
        while let Some(&(at, timer)) = self.timers.first() {
            if at > self.now {
                break;
            }
            self.timers.remove(&(at, timer));
            match timer {
                Timer::Expire(port) => self.end_lease(port, End::Expired),
                Timer::Idle(port) => self.idle_check(port),
                Timer::Grace(port) => {
                    // Nobody from the owner's full JID since the bounce.
                    self.outages.remove(&port);
                    self.leases_owner_gone += 1;
                    self.end_lease(port, End::OwnerGone);
                }
                // The answer timer or the proxy window ran out.
                Timer::Session(port) => self.cancel_session(port, None),
            }
        }
    }

    /// When a lease last active at `active_at` is next checked for idleness;
    /// `None` when [`Config::max_idle_lease`] is off.
    fn idle_deadline(&self, active_at: Instant) -> Option<Instant> {
        let idle = self.config.max_idle_lease;
        (!idle.is_zero()).then(|| active_at + idle)
    }

    /// A sign of life on the lease at `port` (decision 101). The idle timer is not
    /// moved: when it fires, [`LeaseMachine::idle_check`] re-arms it from here.
    fn touch(&mut self, port: u16) {
        let now = self.now;
        if let Some(lease) = self.leases.get_mut(&port) {
            lease.active_at = now;
        }
    }

    /// A `jabber:iq:pass` IQ from `from`: a sign of life of its account's leases.
    fn touch_account(&mut self, from: &Jid) {
        let now = self.now;
        for lease in self.leases.values_mut() {
            if lease.account.same_account(from) {
                lease.active_at = now;
            }
        }
    }

    /// The idle timer of the lease at `port` fired: end it if it had no sign of
    /// life for [`Config::max_idle_lease`] and nothing is in flight on it, else
    /// check again one idle period after its last sign of life.
    fn idle_check(&mut self, port: u16) {
        let now = self.now;
        let Some(lease) = self.leases.get(&port) else {
            return;
        };
        let active_at = if lease.session.is_some() {
            now
        } else {
            lease.active_at
        };
        match self.idle_deadline(active_at) {
            Some(at) if at <= now => {
                self.leases_idle += 1;
                self.end_lease(port, End::Idle);
            }
            next => {
                if let Some(lease) = self.leases.get_mut(&port) {
                    lease.idle_check = next;
                }
                if let Some(at) = next {
                    self.timers.insert((at, Timer::Idle(port)));
                }
            }
        }
    }

    fn quarantine(&mut self, port: u16) {
        let until = self.now + self.config.quarantine;
        self.pool.quarantine(port, until);
    }

    // ---- addresses and sending --------------------------------------------------

    fn first_advertised(&self) -> IpAddr {
        self.config
            .advertised
            .first()
            .copied()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// The advertised address of `peer`'s family, else the first one (decision 9).
    fn advertised_for(&self, peer: &SocketAddr) -> IpAddr {
        self.config
            .advertised
            .iter()
            .find(|ip| ip.is_ipv4() == peer.is_ipv4())
            .copied()
            .unwrap_or_else(|| self.first_advertised())
    }

    fn send_set(&mut self, to: &Jid, id: String, msg: PassMessage) {
        self.notices_sent += 1;
        let iq = Iq {
            id,
            kind: IqType::Set,
            from: Some(self.config.service.clone()),
            to: Some(to.clone()),
            payload: Some(msg.to_query()),
            error: None,
        };
        self.send(iq);
    }

    fn reply_result(&mut self, to: &Jid, id: &str, payload: Element) {
        let iq = Iq {
            id: id.to_string(),
            kind: IqType::Result,
            from: Some(self.config.service.clone()),
            to: Some(to.clone()),
            payload: Some(payload),
            error: None,
        };
        self.send(iq);
    }

    fn reply_error(&mut self, to: &Jid, id: &str, error: StanzaError) {
        let iq = Iq {
            id: id.to_string(),
            kind: IqType::Error,
            from: Some(self.config.service.clone()),
            to: Some(to.clone()),
            payload: None,
            error: Some(error),
        };
        self.send(iq);
    }
}

/// Whether an error answering a notice means its recipient is gone, not that it
/// denied (DESIGN decision 100): what a server bounces for a full JID that is no
/// longer online (RFC 6120 §10.5.3.2: service-unavailable; some servers send
/// recipient-unavailable or item-not-found, §8.3.3) or that moved away (gone). A
/// client that does not speak `jabber:iq:pass` answers service-unavailable too
/// (§8.4): its lease cannot work either. The §5.2 deny is not-authorized.
pub fn owner_is_gone(condition: Condition) -> bool {
    matches!(
        condition,
        Condition::ServiceUnavailable
            | Condition::RecipientUnavailable
            | Condition::ItemNotFound
            | Condition::Gone
    )
}

/// Whether `iq` is an error meaning its sender is not there ([`owner_is_gone`]):
/// what a server sends back in the name of an offline full JID, so no sign that
/// the JID is online.
pub fn is_bounce(iq: &Iq) -> bool {
    iq.kind == IqType::Error
        && iq
            .error
            .as_ref()
            .and_then(|e| e.condition)
            .is_some_and(owner_is_gone)
}

/// What a message is, for error texts.
fn message_name(msg: &PassMessage) -> &'static str {
    match msg {
        PassMessage::Register { .. } => "a registration",
        PassMessage::Registered { .. } => "a registration result",
        PassMessage::IncomingConnection { .. } => "an incoming-connection notice",
        PassMessage::Ack => "an acknowledgement",
        PassMessage::Deny { .. } => "a deny",
        PassMessage::ExpireNotice { .. } => "an expire notice",
        PassMessage::OneshotNotice { .. } => "a oneshot notice",
        PassMessage::Close { .. } => "a close",
        PassMessage::ClientIpQuery => "a client-IP query",
        PassMessage::ClientIpAnswer { .. } => "a client-IP answer",
    }
}

#[cfg(test)]
mod tests;
