//! Malformed input at every layer returns a typed error (never a panic), and every
//! such error becomes a bad-request with a text saying why (DESIGN decision 8).

use pass_core::stanza::{
    Condition, Iq, IqType, ParseIqError, ParsePassError, ParseQueryError, PassMessage, StanzaError,
};
use pass_core::xml::{parse_element, Limits, XmlError};
use quickcheck::{QuickCheck, TestResult};
use std::sync::OnceLock;

/// Where reading stopped.
#[derive(Debug, PartialEq)]
enum Failure {
    Xml(XmlError),
    Iq(ParseIqError),
    Pass(ParsePassError),
}

fn read(bytes: &[u8]) -> Result<PassMessage, Failure> {
    let e = parse_element(bytes, &Limits::default()).map_err(Failure::Xml)?;
    let iq = Iq::try_from(&e).map_err(Failure::Iq)?;
    PassMessage::from_iq(&iq).map_err(Failure::Pass)
}

/// An IQ of type `kind` whose query holds `inner`.
fn iq(kind: &str, inner: &str) -> String {
    format!(
        "<iq type='{kind}' id='m1' from='user@jabber.org/r' to='pass.jabber.org'>\
         <query xmlns='jabber:iq:pass'>{inner}</query></iq>"
    )
}

fn query_error(kind: &str, inner: &str) -> ParseQueryError {
    match read(iq(kind, inner).as_bytes()) {
        Err(Failure::Pass(ParsePassError::Query(e))) => e,
        other => panic!("{inner}: expected a query error, got {other:?}"),
    }
}

fn pass_error(kind: &str, inner: &str) -> ParsePassError {
    match read(iq(kind, inner).as_bytes()) {
        Err(Failure::Pass(e)) => e,
        other => panic!("{inner}: expected a protocol error, got {other:?}"),
    }
}

/// A valid incoming-connection notice with `client` replaced.
fn incoming(client: &str) -> String {
    format!("{client}<proxy port='43523'>1.2.3.4</proxy>")
}

#[test]
fn expire_that_is_not_seconds() {
    for bad in [
        "ten",
        "-1",
        "+5",
        "1.5",
        "6 00",
        "18446744073709551616",
        "99999999999999999999999",
    ] {
        assert_eq!(
            query_error("set", &format!("<expire>{bad}</expire>")),
            ParseQueryError::BadExpire(bad.into()),
            "{bad}"
        );
    }
    // Largest accepted, and whitespace collapse.
    assert_eq!(
        read(iq("set", "<expire> 18446744073709551615\n</expire>").as_bytes()),
        Ok(PassMessage::Register {
            expire: Some(u64::MAX),
            oneshot: false
        })
    );
    assert_eq!(
        query_error("set", "<expire unit='s'>5</expire>"),
        ParseQueryError::UnexpectedAttribute {
            element: "expire",
            attr: "unit".into()
        }
    );
    assert_eq!(
        query_error("set", "<expire><oneshot/></expire>"),
        ParseQueryError::ElementInSimpleContent("expire")
    );
    // Empty <expire/> is schema-valid (errata) but not a registration.
    assert_eq!(
        pass_error("set", "<expire/>"),
        ParsePassError::ExpireForm { needs_value: true }
    );
}

#[test]
fn ports_out_of_range_or_not_numbers() {
    for child in ["client", "proxy", "server"] {
        for bad in ["0", "65536", "-1", "+80", "text", "", " 80", "4e3"] {
            let inner = format!("<{child} port='{bad}'>1.2.3.4</{child}>");
            assert_eq!(
                query_error("set", &inner),
                ParseQueryError::BadPort {
                    element: match child {
                        "client" => "client",
                        "proxy" => "proxy",
                        _ => "server",
                    },
                    value: bad.into()
                },
                "{inner}"
            );
        }
    }
    assert_eq!(
        pass_error("set", &incoming("<client>4.3.2.1</client>")),
        ParsePassError::MissingPort("client")
    );
    assert_eq!(
        pass_error("result", "<server>1.2.3.4</server>"),
        ParsePassError::MissingPort("server")
    );
    assert_eq!(
        pass_error("result", "<client port='1'>4.3.2.1</client>"),
        ParsePassError::UnexpectedPort("client")
    );
}

