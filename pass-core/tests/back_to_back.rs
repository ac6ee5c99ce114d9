//! The core side of docs/DESIGN.md decision 50: a lease is free for its next caller
//! from the first close a host reports, so that a host which reports a session's end
//! before its peers can see it (pass-node does) never loses a back-to-back caller;
//! and a caller that does arrive on a busy lease is dropped *and counted*.

use pass_core::jid::Jid;
use pass_core::lease::{Action, Config, ConnId};
use pass_core::service::Service;
use pass_core::stanza::{IqType, PassMessage};
use pass_core::time::Instant;
use pass_core::xml::{parse_element, Limits};
use std::net::SocketAddr;

const OWNER: &str = "owner@example.org/home";

fn service() -> Service {
    let mut c = Config::new(
        Jid::new("pass.example.org").unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    // The call rate is not what is tested.
    c.call_burst = 1_000_000;
    c.call_per_second = 1_000_000;
    Service::new(c).unwrap()
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn drain(s: &mut Service) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

fn feed(s: &mut Service, now: Instant, xml: &str) -> Vec<Action> {
    let e = parse_element(xml.as_bytes(), &Limits::default()).unwrap();
    s.handle_stanza(now, &e);
    drain(s)
}

fn caller(n: u64) -> SocketAddr {
    SocketAddr::new("198.51.100.7".parse().unwrap(), 1024 + (n % 60_000) as u16)
}

/// Registers a lease for [`OWNER`] (request `id`); returns its port.
fn lease_with_id(s: &mut Service, id: &str) -> u16 {
    let reg = format!(
        "<iq type='set' id='{id}' from='{OWNER}' to='pass.example.org'><query xmlns='jabber:iq:pass'/></iq>"
    );
    let [Action::Listen { port }] = feed(s, at(0), &reg)[..] else {
        panic!("no listen for the register")
    };
    s.handle_listen_result(at(0), port, Ok(()));
    drain(s);
    port
}

fn lease(s: &mut Service) -> u16 {
    lease_with_id(s, "reg")
}

/// A caller `client` arrives on `lease` at `now` and is announced, accepted and
/// bridged with the owner's connection `owner`. Panics naming `n` if the caller is
/// dropped or not announced.
fn bridged(s: &mut Service, now: Instant, lease: u16, n: u64, client: ConnId, owner: ConnId) {
    s.handle_connection(now, client, lease, caller(n));
    let proxy = match drain(s)[..] {
        [Action::Listen { port }] => port,
        ref other => panic!("session {n}: caller not announced: {other:?}"),
    };
    s.handle_listen_result(now, proxy, Ok(()));
    let notice = match drain(s).as_slice() {
        [Action::Send(iq)] => iq.clone(),
        other => panic!("session {n}: no notice: {other:?}"),
    };
    assert_eq!(notice.kind, IqType::Set);
    assert!(matches!(
        PassMessage::from_iq(&notice),
        Ok(PassMessage::IncomingConnection { client: c, .. }) if c == caller(n)
    ));
    let accept = format!(
        "<iq type='result' id='{}' from='{OWNER}' to='pass.example.org'/>",
        notice.id
    );
    assert!(feed(s, now, &accept).is_empty());
    s.handle_connection(now, owner, proxy, "192.0.2.9:5000".parse().unwrap());
    let actions = drain(s);
    assert!(
        actions.contains(&Action::Bridge {
            client,
            owner,
            account: Jid::new("owner@example.org").unwrap(),
        }),
        "session {n}: not bridged: {actions:?}"
    );
}

#[test]
fn a_caller_after_the_first_close_is_announced_while_the_other_half_drains() {
    let mut s = service();
    let lease = lease(&mut s);
    let mut previous: Option<ConnId> = None;
    for n in 0..2000u64 {
        let now = at(n);
        let (client, owner) = (ConnId(2 * n + 1), ConnId(2 * n + 2));
        bridged(&mut s, now, lease, n, client, owner);
        // The half of the previous relay that was still draining ends only now,
        // after the next caller was bridged: it is ignored, the new relay stands.
        if let Some(late) = previous {
            s.handle_closed(now, late);
            assert_eq!(drain(&mut s), [], "session {n}: a late close touched it");
            assert_eq!(s.stats().relays, 1);
        }
        // The first close, either side: the session is over at once.
        let (first, other) = if n % 2 == 0 {
            (client, owner)
        } else {
            (owner, client)
        };
        s.handle_closed(now, first);
        assert_eq!(drain(&mut s), [], "session {n}: the host closes the relay");
        assert_eq!(s.stats().relays, 0);
        previous = Some(other);
    }
    assert_eq!(s.stats().calls_busy, 0);
}

/// A caller `conn` on `lease` is dropped at once; the counts of callers refused
/// (busy, over capacity) are then `counts`.
fn assert_refused(s: &mut Service, conn: ConnId, lease: u16, counts: (u64, u64)) {
    s.handle_connection(at(1), conn, lease, caller(conn.0));
    assert_eq!(drain(s), [Action::Drop { conn }]);
    let stats = s.stats();
    assert_eq!((stats.calls_busy, stats.calls_over_capacity), counts);
}

#[test]
fn a_caller_before_the_close_is_dropped_and_counted() {
    let mut s = service();
    let lease = lease(&mut s);
    bridged(&mut s, at(0), lease, 0, ConnId(1), ConnId(2));
    // The race decision 50 prevents in pass-node: the accept before the close.
    assert_refused(&mut s, ConnId(3), lease, (1, 0));
    // After the close, the next caller is announced.
    s.handle_closed(at(2), ConnId(1));
    drain(&mut s);
    bridged(&mut s, at(3), lease, 4, ConnId(4), ConnId(5));
    assert_eq!(s.stats().calls_busy, 1);
}

#[test]
fn a_caller_past_max_relays_is_dropped_and_counted_as_capacity() {
    let mut c = Config::new(
        Jid::new("pass.example.org").unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    c.max_relays = 1;
    c.max_leases_per_account = 2;
    let mut s = Service::new(c).unwrap();
    let a = lease(&mut s);
    let b = lease_with_id(&mut s, "reg2");
    bridged(&mut s, at(0), a, 0, ConnId(1), ConnId(2));
    assert_refused(&mut s, ConnId(3), b, (0, 1));
    // The relay's end frees the capacity.
    s.handle_closed(at(2), ConnId(2));
    drain(&mut s);
    bridged(&mut s, at(3), b, 4, ConnId(4), ConnId(5));
}
