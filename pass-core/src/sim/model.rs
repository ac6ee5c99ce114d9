//! The one model of the lease invariants: a [`Script`] driven into a
//! [`Service`] through a checked [`Sim`] (manual listens), which checks the host
//! contract on every action (no port held twice, pool balance, no action naming a
//! connection the host does not hold, the relay count). On top, after every event:
//!
//! - every request (register, close) gets exactly one answer, once its listen
//!   results are in (checked at the end, after a shutdown and all results);
//! - a close is acknowledged exactly when the closer's account holds a live lease on
//!   that port and names an advertised IP; a register with `<expire>0</expire>` is
//!   refused;
//! - a granted port is listening and not already leased; the servers are the
//!   advertised IPs on one port; the global and per-account limits hold; the
//!   service's lease count matches the model's; sessions never exceed `max_relays`;
//! - every lease with an expiry has ended once time passed its deadline, with
//!   exactly one notice (a second notice finds no live lease); an expire notice
//!   never comes early, a oneshot notice only after a relay of a oneshot lease, a
//!   close notice only at shutdown;
//! - an incoming-connection notice goes to the lease's owner, names a listening
//!   proxy port and the peer of a connection held on the lease port; a bridge joins
//!   a connection that arrived on a lease port of the bridged account to one that
//!   arrived on a proxy port announced for that lease (and not on a lease port);
//! - at the end, after a shutdown: nothing listens, no lease or pending session is
//!   left, every connection still held is in a relay (relays are the host's to
//!   drain); once they drain and the quarantines pass, every port is back in the
//!   pool and no deadline is left.
//!
//! [`run`] is the property: quickcheck runs it on stable over random bytes, the
//! `lease_machine` fuzz target on nightly over libFuzzer's.

use super::{Checks, CloseIp, Event, Expire, Listens, Script, Sim, SimConfig, Target, Violation};
use crate::jid::Jid;
use crate::lease::{Action, Config, ConnId, ListenError};
use crate::service::Service;
use crate::stanza::{Condition, Iq, IqType, PassEntity, PassMessage, StanzaError};
use crate::time::{Duration, Instant};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Most events run from one script (longer scripts are cut).
pub const MAX_EVENTS: usize = 200;
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

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(Violation::new(format!($($arg)+)));
        }
    };
}