#[test]
fn hosts_empty_not_tokens_or_not_ips() {
    assert_eq!(
        query_error("set", &incoming("<client port='1'/>")),
        ParseQueryError::EmptyHost("client")
    );
    assert_eq!(
        query_error("set", &incoming("<client port='1'>  </client>")),
        ParseQueryError::EmptyHost("client")
    );
    assert_eq!(
        query_error("set", &incoming("<client port='1'>4.3.2.1 x</client>")),
        ParseQueryError::BadHost {
            element: "client",
            text: "4.3.2.1 x".into()
        }
    );
    assert_eq!(
        query_error("set", &incoming("<client port='1'>a&amp;b</client>")),
        ParseQueryError::BadHost {
            element: "client",
            text: "a&b".into()
        }
    );
    for (inner, element, text) in [
        (
            incoming("<client port='1'>example.org</client>"),
            "client",
            "example.org",
        ),
        (
            "<client port='1'>4.3.2.1</client><proxy port='2'>1.2.3</proxy>".to_string(),
            "proxy",
            "1.2.3",
        ),
        (
            "<expire/><close/><proxy port='2'>localhost</proxy>".to_string(),
            "proxy",
            "localhost",
        ),
        (
            "<server port='2'>999.1.1.1</server>".to_string(),
            "server",
            "999.1.1.1",
        ),
    ] {
        let kind = if element == "server" { "result" } else { "set" };
        assert_eq!(
            pass_error(kind, &inner),
            ParsePassError::NotAnIp {
                element,
                text: text.into()
            },
            "{inner}"
        );
    }
    // A close names its proxy as given: the machine answers 405 itself.
    assert!(read(iq("set", "<close/><proxy port='1'>pass.example</proxy>").as_bytes()).is_ok());
}

#[test]
fn unknown_children_and_wrong_namespaces() {
    assert_eq!(
        query_error("set", "<port>1</port>"),
        ParseQueryError::UnknownChild {
            name: "port".into(),
            namespace: "jabber:iq:pass".into()
        }
    );
    assert_eq!(
        query_error("set", "<expire xmlns='jabber:iq:register'>5</expire>"),
        ParseQueryError::UnknownChild {
            name: "expire".into(),
            namespace: "jabber:iq:register".into()
        }
    );
    assert_eq!(
        query_error("set", "text"),
        ParseQueryError::TextInQuery("text".into())
    );
    let with_attr = "<iq type='set' id='a'><query xmlns='jabber:iq:pass' ver='1'/></iq>";
    assert_eq!(
        read(with_attr.as_bytes()),
        Err(Failure::Pass(ParsePassError::Query(
            ParseQueryError::AttributeOnQuery("ver".into())
        )))
    );
    let other = "<iq type='set' id='a'><query xmlns='jabber:iq:passs'/></iq>";
    assert_eq!(
        read(other.as_bytes()),
        Err(Failure::Pass(ParsePassError::WrongNamespace {
            name: "query".into(),
            namespace: "jabber:iq:passs".into()
        }))
    );
    let no_ns = "<iq type='get' id='a'><query/></iq>";
    assert!(matches!(
        read(no_ns.as_bytes()),
        Err(Failure::Pass(ParsePassError::WrongNamespace { .. }))
    ));
    let stanza_ns = "<iq xmlns='jabber:iq:pass' type='get' id='a'><query/></iq>";
    assert_eq!(
        read(stanza_ns.as_bytes()),
        Err(Failure::Iq(ParseIqError::NotAnIq))
    );
}

#[test]
fn duplicate_children() {
    for (inner, dup) in [
        ("<expire>1</expire><expire>2</expire>", "expire"),
        ("<oneshot/><oneshot/>", "oneshot"),
        ("<close/><close/><proxy port='1'>1.2.3.4</proxy>", "close"),
        (
            "<close/><proxy port='1'>1.2.3.4</proxy><proxy port='2'>1.2.3.4</proxy>",
            "proxy",
        ),
        (
            "<client port='1'>4.3.2.1</client><client port='1'>4.3.2.1</client><proxy port='2'>1.2.3.4</proxy>",
            "client",
        ),
    ] {
        assert_eq!(pass_error("set", inner), ParsePassError::DuplicateChild(dup), "{inner}");
    }
    // Several <server/> are several advertised addresses, not duplicates.
    assert!(read(
        iq(
            "result",
            "<server port='1'>1.2.3.4</server><server port='1'>::1</server>"
        )
        .as_bytes()
    )
    .is_ok());
}

