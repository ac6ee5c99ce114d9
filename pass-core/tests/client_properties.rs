//! Properties of the client machine over random runs: every request it receives is
//! answered exactly once, nothing names a connection after its session ended, a
//! denied caller is never bridged, and only callers the policy admits are accepted.
//!
//! A run is a list of byte triples, each decoded into one step (a stanza from the
//! service, a stranger or Bob, a connection report, a command, time passing), so
//! that quickcheck shrinks runs to the shortest that breaks a property.

use pass_core::client::{ClientAction, ClientEvent, ConnectError, IpNet, Policy};
use pass_core::lease::ConnId;
use pass_core::stanza::{IqType, PassError, PassMessage, StanzaError};
use pass_core::{ns, Client, ClientConfig, Duration, Element, Instant, Iq, Jid};
use quickcheck::{QuickCheck, TestResult};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

const ME: &str = "alice@example/laptop";
const SERVICE: &str = "pass.example";
const BOB: &str = "bob@example/phone";
const LEASE: &str = "192.0.2.1:40000";

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

/// Caller IPs: in the allowed network, Bob's usual IP, elsewhere.
const IPS: [&str; 4] = [
    "198.51.100.7",
    "203.0.113.50",
    "203.0.113.66",
    "::ffff:198.51.100.9",
];

/// The run so far, as the properties need it.
#[derive(Default)]
struct Run {
    now: u64,
    next_id: u64,
    calls: u16,
    /// Requests sent to the client: id → answers seen.
    received: BTreeMap<String, u32>,
    /// Requests the client sent, still unanswered here: (id, to).
    asked: Vec<(String, Jid)>,
    /// Connections the client asked for, in order.
    conns: Vec<ConnId>,
    /// Connection → the caller it is for.
    caller_of: BTreeMap<ConnId, SocketAddr>,
    accepted: BTreeSet<SocketAddr>,
    denied: BTreeSet<SocketAddr>,
    ended: BTreeSet<ConnId>,
    /// IPs Bob has answered.
    bob_said: BTreeSet<IpAddr>,
    failures: Vec<String>,
}

impl Run {
    fn fail(&mut self, why: String) {
        self.failures.push(why);
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("r{}", self.next_id)
    }

    /// A request to the client, recorded so its answers are counted.
    fn request(&mut self, client: &mut Client, from: &str, kind: IqType, payload: Element) {
        let id = self.id();
        let e = Element::new("iq", ns::CLIENT)
            .with_attr("type", kind.as_str())
            .with_attr("id", &id)
            .with_attr("from", from)
            .with_attr("to", ME)
            .with_child(payload);
        self.received.insert(id, 0);
        client.handle_stanza(Instant::from_millis(self.now), &e);
    }

    /// A reply to the oldest request the client sent to `to`, if any.
    fn reply(&mut self, client: &mut Client, to: &str, reply: impl FnOnce(&Iq) -> Iq) {
        let Some(i) = self.asked.iter().position(|(_, j)| j.to_string() == to) else {
            return;
        };
        let (id, to) = self.asked.remove(i);
        let request = PassMessage::ClientIpQuery.to_iq(&id, Some(jid(ME)), Some(to));
        let answer = reply(&request);
        client.handle_stanza(Instant::from_millis(self.now), &Element::from(&answer));
    }

