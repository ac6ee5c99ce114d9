//! The c2s link: one `tokio_xmpp` `StanzaStream` whose connector logs in with our own
//! backoff and jitter, and turns a refused login into a [`Fatal`] error instead of
//! retrying forever (tokio-xmpp's own `new_c2s` connector does the latter).
//!
//! Stanzas cross between the two XML trees as text: pass-core's [`Element`] is
//! written out and read back by minidom, and the other way round. It happens a few
//! times per caller, never per relayed byte.

use crate::exit::{self, Fatal};
use futures::StreamExt as _;
use pass_core::xml::Limits;
use pass_core::{ns, Element, Iq};
use sasl::common::Credentials;
use std::borrow::Cow;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_xmpp::connect::{AsyncReadAndWrite, DnsConfig, ServerConnector, TcpServerConnector};
use tokio_xmpp::error::{AuthError, Error as XmppError};
use tokio_xmpp::jid::Jid as XmppJid;
use tokio_xmpp::minidom::Element as XmppElement;
use tokio_xmpp::parsers::iq::Iq as XmppIq;
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::stanzastream::{Connection, Event, StanzaStream, StreamEvent};
use tokio_xmpp::xmlstream::{PendingFeaturesRecv, StreamHeader, Timeouts, XmlStream};
use tokio_xmpp::Stanza;
use xso::FromXml;

/// The first wait before logging in again; doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between login attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Stanzas buffered each way.
const QUEUE_DEPTH: usize = 64;

/// What the link reports.
#[derive(Debug)]
pub enum LinkEvent {
    /// Logged in (first time or again) with this full JID.
    Online(String),
    /// The connection is lost; the link is logging in again.
    Suspended,
    /// An IQ, as a pass-core element.
    Stanza(Element),
    /// The login can never succeed (wrong password, ...).
    Fatal(Fatal),
}

/// The c2s connection, kept up until closed.
pub struct Link {
    stream: StanzaStream,
    fatal: mpsc::UnboundedReceiver<Fatal>,
}

/// Who logs in where.
#[derive(Clone, Debug)]
pub struct Login {
    /// Where the server is (`--server`, or DNS SRV).
    pub server: crate::srv::Server,
    /// The full JID to bind (the resource is kept across reconnects, so that the
    /// lease, owned by the full JID, survives: docs/DESIGN.md decision 92).
    pub jid: XmppJid,
    /// The password.
    pub password: String,
    /// STARTTLS with these settings, or `None` for plain TCP (loopback only).
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
}

impl Link {
    /// Starts logging in; events follow from [`Link::next`].
    pub fn start(login: Login) -> Link {
        let (fatal_tx, fatal) = mpsc::unbounded_channel();
        let connector = Box::new(
            move |_where: Option<String>, slot: oneshot::Sender<Connection>| {
                let login = login.clone();
                let fatal_tx = fatal_tx.clone();
                tokio::spawn(async move {
                    let mut delay = MIN_BACKOFF;
                    loop {
                        match log_in(&login).await {
                            Ok(conn) => {
                                let _ = slot.send(conn);
                                return;
                            }
                            Err(e) => {
                                if let Some(f) = fatal_error(&e) {
                                    let _ = fatal_tx.send(f);
                                    // Keep the slot: the process is about to exit.
                                    std::future::pending::<()>().await;
                                }
                                // Jitter: clients cut off together do not come back
                                // together.
                                let jitter = delay.mul_f64(fastrand::f64() * 0.5);
                                tracing::warn!(
                                    "cannot log in to {}: {e}; retrying in {:?}",
                                    login.server,
                                    delay + jitter
                                );
                                tokio::time::sleep(delay + jitter).await;
                                delay = (delay * 2).min(MAX_BACKOFF);
                            }
                        }
                    }
                });
            },
        );
        Link {
            stream: StanzaStream::new(connector, QUEUE_DEPTH),
            fatal,
        }
    }

    /// The next event. `None`: the stream is gone for good.
    pub async fn next(&mut self) -> Option<LinkEvent> {
        loop {
            let ev = tokio::select! {
                f = self.fatal.recv() => return f.map(LinkEvent::Fatal),
                ev = self.stream.next() => ev?,
            };
            match ev {
                Event::Stream(StreamEvent::Reset { bound_jid, .. }) => {
                    return Some(LinkEvent::Online(bound_jid.to_string()))
                }
                Event::Stream(StreamEvent::Suspended) => return Some(LinkEvent::Suspended),
                Event::Stream(StreamEvent::Resumed) => {}
                Event::Stanza(Stanza::Iq(iq)) => match from_xmpp(iq) {
                    Ok(el) => return Some(LinkEvent::Stanza(el)),
                    Err(e) => tracing::debug!("unreadable IQ dropped: {e}"),
                },
                Event::Stanza(_) => {}
            }
        }
    }

