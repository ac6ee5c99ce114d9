//! The core side of docs/DESIGN.md decision 51: a listen that fails for want of
//! descriptors (`ListenError::NoResources`) sets no port aside; the register gets 502
//! at once, a caller waiting for its proxy port is dropped and counted.

use pass_core::jid::Jid;
use pass_core::lease::{Action, Config, ConnId, ListenError};
use pass_core::service::Service;
use pass_core::stanza::IqType;
use pass_core::time::Instant;
use pass_core::xml::{parse_element, Limits};

const OWNER: &str = "owner@example.org/home";

fn service() -> Service {
    let c = Config::new(
        Jid::new("pass.example.org").unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
    );
    Service::new(c).unwrap()
}

fn drain(s: &mut Service) -> Vec<Action> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

/// Sends a register; returns the port the service asked to listen on.
fn ask_register(s: &mut Service, id: &str) -> u16 {
    let xml = format!(
        "<iq type='set' id='{id}' from='{OWNER}' to='pass.example.org'><query xmlns='jabber:iq:pass'/></iq>"
    );
    let e = parse_element(xml.as_bytes(), &Limits::default()).unwrap();
    s.handle_stanza(Instant::from_millis(0), &e);
    match drain(s)[..] {
        [Action::Listen { port }] => port,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn a_register_out_of_descriptors_gets_502_at_once_and_no_port_is_set_aside() {
    let mut s = service();
    let free = s.stats().ports_free;
    let port = ask_register(&mut s, "r1");
    s.handle_listen_result(Instant::from_millis(0), port, Err(ListenError::NoResources));
    let actions = drain(&mut s);
    let [Action::Send(iq)] = actions.as_slice() else {
        panic!("expected one answer, no other port tried: {actions:?}")
    };
    assert_eq!(iq.kind, IqType::Error);
    assert_eq!(iq.error.as_ref().and_then(|e| e.code), Some(502));
    assert_eq!(s.stats().ports_quarantined, 0);
    assert_eq!(s.stats().ports_free, free);
    // Descriptors back: the next register is granted.
    let port = ask_register(&mut s, "r2");
    s.handle_listen_result(Instant::from_millis(1), port, Ok(()));
    assert_eq!(s.stats().leases, 1);
}

#[test]
fn a_caller_whose_proxy_port_cannot_be_opened_is_dropped_and_counted() {
    let mut s = service();
    let lease = ask_register(&mut s, "r1");
    s.handle_listen_result(Instant::from_millis(0), lease, Ok(()));
    drain(&mut s);
    let free = s.stats().ports_free;
    let now = Instant::from_millis(1);
    s.handle_connection(now, ConnId(1), lease, "198.51.100.7:1".parse().unwrap());
    let [Action::Listen { port: proxy }] = drain(&mut s)[..] else {
        panic!("no proxy listen")
    };
    s.handle_listen_result(now, proxy, Err(ListenError::NoResources));
    assert_eq!(drain(&mut s), [Action::Drop { conn: ConnId(1) }]);
    let stats = s.stats();
    assert_eq!(
        (
            stats.calls_over_capacity,
            stats.ports_quarantined,
            stats.ports_free,
            stats.pending
        ),
        (1, 0, free, 0)
    );
    // The lease takes the next caller.
    s.handle_connection(now, ConnId(2), lease, "198.51.100.7:2".parse().unwrap());
    assert!(matches!(drain(&mut s)[..], [Action::Listen { .. }]));
}
