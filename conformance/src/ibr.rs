//! In-band registration (XEP-0077) of the c2s target's throwaway accounts, and their
//! removal (DESIGN decision 123).
//!
//! Registration happens before any login, on a stream tokio-xmpp cannot give: its
//! connectors go straight on to SASL. So this is the one raw stream of the runner:
//! pass-core's stream framer reads, STARTTLS is tokio-rustls with pass-client's
//! settings, and exactly one `<iq type='set'><query xmlns='jabber:iq:register'>` is
//! sent. Removal needs a login, so it goes over the c2s target's ordinary stream.

use crate::c2s::{self, Account};
use crate::xmlfmt::to_xml;
use futures::{SinkExt as _, StreamExt as _};
use pass_client::tls::ClientConfig;
use pass_core::ns;
use pass_core::xml::{Element, Limits, StreamEvent, StreamFramer, StreamHeader};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element as XmppElement;
use tokio_xmpp::xmlstream::ReadError;

/// XEP-0077's namespace.
pub const NS_REGISTER: &str = "jabber:iq:register";
/// STARTTLS (RFC 6120 §5).
const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// How long a registration or removal may take.
const WAIT: Duration = Duration::from_secs(15);

/// Why an account could not be registered or removed.
#[derive(Debug)]
#[non_exhaustive]
pub enum IbrError {
    /// The connection or the TLS handshake failed.
    Connection(String),
    /// The server does not offer what registration needs (STARTTLS, XEP-0077).
    Unsupported(String),
    /// The server refused (the account exists, registration is closed, ...).
    Refused(String),
}

impl fmt::Display for IbrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IbrError::Connection(m) | IbrError::Unsupported(m) | IbrError::Refused(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for IbrError {}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A client stream before login, read with pass-core's framer.
struct RawStream {
    io: Box<dyn Io>,
    framer: StreamFramer,
}

impl RawStream {
    /// Sends the header to `domain` and reads the server's header and features.
    async fn open(io: Box<dyn Io>, domain: &str) -> Result<(RawStream, Element), IbrError> {
        let mut s = RawStream {
            io,
            framer: StreamFramer::new(Limits::default()),
        };
        let mut header = StreamHeader::new(ns::CLIENT);
        header.to = Some(domain.to_owned());
        let mut open = header.to_open_tag();
        // to_open_tag ends with '>': RFC 6120 streams carry version='1.0'.
        open.insert_str(open.len() - 1, " version='1.0'");
        s.write(&open).await?;
        match s.next().await? {
            StreamEvent::Header(_) => {}
            other => return Err(unexpected("the stream header", &other)),
        }
        match s.next().await? {
            StreamEvent::Stanza(f) if f.name == "features" => Ok((s, f)),
            other => Err(unexpected("the stream features", &other)),
        }
    }

    async fn write(&mut self, text: &str) -> Result<(), IbrError> {
        self.io
            .write_all(text.as_bytes())
            .await
            .map_err(|e| IbrError::Connection(format!("write: {e}")))
    }

    async fn next(&mut self) -> Result<StreamEvent, IbrError> {
        let mut buf = vec![0u8; 8192];
        loop {
            if let Some(ev) = self.framer.next_event() {
                return ev.map_err(|e| IbrError::Connection(format!("malformed XML: {e}")));
            }
            let n = self
                .io
                .read(&mut buf)
                .await
                .map_err(|e| IbrError::Connection(format!("read: {e}")))?;
            if n == 0 {
                return Err(IbrError::Connection(
                    "the server closed the connection".into(),
                ));
            }
            self.framer.feed(&buf[..n]);
        }
    }
}

fn unexpected(what: &str, got: &StreamEvent) -> IbrError {
    let got = match got {
        StreamEvent::Stanza(e) | StreamEvent::StreamError(e) => to_xml(e),
        StreamEvent::Header(_) => "a stream header".into(),
        StreamEvent::End => "the end of the stream".into(),
    };
    IbrError::Connection(format!("expected {what}, got {got}"))
}

/// Creates `account` on `server` by XEP-0077 in-band registration (after STARTTLS
/// when `tls` is set).
pub async fn register(
    server: &str,
    tls: &Option<Arc<ClientConfig>>,
    account: &Account,
) -> Result<(), IbrError> {
    timeout(WAIT, register_now(server, tls, account))
        .await
        .unwrap_or_else(|_| {
            Err(IbrError::Connection(format!(
                "registering {} at {server}: no answer within {WAIT:?}",
                account.jid
            )))
        })
}

async fn register_now(
    server: &str,
    tls: &Option<Arc<ClientConfig>>,
    account: &Account,
) -> Result<(), IbrError> {
    let domain = account.jid.domain().as_str();
    let tcp = TcpStream::connect(server)
        .await
        .map_err(|e| IbrError::Connection(format!("connect to {server}: {e}")))?;
    let (mut s, mut features) = RawStream::open(Box::new(tcp), domain).await?;
    if let Some(config) = tls {
        if features.get_child("starttls", NS_TLS).is_none() {
            return Err(IbrError::Unsupported(format!(
                "{server} does not offer STARTTLS"
            )));
        }
        s.write(&format!("<starttls xmlns='{NS_TLS}'/>")).await?;
        match s.next().await? {
            StreamEvent::Stanza(e) if e.is("proceed", NS_TLS) => {}
            other => return Err(unexpected("<proceed/>", &other)),
        }
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|e| IbrError::Connection(format!("{domain} as a TLS name: {e}")))?;
        let tls = TlsConnector::from(config.clone())
            .connect(name, s.io)
            .await
            .map_err(|e| IbrError::Connection(format!("TLS handshake with {server}: {e}")))?;
        (s, features) = RawStream::open(Box::new(tls), domain).await?;
    }
    if features
        .get_child("register", "http://jabber.org/features/iq-register")
        .is_none()
    {
        return Err(IbrError::Unsupported(format!(
            "{server} does not offer in-band registration (XEP-0077) for {domain}"
        )));
    }
    let user = account.jid.node().map(|n| n.as_str()).unwrap_or_default();
    let query = Element::new("query", NS_REGISTER)
        .with_child(Element::new("username", NS_REGISTER).with_text(user))
        .with_child(Element::new("password", NS_REGISTER).with_text(&account.password));
    let iq = Element::new("iq", ns::CLIENT)
        .with_attr("type", "set")
        .with_attr("id", "register")
        .with_child(query);
    s.write(&to_xml(&iq)).await?;
    loop {
        match s.next().await? {
            StreamEvent::Stanza(e) if e.name == "iq" && e.attr("id") == Some("register") => {
                let _ = s.write("</stream:stream>").await;
                return match e.attr("type") {
                    Some("result") => Ok(()),
                    _ => Err(IbrError::Refused(format!(
                        "{server} refused to register {}: {}",
                        account.jid,
                        to_xml(&e)
                    ))),
                };
            }
            StreamEvent::Stanza(_) => {}
            other => return Err(unexpected("the registration's answer", &other)),
        }
    }
}

