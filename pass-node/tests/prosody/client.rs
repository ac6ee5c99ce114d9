//! A real XMPP client (c2s) for the owner and the other user, on `tokio-xmpp`.
//!
//! `tokio-xmpp` (xmpp-rs) with only its `insecure-tcp` feature connects in plain TCP
//! to a given address (`DnsConfig::addr`) and authenticates with SASL, which Prosody
//! allows on loopback with `c2s_require_encryption = false`. Using an independent
//! XMPP stack on the client side means the node is checked against someone else's
//! reading of the protocol, not against pass-core's own.
//!
//! A driver task owns a `tokio_xmpp::stanzastream::StanzaStream`: it sends what the
//! test queues and forwards every IQ received; the test matches responses by id itself.
//!
//! Why not `tokio_xmpp::Client`: in tokio-xmpp 6.0.0 it splits the stanza stream into
//! halves behind a mutex, and the receiving half answers `Pending` without registering
//! a waker when a send holds that mutex; a response that arrives in that instant is
//! stranded until the next one (a lost wakeup, seen here as "no response within 10s"
//! in about one run in 40 under load). The unsplit `StanzaStream` has no such lock.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_xmpp::connect::{DnsConfig, TcpServerConnector};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::stanza_error::StanzaError;
use tokio_xmpp::stanzastream::{Event, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::Stanza;

/// How long login may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Stanzas the stream may buffer each way.
const STREAM_QUEUE_DEPTH: usize = 16;
/// How long an IQ response may take.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the driver forwards: an IQ, or why the stream failed.
type Incoming = Result<Iq, String>;

/// A logged-in client.
pub struct XmppClient {
    /// The full JID the server bound.
    pub jid: Jid,
    out: mpsc::UnboundedSender<Stanza>,
    inbox: mpsc::UnboundedReceiver<Incoming>,
    /// IQs received while waiting for something else, in arrival order.
    stash: VecDeque<Iq>,
    driver: JoinHandle<()>,
    next_id: u64,
}

/// The two request kinds.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `get`
    Get,
    /// `set`
    Set,
}

impl XmppClient {
    /// Logs `user@host` in through `server` (plain TCP) and waits until it is online.
    pub async fn connect(server: SocketAddr, user: &str, host: &str, password: &str) -> Self {
        let bare: BareJid = format!("{user}@{host}").parse().expect("bare JID");
        let mut stream = StanzaStream::new_c2s(
            TcpServerConnector::from(DnsConfig::addr(&server.to_string())),
            bare.clone().into(),
            password.to_owned(),
            Timeouts::tight(),
            STREAM_QUEUE_DEPTH,
        );
        let (out, mut out_rx) = mpsc::unbounded_channel::<Stanza>();
        let (in_tx, inbox) = mpsc::unbounded_channel::<Incoming>();
        let (online_tx, online_rx) = oneshot::channel::<Jid>();
        let driver = tokio::spawn(async move {
            let mut online_tx = Some(online_tx);
            loop {
                tokio::select! {
                    cmd = out_rx.recv() => match cmd {
                        // Queued in order; the token (written, acked) is not needed.
                        Some(stanza) => drop(stream.send(Box::new(stanza)).await),
                        None => {
                            stream.close().await;
                            return;
                        }
                    },
                    ev = stream.next() => match ev {
                        Some(Event::Stream(StreamEvent::Reset { bound_jid, .. })) => {
                            match online_tx.take() {
                                Some(tx) => drop(tx.send(bound_jid)),
                                // A second Reset is a reconnect: state was lost.
                                None => drop(in_tx.send(Err("stream reset (reconnected)".into()))),
                            }
                        }
                        Some(Event::Stream(StreamEvent::Suspended)) => {
                            let _ = in_tx.send(Err("connection lost".into()));
                        }
                        Some(Event::Stream(StreamEvent::Resumed)) => {}
                        Some(Event::Stanza(Stanza::Iq(iq))) => {
                            let _ = in_tx.send(Ok(iq));
                        }
                        Some(Event::Stanza(_)) => {}
                        None => return,
                    },
                }
            }
        });
        let jid = tokio::time::timeout(LOGIN_TIMEOUT, online_rx)
            .await
            .unwrap_or_else(|_| panic!("{bare} not online within {LOGIN_TIMEOUT:?}"))
            .unwrap_or_else(|_| panic!("{bare}: client task ended before login"));
        XmppClient {
            jid,
            out,
            inbox,
            stash: VecDeque::new(),
            driver,
            next_id: 0,
        }
    }

