//! End to end through the node, in-process: register, incoming connection, accept,
//! relay, and the ways a session ends.

mod common;

use common::*;
use pass_core::stanza::{Iq, IqType, PassMessage};
use pass_core::xml::StreamEvent;
use pass_node::config::RelayMode;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OWNER: &str = "owner@example/home";

/// Registers, connects a third party, accepts, connects the owner: returns
/// (client socket, owner socket).
async fn bridged(session: &mut Session, controls: &str) -> (TcpStream, TcpStream, SocketAddr) {
    let lease = session.register(OWNER, controls).await;
    let client = connect(lease).await;
    let (notice, client_addr, proxy) = session.expect_incoming().await;
    assert_eq!(client_addr, client.local_addr().unwrap());
    assert_eq!(notice.to.as_ref().unwrap().to_string(), OWNER);
    session.ack(&notice).await;
    let owner = connect_proxy(proxy).await;
    (client, owner, lease)
}

/// Sends `data` on `w` and closes its writing side, while reading all of `r`.
async fn exchange(mut a: TcpStream, mut b: TcpStream, ab: Vec<u8>, ba: Vec<u8>) {
    let (mut ar, mut aw) = a.split();
    let (mut br, mut bw) = b.split();
    let (got_at_b, got_at_a, (), ()) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(
            async {
                let mut v = Vec::new();
                br.read_to_end(&mut v).await.unwrap();
                v
            },
            async {
                let mut v = Vec::new();
                ar.read_to_end(&mut v).await.unwrap();
                v
            },
            async {
                aw.write_all(&ab).await.unwrap();
                aw.shutdown().await.unwrap();
            },
            async {
                bw.write_all(&ba).await.unwrap();
                bw.shutdown().await.unwrap();
            },
        )
    })
    .await
    .expect("exchange timed out");
    assert!(
        got_at_b == ab,
        "client→owner bytes differ ({} vs {})",
        got_at_b.len(),
        ab.len()
    );
    assert!(
        got_at_a == ba,
        "owner→client bytes differ ({} vs {})",
        got_at_a.len(),
        ba.len()
    );
}

