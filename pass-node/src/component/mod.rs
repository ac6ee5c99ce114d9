//! The XEP-0114 component connection: connect, handshake, read stanzas, write the
//! engine's stanzas, and reconnect with exponential backoff when the server goes away.
//!
//! One task owns the connection's life. Stanzas handed to it while the stream is
//! down wait in an [`Outbox`] and are written after the reconnect. The protocol
//! (headers, digest, stream errors) is pass-core's [`pass_core::component`]; this
//! module only moves its bytes.

pub mod outbox;

use crate::config::Backoff;
use outbox::Outbox;
use pass_core::component::{ComponentHandshake, ComponentStep, StreamError};
use pass_core::xml::{Element, Limits, StreamEvent, StreamFramer, XmlError, STREAM_CLOSE};
use std::fmt;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

/// Longest wait for connect + header + handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for one batch write; a server that takes longer is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes per write batch.
const BATCH_BYTES: usize = 64 * 1024;
/// How long to wait for the server's `</stream:stream>` after ours.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// A server that closes the connection right after our handshake this many times in
/// a row (without a stream error) is taken to refuse our secret.
const SILENT_REFUSALS_AS_AUTH_FAILURE: u32 = 3;

/// What the link tells the driver.
#[derive(Debug)]
pub enum LinkEvent {
    /// The stream is up (handshake accepted); `reconnect` is false the first time.
    Up {
        /// Whether this is a reconnect.
        reconnect: bool,
    },
    /// The stream went down; the link reconnects by itself.
    Down {
        /// Why.
        reason: String,
    },
    /// A stanza from the server.
    Stanza(Element),
    /// The link gave up; the node must exit.
    Fatal(LinkError),
}

/// Why the link gave up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The server refused the handshake (wrong secret or domain).
    AuthFailed(String),
    /// The server refused the component at the first connection for another reason
    /// (a stream error such as host-unknown).
    Refused(String),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::AuthFailed(m) => write!(f, "component handshake refused: {m}"),
            LinkError::Refused(m) => write!(f, "server refused the component: {m}"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Settings of the link.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    /// `host:port` of the server's component listener.
    pub server: String,
    /// The component's domain.
    pub domain: String,
    /// The shared secret.
    pub secret: String,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Bound on queued stanzas.
    pub queue_limit: usize,
    /// Strict XML limits for what the server sends; the framer gets
    /// [`Limits::relaxed_for_framing`] of them (the core checks the strict ones).
    pub limits: Limits,
}

enum LinkCommand {
    Send(String),
    Close,
}

/// Handle to the link task.
#[derive(Debug)]
pub struct Link {
    commands: mpsc::UnboundedSender<LinkCommand>,
    task: JoinHandle<()>,
}

impl Link {
    /// Starts the link task; it reports on `events`.
    pub fn spawn(settings: LinkSettings, events: mpsc::Sender<LinkEvent>) -> Link {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run_link(settings, rx, events));
        Link { commands: tx, task }
    }

    /// Queues a serialised stanza for the server (never blocks; the outbox bounds it).
    pub fn send(&self, stanza: String) {
        if self.commands.send(LinkCommand::Send(stanza)).is_err() {
            debug!("link task gone; stanza not sent");
        }
    }

    /// Flushes queued stanzas, closes the stream and waits (at most `timeout`).
    pub async fn close(self, timeout: Duration) {
        let _ = self.commands.send(LinkCommand::Close);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(timeout, self.task).await.is_err() {
            warn!("XMPP stream did not close in time; cutting it");
            abort.abort();
        }
    }

    /// Stops the link at once (fatal paths).
    pub fn abort(&self) {
        self.task.abort();
    }
}

enum OpenError {
    /// Retry later (network trouble).
    Retry(String),
    /// The server closed the connection after our handshake without saying why.
    SilentClose(String),
    /// A stream error other than not-authorized.
    Refused(String),
    /// not-authorized.
    Auth(String),
}

struct Open {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    framer: StreamFramer,
}

