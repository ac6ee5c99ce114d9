//! XEP-0114 opening failures, in-process: the node ends with the right error
//! instead of hanging or retrying forever.

mod common;

use common::*;
use pass_core::component::{
    server_header, ServerHandshake, ServerStep, StreamError, StreamErrorCondition,
};
use pass_core::xml::StreamEvent;
use pass_node::component::LinkError;
use pass_node::NodeError;

/// Reads the node's stream header and answers with ours; with an `id`, also waits
/// for the node's handshake (leaving it unanswered), without one, stops there.
async fn open_as_server(session: &mut Session, id: Option<&str>) {
    let Some(id) = id else {
        match session.next_event().await {
            StreamEvent::Header(_) => {}
            other => panic!("unexpected {other:?}"),
        }
        let mut header = server_header(DOMAIN, "");
        header.id = None;
        session.send_raw(&header.to_open_tag()).await;
        return;
    };
    let mut opening = ServerHandshake::new(DOMAIN, SECRET, id);
    loop {
        let ev = session.next_event().await;
        // The verdict on the digest is left unwritten: each test answers its own way.
        match opening.handle(ev).unwrap_or_else(|e| panic!("{e}")) {
            ServerStep::Send(xml) => session.send_raw(&xml).await,
            ServerStep::Accepted(_) | ServerStep::Refused(_) => return,
        }
    }
}

#[tokio::test]
async fn stream_error_at_start_is_fatal_with_exit_code_4() {
    let server = FakeServer::bind(SECRET).await;
    let node = start(config(server.addr));
    let mut s = server.accept_connection().await;
    open_as_server(&mut s, Some("abc")).await;
    let host_unknown = StreamError::new(StreamErrorCondition::HostUnknown);
    s.send_raw(&host_unknown.to_xml_closing()).await;
    let err = node.join().await.unwrap_err();
    assert!(
        matches!(&err, NodeError::Link(LinkError::Refused(m)) if m.contains("host-unknown")),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 4);
}

#[tokio::test]
async fn header_without_id_is_refused() {
    let server = FakeServer::bind(SECRET).await;
    let node = start(config(server.addr));
    let mut s = server.accept_connection().await;
    open_as_server(&mut s, None).await;
    let err = node.join().await.unwrap_err();
    assert!(
        matches!(&err, NodeError::Link(LinkError::Refused(m)) if m.contains("no id")),
        "{err:?}"
    );
}

#[tokio::test]
async fn repeated_silent_close_after_handshake_counts_as_auth_failure() {
    let server = FakeServer::bind(SECRET).await;
    let node = start(config(server.addr));
    for _ in 0..3 {
        let mut s = server.accept_connection().await;
        open_as_server(&mut s, Some("xyz")).await;
        drop(s);
    }
    let err = node.join().await.unwrap_err();
    assert!(
        matches!(err, NodeError::Link(LinkError::AuthFailed(_))),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 3);
}

#[tokio::test]
async fn unreachable_server_is_retried_until_it_appears() {
    // Reserve a port, release it: the first attempts are refused.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let node = start(config(addr));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let server = FakeServer::bind_at(addr, SECRET).await;
    let mut session = server.accept_ok().await;
    let lease = session.register("u@example/r", "").await;
    assert_ne!(lease.port(), 0);
    node.stop().await.unwrap();
}
