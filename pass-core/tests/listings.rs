//! Every XEP-0003 listing (xsd/examples/) read through the whole stack (bytes →
//! Element → Iq → PassMessage), written back, and compared with the listing; plus
//! snapshots of the writer's exact output for every protocol message and PassError.

use pass_core::jid::Jid;
use pass_core::ns;
use pass_core::stanza::{
    Condition, ErrorType, Iq, PassEntity, PassError, PassMessage, StanzaError,
};
use pass_core::xml::{parse_element, Element, Limits, Node, XmlError};
use std::net::SocketAddr;
use std::path::PathBuf;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../xsd/examples")
}

fn read_listing(file: &str) -> Vec<u8> {
    let path = examples_dir().join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The listing files with the message each carries (listing 14 as corrected).
fn expected() -> Vec<(&'static str, PassMessage)> {
    let lease = sa("1.2.3.4:43253");
    let incoming = PassMessage::IncomingConnection {
        client: sa("4.3.2.1:1234"),
        proxy: sa("1.2.3.4:43523"),
    };
    vec![
        (
            "01-registration-request.xml",
            PassMessage::Register {
                expire: Some(600),
                oneshot: false,
            },
        ),
        (
            "02-result-from-pass-service.xml",
            PassMessage::Registered {
                servers: vec![lease],
            },
        ),
        ("03-request-to-entity.xml", incoming.clone()),
        ("04-iq-result-to-accept-connection.xml", PassMessage::Ack),
        (
            "05-notification-of-expiration.xml",
            PassMessage::ExpireNotice { proxy: lease },
        ),
        ("06-acknowledgement-of-expiration.xml", PassMessage::Ack),
        (
            "07-server-notifies-client-of-oneshot-port-closing.xml",
            PassMessage::OneshotNotice { proxy: lease },
        ),
        (
            "08-client-acknowledges-closing-of-oneshot-port.xml",
            PassMessage::Ack,
        ),
        (
            "09-client-request-to-shut-down-port.xml",
            PassMessage::Close {
                proxy: Some(PassEntity::new("1.2.3.4", Some(43253))),
            },
        ),
        (
            "10-server-acknowledges-port-closing-request.xml",
            PassMessage::Ack,
        ),
        ("11-client-ip-query.xml", PassMessage::ClientIpQuery),
        (
            "12-client-ip-answer.xml",
            PassMessage::ClientIpAnswer {
                client: "4.3.2.1".parse().unwrap(),
            },
        ),
        ("13-incoming-connection-to-deny.xml", incoming),
        (
            "14-deny-connection.corrected.xml",
            PassMessage::Deny {
                client: Some(sa("4.3.2.1:1234")),
                proxy: Some(sa("1.2.3.4:43523")),
                error: StanzaError {
                    code: Some(401),
                    kind: Some(ErrorType::Auth),
                    condition: Some(Condition::NotAuthorized),
                    text: None,
                },
            },
        ),
    ]
}

/// The listing in the writer's canonical shape: whitespace-only text dropped,
/// attributes sorted, the listing's missing stanza namespace made
/// `jabber:component:accept` (what the writer uses).
fn canonical(e: &Element) -> Element {
    let mut out = e.clone();
    if out.namespace.is_empty() {
        out.namespace = ns::COMPONENT.to_string();
    }
    out.attributes.sort_by(|a, b| a.name.cmp(&b.name));
    out.children = e
        .children
        .iter()
        .filter_map(|n| match n {
            Node::Text(t) if t.trim().is_empty() => None,
            Node::Text(t) => Some(Node::Text(t.clone())),
            Node::Element(c) => Some(Node::Element(canonical(c))),
        })
        .collect();
    out
}

fn read_message(bytes: &[u8]) -> (Iq, PassMessage) {
    let element = parse_element(bytes, &Limits::default()).unwrap();
    let iq = Iq::try_from(&element).unwrap();
    let msg = PassMessage::from_iq(&iq).unwrap();
    (iq, msg)
}

#[test]
fn all_fourteen_listings_are_present() {
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".xml") && !n.ends_with(".corrected.xml"))
        .collect();
    files.sort();
    let mut want: Vec<String> = expected()
        .iter()
        .map(|(f, _)| f.replace(".corrected", ""))
        .collect();
    want.sort();
    assert_eq!(files, want);
}

