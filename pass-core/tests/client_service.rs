//! End to end: the client machine against the real `Service`, hosted by the one
//! simulated host (`pass_core::sim`).
//!
//! The sim hosts an `Engine`, something that listens and accepts; a client instead
//! opens connections. So the service runs in the `Sim` as everywhere else, and a small
//! router here plays the client's host: it carries the IQs both ways (the XMPP
//! server's part), opens the client's proxy connections with `Sim::connect` (which
//! the service sees as the owner connecting), plays the local service (it answers
//! every chunk in upper case, so bytes that reach the caller prove they went through
//! it) and relays between the two.

use pass_core::client::{ClientAction, ClientEvent, DenyReason, Endpoint, Policy};
use pass_core::lease::ConnId;
use pass_core::sim::{Checks, ReadEvent, Sim, SimConfig};
use pass_core::{Client, ClientConfig, Config, Duration, Element, Iq, Jid, Service};
use std::collections::BTreeMap;
use std::net::SocketAddr;

const ALICE_AT: &str = "198.51.100.20:40001";

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The service in the sim, Alice's client, optionally Bob's (who answers §5.1
/// queries), and Alice's host: the router.
struct World {
    sim: Sim<Service>,
    alice: Client,
    bob: Option<Client>,
    /// Alice's proxy connections: her ConnId → the sim's.
    proxied: BTreeMap<ConnId, ConnId>,
    /// Alice's connections to her local service.
    local: Vec<ConnId>,
    /// Bridged pairs (proxy, local).
    bridges: Vec<(ConnId, ConnId)>,
    /// What the local service received, in order.
    local_got: Vec<u8>,
    events: Vec<ClientEvent>,
}

impl World {
    fn new(policy: Policy, bob_ip: Option<&str>) -> World {
        let config = Config::new(jid("pass.example"), vec!["192.0.2.1".parse().unwrap()]);
        let checks = Checks::for_config(&config);
        let sim = Sim::new(
            Service::new(config).unwrap(),
            SimConfig {
                checks: Some(checks),
                ..SimConfig::default()
            },
        );
        let alice =
            ClientConfig::new(jid("alice@example/laptop"), jid("pass.example")).with_policy(policy);
        let bob = bob_ip.map(|ip| {
            let config = ClientConfig::new(jid("bob@example/phone"), jid("pass.example"))
                .with_answer_ip(ip.parse().unwrap());
            Client::new(config)
        });
        World {
            sim,
            alice: Client::new(alice),
            bob,
            proxied: BTreeMap::new(),
            local: Vec::new(),
            bridges: Vec::new(),
            local_got: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Carries everything out until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            let now = self.sim.now();
            while let Some(action) = self.alice.poll_action() {
                moved = true;
                self.carry_out(action);
            }
            while let Some(iq) = self.bob.as_mut().and_then(|b| b.poll_action()) {
                moved = true;
                let ClientAction::Send(iq) = iq else {
                    panic!("Bob only answers")
                };
                self.alice.handle_stanza(now, &Element::from(&iq));
            }
            while let Some(iq) = self.sim.next_sent() {
                moved = true;
                assert_eq!(iq.to, Some(jid("alice@example/laptop")));
                self.alice.handle_stanza(now, &Element::from(&iq));
            }
            moved |= self.relay();
            self.events
                .extend(std::iter::from_fn(|| self.alice.poll_event()));
            if !moved {
                break;
            }
        }
        self.sim.check().unwrap();
    }

    fn carry_out(&mut self, action: ClientAction) {
        let now = self.sim.now();
        match action {
            ClientAction::Send(iq) => self.route(&iq),
            ClientAction::Connect {
                conn,
                to: Endpoint::Proxy(proxy),
            } => {
                assert_eq!(proxy.ip(), "192.0.2.1".parse::<std::net::IpAddr>().unwrap());
                match self.sim.connect(proxy.port(), sa(ALICE_AT)) {
                    Ok(theirs) => {
                        self.proxied.insert(conn, theirs);
                        self.alice.handle_connected(now, conn, Ok(()));
                    }
                    Err(_) => self.alice.handle_connected(
                        now,
                        conn,
                        Err(pass_core::client::ConnectError::Refused),
                    ),
                }
            }
            ClientAction::Connect {
                conn,
                to: Endpoint::Local,
            } => {
                self.local.push(conn);
                self.alice.handle_connected(now, conn, Ok(()));
            }
            ClientAction::Bridge { proxy, local } => {
                assert!(self.proxied.contains_key(&proxy) && self.local.contains(&local));
                self.bridges.push((proxy, local));
            }
            ClientAction::Drop { conn } => {
                if let Some(theirs) = self.proxied.remove(&conn) {
                    self.sim.close(theirs);
                }
                self.local.retain(|c| *c != conn);
            }
        }
    }

    fn route(&mut self, iq: &Iq) {
        let now = self.sim.now();
        let element = Element::from(iq);
        match iq.to.as_ref().map(|j| j.to_string()).as_deref() {
            Some("pass.example") => self.sim.stanza(&element),
            Some("bob@example/phone") => {
                if let Some(bob) = self.bob.as_mut() {
                    bob.handle_stanza(now, &element);
                }
            }
            other => panic!("Alice sent to {other:?}"),
        }
    }

    /// The bridges: bytes from the proxy go to the local service, which answers in
    /// upper case; an EOF from the proxy ends the relay (the local side is closed).
    fn relay(&mut self) -> bool {
        let mut moved = false;
        let now = self.sim.now();
        for (proxy, local) in self.bridges.clone() {
            let theirs = self.proxied[&proxy];
            match self.sim.read(theirs) {
                ReadEvent::Data(bytes) => {
                    moved = true;
                    self.local_got.extend_from_slice(&bytes);
                    self.sim.write(theirs, &bytes.to_ascii_uppercase());
                }
                ReadEvent::Eof => {
                    moved = true;
                    self.sim.close(theirs);
                    self.bridges.retain(|b| b.0 != proxy);
                    self.proxied.remove(&proxy);
                    self.local.retain(|c| *c != local);
                    self.alice.handle_closed(now, proxy);
                }
                ReadEvent::Nothing => {}
            }
        }
        moved
    }

    /// Time passes for everybody.
    fn advance(&mut self, by: Duration) {
        self.sim.advance(by);
        let now = self.sim.now();
        self.alice.handle_timeout(now);
        self.pump();
    }

    fn take_events(&mut self) -> Vec<ClientEvent> {
        std::mem::take(&mut self.events)
    }

    /// Alice registers; the leased public address.
    fn register(&mut self, expire: Option<u64>, oneshot: bool) -> SocketAddr {
        let now = self.sim.now();
        self.alice.register(now, expire, oneshot).unwrap();
        self.pump();
        let events = self.take_events();
        let mut granted = events.iter().filter_map(|e| match e {
            ClientEvent::Registered { servers } => Some(servers),
            _ => None,
        });
        let (Some(servers), None) = (granted.next(), granted.next()) else {
            panic!("not registered once: {events:?}")
        };
        assert_eq!(servers.len(), 1);
        assert_eq!(self.alice.lease(), Some(&servers[..]));
        servers[0]
    }

    /// A caller at `from` connects to `public`, writes `bytes` and reads what comes.
    fn call(&mut self, public: SocketAddr, from: &str, bytes: &[u8]) -> (ConnId, Vec<u8>) {
        let caller = self.sim.connect(public.port(), sa(from)).unwrap();
        self.pump();
        self.sim.write(caller, bytes);
        self.pump();
        let got = match self.sim.read(caller) {
            ReadEvent::Data(d) => d,
            ReadEvent::Eof | ReadEvent::Nothing => Vec::new(),
        };
        (caller, got)
    }
}

#[test]
fn register_accept_bridge_and_close() {
    let mut world = World::new(Policy::open(), None);
    let public = world.register(Some(3600), false);
    assert_eq!(
        public.ip(),
        "192.0.2.1".parse::<std::net::IpAddr>().unwrap()
    );

    let caller_at = sa("203.0.113.9:50000");
    let (caller, got) = world.call(public, "203.0.113.9:50000", b"hello, service");
    assert_eq!(got, b"HELLO, SERVICE");
    assert_eq!(world.local_got, b"hello, service");
    let events = world.take_events();
    assert!(
        matches!(
            events[..],
            [ClientEvent::Accepted { client, .. }, ClientEvent::Bridged { .. }] if client == caller_at
        ),
        "{events:?}"
    );

    // More bytes on the same session, then the caller hangs up.
    world.sim.write(caller, b" again");
    world.pump();
    assert_eq!(world.sim.read(caller), ReadEvent::Data(b" AGAIN".to_vec()));
    world.sim.close(caller);
    world.pump();
    assert_eq!(
        world.take_events(),
        [ClientEvent::SessionEnded { client: caller_at }]
    );
    assert_eq!(world.alice.sessions(), 0);

    // The lease takes the next caller.
    let (_, got) = world.call(public, "203.0.113.10:50001", b"second");
    assert_eq!(got, b"SECOND");

    // Close with the second caller still bridged: acknowledged, the service cuts
    // the relay (the session ends), and the port refuses afterwards.
    let now = world.sim.now();
    world.alice.close(now).unwrap();
    world.pump();
    let events = world.take_events();
    assert!(events.contains(&ClientEvent::Closed), "{events:?}");
    assert!(
        events.contains(&ClientEvent::SessionEnded {
            client: sa("203.0.113.10:50001")
        }),
        "{events:?}"
    );
    assert_eq!(world.alice.lease(), None);
    assert!(world
        .sim
        .connect(public.port(), sa("203.0.113.11:1"))
        .is_err());
}

#[test]
fn a_caller_outside_the_allow_list_is_denied_and_gets_no_byte() {
    let policy = Policy::open().allow("198.51.100.0/24".parse().unwrap());
    let mut world = World::new(policy, None);
    let public = world.register(None, false);
    let (caller, got) = world.call(public, "203.0.113.9:50000", b"let me in");
    assert!(got.is_empty());
    assert_eq!(world.sim.read(caller), ReadEvent::Eof);
    assert!(world.local_got.is_empty());
    let events = world.take_events();
    assert!(
        matches!(
            events[..],
            [ClientEvent::Denied { client, proxy, reason: DenyReason::NotAllowed }]
                if client == sa("203.0.113.9:50000") && proxy.ip() == public.ip()
        ),
        "{events:?}"
    );
    // An allowed caller still gets through the same lease.
    let (_, got) = world.call(public, "198.51.100.99:4000", b"ok");
    assert_eq!(got, b"OK");
}

#[test]
fn expire_is_acknowledged_and_the_port_closes() {
    let mut world = World::new(Policy::open(), None);
    let public = world.register(Some(60), false);
    world.advance(Duration::from_secs(61));
    assert_eq!(
        world.take_events(),
        [ClientEvent::Expired { proxy: public }]
    );
    assert_eq!(world.alice.lease(), None);
    assert!(world
        .sim
        .connect(public.port(), sa("203.0.113.9:1"))
        .is_err());
    assert_eq!(world.sim.engine().stats().leases, 0);
}

#[test]
fn a_oneshot_lease_serves_one_caller_then_is_acknowledged_closed() {
    let mut world = World::new(Policy::open(), None);
    let public = world.register(None, true);
    let (caller, got) = world.call(public, "203.0.113.9:50000", b"once");
    assert_eq!(got, b"ONCE");
    world.sim.close(caller);
    world.pump();
    // The service ends the lease at the session's end; its notice and the
    // relay's EOF reach the client in either order.
    let events = world.take_events();
    let ended = ClientEvent::SessionEnded {
        client: sa("203.0.113.9:50000"),
    };
    assert!(events.contains(&ended), "{events:?}");
    assert!(
        events.contains(&ClientEvent::OneshotClosed { proxy: public }),
        "{events:?}"
    );
    assert_eq!(world.alice.lease(), None);
    assert!(world
        .sim
        .connect(public.port(), sa("203.0.113.9:2"))
        .is_err());
}

#[test]
fn an_allowed_jid_vouches_for_its_ip() {
    let bob = jid("bob@example/phone");
    let mut world = World::new(Policy::open().allow_jid(bob.clone()), Some("203.0.113.50"));
    let public = world.register(None, false);
    // Bob calls from the IP he answered: accepted.
    let (first, got) = world.call(public, "203.0.113.50:6000", b"bob here");
    assert_eq!(got, b"BOB HERE");
    // One session at a time per lease (DESIGN decision 2): Bob hangs up first.
    world.sim.close(first);
    world.pump();
    // Somebody else is asked about, Bob answers his own IP: denied, no byte.
    let (caller, got) = world.call(public, "203.0.113.66:6000", b"not bob");
    assert!(got.is_empty());
    assert_eq!(world.sim.read(caller), ReadEvent::Eof);
    let events = world.take_events();
    assert!(
        events.contains(&ClientEvent::PeerIp {
            peer: bob,
            ip: "203.0.113.50".parse().unwrap()
        }),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            ClientEvent::Denied {
                reason: DenyReason::NoMatchingAnswer,
                ..
            }
        )),
        "{events:?}"
    );
}
