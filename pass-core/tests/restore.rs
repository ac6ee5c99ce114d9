//! Leases across a restart (docs/DESIGN.md decisions 52 and 53), on the simulated
//! host: every grant and end is a change the host can write down; the leases a host
//! kept are taken up again on the same ports with their expiry; one that expired
//! meanwhile, or whose port cannot listen again, ends with an expire notice; a
//! suspend stops listening but keeps the leases, with no notice.

use pass_core::jid::Jid;
use pass_core::lease::{Config, ConnId, LeaseChange, LeaseRecord, ListenError};
use pass_core::service::Service;
use pass_core::sim::{Checks, Listens, ReadEvent, Sim, SimConfig};
use pass_core::stanza::{Iq, IqType, PassMessage};
use pass_core::time::{Duration, Instant};
use pass_core::xml::{parse_element, Limits};
use pass_core::Engine;
use std::net::SocketAddr;

const OWNER: &str = "owner@example.org/home";
const SERVICE: &str = "pass.example.org";
const FIRST: u16 = 40000;
const LAST: u16 = 40009;

fn config() -> Config {
    let mut c = Config::new(
        Jid::new(SERVICE).unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    c.first_port = FIRST;
    c.last_port = LAST;
    c
}

fn sim_config(listens: Listens) -> SimConfig {
    SimConfig {
        listens,
        checks: Some(Checks::for_config(&config())),
        ..SimConfig::default()
    }
}

/// A node's first start: a service that reports lease changes (restored from
/// nothing), in a host that answers listens at once.
fn first_start() -> Sim<Service> {
    let mut s = Service::new(config()).unwrap();
    s.restore(Instant::from_millis(0), Vec::new());
    Sim::new(s, sim_config(Listens::Auto))
}

/// A restart: a fresh service restored from `records` at its own time 0.
fn restart(records: Vec<LeaseRecord>, listens: Listens) -> Sim<Service> {
    let mut s = Service::new(config()).unwrap();
    s.restore(Instant::from_millis(0), records);
    let mut sim = Sim::new(s, sim_config(listens));
    // The host carries out what the restore asked for (the listens).
    sim.wake();
    sim
}

fn changes(sim: &mut Sim<Service>) -> Vec<LeaseChange> {
    std::iter::from_fn(|| sim.engine_mut().poll_lease_change()).collect()
}

fn sent(sim: &mut Sim<Service>) -> Vec<Iq> {
    std::iter::from_fn(|| sim.next_sent()).collect()
}

fn register(sim: &mut Sim<Service>, id: &str, inner: &str) -> u16 {
    let xml = format!(
        "<iq type='set' id='{id}' from='{OWNER}' to='{SERVICE}'><query xmlns='jabber:iq:pass'>{inner}</query></iq>"
    );
    sim.stanza(&parse_element(xml.as_bytes(), &Limits::default()).unwrap());
    let result = sim.next_sent().expect("no register result");
    assert_eq!(result.kind, IqType::Result, "{result:?}");
    let Ok(PassMessage::Registered { servers }) = PassMessage::from_iq(&result) else {
        panic!("not a register result: {result:?}")
    };
    servers[0].port()
}

fn is_expire_notice(iq: &Iq, port: u16) -> bool {
    iq.kind == IqType::Set
        && iq.to.as_ref().map(ToString::to_string).as_deref() == Some(OWNER)
        && matches!(PassMessage::from_iq(iq), Ok(PassMessage::ExpireNotice { proxy }) if proxy.port() == port)
}

fn record(port: u16, oneshot: bool, expires_at: Option<Instant>) -> LeaseRecord {
    LeaseRecord::new(port, Jid::new(OWNER).unwrap(), oneshot, expires_at)
}

fn peer() -> SocketAddr {
    "198.51.100.7:4000".parse().unwrap()
}

/// A caller on `port` is announced to the owner: the caller and the notice.
fn caller_is_announced(sim: &mut Sim<Service>, port: u16) -> (ConnId, Iq) {
    let caller = sim
        .connect(port, peer())
        .expect("the lease port does not listen");
    let notice = sim.next_sent().expect("the caller was not announced");
    assert!(
        matches!(PassMessage::from_iq(&notice), Ok(PassMessage::IncomingConnection { client, .. }) if client == peer()),
        "{notice:?}"
    );
    (caller, notice)
}

#[test]
fn every_grant_and_every_end_is_a_change() {
    let mut sim = first_start();
    let port = register(&mut sim, "r1", "<expire>600</expire><oneshot/>");
    assert_eq!(
        changes(&mut sim),
        [LeaseChange::Granted(record(
            port,
            true,
            Some(Instant::from_millis(600_000))
        ))]
    );
    let other = register(&mut sim, "r2", "");
    assert_eq!(
        changes(&mut sim),
        [LeaseChange::Granted(record(other, false, None))]
    );
    let close = format!(
        "<iq type='set' id='c1' from='{OWNER}' to='{SERVICE}'><query xmlns='jabber:iq:pass'><close/><proxy port='{other}'>192.0.2.1</proxy></query></iq>"
    );
    sim.stanza(&parse_element(close.as_bytes(), &Limits::default()).unwrap());
    assert_eq!(changes(&mut sim), [LeaseChange::Ended { port: other }]);
    sim.advance_to(Instant::from_millis(600_000));
    assert_eq!(changes(&mut sim), [LeaseChange::Ended { port }]);
    assert_eq!(sim.check(), Ok(()));
}

#[test]
fn no_change_is_queued_unless_the_host_restored() {
    let mut sim = Sim::new(Service::new(config()).unwrap(), sim_config(Listens::Auto));
    register(&mut sim, "r1", "");
    assert_eq!(changes(&mut sim), []);
}

#[test]
fn a_restored_lease_listens_on_its_port_again_and_serves_a_caller() {
    let mut before = first_start();
    let port = register(&mut before, "r1", "<expire>600</expire>");
    let kept: Vec<LeaseRecord> = before.engine().lease_records();
    assert_eq!(
        kept,
        [record(port, false, Some(Instant::from_millis(600_000)))]
    );
    drop(before);

    let mut sim = restart(kept, Listens::Auto);
    assert!(sim.listening().contains(&port), "{:?}", sim.listening());
    assert_eq!(sent(&mut sim), [], "a restored lease sends nothing");
    assert_eq!(changes(&mut sim), [], "a restored lease is no change");
    assert_eq!(sim.engine().stats().leases, 1);
    caller_is_announced(&mut sim, port);
    assert_eq!(sim.check(), Ok(()));
}

#[test]
fn a_restored_lease_keeps_its_expiry() {
    // Granted at 0 for 600 s; the node restarts 100 s later, so the lease has 500 s
    // left on the new run's clock (the host converts through wall-clock time).
    let mut sim = restart(
        vec![record(
            FIRST + 3,
            false,
            Some(Instant::from_millis(500_000)),
        )],
        Listens::Auto,
    );
    sim.advance_to(Instant::from_millis(499_999));
    assert_eq!(sent(&mut sim), []);
    assert!(sim.listening().contains(&(FIRST + 3)));
    sim.advance_to(Instant::from_millis(500_000));
    let notices = sent(&mut sim);
    assert!(
        matches!(&notices[..], [n] if is_expire_notice(n, FIRST + 3)),
        "{notices:?}"
    );
    assert_eq!(changes(&mut sim), [LeaseChange::Ended { port: FIRST + 3 }]);
    assert!(!sim.listening().contains(&(FIRST + 3)));
    assert_eq!(sim.check(), Ok(()));
}

#[test]
fn a_lease_that_expired_while_down_gets_its_notice_and_no_port() {
    let mut s = Service::new(config()).unwrap();
    s.restore(
        Instant::from_millis(5_000),
        vec![
            record(FIRST + 1, false, Some(Instant::from_millis(4_000))),
            record(FIRST + 2, false, Some(Instant::from_millis(5_000))),
        ],
    );
    let mut sim = Sim::new(s, sim_config(Listens::Auto));
    sim.advance_to(Instant::from_millis(5_000));
    sim.wake();
    let notices = sent(&mut sim);
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(is_expire_notice(&notices[0], FIRST + 1), "{notices:?}");
    assert!(is_expire_notice(&notices[1], FIRST + 2), "{notices:?}");
    assert_eq!(
        changes(&mut sim),
        [
            LeaseChange::Ended { port: FIRST + 1 },
            LeaseChange::Ended { port: FIRST + 2 }
        ]
    );
    assert!(sim.listening().is_empty());
    assert_eq!(sim.engine().stats().leases, 0);
    assert_eq!(
        sim.engine().stats().ports_free,
        usize::from(LAST - FIRST) + 1
    );
    assert_eq!(sim.check(), Ok(()));
}

#[test]
fn a_port_that_cannot_listen_again_ends_its_lease_with_a_notice() {
    let mut sim = restart(
        vec![
            record(FIRST + 4, false, None),
            record(FIRST + 5, true, None),
        ],
        Listens::Manual,
    );
    assert_eq!(sim.pending_listens(), [FIRST + 4, FIRST + 5]);
    assert!(sim.listen_result(FIRST + 4, Err(ListenError::AddrInUse)));
    assert!(sim.listen_result(FIRST + 5, Ok(())));
    assert_eq!(sim.pending_listens(), []);
    let notices = sent(&mut sim);
    assert!(
        matches!(&notices[..], [n] if is_expire_notice(n, FIRST + 4)),
        "{notices:?}"
    );
    assert_eq!(changes(&mut sim), [LeaseChange::Ended { port: FIRST + 4 }]);
    let stats = sim.engine().stats();
    assert_eq!(stats.leases, 1);
    assert_eq!(
        stats.ports_quarantined, 1,
        "a port something else holds rests"
    );
    sim.connect(FIRST + 5, peer())
        .expect("the restored port does not listen");
    assert!(sim.listen_result_at(0, Ok(())).is_some(), "no proxy listen");
    assert!(sim.next_sent().is_some(), "the caller was not announced");
    assert_eq!(sim.check(), Ok(()));
}

#[test]
fn a_port_outside_the_pool_ends_its_lease_with_a_notice() {
    // The operator narrowed --ports between the two runs.
    let mut sim = restart(
        vec![record(LAST + 1, false, None), record(FIRST, false, None)],
        Listens::Auto,
    );
    let notices = sent(&mut sim);
    assert!(
        matches!(&notices[..], [n] if is_expire_notice(n, LAST + 1)),
        "{notices:?}"
    );
    assert_eq!(changes(&mut sim), [LeaseChange::Ended { port: LAST + 1 }]);
    assert!(sim.listening().contains(&FIRST));
    assert_eq!(sim.check(), Ok(()));
}

#[test]
fn restored_leases_count_against_the_accounts_limit() {
    let mut c = config();
    c.max_leases_per_account = 1;
    let mut s = Service::new(c).unwrap();
    s.restore(Instant::from_millis(0), vec![record(FIRST, false, None)]);
    let mut sim = Sim::new(s, sim_config(Listens::Auto));
    sim.wake();
    let xml = format!(
        "<iq type='set' id='r2' from='{OWNER}' to='{SERVICE}'><query xmlns='jabber:iq:pass'/></iq>"
    );
    sim.stanza(&parse_element(xml.as_bytes(), &Limits::default()).unwrap());
    let answer = sim.next_sent().unwrap();
    assert_eq!(answer.kind, IqType::Error, "{answer:?}");
}

#[test]
fn a_suspend_stops_listening_and_keeps_the_leases_without_a_notice() {
    let mut sim = first_start();
    let port = register(&mut sim, "r1", "");
    changes(&mut sim);
    // A relay in flight drains; the lease stays.
    let (client, notice) = caller_is_announced(&mut sim, port);
    let accept = format!(
        "<iq type='result' id='{}' from='{OWNER}' to='{SERVICE}'/>",
        notice.id
    );
    sim.stanza(&parse_element(accept.as_bytes(), &Limits::default()).unwrap());
    let Ok(PassMessage::IncomingConnection { proxy, .. }) = PassMessage::from_iq(&notice) else {
        unreachable!()
    };
    let owner_conn = sim
        .connect(proxy.port(), "192.0.2.9:5000".parse().unwrap())
        .unwrap();
    assert_eq!(sim.relay_count(), 1);

    sim.suspend();
    assert_eq!(sent(&mut sim), [], "no notice at a suspend");
    assert_eq!(changes(&mut sim), [], "a suspend changes no lease");
    assert!(
        !sim.listening().contains(&port),
        "the lease port still listens"
    );
    assert_eq!(sim.relay_count(), 1, "the relay was cut");
    sim.write(owner_conn, b"still flowing");
    assert_eq!(sim.read(client), ReadEvent::Data(b"still flowing".to_vec()));
    assert_eq!(sim.engine().lease_records(), [record(port, false, None)]);
    // A register while stopping gets 502.
    let xml = format!(
        "<iq type='set' id='r2' from='{OWNER}' to='{SERVICE}'><query xmlns='jabber:iq:pass'/></iq>"
    );
    sim.stanza(&parse_element(xml.as_bytes(), &Limits::default()).unwrap());
    assert_eq!(sim.next_sent().unwrap().kind, IqType::Error);
    assert_eq!(sim.check(), Ok(()));
}

#[test]
fn a_lease_expiring_while_its_port_is_asked_for_releases_the_port_once() {
    // Restored with 1 s left; the listen result comes after the expiry.
    let mut sim = restart(
        vec![record(FIRST + 6, false, Some(Instant::from_millis(1_000)))],
        Listens::Manual,
    );
    sim.advance(Duration::from_secs(2));
    assert!(sent(&mut sim)
        .iter()
        .any(|n| is_expire_notice(n, FIRST + 6)));
    assert!(sim.listen_result(FIRST + 6, Ok(())));
    assert!(!sim.listening().contains(&(FIRST + 6)));
    assert_eq!(
        sim.engine().stats().ports_free,
        usize::from(LAST - FIRST) + 1
    );
    assert_eq!(sim.check(), Ok(()));
}
