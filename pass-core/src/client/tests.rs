//! The client against every listing it sends or receives (xsd/examples/), and its
//! handling of errors, strangers, malformed requests and time.

use super::*;
use crate::jid::Jid;
use crate::lease::ConnId;
use crate::ns;
use crate::stanza::{Condition, ErrorType, Iq, IqType, PassError, PassMessage, StanzaError};
use crate::time::{Duration, Instant};
use crate::xml::{parse_element, Element, Limits, Node};
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddr;

const USER: &str = "user@jabber.org/resource";
const SERVICE: &str = "pass.jabber.org";

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn listing(file: &str) -> Element {
    let bytes = match file {
        "01" => &include_bytes!("../../../xsd/examples/01-registration-request.xml")[..],
        "02" => include_bytes!("../../../xsd/examples/02-result-from-pass-service.xml"),
        "03" => include_bytes!("../../../xsd/examples/03-request-to-entity.xml"),
        "04" => include_bytes!("../../../xsd/examples/04-iq-result-to-accept-connection.xml"),
        "05" => include_bytes!("../../../xsd/examples/05-notification-of-expiration.xml"),
        "06" => include_bytes!("../../../xsd/examples/06-acknowledgement-of-expiration.xml"),
        "07" => include_bytes!(
            "../../../xsd/examples/07-server-notifies-client-of-oneshot-port-closing.xml"
        ),
        "08" => include_bytes!(
            "../../../xsd/examples/08-client-acknowledges-closing-of-oneshot-port.xml"
        ),
        "09" => include_bytes!("../../../xsd/examples/09-client-request-to-shut-down-port.xml"),
        "10" => {
            include_bytes!("../../../xsd/examples/10-server-acknowledges-port-closing-request.xml")
        }
        "11" => include_bytes!("../../../xsd/examples/11-client-ip-query.xml"),
        "12" => include_bytes!("../../../xsd/examples/12-client-ip-answer.xml"),
        "13" => include_bytes!("../../../xsd/examples/13-incoming-connection-to-deny.xml"),
        "14" => include_bytes!("../../../xsd/examples/14-deny-connection.corrected.xml"),
        _ => panic!("no listing {file}"),
    };
    parse_element(bytes, &Limits::default()).unwrap()
}

/// `e` without whitespace-only text (the listings' indentation).
fn trimmed(e: &Element) -> Element {
    let mut out = e.clone();
    out.children = e
        .children
        .iter()
        .filter_map(|n| match n {
            Node::Text(s) if s.trim().is_empty() => None,
            Node::Element(c) => Some(Node::Element(trimmed(c))),
            other => Some(other.clone()),
        })
        .collect();
    out
}

/// Asserts that `sent` is the listing's stanza: both go through the same writer (so
/// attribute order and the stanza namespace agree) and are compared whole.
#[track_caller]
fn assert_is_listing(sent: &Iq, listing: &Element) {
    let listing = Iq::try_from(&trimmed(listing)).unwrap();
    assert_eq!(
        Element::from(sent).to_xml(),
        Element::from(&listing).to_xml()
    );
}

/// The listing with its id replaced (the client's own requests have its own ids).
fn with_id(listing: &Element, id: &str) -> Element {
    let mut e = listing.clone();
    e.set_attr("id", id);
    e
}

fn config() -> ClientConfig {
    ClientConfig::new(jid(USER), jid(SERVICE))
}

fn sent(client: &mut Client) -> Iq {
    match client.poll_action() {
        Some(ClientAction::Send(iq)) => iq,
        other => panic!("expected a Send, got {other:?}"),
    }
}

fn actions(client: &mut Client) -> Vec<ClientAction> {
    core::iter::from_fn(|| client.poll_action()).collect()
}

fn events(client: &mut Client) -> Vec<ClientEvent> {
    core::iter::from_fn(|| client.poll_event()).collect()
}

