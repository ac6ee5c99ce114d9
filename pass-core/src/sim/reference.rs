//! The reference model of the protocol as seen from outside (DESIGN decision 130):
//! what a third party, an owner and the XMPP side can observe of any PASS service,
//! and what the spec allows it to do next. `pass-conformance explore` tells it every
//! request it sends, every connection it makes and every stanza it receives; the
//! model answers with a [`Mismatch`] the moment an observation is one no conforming
//! service could produce.
//!
//! Where [`model`](super::model) watches the reference engine's actions inside the
//! simulated host, this model sees only the wire, so it judges any implementation:
//! it never assumes which port is leased, accepts every timing within the tolerance,
//! accepts a refusal the spec leaves to the service (a rate limit's
//! resource-constraint, a 502 unless the pool size is known and not reached, a
//! caller dropped before it is announced) and judges the rest exactly:
//!
//! - every request is answered exactly once, to its sender, from the service, with
//!   a result or an error as the request's kind requires;
//! - a granted port is a port no live lease holds, on the advertised addresses;
//! - an incoming-connection notice names a caller the model knows is connected to a
//!   lease, goes to that lease's owner (the full JID that registered it), and names
//!   an advertised address as its proxy;
//! - an expire notice goes to the owner within the tolerance of the deadline, a
//!   oneshot notice only after a session of a oneshot lease, never a notice for a
//!   lease that has ended;
//! - a live lease accepts connections, an ended one refuses them (once the
//!   tolerance has passed), callers are dropped when denied, unanswered or
//!   abandoned by their owner, and not before.
//!
//! Times are milliseconds on the explorer's clock (virtual time in process).

use crate::stanza::{Iq, IqType, PassMessage};
use crate::xml::Element;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// What the model knows of the service under test.
#[derive(Clone, Debug)]
pub struct ReferenceConfig {
    /// The service's JID (the `from` of everything it sends).
    pub service: String,
    /// How far a timed event may be from its due time either way (ms).
    pub tolerance_ms: u64,
    /// How long an answer to a request may take (ms).
    pub answer_wait_ms: u64,
    /// How long the service waits for an owner's answer (ms; DESIGN decision 7).
    pub answer_timeout_ms: u64,
    /// How long a proxy port waits for the owner after an accept (ms; decision 1).
    pub proxy_window_ms: u64,
    /// The pool size, when known: a 502 with fewer ports in use is a mismatch.
    pub pool_size: Option<usize>,
    /// The idle-lease limit, when known (decision 101): an expire notice for a lease
    /// this old is not early.
    pub max_idle_ms: Option<u64>,
}

/// An observation no conforming service could produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for Mismatch {}

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(Mismatch(format!($($arg)+)));
        }
    };
}

/// Who sends a close (§4.3), and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    /// The full JID that registered the lease, with an advertised address.
    Owner,
    /// Another resource of the owner's account (acknowledged or refused: the spec
    /// says "owner", the reference reads it as the account).
    OtherResource,
    /// Another account: must be refused.
    OtherAccount,
    /// The owner, naming an address that is not advertised: must be refused.
    WrongIp,
    /// The owner, naming a port no lease of theirs holds: must be refused.
    UnknownPort,
    /// The owner, without `<proxy/>`: must be refused.
    MissingProxy,
}

/// How an owner answers an incoming-connection request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerAnswer {
    /// §3 listing 4.
    Accept,
    /// §5.2 listing 14 (401).
    Deny,
    /// Any other error (§3: the client is dropped).
    Error,
}

/// What a received stanza was, for the explorer to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The answer to a request (the port, for a granted lease).
    Answer {
        /// The request's id.
        id: String,
        /// The leased port, for a granted register.
        granted: Option<u16>,
    },
    /// An incoming-connection request for the caller `caller`.
    Incoming {
        /// The caller the model was told about.
        caller: u64,
        /// The request's id (the owner's answer carries it).
        id: String,
        /// Where the owner connects.
        proxy: SocketAddr,
    },
    /// An expire or oneshot notice that ended the lease on `port` (to acknowledge).
    Ended {
        /// The notice's id.
        id: String,
        /// The lease's port.
        port: u16,
    },
}