    fn send(&self, iq: Iq) {
        self.out
            .send(Stanza::Iq(iq))
            .expect("client driver task is gone");
    }

    /// Sends a request; returns its id.
    pub fn send_request(&mut self, to: &str, kind: Kind, payload: Element) -> String {
        self.next_id += 1;
        let id = format!("t{}", self.next_id);
        let to: Jid = to.parse().expect("to JID");
        let iq = match kind {
            Kind::Get => Iq::Get {
                from: None,
                to: Some(to),
                id: id.clone(),
                payload,
            },
            Kind::Set => Iq::Set {
                from: None,
                to: Some(to),
                id: id.clone(),
                payload,
            },
        };
        self.send(iq);
        id
    }

    /// Sends a request and waits for its result or error.
    pub async fn request(&mut self, to: &str, kind: Kind, payload: Element) -> Iq {
        let id = self.send_request(to, kind, payload);
        self.response(&id).await
    }

    /// Waits for the response to request `id`; other IQs are kept for later.
    pub async fn response(&mut self, id: &str) -> Iq {
        match self.response_within(id, RESPONSE_TIMEOUT).await {
            Some(iq) => iq,
            None => panic!(
                "{}: no response to {id} within {RESPONSE_TIMEOUT:?}",
                self.jid
            ),
        }
    }

    /// The response to request `id` if it comes within `within`; other IQs are
    /// kept for later.
    pub async fn response_within(&mut self, id: &str, within: Duration) -> Option<Iq> {
        let is_response =
            |iq: &Iq| iq.id() == id && matches!(iq, Iq::Result { .. } | Iq::Error { .. });
        if let Some(pos) = self.stash.iter().position(is_response) {
            return self.stash.remove(pos);
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let iq = self.recv_until(deadline).await?;
            if is_response(&iq) {
                return Some(iq);
            }
            self.stash.push_back(iq);
        }
    }

    /// The next request (`get` or `set`) someone sent us, or `None` after `within`.
    pub async fn next_request(&mut self, within: Duration) -> Option<Iq> {
        let is_request = |iq: &Iq| matches!(iq, Iq::Get { .. } | Iq::Set { .. });
        if let Some(pos) = self.stash.iter().position(is_request) {
            return self.stash.remove(pos);
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let iq = self.recv_until(deadline).await?;
            if is_request(&iq) {
                return Some(iq);
            }
            self.stash.push_back(iq);
        }
    }

    /// Like [`Self::next_request`], failing the test on a timeout.
    pub async fn expect_request(&mut self, within: Duration, what: &str) -> Iq {
        match self.next_request(within).await {
            Some(iq) => iq,
            None => panic!("{}: no {what} within {within:?}", self.jid),
        }
    }

    async fn recv_until(&mut self, deadline: tokio::time::Instant) -> Option<Iq> {
        match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
            Err(_) => None,
            Ok(None) => panic!("{}: client task ended", self.jid),
            Ok(Some(Err(e))) => panic!("{}: XMPP stream failed: {e}", self.jid),
            Ok(Some(Ok(iq))) => Some(iq),
        }
    }

    /// Answers `request` with a `result`.
    pub fn reply_result(&self, request: &Iq, payload: Option<Element>) {
        self.send(Iq::Result {
            from: None,
            to: request.from().cloned(),
            id: request.id().to_owned(),
            payload,
        });
    }

    /// Answers `request` with an `error`, echoing `payload` (as §5.2's deny does).
    pub fn reply_error(&self, request: &Iq, payload: Option<Element>, error: StanzaError) {
        self.send(Iq::Error {
            from: None,
            to: request.from().cloned(),
            id: request.id().to_owned(),
            error,
            payload,
        });
    }
}

impl Drop for XmppClient {
    fn drop(&mut self) {
        // The test is over with this client: no orderly close needed.
        self.driver.abort();
    }
}
