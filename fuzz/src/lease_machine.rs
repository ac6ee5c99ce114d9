//! `lease_machine`: an [`arbitrary`] script of host events driven into a
//! [`Service`](pass_core::service::Service) through the simulated [`Host`], which
//! checks the host-side invariants (ports held once, pool balance, connections
//! named by actions are held). On top, a model of the leases checks, after every
//! event:
//!
//! - every request (register, close) gets exactly one answer, once its listen
//!   results are in (checked at the end, after a shutdown and all results);
//! - a close is acknowledged exactly when the closer's account holds a live lease on
//!   that port and names an advertised IP; a register with `<expire>0</expire>` is
//!   refused;
//! - a granted port is listening and not already leased; the global and
//!   per-account limits hold; the service's lease and relay counts match the
//!   model's and the host's;
//! - every lease with an expiry has ended once time passed its deadline, with
//!   exactly one notice (a second notice finds no live lease); an expire notice
//!   never comes early, a oneshot notice only after a relay of a oneshot lease, a
//!   close notice only at shutdown;
//! - an incoming-connection notice goes to the lease's owner, names a listening
//!   proxy port and the peer of a connection held on the lease port; a bridge joins
//!   a connection on a lease port of the bridged account to one on a proxy port
//!   announced for that lease;
//! - at the end, after a shutdown: nothing listens, every port is back in the pool,
//!   no lease or pending session is left, and every connection still held is in a
//!   relay (relays are the host's to drain).

use crate::host::Host;
use arbitrary::Arbitrary;
use pass_core::jid::Jid;
use pass_core::lease::{Action, Config, ConnId, ListenError};
use pass_core::stanza::{Condition, Iq, IqType, PassEntity, PassMessage, StanzaError};
use pass_core::time::{Duration, Instant};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Most events run from one script (longer scripts are cut).
const MAX_EVENTS: usize = 200;
const FIRST_PORT: u16 = 41000;
const LAST_PORT: u16 = 41009;
const MAX_LEASES: usize = 6;
const PER_ACCOUNT: usize = 3;
const MAX_RELAYS: usize = 2;
const MAX_EXPIRE_S: u64 = 3600;
const SERVICE: &str = "pass.example.org";
/// Full JIDs the events speak for: two resources of one account, other accounts,
/// and a domain-only JID.
const USERS: [&str; 5] = [
    "alice@example.org/home",
    "alice@example.org/work",
    "bob@example.org/x",
    "carol@example.net/y",
    "example.net",
];
const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
const NOT_ADVERTISED: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

/// The settings under test: a small pool and low limits so that they are reached.
pub fn config(seed: u64) -> Config {
    let service = match Jid::new(SERVICE) {
        Ok(j) => j,
        Err(e) => panic!("{SERVICE}: {e}"),
    };
    let mut c = Config::new(service, vec![V4, V6]);
    c.first_port = FIRST_PORT;
    c.last_port = LAST_PORT;
    c.max_leases = MAX_LEASES;
    c.max_leases_per_account = PER_ACCOUNT;
    c.max_relays = MAX_RELAYS;
    c.max_expire = Duration::from_secs(MAX_EXPIRE_S);
    c.answer_timeout = Duration::from_secs(20);
    c.proxy_window = Duration::from_secs(10);
    c.quarantine = Duration::from_secs(30);
    // The rate limit has its own tests; here it would only hide the machine.
    c.iq_burst = 100_000;
    c.iq_per_second = 100_000;
    c.seed = seed;
    c
}

/// A fuzzer-made run: the pool's seed and the events.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Seed of the port draws.
    pub seed: u64,
    /// What happens, in order.
    pub events: Vec<Event>,
}

/// How long a registration asks for.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    /// No `<expire/>`: forever.
    Forever,
    /// A short expiry, in seconds (0 included: refused).
    Secs(u8),
    /// Any expiry, in seconds (clamped to the maximum).
    Long(u64),
}

