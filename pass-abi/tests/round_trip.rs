//! For arbitrary records, `decode(encode(r)) == r`: events (the configuration
//! included) and outputs (every action, refusals, deadlines).

use pass_abi::{ConfigRecord, Event, Output};
use pass_core::jid::Jid;
use pass_core::lease::{Action, Config, ConnId, ListenError};
use pass_core::stanza::{Condition, Iq, IqType, StanzaError};
use pass_core::time::{Duration, Instant};
use pass_core::xml::{Attribute, Element, Limits, Node};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Pieces of text that are awkward on one line or in XML, `|`-separated.
const PIECES: &str = "&|<|>|'|\"|]]>|\r\n|\r|\n|\t| |é|\u{1F600}|=|text|next none|\u{2028}";
const NAMES: &[&str] = &["a", "query", "x-y", "n.1", "été", "_", "ß9"];
const NAMESPACES: &[&str] = &["", "jabber:iq:pass", "urn:a", "urn:'q\"&<>\n"];
const NODES: &[&str] = &["user", "a.b", "ünï", "x_y-9"];
const DOMAINS: &[&str] = &["example.org", "localhost", "p.x", "xn--bcher-kva.example"];

fn pick<'a>(g: &mut Gen, from: &[&'a str]) -> &'a str {
    g.choose(from).copied().unwrap_or_default()
}

fn awkward(g: &mut Gen) -> String {
    let pieces: Vec<&str> = PIECES.split('|').collect();
    (0..usize::arbitrary(g) % 5)
        .map(|_| pick(g, &pieces))
        .collect()
}

fn bare_jid(g: &mut Gen) -> Jid {
    let domain = pick(g, DOMAINS);
    let text = match bool::arbitrary(g) {
        true => format!("{}@{domain}", pick(g, NODES)),
        false => domain.to_string(),
    };
    Jid::new(&text).expect("generated JIDs are valid")
}

/// A full JID for an IQ's `from`/`to`: its resource may hold spaces and XML's
/// special characters (not control characters, which JIDs forbid).
fn any_jid(g: &mut Gen) -> Jid {
    let bare = bare_jid(g);
    let resource: String = awkward(g).chars().filter(|c| !c.is_control()).collect();
    if resource.is_empty() {
        return bare;
    }
    Jid::new(&format!("{bare}/{resource}")).expect("generated JIDs are valid")
}

/// An element the reader gives back as written: non-empty text, unique attributes, no element named `error` (an IQ would take it for its error).
fn element(g: &mut Gen, depth: usize) -> Element {
    let mut e = Element::new(pick(g, NAMES), pick(g, NAMESPACES));
    for _ in 0..usize::arbitrary(g) % 3 {
        let name = pick(g, NAMES);
        if e.attr(name).is_none() {
            e.attributes.push(Attribute {
                name: name.into(),
                namespace: String::new(),
                value: awkward(g),
            });
        }
    }
    // Text only between elements, never two texts in a row: the reader merges them.
    let children = if depth > 0 {
        usize::arbitrary(g) % 3
    } else {
        0
    };
    for i in 0..=children {
        let text = awkward(g);
        if !text.is_empty() {
            e.children.push(Node::Text(text));
        }
        if i < children {
            e.children.push(Node::Element(element(g, depth - 1)));
        }
    }
    e
}

fn iq(g: &mut Gen) -> Iq {
    let kind = *g
        .choose(&[IqType::Get, IqType::Set, IqType::Result, IqType::Error])
        .unwrap_or(&IqType::Get);
    let payload = match kind {
        IqType::Get | IqType::Set => Some(element(g, 2)),
        _ => bool::arbitrary(g).then(|| element(g, 2)),
    };
    let error = (kind == IqType::Error).then(|| {
        let condition = *g.choose(&Condition::ALL).unwrap_or(&Condition::BadRequest);
        let error = StanzaError::new(condition);
        let text = awkward(g);
        match text.is_empty() {
            true => error,
            false => error.with_text(&text),
        }
    });
    Iq {
        id: format!("id{}", awkward(g)),
        kind,
        from: bool::arbitrary(g).then(|| any_jid(g)),
        to: bool::arbitrary(g).then(|| any_jid(g)),
        payload,
        error,
    }
}

fn peer(g: &mut Gen) -> SocketAddr {
    match bool::arbitrary(g) {
        true => SocketAddr::new(
            IpAddr::V4(Ipv4Addr::from(u32::arbitrary(g))),
            u16::arbitrary(g),
        ),
        // The ABI has no flow label; a scope id is written as `%N`.
        false => SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(u128::arbitrary(g)),
            u16::arbitrary(g),
            0,
            u32::arbitrary(g) % 3,
        )),
    }
}

