//! The client machine: the lease, the callers, the §5.1 queries and the requests
//! awaiting their replies.

use super::output::{ClientAction, ClientEvent, ConnectError, DenyReason, Endpoint, Failure};
use super::policy::Verdict;
use super::ClientConfig;
use crate::jid::Jid;
use crate::lease::ConnId;
use crate::ns;
use crate::stanza::{ping, Condition, Iq, IqType, PassEntity, PassMessage, StanzaError};
use crate::time::Instant;
use crate::xml::Element;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// What a request the client sent asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Request {
    Register,
    Close,
    AskIp(Jid),
}

/// A request awaiting its reply: matched by id and by the JID it went to.
#[derive(Debug)]
struct Outstanding {
    id: String,
    to: Jid,
    what: Request,
    deadline: Instant,
}

/// The client's one lease.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Lease {
    Idle,
    Registering,
    Active { servers: Vec<SocketAddr> },
    Closing { servers: Vec<SocketAddr> },
}

/// An incoming-connection request waiting for an allowed JID's answer
/// (DESIGN decision 61).
#[derive(Debug)]
struct HeldCall {
    request: Iq,
    client: SocketAddr,
    proxy: SocketAddr,
    since: Instant,
    deadline: Instant,
}

/// An accepted caller: its two connections until they are bridged and the relay ends.
#[derive(Debug)]
struct Session {
    client: SocketAddr,
    proxy: SocketAddr,
    proxy_conn: ConnId,
    local_conn: ConnId,
    proxy_up: bool,
    local_up: bool,
    bridged: bool,
}

/// An IP a peer gave in answer to a §5.1 query.
#[derive(Debug)]
struct Answer {
    peer: Jid,
    ip: IpAddr,
    at: Instant,
}

/// Why a command was refused; nothing was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// A lease is held or being registered: close it first (one lease per client).
    LeaseHeld,
    /// There is no lease to close.
    NoLease,
    /// A close is already under way.
    AlreadyClosing,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandError::LeaseHeld => "a lease is already held or being registered",
            CommandError::NoLease => "there is no lease to close",
            CommandError::AlreadyClosing => "the lease is already being closed",
        })
    }
}

impl core::error::Error for CommandError {}

/// A PASS client as a sans-IO state machine (see [the module](super)).
///
/// Commands ([`register`](Client::register), [`close`](Client::close),
/// [`ask_ip`](Client::ask_ip)) and events (`handle_*`) each take the current time;
/// afterwards the host drains [`poll_action`](Client::poll_action) and
/// [`poll_event`](Client::poll_event) until `None`, and calls
/// [`handle_timeout`](Client::handle_timeout) at [`poll_timeout`](Client::poll_timeout).
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    /// The latest instant seen (time never goes back).
    now: Instant,
    sent: u64,
    next_conn: u64,
    lease: Lease,
    outstanding: Vec<Outstanding>,
    held: Vec<HeldCall>,
    answers: Vec<Answer>,
    sessions: Vec<Session>,
    actions: VecDeque<ClientAction>,
    events: VecDeque<ClientEvent>,
}