/// Which IP a close names.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseIp {
    /// The advertised IPv4 address.
    V4,
    /// The advertised IPv6 address.
    V6,
    /// An address the service does not advertise (405).
    Other,
    /// No `<proxy/>` at all (400).
    Missing,
}

/// Where a connection arrives.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A leased port (picked among the live leases).
    Lease(u8),
    /// A proxy port announced in an incoming-connection notice (picked, old ones too).
    Proxy(u8),
    /// Any port of the pool.
    Pool(u8),
    /// Any port at all.
    Port(u16),
}

/// One thing that happens to the host.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A user registers.
    Register {
        /// Index into the users.
        user: u8,
        /// The expiry asked for.
        expire: Expire,
        /// `<oneshot/>`.
        oneshot: bool,
    },
    /// A user closes a lease (picked among the live ones, else any pool port).
    Close {
        /// Index into the users.
        user: u8,
        /// Index into the live leases (past them: a pool port).
        lease: u8,
        /// The IP named.
        ip: CloseIp,
    },
    /// The host reports a pending listen's result.
    ListenResult {
        /// Index into the pending listens.
        pick: u8,
        /// 0: address in use, 1: other failure, else success.
        outcome: u8,
    },
    /// The host reports a listen result for a port nobody asked for.
    SpuriousListenResult {
        /// Offset of the port from the pool's start.
        offset: u8,
        /// Success or failure.
        ok: bool,
    },
    /// A connection arrives.
    Connect {
        /// Where.
        target: Target,
        /// From an IPv6 peer.
        v6: bool,
    },
    /// The host reports a connection (picked among all ever seen) closed.
    Closed {
        /// Index into the connections.
        pick: u8,
    },
    /// Someone answers a notice the service sent (picked).
    Answer {
        /// Index into the unanswered notices.
        pick: u8,
        /// Result (accept) or error (deny).
        accept: bool,
        /// Answer from another user than the notice's recipient.
        impostor: Option<u8>,
    },
    /// Someone answers an id the service may or may not have used (`pass-<n>`).
    ForgedAnswer {
        /// The id's number.
        n: u8,
        /// Index into the users.
        user: u8,
        /// Result or error.
        accept: bool,
    },
    /// Time passes, in milliseconds.
    Advance(u32),
    /// The host passes an instant this many milliseconds before its clock (a late
    /// timer): the service must take it as the latest instant it saw.
    StaleTimeout(u16),
    /// Time passes by this many hours.
    AdvanceHours(u8),
    /// Time jumps to the next deadline.
    NextDeadline,
    /// The host shuts the service down.
    Shutdown,
}

/// What a run went through, for tests and for judging a corpus.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Leases granted.
    pub granted: usize,
    /// Requests refused with an error.
    pub refused: usize,
    /// Leases closed by their owner.
    pub closed: usize,
    /// Incoming-connection notices.
    pub incoming: usize,
    /// Relays bridged.
    pub bridges: usize,
    /// Expire notices.
    pub expired: usize,
    /// Oneshot notices.
    pub oneshot_ended: usize,
    /// Close notices at shutdown.
    pub shutdown_closed: usize,
}

/// A request the model sent, by id.
#[derive(Debug)]
enum Request {
    Register {
        from: Jid,
        expire: Option<u64>,
        oneshot: bool,
        at: Instant,
    },
    Close {
        from: Jid,
        port: Option<u16>,
        ip: CloseIp,
    },
}

/// What the model knows of a live lease.
#[derive(Debug)]
struct Lease {
    owner: Jid,
    oneshot: bool,
    deadline: Option<Instant>,
    /// A relay on it was bridged.
    bridged: bool,
    /// Proxy ports announced for it.
    proxies: Vec<u16>,
}

/// A notice the service sent and nobody answered yet.
#[derive(Debug, Clone)]
struct Notice {
    id: String,
    to: Jid,
    /// For an incoming-connection notice: the client and proxy it names.
    incoming: Option<(SocketAddr, SocketAddr)>,
}

