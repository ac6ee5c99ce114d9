//! The machine driven by hand, time by hand: one test per behaviour of the module
//! documentation.

use super::*;
use crate::ns;
use crate::service::Service;
use crate::sim::{Checks, Listens, Sim, SimConfig};
use crate::stanza::ErrorType;
use alloc::vec;

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1000)
}

fn v4() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}

fn v6() -> IpAddr {
    "2001:db8::1".parse().unwrap()
}

fn peer4() -> SocketAddr {
    "198.51.100.7:1234".parse().unwrap()
}

fn peer6() -> SocketAddr {
    "[2001:db8::77]:4321".parse().unwrap()
}

const OWNER: &str = "user@example.org/home";

fn config() -> Config {
    let mut c = Config::new(jid("pass.example.org"), vec![v4(), v6()]);
    c.first_port = 40000;
    c.last_port = 40009;
    c.max_leases = 5;
    c.max_leases_per_account = 3;
    c.max_relays = 2;
    c.max_expire = Duration::from_secs(3600);
    c.answer_timeout = Duration::from_secs(30);
    c.proxy_window = Duration::from_secs(10);
    c.quarantine = Duration::from_secs(60);
    // Idle leases (DESIGN decision 101) are pass-core/tests/abandoned.rs's: here a
    // lease without an expiry has no timer at all.
    c.max_idle_lease = Duration::ZERO;
    c
}

/// The machine in its service, hosted by the simulated host (docs/DESIGN.md
/// decision 18) with listens answered by hand and the host contract checked on
/// every action; time by hand.
struct H {
    sim: Sim<Service>,
    next_req: u32,
}

impl H {
    fn new() -> H {
        H::with(config())
    }

    fn with(c: Config) -> H {
        let sim_config = SimConfig {
            listens: Listens::Manual,
            checks: Some(Checks::for_config(&c)),
            keep_log: true,
            ..SimConfig::default()
        };
        H {
            sim: Sim::new(Service::new(c).unwrap(), sim_config),
            next_req: 0,
        }
    }

    /// Brings the host to `now`, firing what falls due on the way; an earlier `now`
    /// stamps the next call with it (the machine must take it as the latest instant).
    fn at(&mut self, now: Instant) {
        if now >= self.sim.now() {
            self.sim.advance_to(now);
        } else {
            self.sim.stamp_next_call(now);
        }
    }

    /// What the host carried out since the last drain (the host contract held).
    fn drain(&mut self) -> Vec<Action> {
        if let Err(v) = self.sim.check() {
            panic!("host contract broken: {v}");
        }
        self.sim.take_log()
    }

    fn machine(&self) -> &LeaseMachine {
        self.sim.engine().machine()
    }

    fn stats(&self) -> Stats {
        self.machine().stats()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.machine().poll_timeout()
    }

    fn lease_ports(&self) -> Vec<u16> {
        self.machine().lease_ports().collect()
    }

    /// `iq` arrives from the XMPP stream.
    fn send_iq(&mut self, now: Instant, iq: &Iq) {
        self.at(now);
        self.sim.stanza(&iq.to_element());
    }

    /// The host reports a listen result for `port` (asked for or not).
    fn listen_result(&mut self, now: Instant, port: u16, result: Result<(), ListenError>) {
        self.at(now);
        if !self.sim.listen_result(port, result) {
            self.sim.spurious_listen_result(port, result);
        }
    }

    /// Connection `conn` (the host numbers them in order) arrives on `port`; a port
    /// that does not listen (any more) hands it over anyway, as a host racing the
    /// unlisten would: the machine must drop it.
    fn connect(&mut self, now: Instant, conn: u64, port: u16, peer: SocketAddr) {
        self.at(now);
        assert_eq!(
            self.sim.next_conn_id(),
            ConnId(conn),
            "connections come in order"
        );
        if self.sim.connect(port, peer).is_err() {
            self.sim.accept_stray(port, peer);
        }
    }

    /// The peer of `conn` hangs up; one the host is done with is reported again.
    fn close(&mut self, now: Instant, conn: u64) {
        self.at(now);
        let conn = ConnId(conn);
        if self.sim.conn(conn).is_some_and(|c| c.is_held()) {
            self.sim.close(conn);
        } else {
            self.sim.report_closed_again(conn);
        }
    }

    /// The timer fires at `now` (late if `now` is behind the host's clock).
    fn timeout(&mut self, now: Instant) {
        if now >= self.sim.now() {
            self.sim.advance_to(now);
            self.sim.wake();
        } else {
            let late = self.sim.now() - now;
            self.sim.late_timeout(late);
        }
    }

    fn shutdown(&mut self, now: Instant) {
        self.at(now);
        self.sim.shutdown();
    }

    /// `from` sends `msg` in an IQ of its type; returns what the machine does.
    fn request(&mut self, now: Instant, from: &str, msg: PassMessage) -> (String, Vec<Action>) {
        self.next_req += 1;
        let id = format!("req{}", self.next_req);
        let iq = msg.to_iq(&id, Some(jid(from)), Some(jid("pass.example.org")));
        self.send_iq(now, &iq);
        (id, self.drain())
    }