    /// Drains the client and checks what it did.
    fn drain(&mut self, client: &mut Client) {
        let actions: Vec<ClientAction> = std::iter::from_fn(|| client.poll_action()).collect();
        let mut connects = Vec::new();
        for action in &actions {
            let named = match action {
                ClientAction::Send(iq) => {
                    match iq.kind {
                        IqType::Result | IqType::Error => match self.received.get_mut(&iq.id) {
                            Some(n) => *n += 1,
                            None => self.fail(format!("answer to a request never made: {iq:?}")),
                        },
                        IqType::Get | IqType::Set => {
                            if let Some(to) = iq.to.clone() {
                                self.asked.push((iq.id.clone(), to));
                            }
                        }
                    }
                    vec![]
                }
                ClientAction::Connect { conn, .. } => {
                    connects.push(*conn);
                    self.conns.push(*conn);
                    vec![*conn]
                }
                ClientAction::Bridge { proxy, local } => {
                    for c in [proxy, local] {
                        match self.caller_of.get(c) {
                            Some(who) if self.denied.contains(who) => {
                                self.fail(format!("bridged denied caller {who}"))
                            }
                            None => self.fail(format!("bridged unknown {c}")),
                            _ => {}
                        }
                    }
                    vec![*proxy, *local]
                }
                ClientAction::Drop { conn } => vec![*conn],
            };
            for c in named {
                if self.ended.contains(&c) {
                    self.fail(format!("{action:?} names {c} after its session ended"));
                }
            }
        }
        let events: Vec<ClientEvent> = std::iter::from_fn(|| client.poll_event()).collect();
        let mut pairs = connects.chunks(2);
        for event in events {
            match event {
                ClientEvent::Accepted { client: who, .. } => {
                    let ip = who.ip().to_canonical();
                    let allowed: IpNet = "198.51.100.0/24".parse().unwrap();
                    if !allowed.contains(&ip) && !self.bob_said.contains(&ip) {
                        self.fail(format!("accepted {who}, whom the policy does not admit"));
                    }
                    if !self.accepted.insert(who) || self.denied.contains(&who) {
                        self.fail(format!("{who} decided twice"));
                    }
                    match pairs.next() {
                        Some(pair) => {
                            for c in pair {
                                self.caller_of.insert(*c, who);
                            }
                        }
                        None => self.fail(format!("accepted {who} without connecting")),
                    }
                }
                ClientEvent::Denied { client: who, .. } => {
                    let first = self.denied.insert(who);
                    if !first || self.accepted.contains(&who) {
                        self.fail(format!("{who} decided twice"));
                    }
                }
                ClientEvent::SessionEnded { client: who } => {
                    let conns: Vec<ConnId> = self
                        .caller_of
                        .iter()
                        .filter(|(_, w)| **w == who)
                        .map(|(c, _)| *c)
                        .collect();
                    if conns.iter().any(|c| self.ended.contains(c)) {
                        self.fail(format!("{who}'s session ended twice"));
                    }
                    self.ended.extend(conns);
                }
                ClientEvent::PeerIp { ip, .. } => {
                    self.bob_said.insert(ip.to_canonical());
                }
                _ => {}
            }
        }
    }
}

fn step(run: &mut Run, client: &mut Client, (op, a, b): (u8, u8, u16)) {
    let now = Instant::from_millis(run.now);
    let sa = |ip: &str, port: u16| SocketAddr::new(ip.parse().unwrap(), port);
    match op % 14 {
        0 => {
            let _ = client.register(now, (a % 2 == 0).then_some(u64::from(b)), a % 3 == 0);
        }
        1 => {
            // The service grants (or refuses) the oldest registration or close.
            let Some(i) = run.asked.iter().position(|(_, j)| j.to_string() == SERVICE) else {
                return;
            };
            let (id, _) = run.asked.remove(i);
            let msg = match a % 3 {
                0 => PassMessage::Registered {
                    servers: vec![LEASE.parse().unwrap()],
                },
                1 => PassMessage::Ack,
                _ => PassMessage::Deny {
                    client: None,
                    proxy: None,
                    error: StanzaError::from(PassError::ALL[usize::from(b) % 6]),
                },
            };
            let reply = msg.to_iq(&id, Some(jid(SERVICE)), Some(jid(ME)));
            client.handle_stanza(now, &Element::from(&reply));
        }
        2 | 3 => {
            // A caller, from the service or (rarely) from a stranger.
            run.calls += 1;
            let msg = PassMessage::IncomingConnection {
                client: sa(IPS[usize::from(a) % 4], run.calls),
                proxy: sa("192.0.2.1", 40001),
            };
            let from = if op % 14 == 3 && b % 4 == 0 {
                BOB
            } else {
                SERVICE
            };
            run.request(client, from, IqType::Set, msg.to_query());
        }
        4 => {
            let proxy = if a % 2 == 0 { LEASE } else { "192.0.2.1:9" };
            let msg = if b % 2 == 0 {
                PassMessage::ExpireNotice {
                    proxy: proxy.parse().unwrap(),
                }
            } else {
                PassMessage::OneshotNotice {
                    proxy: proxy.parse().unwrap(),
                }
            };
            run.request(client, SERVICE, IqType::Set, msg.to_query());
        }
        5 => {
            // Malformed or unserved requests.
            let c = |n: &str| Element::new(n, ns::PASS);
            let payload = match a % 5 {
                0 => Element::new("query", ns::PASS)
                    .with_child(c("expire"))
                    .with_child(c("close")),
                1 => Element::new("query", ns::PASS).with_child(c("bogus")),
                2 => Element::new("query", "jabber:iq:version"),
                3 => PassMessage::Close { proxy: None }.to_query(),
                _ => Element::new("ping", ns::PING),
            };
            let kind = if b % 2 == 0 { IqType::Get } else { IqType::Set };
            run.request(client, SERVICE, kind, payload);
        }
        6 => run.request(
            client,
            BOB,
            IqType::Get,
            PassMessage::ClientIpQuery.to_query(),
        ),
        7 => {
            let ip: IpAddr = IPS[usize::from(a) % 4].parse().unwrap();
            let error = b % 5 == 0;
            run.reply(client, BOB, |q| {
                if error {
                    Iq::error_for(q, PassError::Unauthorized.into())
                } else {
                    PassMessage::ClientIpAnswer { client: ip }.to_iq(
                        &q.id,
                        q.to.clone(),
                        q.from.clone(),
                    )
                }
            });
        }
        8 | 9 => {
            if let Some(conn) = pick(&run.conns, b) {
                let result = if a % 6 == 0 {
                    Err(ConnectError::Refused)
                } else {
                    Ok(())
                };
                client.handle_connected(now, conn, result);
            }
        }
        10 => {
            if let Some(conn) = pick(&run.conns, b) {
                client.handle_closed(now, conn);
            }
        }
        11 => {
            let _ = client.close(now);
        }
        12 => client.ask_ip(now, jid(BOB)),
        _ => {
            run.now += u64::from(b) * 50;
            client.handle_timeout(Instant::from_millis(run.now));
        }
    }
}