#[derive(Clone, Debug)]
enum Request {
    Register {
        from: String,
        expire: Option<u64>,
        oneshot: bool,
    },
    Close {
        from: String,
        port: Option<u16>,
        closer: Closer,
    },
    /// Malformed, or another namespace: an error is due.
    Invalid { from: String },
}

#[derive(Clone, Debug)]
struct Pending {
    request: Request,
    at: u64,
}

/// A live lease as seen from outside.
#[derive(Clone, Debug)]
struct Lease {
    owner: String,
    ips: Vec<IpAddr>,
    deadline: Option<u64>,
    oneshot: bool,
    granted_at: u64,
    /// A session was bridged and ended: the oneshot notice is due by then.
    oneshot_due: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Connected; the incoming-connection request is due.
    Ringing,
    /// The owner was asked (request id, since when).
    Asked,
    /// The owner accepted; its connection to the proxy is due.
    Accepted,
    /// Bridged.
    Relaying,
    /// The service must drop the caller by `due`.
    Dropping { due: u64 },
}

#[derive(Clone, Debug)]
struct Session {
    port: u16,
    client: SocketAddr,
    phase: Phase,
    since: u64,
    notice: Option<String>,
    proxy: Option<SocketAddr>,
    /// Accepted within the tolerance of the service's answer timeout: the service
    /// may have timed out first (dropped the caller, closed the proxy), or not.
    late_accept: bool,
}

/// The model. See the module docs.
#[derive(Clone, Debug)]
pub struct Reference {
    config: ReferenceConfig,
    requests: BTreeMap<String, Pending>,
    answered: BTreeSet<String>,
    leases: BTreeMap<u16, Lease>,
    /// Ports of ended leases and used proxies, with when they ended.
    ended: BTreeMap<u16, u64>,
    sessions: BTreeMap<u64, Session>,
    notice_ids: BTreeSet<String>,
    states: BTreeSet<String>,
}

/// The bare JID of a full one.
fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}