    /// Asks for a listen and returns the port.
    fn ask_register(
        &mut self,
        now: Instant,
        from: &str,
        expire: Option<u64>,
        oneshot: bool,
    ) -> u16 {
        let (_, actions) = self.request(now, from, PassMessage::Register { expire, oneshot });
        match actions.as_slice() {
            [Action::Listen { port }] => *port,
            other => panic!("expected one Listen, got {other:?}"),
        }
    }

    /// A granted lease's port.
    fn register(&mut self, now: Instant, from: &str, expire: Option<u64>, oneshot: bool) -> u16 {
        let port = self.ask_register(now, from, expire, oneshot);
        self.listen_result(now, port, Ok(()));
        let actions = self.drain();
        let [Action::Send(iq)] = actions.as_slice() else {
            panic!("expected the result, got {actions:?}")
        };
        assert_eq!(iq.kind, IqType::Result);
        assert_eq!(iq.to, Some(jid(from)));
        port
    }

    /// A third party connects to `lease`: returns the proxy port and the notice.
    fn incoming(&mut self, now: Instant, lease: u16, conn: u64, peer: SocketAddr) -> (u16, Iq) {
        self.connect(now, conn, lease, peer);
        let actions = self.drain();
        let [Action::Listen { port: proxy }] = actions.as_slice() else {
            panic!("expected Listen on a proxy, got {actions:?}")
        };
        let proxy = *proxy;
        self.listen_result(now, proxy, Ok(()));
        let actions = self.drain();
        let [Action::Send(notice)] = actions.as_slice() else {
            panic!("expected the notice, got {actions:?}")
        };
        (proxy, notice.clone())
    }

    /// The owner answers `notice` (result or error) from `from`.
    fn answer(&mut self, now: Instant, notice: &Iq, from: &str, accept: bool) -> Vec<Action> {
        let iq = if accept {
            Iq {
                id: notice.id.clone(),
                kind: IqType::Result,
                from: Some(jid(from)),
                to: notice.from.clone(),
                payload: Some(PassMessage::Ack.to_query()),
                error: None,
            }
        } else {
            Iq {
                id: notice.id.clone(),
                kind: IqType::Error,
                from: Some(jid(from)),
                to: notice.from.clone(),
                payload: notice.payload.clone(),
                error: Some(StanzaError::from(PassError::Unauthorized)),
            }
        };
        self.send_iq(now, &iq);
        self.drain()
    }

    /// A lease with a live relay: (proxy, client conn 1, owner conn 2).
    fn relay(&mut self, now: Instant, lease: u16) {
        let (proxy, notice) = self.incoming(now, lease, 1, peer4());
        assert!(self.answer(now, &notice, OWNER, true).is_empty());
        self.connect(now, 2, proxy, "203.0.113.9:5555".parse().unwrap());
        let actions = self.drain();
        assert_eq!(
            actions,
            [
                Action::Unlisten { port: proxy },
                Action::Bridge {
                    client: ConnId(1),
                    owner: ConnId(2),
                    account: jid("user@example.org")
                }
            ]
        );
    }
}

fn sent(actions: &[Action]) -> Vec<&Iq> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(iq) => Some(iq),
            _ => None,
        })
        .collect()
}

fn message(iq: &Iq) -> PassMessage {
    PassMessage::from_iq(iq).unwrap()
}

/// The one error sent, as (code, condition, type, text).
fn only_error(actions: &[Action]) -> (u16, Condition, ErrorType, String) {
    let [Action::Send(iq)] = actions else {
        panic!("expected one send, got {actions:?}")
    };
    assert_eq!(iq.kind, IqType::Error);
    let e = iq.error.clone().unwrap();
    (
        e.code.unwrap(),
        e.condition.unwrap(),
        e.kind.unwrap(),
        e.text.unwrap_or_default(),
    )
}

// ---- registration -------------------------------------------------------------