/// Settings that validate: the decoder checks them.
fn config(g: &mut Gen) -> Config {
    let v4 = IpAddr::V4(Ipv4Addr::from(u32::arbitrary(g)));
    let v6 = IpAddr::V6(Ipv6Addr::from(u128::arbitrary(g)));
    let advertised = match u8::arbitrary(g) % 4 {
        0 => vec![v4],
        1 => vec![v6],
        2 => vec![v4, v6],
        _ => vec![v6, v4],
    };
    let at_least = |g: &mut Gen, min: u64| u64::arbitrary(g).max(min);
    let first = u16::arbitrary(g).max(1);
    let mut c = Config::new(bare_jid(g), advertised);
    c.first_port = first;
    c.last_port = u16::arbitrary(g).max(first);
    c.max_leases = usize::arbitrary(g).max(1);
    c.max_leases_per_account = usize::arbitrary(g).max(1);
    c.max_relays = usize::arbitrary(g).max(1);
    c.max_expire = Duration::from_millis(at_least(g, 1000));
    c.answer_timeout = Duration::from_millis(at_least(g, 1));
    c.proxy_window = Duration::from_millis(at_least(g, 1));
    c.seed = u64::arbitrary(g);
    c.quarantine = Duration::from_millis(u64::arbitrary(g));
    c.iq_burst = u32::arbitrary(g).max(1);
    c.iq_per_second = u32::arbitrary(g).max(1);
    c.call_burst = u32::arbitrary(g).max(1);
    c.call_per_second = u32::arbitrary(g).max(1);
    c.max_idle_lease = Duration::from_millis(u64::arbitrary(g));
    c.reconnect_grace = Duration::from_millis(u64::arbitrary(g));
    c.stanza_limits = Limits {
        max_stanza_bytes: usize::arbitrary(g),
        max_depth: usize::arbitrary(g),
        max_attributes: usize::arbitrary(g),
        max_attribute_bytes: usize::arbitrary(g),
        max_text_bytes: usize::arbitrary(g),
    };
    c
}

fn listen_result(g: &mut Gen) -> Result<(), ListenError> {
    *g.choose(&[
        Ok(()),
        Err(ListenError::AddrInUse),
        Err(ListenError::Other),
        Err(ListenError::NoResources),
    ])
    .unwrap_or(&Ok(()))
}

#[derive(Clone, Debug)]
struct AnyEvent(Event);

impl Arbitrary for AnyEvent {
    fn arbitrary(g: &mut Gen) -> Self {
        let now = Instant::from_millis(u64::arbitrary(g));
        let conn = ConnId(u64::arbitrary(g));
        AnyEvent(match u8::arbitrary(g) % 7 {
            0 => Event::Config(ConfigRecord {
                config: config(g),
                fault: bool::arbitrary(g).then(|| {
                    let names = ["no-expire-notice", "deny-ignored", "", "x=y"];
                    pick(g, &names).to_string()
                }),
            }),
            1 => Event::Stanza {
                now,
                stanza: element(g, 3),
            },
            2 => Event::ListenResult {
                now,
                port: u16::arbitrary(g),
                result: listen_result(g),
            },
            3 => Event::Connection {
                now,
                conn,
                local_port: u16::arbitrary(g),
                peer: peer(g),
            },
            4 => Event::Closed { now, conn },
            5 => Event::Timeout { now },
            _ => Event::Shutdown { now },
        })
    }
}

fn action(g: &mut Gen) -> Action {
    match u8::arbitrary(g) % 5 {
        0 => Action::Send(iq(g)),
        1 => Action::Listen {
            port: u16::arbitrary(g),
        },
        2 => Action::Unlisten {
            port: u16::arbitrary(g),
        },
        3 => Action::Bridge {
            client: ConnId(u64::arbitrary(g)),
            owner: ConnId(u64::arbitrary(g)),
            account: bare_jid(g),
        },
        _ => Action::Drop {
            conn: ConnId(u64::arbitrary(g)),
        },
    }
}

#[derive(Clone, Debug)]
struct AnyOutput(Output);

impl Arbitrary for AnyOutput {
    fn arbitrary(g: &mut Gen) -> Self {
        AnyOutput(Output {
            // Control characters are written as spaces: see `refusal_is_one_line`.
            refused: bool::arbitrary(g).then(|| {
                let s: String = awkward(g).chars().filter(|c| !c.is_control()).collect();
                s
            }),
            actions: (0..usize::arbitrary(g) % 6).map(|_| action(g)).collect(),
            next: bool::arbitrary(g).then(|| Instant::from_millis(u64::arbitrary(g))),
        })
    }
}

fn tests() -> QuickCheck {
    QuickCheck::new().tests(2000)
}

#[test]
fn events_round_trip() {
    fn prop(e: AnyEvent) -> bool {
        let record = e.0.to_string();
        // One line: the host writes no terminator, and the guest takes one.
        !record.contains(['\n', '\r'])
            && Event::decode(record.as_bytes()).as_ref() == Ok(&e.0)
            && Event::decode(format!("{record}\r\n").as_bytes()).as_ref() == Ok(&e.0)
    }
    tests().quickcheck(prop as fn(AnyEvent) -> bool);
}

#[test]
fn outputs_round_trip() {
    fn prop(o: AnyOutput) -> bool {
        let text = o.0.to_string();
        let lines = o.0.actions.len() + usize::from(o.0.refused.is_some()) + 1;
        text.matches('\n').count() == lines
            && !text.contains('\r')
            && Output::decode(&text).as_ref() == Ok(&o.0)
    }
    tests().quickcheck(prop as fn(AnyOutput) -> bool);
}

#[test]
fn refusal_is_one_line() {
    let o = Output {
        refused: Some("a\r\nb\tc\u{7f}".into()),
        ..Output::default()
    };
    assert_eq!(o.to_string(), "error a  b c \nnext none\n");
    assert_eq!(
        Output::decode(&o.to_string()).unwrap().refused.as_deref(),
        Some("a  b c ")
    );
}