    /// Queues `iq` for sending (kept across a reconnect by the stream).
    pub async fn send(&self, iq: &Iq) {
        match to_xmpp(iq) {
            Ok(x) => drop(self.stream.send(Box::new(Stanza::Iq(x))).await),
            Err(e) => tracing::error!("cannot convert an IQ for sending: {e}"),
        }
    }

    /// Closes the stream cleanly.
    pub async fn close(self) {
        self.stream.close().await;
    }
}

/// One login over TCP or STARTTLS, as the stream's [`Connection`].
async fn log_in(login: &Login) -> Result<Connection, XmppError> {
    let (features, stream) = authenticate(login).await?;
    Ok(Connection {
        stream,
        features,
        identity: login.jid.clone(),
    })
}

/// A logged-in stream whose items are `T`.
pub type LoggedIn<T> = (
    StreamFeatures,
    XmlStream<Box<dyn AsyncReadAndWrite + Send + 'static>, T>,
);

/// One login: connect (TCP or STARTTLS as `login` says), SASL, stream restart, the
/// new stream's features. Resource binding is the caller's (tokio-xmpp's stream
/// binds for [`Link`]; pass-conformance binds itself, reading raw elements).
pub async fn authenticate<T: FromXml + std::fmt::Debug>(
    login: &Login,
) -> Result<LoggedIn<T>, XmppError> {
    match &login.tls {
        None => {
            let dns = match &login.server {
                crate::srv::Server::Addr(addr) => DnsConfig::addr(addr),
                // Not made by main (clear text skips SRV), but meaningful.
                crate::srv::Server::Domain {
                    domain,
                    fallback_port,
                    resolver,
                } => DnsConfig::NoSrv {
                    host: domain.clone(),
                    port: *fallback_port,
                    resolver: resolver.as_deref().cloned(),
                },
            };
            let (features, stream) = authenticate_with(TcpServerConnector::from(dns), login)
                .await?
                .recv_features::<T>()
                .await?;
            Ok((features, stream.box_stream()))
        }
        Some(config) => {
            let starttls = crate::tls::StartTls {
                server: login.server.clone(),
                config: config.clone(),
            };
            let (features, stream) = authenticate_with(starttls, login)
                .await?
                .recv_features::<T>()
                .await?;
            Ok((features, stream.box_stream()))
        }
    }
}

/// Connect, SASL, and the restarted stream's header sent.
async fn authenticate_with<C: ServerConnector>(
    connector: C,
    login: &Login,
) -> Result<PendingFeaturesRecv<C::Stream>, XmppError> {
    let (pending, binding) = connector
        .connect(&login.jid, ns::CLIENT, Timeouts::default())
        .await?;
    let (features, stream) = pending.recv_features().await?;
    let user = login.jid.node().map(|n| n.as_str()).unwrap_or_default();
    let creds = Credentials::default()
        .with_username(user)
        .with_password(login.password.clone())
        .with_channel_binding(binding);
    let stream = tokio_xmpp::client_login(stream, features.sasl_mechanisms, creds).await?;
    Ok(stream
        .send_header(StreamHeader {
            to: Some(Cow::Borrowed(login.jid.domain().as_str())),
            from: None,
            id: None,
        })
        .await?)
}

/// A login error retrying cannot fix.
fn fatal_error(e: &XmppError) -> Option<Fatal> {
    match e {
        XmppError::Auth(AuthError::Fail(cond)) => Some(Fatal::new(
            exit::AUTH,
            format!("the server refused the login ({cond:?}): wrong JID or password"),
        )),
        XmppError::Auth(AuthError::NoMechanism) => Some(Fatal::new(
            exit::AUTH,
            "no SASL mechanism in common with the server (it may require TLS)",
        )),
        XmppError::Connection(e) => Some(Fatal::new(exit::TLS, e.to_string())),
        _ => None,
    }
}

/// pass-core's IQ as tokio-xmpp's: `jabber:client` throughout.
fn to_xmpp(iq: &Iq) -> Result<XmppIq, String> {
    let mut el = iq.to_element();
    into_client_ns(&mut el);
    let x: XmppElement = el.to_xml().parse().map_err(|e| format!("{e}"))?;
    XmppIq::try_from(x).map_err(|e| format!("{e}"))
}

fn into_client_ns(el: &mut Element) {
    if el.namespace == ns::COMPONENT {
        el.namespace = ns::CLIENT.to_owned();
    }
    for child in el.children.iter_mut() {
        if let pass_core::xml::Node::Element(c) = child {
            into_client_ns(c);
        }
    }
}

/// tokio-xmpp's IQ as a pass-core element.
fn from_xmpp(iq: XmppIq) -> Result<Element, String> {
    let x = XmppElement::from(iq);
    let text = String::from(&x);
    pass_core::parse_element(text.as_bytes(), &Limits::default()).map_err(|e| format!("{e}"))
}