#[test]
fn register_answers_one_server_per_advertised_address_after_listen() {
    let mut h = H::new();
    let (id, actions) = h.request(
        secs(1),
        OWNER,
        PassMessage::Register {
            expire: None,
            oneshot: false,
        },
    );
    let [Action::Listen { port }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert!((40000..=40009).contains(port));
    assert_eq!(h.stats().leases, 0, "not a lease before the port listens");
    h.listen_result(secs(1), *port, Ok(()));
    let actions = h.drain();
    let [Action::Send(iq)] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(iq.id, id);
    assert_eq!(iq.from, Some(jid("pass.example.org")));
    assert_eq!(iq.to, Some(jid(OWNER)));
    assert_eq!(
        message(iq),
        PassMessage::Registered {
            servers: vec![SocketAddr::new(v4(), *port), SocketAddr::new(v6(), *port)]
        }
    );
    assert_eq!(h.stats().leases, 1);
    assert_eq!(h.stats().registrations, 1);
    assert_eq!(h.poll_timeout(), None, "no expiry asked: listens forever");
}

#[test]
fn expire_zero_is_a_bad_request() {
    let mut h = H::new();
    let (_, actions) = h.request(
        secs(0),
        OWNER,
        PassMessage::Register {
            expire: Some(0),
            oneshot: false,
        },
    );
    let (code, cond, kind, text) = only_error(&actions);
    assert_eq!(
        (code, cond, kind),
        (400, Condition::BadRequest, ErrorType::Modify)
    );
    assert_eq!(text, "expire must be at least 1 second");
}

#[test]
fn long_expiry_is_clamped_to_max_expire() {
    let mut h = H::new();
    h.register(secs(10), OWNER, Some(1_000_000), false);
    assert_eq!(h.poll_timeout(), Some(secs(10 + 3600)));
}

#[test]
fn expiry_counts_from_the_request() {
    let mut h = H::new();
    let port = h.ask_register(secs(10), OWNER, Some(60), false);
    h.listen_result(secs(12), port, Ok(()));
    h.drain();
    assert_eq!(h.poll_timeout(), Some(secs(70)));
}

#[test]
fn per_account_limit_counts_every_resource_and_answers_resource_constraint() {
    let mut h = H::new();
    h.register(secs(0), "user@example.org/a", None, false);
    h.register(secs(0), "user@example.org/b", None, false);
    // A third one still waiting for its listen counts too.
    h.ask_register(secs(0), "user@example.org/c", None, false);
    let (_, actions) = h.request(
        secs(0),
        "user@example.org/d",
        PassMessage::Register {
            expire: None,
            oneshot: false,
        },
    );
    let (code, cond, kind, text) = only_error(&actions);
    assert_eq!(
        (code, cond, kind),
        (500, Condition::ResourceConstraint, ErrorType::Wait)
    );
    assert!(
        text.contains("user@example.org already holds 3 leases"),
        "{text}"
    );
    // Another account is not affected.
    h.register(secs(0), "other@example.org/x", None, false);
}

#[test]
fn global_lease_limit_answers_502() {
    let mut h = H::new();
    for i in 0..5 {
        h.register(secs(0), &format!("u{i}@example.org/r"), None, false);
    }
    let (_, actions) = h.request(
        secs(0),
        "late@example.org/r",
        PassMessage::Register {
            expire: None,
            oneshot: false,
        },
    );
    let (code, cond, kind, text) = only_error(&actions);
    assert_eq!(
        (code, cond, kind),
        (502, Condition::ServiceUnavailable, ErrorType::Wait)
    );
    assert_eq!(text, "No more ports available. Try again later.");
}

#[test]
fn empty_pool_answers_502() {
    let mut c = config();
    c.last_port = c.first_port; // one port
    let mut h = H::with(c);
    h.register(secs(0), "a@example.org/r", None, false);
    let (_, actions) = h.request(
        secs(0),
        "b@example.org/r",
        PassMessage::Register {
            expire: None,
            oneshot: false,
        },
    );
    assert_eq!(only_error(&actions).0, 502);
}

#[test]
fn failed_listen_quarantines_the_port_and_tries_another() {
    let mut h = H::new();
    let first = h.ask_register(secs(0), OWNER, None, false);
    h.listen_result(secs(0), first, Err(ListenError::AddrInUse));
    let actions = h.drain();
    let [Action::Listen { port: second }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_ne!(*second, first);
    assert_eq!(h.stats().ports_quarantined, 1);
    assert_eq!(
        h.poll_timeout(),
        Some(secs(60)),
        "the quarantine end is a deadline"
    );
    h.listen_result(secs(0), *second, Ok(()));
    let sends = h.drain();
    assert_eq!(
        message(sent(&sends)[0]),
        PassMessage::Registered {
            servers: vec![
                SocketAddr::new(v4(), *second),
                SocketAddr::new(v6(), *second)
            ]
        }
    );
    h.timeout(secs(60));
    assert_eq!(h.stats().ports_quarantined, 0);
    assert_eq!(h.stats().ports_free, 9);
}

#[test]
fn registration_gives_up_with_502_after_max_listen_tries() {
    let mut c = config();
    c.last_port = 40099;
    let mut h = H::with(c);
    let mut port = h.ask_register(secs(0), OWNER, None, false);
    for _ in 1..MAX_LISTEN_TRIES {
        h.listen_result(secs(0), port, Err(ListenError::Other));
        let actions = h.drain();
        let [Action::Listen { port: next }] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        port = *next;
    }
    h.listen_result(secs(0), port, Err(ListenError::Other));
    let actions = h.drain();
    assert_eq!(only_error(&actions).0, 502);
    assert_eq!(h.stats().ports_quarantined, usize::from(MAX_LISTEN_TRIES));
    // The account's count was given back.
    h.register(secs(0), OWNER, None, false);
}

// ---- incoming connections --------------------------------------------------------

#[test]
fn incoming_connection_notifies_the_registering_resource_with_the_peer_family() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer6());
    assert_ne!(proxy, lease);
    assert_eq!(notice.kind, IqType::Set);
    assert_eq!(notice.to, Some(jid(OWNER)));
    assert_eq!(notice.from, Some(jid("pass.example.org")));
    assert!(notice.id.starts_with("pass-"));
    assert_eq!(
        message(&notice),
        PassMessage::IncomingConnection {
            client: peer6(),
            proxy: SocketAddr::new(v6(), proxy)
        }
    );
    assert_eq!(h.stats().pending, 1);
    assert_eq!(h.poll_timeout(), Some(secs(31)), "answer timer");
}

