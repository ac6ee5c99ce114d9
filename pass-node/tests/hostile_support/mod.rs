//! A hostile XEP-0114 server for `hostile.rs`: like `common::FakeServer` (whose
//! handshake it copies), but it can write arbitrary bytes on the component stream
//! (invalid UTF-8, DTDs, unterminated elements), put a prolog before its stream
//! header, and report how the node ended the stream.

use crate::common::{DOMAIN, SECRET, WAIT};
use pass_core::stanza::{Iq, IqType, PassMessage};
use pass_core::xml::{StreamEvent, StreamFramer, StreamHeader, NS_COMPONENT};
use sha1::{Digest, Sha1};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;

/// The stream-side namespace of stream error conditions (RFC 6120 §4.9.3).
const NS_STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";

/// The XMPP server side of the component link, on 127.0.0.1.
pub struct HostileServer {
    listener: TcpListener,
    /// Where the node connects.
    pub addr: SocketAddr,
}

impl HostileServer {
    /// Binds 127.0.0.1 on a free port.
    pub async fn bind() -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        HostileServer { listener, addr }
    }

    /// Accepts the node's next connection and completes the handshake.
    pub async fn accept(&self) -> Link {
        let mut link = self.accept_raw().await;
        let id = format!("id{}", fastrand::u32(..));
        let mut header = StreamHeader::new(NS_COMPONENT);
        header.id = Some(id.clone());
        header.from = Some(DOMAIN.to_string());
        link.send(&header.to_open_tag()).await;
        let digest = match link.next_event().await {
            StreamEvent::Stanza(e) if e.name == "handshake" => e.text(),
            other => panic!("expected <handshake/>, got {other:?}"),
        };
        let mut h = Sha1::new();
        h.update(id.as_bytes());
        h.update(SECRET.as_bytes());
        assert_eq!(digest, format!("{:x}", h.finalize()), "handshake digest");
        link.send("<handshake/>").await;
        link
    }

    /// Accepts the node's next connection, reads its header and answers with
    /// `prolog` followed by a normal stream header; no handshake.
    pub async fn accept_with_prolog(&self, prolog: &str) -> Link {
        let mut link = self.accept_raw().await;
        let mut header = StreamHeader::new(NS_COMPONENT);
        header.id = Some("hostile".to_string());
        header.from = Some(DOMAIN.to_string());
        let open = header.to_open_tag();
        // The prolog goes after the XML declaration, where a DTD would sit.
        let decl_end = open.find("?>").map_or(0, |i| i + 2);
        let text = format!("{}{prolog}{}", &open[..decl_end], &open[decl_end..]);
        link.send(&text).await;
        link
    }

    async fn accept_raw(&self) -> Link {
        let (stream, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("the node did not connect in time")
            .unwrap();
        let (reader, writer) = stream.into_split();
        let mut link = Link {
            reader,
            writer,
            framer: StreamFramer::new(pass_core::xml::Limits::default()),
        };
        match link.next_event().await {
            StreamEvent::Header(h) => assert_eq!(h.to.as_deref(), Some(DOMAIN)),
            other => panic!("expected the node's stream header, got {other:?}"),
        }
        link
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
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    framer: StreamFramer,
}

impl Link {
    /// Writes text.
    pub async fn send(&mut self, xml: &str) {
        self.writer.write_all(xml.as_bytes()).await.unwrap();
    }

    /// Writes bytes; `false` once the node no longer takes them (it cut the stream).
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        matches!(
            tokio::time::timeout(WAIT, self.writer.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// The next event from the node, or why there is none.
    pub async fn try_next_event(&mut self, wait: Duration) -> Result<StreamEvent, String> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = [0u8; 8192];
        loop {
            if let Some(ev) = self.framer.next_event() {
                return ev.map_err(|e| format!("bad XML from node: {e}"));
            }
            let n = tokio::time::timeout_at(deadline, self.reader.read(&mut buf))
                .await
                .map_err(|_| "timed out waiting for the node".to_string())?
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("node closed the connection".to_string());
            }
            self.framer.feed(&buf[..n]);
        }
    }

    /// The next event; panics on timeout, EOF or bad XML.
    pub async fn next_event(&mut self) -> StreamEvent {
        self.try_next_event(WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next stanza from the node, as an IQ.
    pub async fn next_iq(&mut self) -> Iq {
        match self.next_event().await {
            StreamEvent::Stanza(e) => Iq::try_from(&e).expect("node sent a valid IQ"),
            other => panic!("expected a stanza, got {other:?}"),
        }
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
                    let condition = e
                        .elements()
                        .find(|c| c.namespace == NS_STREAM_ERRORS && c.name != "text")
                        .map_or_else(|| "(no condition)".to_string(), |c| c.name.clone());
                    cut.stream_error.get_or_insert(condition);
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
        let xml = format!("<iq type='{kind}' id='{id}' from='{from}' to='{DOMAIN}'>{payload}</iq>");
        self.send(&xml).await;
    }

    /// Sends an XEP-0199 ping from `from`.
    pub async fn send_ping(&mut self, from: &str, id: &str) {
        self.send_iq(from, id, "get", "<ping xmlns='urn:xmpp:ping'/>")
            .await;
    }

    /// Registers a lease for `from`; returns the answer.
    pub async fn register_raw(&mut self, from: &str, id: &str) -> Iq {
        self.send_iq(from, id, "set", "<query xmlns='jabber:iq:pass'/>")
            .await;
        let iq = self.next_iq().await;
        assert_eq!(iq.id, id, "answer to another request: {iq:?}");
        iq
    }

    /// Registers a lease for `from` and returns its address.
    pub async fn register(&mut self, from: &str) -> SocketAddr {
        let id = format!("reg{}", fastrand::u32(..));
        let iq = self.register_raw(from, &id).await;
        assert_eq!(iq.kind, IqType::Result, "register answer: {iq:?}");
        match PassMessage::from_iq(&iq) {
            Ok(PassMessage::Registered { servers }) => servers[0],
            other => panic!("expected Registered, got {other:?}"),
        }
    }

    /// The next incoming-connection notice: (iq, client, proxy).
    pub async fn expect_incoming(&mut self) -> (Iq, SocketAddr, SocketAddr) {
        let iq = self.next_iq().await;
        match PassMessage::from_iq(&iq) {
            Ok(PassMessage::IncomingConnection { client, proxy }) if iq.kind == IqType::Set => {
                (iq, client, proxy)
            }
            other => panic!("expected an incoming-connection notice, got {other:?} in {iq:?}"),
        }
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
        let to = request
            .to
            .as_ref()
            .map(|j| j.to_string())
            .unwrap_or_default();
        let xml = format!(
            "<iq type='result' id='{}' from='{to}' to='{DOMAIN}'><query xmlns='jabber:iq:pass'/></iq>",
            request.id
        );
        self.send(&xml).await;
    }

    /// Closes the stream as a server going away would.
    pub async fn close(mut self) {
        let _ = self.writer.write_all(b"</stream:stream>").await;
        let _ = self.writer.shutdown().await;
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