/// The lease model and the host it watches.
struct Model {
    host: Host,
    users: Vec<Jid>,
    requests: BTreeMap<String, Request>,
    answers: BTreeMap<String, usize>,
    leases: BTreeMap<u16, Lease>,
    notices: Vec<Notice>,
    notice_ids: BTreeMap<String, ()>,
    proxies_announced: Vec<u16>,
    conns: Vec<ConnId>,
    next_request: u64,
    shut_down: bool,
    summary: Summary,
}

/// Runs one script; panics if an invariant fails.
pub fn check(script: &Script) -> Summary {
    let mut users = Vec::new();
    for u in USERS {
        match Jid::new(u) {
            Ok(j) => users.push(j),
            Err(e) => panic!("{u}: {e}"),
        }
    }
    let mut m = Model {
        host: Host::new(config(script.seed)),
        users,
        requests: BTreeMap::new(),
        answers: BTreeMap::new(),
        leases: BTreeMap::new(),
        notices: Vec::new(),
        notice_ids: BTreeMap::new(),
        proxies_announced: Vec::new(),
        conns: Vec::new(),
        next_request: 1,
        shut_down: false,
        summary: Summary::default(),
    };
    for event in script.events.iter().take(MAX_EVENTS) {
        let actions = m.apply(*event);
        m.observe(&actions);
    }
    m.finish();
    m.summary
}

impl Model {
    fn user(&self, i: u8) -> Jid {
        self.users[usize::from(i) % self.users.len()].clone()
    }

    fn next_id(&mut self) -> String {
        let id = format!("m{}", self.next_request);
        self.next_request += 1;
        id
    }

    fn send(&mut self, iq: &Iq) -> Vec<Action> {
        self.host.stanza(&iq.to_element())
    }