/// DESIGN decision 140: the host asks which ports are proxies, to admit owners there
/// when it is out of descriptors; a lease port is not one, nor is a proxy port after
/// its session.
#[test]
fn a_proxy_port_is_known_as_one_while_its_session_waits_for_the_owner() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    assert!(!h.machine().is_proxy_port(lease));
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    assert!(h.machine().is_proxy_port(proxy));
    assert!(!h.machine().is_proxy_port(lease));
    h.answer(secs(2), &notice, OWNER, false);
    assert!(
        !h.machine().is_proxy_port(proxy),
        "the denied session's port"
    );
}

#[test]
fn proxy_address_falls_back_to_the_first_advertised() {
    let mut c = config();
    c.advertised = vec![v4()];
    let mut h = H::with(c);
    let lease = h.register(secs(0), OWNER, None, false);
    let (proxy, notice) = h.incoming(secs(0), lease, 1, peer6());
    assert_eq!(
        message(&notice),
        PassMessage::IncomingConnection {
            client: peer6(),
            proxy: SocketAddr::new(v4(), proxy)
        }
    );
}

#[test]
fn accept_then_owner_connects_bridges_and_closes_the_proxy() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    assert!(h.answer(secs(2), &notice, OWNER, true).is_empty());
    assert_eq!(
        h.poll_timeout(),
        Some(secs(12)),
        "proxy window from the answer"
    );
    h.connect(secs(3), 2, proxy, peer4());
    assert_eq!(
        h.drain(),
        [
            Action::Unlisten { port: proxy },
            Action::Bridge {
                client: ConnId(1),
                owner: ConnId(2),
                account: jid("user@example.org")
            }
        ]
    );
    let s = h.stats();
    assert_eq!((s.pending, s.relays), (0, 1));
    assert_eq!(s.answer_latency.count, 1);
    assert_eq!(s.answer_latency.sum_ms, 1000);
    assert_eq!(h.poll_timeout(), None);
    // A second connection on the closed proxy port is refused.
    h.connect(secs(3), 3, proxy, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(3) }]);
}

#[test]
fn owner_connecting_before_answering_is_held_until_the_answer() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    h.connect(secs(1), 2, proxy, peer4());
    assert_eq!(h.drain(), [Action::Unlisten { port: proxy }]);
    assert_eq!(
        h.answer(secs(2), &notice, OWNER, true),
        [Action::Bridge {
            client: ConnId(1),
            owner: ConnId(2),
            account: jid("user@example.org")
        }]
    );
}

#[test]
fn deny_drops_the_client_and_keeps_a_oneshot_lease() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, true);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    h.connect(secs(1), 2, proxy, peer4());
    h.drain();
    let actions = h.answer(secs(2), &notice, OWNER, false);
    assert_eq!(
        actions,
        [
            Action::Drop { conn: ConnId(1) },
            Action::Drop { conn: ConnId(2) }
        ]
    );
    assert_eq!(h.lease_ports(), [lease], "oneshot not used up");
    assert_eq!(h.stats().pending, 0);
    // The lease takes the next connection.
    let (_, notice2) = h.incoming(secs(3), lease, 3, peer4());
    assert_ne!(notice2.id, notice.id);
}

#[test]
fn deny_before_the_owner_connects_unlistens_the_proxy() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    let free = h.stats().ports_free;
    let actions = h.answer(secs(2), &notice, OWNER, false);
    assert_eq!(
        actions,
        [
            Action::Drop { conn: ConnId(1) },
            Action::Unlisten { port: proxy }
        ]
    );
    assert_eq!(h.stats().ports_free, free + 1);
    // A late connection on the proxy port is refused.
    h.connect(secs(2), 2, proxy, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(2) }]);
}

/// A bounce meaning the owner is gone drops the caller and ends the lease when the
/// reconnect grace runs out with no word from the owner (DESIGN decisions 100 and
/// 94; every condition and the grace's end are in pass-core/tests/abandoned.rs).
#[test]
fn a_server_bounce_ends_the_lease() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    let bounce = Iq {
        id: notice.id.clone(),
        kind: IqType::Error,
        from: Some(jid(OWNER)),
        to: notice.from.clone(),
        payload: None,
        error: Some(StanzaError::new(Condition::RecipientUnavailable)),
    };
    h.send_iq(secs(1), &bounce);
    assert_eq!(
        h.drain(),
        [
            Action::Drop { conn: ConnId(1) },
            Action::Unlisten { port: proxy },
        ]
    );
    let grace = Config::DEFAULT_RECONNECT_GRACE.as_secs();
    h.timeout(Instant::from_millis((1 + grace) * 1000 - 1));
    assert!(h.drain().is_empty(), "still in its reconnect grace");
    h.timeout(secs(1 + grace));
    assert_eq!(h.drain(), [Action::Unlisten { port: lease }]);
    assert!(h.lease_ports().is_empty());
}