impl Reference {
    /// A model of a service that has done nothing yet.
    pub fn new(config: ReferenceConfig) -> Reference {
        Reference {
            config,
            requests: BTreeMap::new(),
            answered: BTreeSet::new(),
            leases: BTreeMap::new(),
            ended: BTreeMap::new(),
            sessions: BTreeMap::new(),
            notice_ids: BTreeSet::new(),
            states: BTreeSet::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ReferenceConfig {
        &self.config
    }

    /// Live leases: port, owner's full JID, oneshot.
    pub fn leases(&self) -> impl Iterator<Item = (u16, &str, bool)> {
        self.leases
            .iter()
            .map(|(p, l)| (*p, l.owner.as_str(), l.oneshot))
    }

    /// The addresses of a live lease, as granted.
    pub fn lease_ips(&self, port: u16) -> Vec<IpAddr> {
        self.leases
            .get(&port)
            .map(|l| l.ips.clone())
            .unwrap_or_default()
    }

    /// Whether a lease has no session (a new caller is announced at once).
    pub fn is_idle(&self, port: u16) -> bool {
        self.leases.contains_key(&port) && !self.sessions.values().any(|s| s.port == port)
    }

    /// Ports that ended (lease ended, proxy used or lapsed) and are not live again.
    pub fn ended_ports(&self) -> Vec<u16> {
        self.ended
            .keys()
            .copied()
            .filter(|p| !self.is_listening(*p))
            .collect()
    }

    /// Requests not yet answered.
    pub fn unanswered(&self) -> usize {
        self.requests.len()
    }

    /// Labels of the states the model went through (for the run's summary).
    pub fn states(&self) -> &BTreeSet<String> {
        &self.states
    }

    /// Callers in a session, with whether they are asked (awaiting the owner),
    /// accepted (awaiting the owner's connection) or relaying.
    pub fn sessions(&self) -> impl Iterator<Item = (u64, SessionView)> + '_ {
        self.sessions.iter().map(|(c, s)| {
            let view = match s.phase {
                Phase::Ringing => SessionView::Ringing,
                Phase::Asked => SessionView::Asked {
                    id: s.notice.clone().unwrap_or_default(),
                    client: s.client,
                    proxy: s.proxy.unwrap_or(s.client),
                },
                Phase::Accepted => SessionView::Accepted {
                    proxy: s.proxy.unwrap_or(s.client),
                },
                Phase::Relaying => SessionView::Relaying,
                Phase::Dropping { .. } => SessionView::Dropping,
            };
            (*c, view)
        })
    }

    /// The owner of the lease a caller called.
    pub fn owner_of(&self, caller: u64) -> Option<&str> {
        let s = self.sessions.get(&caller)?;
        self.leases.get(&s.port).map(|l| l.owner.as_str())
    }

    fn reached(&mut self, label: &str) {
        if !self.states.contains(label) {
            self.states.insert(label.to_string());
        }
    }

    /// Whether `port` must accept a connection: a live lease, or a proxy port
    /// announced and not yet used.
    pub fn is_listening(&self, port: u16) -> bool {
        self.leases.contains_key(&port)
            || self.sessions.values().any(|s| {
                matches!(s.phase, Phase::Asked | Phase::Accepted)
                    && s.proxy.is_some_and(|p| p.port() == port)
            })
    }

    fn sent(&mut self, now: u64, id: &str, request: Request) {
        self.requests
            .insert(id.to_string(), Pending { request, at: now });
    }

    /// A register was sent.
    pub fn register_sent(
        &mut self,
        now: u64,
        id: &str,
        from: &str,
        expire: Option<u64>,
        oneshot: bool,
    ) {
        let from = from.to_string();
        self.sent(
            now,
            id,
            Request::Register {
                from,
                expire,
                oneshot,
            },
        );
    }

    /// A close was sent.
    pub fn close_sent(
        &mut self,
        now: u64,
        id: &str,
        from: &str,
        port: Option<u16>,
        closer: Closer,
    ) {
        let from = from.to_string();
        self.sent(now, id, Request::Close { from, port, closer });
    }

    /// A request that deserves an error was sent (malformed, another namespace).
    pub fn invalid_sent(&mut self, now: u64, id: &str, from: &str) {
        let from = from.to_string();
        self.sent(now, id, Request::Invalid { from });
    }

    /// A caller's connection to the live lease on `port` was accepted; `client` is
    /// its address as the service sees it.
    pub fn called(&mut self, now: u64, caller: u64, port: u16, client: SocketAddr) {
        self.reached("session:ringing");
        if self.leases.len() > 1 {
            self.reached("leases:several");
        }
        self.sessions.insert(
            caller,
            Session {
                port,
                client,
                phase: Phase::Ringing,
                since: now,
                notice: None,
                proxy: None,
                late_accept: false,
            },
        );
    }

    /// A connection to `port` was refused.
    pub fn refused(&mut self, now: u64, port: u16) -> Result<(), Mismatch> {
        // A lease at the end of its life may close its port just before its notice
        // reaches us.
        let tol = self.config.tolerance_ms;
        let ending = self
            .leases
            .get(&port)
            .is_some_and(|l| l.deadline.is_some_and(|d| now + tol >= d) || l.oneshot_due.is_some());
        // The proxy of an accept that may have come after the answer timeout.
        let timed_out = self
            .sessions
            .values()
            .any(|s| s.late_accept && s.proxy.is_some_and(|p| p.port() == port));
        if ending || timed_out {
            return Ok(());
        }
        ensure!(
            !self.is_listening(port),
            "a connection to port {port} was refused, but it is {}",
            if self.leases.contains_key(&port) {
                "a live lease's port (it must listen until the lease ends)"
            } else {
                "an announced proxy port"
            }
        );
        Ok(())
    }

    /// A connection to `port`, which the model says is not listening, was accepted.
    pub fn stray_accepted(&self, now: u64, port: u16) -> Result<(), Mismatch> {
        if self.is_listening(port) {
            return Ok(());
        }
        let ended = self.ended.get(&port).copied().unwrap_or(0);
        ensure!(
            now.saturating_sub(ended) <= self.config.tolerance_ms,
            "port {port} accepted a connection {} ms after its lease or proxy ended",
            now.saturating_sub(ended)
        );
        Ok(())
    }

    /// The owner answered the incoming-connection request of `caller`.
    pub fn owner_answered(&mut self, now: u64, caller: u64, how: OwnerAnswer) {
        let tol = self.config.tolerance_ms;
        let Some(s) = self.sessions.get_mut(&caller) else {
            return;
        };
        if s.phase != Phase::Asked {
            return;
        }
        s.late_accept =
            how == OwnerAnswer::Accept && now + tol >= s.since + self.config.answer_timeout_ms;
        s.since = now;
        s.phase = match how {
            OwnerAnswer::Accept => Phase::Accepted,
            OwnerAnswer::Deny | OwnerAnswer::Error => Phase::Dropping { due: now + tol },
        };
        let label = match how {
            OwnerAnswer::Accept => "session:accepted",
            OwnerAnswer::Deny => "session:denied",
            OwnerAnswer::Error => "session:owner-error",
        };
        if let Some(p) = s.proxy {
            if how != OwnerAnswer::Accept {
                self.ended.insert(p.port(), now);
            }
        }
        self.reached(label);
    }

    /// The owner's connection to the proxy of `caller` was accepted.
    pub fn owner_connected(&mut self, now: u64, caller: u64) {
        let Some(s) = self.sessions.get_mut(&caller) else {
            return;
        };
        if s.phase != Phase::Accepted {
            return;
        }
        s.phase = Phase::Relaying;
        s.since = now;
        if let Some(p) = s.proxy {
            self.ended.insert(p.port(), now);
        }
        self.reached("session:relaying");
    }

    /// The explorer ended `caller`'s session (either side hung up or half-closed).
    pub fn session_ended(&mut self, now: u64, caller: u64) {
        let Some(s) = self.sessions.remove(&caller) else {
            return;
        };
        if let Some(p) = s.proxy {
            self.ended.entry(p.port()).or_insert(now);
        }
        if s.phase == Phase::Relaying {
            if let Some(l) = self.leases.get_mut(&s.port) {
                if l.oneshot {
                    l.oneshot_due = Some(now + self.config.tolerance_ms);
                }
            }
            self.reached("session:ended-after-relay");
        } else {
            self.reached("session:abandoned-before-relay");
        }
    }

    /// The service closed `caller`'s connection (EOF the explorer did not cause).
    pub fn caller_dropped(&mut self, now: u64, caller: u64) -> Result<(), Mismatch> {
        let Some(s) = self.sessions.get(&caller) else {
            return Ok(());
        };
        let tol = self.config.tolerance_ms;
        let lease_live = self.leases.contains_key(&s.port);
        let ok = match s.phase {
            // A service may drop a caller unannounced (a rate limit, a busy lease).
            Phase::Ringing | Phase::Dropping { .. } => true,
            Phase::Asked => now + tol >= s.since + self.config.answer_timeout_ms,
            Phase::Accepted => s.late_accept || now + tol >= s.since + self.config.proxy_window_ms,
            Phase::Relaying => false,
        } || !lease_live;
        ensure!(
            ok,
            "the caller on port {} was dropped {} ms into {:?} (before the owner's answer \
             timeout, proxy window or a hang-up)",
            s.port,
            now.saturating_sub(s.since),
            s.phase
        );
        if let Some(p) = s.proxy {
            self.ended.entry(p.port()).or_insert(now);
        }
        self.sessions.remove(&caller);
        self.reached("session:caller-dropped");
        Ok(())
    }

    /// Callers the service must have dropped by `now`, with why.
    pub fn drops_due(&self, now: u64) -> Vec<(u64, &'static str)> {
        let tol = self.config.tolerance_ms;
        self.sessions
            .iter()
            .filter_map(|(c, s)| {
                let why = match s.phase {
                    Phase::Dropping { due } if now >= due => {
                        "the owner refused the call (§3, §5.2): the client is dropped"
                    }
                    Phase::Ringing if now > s.since + self.config.answer_wait_ms + tol => {
                        "no incoming-connection request came (§3): the caller must at \
                         least be dropped"
                    }
                    Phase::Asked if now > s.since + self.config.answer_timeout_ms + tol => {
                        "the owner never answered: the client is dropped after the \
                         answer timeout (DESIGN decision 7)"
                    }
                    Phase::Accepted if now > s.since + self.config.proxy_window_ms + tol => {
                        "the owner never connected to the proxy: the client is dropped \
                         after the proxy window (DESIGN decision 1)"
                    }
                    _ => return None,
                };
                Some((*c, why))
            })
            .collect()
    }

    /// Everything due by `now` happened: every request answered, every expiry and
    /// oneshot notice sent.
    pub fn check_due(&self, now: u64) -> Result<(), Mismatch> {
        let tol = self.config.tolerance_ms;
        for (id, p) in &self.requests {
            ensure!(
                now <= p.at + self.config.answer_wait_ms,
                "request {id} ({:?}) unanswered after {} ms",
                p.request,
                now - p.at
            );
        }
        for (port, l) in &self.leases {
            if let Some(d) = l.deadline {
                ensure!(
                    now <= d + tol,
                    "the lease on port {port} should have expired at {d} ms (now {now} ms): \
                     no expire notice (§4.1)"
                );
            }
            if let Some(d) = l.oneshot_due {
                ensure!(
                    now <= d,
                    "the oneshot lease on port {port} was used and its session ended: no \
                     oneshot notice (§4.2)"
                );
            }
        }
        Ok(())
    }

    /// A stanza the service sent.
    pub fn received(&mut self, now: u64, el: &Element) -> Result<Option<Seen>, Mismatch> {
        let from = el.attr("from").unwrap_or("");
        ensure!(
            from == self.config.service,
            "a stanza from {from:?}, not the service {:?}",
            self.config.service
        );
        if el.name != "iq" {
            return Ok(None);
        }
        let to = el.attr("to").unwrap_or("").to_string();
        let iq = Iq::try_from(el).map_err(|e| Mismatch(format!("a malformed IQ ({e:?})")))?;
        match iq.kind {
            IqType::Result | IqType::Error => self.answer(now, &iq, el, &to),
            IqType::Set => self.notice(now, &iq, el, &to),
            IqType::Get => Ok(None),
        }
    }

    fn answer(
        &mut self,
        now: u64,
        iq: &Iq,
        el: &Element,
        to: &str,
    ) -> Result<Option<Seen>, Mismatch> {
        let Some(p) = self.requests.remove(&iq.id) else {
            ensure!(
                !self.answered.contains(&iq.id),
                "request {} answered a second time",
                iq.id
            );
            return Err(Mismatch(format!("an answer to no request: id {:?}", iq.id)));
        };
        self.answered.insert(iq.id.clone());
        let sender = match &p.request {
            Request::Register { from, .. }
            | Request::Close { from, .. }
            | Request::Invalid { from } => from.clone(),
        };
        ensure!(
            to == sender,
            "the answer to {} went to {to:?}, not the sender {sender:?}",
            iq.id
        );
        let error = iq.error.as_ref();
        let code = error.and_then(|e| e.code);
        let rate_limited = error.is_some_and(|e| {
            e.condition == Some(crate::stanza::Condition::ResourceConstraint) || code == Some(500)
        });
        let mut granted = None;
        match p.request {
            Request::Invalid { .. } => {
                ensure!(
                    iq.kind == IqType::Error,
                    "a malformed or unknown request ({}) was answered with a result",
                    iq.id
                );
                self.reached("request:invalid-refused");
            }
            Request::Register {
                from,
                expire,
                oneshot,
            } => {
                if iq.kind == IqType::Error {
                    let used = self.leases.len()
                        + self.sessions.values().filter(|s| s.proxy.is_some()).count();
                    let pool_full = self.config.pool_size.is_none_or(|n| used >= n);
                    ensure!(
                        rate_limited || (code == Some(502) && pool_full),
                        "register {} refused ({:?}) with {used} ports in use{}",
                        iq.id,
                        error,
                        self.config
                            .pool_size
                            .map(|n| format!(" of a pool of {n}"))
                            .unwrap_or_default()
                    );
                    self.reached("register:refused");
                } else {
                    let servers = match PassMessage::from_iq(iq) {
                        Ok(PassMessage::Registered { servers }) => servers,
                        other => {
                            return Err(Mismatch(format!(
                                "the register result is no registration ({other:?}): {el:?}"
                            )))
                        }
                    };
                    let Some(port) = servers.first().map(|s| s.port()) else {
                        return Err(Mismatch("a registration without <server/>".into()));
                    };
                    ensure!(
                        servers.iter().all(|s| s.port() == port),
                        "<server/>s name different ports: {servers:?}"
                    );
                    ensure!(
                        !self.is_listening(port),
                        "port {port} granted while it is a live lease or an open proxy"
                    );
                    self.leases.insert(
                        port,
                        Lease {
                            owner: from.clone(),
                            ips: servers.iter().map(|s| s.ip()).collect(),
                            deadline: expire.map(|s| p.at + s * 1000),
                            oneshot,
                            granted_at: p.at,
                            oneshot_due: None,
                        },
                    );
                    self.ended.remove(&port);
                    granted = Some(port);
                    self.reached(if oneshot {
                        "lease:oneshot"
                    } else if expire.is_some() {
                        "lease:expiring"
                    } else {
                        "lease:forever"
                    });
                    let account = bare(&from);
                    if self
                        .leases
                        .values()
                        .filter(|l| bare(&l.owner) == account)
                        .count()
                        > 1
                    {
                        self.reached("account:two-leases");
                    }
                }
            }
            Request::Close { from, port, closer } => {
                let own = port.and_then(|p| self.leases.get(&p)).is_some_and(|l| {
                    (l.owner == from
                        || (bare(&l.owner) == bare(&from) && closer == Closer::OtherResource))
                        && matches!(closer, Closer::Owner | Closer::OtherResource)
                });
                if iq.kind == IqType::Result {
                    ensure!(
                        own,
                        "a close of port {port:?} by {from} ({closer:?}) was acknowledged \
                         (§4.3: only the owner closes, naming the lease's address)"
                    );
                    if let Some(p) = port {
                        self.end_lease(p, now);
                    }
                    self.reached("lease:closed");
                } else {
                    let may_refuse = closer == Closer::OtherResource || rate_limited;
                    ensure!(
                        !own || may_refuse,
                        "the owner's close of its live lease on port {port:?} was refused: \
                         {error:?}"
                    );
                    self.reached("close:refused");
                }
            }
        }
        Ok(Some(Seen::Answer {
            id: iq.id.clone(),
            granted,
        }))
    }

    fn end_lease(&mut self, port: u16, now: u64) {
        self.leases.remove(&port);
        self.ended.insert(port, now);
        // Its callers that are not relaying are the service's to drop. Whether a
        // relay outlives its lease the spec does not say: the model stops judging
        // it (the explorer hangs it up).
        let tol = self.config.tolerance_ms;
        let before = self.sessions.len();
        self.sessions
            .retain(|_, s| !(s.port == port && s.phase == Phase::Relaying));
        if self.sessions.len() < before {
            self.reached("lease:ended-while-relaying");
        }
        for s in self.sessions.values_mut().filter(|s| s.port == port) {
            s.phase = Phase::Dropping { due: now + tol };
        }
    }

    fn notice(
        &mut self,
        now: u64,
        iq: &Iq,
        el: &Element,
        to: &str,
    ) -> Result<Option<Seen>, Mismatch> {
        ensure!(
            self.notice_ids.insert(iq.id.clone()),
            "the service used the id {:?} for a second request",
            iq.id
        );
        let msg = match PassMessage::from_element_lenient(el) {
            Ok((m, _)) => m,
            Err(e) => return Err(Mismatch(format!("a set that is no PASS message ({e:?})"))),
        };
        let tol = self.config.tolerance_ms;
        match msg {
            PassMessage::IncomingConnection { client, proxy } => {
                let caller = self.sessions.iter().find_map(|(c, s)| {
                    (s.client == client && s.phase == Phase::Ringing).then_some(*c)
                });
                let Some(caller) = caller else {
                    return Err(Mismatch(format!(
                        "an incoming-connection request naming client {client}, which is no \
                         caller waiting on a live lease"
                    )));
                };
                let port = self.sessions.get(&caller).map(|s| s.port).unwrap_or(0);
                let Some(lease) = self.leases.get(&port) else {
                    return Err(Mismatch(format!(
                        "an incoming-connection request for port {port}, whose lease ended"
                    )));
                };
                ensure!(
                    to == lease.owner,
                    "the incoming-connection request for port {port} went to {to:?}, not \
                     the lease's owner {:?}",
                    lease.owner
                );
                ensure!(
                    lease.ips.contains(&proxy.ip()),
                    "the proxy {proxy} is not on an advertised address {:?}",
                    lease.ips
                );
                if let Some(s) = self.sessions.get_mut(&caller) {
                    s.phase = Phase::Asked;
                    s.since = now;
                    s.notice = Some(iq.id.clone());
                    s.proxy = Some(proxy);
                }
                self.reached("session:asked");
                Ok(Some(Seen::Incoming {
                    caller,
                    id: iq.id.clone(),
                    proxy,
                }))
            }
            PassMessage::ExpireNotice { proxy } | PassMessage::OneshotNotice { proxy } => {
                let expire = matches!(msg, PassMessage::ExpireNotice { .. });
                let kind = if expire { "expire" } else { "oneshot" };
                let port = proxy.port();
                let Some(lease) = self.leases.get(&port) else {
                    return Err(Mismatch(format!(
                        "an {kind} notice for port {port}, which has no live lease{}",
                        if self.ended.contains_key(&port) {
                            " (it ended before: a notice for a lease after it ended)"
                        } else {
                            ""
                        }
                    )));
                };
                ensure!(
                    to == lease.owner,
                    "the {kind} notice for port {port} went to {to:?}, not the lease's owner \
                     {:?}",
                    lease.owner
                );
                if expire {
                    let idle = self
                        .config
                        .max_idle_ms
                        .is_some_and(|m| now + tol >= lease.granted_at + m);
                    let due = lease.deadline.is_some_and(|d| now + tol >= d);
                    ensure!(
                        due || idle,
                        "an expire notice for port {port} at {now} ms, before its deadline \
                         ({:?} ms)",
                        lease.deadline
                    );
                    self.reached("lease:expired");
                } else {
                    ensure!(
                        lease.oneshot && lease.oneshot_due.is_some(),
                        "a oneshot notice for port {port} (oneshot {}, a relay on it ended: {})",
                        lease.oneshot,
                        lease.oneshot_due.is_some()
                    );
                    self.reached("lease:oneshot-used");
                }
                self.end_lease(port, now);
                Ok(Some(Seen::Ended {
                    id: iq.id.clone(),
                    port,
                }))
            }
            other => Err(Mismatch(format!(
                "the service sent an unexpected set: {other:?}"
            ))),
        }
    }
}

/// A session as the explorer may act on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionView {
    /// Waiting for the incoming-connection request.
    Ringing,
    /// The owner was asked; it may answer `id`.
    Asked {
        /// The request's id.
        id: String,
        /// The `<client/>` address.
        client: SocketAddr,
        /// The `<proxy/>` address.
        proxy: SocketAddr,
    },
    /// The owner accepted; it may connect to `proxy`.
    Accepted {
        /// Where.
        proxy: SocketAddr,
    },
    /// Bridged: bytes go both ways.
    Relaying,
    /// The service is to drop the caller.
    Dropping,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ns;