async fn one_mib_each_way(mode: RelayMode) {
    let (_server, mut session, node) = node_with(|c| c.relay.mode = mode).await;
    let (client, owner, _) = bridged(&mut session, "").await;
    exchange(client, owner, random_bytes(1 << 20), random_bytes(1 << 20)).await;
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_one_mib_each_way_byte_exact_with_copy() {
    one_mib_each_way(RelayMode::Copy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_one_mib_each_way_byte_exact_with_splice() {
    one_mib_each_way(RelayMode::Splice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_is_propagated_and_the_other_way_keeps_flowing() {
    for mode in [RelayMode::Copy, RelayMode::Splice] {
        let (_server, mut session, node) = node_with(|c| c.relay.mode = mode).await;
        let (mut client, mut owner, _) = bridged(&mut session, "").await;
        client.write_all(b"request").await.unwrap();
        client.shutdown().await.unwrap();
        // The owner sees the request then EOF...
        let (got, clean) = read_to_end(&mut owner).await;
        assert_eq!(got, b"request");
        assert!(clean);
        // ...and can still answer.
        owner.write_all(b"response").await.unwrap();
        owner.shutdown().await.unwrap();
        let (got, clean) = read_to_end(&mut client).await;
        assert_eq!(got, b"response", "mode {mode:?}");
        assert!(clean);
        node.stop().await.unwrap();
    }
}

#[tokio::test]
async fn client_disconnect_closes_owner_and_lease_listens_again() {
    let (_server, mut session, node) = node_with(|_| {}).await;
    let (client, mut owner, lease) = bridged(&mut session, "").await;
    drop(client);
    assert!(closed_by_peer(&mut owner).await, "owner side not closed");
    // The owner closes in turn: the relay is over.
    drop(owner);
    // §2: the port listens again after a session without expire/oneshot. (While the
    // relay winds down, a connection may still be refused as "busy": retry.)
    let mut notice = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _again = connect(lease).await;
        if let Ok(StreamEvent::Stanza(e)) = session.try_next_event(Duration::from_millis(500)).await
        {
            notice = Some(e);
            break;
        }
    }
    let notice = notice.expect("no notice for a connection after the relay ended");
    let iq = pass_core::stanza::Iq::try_from(&notice).unwrap();
    assert!(matches!(
        PassMessage::from_iq(&iq),
        Ok(PassMessage::IncomingConnection { .. })
    ));
    node.stop().await.unwrap();
}

#[tokio::test]
async fn owner_disconnect_closes_client() {
    let (_server, mut session, node) = node_with(|_| {}).await;
    let (mut client, owner, _) = bridged(&mut session, "").await;
    drop(owner);
    assert!(closed_by_peer(&mut client).await, "client side not closed");
    node.stop().await.unwrap();
}

#[tokio::test]
async fn deny_drops_the_client() {
    let (_server, mut session, node) = node_with(|_| {}).await;
    let lease = session.register(OWNER, "").await;
    let mut client = connect(lease).await;
    let (notice, client_addr, proxy) = session.expect_incoming().await;
    let deny = format!(
        "<iq type='error' id='{}' from='{OWNER}' to='{DOMAIN}'>\
         <query xmlns='jabber:iq:pass'><client port='{}'>{}</client>\
         <proxy port='{}'>{}</proxy></query>\
         <error code='401' type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        notice.id,
        client_addr.port(),
        client_addr.ip(),
        proxy.port(),
        proxy.ip()
    );
    session.send_raw(&deny).await;
    assert!(
        closed_by_peer(&mut client).await,
        "denied client not dropped"
    );
    node.stop().await.unwrap();
}

#[tokio::test]
async fn unanswered_notice_drops_the_client_after_the_answer_timeout() {
    let (_server, mut session, node) =
        node_with(|c| c.core.answer_timeout = Duration::from_secs(1)).await;
    let lease = session.register(OWNER, "").await;
    let mut client = connect(lease).await;
    let _ = session.expect_incoming().await;
    let t0 = std::time::Instant::now();
    assert!(closed_by_peer(&mut client).await, "client not dropped");
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "dropped before the timeout"
    );
    node.stop().await.unwrap();
}

#[tokio::test]
async fn owner_that_never_connects_loses_the_client_after_the_window() {
    let (_server, mut session, node) =
        node_with(|c| c.core.proxy_window = Duration::from_secs(1)).await;
    let lease = session.register(OWNER, "").await;
    let mut client = connect(lease).await;
    let (notice, _, _) = session.expect_incoming().await;
    session.ack(&notice).await;
    assert!(
        closed_by_peer(&mut client).await,
        "client not dropped after the window"
    );
    node.stop().await.unwrap();
}

#[tokio::test]
async fn client_hanging_up_before_the_answer_is_reported() {
    // Answer timeout 30 s: only the node reporting the hang-up frees the lease for
    // the next caller within this test's few seconds.
    let (_server, mut session, node) = node_with(|_| {}).await;
    let lease = session.register(OWNER, "").await;
    let client = connect(lease).await;
    let (first, _, _) = session.expect_incoming().await;
    drop(client);
    let mut second = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _next = connect(lease).await;
        if let Ok(StreamEvent::Stanza(e)) = session.try_next_event(Duration::from_millis(300)).await
        {
            second = Some(pass_core::stanza::Iq::try_from(&e).unwrap());
            break;
        }
    }
    let second = second.expect("lease still busy: the hang-up was not reported");
    assert_ne!(second.id, first.id);
    assert!(matches!(
        PassMessage::from_iq(&second),
        Ok(PassMessage::IncomingConnection { .. })
    ));
    node.stop().await.unwrap();
}

#[tokio::test]
async fn peer_reset_mid_relay_ends_only_that_relay() {
    let (_server, mut session, node) = node_with(|_| {}).await;
    let (client1, mut owner1, _) = bridged(&mut session, "").await;
    let (mut client2, mut owner2, _) = bridged(&mut session, "").await;
    // Reset: linger 0 then close sends RST.
    socket2::SockRef::from(&client1)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client1);
    assert!(closed_by_peer(&mut owner1).await);
    // The other relay still works.
    client2.write_all(b"still here").await.unwrap();
    let mut buf = [0u8; 10];
    tokio::time::timeout(WAIT, owner2.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"still here");
    owner2.write_all(b"yes").await.unwrap();
    let mut buf = [0u8; 3];
    tokio::time::timeout(WAIT, client2.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"yes");
    node.stop().await.unwrap();
}

#[tokio::test]
async fn full_pool_answers_502() {
    let (_server, mut session, node) = node_with(|c| c.core.last_port = c.core.first_port).await;
    let _lease = session.register(OWNER, "").await;
    let iq = session.register_raw("other@example/x", "full", "").await;
    assert_eq!(iq.kind, IqType::Error);
    assert_eq!(iq.error.as_ref().and_then(|e| e.code), Some(502), "{iq:?}");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_can_be_leased_again_at_once() {
    // One-port pool, and the register sent right behind the close: it draws the same
    // port, which must be closed by then (a late close makes the bind fail: 502).
    let (_server, mut session, node) = node_with(|c| c.core.last_port = c.core.first_port).await;
    let mut lease = session.register(OWNER, "").await;
    for round in 0..5 {
        let close = format!(
            "<query xmlns='jabber:iq:pass'><close/><proxy port='{}'>{}</proxy></query>",
            lease.port(),
            lease.ip()
        );
        session
            .send_iq(OWNER, &format!("close{round}"), "set", &close)
            .await;
        session
            .send_iq(
                OWNER,
                &format!("reg{round}"),
                "set",
                "<query xmlns='jabber:iq:pass'/>",
            )
            .await;
        let ack = session.next_iq().await;
        assert_eq!(ack.kind, IqType::Result, "close answer: {ack:?}");
        let reg = session.next_iq().await;
        assert_eq!(reg.kind, IqType::Result, "register answer: {reg:?}");
        lease = match PassMessage::from_iq(&reg).unwrap() {
            PassMessage::Registered { servers } => servers[0],
            other => panic!("expected Registered, got {other:?}"),
        };
    }
    node.stop().await.unwrap();
}

#[tokio::test]
async fn rate_limited_relay_is_complete() {
    let (_server, mut session, node) = node_with(|c| {
        c.relay.relay_rate = Some(512 * 1024);
        c.relay.total_rate = Some(1024 * 1024);
    })
    .await;
    let (client, owner, _) = bridged(&mut session, "").await;
    exchange(client, owner, random_bytes(300_000), random_bytes(200_000)).await;
    node.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_stanza_gets_bad_request_and_the_stream_stays_up() {
    let (_server, mut session, node) = node_with(|_| {}).await;
    session
        .send_iq(
            OWNER,
            "bad1",
            "set",
            "<query xmlns='jabber:iq:pass'><expire>soon</expire></query>",
        )
        .await;
    let iq = session.next_iq().await;
    assert_eq!(iq.id, "bad1");
    assert_eq!(iq.kind, IqType::Error);
    assert_eq!(iq.error.as_ref().and_then(|e| e.code), Some(400), "{iq:?}");
    // Same stream, next request works.
    let lease = session.register(OWNER, "").await;
    assert_ne!(lease.port(), 0);
    node.stop().await.unwrap();
}

#[tokio::test]
async fn expire_sends_a_notice() {
    let (_server, mut session, node) = node_with(|_| {}).await;
    let lease = session.register(OWNER, "<expire>1</expire>").await;
    let iq = session.next_iq().await;
    match PassMessage::from_iq(&iq).unwrap() {
        PassMessage::ExpireNotice { proxy } => assert_eq!(proxy, lease),
        other => panic!("expected an expire notice, got {other:?}"),
    }
    // The port no longer listens.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(lease).await.is_err());
    node.stop().await.unwrap();
}

/// DESIGN decision 101: no caller and no request for `max_idle_lease` ends the
/// lease with an expire notice and stops its port.
#[tokio::test]
async fn an_idle_lease_ends_with_an_expire_notice() {
    let (_server, mut session, node) =
        node_with(|c| c.core.max_idle_lease = Duration::from_secs(1)).await;
    let lease = session.register(OWNER, "").await;
    let t0 = std::time::Instant::now();
    let iq = session.next_iq().await;
    assert!(t0.elapsed() >= Duration::from_millis(900), "ended early");
    match PassMessage::from_iq(&iq).unwrap() {
        PassMessage::ExpireNotice { proxy } => assert_eq!(proxy, lease),
        other => panic!("expected an expire notice, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(lease).await.is_err(), "port still open");
    node.stop().await.unwrap();
}

/// What Prosody sends back for an IQ to a full JID no longer online.
fn bounce_of(notice: &Iq) -> String {
    format!(
        "<iq type='error' id='{}' from='{OWNER}' to='{DOMAIN}'>\
         <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        notice.id
    )
}

/// DESIGN decisions 100 and 94: the owner's server bounces the notice (the owner
/// logged off): the caller is dropped at once; the lease port keeps listening for
/// `reconnect_grace` (a caller meanwhile is announced, bounced, dropped), then
/// stops, no notice.
#[tokio::test]
async fn a_bounced_notice_ends_the_lease() {
    const GRACE: Duration = Duration::from_secs(2);
    let (_server, mut session, node) = node_with(|c| c.core.reconnect_grace = GRACE).await;
    let lease = session.register(OWNER, "").await;
    let mut client = connect(lease).await;
    let (notice, _, _) = session.expect_incoming().await;
    let bounced = tokio::time::Instant::now();
    session.send_raw(&bounce_of(&notice)).await;
    assert!(closed_by_peer(&mut client).await, "caller not dropped");
    // Within the grace the port still takes callers; each is dropped at its bounce.
    let mut second = connect(lease).await;
    let (notice, _, _) = session.expect_incoming().await;
    assert!(
        bounced.elapsed() < GRACE,
        "the test was too slow to check the grace"
    );
    session.send_raw(&bounce_of(&notice)).await;
    assert!(
        closed_by_peer(&mut second).await,
        "second caller not dropped"
    );
    // The grace (from the first bounce) runs out: the port stops listening.
    tokio::time::sleep_until(bounced + GRACE + Duration::from_millis(500)).await;
    assert!(
        TcpStream::connect(lease).await.is_err(),
        "lease still listens after its grace"
    );
    // No notice went out for it: the next stanza is the answer to this ping.
    session
        .send_iq(OWNER, "p1", "get", "<ping xmlns='urn:xmpp:ping'/>")
        .await;
    let next = session.next_iq().await;
    assert_eq!((next.id.as_str(), next.kind), ("p1", IqType::Result));
    node.stop().await.unwrap();
}

/// DESIGN decision 94: after a bounce, an IQ from the owner's full JID (pass-client
/// pings after a reconnect) ends the grace: the lease outlives it and serves.
#[tokio::test]
async fn an_owner_back_within_the_grace_keeps_the_lease() {
    let (_server, mut session, node) =
        node_with(|c| c.core.reconnect_grace = Duration::from_secs(1)).await;
    let lease = session.register(OWNER, "").await;
    let mut client = connect(lease).await;
    let (notice, _, _) = session.expect_incoming().await;
    session.send_raw(&bounce_of(&notice)).await;
    assert!(closed_by_peer(&mut client).await, "caller not dropped");
    session
        .send_iq(OWNER, "back", "get", "<ping xmlns='urn:xmpp:ping'/>")
        .await;
    let pong = session.next_iq().await;
    assert_eq!((pong.id.as_str(), pong.kind), ("back", IqType::Result));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Past the grace, the same port takes a caller and announces it.
    let _caller = connect(lease).await;
    let (again, _, _) = session.expect_incoming().await;
    assert_eq!(
        again.to.as_ref().map(ToString::to_string).as_deref(),
        Some(OWNER)
    );
    node.stop().await.unwrap();
}

#[tokio::test]
async fn dual_stack_advertises_both_families_and_relays_over_ipv6() {
    let v4: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let v6: std::net::IpAddr = "::1".parse().unwrap();
    let (_server, mut session, node) = node_with(|c| {
        c.core.advertised = vec![v4, v6];
        c.bind = vec![v4, v6];
    })
    .await;
    let iq = session.register_raw(OWNER, "dual", "").await;
    let servers = match PassMessage::from_iq(&iq).unwrap() {
        PassMessage::Registered { servers } => servers,
        other => panic!("expected Registered, got {other:?}"),
    };
    let ips: Vec<_> = servers.iter().map(|s| s.ip()).collect();
    assert_eq!(ips, vec![v4, v6]);
    let lease6 = servers[1];
    let mut client = connect(lease6).await;
    let (notice, client_addr, proxy) = session.expect_incoming().await;
    assert_eq!(client_addr, client.local_addr().unwrap());
    session.ack(&notice).await;
    let mut owner = connect_proxy(SocketAddr::new(v6, proxy.port())).await;
    client.write_all(b"over v6").await.unwrap();
    let mut buf = [0u8; 7];
    tokio::time::timeout(WAIT, owner.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"over v6");
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_sent_before_the_bridge_are_not_lost() {
    for mode in [RelayMode::Copy, RelayMode::Splice] {
        let (_server, mut session, node) = node_with(|c| c.relay.mode = mode).await;
        let lease = session.register(OWNER, "").await;
        let mut client = connect(lease).await;
        // The caller speaks first, while the node still waits for the owner.
        client.write_all(b"early bytes").await.unwrap();
        let (notice, _, proxy) = session.expect_incoming().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        session.ack(&notice).await;
        let mut owner = connect_proxy(proxy).await;
        let mut buf = [0u8; 11];
        tokio::time::timeout(WAIT, owner.read_exact(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{mode:?}: early bytes never arrived"))
            .unwrap();
        assert_eq!(&buf, b"early bytes");
        node.stop().await.unwrap();
    }
}

/// Connects new third parties to `lease` until one gets an incoming-connection
/// notice (bounded: a caller that races the previous session's end is dropped
/// unannounced, DESIGN decision 2); returns that notice and the caller's socket.
async fn next_caller_notice(
    session: &mut Session,
    lease: SocketAddr,
) -> Option<(pass_core::stanza::Iq, TcpStream)> {
    for _ in 0..20 {
        let caller = connect(lease).await;
        if let Ok(StreamEvent::Stanza(e)) = session.try_next_event(Duration::from_millis(300)).await
        {
            let iq = pass_core::stanza::Iq::try_from(&e).unwrap();
            return Some((iq, caller));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Returns once a byte went each way: the relay runs (a socket that half-closes
/// before the bridge counts as hung up, which is not what these tests are about).
async fn relaying(client: &mut TcpStream, owner: &mut TcpStream) {
    async fn one_byte(from: &mut TcpStream, to: &mut TcpStream) {
        from.write_all(b"!").await.unwrap();
        let mut b = [0u8; 1];
        tokio::time::timeout(WAIT, to.read_exact(&mut b))
            .await
            .expect("relay did not start")
            .unwrap();
        assert_eq!(&b, b"!");
    }
    one_byte(client, owner).await;
    one_byte(owner, client).await;
}

/// A grace far beyond every wait of these tests: whatever happens in them happens
/// before the half-close timeout could have closed anything.
const LONG_GRACE: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_hang_up_ends_the_session_while_the_owner_keeps_its_socket() {
    for mode in [RelayMode::Copy, RelayMode::Splice] {
        let (_server, mut session, node) = node_with(|c| {
            c.relay.mode = mode;
            c.relay.half_close_timeout = LONG_GRACE;
        })
        .await;
        let (mut client, mut owner, lease) = bridged(&mut session, "").await;
        relaying(&mut client, &mut owner).await;
        client.write_all(b"bye now").await.unwrap();
        client.shutdown().await.unwrap();
        // The owner reads the bytes, then EOF; it keeps its socket open.
        let (got, clean) = read_to_end(&mut owner).await;
        assert_eq!(got, b"bye now", "{mode:?}");
        assert!(clean, "{mode:?}");
        // §2: the port listens again after one side disconnected. The grace is
        // 10 minutes, so only the early report can free the lease here.
        let (iq, _caller) = next_caller_notice(&mut session, lease)
            .await
            .unwrap_or_else(|| panic!("{mode:?}: lease still busy after the third party hung up"));
        assert!(
            matches!(
                PassMessage::from_iq(&iq),
                Ok(PassMessage::IncomingConnection { .. })
            ),
            "{mode:?}: {iq:?}"
        );
        drop(owner);
        node.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_reply_after_the_third_party_half_close_arrives_complete() {
    for mode in [RelayMode::Copy, RelayMode::Splice] {
        let (_server, mut session, node) = node_with(|c| {
            c.relay.mode = mode;
            c.relay.half_close_timeout = LONG_GRACE;
        })
        .await;
        let (mut client, mut owner, lease) = bridged(&mut session, "").await;
        relaying(&mut client, &mut owner).await;
        client.write_all(b"request").await.unwrap();
        client.shutdown().await.unwrap();
        let (got, _) = read_to_end(&mut owner).await;
        assert_eq!(got, b"request");
        // The session is over for the core (the lease took a new caller)...
        let next = next_caller_notice(&mut session, lease).await;
        assert!(
            next.is_some(),
            "{mode:?}: session not ended at the half-close"
        );
        // ...but the relay still carries the owner's answer, byte-exact.
        let reply = random_bytes(1 << 20);
        let (r, ()) = tokio::time::timeout(WAIT, async {
            tokio::join!(read_to_end(&mut client), async {
                owner.write_all(&reply).await.unwrap();
                owner.shutdown().await.unwrap();
            })
        })
        .await
        .expect("reply timed out");
        let (got, clean) = r;
        assert!(clean, "{mode:?}");
        assert!(
            got == reply,
            "{mode:?}: reply differs ({} of {} bytes)",
            got.len(),
            reply.len()
        );
        node.stop().await.unwrap();
    }
}

/// Whether `s` is closed by the node within the wait: a write eventually fails
/// (the node's socket is gone, so the kernel answers with a reset).
async fn writes_fail(s: &mut TcpStream) -> bool {
    for _ in 0..200 {
        if s.write_all(b"x").await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_half_open_relay_is_closed_after_the_grace() {
    for mode in [RelayMode::Copy, RelayMode::Splice] {
        let (_server, mut session, node) = node_with(|c| {
            c.relay.mode = mode;
            c.relay.half_close_timeout = Duration::from_secs(1);
        })
        .await;
        let (mut client, mut owner, _) = bridged(&mut session, "").await;
        relaying(&mut client, &mut owner).await;
        relaying(&mut client, &mut owner).await;
        client.shutdown().await.unwrap();
        let (got, clean) = read_to_end(&mut owner).await;
        assert!(got.is_empty() && clean, "{mode:?}");
        // Neither side sends anything more: after the grace (1 s) the node closes
        // both sockets. The client, whose reading side was still open, sees EOF
        // (read_to_end waits at most WAIT = 10 s: grace plus a wide margin)...
        let (got, _) = read_to_end(&mut client).await;
        assert!(got.is_empty(), "{mode:?}");
        // ...and the owner's socket is gone too.
        assert!(writes_fail(&mut owner).await, "{mode:?}: owner socket open");
        node.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_relay_that_keeps_moving_outlives_the_grace() {
    let (_server, mut session, node) =
        node_with(|c| c.relay.half_close_timeout = Duration::from_secs(2)).await;
    let (mut client, mut owner, _) = bridged(&mut session, "").await;
    relaying(&mut client, &mut owner).await;
    client.shutdown().await.unwrap();
    let _ = read_to_end(&mut owner).await;
    // The owner trickles 40 bytes over about 4 s (twice the grace), each well
    // within the grace of the last: the relay must carry all of them.
    let sent: Vec<u8> = (0..40u8).collect();
    for b in &sent {
        owner.write_all(&[*b]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    owner.shutdown().await.unwrap();
    let (got, clean) = read_to_end(&mut client).await;
    assert!(clean);
    assert_eq!(got, sent);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_notice_comes_when_the_third_party_hangs_up() {
    let (_server, mut session, node) = node_with(|c| c.relay.half_close_timeout = LONG_GRACE).await;
    let (mut client, mut owner, lease) = bridged(&mut session, "<oneshot/>").await;
    relaying(&mut client, &mut owner).await;
    drop(client);
    assert!(
        closed_by_peer(&mut owner).await,
        "owner not told of the EOF"
    );
    // The owner keeps its socket; the notice must come anyway.
    let iq = session.next_iq().await;
    match PassMessage::from_iq(&iq).unwrap() {
        PassMessage::OneshotNotice { proxy } => assert_eq!(proxy, lease),
        other => panic!("expected a oneshot notice, got {other:?}"),
    }
    drop(owner);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_relay_is_closed_after_the_idle_timeout_and_the_lease_listens_again() {
    for mode in [RelayMode::Copy, RelayMode::Splice] {
        let (_server, mut session, node) = node_with(|c| {
            c.relay.mode = mode;
            c.relay.idle_timeout = Some(Duration::from_secs(1));
        })
        .await;
        let (mut client, mut owner, lease) = bridged(&mut session, "").await;
        relaying(&mut client, &mut owner).await;
        // Nobody sends or closes anything: after the idle timeout (1 s; read_to_end
        // waits up to WAIT = 10 s) the node closes both sockets...
        let (got, clean) = read_to_end(&mut client).await;
        assert!(got.is_empty() && clean, "{mode:?}: client not closed");
        let (got, clean) = read_to_end(&mut owner).await;
        assert!(got.is_empty() && clean, "{mode:?}: owner not closed");
        // ...and the session is over: the lease announces its next caller.
        let next = next_caller_notice(&mut session, lease).await;
        assert!(
            next.is_some(),
            "{mode:?}: lease still busy after the idle close"
        );
        node.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_that_keeps_moving_outlives_the_idle_timeout() {
    let (_server, mut session, node) =
        node_with(|c| c.relay.idle_timeout = Some(Duration::from_secs(1))).await;
    let (mut client, mut owner, _) = bridged(&mut session, "").await;
    // A byte each way every 200 ms for about 3 s (three idle timeouts), each well
    // within the timeout of the last: the relay must stay up throughout.
    for _ in 0..15 {
        relaying(&mut client, &mut owner).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client.write_all(b"still here").await.unwrap();
    client.shutdown().await.unwrap();
    let (got, clean) = read_to_end(&mut owner).await;
    assert!(clean);
    assert_eq!(got, b"still here");
    node.stop().await.unwrap();
}