/// The settings the fuzz target runs: a small pool and low limits so that they are
/// reached. A config for [`run_with`] must advertise the same two addresses,
/// `192.0.2.1` and `2001:db8::1`.
pub fn config(seed: u64) -> Config {
    let service = Jid::new("pass.example.org").unwrap_or_else(|_| unreachable!());
    let mut c = Config::new(service, vec![V4, V6]);
    c.first_port = 41000;
    c.last_port = 41009;
    c.max_leases = 6;
    c.max_leases_per_account = 3;
    c.max_relays = 2;
    c.max_expire = Duration::from_secs(3600);
    c.answer_timeout = Duration::from_secs(20);
    c.proxy_window = Duration::from_secs(10);
    c.quarantine = Duration::from_secs(30);
    // The rate limit has its own tests; here it would only hide the machine.
    c.iq_burst = 100_000;
    c.iq_per_second = 100_000;
    c.seed = seed;
    c
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

impl Summary {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Summary) {
        self.granted += other.granted;
        self.refused += other.refused;
        self.closed += other.closed;
        self.incoming += other.incoming;
        self.bridges += other.bridges;
        self.expired += other.expired;
        self.oneshot_ended += other.oneshot_ended;
        self.shutdown_closed += other.shutdown_closed;
    }

    /// Each outcome with its count, by name.
    pub fn outcomes(&self) -> [(&'static str, usize); 8] {
        [
            ("granted", self.granted),
            ("refused", self.refused),
            ("closed", self.closed),
            ("incoming", self.incoming),
            ("bridges", self.bridges),
            ("expired", self.expired),
            ("oneshot_ended", self.oneshot_ended),
            ("shutdown_closed", self.shutdown_closed),
        ]
    }
}

/// Runs `script` with [`config`] of its seed.
pub fn run(script: &Script) -> Result<Summary, Violation> {
    run_with(config(script.seed), script)
}

/// Runs `script` (its first [`MAX_EVENTS`] events) against a service built from
/// `config`; the first broken invariant is the error, with the event it followed.
pub fn run_with(config: Config, script: &Script) -> Result<Summary, Violation> {
    let mut m = Model::new(config)?;
    for (i, event) in script.events.iter().take(MAX_EVENTS).enumerate() {
        m.step(*event)
            .map_err(|v| v.context(format_args!("after event {i} {event:?}")))?;
    }
    m.finish().map_err(|v| v.context("at the end"))?;
    Ok(m.summary)
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
    /// When it was asked for (its grant came then or later): it may end idle from
    /// `max_idle_lease` later (DESIGN decision 101).
    granted_at: Instant,
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
    sim: Sim<Service>,
    service: Jid,
    pool: (u16, u16),
    max_leases: usize,
    per_account: usize,
    max_relays: usize,
    max_expire: Duration,
    max_idle_lease: Duration,
    users: Vec<Jid>,
    requests: BTreeMap<String, Request>,
    answers: BTreeMap<String, usize>,
    leases: BTreeMap<u16, Lease>,
    notices: Vec<Notice>,
    notice_ids: BTreeSet<String>,
    proxies_announced: Vec<u16>,
    /// Every connection accepted, in order.
    conns: Vec<ConnId>,
    /// Connections that arrived on a port that was a live lease's at the time (a
    /// proxy port returns to the pool once its owner connects and may be leased
    /// again at once: the owner's connection is judged by where it arrived).
    arrived_on_lease: BTreeSet<ConnId>,
    next_request: u64,
    shut_down: bool,
    summary: Summary,
}

impl Model {
    fn new(config: Config) -> Result<Model, Violation> {
        let checks = Checks::for_config(&config);
        let (service, pool) = (config.service.clone(), checks.pool);
        let (max_leases, per_account, max_relays, max_expire) = (
            config.max_leases,
            config.max_leases_per_account,
            config.max_relays,
            config.max_expire,
        );
        let max_idle_lease = config.max_idle_lease;
        ensure!(
            config.advertised == [V4, V6],
            "the model expects the advertised addresses {V4} and {V6}"
        );
        let engine =
            Service::new(config).map_err(|e| Violation::new(format!("invalid config: {e}")))?;
        let sim = Sim::new(
            engine,
            SimConfig {
                listens: Listens::Manual,
                checks: Some(checks),
                keep_log: true,
                ..SimConfig::default()
            },
        );
        let users = USERS
            .iter()
            .map(|u| Jid::new(u).map_err(|e| Violation::new(format!("{u}: {e}"))))
            .collect::<Result<Vec<Jid>, Violation>>()?;
        Ok(Model {
            sim,
            service,
            pool,
            max_leases,
            per_account,
            max_relays,
            max_expire,
            max_idle_lease,
            users,
            requests: BTreeMap::new(),
            answers: BTreeMap::new(),
            leases: BTreeMap::new(),
            notices: Vec::new(),
            notice_ids: BTreeSet::new(),
            proxies_announced: Vec::new(),
            conns: Vec::new(),
            arrived_on_lease: BTreeSet::new(),
            next_request: 1,
            shut_down: false,
            summary: Summary::default(),
        })
    }

    fn user(&self, i: u8) -> Jid {
        self.users[usize::from(i) % self.users.len()].clone()
    }

    fn next_id(&mut self) -> String {
        let id = format!("m{}", self.next_request);
        self.next_request += 1;
        id
    }

    fn send(&mut self, iq: &Iq) {
        self.sim.stanza(&iq.to_element());
    }

    /// A pool port by offset (past the pool's end for offsets beyond it).
    fn pool_port(&self, offset: u8) -> u16 {
        self.pool.0.saturating_add(u16::from(offset) % 16)
    }

    fn step(&mut self, event: Event) -> Result<(), Violation> {
        self.apply(event);
        let log = self.sim.take_log();
        self.observe(&log)?;
        self.sim.check()
    }

    fn apply(&mut self, event: Event) {
        let service = Some(self.service.clone());
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
                    service,
                );
                // The service's clock never goes back: the request is taken at the
                // latest instant it has seen.
                let at = self.sim.engine_time().max(self.sim.next_stamp());
                let request = Request::Register {
                    from,
                    expire,
                    oneshot,
                    at,
                };
                self.requests.insert(id, request);
                self.send(&iq);
            }
            Event::Close { user, lease, ip } => {
                let from = self.user(user);
                let ports: Vec<u16> = self.leases.keys().copied().collect();
                let port = ports
                    .get(usize::from(lease))
                    .copied()
                    .unwrap_or_else(|| self.pool_port(lease));
                let host = match ip {
                    CloseIp::V4 => Some(V4),
                    CloseIp::V6 => Some(V6),
                    CloseIp::Other => Some(NOT_ADVERTISED),
                    CloseIp::Missing => None,
                };
                let proxy = host.map(|h| PassEntity::new(&h.to_string(), Some(port)));
                let id = self.next_id();
                let iq = PassMessage::Close { proxy }.to_iq(&id, Some(from.clone()), service);
                let port = host.map(|_| port);
                self.requests.insert(id, Request::Close { from, port, ip });
                self.send(&iq);
            }
            Event::ListenResult { pick, outcome } => {
                let result = match outcome {
                    0 => Err(ListenError::AddrInUse),
                    1 => Err(ListenError::Other),
                    _ => Ok(()),
                };
                self.sim.listen_result_at(usize::from(pick), result);
            }
            Event::SpuriousListenResult { offset, ok } => {
                let result = if ok { Ok(()) } else { Err(ListenError::Other) };
                let port = self.pool_port(offset);
                self.sim.spurious_listen_result(port, result);
            }
            Event::Connect { target, v6 } => self.connect(target, v6),
            Event::Closed { pick } => {
                if let Some(conn) = self.pick_conn(pick) {
                    if self.sim.conn(conn).is_some_and(|c| c.is_held()) {
                        self.sim.close(conn);
                    } else {
                        self.sim.report_closed_again(conn);
                    }
                }
            }
            Event::HalfClosed { pick } => {
                if let Some(conn) = self.pick_conn(pick) {
                    self.sim.shutdown_write(conn);
                }
            }
            Event::Answer {
                pick,
                accept,
                impostor,
            } => {
                if self.notices.is_empty() {
                    return;
                }
                let notice = self.notices[usize::from(pick) % self.notices.len()].clone();
                let from = match impostor {
                    Some(u) => self.user(u),
                    None => {
                        self.notices.retain(|n| n.id != notice.id);
                        notice.to.clone()
                    }
                };
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
                self.send(&iq);
            }
            Event::ForgedAnswer { n, user, accept } => {
                let from = Some(self.user(user));
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
                self.send(&iq);
            }
            Event::StaleTimeout(ms) => self.sim.late_timeout(Duration::from_millis(u64::from(ms))),
            Event::Advance(ms) => self.sim.advance(Duration::from_millis(u64::from(ms))),
            Event::AdvanceHours(h) => self.sim.advance(Duration::from_secs(3600 * u64::from(h))),
            Event::NextDeadline => self.sim.to_next_deadline(),
            Event::Shutdown => {
                self.shut_down = true;
                self.sim.shutdown();
            }
            Event::Backwards(ms) => {
                let t = self.sim.now().as_millis().saturating_sub(u64::from(ms));
                self.sim.stamp_next_call(Instant::from_millis(t));
            }
        }
    }

    fn pick_conn(&self, pick: u8) -> Option<ConnId> {
        if self.conns.is_empty() {
            return None;
        }
        Some(self.conns[usize::from(pick) % self.conns.len()])
    }

    /// A connection to `target`; a port that does not listen accepts it anyway (a
    /// host racing the unlisten), so that the engine meets stray connections too.
    fn connect(&mut self, target: Target, v6: bool) {
        let port = match target {
            Target::Lease(i) => {
                let ports: Vec<u16> = self.leases.keys().copied().collect();
                if ports.is_empty() {
                    return;
                }
                ports[usize::from(i) % ports.len()]
            }
            Target::Proxy(i) => {
                if self.proxies_announced.is_empty() {
                    return;
                }
                self.proxies_announced[usize::from(i) % self.proxies_announced.len()]
            }
            Target::Pool(i) => self.pool_port(i),
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
        if self.leases.contains_key(&port) {
            self.arrived_on_lease.insert(self.sim.next_conn_id());
        }
        let conn = match self.sim.connect(port, peer) {
            Ok(conn) => conn,
            Err(_) => self.sim.accept_stray(port, peer),
        };
        self.conns.push(conn);
    }

    /// Checks the actions of one event against the model, in order, then the
    /// invariants that hold between events.
    fn observe(&mut self, actions: &[Action]) -> Result<(), Violation> {
        for (i, action) in actions.iter().enumerate() {
            // The host carried out the whole batch already: a port this action
            // needs listening may have been unlistened by a later one.
            // Likewise a connection a notice names may have been dropped since.
            let later = &actions[i + 1..];
            let later_unlisten: Vec<u16> = later
                .iter()
                .filter_map(|a| match a {
                    Action::Unlisten { port } => Some(*port),
                    _ => None,
                })
                .collect();
            let later_drops: Vec<ConnId> = later
                .iter()
                .filter_map(|a| match a {
                    Action::Drop { conn } => Some(*conn),
                    _ => None,
                })
                .collect();
            let listening = |sim: &Sim<Service>, port: u16| {
                sim.listening().contains(&port) || later_unlisten.contains(&port)
            };
            match action {
                Action::Send(iq) => match iq.kind {
                    IqType::Result | IqType::Error => {
                        if let Some(port) = self.answer(iq)? {
                            ensure!(
                                listening(&self.sim, port),
                                "granted port {port} is not listening"
                            );
                        }
                    }
                    IqType::Set => {
                        if let Some(proxy) = self.notice(iq, &later_drops)? {
                            ensure!(
                                listening(&self.sim, proxy),
                                "incoming notice names proxy port {proxy}, which is not listening"
                            );
                        }
                    }
                    IqType::Get => ensure!(false, "the service sent a get: {iq:?}"),
                },
                Action::Bridge {
                    client,
                    owner,
                    account,
                } => self.bridge(*client, *owner, account)?,
                Action::Listen { .. } | Action::Unlisten { .. } | Action::Drop { .. } => {}
            }
        }
        let now = self.sim.now();
        for (port, lease) in &self.leases {
            if let Some(d) = lease.deadline {
                ensure!(
                    d > now,
                    "the lease on port {port} outlived its deadline {d:?} (now {now:?})"
                );
            }
            ensure!(
                self.sim.listening().contains(port),
                "leased port {port} is not listening"
            );
        }
        ensure!(
            self.leases.len() <= self.max_leases,
            "more leases than max_leases"
        );
        let stats = self.sim.engine().stats();
        ensure!(
            stats.leases == self.leases.len(),
            "the service counts {} leases, the model {}",
            stats.leases,
            self.leases.len()
        );
        ensure!(
            stats.pending + stats.relays <= self.max_relays,
            "{} pending + {} relays, past max_relays",
            stats.pending,
            stats.relays
        );
        Ok(())
    }

    /// Checks an answer to one of the model's requests; returns the port it granted.
    fn answer(&mut self, iq: &Iq) -> Result<Option<u16>, Violation> {
        let Some(request) = self.requests.get(&iq.id) else {
            return Err(Violation::new(format!("an answer to no request: {iq:?}")));
        };
        let count = self.answers.entry(iq.id.clone()).or_insert(0);
        *count += 1;
        ensure!(*count == 1, "request {} answered twice: {iq:?}", iq.id);
        match request {
            Request::Register {
                from,
                expire,
                oneshot,
                at,
            } => {
                ensure!(
                    iq.to.as_ref() == Some(from),
                    "register answer to the wrong JID"
                );
                if *expire == Some(0) {
                    ensure!(iq.kind == IqType::Error, "expire 0 was granted");
                }
                if iq.kind == IqType::Error {
                    self.summary.refused += 1;
                    return Ok(None);
                }
                self.summary.granted += 1;
                let servers = match PassMessage::from_iq(iq) {
                    Ok(PassMessage::Registered { servers }) => servers,
                    other => {
                        return Err(Violation::new(format!(
                            "register result is not a registration: {other:?}"
                        )))
                    }
                };
                let ips: Vec<IpAddr> = servers.iter().map(|s| s.ip()).collect();
                ensure!(ips == [V4, V6], "servers are not the advertised IPs");
                let port = servers[0].port();
                ensure!(
                    servers.iter().all(|s| s.port() == port),
                    "servers name different ports: {servers:?}"
                );
                ensure!(
                    (self.pool.0..=self.pool.1).contains(&port),
                    "granted port {port} outside the pool"
                );
                ensure!(
                    !self.leases.contains_key(&port),
                    "port {port} granted while leased"
                );
                let account = from.to_bare();
                let held = self
                    .leases
                    .values()
                    .filter(|l| l.owner.to_bare() == account)
                    .count();
                ensure!(
                    held < self.per_account,
                    "{account} granted past the per-account limit"
                );
                let max_expire = self.max_expire;
                let deadline = expire.map(|s| *at + Duration::from_secs(s).min(max_expire));
                let lease = Lease {
                    owner: from.clone(),
                    oneshot: *oneshot,
                    deadline,
                    granted_at: *at,
                    bridged: false,
                    proxies: Vec::new(),
                };
                self.leases.insert(port, lease);
                Ok(Some(port))
            }
            Request::Close { from, port, ip } => {
                ensure!(
                    iq.to.as_ref() == Some(from),
                    "close answer to the wrong JID"
                );
                let own_live = port.and_then(|p| self.leases.get(&p)).is_some_and(|l| {
                    l.owner.same_account(from) && matches!(ip, CloseIp::V4 | CloseIp::V6)
                });
                if iq.kind == IqType::Result {
                    ensure!(own_live, "close of port {port:?} by {from} acknowledged");
                    self.summary.closed += 1;
                    if let Some(p) = port {
                        self.leases.remove(p);
                    }
                } else {
                    ensure!(
                        !own_live,
                        "close of own live lease {port:?} by {from} refused: {iq:?}"
                    );
                    self.summary.refused += 1;
                }
                Ok(None)
            }
        }
    }

    /// Checks a notice; returns the proxy port an incoming-connection notice names.
    fn notice(&mut self, iq: &Iq, later_drops: &[ConnId]) -> Result<Option<u16>, Violation> {
        ensure!(
            self.notice_ids.insert(iq.id.clone()),
            "notice id {} used twice",
            iq.id
        );
        let Some(to) = iq.to.clone() else {
            return Err(Violation::new(format!("notice without a to: {iq:?}")));
        };
        let msg = PassMessage::from_iq(iq).map_err(|e| {
            Violation::new(format!(
                "the service sent a set that is no PASS message ({e}): {iq:?}"
            ))
        })?;
        let now = self.sim.now();
        let mut incoming = None;
        match msg {
            PassMessage::IncomingConnection { client, proxy } => {
                let port = proxy.port();
                let on_lease = self.sim.conns().find_map(|(id, c)| {
                    let lease = self.leases.get(&c.local_port())?;
                    let held = c.is_held() || later_drops.contains(&id);
                    (held && c.peer() == client && lease.owner == to).then_some(c.local_port())
                });
                let Some(lease_port) = on_lease else {
                    return Err(Violation::new(format!(
                        "incoming notice {iq:?} matches no held connection on a lease of {to}"
                    )));
                };
                if let Some(l) = self.leases.get_mut(&lease_port) {
                    l.proxies.push(port);
                }
                self.proxies_announced.push(port);
                incoming = Some((client, proxy));
                self.summary.incoming += 1;
            }
            PassMessage::ExpireNotice { proxy } => {
                let lease = self.end_lease(proxy.port(), &to, "expire")?;
                // Or idle (decision 101): not before a whole idle period.
                let idle =
                    !self.max_idle_lease.is_zero() && lease.granted_at + self.max_idle_lease <= now;
                ensure!(
                    lease.deadline.is_some_and(|d| d <= now) || idle,
                    "expire notice for port {} before its deadline",
                    proxy.port()
                );
                self.summary.expired += 1;
            }
            PassMessage::OneshotNotice { proxy } => {
                let lease = self.end_lease(proxy.port(), &to, "oneshot")?;
                ensure!(
                    lease.oneshot && lease.bridged,
                    "oneshot notice for port {} (oneshot {}, bridged {})",
                    proxy.port(),
                    lease.oneshot,
                    lease.bridged
                );
                self.summary.oneshot_ended += 1;
            }
            PassMessage::Close { proxy } => {
                let Some(port) = proxy.and_then(|p| p.port) else {
                    return Err(Violation::new(format!(
                        "close notice without a port: {iq:?}"
                    )));
                };
                self.end_lease(port, &to, "close")?;
                ensure!(
                    self.shut_down,
                    "close notice for port {port} before shutdown"
                );
                self.summary.shutdown_closed += 1;
            }
            other => ensure!(false, "the service sent an unexpected set: {other:?}"),
        }
        self.notices.push(Notice {
            id: iq.id.clone(),
            to,
            incoming,
        });
        Ok(incoming.map(|(_, proxy)| proxy.port()))
    }

    /// A notice ended the lease on `port`: it must be live and `to`'s.
    fn end_lease(&mut self, port: u16, to: &Jid, what: &str) -> Result<Lease, Violation> {
        let Some(lease) = self.leases.remove(&port) else {
            return Err(Violation::new(format!(
                "{what} notice for port {port}, which has no live lease"
            )));
        };
        ensure!(
            lease.owner == *to,
            "{what} notice for port {port} to another JID"
        );
        Ok(lease)
    }

    fn bridge(&mut self, client: ConnId, owner: ConnId, account: &Jid) -> Result<(), Violation> {
        let lease_port = self.sim.conn(client).map(|c| c.local_port());
        let owner_port = self.sim.conn(owner).map(|c| c.local_port());
        ensure!(
            self.arrived_on_lease.contains(&client),
            "bridge of {client}, which did not arrive on a lease port"
        );
        ensure!(
            !self.arrived_on_lease.contains(&owner),
            "bridge of owner {owner}, which arrived on a lease port"
        );
        let Some(lease) = lease_port.and_then(|p| self.leases.get_mut(&p)) else {
            return Err(Violation::new(format!(
                "bridge of {client}, which is not on a live lease port"
            )));
        };
        ensure!(
            lease.owner.to_bare() == *account,
            "bridge for the wrong account"
        );
        ensure!(
            owner_port.is_some_and(|p| lease.proxies.contains(&p)),
            "bridge of owner {owner} on port {owner_port:?}, not a proxy announced for the lease"
        );
        lease.bridged = true;
        self.summary.bridges += 1;
        Ok(())
    }

    /// Shuts down, reports every outstanding listen, checks that everything was
    /// given back, then lets the relays drain and time pass.
    fn finish(&mut self) -> Result<(), Violation> {
        self.shut_down = true;
        self.sim.shutdown();
        let log = self.sim.take_log();
        self.observe(&log)?;
        let mut rounds = 0;
        while !self.sim.pending_listens().is_empty() {
            rounds += 1;
            ensure!(rounds <= 10_000, "listens keep coming after shutdown");
            self.sim.listen_result_at(0, Ok(()));
            let log = self.sim.take_log();
            self.observe(&log)?;
        }
        self.sim.check()?;
        ensure!(
            self.sim.listening().is_empty(),
            "ports still listening after shutdown: {:?}",
            self.sim.listening()
        );
        ensure!(
            self.leases.is_empty(),
            "leases left after shutdown: {:?}",
            self.leases
        );
        let stats = self.sim.engine().stats();
        ensure!(stats.pending == 0, "sessions pending after shutdown");
        for (conn, c) in self.sim.conns() {
            ensure!(
                !c.is_held() || c.is_relayed(),
                "{conn} (on port {}) neither dropped nor relayed after shutdown",
                c.local_port()
            );
        }
        for id in self.requests.keys() {
            let n = self.answers.get(id).copied().unwrap_or(0);
            ensure!(n == 1, "request {id} got {n} answers");
        }
        // The relays drain on the host's side; the quarantines pass.
        self.sim.close_all();
        self.sim.advance(Duration::from_secs(3600));
        let log = self.sim.take_log();
        self.observe(&log)?;
        self.sim.check()?;
        let stats = self.sim.engine().stats();
        let pool = self.sim.engine().machine().pool_size();
        ensure!(
            stats.ports_free == pool,
            "after shutdown {} of {pool} ports free",
            stats.ports_free
        );
        ensure!(
            self.sim.relay_count() == 0,
            "relays left after every side closed"
        );
        ensure!(
            self.sim.engine().poll_timeout().is_none(),
            "deadline left after shutdown: {:?}",
            self.sim.engine().poll_timeout()
        );
        Ok(())
    }
}