    fn apply(&mut self, event: Event) -> Vec<Action> {
        match event {
            Event::Register {
                user,
                expire,
                oneshot,
            } => {
                let from = self.user(user);
                let expire = match expire {
                    Expire::Forever => None,
                    Expire::Secs(s) => Some(u64::from(s)),
                    Expire::Long(s) => Some(s),
                };
                let id = self.next_id();
                let iq = PassMessage::Register { expire, oneshot }.to_iq(
                    &id,
                    Some(from.clone()),
                    Some(self.host.service.config().service.clone()),
                );
                self.requests.insert(
                    id,
                    Request::Register {
                        from,
                        expire,
                        oneshot,
                        at: self.host.now,
                    },
                );
                self.send(&iq)
            }
            Event::Close { user, lease, ip } => {
                let from = self.user(user);
                let ports: Vec<u16> = self.leases.keys().copied().collect();
                let port = ports
                    .get(usize::from(lease))
                    .copied()
                    .unwrap_or(FIRST_PORT + u16::from(lease) % 16);
                let host = match ip {
                    CloseIp::V4 => Some(V4),
                    CloseIp::V6 => Some(V6),
                    CloseIp::Other => Some(NOT_ADVERTISED),
                    CloseIp::Missing => None,
                };
                let proxy = host.map(|h| PassEntity::new(&h.to_string(), Some(port)));
                let id = self.next_id();
                let iq = PassMessage::Close { proxy }.to_iq(
                    &id,
                    Some(from.clone()),
                    Some(self.host.service.config().service.clone()),
                );
                let port = host.map(|_| port);
                self.requests.insert(id, Request::Close { from, port, ip });
                self.send(&iq)
            }
            Event::ListenResult { pick, outcome } => {
                let result = match outcome {
                    0 => Err(ListenError::AddrInUse),
                    1 => Err(ListenError::Other),
                    _ => Ok(()),
                };
                self.host.listen_result(usize::from(pick), result)
            }
            Event::SpuriousListenResult { offset, ok } => {
                let port = FIRST_PORT.saturating_add(u16::from(offset) % 16);
                let result = if ok { Ok(()) } else { Err(ListenError::Other) };
                self.host.spurious_listen_result(port, result)
            }
            Event::Connect { target, v6 } => {
                let port = match target {
                    Target::Lease(i) => {
                        let ports: Vec<u16> = self.leases.keys().copied().collect();
                        if ports.is_empty() {
                            return Vec::new();
                        }
                        ports[usize::from(i) % ports.len()]
                    }
                    Target::Proxy(i) => {
                        if self.proxies_announced.is_empty() {
                            return Vec::new();
                        }
                        self.proxies_announced[usize::from(i) % self.proxies_announced.len()]
                    }
                    Target::Pool(i) => FIRST_PORT + u16::from(i) % 16,
                    Target::Port(p) => p,
                };
                let n = u16::try_from(self.conns.len() % 60000).unwrap_or(0);
                let peer = if v6 {
                    SocketAddr::new(
                        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 9)),
                        1024 + n,
                    )
                } else {
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)), 1024 + n)
                };
                let (conn, actions) = self.host.connect(port, peer);
                self.conns.push(conn);
                actions
            }
            Event::Closed { pick } => {
                if self.conns.is_empty() {
                    return Vec::new();
                }
                let conn = self.conns[usize::from(pick) % self.conns.len()];
                self.host.close(conn)
            }
            Event::Answer {
                pick,
                accept,
                impostor,
            } => {
                if self.notices.is_empty() {
                    return Vec::new();
                }
                let notice = self.notices[usize::from(pick) % self.notices.len()].clone();
                let from = match impostor {
                    Some(u) => self.user(u),
                    None => {
                        self.notices.retain(|n| n.id != notice.id);
                        notice.to.clone()
                    }
                };
                let service = Some(self.host.service.config().service.clone());
                let iq = if accept {
                    PassMessage::Ack.to_iq(&notice.id, Some(from), service)
                } else {
                    let (client, proxy) = notice.incoming.unzip();
                    PassMessage::Deny {
                        client,
                        proxy,
                        error: StanzaError::new(Condition::NotAuthorized),
                    }
                    .to_iq(&notice.id, Some(from), service)
                };
                self.send(&iq)
            }
            Event::ForgedAnswer { n, user, accept } => {
                let from = Some(self.user(user));
                let service = Some(self.host.service.config().service.clone());
                let id = format!("pass-{n}");
                let iq = if accept {
                    PassMessage::Ack.to_iq(&id, from, service)
                } else {
                    PassMessage::Deny {
                        client: None,
                        proxy: None,
                        error: StanzaError::new(Condition::NotAcceptable),
                    }
                    .to_iq(&id, from, service)
                };
                self.send(&iq)
            }
            Event::StaleTimeout(ms) => self
                .host
                .stale_timeout(Duration::from_millis(u64::from(ms))),
            Event::Advance(ms) => self.host.advance(Duration::from_millis(u64::from(ms))),
            Event::AdvanceHours(h) => self.host.advance(Duration::from_secs(3600 * u64::from(h))),
            Event::NextDeadline => self.host.to_next_deadline(),
            Event::Shutdown => {
                self.shut_down = true;
                self.host.shutdown()
            }
        }
    }

    /// Checks the actions of one event against the model, in order, then the
    /// invariants that hold between events.
    fn observe(&mut self, actions: &[Action]) {
        for (i, action) in actions.iter().enumerate() {
            // The host carried out the whole batch already: a port this action
            // needs listening may have been unlistened by a later one.
            let later_unlisten: Vec<u16> = actions[i + 1..]
                .iter()
                .filter_map(|a| match a {
                    Action::Unlisten { port } => Some(*port),
                    _ => None,
                })
                .collect();
            let listening = |host: &Host, port: u16| {
                host.listening.contains(&port) || later_unlisten.contains(&port)
            };
            match action {
                Action::Send(iq) => match iq.kind {
                    IqType::Result | IqType::Error => {
                        let granted = self.answer(iq);
                        if let Some(port) = granted {
                            assert!(
                                listening(&self.host, port),
                                "granted port {port} is not listening"
                            );
                        }
                    }
                    IqType::Set => {
                        if let Some(proxy) = self.notice(iq) {
                            assert!(
                                listening(&self.host, proxy),
                                "incoming notice names proxy port {proxy}, which is not listening"
                            );
                        }
                    }
                    IqType::Get => panic!("the service sent a get: {iq:?}"),
                },
                Action::Bridge {
                    client,
                    owner,
                    account,
                } => self.bridge(*client, *owner, account),
                Action::Listen { .. } | Action::Unlisten { .. } | Action::Drop { .. } => {}
            }
        }
        let now = self.host.now;
        for (port, lease) in &self.leases {
            if let Some(d) = lease.deadline {
                assert!(
                    d > now,
                    "the lease on port {port} outlived its deadline {d:?} (now {now:?})"
                );
            }
            assert!(
                self.host.listening.contains(port),
                "leased port {port} is not listening"
            );
        }
        assert!(
            self.leases.len() <= MAX_LEASES,
            "more leases than max_leases"
        );
        let stats = self.host.service.stats();
        assert_eq!(
            stats.leases,
            self.leases.len(),
            "lease count differs from the model"
        );
        assert!(
            stats.pending + stats.relays <= MAX_RELAYS,
            "sessions past max_relays"
        );
        if !self.shut_down {
            // (At shutdown the machine forgets relays it leaves to the host.)
            assert_eq!(
                stats.relays,
                self.host.relays.len() / 2,
                "the machine's relay count differs from the host's relays"
            );
        }
    }

    /// Checks an answer to one of the model's requests; returns the port it granted.
    fn answer(&mut self, iq: &Iq) -> Option<u16> {
        let Some(request) = self.requests.get(&iq.id) else {
            // Answers to requests the model did not send do not happen here.
            panic!("an answer to no request of ours: {iq:?}");
        };
        let count = self.answers.entry(iq.id.clone()).or_insert(0);
        *count += 1;
        assert_eq!(*count, 1, "request {} answered twice: {iq:?}", iq.id);
        match request {
            Request::Register {
                from,
                expire,
                oneshot,
                at,
            } => {
                assert_eq!(
                    iq.to.as_ref(),
                    Some(from),
                    "register answer to the wrong JID"
                );
                if *expire == Some(0) {
                    assert_eq!(iq.kind, IqType::Error, "expire 0 was granted");
                }
                if iq.kind == IqType::Error {
                    self.summary.refused += 1;
                    return None;
                }
                self.summary.granted += 1;
                let servers = match PassMessage::from_iq(iq) {
                    Ok(PassMessage::Registered { servers }) => servers,
                    other => panic!("register result is not a registration: {other:?}"),
                };
                let want: Vec<IpAddr> = servers.iter().map(|s| s.ip()).collect();
                assert_eq!(want, vec![V4, V6], "servers are not the advertised IPs");
                let port = servers[0].port();
                assert!(
                    servers.iter().all(|s| s.port() == port),
                    "servers name different ports: {servers:?}"
                );
                assert!(
                    self.host.in_pool(port),
                    "granted port {port} outside the pool"
                );
                assert!(
                    !self.leases.contains_key(&port),
                    "port {port} granted while leased"
                );
                let account = from.to_bare();
                let held = self
                    .leases
                    .values()
                    .filter(|l| l.owner.to_bare() == account)
                    .count();
                assert!(
                    held < PER_ACCOUNT,
                    "{account} granted past the per-account limit"
                );
                let deadline = expire.map(|s| *at + Duration::from_secs(s.min(MAX_EXPIRE_S)));
                self.leases.insert(
                    port,
                    Lease {
                        owner: from.clone(),
                        oneshot: *oneshot,
                        deadline,
                        bridged: false,
                        proxies: Vec::new(),
                    },
                );
                Some(port)
            }
            Request::Close { from, port, ip } => {
                assert_eq!(iq.to.as_ref(), Some(from), "close answer to the wrong JID");
                let own_live = port.and_then(|p| self.leases.get(&p)).is_some_and(|l| {
                    l.owner.same_account(from) && matches!(ip, CloseIp::V4 | CloseIp::V6)
                });
                match iq.kind {
                    IqType::Result => {
                        assert!(own_live, "close of port {port:?} by {from} acknowledged");
                        self.summary.closed += 1;
                        if let Some(p) = port {
                            self.leases.remove(p);
                        }
                    }
                    _ => {
                        assert!(
                            !own_live,
                            "close of own live lease {port:?} by {from} refused: {iq:?}"
                        );
                        self.summary.refused += 1;
                    }
                }
                None
            }
        }
    }

    /// Checks a notice; returns the proxy port an incoming-connection notice names.
    fn notice(&mut self, iq: &Iq) -> Option<u16> {
        assert!(
            self.notice_ids.insert(iq.id.clone(), ()).is_none(),
            "notice id {} used twice",
            iq.id
        );
        let Some(to) = iq.to.clone() else {
            panic!("notice without a to: {iq:?}");
        };
        let msg = match PassMessage::from_iq(iq) {
            Ok(m) => m,
            Err(e) => panic!("the service sent a set that is no PASS message ({e}): {iq:?}"),
        };
        let now = self.host.now;
        let mut incoming = None;
        match msg {
            PassMessage::IncomingConnection { client, proxy } => {
                let port = proxy.port();
                let on_lease = self.host.open.iter().find_map(|(c, local)| {
                    let lease = self.leases.get(local)?;
                    (self.host.peers.get(c) == Some(&client) && lease.owner == to).then_some(*local)
                });
                let Some(lease_port) = on_lease else {
                    panic!("incoming notice {iq:?} matches no held connection on a lease of {to}");
                };
                if let Some(l) = self.leases.get_mut(&lease_port) {
                    l.proxies.push(port);
                }
                self.proxies_announced.push(port);
                incoming = Some((client, proxy));
                self.summary.incoming += 1;
            }
            PassMessage::ExpireNotice { proxy } => {
                let lease = self.end_lease(proxy.port(), &to, "expire");
                let due = lease.deadline.is_some_and(|d| d <= now);
                assert!(
                    due,
                    "expire notice for port {} before its deadline",
                    proxy.port()
                );
                self.summary.expired += 1;
            }
            PassMessage::OneshotNotice { proxy } => {
                let lease = self.end_lease(proxy.port(), &to, "oneshot");
                assert!(
                    lease.oneshot && lease.bridged,
                    "oneshot notice for port {} (oneshot {}, bridged {})",
                    proxy.port(),
                    lease.oneshot,
                    lease.bridged
                );
                self.summary.oneshot_ended += 1;
            }
            PassMessage::Close { proxy } => {
                let port = proxy.and_then(|p| p.port);
                let Some(port) = port else {
                    panic!("close notice without a port: {iq:?}");
                };
                self.end_lease(port, &to, "close");
                assert!(
                    self.shut_down,
                    "close notice for port {port} before shutdown"
                );
                self.summary.shutdown_closed += 1;
            }
            other => panic!("the service sent an unexpected set: {other:?}"),
        }
        self.notices.push(Notice {
            id: iq.id.clone(),
            to,
            incoming,
        });
        incoming.map(|(_, proxy)| proxy.port())
    }

    /// A notice ended the lease on `port`: it must be live and `to`'s.
    fn end_lease(&mut self, port: u16, to: &Jid, what: &str) -> Lease {
        let Some(lease) = self.leases.remove(&port) else {
            panic!("{what} notice for port {port}, which has no live lease");
        };
        assert_eq!(
            &lease.owner, to,
            "{what} notice for port {port} to another JID"
        );
        lease
    }

    fn bridge(&mut self, client: ConnId, owner: ConnId, account: &Jid) {
        let lease_port = self.host.local_ports.get(&client).copied();
        let Some(lease) = lease_port.and_then(|p| self.leases.get_mut(&p)) else {
            panic!("bridge of {client}, which is not on a live lease port");
        };
        assert_eq!(
            &lease.owner.to_bare(),
            account,
            "bridge for the wrong account"
        );
        let proxy = self.host.local_ports.get(&owner).copied();
        assert!(
            proxy.is_some_and(|p| lease.proxies.contains(&p)),
            "bridge of owner {owner} on port {proxy:?}, not a proxy announced for the lease"
        );
        lease.bridged = true;
        self.summary.bridges += 1;
    }

    /// Shuts down, reports every outstanding listen, and checks that everything was
    /// given back.
    fn finish(&mut self) {
        self.shut_down = true;
        let actions = self.host.shutdown();
        self.observe(&actions);
        let mut rounds = 0;
        while !self.host.pending_listens.is_empty() {
            rounds += 1;
            assert!(rounds <= 10_000, "listens keep coming after shutdown");
            let actions = self.host.listen_result(0, Ok(()));
            self.observe(&actions);
        }
        assert!(
            self.host.listening.is_empty(),
            "ports still listening after shutdown: {:?}",
            self.host.listening
        );
        assert!(
            self.leases.is_empty(),
            "leases left after shutdown: {:?}",
            self.leases
        );
        let stats = self.host.service.stats();
        assert_eq!(stats.pending, 0, "sessions pending after shutdown");
        for (conn, port) in &self.host.open {
            assert!(
                self.host.relays.contains_key(conn),
                "{conn} (on port {port}) neither dropped nor relayed after shutdown"
            );
        }
        for id in self.requests.keys() {
            assert_eq!(
                self.answers.get(id).copied().unwrap_or(0),
                1,
                "request {id} got no answer"
            );
        }
    }
}