    fn config() -> ReferenceConfig {
        ReferenceConfig {
            service: "pass.example".into(),
            tolerance_ms: 1000,
            answer_wait_ms: 5000,
            answer_timeout_ms: 2000,
            proxy_window_ms: 2000,
            pool_size: Some(4),
            max_idle_ms: None,
        }
    }

    fn result(id: &str, to: &str, port: u16) -> Element {
        let server = Element::new("server", ns::PASS)
            .with_attr("port", &port.to_string())
            .with_text("127.0.0.1");
        Element::new("iq", ns::COMPONENT)
            .with_attr("type", "result")
            .with_attr("id", id)
            .with_attr("from", "pass.example")
            .with_attr("to", to)
            .with_child(Element::new("query", ns::PASS).with_child(server))
    }

    /// An accept that crosses the service's answer timeout (real time) may find the
    /// caller dropped and the proxy closed, or not: both are conforming.
    #[test]
    fn an_accept_at_the_answer_timeout_may_have_come_too_late() {
        let proxy: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let client: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let asked = |m: &mut Reference| {
            m.register_sent(0, "r1", "a@x/1", None, false);
            m.received(10, &result("r1", "a@x/1", 40000)).unwrap();
            m.called(100, 1, 40000, client);
            let q = Element::new("query", ns::PASS)
                .with_child(
                    Element::new("client", ns::PASS)
                        .with_attr("port", "50000")
                        .with_text("127.0.0.1"),
                )
                .with_child(
                    Element::new("proxy", ns::PASS)
                        .with_attr("port", "40001")
                        .with_text("127.0.0.1"),
                );
            let iq = Element::new("iq", ns::COMPONENT)
                .with_attr("type", "set")
                .with_attr("id", "n1")
                .with_attr("from", "pass.example")
                .with_attr("to", "a@x/1")
                .with_child(q);
            m.received(110, &iq).unwrap();
        };
        // At the timeout: the drop and the refused proxy are accepted.
        let mut m = Reference::new(config());
        asked(&mut m);
        m.owner_answered(2110, 1, OwnerAnswer::Accept);
        assert_eq!(m.refused(2150, proxy.port()), Ok(()));
        assert_eq!(m.caller_dropped(2160, 1), Ok(()));
        // Well before it: a drop right after the accept is a mismatch.
        let mut m = Reference::new(config());
        asked(&mut m);
        m.owner_answered(500, 1, OwnerAnswer::Accept);
        assert!(m.refused(550, proxy.port()).is_err());
        assert!(m.caller_dropped(560, 1).is_err());
    }