#[test]
fn every_listing_parses_to_its_message() {
    for (file, want) in expected() {
        let (iq, msg) = read_message(&read_listing(file));
        assert_eq!(msg, want, "{file}");
        assert_eq!(iq.kind, want.iq_type(), "{file}");
    }
}

#[test]
fn every_listing_is_written_back_equivalently() {
    for (file, _) in expected() {
        let listing = parse_element(&read_listing(file), &Limits::default()).unwrap();
        let (iq, msg) = read_message(&read_listing(file));

        // The writer's stanza for the message equals the listing, up to whitespace,
        // attribute order and the stanza namespace.
        let written = Element::from(&msg.to_iq(&iq.id, iq.from.clone(), iq.to.clone()));
        assert_eq!(canonical(&written), canonical(&listing), "{file}");

        // parse(write(x)) == x at the Element level, and the message survives.
        let xml = written.to_xml();
        let reread = parse_element(xml.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(reread, written, "{file}: {xml}");
        let (_, again) = read_message(xml.as_bytes());
        assert_eq!(again, msg, "{file}");

        // Writing the parsed Iq as is keeps the listing's content too.
        assert_eq!(
            canonical(&Element::from(&iq)),
            canonical(&listing),
            "{file}"
        );
    }
}

#[test]
fn listing_14_as_published_is_not_well_formed() {
    let verbatim = read_listing("14-deny-connection.xml");
    let err = parse_element(&verbatim, &Limits::default()).unwrap_err();
    // `<not-authorized .../&gt;`: the '/' of an empty-element tag must be followed by '>'.
    let text = String::from_utf8(verbatim.clone()).unwrap();
    let slash = text.find("/&gt;").unwrap();
    match &err {
        XmlError::Syntax { offset, .. } => assert_eq!(*offset, slash + 1, "{err}"),
        other => panic!("expected a syntax error at the '&' after '/', got {other:?}"),
    }
    let (_, msg) = read_message(&read_listing("14-deny-connection.corrected.xml"));
    assert!(matches!(msg, PassMessage::Deny { .. }));
}

#[test]
fn markdown_rendering_of_the_notices_reads_leniently() {
    // §4.1 as the Markdown rendering shows it (DESIGN decision 3).
    let md = b"<iq type='set' id='pass3' to='user@jabber.org/resource' from='pass.jabber.org'>
  <query xmlns='jabber:iq:pass'>
    <expire/>
  </query>
  <proxy port='43253'>1.2.3.4</proxy>
</iq>";
    let e = parse_element(md, &Limits::default()).unwrap();
    let (msg, deviations) = PassMessage::from_element_lenient(&e).unwrap();
    assert_eq!(
        msg,
        PassMessage::ExpireNotice {
            proxy: sa("1.2.3.4:43253")
        }
    );
    let said: Vec<String> = deviations.iter().map(|d| d.to_string()).collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].contains("outside <query/>"), "{said:?}");
    assert!(said[1].contains("without <close/>"), "{said:?}");
    // The strict reader refuses it: two payload elements.
    assert!(Iq::try_from(&e).is_err());
    // Every canonical listing reads leniently without deviation.
    for (file, want) in expected() {
        let e = parse_element(&read_listing(file), &Limits::default()).unwrap();
        assert_eq!(
            PassMessage::from_element_lenient(&e).unwrap(),
            (want, vec![]),
            "{file}"
        );
    }
}

fn jid(s: &str) -> Option<Jid> {
    Some(Jid::new(s).unwrap())
}