#[test]
fn close_and_oneshot_must_be_empty() {
    for child in ["close", "oneshot"] {
        let name: &'static str = if child == "close" { "close" } else { "oneshot" };
        assert_eq!(
            query_error("set", &format!("<{child} now='1'/>")),
            ParseQueryError::UnexpectedAttribute {
                element: name,
                attr: "now".into()
            }
        );
        for content in ["yes", " ", "<expire/>"] {
            assert_eq!(
                query_error("set", &format!("<{child}>{content}</{child}>")),
                ParseQueryError::NotEmpty(name),
                "{child} {content:?}"
            );
        }
    }
}

#[test]
fn combinations_no_message_has() {
    assert_eq!(
        pass_error("set", "<server port='1'>1.2.3.4</server>"),
        ParsePassError::UnknownCombination {
            kind: IqType::Set,
            children: vec!["server"]
        }
    );
    assert_eq!(
        pass_error("set", "<client port='1'>4.3.2.1</client>"),
        ParsePassError::UnknownCombination {
            kind: IqType::Set,
            children: vec!["client"]
        }
    );
    assert_eq!(
        pass_error(
            "set",
            "<oneshot/><close/><proxy port='1'>1.2.3.4</proxy><expire/>"
        ),
        ParsePassError::UnexpectedChild {
            child: "expire",
            message: "oneshot notice"
        }
    );
    assert_eq!(
        pass_error("get", "<client/>"),
        ParsePassError::Query(ParseQueryError::EmptyHost("client"))
    );
    assert_eq!(
        pass_error("result", "<close/>"),
        ParsePassError::UnknownCombination {
            kind: IqType::Result,
            children: vec!["close"]
        }
    );
    let deny_with_server = "<iq type='error' id='a'><query xmlns='jabber:iq:pass'>\
        <server port='1'>1.2.3.4</server></query><error code='401'/></iq>";
    assert_eq!(
        read(deny_with_server.as_bytes()),
        Err(Failure::Pass(ParsePassError::UnexpectedChild {
            child: "server",
            message: "deny"
        }))
    );
}

#[test]
fn broken_envelopes() {
    let cases: [(&str, ParseIqError); 6] = [
        (
            "<iq type='get'><query xmlns='jabber:iq:pass'/></iq>",
            ParseIqError::MissingId,
        ),
        (
            "<iq id='a'><query xmlns='jabber:iq:pass'/></iq>",
            ParseIqError::MissingType,
        ),
        (
            "<iq id='a' type='GET'><query xmlns='jabber:iq:pass'/></iq>",
            ParseIqError::BadType("GET".into()),
        ),
        ("<iq id='a' type='set'/>", ParseIqError::PayloadCount(0)),
        (
            "<iq id='a' type='error'><query xmlns='jabber:iq:pass'/></iq>",
            ParseIqError::ErrorWithoutErrorChild,
        ),
        ("<message id='a' type='set'/>", ParseIqError::NotAnIq),
    ];
    for (xml, want) in cases {
        assert_eq!(read(xml.as_bytes()), Err(Failure::Iq(want)), "{xml}");
    }
    let bad_jid = "<iq id='a' type='get' to='a@b@c/'><query xmlns='jabber:iq:pass'/></iq>";
    assert!(matches!(
        read(bad_jid.as_bytes()),
        Err(Failure::Iq(ParseIqError::BadJid { attr: "to", .. }))
    ));
    let bad_code = "<iq id='a' type='error'><error code='four'/></iq>";
    assert!(matches!(
        read(bad_code.as_bytes()),
        Err(Failure::Iq(ParseIqError::BadError(_)))
    ));
}

#[test]
fn truncated_and_non_utf8_stanzas() {
    let whole = iq("set", "<expire>600</expire>");
    for cut in [1, 10, whole.len() / 2, whole.len() - 1] {
        assert_eq!(
            read(&whole.as_bytes()[..cut]),
            Err(Failure::Xml(XmlError::Truncated)),
            "cut at {cut}"
        );
    }
    let mut bytes = whole.clone().into_bytes();
    let at = whole.find("600").unwrap();
    bytes[at] = 0xff;
    assert_eq!(
        read(&bytes),
        Err(Failure::Xml(XmlError::InvalidUtf8 { offset: at }))
    );
}

