//! The runner's XMPP server (c2s) for the client target: a TCP listener, each
//! connection opened by [`Opening`] (STARTTLS offered, SASL, binding) over pass-core's
//! stream framer, then the session: what the server itself answers (roster, disco,
//! session, ping, presence) is answered here; every other stanza goes to the case.

use super::opening::{Accounts, Opening, OpeningError, Step};
use super::tls::Tls;
use pass_core::ns;
use pass_core::xml::{Element, Limits, StreamEvent, StreamFramer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// XEP-0030 items.
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// RFC 6121 roster.
const ROSTER: &str = "jabber:iq:roster";
/// RFC 3921 session establishment (still sent by some clients).
const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";

/// What the server tells the case.
#[derive(Clone, Debug)]
pub enum Inbound {
    /// A client bound this full JID.
    Online(String),
    /// A stanza from a client (its `from` set to the sender's full JID).
    Stanza(Element),
    /// The session of this full JID ended.
    Offline(String),
    /// A connection's opening failed (why).
    OpeningFailed(String),
}

/// What every connection task shares.
struct Shared {
    domain: String,
    service: String,
    accounts: Accounts,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    inbound: mpsc::UnboundedSender<Inbound>,
    sessions: Mutex<HashMap<String, mpsc::UnboundedSender<Out>>>,
}

/// What a session task is asked to do.
enum Out {
    Stanza(String),
    Close,
}

/// The running c2s endpoint.
pub struct C2sServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tls: Tls,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    accept: JoinHandle<()>,
}

impl Drop for C2sServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl C2sServer {
    /// Listens on `listen` (port 0: a free port) as the server of `domain`, with the
    /// PASS service `service` and accounts whose password is `password`.
    pub async fn start(
        listen: &str,
        domain: &str,
        service: &str,
        password: &str,
    ) -> Result<C2sServer, String> {
        let tls = super::tls::generate(domain)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (tx, inbound) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            domain: domain.to_string(),
            service: service.to_string(),
            accounts: Accounts::new(password),
            tls: tls.config.clone(),
            inbound: tx,
            sessions: Mutex::new(HashMap::new()),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                tokio::spawn(connection(tcp, s.clone()));
            }
        });
        Ok(C2sServer {
            addr,
            shared,
            tls,
            inbound,
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) the server's certificate is signed by.
    pub fn ca_path(&self) -> &Path {
        self.tls.ca_file.path()
    }

    /// The server's domain.
    pub fn domain(&self) -> &str {
        &self.shared.domain
    }

    /// Delivers `stanza` to its `to`: a bound full JID, or any session of a bare JID.
    /// False when nobody by that JID is online.
    pub fn deliver(&self, stanza: &Element) -> bool {
        let to = stanza.attr("to").unwrap_or("").to_string();
        let mut text = String::new();
        stanza.write_in(&mut text, ns::CLIENT);
        let sessions = lock(&self.shared.sessions);
        let target = sessions.get(&to).or_else(|| {
            sessions
                .iter()
                .find(|(jid, _)| bare(jid) == to)
                .map(|(_, tx)| tx)
        });
        target.is_some_and(|tx| tx.send(Out::Stanza(text)).is_ok())
    }

    /// The next event, `None` after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<Inbound> {
        tokio::time::timeout(wait, self.inbound.recv())
            .await
            .ok()
            .flatten()
    }

    /// Ends every session (between cases) and forgets what is queued.
    pub fn reset(&mut self) {
        for (_, tx) in lock(&self.shared.sessions).drain() {
            let _ = tx.send(Out::Close);
        }
        while self.inbound.try_recv().is_ok() {}
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The bare part of a JID.
pub fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}

/// How the plain part of a connection ended.
enum Negotiated {
    StartTls,
    Bound(String),
}

/// One client connection, from the first byte to its end.
async fn connection(mut tcp: TcpStream, shared: Arc<Shared>) {
    let mut opening = Opening::new(&shared.domain, shared.accounts.clone(), true);
    let mut framer = StreamFramer::new(Limits::default());
    let result = match negotiate(&mut tcp, &mut framer, &mut opening).await {
        Ok(Negotiated::Bound(jid)) => {
            serve(tcp, framer, jid, &shared).await;
            Ok(())
        }
        Ok(Negotiated::StartTls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls.clone());
            match acceptor.accept(tcp).await {
                Err(e) => Err(format!("TLS handshake: {e}")),
                Ok(mut tls) => {
                    let mut framer = StreamFramer::new(Limits::default());
                    match negotiate(&mut tls, &mut framer, &mut opening).await {
                        Ok(Negotiated::Bound(jid)) => {
                            serve(tls, framer, jid, &shared).await;
                            Ok(())
                        }
                        Ok(Negotiated::StartTls) => Err("STARTTLS twice".into()),
                        Err(e) => Err(e),
                    }
                }
            }
        }
        Err(e) => Err(e),
    };
    if let Err(why) = result {
        let _ = shared.inbound.send(Inbound::OpeningFailed(why));
    }
}

