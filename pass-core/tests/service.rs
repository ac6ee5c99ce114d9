//! The router: stanzas in as XML text, actions out.

use pass_core::jid::Jid;
use pass_core::lease::{Action, Config, ConnId};
use pass_core::ns;
use pass_core::service::Service;
use pass_core::stanza::disco::DiscoInfo;
use pass_core::stanza::{Condition, ErrorType, Iq, IqType, PassMessage};
use pass_core::time::Instant;
use pass_core::xml::{parse_element, Limits};

fn config() -> Config {
    let mut c = Config::new(
        Jid::new("pass.example.org").unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    c.iq_burst = 3;
    c.iq_per_second = 2;
    c
}

fn service() -> Service {
    Service::new(config()).unwrap()
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Feeds one stanza given as XML text; returns the actions.
fn feed(s: &mut Service, now: Instant, xml: &str) -> Vec<Action> {
    let e = parse_element(xml.as_bytes(), &Limits::default()).unwrap();
    s.handle_stanza(now, &e);
    std::iter::from_fn(|| s.poll_action()).collect()
}

fn only_send(actions: &[Action]) -> &Iq {
    match actions {
        [Action::Send(iq)] => iq,
        other => panic!("expected one Send, got {other:?}"),
    }
}

/// The one error sent: (code, condition, type, text).
fn only_error(actions: &[Action]) -> (u16, Condition, ErrorType, String) {
    let iq = only_send(actions);
    assert_eq!(iq.kind, IqType::Error, "{iq:?}");
    let e = iq.error.clone().unwrap();
    (
        e.code.unwrap(),
        e.condition.unwrap(),
        e.kind.unwrap(),
        e.text.unwrap_or_default(),
    )
}

const FROM: &str = "from='user@example.org/home' to='pass.example.org'";

#[test]
fn disco_info_advertises_the_pass_feature() {
    let mut s = service();
    let xml = format!(
        "<iq type='get' id='d1' {FROM}><query xmlns='{}'/></iq>",
        ns::DISCO_INFO
    );
    let actions = feed(&mut s, at(0), &xml);
    let iq = only_send(&actions);
    assert_eq!((iq.kind, iq.id.as_str()), (IqType::Result, "d1"));
    assert_eq!(iq.to, Some(Jid::new("user@example.org/home").unwrap()));
    assert_eq!(iq.from, Some(Jid::new("pass.example.org").unwrap()));
    let info = DiscoInfo::try_from(iq.payload.as_ref().unwrap()).unwrap();
    assert!(info.has_feature("jabber:iq:pass"));
    assert!(info.has_feature(ns::DISCO_INFO));
    assert!(info
        .identities
        .iter()
        .any(|i| i.category == "proxy" && i.kind == "pass"));
}

#[test]
fn ping_gets_an_empty_result() {
    let mut s = service();
    let actions = feed(
        &mut s,
        at(0),
        &format!("<iq type='get' id='p1' {FROM}><ping xmlns='urn:xmpp:ping'/></iq>"),
    );
    let iq = only_send(&actions);
    assert_eq!(
        (iq.kind, iq.id.as_str(), iq.payload.as_ref()),
        (IqType::Result, "p1", None)
    );
}

#[test]
fn unknown_namespace_is_service_unavailable() {
    let mut s = service();
    let xml = format!("<iq type='get' id='v1' {FROM}><query xmlns='jabber:iq:version'/></iq>");
    let (code, cond, kind, text) = only_error(&feed(&mut s, at(0), &xml));
    assert_eq!(
        (code, cond, kind),
        (503, Condition::ServiceUnavailable, ErrorType::Cancel)
    );
    assert!(text.contains("jabber:iq:version"), "{text}");
    // A disco#info *set* is not served either.
    let xml = format!(
        "<iq type='set' id='v2' {FROM}><query xmlns='{}'/></iq>",
        ns::DISCO_INFO
    );
    assert_eq!(only_error(&feed(&mut s, at(0), &xml)).0, 503);
}

#[test]
fn malformed_pass_payloads_get_bad_request_with_the_reason() {
    let cases = [
        "<expire>soon</expire>",
        "<expire>-5</expire>",
        "<expire>1</expire><expire>2</expire>",
        "<bogus/>",
        "<oneshot>yes</oneshot>",
        "<client port='0'>1.2.3.4</client><proxy port='1'>1.2.3.4</proxy>",
    ];
    for (i, body) in cases.iter().enumerate() {
        let mut s = service();
        let xml = format!(
            "<iq type='set' id='m{i}' {FROM}><query xmlns='jabber:iq:pass'>{body}</query></iq>"
        );
        let actions = feed(&mut s, at(0), &xml);
        let iq = only_send(&actions);
        assert_eq!(iq.id, format!("m{i}"));
        let (code, cond, kind, text) = only_error(&actions);
        assert_eq!(
            (code, cond, kind),
            (400, Condition::BadRequest, ErrorType::Modify),
            "{body}"
        );
        assert!(
            text.starts_with("invalid jabber:iq:pass payload: ") && text.len() > 33,
            "{body}: {text}"
        );
    }
}

#[test]
fn malformed_iq_is_answered_when_it_says_who_to_answer() {
    let mut s = service();
    // A set with two payloads.
    let xml = format!("<iq type='set' id='x1' {FROM}><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>");
    let (code, _, _, text) = only_error(&feed(&mut s, at(0), &xml));
    assert_eq!(code, 400);
    assert!(text.starts_with("malformed IQ: "), "{text}");
    // Unknown type.
    let xml = format!("<iq type='push' id='x2' {FROM}><ping xmlns='urn:xmpp:ping'/></iq>");
    assert_eq!(only_error(&feed(&mut s, at(0), &xml)).0, 400);
    // No id, or no from: nobody to answer.
    assert!(feed(
        &mut s,
        at(0),
        &format!("<iq type='get' {FROM}><ping xmlns='urn:xmpp:ping'/></iq>")
    )
    .is_empty());
    assert!(feed(
        &mut s,
        at(0),
        "<iq type='get' id='x3'><ping xmlns='urn:xmpp:ping'/></iq>"
    )
    .is_empty());
    // A broken error is never answered.
    assert!(feed(&mut s, at(0), &format!("<iq type='error' id='x4' {FROM}/>")).is_empty());
}

#[test]
fn get_or_set_without_payload_is_a_bad_request() {
    let mut s = service();
    let (code, cond, _, _) = only_error(&feed(
        &mut s,
        at(0),
        &format!("<iq type='set' id='e1' {FROM}/>"),
    ));
    assert_eq!((code, cond), (400, Condition::BadRequest));
}

#[test]
fn messages_presence_and_stray_results_are_ignored() {
    let mut s = service();
    assert!(feed(
        &mut s,
        at(0),
        &format!("<message {FROM}><body>hi</body></message>")
    )
    .is_empty());
    assert!(feed(&mut s, at(0), &format!("<presence {FROM}/>")).is_empty());
    assert!(feed(
        &mut s,
        at(0),
        &format!("<iq type='result' id='pass-1' {FROM}/>")
    )
    .is_empty());
    assert!(feed(&mut s, at(0), &format!("<iq type='error' id='zz' {FROM}><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")).is_empty());
    assert_eq!(s.stats().errors_sent, []);
}

#[test]
fn rate_limit_answers_resource_constraint_per_account() {
    let mut s = service();
    let ping = |from: &str, id: u32| {
        format!("<iq type='get' id='r{id}' from='{from}' to='pass.example.org'><ping xmlns='urn:xmpp:ping'/></iq>")
    };
    // Burst of 3 shared by every resource of the account.
    for (i, res) in ["a", "b", "c"].iter().enumerate() {
        let actions = feed(
            &mut s,
            at(1000),
            &ping(&format!("user@example.org/{res}"), i as u32),
        );
        assert_eq!(only_send(&actions).kind, IqType::Result);
    }
    let (code, cond, kind, text) =
        only_error(&feed(&mut s, at(1000), &ping("user@example.org/d", 9)));
    assert_eq!(
        (code, cond, kind),
        (500, Condition::ResourceConstraint, ErrorType::Wait)
    );
    assert!(text.contains("too many requests"), "{text}");
    // Another account is not limited.
    assert_eq!(
        only_send(&feed(&mut s, at(1000), &ping("other@example.org/x", 10))).kind,
        IqType::Result
    );
    // 2 a second: one more after 500 ms.
    assert_eq!(
        only_send(&feed(&mut s, at(1500), &ping("user@example.org/a", 11))).kind,
        IqType::Result
    );
    assert_eq!(
        only_error(&feed(&mut s, at(1500), &ping("user@example.org/a", 12))).0,
        500
    );
    assert_eq!(s.stats().errors_sent, [(500, 2)]);
}

#[test]
fn owner_answers_are_not_rate_limited() {
    let mut s = service();
    let register = format!("<iq type='set' id='reg' {FROM}><query xmlns='jabber:iq:pass'/></iq>");
    let actions = feed(&mut s, at(0), &register);
    let [Action::Listen { port }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    s.handle_listen_result(at(0), *port, Ok(()));
    while s.poll_action().is_some() {}
    s.handle_connection(
        at(0),
        ConnId(1),
        *port,
        "198.51.100.7:1234".parse().unwrap(),
    );
    let Some(Action::Listen { port: proxy }) = s.poll_action() else {
        panic!("no proxy listen")
    };
    s.handle_listen_result(at(0), proxy, Ok(()));
    let Some(Action::Send(notice)) = s.poll_action() else {
        panic!("no notice")
    };
    // Spend the account's burst.
    for i in 0..5 {
        feed(
            &mut s,
            at(0),
            &format!("<iq type='get' id='p{i}' {FROM}><ping xmlns='urn:xmpp:ping'/></iq>"),
        );
    }
    // The accept still counts.
    let accept = format!(
        "<iq type='result' id='{}' from='user@example.org/home' to='pass.example.org'/>",
        notice.id
    );
    assert!(feed(&mut s, at(0), &accept).is_empty());
    s.handle_connection(at(1), ConnId(2), proxy, "198.51.100.8:1".parse().unwrap());
    let actions: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
    assert!(
        actions.iter().any(|a| matches!(a, Action::Bridge { .. })),
        "{actions:?}"
    );
}

#[test]
fn register_through_the_router_and_close_it() {
    let mut s = service();
    let actions = feed(&mut s, at(0), &format!("<iq type='set' id='pass1' {FROM}><query xmlns='jabber:iq:pass'><expire>600</expire></query></iq>"));
    let [Action::Listen { port }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    s.handle_listen_result(at(0), *port, Ok(()));
    let result = s.poll_action().unwrap();
    let Action::Send(iq) = result else { panic!() };
    assert!(matches!(
        PassMessage::from_iq(&iq).unwrap(),
        PassMessage::Registered { .. }
    ));
    let close = format!(
        "<iq type='set' id='pass5' {FROM}><query xmlns='jabber:iq:pass'><close/><proxy port='{port}'>192.0.2.1</proxy></query></iq>"
    );
    let actions = feed(&mut s, at(1), &close);
    assert_eq!(actions[0], Action::Unlisten { port: *port });
    let Action::Send(ack) = &actions[1] else {
        panic!("{actions:?}")
    };
    assert_eq!((ack.kind, ack.id.as_str()), (IqType::Result, "pass5"));
    assert_eq!(s.stats().leases, 0);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn invalid_config_is_refused() {
    let mut c = config();
    c.iq_burst = 0;
    assert_eq!(Service::new(c).unwrap_err().field, "iq_burst");
}

/// Feeds one stanza parsed with the relaxed limits a framer uses, so that the
/// service's own strict check is what refuses it.
fn feed_framed(s: &mut Service, now: Instant, xml: &str) -> Vec<Action> {
    let loose = s.config().stanza_limits.relaxed_for_framing();
    let e = parse_element(xml.as_bytes(), &loose).unwrap();
    s.handle_stanza(now, &e);
    std::iter::from_fn(|| s.poll_action()).collect()
}

#[test]
fn stanza_over_a_strict_limit_is_refused_alone_with_policy_violation() {
    let mut s = service();
    let depth = s.config().stanza_limits.max_depth;
    let deep = format!(
        "<iq type='get' id='deep' {FROM}><ping xmlns='urn:xmpp:ping'>{}{}</ping></iq>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let (code, cond, kind, text) = only_error(&feed_framed(&mut s, at(0), &deep));
    assert_eq!(
        (code, cond, kind),
        (406, Condition::PolicyViolation, ErrorType::Modify)
    );
    assert_eq!(text, "stanza exceeds the element nesting depth limit");

    let big = "x".repeat(s.config().stanza_limits.max_attribute_bytes + 1);
    let huge = format!(
        "<iq type='set' id='huge' {FROM}><query xmlns='jabber:iq:pass' junk='{big}'><expire>60</expire></query></iq>"
    );
    let actions = feed_framed(&mut s, at(0), &huge);
    assert_eq!(only_send(&actions).id, "huge");
    let (_, cond, _, text) = only_error(&actions);
    assert_eq!(cond, Condition::PolicyViolation);
    assert_eq!(
        text,
        "stanza exceeds the attribute value length in bytes limit"
    );
    // The lease machine never saw the register.
    assert_eq!(s.stats().leases, 0);
    assert_eq!(s.stats().errors_sent, [(406, 2)]);

    // A normal request after them is still answered.
    let ping = format!("<iq type='get' id='p1' {FROM}><ping xmlns='urn:xmpp:ping'/></iq>");
    let answer = only_send(&feed_framed(&mut s, at(0), &ping)).clone();
    assert_eq!((answer.kind, answer.id.as_str()), (IqType::Result, "p1"));
}

#[test]
fn stanza_over_a_strict_limit_without_someone_to_answer_is_ignored() {
    let mut s = service();
    let big = "x".repeat(s.config().stanza_limits.max_text_bytes + 1);
    for xml in [
        format!("<message {FROM}><body>{big}</body></message>"),
        format!("<iq type='result' id='r1' {FROM}><q xmlns='urn:q'>{big}</q></iq>"),
        format!("<iq type='get' {FROM}><q xmlns='urn:q'>{big}</q></iq>"),
        format!("<iq type='get' id='r2' to='pass.example.org'><q xmlns='urn:q'>{big}</q></iq>"),
    ] {
        assert!(feed_framed(&mut s, at(0), &xml).is_empty(), "{xml}");
    }
    assert_eq!(s.stats().errors_sent, []);
}

#[test]
fn stanza_limits_are_a_setting() {
    let mut c = config();
    c.stanza_limits.max_text_bytes = 4;
    let mut s = Service::new(c).unwrap();
    let ping = |text: &str| {
        format!("<iq type='get' id='t' {FROM}><ping xmlns='urn:xmpp:ping'/>{text}</iq>")
    };
    assert_eq!(
        only_error(&feed_framed(&mut s, at(0), &ping("12345"))).1,
        Condition::PolicyViolation
    );
    assert_eq!(
        only_send(&feed_framed(&mut s, at(0), &ping("1234"))).kind,
        IqType::Result
    );
}
