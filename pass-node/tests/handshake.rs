//! XEP-0114 opening failures, in-process: the node ends with the right error
//! instead of hanging or retrying forever.

mod common;

use common::*;
use pass_core::xml::{Limits, StreamEvent, StreamFramer, StreamHeader, NS_COMPONENT};
use pass_node::component::LinkError;
use pass_node::NodeError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads the node's stream header, answers with ours (`id` optional), then waits
/// for the node's handshake if `id` is given. Returns the socket.
async fn open_as_server(stream: &mut TcpStream, id: Option<&str>) {
    let mut framer = StreamFramer::new(Limits::default());
    let mut buf = [0u8; 4096];
    let mut want_handshake = false;
    loop {
        while let Some(ev) = framer.next_event() {
            match ev.unwrap() {
                StreamEvent::Header(_) => {
                    let mut h = StreamHeader::new(NS_COMPONENT);
                    h.from = Some(DOMAIN.to_string());
                    h.id = id.map(str::to_string);
                    stream.write_all(h.to_open_tag().as_bytes()).await.unwrap();
                    if id.is_none() {
                        return;
                    }
                    want_handshake = true;
                }
                StreamEvent::Stanza(e) if want_handshake && e.name == "handshake" => return,
                other => panic!("unexpected {other:?}"),
            }
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "node closed early");
        framer.feed(&buf[..n]);
    }
}

#[tokio::test]
async fn stream_error_at_start_is_fatal_with_exit_code_4() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = start(config(listener.local_addr().unwrap()));
    let (mut s, _) = listener.accept().await.unwrap();
    open_as_server(&mut s, Some("abc")).await;
    s.write_all(
        b"<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
          </stream:error></stream:stream>",
    )
    .await
    .unwrap();
    let err = node.join().await.unwrap_err();
    assert!(
        matches!(&err, NodeError::Link(LinkError::Refused(m)) if m.contains("host-unknown")),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 4);
}

#[tokio::test]
async fn header_without_id_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = start(config(listener.local_addr().unwrap()));
    let (mut s, _) = listener.accept().await.unwrap();
    open_as_server(&mut s, None).await;
    let err = node.join().await.unwrap_err();
    assert!(
        matches!(&err, NodeError::Link(LinkError::Refused(m)) if m.contains("no id")),
        "{err:?}"
    );
}

#[tokio::test]
async fn repeated_silent_close_after_handshake_counts_as_auth_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node = start(config(listener.local_addr().unwrap()));
    for _ in 0..3 {
        let (mut s, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("node did not retry")
            .unwrap();
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