#[test]
fn no_answer_in_time_drops_the_client() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, true);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    h.timeout(secs(30));
    assert!(h.drain().is_empty(), "not yet due");
    h.timeout(secs(31));
    assert_eq!(
        h.drain(),
        [
            Action::Drop { conn: ConnId(1) },
            Action::Unlisten { port: proxy }
        ]
    );
    // A late accept is ignored; the oneshot lease is still there.
    assert!(h.answer(secs(32), &notice, OWNER, true).is_empty());
    assert_eq!(h.lease_ports().len(), 1);
}

#[test]
fn proxy_window_passing_drops_the_client() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    h.answer(secs(5), &notice, OWNER, true);
    h.timeout(secs(15));
    assert_eq!(
        h.drain(),
        [
            Action::Drop { conn: ConnId(1) },
            Action::Unlisten { port: proxy }
        ]
    );
    assert_eq!(h.stats().pending, 0);
    // The lease is idle again.
    h.incoming(secs(16), lease, 2, peer4());
}

#[test]
fn answers_from_another_jid_or_with_a_foreign_id_are_ignored() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let (_, notice) = h.incoming(secs(1), lease, 1, peer4());
    // Another resource of the same account is not where the notice went.
    assert!(h
        .answer(secs(2), &notice, "user@example.org/other", false)
        .is_empty());
    assert!(h
        .answer(secs(2), &notice, "mallory@example.org/x", false)
        .is_empty());
    let mut foreign = notice.clone();
    foreign.id = String::from("pass-999");
    assert!(h.answer(secs(2), &foreign, OWNER, false).is_empty());
    foreign.id = String::from("whatever");
    assert!(h.answer(secs(2), &foreign, OWNER, false).is_empty());
    assert_eq!(h.stats().pending, 1);
    // The real answer still works.
    assert_eq!(
        h.answer(secs(2), &notice, OWNER, false)[0],
        Action::Drop { conn: ConnId(1) }
    );
}

#[test]
fn busy_lease_drops_a_second_connection() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    h.incoming(secs(1), lease, 1, peer4());
    h.connect(secs(1), 2, lease, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(2) }]);
    // Also while the proxy listen is still being asked for.
    let lease2 = h.register(secs(0), "b@example.org/r", None, false);
    h.connect(secs(1), 3, lease2, peer4());
    h.drain();
    h.connect(secs(1), 4, lease2, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(4) }]);
}

/// A caller who hangs up before the owner answers, `n` times at `now` on `lease`
/// (connection ids from `first_conn`), each announced.
fn hang_up_calls(h: &mut H, now: Instant, lease: u16, first_conn: u64, n: u64) {
    for conn in first_conn..first_conn + n {
        h.incoming(now, lease, conn, peer4());
        h.close(now, conn);
        h.drain();
    }
}

#[test]
fn calls_past_a_leases_call_rate_are_dropped_unannounced_and_counted() {
    let mut c = config();
    c.call_burst = 2;
    c.call_per_second = 1;
    let mut h = H::with(c);
    let lease = h.register(secs(0), OWNER, None, false);
    let other = h.register(secs(0), "b@example.org/r", None, false);
    hang_up_calls(&mut h, secs(1), lease, 1, 2);
    // The burst is spent: the third call at once is dropped without a notice.
    h.connect(secs(1), 3, lease, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(3) }]);
    assert_eq!(h.stats().calls_throttled, 1);
    // Another lease has its own bucket.
    hang_up_calls(&mut h, secs(1), other, 4, 1);
    // One call a second refills: a second later the lease announces again.
    hang_up_calls(&mut h, secs(2), lease, 5, 1);
    h.connect(secs(2), 6, lease, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(6) }]);
    assert_eq!(h.stats().calls_throttled, 2);
}

#[test]
fn calls_dropped_on_a_busy_lease_do_not_spend_its_call_rate() {
    let mut c = config();
    c.call_burst = 2;
    c.call_per_second = 1;
    let mut h = H::with(c);
    let lease = h.register(secs(0), OWNER, None, false);
    h.incoming(secs(1), lease, 1, peer4());
    for conn in 2..10 {
        h.connect(secs(1), conn, lease, peer4());
        assert_eq!(h.drain(), [Action::Drop { conn: ConnId(conn) }]);
    }
    assert_eq!(h.stats().calls_throttled, 0);
    h.close(secs(1), 1);
    h.drain();
    // One token left of the burst: the next caller is announced.
    h.incoming(secs(1), lease, 10, peer4());
}

#[test]
fn max_relays_counts_pending_sessions_and_drops_past_it() {
    let mut h = H::new();
    let a = h.register(secs(0), "a@example.org/r", None, false);
    let b = h.register(secs(0), "b@example.org/r", None, false);
    let c = h.register(secs(0), "c@example.org/r", None, false);
    h.incoming(secs(1), a, 1, peer4());
    h.incoming(secs(1), b, 2, peer4());
    h.connect(secs(1), 3, c, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(3) }]);
}

