//! Hostile input against a running node on 127.0.0.1.
//!
//! Two fronts (docs/SECURITY.md maps each attack to its test):
//! - Stream level: bytes on the XEP-0114 stream. A conforming XMPP server filters
//!   most of this (DTDs, bad UTF-8), but the node must survive a broken or hostile
//!   server: it cuts the stream with a stream error, reconnects, and keeps its leases.
//!   What a conforming server relays from any user (well-formed stanzas over a
//!   per-element limit, IQ floods) gets IQ errors on a stream that stays up.
//! - TCP level: anyone on the Internet can reach lease and proxy ports. Callers that
//!   stall, trickle, flood, scan or race are bounded by the answer timeout, the proxy
//!   window, the rate limits and the one-accept proxy port.
//!
//! After every attack a normal register from another account must still succeed.
//! Limits are small (1 s timeouts, 5-request bursts) so each test ends in seconds.

mod common;
mod hostile_support;

use common::{
    closed_by_peer, config, connect, connect_proxy, random_bytes, start, Node, DOMAIN, WAIT,
};
use hostile_support::{free_port_range, HostileServer, Link};
use pass_core::stanza::{Condition, Iq, IqType, PassMessage};
use pass_core::xml::StreamEvent;
use pass_node::config::NodeConfig;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OWNER: &str = "owner@example/home";
const MALLORY: &str = "mallory@example/evil";
/// The account that checks, after each attack, that others are still served.
const BYSTANDER: &str = "bystander@example/desk";

/// A node on a hostile server, handshake done.
async fn node_with(tweak: impl FnOnce(&mut NodeConfig)) -> (HostileServer, Link, Node) {
    let server = HostileServer::bind().await;
    let mut c = config(server.addr);
    tweak(&mut c);
    let node = start(c);
    let link = server.accept().await;
    (server, link, node)
}

/// Asserts another account can still register, on `link`.
async fn bystander_is_served(link: &mut Link) {
    let lease = link.register(BYSTANDER).await;
    assert_ne!(lease.port(), 0);
}