async fn run_link(
    s: LinkSettings,
    mut commands: mpsc::UnboundedReceiver<LinkCommand>,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut outbox = Outbox::new(s.queue_limit);
    let mut delay = s.backoff.initial;
    let mut ever_up = false;
    let mut closing = false;
    let mut silent_closes = 0u32;
    loop {
        let opened = match tokio::time::timeout(HANDSHAKE_TIMEOUT, open(&s)).await {
            Ok(r) => r,
            Err(_) => Err(OpenError::Retry(format!(
                "no handshake with {} within {HANDSHAKE_TIMEOUT:?}",
                s.server
            ))),
        };
        match opened {
            Ok(conn) => {
                silent_closes = 0;
                delay = s.backoff.initial;
                info!(server = %s.server, domain = %s.domain, reconnect = ever_up,
                    queued = outbox.len(), "XMPP component stream up");
                if events
                    .send(LinkEvent::Up { reconnect: ever_up })
                    .await
                    .is_err()
                {
                    return;
                }
                ever_up = true;
                match serve(conn, &mut outbox, &mut commands, &events, &mut closing).await {
                    Served::Closed => return,
                    Served::Down(reason) => {
                        warn!(%reason, queued = outbox.len(), "XMPP component stream down; reconnecting");
                        if events.send(LinkEvent::Down { reason }).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Err(OpenError::Auth(m)) => {
                error!(server = %s.server, domain = %s.domain, "component handshake refused: {m}");
                let _ = events
                    .send(LinkEvent::Fatal(LinkError::AuthFailed(m)))
                    .await;
                return;
            }
            Err(OpenError::SilentClose(m)) => {
                silent_closes += 1;
                if silent_closes >= SILENT_REFUSALS_AS_AUTH_FAILURE {
                    error!(server = %s.server, "{m} ({silent_closes} times in a row): taking it as a refused secret");
                    let _ = events
                        .send(LinkEvent::Fatal(LinkError::AuthFailed(m)))
                        .await;
                    return;
                }
                warn!(server = %s.server, "{m}; retrying");
            }
            Err(OpenError::Refused(m)) if !ever_up => {
                error!(server = %s.server, domain = %s.domain, "server refused the component: {m}");
                let _ = events.send(LinkEvent::Fatal(LinkError::Refused(m))).await;
                return;
            }
            Err(OpenError::Refused(m)) | Err(OpenError::Retry(m)) => {
                warn!(server = %s.server, retry_in = ?delay, "XMPP component connection failed: {m}");
            }
        }
        if closing {
            if !outbox.is_empty() {
                warn!(
                    lost = outbox.len(),
                    "XMPP stream down at shutdown: queued stanzas not delivered"
                );
            }
            return;
        }
        // Wait out the backoff, still queuing what the engine sends.
        let sleep = tokio::time::sleep(jitter(delay));
        tokio::pin!(sleep);
        delay = (delay * 2).min(s.backoff.max);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                cmd = commands.recv() => match cmd {
                    Some(LinkCommand::Send(st)) => outbox.push(st),
                    Some(LinkCommand::Close) | None => {
                        // One last attempt to deliver what is queued.
                        closing = true;
                        break;
                    }
                },
            }
        }
    }
}

/// Full jitter over the upper half: spreads reconnecting nodes apart.
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    half + half.mul_f64(fastrand::f64())
}

enum Served {
    Closed,
    Down(String),
}

/// Why reading the stream ended.
struct ReadEnd {
    reason: String,
    /// A stream error to send before closing: the server sent XML we refuse.
    refuse: Option<XmlError>,
}

impl ReadEnd {
    fn because(reason: impl Into<String>) -> Self {
        ReadEnd {
            reason: reason.into(),
            refuse: None,
        }
    }
}

/// Aborts the reader task when the connection is left.
struct AbortOnDrop(JoinHandle<ReadEnd>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn serve(
    conn: Open,
    outbox: &mut Outbox,
    commands: &mut mpsc::UnboundedReceiver<LinkCommand>,
    events: &mpsc::Sender<LinkEvent>,
    closing: &mut bool,
) -> Served {
    let Open {
        reader,
        mut writer,
        framer,
    } = conn;
    let mut reader = AbortOnDrop(tokio::spawn(read_stanzas(reader, framer, events.clone())));
    loop {
        while let Ok(cmd) = commands.try_recv() {
            match cmd {
                LinkCommand::Send(s) => outbox.push(s),
                LinkCommand::Close => *closing = true,
            }
        }
        if !outbox.is_empty() {
            let (batch, n) = outbox.batch(BATCH_BYTES);
            match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(batch.as_bytes())).await {
                Ok(Ok(())) => {
                    outbox.consume(n);
                    continue;
                }
                Ok(Err(e)) => return Served::Down(format!("write failed: {e}")),
                Err(_) => return Served::Down("write timed out".to_string()),
            }
        }
        if *closing {
            let close = writer.write_all(STREAM_CLOSE.as_bytes());
            let _ = tokio::time::timeout(WRITE_TIMEOUT, close).await;
            let _ = writer.shutdown().await;
            let _ = tokio::time::timeout(CLOSE_WAIT, &mut reader.0).await;
            info!("XMPP component stream closed");
            return Served::Closed;
        }
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(LinkCommand::Send(s)) => outbox.push(s),
                Some(LinkCommand::Close) | None => *closing = true,
            },
            r = &mut reader.0 => {
                let end = r.unwrap_or_else(|e| ReadEnd::because(format!("reader task failed: {e}")));
                if let Some(e) = &end.refuse {
                    refuse_stream(&mut writer, e).await;
                }
                return Served::Down(end.reason);
            }
        }
    }
}

