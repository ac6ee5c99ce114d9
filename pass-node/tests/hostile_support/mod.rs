//! A hostile XEP-0114 server for `hostile.rs`: `common::FakeServer` (and its
//! handshake), plus arbitrary bytes on the component stream (invalid UTF-8, DTDs,
//! unterminated elements), a prolog before its stream header, and a report of how
//! the node ended the stream.

use crate::common::{FakeServer, HandshakeOutcome, Session, DOMAIN, SECRET, WAIT};
use pass_core::component::{server_header, StreamError};
use pass_core::stanza::{Iq, PassMessage};
use pass_core::xml::StreamEvent;
use std::net::SocketAddr;
use std::time::Duration;

/// The XMPP server side of the component link, on 127.0.0.1.
pub struct HostileServer {
    server: FakeServer,
    /// Where the node connects.
    pub addr: SocketAddr,
}

impl HostileServer {
    /// Binds 127.0.0.1 on a free port.
    pub async fn bind() -> HostileServer {
        let server = FakeServer::bind(SECRET).await;
        let addr = server.addr;
        HostileServer { server, addr }
    }

    /// Accepts the node's next connection and completes the handshake.
    pub async fn accept(&self) -> Link {
        let (s, outcome) = self.server.accept().await;
        assert_eq!(outcome, HandshakeOutcome::Accepted, "handshake digest");
        Link { s }
    }

    /// Accepts the node's next connection, reads its header and answers with
    /// `prolog` followed by a normal stream header; no handshake.
    pub async fn accept_with_prolog(&self, prolog: &str) -> Link {
        let mut s = self.server.accept_connection().await;
        match s.next_event().await {
            StreamEvent::Header(h) => assert_eq!(h.to.as_deref(), Some(DOMAIN)),
            other => panic!("expected the node's stream header, got {other:?}"),
        }
        let open = server_header(DOMAIN, "hostile").to_open_tag();
        // The prolog goes after the XML declaration, where a DTD would sit.
        let decl_end = open.find("?>").map_or(0, |i| i + 2);
        let text = format!("{}{prolog}{}", &open[..decl_end], &open[decl_end..]);
        s.send_raw(&text).await;
        Link { s }
    }
}

/// How the node ended a component stream.
#[derive(Debug)]
pub struct Cut {
    /// The condition of the `<stream:error/>` it sent first, if any.
    pub stream_error: Option<String>,
    /// Whether it sent `</stream:stream>`.
    pub closed_stream: bool,
}

impl Cut {
    /// Asserts the node said why it cut the stream with one of `conditions`
    /// (RFC 6120 §4.9.1.1: an entity that detects a stream error MUST send one).
    pub fn assert_stream_error(&self, conditions: &[&str]) {
        match &self.stream_error {
            Some(c) => assert!(
                conditions.contains(&c.as_str()),
                "stream error <{c}/>, expected one of {conditions:?}"
            ),
            None => panic!(
                "the node cut the stream without a <stream:error/> (expected one of \
                 {conditions:?}, RFC 6120 §4.9.1.1: it MUST send one before closing); {self:?}"
            ),
        }
    }
}

/// The server's end of one component stream.
pub struct Link {
    s: Session,
}

impl Link {
    /// Writes text.
    pub async fn send(&mut self, xml: &str) {
        self.s.send_raw(xml).await;
    }

    /// Writes bytes; `false` once the node no longer takes them (it cut the stream).
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        self.s.send_bytes(bytes).await
    }

    /// The next event from the node, or why there is none.
    pub async fn try_next_event(&mut self, wait: Duration) -> Result<StreamEvent, String> {
        self.s.try_next_event(wait).await
    }

    /// The next stanza from the node, as an IQ.
    pub async fn next_iq(&mut self) -> Iq {
        self.s.next_iq().await
    }

    /// Reads until the node ends the connection (within [`WAIT`]; panics if it does
    /// not) and reports how. Stanzas it still sends meanwhile are returned too.
    pub async fn expect_cut(&mut self) -> (Cut, Vec<Iq>) {
        let mut cut = Cut {
            stream_error: None,
            closed_stream: false,
        };
        let mut stanzas = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_next_event(left).await {
                Ok(StreamEvent::StreamError(e)) => {
                    let condition = StreamError::from_element(&e).condition;
                    cut.stream_error.get_or_insert(condition.to_string());
                }
                Ok(StreamEvent::End) => cut.closed_stream = true,
                Ok(StreamEvent::Stanza(e)) => {
                    if let Ok(iq) = Iq::try_from(&e) {
                        stanzas.push(iq);
                    }
                }
                Ok(StreamEvent::Header(h)) => panic!("second stream header {h:?}"),
                Err(e) if e.starts_with("timed out") => {
                    panic!("the node did not end the stream within {WAIT:?} ({cut:?})")
                }
                // EOF or reset: the node let go.
                Err(e) if e.starts_with("node closed") || e.starts_with("read:") => {
                    return (cut, stanzas)
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Sends an IQ from `from` to the component.
    pub async fn send_iq(&mut self, from: &str, id: &str, kind: &str, payload: &str) {
        self.s.send_iq(from, id, kind, payload).await;
    }

    /// Sends an XEP-0199 ping from `from`.
    pub async fn send_ping(&mut self, from: &str, id: &str) {
        self.send_iq(from, id, "get", "<ping xmlns='urn:xmpp:ping'/>")
            .await;
    }

    /// Registers a lease for `from`; returns the answer.
    pub async fn register_raw(&mut self, from: &str, id: &str) -> Iq {
        self.s.register_raw(from, id, "").await
    }

    /// Registers a lease for `from` and returns its address.
    pub async fn register(&mut self, from: &str) -> SocketAddr {
        self.s.register(from, "").await
    }

    /// The next incoming-connection notice: (iq, client, proxy).
    pub async fn expect_incoming(&mut self) -> (Iq, SocketAddr, SocketAddr) {
        self.s.expect_incoming().await
    }

    /// Notices until the one about `client` (notices about earlier callers are
    /// skipped); panics if none comes within [`WAIT`].
    pub async fn expect_incoming_from(&mut self, client: SocketAddr) -> (Iq, SocketAddr) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self
                .try_next_event(left)
                .await
                .unwrap_or_else(|e| panic!("no notice about {client}: {e}"));
            let StreamEvent::Stanza(e) = ev else { continue };
            let Ok(iq) = Iq::try_from(&e) else { continue };
            if let Ok(PassMessage::IncomingConnection { client: c, proxy }) =
                PassMessage::from_iq(&iq)
            {
                if c == client {
                    return (iq, proxy);
                }
            }
        }
    }

    /// Accepts a request from the node with an empty result.
    pub async fn ack(&mut self, request: &Iq) {
        self.s.ack(request).await;
    }

    /// Closes the stream as a server going away would.
    pub async fn close(self) {
        self.s.close().await;
    }
}

/// `n` consecutive ports on 127.0.0.1 below the ephemeral range, none in use now
/// (checked by binding each), so a scan sees only what the node opens.
pub fn free_port_range(n: u16) -> (u16, u16) {
    for _ in 0..200 {
        let first = 20000 + fastrand::u16(..(12000 - n));
        let all_free =
            (first..first + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return (first, first + n - 1);
        }
    }
    panic!("no {n} free consecutive ports found in 20000-31999");
}