/// Asserts `lease` still listens and announces a caller to its owner; returns the
/// caller (still connected), the notice and its proxy port.
async fn lease_announces(link: &mut Link, lease: SocketAddr) -> (TcpStream, Iq, SocketAddr) {
    // A lease whose previous session is still winding down drops callers: retry.
    for _ in 0..20 {
        let caller = connect(lease).await;
        let me = caller.local_addr().unwrap();
        let notice = link.expect_incoming_from(me);
        if let Ok((notice, proxy)) = tokio::time::timeout(Duration::from_millis(500), notice).await
        {
            return (caller, notice, proxy);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("lease {lease} no longer announces callers");
}

/// Whether nothing listens on `addr` (connection refused), retrying briefly while a
/// port is being closed.
async fn refuses(addr: SocketAddr) -> bool {
    for _ in 0..20 {
        match TcpStream::connect(addr).await {
            Err(_) => return true,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    false
}

// ---- stream level ---------------------------------------------------------------

/// Sends `hostile` on an established stream holding one lease, then checks the node
/// cut the stream, reconnected, kept the lease, serves others, and said why with one
/// of `conditions`. Returns what it answered before cutting.
async fn stream_attack(hostile: &[u8], conditions: &[&str]) -> Vec<Iq> {
    let (server, mut link, node) = node_with(|_| {}).await;
    let lease = link.register(OWNER).await;
    // The node may cut the stream while we are still writing: that is fine.
    let _ = link.send_bytes(hostile).await;
    let (cut, answered) = link.expect_cut().await;
    // Reconnect: a new stream, the old lease still there, others served.
    let mut link = server.accept().await;
    let _call = lease_announces(&mut link, lease).await;
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
    cut.assert_stream_error(conditions);
    answered
}

/// The classic "billion laughs": ten levels of ten references, ~3 GB if expanded.
fn billion_laughs() -> String {
    let mut dtd = String::from("<!DOCTYPE iq [<!ENTITY lol0 'lol'>");
    for i in 1..10 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{i} '{refs}'>"));
    }
    dtd.push_str("]>");
    dtd
}

#[tokio::test]
async fn entity_expansion_bomb_breaks_the_stream_and_expands_nothing() {
    let bomb = format!(
        "{}<iq type='get' id='bomb' from='{MALLORY}' to='{DOMAIN}'>\
         <query xmlns='jabber:iq:pass'><expire>&lol9;</expire></query></iq>",
        billion_laughs()
    );
    let answered = stream_attack(bomb.as_bytes(), &["restricted-xml"]).await;
    // Nothing after the DTD was taken as a stanza (and nothing was expanded: 3 GB
    // would not fit in this test's time or memory).
    assert!(
        answered.iter().all(|iq| iq.id != "bomb"),
        "the bomb's IQ was answered: {answered:?}"
    );
}

#[tokio::test]
async fn external_dtd_breaks_the_stream_and_is_not_fetched() {
    // XXE: an external subset and an external entity; the node must not open either.
    let xxe = format!(
        "<!DOCTYPE iq SYSTEM 'http://127.0.0.1:1/dtd' [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>\
         <iq type='get' id='xxe' from='{MALLORY}' to='{DOMAIN}'>\
         <query xmlns='jabber:iq:pass'><expire>&xxe;</expire></query></iq>"
    );
    let answered = stream_attack(xxe.as_bytes(), &["restricted-xml"]).await;
    assert!(answered.iter().all(|iq| iq.id != "xxe"), "{answered:?}");
}

#[tokio::test]
async fn dtd_in_the_servers_stream_header_is_refused_and_the_node_reconnects() {
    let (server, mut link, node) = node_with(|_| {}).await;
    let lease = link.register(OWNER).await;
    // The server goes away and comes back with a DTD before its header.
    link.close().await;
    let mut hostile = server
        .accept_with_prolog(&format!("{}<!DOCTYPE stream:stream>", billion_laughs()))
        .await;
    let (cut, _) = hostile.expect_cut().await;
    // The node tries again and gets a sane server: its lease is intact.
    let mut link = server.accept().await;
    let _call = lease_announces(&mut link, lease).await;
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
    cut.assert_stream_error(&["restricted-xml"]);
}

/// Sends one well-formed stanza that breaks a per-element limit, as a conforming
/// XMPP server would relay it from any user (Prosody checks only the total size,
/// 256 KiB for clients), followed by a bystander's ping. The node must refuse that
/// stanza alone: an IQ error to its sender and the same stream serving the rest.
/// Cutting the stream instead would let any user knock the service offline.
async fn one_stanza_over_a_limit_is_refused_alone(stanza: String, id: &str) {
    let (_server, mut link, node) = node_with(|_| {}).await;
    let lease = link.register(OWNER).await;
    link.send(&stanza).await;
    link.send_ping(BYSTANDER, "after").await;
    let mut refused = None;
    let mut bystander = None;
    while refused.is_none() || bystander.is_none() {
        let iq = match link.try_next_event(WAIT).await {
            Ok(StreamEvent::Stanza(e)) => Iq::try_from(&e).unwrap(),
            other => panic!(
                "the node ended the component stream over one user's stanza ({other:?}): \
                 any user could knock the service offline; expected an IQ error to {MALLORY}"
            ),
        };
        match iq.id.as_str() {
            i if i == id => refused = Some(iq),
            "after" => bystander = Some(iq),
            _ => panic!("unexpected stanza {iq:?}"),
        }
    }
    let refused = refused.unwrap();
    assert_eq!(refused.kind, IqType::Error, "{refused:?}");
    assert_eq!(refused.to.as_ref().unwrap().to_string(), MALLORY);
    let condition = refused.error.as_ref().and_then(|e| e.condition);
    assert!(
        matches!(
            condition,
            Some(Condition::PolicyViolation | Condition::BadRequest | Condition::NotAcceptable)
        ),
        "{refused:?}"
    );
    assert_eq!(bystander.unwrap().kind, IqType::Result);
    // Same stream: the lease is there and others register.
    let _call = lease_announces(&mut link, lease).await;
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}

#[tokio::test]
async fn huge_attribute_value_refuses_that_stanza_and_the_stream_stays_up() {
    // 10 KB: over the 4 KiB attribute limit, under the 64 KiB stanza limit.
    let big = "A".repeat(10_000);
    let iq = format!(
        "<iq type='get' id='attr' from='{MALLORY}' to='{DOMAIN}' x='{big}'>\
         <ping xmlns='urn:xmpp:ping'/></iq>"
    );
    one_stanza_over_a_limit_is_refused_alone(iq, "attr").await;
}

#[tokio::test]
async fn deep_nesting_refuses_that_stanza_and_the_stream_stays_up() {
    // 1000 levels (about 8 KB), the stanza complete; the limit is 32.
    let iq = format!(
        "<iq type='get' id='deep' from='{MALLORY}' to='{DOMAIN}'>{}{}</iq>",
        "<a>".repeat(1000),
        "</a>".repeat(1000)
    );
    one_stanza_over_a_limit_is_refused_alone(iq, "deep").await;
}

#[tokio::test]
async fn stanza_over_the_size_limit_breaks_the_stream() {
    // Small, shallow children past the default stanza limit: only it is crossed.
    let children = pass_node::config::DEFAULT_MAX_STANZA_BYTES / 4 + 1000;
    let iq = format!(
        "<iq type='get' id='huge' from='{MALLORY}' to='{DOMAIN}'>\
         <ping xmlns='urn:xmpp:ping'>{}</ping></iq>",
        "<x/>".repeat(children)
    );
    let answered = stream_attack(iq.as_bytes(), &["policy-violation"]).await;
    assert!(answered.iter().all(|iq| iq.id != "huge"), "{answered:?}");
}

#[tokio::test]
async fn invalid_utf8_breaks_the_stream() {
    let mut iq = format!("<iq type='set' id='utf8' from='{MALLORY}' to='{DOMAIN}'>").into_bytes();
    iq.extend_from_slice(b"<query xmlns='jabber:iq:pass'><expire>\xff\xfe\xc0\xaf</expire>");
    iq.extend_from_slice(b"</query></iq>");
    // RFC 6120 §4.9.3.22 names bad UTF-8 "unsupported-encoding"; servers often say
    // "not-well-formed": either is a clear answer.
    let answered = stream_attack(&iq, &["unsupported-encoding", "not-well-formed"]).await;
    assert!(answered.iter().all(|iq| iq.id != "utf8"), "{answered:?}");
}

#[tokio::test]
async fn element_that_never_closes_is_cut_at_the_size_limit() {
    let (server, mut link, node) = node_with(|_| {}).await;
    let lease = link.register(OWNER).await;
    // An attribute value whose quote never closes, fed in 4 KiB pieces up to twice
    // the stanza limit, then silence: a node buffering without bound would wait
    // for the rest forever.
    let _ = link
        .send_bytes(format!("<iq type='get' id='open' from='{MALLORY}' x='").as_bytes())
        .await;
    let piece = vec![b'a'; 4096];
    for _ in 0..2 * pass_node::config::DEFAULT_MAX_STANZA_BYTES / 4096 {
        if !link.send_bytes(&piece).await {
            break;
        }
    }
    let (cut, _) = link.expect_cut().await;
    let mut link = server.accept().await;
    let _call = lease_announces(&mut link, lease).await;
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
    cut.assert_stream_error(&["policy-violation"]);
}

#[tokio::test]
async fn iq_flood_from_one_account_gets_resource_constraint_and_others_are_served() {
    let (_server, mut link, node) = node_with(|c| {
        c.core.iq_burst = 5;
        c.core.iq_per_second = 1;
    })
    .await;
    const FLOOD: usize = 300;
    let started = Instant::now();
    // Several resources of one account: the limit is per account (bare JID).
    let mut flood = String::new();
    for i in 0..FLOOD {
        flood.push_str(&format!(
            "<iq type='get' id='f{i}' from='mallory@example/r{}' to='{DOMAIN}'>\
             <ping xmlns='urn:xmpp:ping'/></iq>",
            i % 3
        ));
    }
    link.send(&flood).await;
    let (mut served, mut refused) = (0usize, 0usize);
    let mut seen = BTreeSet::new();
    for _ in 0..FLOOD {
        let iq = link.next_iq().await;
        assert!(iq.id.starts_with('f'), "unexpected stanza {iq:?}");
        assert!(seen.insert(iq.id.clone()), "answered twice: {}", iq.id);
        match iq.kind {
            IqType::Result => served += 1,
            IqType::Error => {
                let e = iq.error.as_ref().expect("error IQ has an <error/>");
                assert_eq!(e.condition, Some(Condition::ResourceConstraint), "{iq:?}");
                assert_eq!(e.code, Some(500), "{iq:?}");
                refused += 1;
            }
            other => panic!("answer of type {other:?}"),
        }
    }
    let elapsed = started.elapsed().as_secs() as usize;
    assert!(served >= 5, "the burst was not served: {served}");
    assert!(
        served <= 5 + elapsed + 1,
        "{served} of {FLOOD} served within {elapsed} s at a burst of 5 and 1/s"
    );
    assert_eq!(served + refused, FLOOD);
    // Same stream, another account: served at once.
    bystander_is_served(&mut link).await;
    // The flooder is slowed, not banned: after a pause it is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    link.send_ping(MALLORY, "after").await;
    let iq = link.next_iq().await;
    assert_eq!(
        (iq.id.as_str(), iq.kind),
        ("after", IqType::Result),
        "{iq:?}"
    );
    node.stop().await.unwrap();
}

#[tokio::test]
async fn lease_hoarding_by_one_account_is_capped() {
    let (_server, mut link, node) = node_with(|c| c.core.max_leases_per_account = 3).await;
    for i in 0..3 {
        link.register(&format!("mallory@example/r{i}")).await;
    }
    let iq = link.register_raw("mallory@example/r9", "hoard").await;
    assert_eq!(iq.kind, IqType::Error, "{iq:?}");
    let e = iq.error.as_ref().unwrap();
    assert_eq!(e.condition, Some(Condition::ResourceConstraint), "{iq:?}");
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}

// ---- TCP level ------------------------------------------------------------------

#[tokio::test]
async fn silent_caller_on_a_lease_port_is_announced_then_dropped_after_the_answer_timeout() {
    let (_server, mut link, node) =
        node_with(|c| c.core.answer_timeout = Duration::from_secs(1)).await;
    let lease = link.register(OWNER).await;
    let mut caller = connect(lease).await;
    let t0 = Instant::now();
    let (notice, client, _) = link.expect_incoming().await;
    assert_eq!(client, caller.local_addr().unwrap());
    assert_eq!(notice.to.as_ref().unwrap().to_string(), OWNER);
    // Nobody answers: the caller goes at the answer timeout, not before.
    assert!(closed_by_peer(&mut caller).await, "silent caller kept");
    assert!(t0.elapsed() >= Duration::from_millis(800), "dropped early");
    // The lease takes the next caller; others are served.
    let _next = lease_announces(&mut link, lease).await;
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}

#[tokio::test]
async fn trickling_caller_on_a_lease_port_is_dropped_after_the_answer_timeout() {
    let (_server, mut link, node) =
        node_with(|c| c.core.answer_timeout = Duration::from_secs(1)).await;
    let lease = link.register(OWNER).await;
    let caller = connect(lease).await;
    let me = caller.local_addr().unwrap();
    // One byte every 50 ms, at most 10 s, until the node hangs up.
    let trickle = tokio::spawn(async move {
        let mut caller = caller;
        let t0 = Instant::now();
        let mut probe = [0u8; 16];
        for _ in 0..200 {
            if caller.write_all(b"x").await.is_err() {
                return Some(t0.elapsed());
            }
            match tokio::time::timeout(Duration::from_millis(50), caller.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(t0.elapsed()),
                Ok(Ok(_)) => panic!("the node sent bytes to an unbridged caller"),
                Err(_) => {}
            }
        }
        None
    });
    let (_, client, _) = link.expect_incoming().await;
    assert_eq!(client, me);
    let ended = tokio::time::timeout(WAIT * 2, trickle)
        .await
        .expect("trickle task bounded")
        .unwrap();
    let ended = ended.expect("the trickling caller was never dropped");
    assert!(
        ended >= Duration::from_millis(800),
        "dropped early: {ended:?}"
    );
    let _next = lease_announces(&mut link, lease).await;
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}

#[tokio::test]
async fn connection_flood_past_busy_leases_and_max_relays_is_dropped_unannounced() {
    let (_server, mut link, node) = node_with(|c| c.core.max_relays = 2).await;
    let mut leases = Vec::new();
    for who in ["a@example/x", "b@example/x", "c@example/x"] {
        leases.push(link.register(who).await);
    }
    // Two callers take the two session slots (pending sessions count).
    let first = connect(leases[0]).await;
    let (_, c1, _) = link.expect_incoming().await;
    assert_eq!(c1, first.local_addr().unwrap());
    let second = connect(leases[1]).await;
    let (_, c2, _) = link.expect_incoming().await;
    assert_eq!(c2, second.local_addr().unwrap());
    // A flood on the busy lease and on a lease past the relay limit: every caller
    // is dropped, none announced.
    for lease in [leases[0], leases[2]] {
        for _ in 0..25 {
            let mut extra = connect(lease).await;
            assert!(
                closed_by_peer(&mut extra).await,
                "extra caller on {lease} kept"
            );
        }
    }
    match link.try_next_event(Duration::from_millis(300)).await {
        Err(e) if e.starts_with("timed out") => {}
        other => panic!("a dropped caller was announced: {other:?}"),
    }
    bystander_is_served(&mut link).await;
    drop((first, second));
    node.stop().await.unwrap();
}

#[tokio::test]
async fn hang_up_and_call_again_flood_is_capped_at_the_leases_call_rate() {
    let (_server, mut link, node) = node_with(|c| {
        c.core.call_burst = 4;
        c.core.call_per_second = 1;
    })
    .await;
    let lease = link.register(OWNER).await;
    // Call, wait for the notice (or the drop), hang up, call again: 30 times.
    // Unlimited, nearly every call would make a notice for the owner.
    let started = Instant::now();
    let mut notices = 0u64;
    for _ in 0..30 {
        let mut caller = connect(lease).await;
        match link.try_next_event(Duration::from_millis(200)).await {
            Ok(StreamEvent::Stanza(e)) => {
                let iq = Iq::try_from(&e).unwrap();
                assert!(
                    matches!(
                        PassMessage::from_iq(&iq),
                        Ok(PassMessage::IncomingConnection { .. })
                    ),
                    "unexpected stanza {iq:?}"
                );
                notices += 1;
            }
            Err(e) if e.starts_with("timed out") => {
                assert!(closed_by_peer(&mut caller).await, "unannounced caller kept");
            }
            other => panic!("unexpected event {other:?}"),
        }
        drop(caller);
        // Let the hang-up end the session before the next call.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs() + 1;
    assert!(
        notices >= 4,
        "the burst was not announced: {notices} notices"
    );
    assert!(
        notices <= 4 + elapsed,
        "{notices} notices in about {elapsed} s: past burst 4 + 1 a second"
    );
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}

#[tokio::test]
async fn silent_connection_on_a_proxy_port_is_dropped_with_the_session() {
    let (_server, mut link, node) =
        node_with(|c| c.core.answer_timeout = Duration::from_secs(1)).await;
    let lease = link.register(OWNER).await;
    let mut caller = connect(lease).await;
    let (_notice, _, proxy) = link.expect_incoming().await;
    // Someone grabs the proxy port before the owner answers and sends nothing.
    let mut squatter = connect_proxy(proxy).await;
    // The owner never answers: at the answer timeout both go, and the proxy port
    // is closed; the lease takes the next caller.
    assert!(closed_by_peer(&mut squatter).await, "proxy squatter kept");
    assert!(closed_by_peer(&mut caller).await, "caller kept");
    assert!(refuses(proxy).await, "proxy port {proxy} still listens");
    let _next = lease_announces(&mut link, lease).await;
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}

#[tokio::test]
async fn owner_that_never_connects_is_dropped_after_the_proxy_window() {
    let (_server, mut link, node) =
        node_with(|c| c.core.proxy_window = Duration::from_secs(1)).await;
    let lease = link.register(OWNER).await;
    let mut caller = connect(lease).await;
    let (notice, _, proxy) = link.expect_incoming().await;
    link.ack(&notice).await;
    let t0 = Instant::now();
    assert!(
        closed_by_peer(&mut caller).await,
        "caller kept past the window"
    );
    assert!(t0.elapsed() >= Duration::from_millis(800), "dropped early");
    assert!(
        refuses(proxy).await,
        "proxy port {proxy} outlived its window"
    );
    let _next = lease_announces(&mut link, lease).await;
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}

#[tokio::test]
async fn relay_flood_is_throttled_complete_and_the_node_stays_responsive() {
    const RATE: u64 = 256 * 1024;
    const SENT: usize = 512 * 1024;
    let (_server, mut link, node) = node_with(|c| c.relay.relay_rate = Some(RATE)).await;
    let lease = link.register(OWNER).await;
    let (mut caller, notice, proxy) = lease_announces(&mut link, lease).await;
    link.ack(&notice).await;
    let mut owner = connect_proxy(proxy).await;
    let data = random_bytes(SENT);
    let expected = data.clone();
    let t0 = Instant::now();
    let flood = tokio::spawn(async move {
        caller.write_all(&data).await.unwrap();
        caller.shutdown().await.unwrap();
        caller
    });
    let receive = tokio::spawn(async move {
        let mut got = Vec::with_capacity(SENT);
        tokio::time::timeout(Duration::from_secs(30), owner.read_to_end(&mut got))
            .await
            .expect("relay did not finish")
            .unwrap();
        (got, Instant::now())
    });
    // While the relay is throttled, the node answers IQs at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    link.send_ping(BYSTANDER, "during").await;
    let iq = link.next_iq().await;
    assert_eq!((iq.id.as_str(), iq.kind), ("during", IqType::Result));
    bystander_is_served(&mut link).await;
    let answered_at = Instant::now();
    let (got, done_at) = receive.await.unwrap();
    let _caller = flood.await.unwrap();
    assert!(
        got == expected,
        "relayed {} of {SENT} bytes, or altered",
        got.len()
    );
    assert!(
        answered_at < done_at,
        "IQs were answered only after the relay"
    );
    // Throttled: at 256 KiB/s with a 0.1 s burst, 512 KiB takes at least ~1.9 s.
    let took = done_at - t0;
    assert!(
        took >= Duration::from_millis(1500),
        "not throttled: {took:?}"
    );
    node.stop().await.unwrap();
}

#[tokio::test]
async fn port_scan_across_the_pool_finds_only_leased_ports() {
    let (first, last) = free_port_range(12);
    let (_server, mut link, node) = node_with(|c| {
        c.core.first_port = first;
        c.core.last_port = last;
    })
    .await;
    let mut leases = Vec::new();
    for who in ["a@example/x", "b@example/x", "c@example/x"] {
        leases.push((who, link.register(who).await));
    }
    let leased: BTreeSet<u16> = leases.iter().map(|(_, a)| a.port()).collect();
    // Scan: connect to every port of the pool, hang up at once.
    let mut open = BTreeSet::new();
    for port in first..=last {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Ok(Ok(s)) = tokio::time::timeout(WAIT, TcpStream::connect(addr)).await {
            open.insert(port);
            drop(s);
        }
    }
    // Proxy ports the scan's own calls opened may have been caught by it too.
    let mut proxies = BTreeSet::new();
    while let Ok(Ok(ev)) = tokio::time::timeout(
        Duration::from_millis(500),
        link.try_next_event(Duration::from_millis(500)),
    )
    .await
    {
        if let StreamEvent::Stanza(e) = ev {
            let iq = Iq::try_from(&e).unwrap();
            if let Ok(PassMessage::IncomingConnection { proxy, .. }) = PassMessage::from_iq(&iq) {
                proxies.insert(proxy.port());
            }
        }
    }
    assert!(leased.is_subset(&open), "leased {leased:?}, open {open:?}");
    let unexpected: Vec<_> = open
        .difference(&leased)
        .filter(|p| !proxies.contains(p))
        .collect();
    assert!(
        unexpected.is_empty(),
        "ports open outside leases: {unexpected:?}"
    );
    // Every lease still works; the first carries bytes end to end.
    for (i, (owner, lease)) in leases.iter().enumerate() {
        let (mut caller, notice, proxy) = lease_announces(&mut link, *lease).await;
        assert_eq!(notice.to.as_ref().unwrap().to_string(), *owner);
        if i == 0 {
            link.ack(&notice).await;
            let mut owner = connect_proxy(proxy).await;
            caller.write_all(b"after the scan").await.unwrap();
            let mut buf = [0u8; 14];
            tokio::time::timeout(WAIT, owner.read_exact(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&buf, b"after the scan");
        }
    }
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}

#[tokio::test]
async fn proxy_port_race_bridges_exactly_one_connection() {
    let (_server, mut link, node) = node_with(|_| {}).await;
    let lease = link.register(OWNER).await;
    let mut caller = connect(lease).await;
    let (notice, _, proxy) = link.expect_incoming().await;
    link.ack(&notice).await;
    // Owner and intruder connect at the same moment; the protocol cannot tell them
    // apart (decision 10): the first connection the node accepts wins.
    let (a, b) = tokio::join!(TcpStream::connect(proxy), TcpStream::connect(proxy));
    let mut contenders: Vec<TcpStream> = [a, b].into_iter().filter_map(Result::ok).collect();
    assert!(!contenders.is_empty(), "proxy port refused both");
    caller.write_all(b"for the owner").await.unwrap();
    let mut bridged = Vec::new();
    let mut dropped = 0;
    for (i, s) in contenders.iter_mut().enumerate() {
        let mut buf = [0u8; 13];
        match tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => dropped += 1,
            Ok(Ok(n)) => {
                s.read_exact(&mut buf[n..]).await.unwrap();
                assert_eq!(&buf, b"for the owner");
                bridged.push(i);
            }
            Err(_) => panic!("contender {i} neither bridged nor dropped"),
        }
    }
    assert_eq!(bridged.len(), 1, "bridged {bridged:?}");
    assert_eq!(dropped + 1, contenders.len());
    // The winner's relay works both ways.
    let winner = &mut contenders[bridged[0]];
    winner.write_all(b"reply").await.unwrap();
    let mut buf = [0u8; 5];
    tokio::time::timeout(WAIT, caller.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"reply");
    bystander_is_served(&mut link).await;
    node.stop().await.unwrap();
}