/// Reads the stream until it ends; returns why it ended.
async fn read_stanzas(
    mut reader: OwnedReadHalf,
    mut framer: StreamFramer,
    events: mpsc::Sender<LinkEvent>,
) -> ReadEnd {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(ev) = framer.next_event() {
            match ev {
                Ok(StreamEvent::Stanza(e)) => {
                    if events.send(LinkEvent::Stanza(e)).await.is_err() {
                        return ReadEnd::because("node stopping");
                    }
                }
                Ok(StreamEvent::StreamError(e)) => {
                    let e = StreamError::from_element(&e);
                    return ReadEnd::because(format!("stream error from server: {e}"));
                }
                Ok(StreamEvent::End) => return ReadEnd::because("server closed the stream"),
                Ok(StreamEvent::Header(_)) => {
                    debug!("ignoring a second stream header");
                }
                Err(e) => {
                    return ReadEnd {
                        reason: format!("refused XML from server: {e}"),
                        refuse: Some(e),
                    }
                }
            }
        }
        match reader.read(&mut buf).await {
            Ok(0) => return ReadEnd::because("server closed the connection"),
            Ok(n) => framer.feed(buf.get(..n).unwrap_or_default()),
            Err(e) => return ReadEnd::because(format!("read failed: {e}")),
        }
    }
}

/// Tells the server why we cut the stream (RFC 6120 §4.9.1.1), then closes our side.
async fn refuse_stream(writer: &mut OwnedWriteHalf, e: &XmlError) {
    let refusal = StreamError::from(e);
    warn!(condition = %refusal.condition, "cutting the XMPP stream: {e}");
    let xml = refusal.to_xml_closing();
    let _ = tokio::time::timeout(CLOSE_WAIT, writer.write_all(xml.as_bytes())).await;
    let _ = writer.shutdown().await;
}

/// Connects and runs the component's side of the opening.
async fn open(s: &LinkSettings) -> Result<Open, OpenError> {
    let stream = TcpStream::connect(&s.server)
        .await
        .map_err(|e| OpenError::Retry(format!("connect to {}: {e}", s.server)))?;
    let _ = stream.set_nodelay(true);
    // A server host that vanishes without a reset would otherwise leave the stream
    // half-open for hours: TCP keepalive notices within about a minute.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(30))
        .with_interval(Duration::from_secs(10));
    if let Err(e) = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
        debug!("cannot enable TCP keepalive on the XMPP stream: {e}");
    }
    let (mut reader, mut writer) = stream.into_split();
    let io = |e: std::io::Error| OpenError::Retry(format!("I/O error during handshake: {e}"));
    let (mut opening, header) = ComponentHandshake::start(&s.domain, &s.secret);
    writer.write_all(header.as_bytes()).await.map_err(io)?;
    let mut framer = StreamFramer::new(s.limits.relaxed_for_framing());
    let mut buf = vec![0u8; 4096];
    loop {
        let sent = opening.handshake_sent();
        let ev = next_event(&mut framer, &mut reader, &mut writer, &mut buf, sent).await?;
        match opening.handle(ev) {
            Ok(ComponentStep::Send(xml)) => writer.write_all(xml.as_bytes()).await.map_err(io)?,
            Ok(ComponentStep::Ignored(e)) => {
                debug!(name = %e.name, "ignoring stanza before handshake")
            }
            Ok(ComponentStep::Accepted) => break,
            Err(e) if e.is_auth_failure() => return Err(OpenError::Auth(e.to_string())),
            Err(e) => return Err(OpenError::Refused(e.to_string())),
        }
    }
    Ok(Open {
        reader,
        writer,
        framer,
    })
}

async fn next_event(
    framer: &mut StreamFramer,
    reader: &mut OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    buf: &mut [u8],
    handshake_sent: bool,
) -> Result<StreamEvent, OpenError> {
    loop {
        match framer.next_event() {
            Some(Ok(ev)) => return Ok(ev),
            Some(Err(e)) => {
                refuse_stream(writer, &e).await;
                return Err(OpenError::Refused(format!("refused XML from server: {e}")));
            }
            None => {}
        }
        let n = reader
            .read(buf)
            .await
            .map_err(|e| OpenError::Retry(format!("read during handshake: {e}")))?;
        if n == 0 {
            let msg = "server closed the connection during the handshake".to_string();
            return Err(if handshake_sent {
                OpenError::SilentClose(msg)
            } else {
                OpenError::Retry(msg)
            });
        }
        framer.feed(buf.get(..n).unwrap_or_default());
    }
}