#[test]
fn every_refusal_becomes_a_bad_request_saying_why() {
    let errors = [
        pass_error("set", "<expire>x</expire>"),
        pass_error("set", "<expire>1</expire><expire>1</expire>"),
        pass_error("set", &incoming("<client port='1'>h</client>")),
        pass_error("result", "<close/>"),
    ];
    for e in &errors {
        let s = StanzaError::from(e);
        assert_eq!(s.condition, Some(Condition::BadRequest));
        assert_eq!(s.code, Some(400));
        assert_eq!(s.text.as_deref(), Some(e.to_string().as_str()));
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(
        errors[0].to_string(),
        "<expire/> must be empty or a number of seconds (0 to 18446744073709551615), found \"x\""
    );
    let iq_err = ParseIqError::MissingId;
    assert_eq!(
        StanzaError::from(&iq_err).text.as_deref(),
        Some("<iq/> has no id attribute")
    );
}

fn listings() -> &'static [Vec<u8>] {
    static LISTINGS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LISTINGS.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../xsd/examples");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

fn survives_mutation(which: usize, edits: Vec<(usize, u8)>, cut: usize) -> TestResult {
    let all = listings();
    let mut bytes = all[which % all.len()].clone();
    for (at, b) in edits {
        let len = bytes.len();
        bytes[at % len] = b;
    }
    bytes.truncate(bytes.len() - cut % 4);
    // Either outcome is fine; a panic fails the property.
    let _ = read(&bytes);
    if let Ok(e) = parse_element(&bytes, &Limits::default()) {
        let _ = PassMessage::from_element_lenient(&e);
    }
    TestResult::passed()
}

/// No input makes the stack panic: mutated listings give Ok or a typed Err.
#[test]
fn mutated_listings_never_panic() {
    assert_eq!(listings().len(), 15, "14 listings and the corrected deny");
    QuickCheck::new()
        .tests(2000)
        .quickcheck(survives_mutation as fn(usize, Vec<(usize, u8)>, usize) -> TestResult);
}

/// Random queries assembled from the protocol's own vocabulary (so they get past
/// the XML reader and reach the query and message layers) never panic, and whatever
/// reads as a message is written back to the same message.
fn vocabulary_query(kind: u8, parts: Vec<(u8, u8, u8)>) -> TestResult {
    const NAMES: [&str; 7] = [
        "client", "close", "expire", "oneshot", "proxy", "server", "port",
    ];
    const PORTS: [&str; 7] = [
        "",
        " port='1'",
        " port='65535'",
        " port='0'",
        " port='x'",
        " port='43253'",
        " other='1'",
    ];
    const TEXTS: [&str; 9] = [
        "",
        "1.2.3.4",
        "::1",
        "600",
        "-1",
        "host.example",
        " ",
        "18446744073709551616",
        "a b",
    ];
    let kinds = ["get", "set", "result", "error"];
    let kind = kinds[kind as usize % kinds.len()];
    let mut inner = String::new();
    for (n, p, t) in parts.iter().take(6) {
        let name = NAMES[*n as usize % NAMES.len()];
        let attr = PORTS[*p as usize % PORTS.len()];
        let text = TEXTS[*t as usize % TEXTS.len()];
        inner.push_str(&format!("<{name}{attr}>{text}</{name}>"));
    }
    let mut xml = iq(kind, &inner);
    if kind == "error" {
        xml = xml.replace("</iq>", "<error code='401'/></iq>");
    }
    if let Ok(msg) = read(xml.as_bytes()) {
        let written = msg.to_iq("m1", None, None);
        if PassMessage::from_iq(&written).as_ref() != Ok(&msg) {
            return TestResult::error(format!("{xml} read as {msg:?}, which does not round-trip"));
        }
    }
    TestResult::passed()
}

#[test]
fn vocabulary_queries_never_panic_and_round_trip() {
    QuickCheck::new()
        .tests(3000)
        .quickcheck(vocabulary_query as fn(u8, Vec<(u8, u8, u8)>) -> TestResult);
}