impl Client {
    /// A client holding no lease.
    pub fn new(config: ClientConfig) -> Client {
        Client {
            config,
            now: Instant::default(),
            sent: 0,
            next_conn: 0,
            lease: Lease::Idle,
            outstanding: Vec::new(),
            held: Vec::new(),
            answers: Vec::new(),
            sessions: Vec::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The leased public address(es), while the lease is held (or being closed).
    pub fn lease(&self) -> Option<&[SocketAddr]> {
        match &self.lease {
            Lease::Active { servers } | Lease::Closing { servers } => Some(servers),
            Lease::Idle | Lease::Registering => None,
        }
    }

    /// How many accepted callers are connecting or bridged.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The next piece of I/O for the host.
    pub fn poll_action(&mut self) -> Option<ClientAction> {
        self.actions.pop_front()
    }

    /// The next outcome for the user.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Client::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let requests = self.outstanding.iter().map(|o| o.deadline);
        let calls = self.held.iter().map(|h| h.deadline);
        requests.chain(calls).min()
    }

    fn advance(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    // ---- commands ---------------------------------------------------------------

    /// Asks the service for a port (listing 1): `expire` seconds (`None`: as long as
    /// the service allows), `oneshot` for one caller only. Each allowed JID is asked
    /// for its IP at the same time (DESIGN decision 61).
    pub fn register(
        &mut self,
        now: Instant,
        expire: Option<u64>,
        oneshot: bool,
    ) -> Result<(), CommandError> {
        let now = self.advance(now);
        if self.lease != Lease::Idle {
            return Err(CommandError::LeaseHeld);
        }
        self.lease = Lease::Registering;
        let service = self.config.service.clone();
        let register = PassMessage::Register { expire, oneshot };
        self.send_request(now, service, Request::Register, &register);
        self.ask_allowed_jids(now);
        Ok(())
    }

    /// Closes the lease (listing 9, naming its first address).
    pub fn close(&mut self, now: Instant) -> Result<(), CommandError> {
        let now = self.advance(now);
        let servers = match &self.lease {
            Lease::Active { servers } => servers.clone(),
            Lease::Closing { .. } => return Err(CommandError::AlreadyClosing),
            Lease::Idle | Lease::Registering => return Err(CommandError::NoLease),
        };
        let Some(first) = servers.first() else {
            return Err(CommandError::NoLease);
        };
        let proxy = PassEntity::new(&first.ip().to_string(), Some(first.port()));
        let close = PassMessage::Close { proxy: Some(proxy) };
        let service = self.config.service.clone();
        self.send_request(now, service, Request::Close, &close);
        self.lease = Lease::Closing { servers };
        Ok(())
    }

    /// Asks `peer` (a full JID) for its IP (listing 11); the answer comes as
    /// [`ClientEvent::PeerIp`] or [`ClientEvent::PeerIpFailed`]. Nothing is sent
    /// while a query to `peer` is already awaiting its answer.
    pub fn ask_ip(&mut self, now: Instant, peer: Jid) {
        let now = self.advance(now);
        let asking = Request::AskIp(peer.clone());
        if self.outstanding.iter().any(|o| o.what == asking) {
            return;
        }
        self.send_request(now, peer, asking, &PassMessage::ClientIpQuery);
    }

    /// The host's XMPP stream is back after it was lost, under the same full JID.
    /// While a lease is held (or being registered), a ping (XEP-0199) goes to the
    /// service: a sign of life that ends the reconnect grace a notice bounced during
    /// the outage started, so the lease is kept (DESIGN decision 94). Its answer
    /// is not awaited (an unmatched reply is ignored, decision 62).
    pub fn handle_reconnected(&mut self, now: Instant) {
        self.advance(now);
        if self.lease == Lease::Idle {
            return;
        }
        self.sent += 1;
        let iq = Iq {
            id: format!("pc{:x}-{}", self.config.id_seed, self.sent),
            kind: IqType::Get,
            from: Some(self.config.jid.clone()),
            to: Some(self.config.service.clone()),
            payload: Some(ping::ping()),
            error: None,
        };
        self.actions.push_back(ClientAction::Send(iq));
    }

    fn ask_allowed_jids(&mut self, now: Instant) {
        for peer in self.config.policy.allow_jids.clone() {
            self.ask_ip(now, peer);
        }
    }

    fn send_request(&mut self, now: Instant, to: Jid, what: Request, msg: &PassMessage) {
        self.sent += 1;
        // Unique for this run; the seed keeps a restarted client's ids apart.
        let id = format!("pc{:x}-{}", self.config.id_seed, self.sent);
        let iq = msg.to_iq(&id, Some(self.config.jid.clone()), Some(to.clone()));
        let deadline = now + self.config.request_timeout;
        self.outstanding.push(Outstanding {
            id,
            to,
            what,
            deadline,
        });
        self.actions.push_back(ClientAction::Send(iq));
    }

    // ---- stanzas ----------------------------------------------------------------

    /// A top-level element arrived on the user's XMPP stream.
    pub fn handle_stanza(&mut self, now: Instant, stanza: &Element) {
        let now = self.advance(now);
        if stanza.name != "iq" {
            return;
        }
        match Iq::try_from(stanza) {
            Ok(iq) => match iq.kind {
                IqType::Get | IqType::Set => self.handle_request(now, &iq),
                IqType::Result | IqType::Error => self.handle_reply(now, &iq),
            },
            Err(e) => self.answer_malformed(stanza, &e),
        }
    }

    /// A malformed `<iq/>`: a get or set with an id is answered bad-request.
    fn answer_malformed(&mut self, stanza: &Element, why: &dyn fmt::Display) {
        if !matches!(stanza.attr("type"), Some("get" | "set")) {
            return;
        }
        let Some(id) = stanza.attr("id") else { return };
        let text = format!("malformed IQ: {why}");
        self.actions.push_back(ClientAction::Send(Iq {
            id: String::from(id),
            kind: IqType::Error,
            from: Some(self.config.jid.clone()),
            to: stanza.attr("from").and_then(|f| Jid::new(f).ok()),
            payload: None,
            error: Some(StanzaError::new(Condition::BadRequest).with_text(&text)),
        }));
    }

    fn handle_request(&mut self, now: Instant, iq: &Iq) {
        let Some(payload) = iq.payload.as_ref() else {
            return self.unserved(iq);
        };
        if !payload.is("query", ns::PASS) {
            if ping::is_ping_request(iq) {
                return self.reply_result(iq, None);
            }
            return self.unserved(iq);
        }
        let msg = match PassMessage::from_iq(iq) {
            Ok(msg) => msg,
            Err(e) => return self.reply_error(iq, StanzaError::from(&e)),
        };
        let from_service = iq.from.as_ref() == Some(&self.config.service);
        match msg {
            PassMessage::ClientIpQuery => self.answer_ip_query(iq),
            PassMessage::IncomingConnection { client, proxy } if from_service => {
                self.incoming(now, iq, client, proxy)
            }
            PassMessage::ExpireNotice { proxy } if from_service => {
                self.notice(iq, proxy, ClientEvent::Expired { proxy })
            }
            PassMessage::OneshotNotice { proxy } if from_service => {
                self.notice(iq, proxy, ClientEvent::OneshotClosed { proxy })
            }
            // Registrations and closes are the service's to serve; announcements
            // from anybody but the service are not served (DESIGN decision 62).
            _ => self.unserved(iq),
        }
    }

    fn reply_result(&mut self, request: &Iq, payload: Option<Element>) {
        let mut iq = Iq::result_for(request, payload);
        iq.from = Some(self.config.jid.clone());
        self.actions.push_back(ClientAction::Send(iq));
    }

    fn reply_error(&mut self, request: &Iq, error: StanzaError) {
        let mut iq = Iq::error_for(request, error);
        iq.from = Some(self.config.jid.clone());
        self.actions.push_back(ClientAction::Send(iq));
    }

    fn unserved(&mut self, request: &Iq) {
        let text = match &request.payload {
            Some(p) => format!("{{{}}}{} is not served here", p.namespace, p.name),
            None => String::from("nothing is served here"),
        };
        let error = StanzaError::new(Condition::ServiceUnavailable).with_text(&text);
        self.reply_error(request, error);
    }

    /// §5.1: listing 12 with the configured IP.
    fn answer_ip_query(&mut self, iq: &Iq) {
        match self.config.answer_ip {
            Some(client) => {
                let answer = PassMessage::ClientIpAnswer { client };
                self.reply_result(iq, Some(answer.to_query()));
            }
            None => {
                let error = StanzaError::new(Condition::ServiceUnavailable)
                    .with_text("this client does not give its IP");
                self.reply_error(iq, error);
            }
        }
    }

    /// §4.1/§4.2: acknowledged (listings 6, 8) when it names the lease.
    fn notice(&mut self, iq: &Iq, proxy: SocketAddr, event: ClientEvent) {
        let ours = self.lease().is_some_and(|servers| servers.contains(&proxy));
        if !ours {
            let error = StanzaError::new(Condition::ItemNotFound)
                .with_text("this client holds no lease at that address");
            return self.reply_error(iq, error);
        }
        self.reply_result(iq, Some(PassMessage::Ack.to_query()));
        self.lease = Lease::Idle;
        self.events.push_back(event);
    }

    /// §3: accept, deny, or wait for an allowed JID's answer.
    fn incoming(&mut self, now: Instant, iq: &Iq, client: SocketAddr, proxy: SocketAddr) {
        if self.lease().is_none() {
            return self.deny(iq, client, proxy, DenyReason::NoLease);
        }
        match self.config.policy.judge(client.ip()) {
            Verdict::Accept => self.accept(iq, client, proxy),
            Verdict::Deny => self.deny(iq, client, proxy, DenyReason::NotAllowed),
            Verdict::AskJids => {
                let ttl = self.config.ip_answer_ttl;
                let fresh_since = Instant::from_millis(
                    now.as_millis()
                        .saturating_sub(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
                );
                if self.answered(client.ip(), fresh_since) {
                    return self.accept(iq, client, proxy);
                }
                self.ask_allowed_jids(now);
                self.held.push(HeldCall {
                    request: iq.clone(),
                    client,
                    proxy,
                    since: now,
                    deadline: now + self.config.ip_answer_wait,
                });
            }
        }
    }

    /// Whether an allowed JID answered `caller`'s IP at or after `since`.
    fn answered(&self, caller: IpAddr, since: Instant) -> bool {
        let caller = caller.to_canonical();
        let allowed = &self.config.policy.allow_jids;
        self.answers
            .iter()
            .any(|a| a.at >= since && a.ip.to_canonical() == caller && allowed.contains(&a.peer))
    }

    /// Whether a query to an allowed JID still awaits its answer.
    fn asking_allowed_jids(&self) -> bool {
        let allowed = &self.config.policy.allow_jids;
        self.outstanding
            .iter()
            .any(|o| matches!(&o.what, Request::AskIp(peer) if allowed.contains(peer)))
    }

    /// Decides the held calls that can be: a matching answer accepts, the end of the
    /// wait (or of every query) denies.
    fn settle_held(&mut self, now: Instant) {
        let asking = self.asking_allowed_jids();
        let mut i = 0;
        while i < self.held.len() {
            let h = &self.held[i];
            let matched = self.answered(h.client.ip(), h.since);
            if matched || !asking || now >= h.deadline {
                let h = self.held.remove(i);
                if self.lease().is_none() {
                    self.deny(&h.request, h.client, h.proxy, DenyReason::NoLease);
                } else if matched {
                    self.accept(&h.request, h.client, h.proxy);
                } else {
                    self.deny(&h.request, h.client, h.proxy, DenyReason::NoMatchingAnswer);
                }
            } else {
                i += 1;
            }
        }
    }

    /// Listing 4, then a connection to the proxy and one to the local service, in
    /// parallel (DESIGN decision 63).
    fn accept(&mut self, iq: &Iq, client: SocketAddr, proxy: SocketAddr) {
        self.reply_result(iq, Some(PassMessage::Ack.to_query()));
        let proxy_conn = self.new_conn();
        let local_conn = self.new_conn();
        self.sessions.push(Session {
            client,
            proxy,
            proxy_conn,
            local_conn,
            proxy_up: false,
            local_up: false,
            bridged: false,
        });
        self.events
            .push_back(ClientEvent::Accepted { client, proxy });
        self.actions.push_back(ClientAction::Connect {
            conn: proxy_conn,
            to: Endpoint::Proxy(proxy),
        });
        self.actions.push_back(ClientAction::Connect {
            conn: local_conn,
            to: Endpoint::Local,
        });
    }

    /// Listing 14: error 401 (auth, not-authorized) with the query echoed.
    fn deny(&mut self, iq: &Iq, client: SocketAddr, proxy: SocketAddr, reason: DenyReason) {
        let deny = PassMessage::Deny {
            client: Some(client),
            proxy: Some(proxy),
            error: StanzaError::new(Condition::NotAuthorized),
        };
        let answer = deny.to_iq(&iq.id, Some(self.config.jid.clone()), iq.from.clone());
        self.actions.push_back(ClientAction::Send(answer));
        self.events.push_back(ClientEvent::Denied {
            client,
            proxy,
            reason,
        });
    }

    fn new_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    /// A `result` or `error`: the reply to a request of ours if its id and sender
    /// match one (DESIGN decision 62), ignored otherwise.
    fn handle_reply(&mut self, now: Instant, iq: &Iq) {
        let Some(at) = self
            .outstanding
            .iter()
            .position(|o| o.id == iq.id && iq.from.as_ref() == Some(&o.to))
        else {
            return;
        };
        let request = self.outstanding.remove(at);
        let outcome = match (&iq.kind, &iq.error) {
            (IqType::Error, Some(error)) => Err(Failure::refused(error)),
            (IqType::Error, None) => Err(Failure::BadAnswer(String::from(
                "an error reply without <error/>",
            ))),
            _ => PassMessage::from_iq(iq).map_err(|e| Failure::BadAnswer(e.to_string())),
        };
        match (request.what, outcome) {
            (Request::Register, Ok(PassMessage::Registered { servers })) if !servers.is_empty() => {
                self.lease = Lease::Active {
                    servers: servers.clone(),
                };
                self.events.push_back(ClientEvent::Registered { servers });
            }
            (Request::Close, Ok(PassMessage::Ack)) => {
                if matches!(self.lease, Lease::Closing { .. }) {
                    self.lease = Lease::Idle;
                }
                self.events.push_back(ClientEvent::Closed);
            }
            (Request::AskIp(peer), Ok(PassMessage::ClientIpAnswer { client: ip })) => {
                self.answers.retain(|a| a.peer != peer);
                self.answers.push(Answer {
                    peer: peer.clone(),
                    ip,
                    at: now,
                });
                self.events.push_back(ClientEvent::PeerIp { peer, ip });
                self.settle_held(now);
            }
            (what, Ok(other)) => {
                let why = format!("a {:?} reply is not the answer to this request", other);
                self.fail(now, what, Failure::BadAnswer(why));
            }
            (what, Err(failure)) => self.fail(now, what, failure),
        }
    }

    fn fail(&mut self, now: Instant, what: Request, failure: Failure) {
        match what {
            Request::Register => {
                if self.lease == Lease::Registering {
                    self.lease = Lease::Idle;
                }
                self.events
                    .push_back(ClientEvent::RegistrationFailed(failure));
            }
            Request::Close => {
                // 404: the service has no such lease any more; otherwise it stands.
                let gone = matches!(
                    failure,
                    Failure::Refused {
                        condition: Condition::ItemNotFound,
                        ..
                    }
                );
                if let Lease::Closing { servers } = &self.lease {
                    self.lease = if gone {
                        Lease::Idle
                    } else {
                        Lease::Active {
                            servers: servers.clone(),
                        }
                    };
                }
                self.events.push_back(ClientEvent::CloseFailed(failure));
            }
            Request::AskIp(peer) => {
                self.events
                    .push_back(ClientEvent::PeerIpFailed { peer, failure });
                self.settle_held(now);
            }
        }
    }

    // ---- time -------------------------------------------------------------------

    /// The deadline given by [`poll_timeout`](Client::poll_timeout) has passed:
    /// unanswered requests fail, callers waiting too long are denied.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        let (due, waiting): (Vec<Outstanding>, Vec<Outstanding>) =
            core::mem::take(&mut self.outstanding)
                .into_iter()
                .partition(|o| o.deadline <= now);
        self.outstanding = waiting;
        for o in due {
            self.fail(now, o.what, Failure::TimedOut);
        }
        self.settle_held(now);
    }

    // ---- connections ------------------------------------------------------------

    fn session_of(&self, conn: ConnId) -> Option<usize> {
        self.sessions
            .iter()
            .position(|s| s.proxy_conn == conn || s.local_conn == conn)
    }

    /// The outcome of a [`ClientAction::Connect`].
    pub fn handle_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        result: Result<(), ConnectError>,
    ) {
        self.advance(now);
        let Some(i) = self.session_of(conn) else {
            return;
        };
        let s = &mut self.sessions[i];
        let is_proxy = s.proxy_conn == conn;
        match result {
            Err(error) => {
                let to = if is_proxy {
                    Endpoint::Proxy(s.proxy)
                } else {
                    Endpoint::Local
                };
                let client = s.client;
                self.events
                    .push_back(ClientEvent::ConnectFailed { client, to, error });
                self.end_session(i, conn);
            }
            Ok(()) => {
                if is_proxy {
                    s.proxy_up = true;
                } else {
                    s.local_up = true;
                }
                if s.proxy_up && s.local_up && !s.bridged {
                    s.bridged = true;
                    let (proxy, local, client) = (s.proxy_conn, s.local_conn, s.client);
                    self.actions
                        .push_back(ClientAction::Bridge { proxy, local });
                    self.events.push_back(ClientEvent::Bridged { client });
                }
            }
        }
    }

    /// `conn` is over: its peer hung up before the bridge, or its relay ended.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.advance(now);
        if let Some(i) = self.session_of(conn) {
            self.end_session(i, conn);
        }
    }

    /// Forgets session `i`, whose connection `gone` is over: an unbridged partner
    /// is dropped (a bridged one is the host's relay to close).
    fn end_session(&mut self, i: usize, gone: ConnId) {
        let s = self.sessions.remove(i);
        if !s.bridged {
            let other = if s.proxy_conn == gone {
                s.local_conn
            } else {
                s.proxy_conn
            };
            self.actions.push_back(ClientAction::Drop { conn: other });
        }
        self.events
            .push_back(ClientEvent::SessionEnded { client: s.client });
    }
}