/// Removes `account` (XEP-0077 §3.2: logged in, `<remove/>`).
pub async fn unregister(
    server: &str,
    tls: &Option<Arc<ClientConfig>>,
    account: &Account,
) -> Result<(), IbrError> {
    let full = Jid::new(&format!("{}/pass-conformance-remove", account.jid))
        .map_err(|e| IbrError::Connection(e.to_string()))?;
    let mut stream = c2s::log_in(server, tls, account, &full)
        .await
        .map_err(IbrError::Connection)?;
    let request: XmppElement = format!(
        "<iq xmlns='{}' type='set' id='unregister'><query xmlns='{NS_REGISTER}'><remove/></query></iq>",
        ns::CLIENT
    )
    .parse()
    .map_err(|e| IbrError::Connection(format!("{e}")))?;
    stream
        .send(&request)
        .await
        .map_err(|e| IbrError::Connection(format!("{e}")))?;
    let answer = timeout(WAIT, async {
        loop {
            match stream.next().await {
                Some(Ok(el)) if el.name() == "iq" && el.attr("id") == Some("unregister") => {
                    return match el.attr("type") {
                        Some("result") => Ok(()),
                        _ => Err(IbrError::Refused(format!(
                            "{server} refused to remove {}: {}",
                            account.jid,
                            String::from(&el)
                        ))),
                    };
                }
                Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => {}
                // A server may end the stream of an account it has just removed
                // before its answer gets out; the caller checks the login is gone.
                Some(Err(_)) | None => return Ok(()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        Err(IbrError::Connection(format!(
            "removing {}: no answer within {WAIT:?}",
            account.jid
        )))
    });
    let _ = stream.shutdown().await;
    answer
}