#[test]
fn connections_on_unknown_ports_are_dropped() {
    let mut h = H::new();
    h.connect(secs(0), 1, 40001, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(1) }]);
}

#[test]
fn no_free_proxy_port_drops_the_client() {
    let mut c = config();
    c.last_port = c.first_port;
    let mut h = H::with(c);
    let lease = h.register(secs(0), OWNER, None, false);
    h.connect(secs(0), 1, lease, peer4());
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(1) }]);
    assert_eq!(h.stats().pending, 0);
}

#[test]
fn failed_proxy_listen_tries_another_port() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    h.connect(secs(0), 1, lease, peer4());
    let actions = h.drain();
    let [Action::Listen { port: p1 }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    h.listen_result(secs(0), *p1, Err(ListenError::AddrInUse));
    let actions = h.drain();
    let [Action::Listen { port: p2 }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_ne!(p1, p2);
    h.listen_result(secs(0), *p2, Ok(()));
    let actions = h.drain();
    assert_eq!(
        message(sent(&actions)[0]),
        PassMessage::IncomingConnection {
            client: peer4(),
            proxy: SocketAddr::new(v4(), *p2)
        }
    );
}

#[test]
fn client_closing_while_pending_cancels_and_ignores_the_late_answer() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let (proxy, notice) = h.incoming(secs(1), lease, 1, peer4());
    h.connect(secs(1), 2, proxy, peer4());
    h.drain();
    h.close(secs(2), 1);
    // The closed client is not dropped again; the held owner is.
    assert_eq!(h.drain(), [Action::Drop { conn: ConnId(2) }]);
    assert!(h.answer(secs(3), &notice, OWNER, true).is_empty());
    h.close(secs(3), 1);
    h.close(secs(3), 2);
    assert!(
        h.drain().is_empty(),
        "closes of forgotten conns are ignored"
    );
}

#[test]
fn client_closing_while_the_proxy_listen_is_pending_releases_it_later() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    h.connect(secs(0), 1, lease, peer4());
    let actions = h.drain();
    let [Action::Listen { port: proxy }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    h.close(secs(0), 1);
    assert!(h.drain().is_empty());
    let free = h.stats().ports_free;
    h.listen_result(secs(0), *proxy, Ok(()));
    assert_eq!(h.drain(), [Action::Unlisten { port: *proxy }]);
    assert_eq!(h.stats().ports_free, free + 1);
}

// ---- relays -------------------------------------------------------------------------

#[test]
fn plain_lease_takes_the_next_connection_after_a_relay() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    h.relay(secs(1), lease);
    h.close(secs(5), 1);
    assert!(h.drain().is_empty(), "the host ends the relay itself");
    h.close(secs(5), 2);
    assert!(h.drain().is_empty());
    assert_eq!(h.stats().relays, 0);
    let (_, notice) = h.incoming(secs(6), lease, 3, peer4());
    assert_eq!(notice.to, Some(jid(OWNER)));
}

#[test]
fn oneshot_lease_ends_after_its_relay_with_one_notice() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, Some(100), true);
    h.relay(secs(1), lease);
    let free = h.stats().ports_free;
    h.close(secs(5), 2);
    let actions = h.drain();
    assert_eq!(actions[0], Action::Unlisten { port: lease });
    let sends = sent(&actions);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].to, Some(jid(OWNER)));
    assert_eq!(
        message(sends[0]),
        PassMessage::OneshotNotice {
            proxy: SocketAddr::new(v4(), lease)
        }
    );
    assert_eq!(h.stats().ports_free, free + 1);
    assert_eq!(h.stats().leases, 0);
    // No expire notice later, and the other side's close is ignored.
    h.close(secs(5), 1);
    h.timeout(secs(1000));
    assert!(h.drain().is_empty());
    assert_eq!(h.poll_timeout(), None);
}

#[test]
fn expiry_drops_a_relay_in_flight_and_sends_one_notice() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, Some(60), true);
    h.relay(secs(1), lease);
    h.timeout(secs(60));
    let actions = h.drain();
    // Dropping the client ends the relay (and so the owner's side).
    assert_eq!(
        actions[..2],
        [
            Action::Drop { conn: ConnId(1) },
            Action::Unlisten { port: lease }
        ]
    );
    let sends = sent(&actions);
    assert_eq!(sends.len(), 1);
    assert_eq!(
        message(sends[0]),
        PassMessage::ExpireNotice {
            proxy: SocketAddr::new(v4(), lease)
        }
    );
    // The relay's closes afterwards are ignored: no oneshot notice.
    h.close(secs(61), 1);
    h.close(secs(61), 2);
    assert!(h.drain().is_empty());
    let s = h.stats();
    assert_eq!((s.leases, s.relays, s.pending, s.ports_free), (0, 0, 0, 10));
}

