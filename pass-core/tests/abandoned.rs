//! Abandoned leases (docs/DESIGN.md decisions 100, 94 and 101): a lease whose
//! owner's server bounces a notice with an error meaning the owner is gone loses
//! that caller and ends, no notice, when `reconnect_grace` passes with no IQ from
//! the owner's full JID (at once with a zero grace); a lease with no caller and no
//! `jabber:iq:pass` IQ from its account for `max_idle_lease` ends with an expire
//! notice. A deny keeps the lease.

use pass_core::jid::Jid;
use pass_core::lease::{owner_is_gone, Action, Config, ConnId};
use pass_core::service::Service;
use pass_core::stanza::{Condition, Iq, IqType, StanzaError};
use pass_core::time::{Duration, Instant};
use pass_core::xml::{parse_element, Limits};

const OWNER: &str = "owner@example.org/home";
const SERVICE: &str = "pass.example.org";
const IDLE: u64 = 100;
const GRACE: u64 = 60;

fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1000)
}

fn service(max_idle_lease: Duration) -> Service {
    service_with(max_idle_lease, Config::DEFAULT_RECONNECT_GRACE)
}

fn service_with(max_idle_lease: Duration, reconnect_grace: Duration) -> Service {
    let mut c = Config::new(
        Jid::new(SERVICE).unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    c.first_port = 40000;
    c.last_port = 40009;
    c.max_idle_lease = max_idle_lease;
    c.reconnect_grace = reconnect_grace;
    Service::new(c).unwrap()
}

fn drain(s: &mut Service) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

/// A `jabber:iq:pass` set from `from` at `now`, `inner` inside its query.
fn pass_set(s: &mut Service, now: Instant, id: &str, from: &str, inner: &str) {
    let xml = format!(
        "<iq type='set' id='{id}' from='{from}' to='{SERVICE}'><query xmlns='jabber:iq:pass'>{inner}</query></iq>"
    );
    let e = parse_element(xml.as_bytes(), &Limits::default()).unwrap();
    s.handle_stanza(now, &e);
}

/// A granted lease at `now`: its port.
fn lease(s: &mut Service, now: Instant, id: &str) -> u16 {
    pass_set(s, now, id, OWNER, "");
    let [Action::Listen { port }] = drain(s)[..] else {
        panic!("no listen for the register")
    };
    s.handle_listen_result(now, port, Ok(()));
    let granted = drain(s);
    assert!(
        matches!(&granted[..], [Action::Send(iq)] if iq.kind == IqType::Result),
        "{granted:?}"
    );
    port
}

/// A caller `conn` on `port` at `now`: the proxy port and the notice to the owner.
fn call(s: &mut Service, now: Instant, port: u16, conn: u64) -> (u16, Iq) {
    s.handle_connection(now, ConnId(conn), port, "198.51.100.7:1".parse().unwrap());
    let [Action::Listen { port: proxy }] = drain(s)[..] else {
        panic!("no proxy listen")
    };
    s.handle_listen_result(now, proxy, Ok(()));
    let actions = drain(s);
    let [Action::Send(notice)] = &actions[..] else {
        panic!("no notice: {actions:?}")
    };
    (proxy, notice.clone())
}

/// The error IQ answering `notice`, as the owner's server (or client) sends it.
fn error_answer(s: &mut Service, now: Instant, notice: &Iq, condition: Condition) {
    error_answer_from(s, now, notice, condition, OWNER)
}

/// A get from `from` carrying `payload` (raw XML).
fn get_from(s: &mut Service, now: Instant, from: &str, payload: &str) {
    let xml = format!("<iq type='get' id='g1' from='{from}' to='{SERVICE}'>{payload}</iq>");
    let e = parse_element(xml.as_bytes(), &Limits::default()).unwrap();
    s.handle_stanza(now, &e);
}

fn error_answer_from(s: &mut Service, now: Instant, notice: &Iq, condition: Condition, from: &str) {
    let iq = Iq {
        id: notice.id.clone(),
        kind: IqType::Error,
        from: Some(Jid::new(from).unwrap()),
        to: Some(Jid::new(SERVICE).unwrap()),
        payload: None,
        error: Some(StanzaError::new(condition)),
    };
    s.handle_stanza(now, &iq.to_element());
}

/// A lease whose first caller's notice is answered with `condition`: the service,
/// the lease port, the proxy port and what the answer made the service do.
fn caller_answered_with(condition: Condition) -> (Service, u16, u16, Vec<Action>) {
    caller_answered_with_grace(condition, Duration::from_secs(GRACE))
}

fn caller_answered_with_grace(
    condition: Condition,
    grace: Duration,
) -> (Service, u16, u16, Vec<Action>) {
    let mut s = service_with(Duration::ZERO, grace);
    let port = lease(&mut s, secs(0), "r1");
    let (proxy, notice) = call(&mut s, secs(1), port, 1);
    error_answer(&mut s, secs(2), &notice, condition);
    let actions = drain(&mut s);
    (s, port, proxy, actions)
}

fn expire_notice(actions: &[Action], port: u16) -> bool {
    actions.iter().any(|a| match a {
        Action::Send(iq) => {
            iq.kind == IqType::Set
                && iq.to.as_ref().map(ToString::to_string).as_deref() == Some(OWNER)
                && iq.payload.as_ref().is_some_and(|q| {
                    q.elements().any(|c| c.name == "expire")
                        && q.elements()
                            .any(|c| c.name == "proxy" && c.attr("port") == Some(&port.to_string()))
                })
        }
        _ => false,
    })
}

/// The lease ended as its owner's: the port back in the pool (`free` ports), counted
/// once; the account's lease count went with it, so a new session registers anew.
fn assert_ended_as_owner_gone(s: &mut Service, free: usize, condition: Condition, now: Instant) {
    let stats = s.stats();
    assert_eq!(
        (stats.leases, stats.ports_free, stats.leases_owner_gone),
        (0, free, 1),
        "{condition:?}"
    );
    lease(s, now, "r2");
}

/// The owner's `result` accepting `notice`.
fn accept(s: &mut Service, now: Instant, notice: &Iq) {
    let iq = Iq {
        id: notice.id.clone(),
        kind: IqType::Result,
        from: Some(Jid::new(OWNER).unwrap()),
        to: Some(Jid::new(SERVICE).unwrap()),
        payload: None,
        error: None,
    };
    s.handle_stanza(now, &iq.to_element());
}

const GONE: [Condition; 4] = [
    Condition::ServiceUnavailable,
    Condition::RecipientUnavailable,
    Condition::ItemNotFound,
    Condition::Gone,
];

#[test]
fn a_bounce_drops_the_caller_and_the_lease_ends_without_a_notice_when_the_grace_runs_out() {
    for condition in GONE {
        let free = service(Duration::ZERO).stats().ports_free;
        let (mut s, port, proxy, actions) = caller_answered_with(condition);
        assert_eq!(
            actions,
            [
                Action::Drop { conn: ConnId(1) },
                Action::Unlisten { port: proxy },
            ],
            "{condition:?}: caller dropped, the lease port still listens"
        );
        assert_eq!((s.stats().leases, s.stats().leases_owner_gone), (1, 0));
        // The bounce came at 2 s: the grace runs out at 2 s + GRACE, not before.
        assert_eq!(s.poll_timeout(), Some(secs(2 + GRACE)));
        s.handle_timeout(Instant::from_millis((2 + GRACE) * 1000 - 1));
        assert!(
            drain(&mut s).is_empty(),
            "{condition:?}: still in its grace"
        );
        s.handle_timeout(secs(2 + GRACE));
        assert_eq!(
            drain(&mut s),
            [Action::Unlisten { port }],
            "{condition:?}: the lease port let go, no notice"
        );
        assert_eq!(s.poll_timeout(), None, "no timer left behind");
        assert_ended_as_owner_gone(&mut s, free, condition, secs(3 + GRACE));
    }
}

#[test]
fn with_no_grace_a_bounce_meaning_the_owner_is_gone_ends_the_lease_without_a_notice() {
    for condition in GONE {
        let free = service(Duration::ZERO).stats().ports_free;
        let (mut s, port, proxy, actions) = caller_answered_with_grace(condition, Duration::ZERO);
        assert_eq!(
            actions,
            [
                Action::Drop { conn: ConnId(1) },
                Action::Unlisten { port: proxy },
                Action::Unlisten { port },
            ],
            "{condition:?}: caller dropped, both ports let go, no notice"
        );
        assert_ended_as_owner_gone(&mut s, free, condition, secs(3));
    }
}

#[test]
fn callers_during_the_grace_are_announced_and_dropped_at_their_bounce_which_does_not_extend_it() {
    let (mut s, port, _, _) = caller_answered_with(Condition::ServiceUnavailable);
    // Bounced at 2 s. Another caller at 30 s: announced (the owner may be back
    // without having said so), bounced, dropped.
    let (proxy, notice) = call(&mut s, secs(30), port, 2);
    error_answer(&mut s, secs(30), &notice, Condition::ServiceUnavailable);
    assert_eq!(
        drain(&mut s),
        [
            Action::Drop { conn: ConnId(2) },
            Action::Unlisten { port: proxy },
        ]
    );
    // The grace still ends 60 s after the first bounce.
    assert_eq!(s.poll_timeout(), Some(secs(2 + GRACE)));
    s.handle_timeout(secs(2 + GRACE));
    assert_eq!(drain(&mut s), [Action::Unlisten { port }]);
    assert_eq!(s.stats().leases_owner_gone, 1);
}

#[test]
fn any_iq_from_the_owners_full_jid_ends_the_grace_and_the_lease_serves_again() {
    for payload in [
        "<ping xmlns='urn:xmpp:ping'/>",
        "<query xmlns='http://jabber.org/protocol/disco#info'/>",
        "<query xmlns='jabber:iq:version'/>",
    ] {
        let (mut s, port, _, _) = caller_answered_with(Condition::ServiceUnavailable);
        get_from(&mut s, secs(10), OWNER, payload);
        drain(&mut s);
        assert_eq!(s.poll_timeout(), None, "{payload}: the grace is over");
        s.handle_timeout(secs(10 * GRACE));
        assert!(drain(&mut s).is_empty(), "{payload}");
        assert_eq!((s.stats().leases, s.stats().leases_owner_gone), (1, 0));
        // The next caller is announced and accepted.
        let (_, notice) = call(&mut s, secs(10 * GRACE), port, 2);
        accept(&mut s, secs(10 * GRACE), &notice);
        assert!(drain(&mut s).is_empty(), "{payload}: waits for the owner");
        assert_eq!(s.stats().pending, 1);
    }
}

#[test]
fn only_the_owners_full_jid_and_no_bounce_ends_the_grace() {
    let (mut s, port, _, _) = caller_answered_with(Condition::ServiceUnavailable);
    // Another resource of the account, another account, a bounce from the owner's
    // JID of something else: none says the owner's resource is back.
    get_from(
        &mut s,
        secs(5),
        "owner@example.org/laptop",
        "<ping xmlns='urn:xmpp:ping'/>",
    );
    get_from(
        &mut s,
        secs(5),
        "other@example.org/home",
        "<ping xmlns='urn:xmpp:ping'/>",
    );
    let stray = Iq {
        id: "stray".into(),
        kind: IqType::Error,
        from: Some(Jid::new(OWNER).unwrap()),
        to: Some(Jid::new(SERVICE).unwrap()),
        payload: None,
        error: Some(StanzaError::new(Condition::RecipientUnavailable)),
    };
    s.handle_stanza(secs(6), &stray.to_element());
    drain(&mut s);
    s.handle_timeout(secs(2 + GRACE));
    assert_eq!(drain(&mut s), [Action::Unlisten { port }]);
    assert_eq!((s.stats().leases, s.stats().leases_owner_gone), (0, 1));
}

#[test]
fn the_default_grace_is_a_minute() {
    assert_eq!(Config::DEFAULT_RECONNECT_GRACE, Duration::from_secs(60));
    let c = Config::new(
        Jid::new(SERVICE).unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    assert_eq!(c.reconnect_grace, Config::DEFAULT_RECONNECT_GRACE);
}

#[test]
fn a_deny_keeps_the_lease() {
    for condition in [Condition::NotAuthorized, Condition::NotAcceptable] {
        assert!(!owner_is_gone(condition));
        let (mut s, port, proxy, actions) = caller_answered_with(condition);
        assert_eq!(
            actions,
            [
                Action::Drop { conn: ConnId(1) },
                Action::Unlisten { port: proxy }
            ]
        );
        assert_eq!((s.stats().leases, s.stats().leases_owner_gone), (1, 0));
        // The lease takes the next caller.
        call(&mut s, secs(3), port, 2);
    }
}

#[test]
fn a_lease_idle_for_max_idle_lease_ends_with_an_expire_notice() {
    let mut s = service(Duration::from_secs(IDLE));
    let port = lease(&mut s, secs(0), "r1");
    assert_eq!(s.poll_timeout(), Some(secs(IDLE)));
    s.handle_timeout(Instant::from_millis(IDLE * 1000 - 1));
    assert!(drain(&mut s).is_empty(), "not yet idle for long enough");
    s.handle_timeout(secs(IDLE));
    let actions = drain(&mut s);
    assert!(actions.contains(&Action::Unlisten { port }), "{actions:?}");
    assert!(expire_notice(&actions, port), "{actions:?}");
    assert_eq!((s.stats().leases, s.stats().leases_idle), (0, 1));
    assert_eq!(s.poll_timeout(), None, "no timer left behind");
}

#[test]
fn a_caller_restarts_the_idle_period() {
    let mut s = service(Duration::from_secs(IDLE));
    let port = lease(&mut s, secs(0), "r1");
    let (_, notice) = call(&mut s, secs(50), port, 1);
    error_answer(&mut s, secs(50), &notice, Condition::NotAuthorized);
    drain(&mut s);
    s.handle_timeout(secs(IDLE));
    assert!(drain(&mut s).is_empty(), "a caller came at 50 s");
    assert_eq!(s.poll_timeout(), Some(secs(50 + IDLE)));
    s.handle_timeout(secs(50 + IDLE));
    assert!(expire_notice(&drain(&mut s), port));
    assert_eq!(s.stats().leases_idle, 1);
}

#[test]
fn only_a_request_from_the_account_restarts_the_idle_period() {
    // Another resource of the owner's account closes a port it does not hold
    // (404): the account is alive. Another account registering says nothing of it.
    for (from, inner, keeps_alive) in [
        (
            "owner@example.org/laptop",
            "<close/><proxy port='1'>192.0.2.1</proxy>",
            true,
        ),
        ("other@example.org/x", "", false),
    ] {
        let mut s = service(Duration::from_secs(IDLE));
        let port = lease(&mut s, secs(0), "r1");
        pass_set(&mut s, secs(80), "x1", from, inner);
        drain(&mut s);
        s.handle_timeout(secs(IDLE));
        assert_eq!(
            expire_notice(&drain(&mut s), port),
            !keeps_alive,
            "{from} spoke at 80 s"
        );
        s.handle_timeout(secs(80 + IDLE));
        assert_eq!(s.stats().leases, 0, "{from}: idle from 80 s at the latest");
    }
}

#[test]
fn a_relay_in_flight_is_not_idle() {
    let mut s = service(Duration::from_secs(IDLE));
    let port = lease(&mut s, secs(0), "r1");
    let (proxy, notice) = call(&mut s, secs(10), port, 1);
    accept(&mut s, secs(10), &notice);
    s.handle_connection(secs(10), ConnId(2), proxy, "192.0.2.50:9".parse().unwrap());
    let actions = drain(&mut s);
    assert!(
        actions.iter().any(|a| matches!(a, Action::Bridge { .. })),
        "{actions:?}"
    );
    // Still relaying when the idle period would end.
    s.handle_timeout(secs(10 + IDLE));
    assert!(drain(&mut s).is_empty(), "a relay is life");
    assert_eq!(s.stats().leases, 1);
    // The relay ends at 300 s; the lease is idle from then.
    s.handle_closed(secs(300), ConnId(1));
    s.handle_closed(secs(300), ConnId(2));
    drain(&mut s);
    s.handle_timeout(Instant::from_millis((300 + IDLE) * 1000 - 1));
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(secs(300 + IDLE));
    assert!(expire_notice(&drain(&mut s), port));
}

#[test]
fn zero_turns_the_idle_check_off() {
    let mut s = service(Duration::ZERO);
    lease(&mut s, secs(0), "r1");
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(secs(10 * 365 * 24 * 3600));
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.stats().leases, 1);
}

#[test]
fn the_default_is_a_day() {
    assert_eq!(
        Config::DEFAULT_MAX_IDLE_LEASE,
        Duration::from_secs(24 * 3600)
    );
    let c = Config::new(
        Jid::new(SERVICE).unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    assert_eq!(c.max_idle_lease, Config::DEFAULT_MAX_IDLE_LEASE);
}