    #[test]
    fn a_grant_then_a_second_answer_is_a_mismatch() {
        let mut m = Reference::new(config());
        m.register_sent(0, "r1", "a@x/1", None, false);
        let seen = m.received(10, &result("r1", "a@x/1", 40000)).unwrap();
        assert_eq!(
            seen,
            Some(Seen::Answer {
                id: "r1".into(),
                granted: Some(40000)
            })
        );
        assert!(m.is_listening(40000));
        let again = m.received(20, &result("r1", "a@x/1", 40000));
        assert!(again.unwrap_err().0.contains("second time"));
    }

    #[test]
    fn an_expiry_past_due_is_a_mismatch() {
        let mut m = Reference::new(config());
        m.register_sent(0, "r1", "a@x/1", Some(2), false);
        m.received(10, &result("r1", "a@x/1", 40000)).unwrap();
        assert!(m.check_due(2900).is_ok());
        assert!(m.check_due(3100).is_err());
    }

    #[test]
    fn a_refused_live_lease_is_a_mismatch() {
        let mut m = Reference::new(config());
        m.register_sent(0, "r1", "a@x/1", None, false);
        m.received(10, &result("r1", "a@x/1", 40000)).unwrap();
        assert!(m.refused(20, 40000).is_err());
        assert!(m.refused(20, 40001).is_ok());
    }
}