#[test]
fn expiry_drops_a_pending_client_and_unlistens_its_proxy() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, Some(10), false);
    let (proxy, notice) = h.incoming(secs(5), lease, 1, peer4());
    h.timeout(secs(10));
    let actions = h.drain();
    assert_eq!(
        actions[..3],
        [
            Action::Drop { conn: ConnId(1) },
            Action::Unlisten { port: proxy },
            Action::Unlisten { port: lease }
        ]
    );
    assert_eq!(sent(&actions).len(), 1);
    // The answer timer died with it.
    assert_eq!(h.poll_timeout(), None);
    assert!(h.answer(secs(11), &notice, OWNER, true).is_empty());
}

#[test]
fn a_far_time_jump_fires_every_deadline_in_order() {
    let mut h = H::new();
    let a = h.register(secs(0), "a@example.org/r", Some(20), false);
    let b = h.register(secs(0), "b@example.org/r", Some(10), false);
    h.timeout(secs(1_000_000));
    let notices: Vec<PassMessage> = sent(&h.drain()).into_iter().map(message).collect();
    assert_eq!(
        notices,
        [
            PassMessage::ExpireNotice {
                proxy: SocketAddr::new(v4(), b)
            },
            PassMessage::ExpireNotice {
                proxy: SocketAddr::new(v4(), a)
            }
        ]
    );
}

#[test]
fn time_never_goes_backwards() {
    let mut h = H::new();
    h.timeout(secs(100));
    // A request "at 0" is taken at 100: its expiry counts from there.
    h.register(secs(0), OWNER, Some(10), false);
    assert_eq!(h.poll_timeout(), Some(secs(110)));
    h.timeout(secs(50));
    assert!(h.drain().is_empty());
}

#[test]
fn notice_answers_are_consumed_silently() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, Some(1), false);
    h.timeout(secs(1));
    let actions = h.drain();
    let notice = sent(&actions)[0].clone();
    assert!(h.answer(secs(2), &notice, OWNER, true).is_empty());
    assert!(h.answer(secs(2), &notice, OWNER, true).is_empty());
    assert_eq!(h.lease_ports().len(), 0, "{lease} ended");
}

// ---- close ---------------------------------------------------------------------------

fn close_msg(host: &str, port: Option<u16>) -> PassMessage {
    PassMessage::Close {
        proxy: Some(PassEntity {
            host: String::from(host),
            port,
        }),
    }
}

#[test]
fn close_errors_come_in_the_spec_order() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    let other = h.register(secs(0), "other@example.org/r", None, false);
    let cases = [
        (
            PassMessage::Close { proxy: None },
            400,
            Condition::BadRequest,
            "Missing <proxy/> specification.",
        ),
        (
            close_msg("192.0.2.1", None),
            400,
            Condition::BadRequest,
            "Missing <proxy/> specification.",
        ),
        (
            close_msg("192.0.2.99", Some(40999)),
            405,
            Condition::NotAllowed,
            "Proxy IP does not match.",
        ),
        (
            close_msg("not-an-ip", Some(lease)),
            405,
            Condition::NotAllowed,
            "Proxy IP does not match.",
        ),
        (
            close_msg("192.0.2.1", Some(40999)),
            404,
            Condition::ItemNotFound,
            "Port not found in registry.",
        ),
        (
            close_msg("2001:db8::1", Some(other)),
            401,
            Condition::NotAuthorized,
            "Port not registered to your JID.",
        ),
    ];
    for (msg, code, condition, text) in cases {
        let (_, actions) = h.request(secs(1), OWNER, msg.clone());
        let got = only_error(&actions);
        assert_eq!(
            (got.0, got.1, got.3.as_str()),
            (code, condition, text),
            "{msg:?}"
        );
    }
    assert_eq!(h.lease_ports().len(), 2);
}

#[test]
fn any_resource_of_the_account_may_close_and_gets_an_empty_query() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, Some(100), false);
    let (id, actions) = h.request(
        secs(1),
        "user@example.org/laptop",
        close_msg("192.0.2.1", Some(lease)),
    );
    assert_eq!(actions[0], Action::Unlisten { port: lease });
    let sends = sent(&actions);
    assert_eq!(sends.len(), 1, "an ack, no notice");
    assert_eq!(sends[0].id, id);
    assert_eq!(sends[0].kind, IqType::Result);
    assert_eq!(sends[0].to, Some(jid("user@example.org/laptop")));
    assert_eq!(sends[0].payload, Some(Element::new("query", ns::PASS)));
    assert_eq!(h.poll_timeout(), None, "the expiry went with the lease");
    assert_eq!(h.stats().ports_free, 10);
}

#[test]
fn close_during_a_relay_drops_both_sides() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    h.relay(secs(1), lease);
    let (_, actions) = h.request(secs(2), OWNER, close_msg("2001:db8::1", Some(lease)));
    // Dropping the client ends the relay (and so the owner's side).
    assert_eq!(
        actions[..2],
        [
            Action::Drop { conn: ConnId(1) },
            Action::Unlisten { port: lease }
        ]
    );
    assert_eq!(h.stats().relays, 0);
}

// ---- other messages, shutdown, stats --------------------------------------------------