/// Runs the opening on `io` until STARTTLS or binding.
async fn negotiate<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    framer: &mut StreamFramer,
    opening: &mut Opening,
) -> Result<Negotiated, String> {
    let mut buf = vec![0u8; 16 * 1024];
    // Bounded: an opening is a handful of round trips.
    for _ in 0..10_000 {
        while let Some(ev) = framer.next_event() {
            let ev = ev.map_err(|e| format!("bad XML from the client: {e}"))?;
            let steps = opening
                .handle(ev)
                .map_err(|e: OpeningError| e.to_string())?;
            for step in steps {
                match step {
                    Step::Send(text) => io
                        .write_all(text.as_bytes())
                        .await
                        .map_err(|e| format!("write: {e}"))?,
                    Step::StartTls => return Ok(Negotiated::StartTls),
                    Step::Restart => *framer = StreamFramer::new(Limits::default()),
                    Step::Bound(jid) => return Ok(Negotiated::Bound(jid)),
                }
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(30), io.read(&mut buf))
            .await
            .map_err(|_| "the client went silent during its opening".to_string())?
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the client closed the connection during its opening".into());
        }
        framer.feed(&buf[..n]);
    }
    Err("the opening did not end".into())
}

/// The bound session: stanzas both ways until either side ends it.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    mut framer: StreamFramer,
    jid: String,
    shared: &Shared,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    lock(&shared.sessions).insert(jid.clone(), tx);
    let _ = shared.inbound.send(Inbound::Online(jid.clone()));
    let mut buf = vec![0u8; 16 * 1024];
    'session: loop {
        while let Some(ev) = framer.next_event() {
            match ev {
                Ok(StreamEvent::Stanza(el)) => {
                    if let Some(reply) = stanza(el, &jid, shared) {
                        if io.write_all(reply.as_bytes()).await.is_err() {
                            break 'session;
                        }
                    }
                }
                Ok(StreamEvent::End) | Ok(StreamEvent::StreamError(_)) | Err(_) => {
                    let _ = io.write_all(b"</stream:stream>").await;
                    break 'session;
                }
                Ok(StreamEvent::Header(_)) => break 'session,
            }
        }
        tokio::select! {
            r = io.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => framer.feed(&buf[..n]),
            },
            out = rx.recv() => match out {
                Some(Out::Stanza(text)) => {
                    if io.write_all(text.as_bytes()).await.is_err() {
                        break;
                    }
                }
                Some(Out::Close) | None => {
                    let _ = io.write_all(b"</stream:stream>").await;
                    let _ = io.shutdown().await;
                    break;
                }
            },
        }
    }
    lock(&shared.sessions).remove(&jid);
    let _ = shared.inbound.send(Inbound::Offline(jid));
}

/// A stanza from the client bound as `jid`: the server's own answer, if it is the
/// server's to answer; else it goes to the case.
fn stanza(mut el: Element, jid: &str, shared: &Shared) -> Option<String> {
    el.set_attr("from", jid);
    if el.name != "iq" {
        // Presence is accepted (nobody subscribes); messages go nowhere.
        return None;
    }
    let to = el.attr("to").unwrap_or("").to_string();
    let kind = el.attr("type").unwrap_or("").to_string();
    let to_server = to.is_empty() || to == shared.domain || to == bare(jid);
    let payload = el
        .elements()
        .next()
        .map(|p| (p.name.clone(), p.namespace.clone()));
    let is_service_disco =
        to == shared.service && matches!(&payload, Some((_, n)) if n == ns::DISCO_INFO);
    if !(to_server || is_service_disco) {
        let _ = shared.inbound.send(Inbound::Stanza(el));
        return None;
    }
    if kind != "get" && kind != "set" {
        return None;
    }
    let from = if to.is_empty() {
        shared.domain.clone()
    } else {
        to.clone()
    };
    let id = el.attr("id").unwrap_or("").to_string();
    let reply = |payload: Option<Element>| {
        let mut iq = Element::new("iq", ns::CLIENT)
            .with_attr("type", "result")
            .with_attr("id", &id)
            .with_attr("from", &from)
            .with_attr("to", jid);
        if let Some(p) = payload {
            iq = iq.with_child(p);
        }
        iq
    };
    let answer = match payload.as_ref().map(|(n, s)| (n.as_str(), s.as_str())) {
        Some(("query", ROSTER)) if kind == "get" => reply(Some(Element::new("query", ROSTER))),
        Some(("session", SESSION)) | Some(("ping", ns::PING)) => reply(None),
        Some(("query", DISCO_ITEMS)) if !is_service_disco => reply(Some(
            Element::new("query", DISCO_ITEMS)
                .with_child(Element::new("item", DISCO_ITEMS).with_attr("jid", &shared.service)),
        )),
        Some(("query", ns::DISCO_INFO)) if is_service_disco => reply(Some(
            Element::new("query", ns::DISCO_INFO)
                .with_child(
                    Element::new("identity", ns::DISCO_INFO)
                        .with_attr("category", "proxy")
                        .with_attr("type", "pass"),
                )
                .with_child(Element::new("feature", ns::DISCO_INFO).with_attr("var", ns::PASS)),
        )),
        Some(("query", ns::DISCO_INFO)) => reply(Some(
            Element::new("query", ns::DISCO_INFO).with_child(
                Element::new("identity", ns::DISCO_INFO)
                    .with_attr("category", "server")
                    .with_attr("type", "im"),
            ),
        )),
        _ => {
            let mut e = reply(None);
            e.set_attr("type", "error");
            e.with_child(
                Element::new("error", ns::CLIENT)
                    .with_attr("type", "cancel")
                    .with_child(Element::new("service-unavailable", ns::XMPP_STANZAS)),
            )
        }
    };
    let mut out = String::new();
    answer.write_in(&mut out, ns::CLIENT);
    Some(out)
}