fn pick(conns: &[ConnId], b: u16) -> Option<ConnId> {
    (!conns.is_empty()).then(|| conns[usize::from(b) % conns.len()])
}

/// Plays a run and checks the end-of-run properties; the run's record.
fn play(steps: Vec<(u8, u8, u16)>) -> Run {
    let policy = Policy::open()
        .allow("198.51.100.0/24".parse().unwrap())
        .allow_jid(jid(BOB));
    let config = ClientConfig::new(jid(ME), jid(SERVICE))
        .with_policy(policy)
        .with_answer_ip("192.0.2.99".parse().unwrap());
    let mut client = Client::new(config);
    let mut state = Run::default();
    for s in steps {
        step(&mut state, &mut client, s);
        state.drain(&mut client);
    }
    // Long after: every wait is over.
    state.now += Duration::from_secs(3600).as_millis() as u64;
    client.handle_timeout(Instant::from_millis(state.now));
    state.drain(&mut client);
    for (id, n) in &state.received {
        if *n != 1 {
            state
                .failures
                .push(format!("request {id} answered {n} times"));
        }
    }
    if client.poll_timeout().is_some() {
        state
            .failures
            .push("a deadline is left after an hour".into());
    }
    state
}

fn run(steps: Vec<(u8, u8, u16)>) -> TestResult {
    let state = play(steps);
    match state.failures.first() {
        None => TestResult::passed(),
        Some(why) => TestResult::error(why.clone()),
    }
}

#[test]
fn client_properties_hold_on_random_runs() {
    QuickCheck::new()
        .tests(2000)
        .max_tests(4000)
        .quickcheck(run as fn(Vec<(u8, u8, u16)>) -> TestResult);
}

#[test]
fn a_busy_run_exercises_every_property() {
    // A hand-made run through registration, a held call Bob vouches for, a bridge,
    // an end, a denied call, a notice and a close: the checks must see all of it.
    let steps = vec![
        (0, 1, 0),  // register (and ask Bob)
        (1, 0, 0),  // granted
        (7, 1, 1),  // Bob: 203.0.113.50
        (2, 1, 0),  // caller at Bob's IP: accepted at once
        (8, 1, 0),  // connect ok
        (8, 1, 1),  // connect ok: bridged
        (10, 0, 0), // relay ended
        (2, 2, 0),  // caller elsewhere: held, Bob asked
        (7, 1, 1),  // Bob says his own IP: denied
        (2, 0, 0),  // allowed network: accepted
        (5, 0, 1),  // malformed
        (6, 0, 0),  // Bob asks our IP
        (4, 0, 0),  // expire notice
        (13, 0, 1000),
    ];
    let state = play(steps);
    assert_eq!(state.failures, Vec::<String>::new());
    assert_eq!(
        state.accepted.len(),
        2,
        "Bob's caller and the allowed network's"
    );
    assert_eq!(state.denied.len(), 1);
    assert_eq!(
        state.ended.len(),
        2,
        "the bridged session's two connections"
    );
    assert!(state
        .bob_said
        .contains(&"203.0.113.50".parse::<IpAddr>().unwrap()));
    assert_eq!(state.received.len(), 6);
}