#[test]
fn service_only_messages_sent_to_the_service_are_bad_requests() {
    let mut h = H::new();
    let proxy = SocketAddr::new(v4(), 40001);
    for msg in [
        PassMessage::IncomingConnection {
            client: peer4(),
            proxy,
        },
        PassMessage::ExpireNotice { proxy },
        PassMessage::OneshotNotice { proxy },
    ] {
        let (_, actions) = h.request(secs(0), OWNER, msg);
        let (code, _, _, text) = only_error(&actions);
        assert_eq!(code, 400);
        assert!(text.contains("is sent by the service"), "{text}");
    }
    let (_, actions) = h.request(secs(0), OWNER, PassMessage::ClientIpQuery);
    assert_eq!(only_error(&actions).1, Condition::FeatureNotImplemented);
}

#[test]
fn shutdown_closes_every_lease_and_drops_pending_connections() {
    let mut h = H::new();
    let a = h.register(secs(0), OWNER, None, false);
    let b = h.register(secs(0), "b@example.org/r", None, false);
    let c = h.register(secs(0), "c@example.org/r", None, false);
    h.relay(secs(1), a);
    let (proxy, _) = h.incoming(secs(1), b, 3, peer4());
    let waiting = h.ask_register(secs(1), "d@example.org/r", None, false);
    h.shutdown(secs(2));
    let actions = h.drain();
    // The relay is left to the host; the pending client is dropped.
    assert!(!actions.contains(&Action::Drop { conn: ConnId(1) }));
    assert!(!actions.contains(&Action::Drop { conn: ConnId(2) }));
    assert!(actions.contains(&Action::Drop { conn: ConnId(3) }));
    for port in [a, b, c, proxy] {
        assert!(actions.contains(&Action::Unlisten { port }), "{port}");
    }
    let sends = sent(&actions);
    let closes: Vec<_> = sends
        .iter()
        .filter(|iq| iq.kind == IqType::Set)
        .map(|iq| message(iq))
        .collect();
    assert_eq!(closes.len(), 3);
    assert!(closes.contains(&close_msg("192.0.2.1", Some(a))));
    let refused: Vec<_> = sends.iter().filter(|iq| iq.kind == IqType::Error).collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].to, Some(jid("d@example.org/r")));
    // The pending registration's port is unlistened once it listens.
    h.listen_result(secs(2), waiting, Ok(()));
    assert_eq!(h.drain(), [Action::Unlisten { port: waiting }]);
    // Nothing is held any more; new registrations get 502.
    let s = h.stats();
    assert_eq!((s.leases, s.pending, s.relays, s.ports_free), (0, 0, 0, 10));
    let (_, actions) = h.request(
        secs(3),
        OWNER,
        PassMessage::Register {
            expire: None,
            oneshot: false,
        },
    );
    assert_eq!(only_error(&actions).0, 502);
    h.close(secs(3), 1);
    assert!(h.drain().is_empty());
}

#[test]
fn stats_count_registrations_notices_and_errors_by_code() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, Some(50), false);
    h.request(
        secs(0),
        OWNER,
        PassMessage::Register {
            expire: Some(0),
            oneshot: false,
        },
    );
    h.request(secs(0), OWNER, PassMessage::Close { proxy: None });
    h.request(secs(0), OWNER, close_msg("192.0.2.1", Some(40999)));
    h.incoming(secs(1), lease, 1, peer4());
    h.timeout(secs(50));
    let s = h.stats();
    assert_eq!(s.registrations, 1);
    assert_eq!(s.notices_sent, 2, "incoming + expire");
    assert_eq!(s.errors_sent, [(400, 2), (404, 1)]);
}

#[test]
fn generated_ids_are_unique() {
    let mut h = H::new();
    let mut ids = BTreeSet::new();
    let lease = h.register(secs(0), OWNER, None, false);
    for conn in 1..=20 {
        let (_, notice) = h.incoming(secs(conn), lease, conn, peer4());
        assert!(ids.insert(notice.id.clone()));
        h.answer(secs(conn), &notice, OWNER, false);
    }
}

#[test]
fn listen_results_for_ports_never_asked_are_ignored() {
    let mut h = H::new();
    let lease = h.register(secs(0), OWNER, None, false);
    h.listen_result(secs(0), lease, Ok(()));
    h.listen_result(secs(0), lease, Err(ListenError::Other));
    h.listen_result(secs(0), 1, Ok(()));
    assert!(h.drain().is_empty());
    assert_eq!(h.lease_ports(), [lease]);
    assert_eq!(h.stats().ports_quarantined, 0);
}

#[test]
fn invalid_config_does_not_panic() {
    let mut c = config();
    c.advertised.clear();
    c.first_port = 10;
    c.last_port = 5;
    // A service refuses this config: the machine is driven alone.
    let mut m = LeaseMachine::new(c);
    let from = jid(OWNER);
    let msg = PassMessage::Register {
        expire: None,
        oneshot: false,
    };
    let iq = msg.to_iq("r1", Some(from.clone()), Some(jid("pass.example.org")));
    m.handle_pass(secs(0), &from, &iq, msg);
    let actions: Vec<Action> = core::iter::from_fn(|| m.poll_action()).collect();
    assert_eq!(only_error(&actions).0, 502);
}
