//! The Prometheus endpoint and the shutdown drain, in-process.

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn bridged(session: &mut Session, owner_jid: &str) -> (TcpStream, TcpStream) {
    let lease = session.register(owner_jid, "").await;
    let client = connect(lease).await;
    let (notice, _, proxy) = session.expect_incoming().await;
    session.ack(&notice).await;
    for _ in 0..50 {
        if let Ok(mut owner) = TcpStream::connect(proxy).await {
            // One byte through proves the relay is up.
            let mut client = client;
            client.write_all(b"!").await.unwrap();
            let mut b = [0u8; 1];
            tokio::time::timeout(WAIT, owner.read_exact(&mut b))
                .await
                .unwrap()
                .unwrap();
            return (client, owner);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("proxy port never accepted");
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut s = connect(addr).await;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (body, _) = read_to_end(&mut s).await;
    String::from_utf8(body).unwrap()
}

/// A free loopback port (bound then released).
fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn metrics_report_leases_relays_bytes_and_reconnects() {
    let metrics_addr = free_port();
    let server = FakeServer::bind(SECRET).await;
    let mut c = config(server.addr);
    c.metrics = Some(metrics_addr);
    let node = start(c);
    let mut session = server.accept_ok().await;
    let (mut client, mut owner) = bridged(&mut session, "owner@example/a").await;
    client.write_all(&[7u8; 999]).await.unwrap();
    let mut buf = [0u8; 999];
    tokio::time::timeout(WAIT, owner.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    // A bad request to count an error.
    session
        .send_iq(
            "owner@example/a",
            "bad",
            "set",
            "<query xmlns='jabber:iq:pass'><close/></query>",
        )
        .await;
    let err = session.next_iq().await;
    assert_eq!(err.id, "bad");

    // Drop the stream once to count a reconnect.
    drop(session);
    let mut session = server.accept_ok().await;
    let _ = &mut session;
    // Give the driver a moment to publish its snapshot.
    let mut text = String::new();
    for _ in 0..50 {
        text = scrape(metrics_addr).await;
        if text.contains("pass_stream_reconnects_total 1") && text.contains("pass_stream_up 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for want in [
        "pass_leases 1",
        "pass_relays 1",
        "pass_registrations_total 1",
        "pass_relayed_bytes_total{direction=\"client_to_owner\"} 1000",
        "pass_errors_sent_total{code=\"400\"} 1",
        "pass_stream_reconnects_total 1",
        "pass_stream_up 1",
        "pass_owner_answer_seconds_count 1",
    ] {
        assert!(text.contains(want), "metrics lack {want:?}:\n{text}");
    }
    node.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_drains_live_relays_then_exits() {
    let server = FakeServer::bind(SECRET).await;
    let mut c = config(server.addr);
    c.drain_timeout = Duration::from_secs(20);
    let node = start(c);
    let mut session = server.accept_ok().await;
    let (mut client, mut owner) = bridged(&mut session, "owner@example/a").await;
    let stopping = tokio::spawn(node.stop());
    // The close notice goes out...
    let _notice = session.next_iq().await;
    // ...while the relay still carries bytes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.write_all(b"last words").await.unwrap();
    let mut buf = [0u8; 10];
    tokio::time::timeout(WAIT, owner.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"last words");
    assert!(!stopping.is_finished(), "node exited with a relay live");
    // Both sides finish: the node exits well before the drain timeout.
    drop(client);
    drop(owner);
    // Drain timeout 20 s: ending within 10 s means it did not wait for it.
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("node did not exit after its last relay ended")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn drain_timeout_cuts_relays_that_do_not_end() {
    let server = FakeServer::bind(SECRET).await;
    let mut c = config(server.addr);
    c.drain_timeout = Duration::from_secs(1);
    let node = start(c);
    let mut session = server.accept_ok().await;
    let (mut client, _owner) = bridged(&mut session, "owner@example/a").await;
    let result = node.stop().await;
    assert!(result.is_ok(), "{result:?}");
    assert!(
        closed_by_peer(&mut client).await,
        "relay not cut after the drain timeout"
    );
}