/// A client holding the lease of listing 2 (1.2.3.4:43253).
fn registered(config: ClientConfig) -> Client {
    let mut client = Client::new(config);
    client.register(t(0), Some(600), false).unwrap();
    let register = sent(&mut client);
    client.handle_stanza(t(1), &with_id(&listing("02"), &register.id));
    let _ = actions(&mut client);
    assert_eq!(
        events(&mut client),
        [ClientEvent::Registered {
            servers: vec![sa("1.2.3.4:43253")]
        }]
    );
    client
}

#[test]
fn listing_1_registers_and_listing_2_grants_the_lease() {
    let mut client = Client::new(config());
    client.register(t(0), Some(600), false).unwrap();
    let register = sent(&mut client);
    // Listing 1 has no `from`; the client names itself, which a c2s server accepts
    // (RFC 6120 §8.1.2.1) and a component-hosted service needs.
    let mut want = with_id(&listing("01"), &register.id);
    want.set_attr("from", USER);
    assert_is_listing(&register, &want);
    assert_eq!(
        client.register(t(0), None, false),
        Err(CommandError::LeaseHeld)
    );

    client.handle_stanza(t(5), &with_id(&listing("02"), &register.id));
    assert_eq!(
        events(&mut client),
        [ClientEvent::Registered {
            servers: vec![sa("1.2.3.4:43253")]
        }]
    );
    assert_eq!(client.lease(), Some(&[sa("1.2.3.4:43253")][..]));
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn listing_3_is_accepted_with_listing_4_then_connected_and_bridged() {
    let mut client = registered(config());
    client.handle_stanza(t(10), &listing("03"));
    assert_is_listing(&sent(&mut client), &listing("04"));
    let (client_addr, proxy) = (sa("4.3.2.1:1234"), sa("1.2.3.4:43523"));
    let [ClientAction::Connect {
        conn: p,
        to: Endpoint::Proxy(to),
    }, ClientAction::Connect {
        conn: l,
        to: Endpoint::Local,
    }] = actions(&mut client)[..]
    else {
        panic!("expected two connects")
    };
    assert_eq!(to, proxy);
    assert_eq!(
        events(&mut client),
        [ClientEvent::Accepted {
            client: client_addr,
            proxy
        }]
    );
    client.handle_connected(t(11), l, Ok(()));
    assert!(
        actions(&mut client).is_empty(),
        "bridged before the proxy is up"
    );
    client.handle_connected(t(12), p, Ok(()));
    client.handle_connected(t(12), p, Ok(()));
    assert_eq!(
        actions(&mut client),
        [ClientAction::Bridge { proxy: p, local: l }]
    );
    assert_eq!(client.sessions(), 1);
    // The relay ends: the session is over, the host closed both sides itself.
    client.handle_closed(t(20), l);
    client.handle_closed(t(20), p);
    assert!(actions(&mut client).is_empty());
    assert_eq!(
        events(&mut client),
        [
            ClientEvent::Bridged {
                client: client_addr
            },
            ClientEvent::SessionEnded {
                client: client_addr
            }
        ]
    );
    assert_eq!(client.sessions(), 0);
}

#[test]
fn listing_13_from_outside_the_allow_list_is_denied_with_listing_14() {
    let policy = Policy::open().allow("192.0.2.0/24".parse().unwrap());
    let mut client = registered(config().with_policy(policy));
    client.handle_stanza(t(10), &listing("13"));
    let deny = sent(&mut client);
    assert_is_listing(&deny, &listing("14"));
    assert_eq!(
        deny.error,
        Some(StanzaError {
            code: Some(401),
            kind: Some(ErrorType::Auth),
            condition: Some(Condition::NotAuthorized),
            text: None
        })
    );
    assert!(
        actions(&mut client).is_empty(),
        "a denied caller is not connected"
    );
    assert_eq!(
        events(&mut client),
        [ClientEvent::Denied {
            client: sa("4.3.2.1:1234"),
            proxy: sa("1.2.3.4:43523"),
            reason: DenyReason::NotAllowed
        }]
    );
}

#[test]
fn a_call_without_a_lease_is_denied() {
    let mut client = Client::new(config());
    client.handle_stanza(t(0), &listing("13"));
    assert_is_listing(&sent(&mut client), &listing("14"));
    assert!(matches!(
        events(&mut client)[..],
        [ClientEvent::Denied {
            reason: DenyReason::NoLease,
            ..
        }]
    ));
}

#[test]
fn listings_5_and_7_are_acknowledged_with_6_and_8() {
    for (notice, ack, event) in [
        (
            "05",
            "06",
            ClientEvent::Expired {
                proxy: sa("1.2.3.4:43253"),
            },
        ),
        (
            "07",
            "08",
            ClientEvent::OneshotClosed {
                proxy: sa("1.2.3.4:43253"),
            },
        ),
    ] {
        let mut client = registered(config());
        client.handle_stanza(t(10), &listing(notice));
        assert_is_listing(&sent(&mut client), &listing(ack));
        assert_eq!(events(&mut client), [event]);
        assert_eq!(client.lease(), None);
        // The lease is gone: the same notice again names no lease of ours.
        client.handle_stanza(t(11), &listing(notice));
        let again = sent(&mut client);
        assert_eq!(again.kind, IqType::Error);
        assert_eq!(
            again.error.map(|e| e.effective_condition()),
            Some(Condition::ItemNotFound)
        );
        // And a new lease may be registered.
        assert_eq!(client.register(t(12), None, true), Ok(()));
    }
}

#[test]
fn listing_9_closes_and_listing_10_acknowledges() {
    let mut client = registered(config());
    client.close(t(10)).unwrap();
    let close = sent(&mut client);
    assert_is_listing(&close, &with_id(&listing("09"), &close.id));
    assert_eq!(client.close(t(10)), Err(CommandError::AlreadyClosing));
    client.handle_stanza(t(11), &with_id(&listing("10"), &close.id));
    assert_eq!(events(&mut client), [ClientEvent::Closed]);
    assert_eq!(client.lease(), None);
    assert_eq!(client.close(t(12)), Err(CommandError::NoLease));
}

#[test]
fn close_errors_keep_the_lease_unless_it_is_not_found() {
    for (error, kept) in [
        (PassError::NotYourPort, true),
        (PassError::ProxyIpMismatch, true),
        (PassError::MissingProxy, true),
        (PassError::PortNotFound, false),
    ] {
        let mut client = registered(config());
        client.close(t(10)).unwrap();
        let close = sent(&mut client);
        let mut reply = Iq::error_for(&close, error.into());
        reply.from = Some(jid(SERVICE));
        client.handle_stanza(t(11), &Element::from(&reply));
        let (code, condition, _) = error.legacy();
        assert_eq!(
            events(&mut client),
            [ClientEvent::CloseFailed(Failure::Refused {
                code,
                condition,
                text: Some(error.message().to_string())
            })]
        );
        assert_eq!(client.lease().is_some(), kept, "{error:?}");
    }
}

#[test]
fn listing_11_asks_a_peer_and_listing_12_answers() {
    let me = jid("you@jabber.org/resource");
    let them = jid("them@jabber.org/resource");
    let mut client = Client::new(ClientConfig::new(me, jid(SERVICE)));
    client.ask_ip(t(0), them.clone());
    client.ask_ip(t(0), them.clone());
    let query = sent(&mut client);
    assert!(
        client.poll_action().is_none(),
        "one query per peer at a time"
    );
    assert_is_listing(&query, &with_id(&listing("11"), &query.id));
    client.handle_stanza(t(3), &with_id(&listing("12"), &query.id));
    assert_eq!(
        events(&mut client),
        [ClientEvent::PeerIp {
            peer: them,
            ip: "4.3.2.1".parse().unwrap()
        }]
    );
}

#[test]
fn a_query_for_its_ip_is_answered_with_listing_12() {
    let them = ClientConfig::new(jid("them@jabber.org/resource"), jid(SERVICE));
    let mut client = Client::new(them.clone().with_answer_ip("4.3.2.1".parse().unwrap()));
    client.handle_stanza(t(0), &listing("11"));
    assert_is_listing(&sent(&mut client), &listing("12"));
    // Without an IP to give, the query is refused rather than left unanswered.
    let mut silent = Client::new(them);
    silent.handle_stanza(t(0), &listing("11"));
    let refused = sent(&mut silent);
    assert_eq!(
        (refused.kind, refused.id.as_str()),
        (IqType::Error, "pass6")
    );
    assert_eq!(
        refused.error.map(|e| e.effective_condition()),
        Some(Condition::ServiceUnavailable)
    );
}

#[test]
fn registration_errors_are_typed_outcomes() {
    let other = StanzaError::new(Condition::ResourceConstraint).with_text("too many leases");
    let cases: Vec<StanzaError> = PassError::ALL
        .iter()
        .map(|e| StanzaError::from(*e))
        .chain([other, StanzaError::from_code(502)])
        .collect();
    for error in cases {
        let mut client = Client::new(config());
        client.register(t(0), None, false).unwrap();
        let register = sent(&mut client);
        let mut reply = Iq::error_for(&register, error.clone());
        reply.from = Some(jid(SERVICE));
        client.handle_stanza(t(1), &Element::from(&reply));
        assert_eq!(
            events(&mut client),
            [ClientEvent::RegistrationFailed(Failure::Refused {
                code: error.effective_code(),
                condition: error.effective_condition(),
                text: error.text.clone()
            })]
        );
        assert_eq!(client.lease(), None);
        assert_eq!(client.register(t(2), None, false), Ok(()), "may try again");
    }
}

#[test]
fn a_result_that_grants_nothing_fails_the_registration() {
    let mut client = Client::new(config());
    client.register(t(0), None, false).unwrap();
    let register = sent(&mut client);
    let mut ack = Iq::result_for(&register, None);
    ack.from = Some(jid(SERVICE));
    client.handle_stanza(t(1), &Element::from(&ack));
    assert!(matches!(
        events(&mut client)[..],
        [ClientEvent::RegistrationFailed(Failure::BadAnswer(_))]
    ));
}

#[test]
fn replies_count_only_with_the_id_and_from_the_jid_asked() {
    let mut client = Client::new(config());
    client.register(t(0), None, false).unwrap();
    let register = sent(&mut client);
    let granted = with_id(&listing("02"), &register.id);
    let mut impostor = granted.clone();
    impostor.set_attr("from", "mallory@evil.example/x");
    let mut anonymous = granted.clone();
    anonymous.attributes.retain(|a| a.name != "from");
    let stale = with_id(&listing("02"), "pass1");
    for ignored in [impostor, anonymous, stale] {
        client.handle_stanza(t(1), &ignored);
        assert!(events(&mut client).is_empty());
        assert!(actions(&mut client).is_empty());
    }
    client.handle_stanza(t(2), &granted);
    assert!(matches!(
        events(&mut client)[..],
        [ClientEvent::Registered { .. }]
    ));
    // The same reply again matches nothing any more.
    client.handle_stanza(t(3), &granted);
    assert!(events(&mut client).is_empty());
}

#[test]
fn ids_are_unique_and_carry_the_seed() {
    let mut cfg = config();
    cfg.id_seed = 0xabc;
    let mut client = Client::new(cfg);
    client.register(t(0), None, false).unwrap();
    for i in 0..5 {
        client.ask_ip(t(0), jid(&alloc::format!("p{i}@example/r")));
    }
    let ids: Vec<String> = actions(&mut client)
        .into_iter()
        .map(|a| match a {
            ClientAction::Send(iq) => iq.id,
            other => panic!("{other:?}"),
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6);
    assert!(ids.iter().all(|id| id.contains("abc")), "{ids:?}");
}

#[test]
fn unanswered_requests_time_out() {
    let mut client = Client::new(config());
    client.register(t(0), None, false).unwrap();
    client.ask_ip(t(0), jid("bob@example/phone"));
    let _ = actions(&mut client);
    let deadline = t(0) + ClientConfig::DEFAULT_REQUEST_TIMEOUT;
    assert_eq!(client.poll_timeout(), Some(deadline));
    client.handle_timeout(Instant::from_millis(deadline.as_millis() - 1));
    assert!(events(&mut client).is_empty());
    client.handle_timeout(deadline);
    assert_eq!(
        events(&mut client),
        [
            ClientEvent::RegistrationFailed(Failure::TimedOut),
            ClientEvent::PeerIpFailed {
                peer: jid("bob@example/phone"),
                failure: Failure::TimedOut
            }
        ]
    );
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(client.register(deadline, None, false), Ok(()));
}

#[test]
fn a_reconnect_with_a_lease_pings_the_service_and_ignores_the_answer() {
    let mut idle = Client::new(config());
    idle.handle_reconnected(t(0));
    assert!(actions(&mut idle).is_empty(), "no lease: nothing to tell");

    let mut client = registered(config());
    client.handle_reconnected(t(5));
    let ping = sent(&mut client);
    assert_eq!(
        (ping.kind, ping.to, ping.from),
        (IqType::Get, Some(jid(SERVICE)), Some(jid(USER)))
    );
    assert!(ping
        .payload
        .as_ref()
        .is_some_and(crate::stanza::ping::is_ping));
    assert_eq!(client.poll_timeout(), None, "the answer is not awaited");
    let pong = Iq {
        id: ping.id.clone(),
        kind: IqType::Result,
        from: Some(jid(SERVICE)),
        to: Some(jid(USER)),
        payload: None,
        error: None,
    };
    client.handle_stanza(t(6), &pong.to_element());
    assert!(actions(&mut client).is_empty());
    assert!(events(&mut client).is_empty());
    assert_eq!(client.lease(), Some(&[sa("1.2.3.4:43253")][..]));
}

/// A request from `from` with `payload` (raw, as a stranger could send it).
fn request(kind: &str, from: &str, payload: Element) -> Element {
    Element::new("iq", ns::CLIENT)
        .with_attr("type", kind)
        .with_attr("id", "q1")
        .with_attr("from", from)
        .with_attr("to", USER)
        .with_child(payload)
}

fn refusal(client: &mut Client) -> Condition {
    let answer = sent(client);
    assert_eq!((answer.kind, answer.id.as_str()), (IqType::Error, "q1"));
    assert!(client.poll_action().is_none(), "one answer only");
    answer.error.map(|e| e.effective_condition()).unwrap()
}

#[test]
fn requests_it_does_not_serve_get_service_unavailable() {
    let mut client = registered(config());
    let stranger = "mallory@evil.example/x";
    let incoming = PassMessage::IncomingConnection {
        client: sa("4.3.2.1:1234"),
        proxy: sa("203.0.113.1:9"),
    };
    let notice = PassMessage::ExpireNotice {
        proxy: sa("1.2.3.4:43253"),
    };
    let register = PassMessage::Register {
        expire: None,
        oneshot: false,
    };
    for (kind, from, payload) in [
        ("get", SERVICE, Element::new("query", "jabber:iq:version")),
        ("set", stranger, incoming.to_query()),
        ("set", stranger, notice.to_query()),
        ("set", SERVICE, register.to_query()),
        (
            "set",
            SERVICE,
            PassMessage::Close { proxy: None }.to_query(),
        ),
    ] {
        client.handle_stanza(t(5), &request(kind, from, payload));
        assert_eq!(refusal(&mut client), Condition::ServiceUnavailable);
    }
    assert!(events(&mut client).is_empty());
    assert!(client.lease().is_some(), "a stranger cannot end the lease");
}

#[test]
fn malformed_requests_get_bad_request_and_never_panic() {
    let mut client = registered(config());
    let q = |children: &[Element]| {
        children
            .iter()
            .fold(Element::new("query", ns::PASS), |q, c| {
                q.with_child(c.clone())
            })
    };
    let c = |name: &str| Element::new(name, ns::PASS);
    let proxy_no_port = c("proxy").with_text("1.2.3.4");
    for payload in [
        q(&[c("expire"), c("close"), proxy_no_port.clone()]),
        q(&[c("oneshot"), c("close")]),
        q(&[c("client").with_text("4.3.2.1"), proxy_no_port]),
        q(&[c("expire").with_text("5"), c("close"), c("proxy")]),
        q(&[c("bogus")]),
    ] {
        client.handle_stanza(t(5), &request("set", SERVICE, payload));
        assert_eq!(refusal(&mut client), Condition::BadRequest);
    }
    // A get with two payloads is not even an IQ: still answered.
    let two = request("get", SERVICE, q(&[])).with_child(q(&[]));
    client.handle_stanza(t(5), &two);
    assert_eq!(refusal(&mut client), Condition::BadRequest);
    // Broken results, errors, messages and presence are ignored.
    for ignored in [
        Element::new("iq", ns::CLIENT).with_attr("type", "result"),
        Element::new("iq", ns::CLIENT)
            .with_attr("type", "error")
            .with_attr("id", "x"),
        Element::new("message", ns::CLIENT).with_attr("from", SERVICE),
        Element::new("presence", ns::CLIENT),
    ] {
        client.handle_stanza(t(5), &ignored);
        assert!(client.poll_action().is_none());
    }
    assert!(events(&mut client).is_empty());
    assert!(client.lease().is_some());
}

#[test]
fn a_ping_is_answered() {
    let mut client = Client::new(config());
    let ping = Element::new("ping", ns::PING);
    client.handle_stanza(t(0), &request("get", SERVICE, ping));
    let pong = sent(&mut client);
    assert_eq!((pong.kind, pong.id.as_str()), (IqType::Result, "q1"));
}

fn incoming(id: &str, caller: &str) -> Element {
    let msg = PassMessage::IncomingConnection {
        client: sa(caller),
        proxy: sa("1.2.3.4:43523"),
    };
    Element::from(&msg.to_iq(id, Some(jid(SERVICE)), Some(jid(USER))))
}

fn ip_answer(query: &Iq, ip: &str) -> Element {
    let answer = PassMessage::ClientIpAnswer {
        client: ip.parse().unwrap(),
    };
    Element::from(&answer.to_iq(&query.id, query.to.clone(), query.from.clone()))
}

#[test]
fn allowed_jids_are_asked_at_registration_and_on_each_call() {
    let bob = jid("bob@example/phone");
    let policy = Policy::open().allow_jid(bob.clone());
    let mut client = Client::new(config().with_policy(policy));
    client.register(t(0), None, false).unwrap();
    let register = sent(&mut client);
    let asked = sent(&mut client);
    assert_eq!(asked.to, Some(bob.clone()));
    assert_eq!(PassMessage::from_iq(&asked), Ok(PassMessage::ClientIpQuery));
    client.handle_stanza(t(1), &with_id(&listing("02"), &register.id));
    client.handle_stanza(t(2), &ip_answer(&asked, "198.51.100.7"));
    let _ = events(&mut client);

    // Bob's fresh answer admits his IP at once (an IPv4-mapped caller too).
    client.handle_stanza(t(3), &incoming("c1", "[::ffff:198.51.100.7]:5000"));
    assert_eq!(sent(&mut client).kind, IqType::Result);
    let _ = actions(&mut client);

    // Another IP: held, Bob is asked again; his new answer matches.
    client.handle_stanza(t(4), &incoming("c2", "203.0.113.5:6000"));
    let again = sent(&mut client);
    assert_eq!(again.to, Some(bob.clone()));
    assert!(client.poll_action().is_none(), "held, not answered yet");
    assert_eq!(
        client.poll_timeout(),
        Some(t(4) + ClientConfig::DEFAULT_IP_ANSWER_WAIT)
    );
    client.handle_stanza(t(5), &ip_answer(&again, "203.0.113.5"));
    let accept = sent(&mut client);
    assert_eq!((accept.kind, accept.id.as_str()), (IqType::Result, "c2"));
    let _ = actions(&mut client);

    // An answer that does not match denies at once.
    client.handle_stanza(t(6), &incoming("c3", "192.0.2.66:7000"));
    let third = sent(&mut client);
    client.handle_stanza(t(7), &ip_answer(&third, "203.0.113.5"));
    let deny = sent(&mut client);
    assert_eq!((deny.kind, deny.id.as_str()), (IqType::Error, "c3"));
    assert!(events(&mut client).contains(&ClientEvent::Denied {
        client: sa("192.0.2.66:7000"),
        proxy: sa("1.2.3.4:43523"),
        reason: DenyReason::NoMatchingAnswer
    }));
}

#[test]
fn a_caller_waiting_for_an_answer_that_never_comes_is_denied_in_time() {
    let bob = jid("bob@example/phone");
    let mut client = registered(config().with_policy(Policy::open().allow_jid(bob)));
    client.handle_stanza(t(100), &incoming("c1", "203.0.113.5:6000"));
    let _ = actions(&mut client);
    let deadline = t(100) + ClientConfig::DEFAULT_IP_ANSWER_WAIT;
    assert_eq!(client.poll_timeout(), Some(deadline));
    client.handle_timeout(deadline);
    let deny = sent(&mut client);
    assert_eq!((deny.kind, deny.id.as_str()), (IqType::Error, "c1"));
    assert!(ClientConfig::DEFAULT_IP_ANSWER_WAIT < crate::lease::Config::DEFAULT_ANSWER_TIMEOUT);
}

#[test]
fn a_failed_connect_ends_the_session_and_drops_the_other_side() {
    let mut client = registered(config());
    client.handle_stanza(t(10), &listing("03"));
    let _ = sent(&mut client);
    let conns: Vec<ConnId> = actions(&mut client)
        .into_iter()
        .filter_map(|a| match a {
            ClientAction::Connect { conn, .. } => Some(conn),
            _ => None,
        })
        .collect();
    let (p, l) = (conns[0], conns[1]);
    client.handle_connected(t(11), p, Ok(()));
    client.handle_connected(t(12), l, Err(ConnectError::Refused));
    assert_eq!(actions(&mut client), [ClientAction::Drop { conn: p }]);
    let caller = sa("4.3.2.1:1234");
    assert_eq!(
        events(&mut client)[1..],
        [
            ClientEvent::ConnectFailed {
                client: caller,
                to: Endpoint::Local,
                error: ConnectError::Refused
            },
            ClientEvent::SessionEnded { client: caller }
        ]
    );
    // Late reports about the ended session change nothing.
    client.handle_connected(t(13), l, Ok(()));
    client.handle_closed(t(13), p);
    assert!(actions(&mut client).is_empty());
    assert!(events(&mut client).is_empty());
}

#[test]
fn a_proxy_hang_up_before_the_bridge_drops_the_local_side() {
    let mut client = registered(config());
    client.handle_stanza(t(10), &listing("03"));
    let _ = sent(&mut client);
    let _ = actions(&mut client);
    client.handle_closed(t(11), ConnId(1));
    assert_eq!(
        actions(&mut client),
        [ClientAction::Drop { conn: ConnId(2) }]
    );
    assert_eq!(client.sessions(), 0);
    // The time never goes back: an earlier instant is taken as the latest.
    client.handle_timeout(t(0));
    assert!(actions(&mut client).is_empty());
    let _ = Duration::ZERO;
}
