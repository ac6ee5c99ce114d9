//! The XMPP server goes away and comes back: the node reconnects, keeps its leases
//! and live relays, and delivers what fell due meanwhile.

mod common;

use common::*;
use pass_core::stanza::PassMessage;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn notice_due_while_the_server_was_away_is_delivered_after_reconnect() {
    let server = FakeServer::bind(SECRET).await;
    let addr = server.addr;
    let node = start(config(addr));
    let mut session = server.accept_ok().await;
    let lease = session
        .register("owner@example/home", "<expire>1</expire>")
        .await;
    // A live relay on another lease must survive the outage.
    let relay_lease = session.register("peer@example/r", "").await;
    let mut client = connect(relay_lease).await;
    let (notice, _, proxy) = session.expect_incoming().await;
    session.ack(&notice).await;
    let mut owner = None;
    for _ in 0..50 {
        if let Ok(s) = tokio::net::TcpStream::connect(proxy).await {
            owner = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut owner = owner.expect("proxy port accepted");

    // The server goes away (listener and stream) for longer than the expiry.
    drop(session);
    drop(server);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The relay still moves bytes while the stream is down.
    client.write_all(b"during outage").await.unwrap();
    let mut buf = [0u8; 13];
    tokio::time::timeout(WAIT, owner.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"during outage");

    // It comes back on the same address.
    let server = FakeServer::bind_at(addr, SECRET).await;
    let mut session = server.accept_ok().await;
    let iq = session.next_iq().await;
    match PassMessage::from_iq(&iq).unwrap() {
        PassMessage::ExpireNotice { proxy } => assert_eq!(proxy, lease),
        other => panic!("expected the expire notice, got {other:?}"),
    }
    // The other lease is still registered: closing it succeeds.
    session
        .send_iq(
            "peer@example/r",
            "close1",
            "set",
            &format!(
                "<query xmlns='jabber:iq:pass'><close/><proxy port='{}'>{}</proxy></query>",
                relay_lease.port(),
                relay_lease.ip()
            ),
        )
        .await;
    let answer = session.next_iq().await;
    assert_eq!(answer.id, "close1");
    assert_eq!(answer.kind, pass_core::stanza::IqType::Result, "{answer:?}");
    node.stop().await.unwrap();
}
