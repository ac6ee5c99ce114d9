//! The SRV order as a unit, and the real look-up against a one-zone DNS server on
//! 127.0.0.1 that the resolver is pointed at (hickory's `ResolverConfig`), so no
//! test needs the internet or /etc/resolv.conf.

use super::*;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, SRV};
use hickory_resolver::proto::rr::{Name, Record as DnsRecord};
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};

fn rec(priority: u16, weight: u16, target: &str) -> Record {
    Record {
        priority,
        weight,
        port: 5222,
        target: target.to_owned(),
    }
}

fn hosts(plan: Plan) -> Vec<String> {
    match plan {
        Plan::Targets(t) => t.into_iter().map(|(h, _)| h).collect(),
        Plan::Unavailable => panic!("unavailable"),
    }
}

#[test]
fn no_records_fall_back_to_the_domain_on_5222() {
    let mut rng = fastrand::Rng::with_seed(1);
    assert_eq!(
        plan(Vec::new(), "example.org", FALLBACK_PORT, &mut rng),
        Plan::Targets(vec![("example.org".to_owned(), 5222)])
    );
}

#[test]
fn a_single_dot_target_means_no_service() {
    let mut rng = fastrand::Rng::with_seed(1);
    assert_eq!(
        plan(vec![rec(0, 0, ".")], "example.org", 5222, &mut rng),
        Plan::Unavailable
    );
}

#[test]
fn lower_priority_first_whatever_the_answers_order() {
    let mut rng = fastrand::Rng::with_seed(7);
    let records = vec![rec(30, 5, "c"), rec(10, 0, "a"), rec(20, 100, "b")];
    assert_eq!(hosts(plan(records, "d", 5222, &mut rng)), ["a", "b", "c"]);
}

#[test]
fn within_a_priority_weight_sets_the_share_of_first_picks() {
    // Weights 90/10/0 in one priority: over many draws "heavy" comes first about
    // 90 % of the time, "light" about 10 %, "zero" (only reachable by a draw of
    // 0) almost never; every record is always in the list once.
    let mut rng = fastrand::Rng::with_seed(42);
    let mut first = std::collections::HashMap::<String, u32>::new();
    for _ in 0..2000 {
        let records = vec![rec(1, 0, "zero"), rec(1, 10, "light"), rec(1, 90, "heavy")];
        let order = hosts(plan(records, "d", 5222, &mut rng));
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, ["heavy", "light", "zero"]);
        *first.entry(order[0].clone()).or_default() += 1;
    }
    let heavy = first.get("heavy").copied().unwrap_or(0);
    let light = first.get("light").copied().unwrap_or(0);
    assert!((1700..=1900).contains(&heavy), "{first:?}");
    assert!((120..=280).contains(&light), "{first:?}");
}

/// SRV records of one domain: (priority, weight, port, target).
type Zone = (&'static str, Vec<(u16, u16, u16, &'static str)>);

/// A one-zone DNS server on 127.0.0.1: SRV answers for `_xmpp-client._tcp.NAME.`
/// from `srv` (NXDOMAIN for names it does not list), every other `*.test.` name
/// is an A record for 127.0.0.1 (no AAAA). Returns its port.
async fn dns_server(srv: Vec<Zone>) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let port = socket.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
            reply.metadata.authoritative = true;
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.metadata.recursion_available = true;
            for q in &query.queries {
                reply.add_query(q.clone());
                let name = q.name().to_ascii().to_lowercase();
                match q.query_type() {
                    RecordType::SRV => {
                        match srv.iter().find(|(d, _)| format!("{SERVICE}.{d}.") == name) {
                            Some((_, records)) => {
                                for &(priority, weight, port, target) in records {
                                    let target = Name::from_ascii(target).expect("name");
                                    reply.add_answer(DnsRecord::from_rdata(
                                        q.name().clone(),
                                        60,
                                        RData::SRV(SRV::new(priority, weight, port, target)),
                                    ));
                                }
                            }
                            None => reply.metadata.response_code = ResponseCode::NXDomain,
                        }
                    }
                    RecordType::A if name.ends_with(".test.") => {
                        reply.add_answer(DnsRecord::from_rdata(
                            q.name().clone(),
                            60,
                            RData::A(A(Ipv4Addr::LOCALHOST)),
                        ));
                    }
                    _ => {}
                }
            }
            debug_assert_eq!(reply.metadata.message_type, MessageType::Response);
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, from).await;
            }
        }
    });
    port
}

fn resolver_at(port: u16) -> TokioResolver {
    let mut udp = ConnectionConfig::udp();
    udp.port = port;
    let ns = NameServerConfig::new(Ipv4Addr::LOCALHOST.into(), true, vec![udp]);
    let config = ResolverConfig::from_name_servers(vec![ns]);
    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .build()
        .expect("resolver")
}

/// A listener on 127.0.0.1 and its port.
async fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

/// A port on 127.0.0.1 that refuses connections.
async fn closed_port() -> u16 {
    let (l, port) = listener().await;
    drop(l);
    port
}

fn server(domain: &str, fallback_port: u16, dns: u16) -> Server {
    Server::Domain {
        domain: domain.to_owned(),
        fallback_port,
        resolver: Some(Box::new(resolver_at(dns))),
    }
}

async fn connect(server: &Server) -> std::io::Result<(TcpStream, String)> {
    tokio::time::timeout(Duration::from_secs(20), server.connect())
        .await
        .expect("connect ends in time")
}

#[tokio::test]
async fn srv_targets_are_tried_by_priority_and_a_refusing_one_is_skipped() {
    let (_first, first) = listener().await;
    let (_second, second) = listener().await;
    let dead = closed_port().await;
    // Listed out of order: the priority decides.
    let dns = dns_server(vec![
        (
            "order.test",
            vec![
                (20, 0, second, "second.test."),
                (10, 0, first, "first.test."),
            ],
        ),
        (
            "skip.test",
            vec![(20, 0, second, "second.test."), (10, 0, dead, "dead.test.")],
        ),
    ])
    .await;
    let (_, target) = connect(&server("order.test", 1, dns)).await.expect("order");
    assert_eq!(target, format!("first.test:{first}"));
    let (_, target) = connect(&server("skip.test", 1, dns)).await.expect("skip");
    assert_eq!(target, format!("second.test:{second}"));
}

#[tokio::test]
async fn without_srv_records_the_domain_itself_is_used_on_the_fallback_port() {
    let (_l, port) = listener().await;
    let dns = dns_server(vec![]).await;
    let (tcp, target) = connect(&server("plain.test", port, dns))
        .await
        .expect("fallback");
    assert_eq!(target, format!("plain.test:{port}"));
    assert_eq!(tcp.peer_addr().expect("peer").port(), port);
}

#[tokio::test]
async fn a_dot_target_is_no_service_and_no_fallback() {
    let (_l, port) = listener().await;
    let dns = dns_server(vec![("none.test", vec![(0, 0, 0, ".")])]).await;
    let err = connect(&server("none.test", port, dns))
        .await
        .expect_err("no service");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn when_every_srv_target_refuses_the_connection_fails() {
    let (_l, fallback) = listener().await;
    let dead = closed_port().await;
    let dns = dns_server(vec![("down.test", vec![(0, 0, dead, "dead.test.")])]).await;
    let err = connect(&server("down.test", fallback, dns))
        .await
        .expect_err("no fallback once SRV records exist");
    assert!(err.to_string().contains("dead.test"), "{err}");
}