/// Hand-made scenarios for the corpus (written by `examples/lease_seeds.rs`): each
/// reaches a path that takes several events in the right order.
pub fn seeds() -> Vec<(&'static str, Script)> {
    const GRANT: Event = Event::ListenResult {
        pick: 0,
        outcome: 2,
    };
    const FAIL: Event = Event::ListenResult {
        pick: 0,
        outcome: 0,
    };
    let reg = |user, expire, oneshot| Event::Register {
        user,
        expire,
        oneshot,
    };
    let connect = |target| Event::Connect { target, v6: false };
    let answer = |pick, accept| Event::Answer {
        pick,
        accept,
        impostor: None,
    };
    let close = |user, ip| Event::Close { user, lease: 0, ip };
    let script = |seed, events| Script { seed, events };
    vec![
        (
            "oneshot-relay-and-expiry",
            script(
                7,
                vec![
                    reg(0, Expire::Secs(100), true),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(0, true),
                    connect(Target::Proxy(0)),
                    Event::Closed { pick: 0 },
                    reg(2, Expire::Secs(5), false),
                    GRANT,
                    Event::Advance(6000),
                    reg(3, Expire::Forever, false),
                    GRANT,
                ],
            ),
        ),
        (
            "close-by-account",
            script(
                1,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    close(2, CloseIp::V4),
                    close(0, CloseIp::Other),
                    close(0, CloseIp::Missing),
                    // Another resource of the same account (DESIGN decision 6).
                    close(1, CloseIp::V6),
                    close(1, CloseIp::V6),
                ],
            ),
        ),
        (
            "deny-timeout-window",
            script(
                2,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(0, false),
                    connect(Target::Lease(0)),
                    GRANT,
                    // Past the answer timeout (20 s).
                    Event::Advance(25_000),
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(1, true),
                    // Past the proxy window (10 s): the owner comes too late.
                    Event::Advance(11_000),
                    connect(Target::Proxy(2)),
                ],
            ),
        ),
        (
            "listen-failures",
            script(
                3,
                vec![
                    reg(2, Expire::Secs(30), false),
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    FAIL,
                    Event::SpuriousListenResult {
                        offset: 0,
                        ok: true,
                    },
                    // Past the quarantine (30 s).
                    Event::Advance(31_000),
                    reg(2, Expire::Secs(30), false),
                    GRANT,
                    Event::NextDeadline,
                ],
            ),
        ),
        (
            "limits",
            script(
                4,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    reg(1, Expire::Forever, false),
                    GRANT,
                    reg(0, Expire::Forever, false),
                    GRANT,
                    // Past the per-account limit (3).
                    reg(1, Expire::Forever, false),
                    GRANT,
                    reg(2, Expire::Forever, false),
                    GRANT,
                    reg(2, Expire::Forever, false),
                    GRANT,
                    reg(3, Expire::Forever, false),
                    GRANT,
                    // Past max_leases (6).
                    reg(4, Expire::Forever, false),
                    GRANT,
                    reg(4, Expire::Secs(0), false),
                ],
            ),
        ),
        (
            "relay-cut-by-expiry",
            script(
                5,
                vec![
                    reg(0, Expire::Secs(10), false),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    answer(0, true),
                    connect(Target::Proxy(0)),
                    Event::Advance(11_000),
                    Event::Closed { pick: 0 },
                    Event::Closed { pick: 1 },
                ],
            ),
        ),
        (
            "owner-first-relay-again-shutdown",
            script(
                6,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    connect(Target::Proxy(0)),
                    answer(0, true),
                    Event::Closed { pick: 1 },
                    connect(Target::Lease(0)),
                    GRANT,
                    Event::Shutdown,
                    reg(2, Expire::Forever, false),
                ],
            ),
        ),
        (
            "max-relays",
            script(
                8,
                vec![
                    reg(0, Expire::Forever, false),
                    GRANT,
                    reg(2, Expire::Forever, false),
                    GRANT,
                    reg(3, Expire::Forever, false),
                    GRANT,
                    connect(Target::Lease(0)),
                    GRANT,
                    connect(Target::Lease(1)),
                    GRANT,
                    connect(Target::Lease(2)),
                    GRANT,
                ],
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str) -> Summary {
        let Some((_, script)) = seeds().into_iter().find(|(n, _)| *n == name) else {
            panic!("no seed {name}");
        };
        check(&script)
    }

    #[test]
    fn a_oneshot_relay_and_an_expiry_go_through_the_model() {
        assert_eq!(
            run("oneshot-relay-and-expiry"),
            Summary {
                granted: 3,
                incoming: 1,
                bridges: 1,
                oneshot_ended: 1,
                expired: 1,
                shutdown_closed: 1,
                ..Summary::default()
            }
        );
    }

    #[test]
    fn closes_are_acknowledged_for_the_owner_account_only() {
        let s = run("close-by-account");
        assert_eq!((s.granted, s.closed, s.refused), (1, 1, 4));
        assert_eq!(s.shutdown_closed, 0);
    }

    #[test]
    fn denied_unanswered_and_late_sessions_leave_the_lease() {
        let s = run("deny-timeout-window");
        assert_eq!((s.granted, s.incoming, s.bridges), (1, 3, 0));
        assert_eq!(s.shutdown_closed, 1);
    }

    #[test]
    fn failed_listens_end_in_a_refusal_then_the_port_rests() {
        let s = run("listen-failures");
        assert_eq!((s.refused, s.granted, s.expired), (1, 1, 1));
    }

    #[test]
    fn limits_refuse_past_the_account_and_global_caps() {
        let s = run("limits");
        assert_eq!((s.granted, s.refused), (6, 3));
    }

    #[test]
    fn an_expiry_cuts_a_relay() {
        let s = run("relay-cut-by-expiry");
        assert_eq!((s.bridges, s.expired), (1, 1));
    }

    #[test]
    fn an_owner_may_connect_before_accepting() {
        let s = run("owner-first-relay-again-shutdown");
        assert_eq!((s.bridges, s.incoming, s.shutdown_closed), (1, 2, 1));
        assert_eq!(s.refused, 1, "a register after shutdown is refused");
    }

    #[test]
    fn sessions_stop_at_max_relays() {
        let s = run("max-relays");
        assert_eq!((s.granted, s.incoming), (3, 2));
    }
}