/// Every protocol message the writer produces, in the forms the service and
/// owners send them.
fn protocol_messages() -> Vec<(&'static str, PassMessage)> {
    let mut v = expected()
        .into_iter()
        .map(|(f, m)| (f.trim_end_matches(".xml").trim_end_matches(".corrected"), m))
        .collect::<Vec<_>>();
    v.extend([
        (
            "register-forever",
            PassMessage::Register {
                expire: None,
                oneshot: false,
            },
        ),
        (
            "register-oneshot-with-expire",
            PassMessage::Register {
                expire: Some(u64::MAX),
                oneshot: true,
            },
        ),
        (
            "registered-v4-and-v6",
            PassMessage::Registered {
                servers: vec![sa("1.2.3.4:40000"), sa("[2001:db8::1]:40000")],
            },
        ),
        ("close-without-proxy", PassMessage::Close { proxy: None }),
        (
            "deny-without-echo",
            PassMessage::Deny {
                client: None,
                proxy: None,
                error: PassError::Unauthorized.into(),
            },
        ),
        (
            "client-ip-answer-v6",
            PassMessage::ClientIpAnswer {
                client: "::ffff:4.3.2.1".parse().unwrap(),
            },
        ),
    ]);
    v
}

/// Who sends a protocol message, as its listing shows: the snapshot is named after
/// the sender and addressed the way the message travels.
fn sender(name: &str) -> &'static str {
    match name {
        "02-result-from-pass-service"
        | "03-request-to-entity"
        | "05-notification-of-expiration"
        | "07-server-notifies-client-of-oneshot-port-closing"
        | "10-server-acknowledges-port-closing-request"
        | "13-incoming-connection-to-deny"
        | "registered-v4-and-v6" => "service",
        // Listings 11 and 12 travel between two users, not to the service.
        "11-client-ip-query" | "12-client-ip-answer" | "client-ip-answer-v6" => "peer",
        _ => "owner",
    }
}

/// The `from` and `to` of a message by `sender` (listing 11 goes you -> them, the
/// answer them -> you).
fn addresses(name: &str, sender: &str) -> (&'static str, &'static str) {
    const SERVICE: &str = "pass.jabber.org";
    const OWNER: &str = "user@jabber.org/resource";
    match sender {
        "service" => (SERVICE, OWNER),
        "peer" if name.contains("query") => ("you@jabber.org/resource", "them@jabber.org/resource"),
        "peer" => ("them@jabber.org/resource", "you@jabber.org/resource"),
        _ => (OWNER, SERVICE),
    }
}

#[test]
fn snapshots_of_every_protocol_message() {
    for (name, msg) in protocol_messages() {
        let by = sender(name);
        let (from, to) = addresses(name, by);
        let iq = msg.to_iq("pass1", jid(from), jid(to));
        let xml = Element::from(&iq).to_xml();
        assert_eq!(
            xml.contains("from='pass.jabber.org'"),
            by == "service",
            "{name} is sent by the {by}: {xml}"
        );
        insta::assert_snapshot!(format!("message-{name}-by-{by}"), xml);
        // What was snapshotted reads back as the message.
        let (_, again) = read_message(xml.as_bytes());
        assert_eq!(again, msg, "{name}");
    }
}

#[test]
fn snapshots_of_every_pass_error() {
    let request = Iq {
        id: "pass5".into(),
        kind: pass_core::stanza::IqType::Set,
        from: jid("user@jabber.org/resource"),
        to: jid("pass.jabber.org"),
        payload: Some(PassMessage::Close { proxy: None }.to_query()),
        error: None,
    };
    for e in PassError::ALL {
        let iq = Iq::error_for(&request, e.into());
        let xml = Element::from(&iq).to_xml();
        insta::assert_snapshot!(format!("pass-error-{e:?}"), xml);
        let reread =
            Iq::try_from(&parse_element(xml.as_bytes(), &Limits::default()).unwrap()).unwrap();
        assert_eq!(reread.error, Some(StanzaError::from(e)), "{e:?}");
    }
}
