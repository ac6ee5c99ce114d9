//! The tokio shell around [`pass_core::Client`]: it carries out the machine's
//! actions (stanzas, connections, bridges), feeds it what happens, and decides only
//! when the process ends. Protocol decisions stay in pass-core.

use crate::bridge;
use crate::exit::{self, Fatal};
use crate::faults::{Fault, Faulty};
use crate::report::Reporter;
use crate::xmpp::{Link, LinkEvent};
use pass_core::client::{ConnectError, Endpoint, Failure, Policy};
use pass_core::lease::ConnId;
use pass_core::time::Instant as CoreInstant;
use pass_core::{Client, ClientAction, ClientEvent};
use std::collections::HashMap;
use std::io::ErrorKind;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a connection to the proxy or the local service may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the acknowledgement of `<close/>` on SIGINT/SIGTERM.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Milliseconds since start, as the core counts time.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now(&self) -> CoreInstant {
        let ms = self.0.elapsed().as_millis();
        CoreInstant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    fn to_tokio(self, t: CoreInstant) -> Instant {
        self.0 + Duration::from_millis(t.as_millis().min(365 * 24 * 3600 * 1000))
    }
}

/// What an I/O task reports back.
enum Done {
    Connected(ConnId, Result<TcpStream, ConnectError>),
    RelayEnded { proxy: ConnId, local: ConnId },
}

/// One connection the client asked for.
enum Conn {
    Connecting(JoinHandle<()>),
    Up(TcpStream),
    Relaying,
}

/// What `expose` asks of the lease.
#[derive(Clone, Debug)]
pub struct Lease {
    /// `--expire`.
    pub expire: Option<u64>,
    /// `--oneshot`.
    pub oneshot: bool,
    /// `--keep`.
    pub keep: bool,
}

/// The running client: the machine, its link and its sockets.
pub struct Shell {
    client: Client,
    link: Link,
    clock: Clock,
    local: String,
    reporter: Reporter,
    conns: HashMap<ConnId, Conn>,
    relays: usize,
    /// The XMPP connection was lost and is not back yet.
    suspended: bool,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    /// The deliberate fault, in a `faults` build (DESIGN decision 114).
    faulty: Faulty,
}

/// Why the loop stops with success.
enum Stop {
    Now,
    WhenIdle,
}

impl Shell {
    /// A shell around `client` (fresh, no lease), bridging callers to `local`.
    pub fn new(client: Client, link: Link, local: String, reporter: Reporter) -> Shell {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Shell {
            client,
            link,
            clock: Clock(Instant::now()),
            local,
            reporter,
            conns: HashMap::new(),
            relays: 0,
            suspended: false,
            done_tx,
            done_rx,
            faulty: Faulty::new(None),
        }
    }

    /// The same shell running with a deliberate fault (only a `faults` build has one).
    pub fn with_fault(mut self, fault: Option<Fault>) -> Shell {
        self.faulty = Faulty::new(fault);
        self
    }

    /// `expose`: registers, serves callers, and ends as docs/CLIENT.md says.
    pub async fn expose(mut self, lease: Lease) -> Result<(), Fatal> {
        let now = self.clock.now();
        if let Err(e) = self.client.register(now, lease.expire, lease.oneshot) {
            return Err(Fatal::new(exit::SETUP, e.to_string()));
        }
        let result = self.run(Some(&lease)).await;
        self.link.close().await;
        result
    }

    /// `answer`: stays online answering §5.1 queries until a signal.
    pub async fn answer(mut self) -> Result<(), Fatal> {
        let result = self.run(None).await;
        self.link.close().await;
        result
    }

    async fn run(&mut self, lease: Option<&Lease>) -> Result<(), Fatal> {
        let mut signals = Signals::new()?;
        let mut stop: Option<Stop> = None;
        let mut close_deadline: Option<Instant> = None;
        loop {
            self.carry_out().await;
            for event in self.drain_events() {
                self.reporter.event(&event);
                if let Some(s) = self.judge(&event, lease)? {
                    stop = Some(s);
                }
            }
            // What judging asked for (a new registration with --keep).
            self.carry_out().await;
            match stop {
                Some(Stop::Now) => return Ok(()),
                Some(Stop::WhenIdle) if self.relays == 0 && self.client.sessions() == 0 => {
                    return Ok(());
                }
                _ => {}
            }
            let timeout = self.client.poll_timeout().map(|t| self.clock.to_tokio(t));
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                ev = self.link.next() => match ev {
                    None => return Err(Fatal::new(exit::SERVICE_GONE, "the XMPP stream ended")),
                    Some(LinkEvent::Fatal(f)) => return Err(f),
                    Some(LinkEvent::Online(jid)) => {
                        if jid != self.client.config().jid.to_string() {
                            tracing::warn!("logged in again as {jid}, not {}", self.client.config().jid);
                        }
                        tracing::info!("connected to the XMPP server as {jid}");
                        if std::mem::take(&mut self.suspended) {
                            self.reporter.reconnected(&jid);
                            // Tell the service at once that the owner is back, so
                            // that a notice bounced meanwhile does not end the lease
                            // (DESIGN decision 94).
                            self.client.handle_reconnected(self.clock.now());
                        }
                    }
                    Some(LinkEvent::Suspended) => {
                        tracing::warn!("lost the XMPP connection; reconnecting (the lease is kept)");
                        self.suspended = true;
                    }
                    Some(LinkEvent::Stanza(el)) => {
                        self.faulty.received(&el);
                        self.client.handle_stanza(self.clock.now(), &el);
                    }
                },
                Some(done) = self.done_rx.recv() => self.handle_done(done),
                _ = tokio::time::sleep_until(timeout.unwrap_or(far)) => {
                    self.client.handle_timeout(self.clock.now());
                }
                _ = tokio::time::sleep_until(close_deadline.unwrap_or(far)), if close_deadline.is_some() => {
                    tracing::warn!("no acknowledgement of <close/> within {CLOSE_WAIT:?}; exiting");
                    return Ok(());
                }
                _ = signals.next() => {
                    if close_deadline.is_some() || self.faulty.is(Fault::NoCloseOnExit) {
                        return Ok(());
                    }
                    tracing::info!("signal: closing the lease");
                    match self.client.close(self.clock.now()) {
                        Ok(()) => close_deadline = Some(Instant::now() + CLOSE_WAIT),
                        // No lease to close (none yet, or answer mode).
                        Err(_) => return Ok(()),
                    }
                }
            }
        }
    }

    fn drain_events(&mut self) -> Vec<ClientEvent> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    /// What an event means for the process: go on, stop, or fail.
    fn judge(&mut self, event: &ClientEvent, lease: Option<&Lease>) -> Result<Option<Stop>, Fatal> {
        Ok(match event {
            ClientEvent::RegistrationFailed(f) => return Err(registration_failed(f)),
            ClientEvent::Expired { .. } | ClientEvent::OneshotClosed { .. } => match lease {
                Some(l) if l.keep => {
                    let now = self.clock.now();
                    if let Err(e) = self.client.register(now, l.expire, l.oneshot) {
                        return Err(Fatal::new(exit::SETUP, e.to_string()));
                    }
                    None
                }
                _ => Some(Stop::WhenIdle),
            },
            ClientEvent::Closed | ClientEvent::CloseFailed(_) => Some(Stop::Now),
            ClientEvent::PeerIpFailed { peer, failure } => {
                tracing::warn!("{peer} did not tell its IP: {failure}");
                None
            }
            _ => None,
        })
    }

    /// Carries out every queued action.
    async fn carry_out(&mut self) {
        while let Some(action) = self.client.poll_action() {
            match action {
                ClientAction::Send(iq) => {
                    let (iq, stray) = self.faulty.outgoing(iq);
                    if let Some(iq) = iq {
                        self.link.send(&iq).await;
                    }
                    if let Some(proxy) = stray {
                        // ConnectAfterDeny: the denied caller's proxy port, held a while.
                        tokio::spawn(async move {
                            if let Ok(s) = TcpStream::connect(proxy).await {
                                tokio::time::sleep(Duration::from_secs(5)).await;
                                drop(s);
                            }
                        });
                    }
                }
                ClientAction::Connect {
                    to: Endpoint::Proxy(_),
                    ..
                } if self.faulty.is(Fault::AcceptWithoutConnecting) => {}
                ClientAction::Connect { conn, to } => {
                    let target = match to {
                        Endpoint::Proxy(addr) => addr.to_string(),
                        Endpoint::Local => self.local.clone(),
                    };
                    let tx = self.done_tx.clone();
                    let task = tokio::spawn(async move {
                        let result = connect(&target).await;
                        let _ = tx.send(Done::Connected(conn, result));
                    });
                    self.conns.insert(conn, Conn::Connecting(task));
                }
                ClientAction::Bridge { proxy, local } => {
                    let p = self.conns.insert(proxy, Conn::Relaying);
                    let l = self.conns.insert(local, Conn::Relaying);
                    let (Some(Conn::Up(p)), Some(Conn::Up(l))) = (p, l) else {
                        tracing::error!("bridge of connections that are not both up");
                        continue;
                    };
                    self.relays += 1;
                    let tx = self.done_tx.clone();
                    let corrupt = self.faulty.is(Fault::CorruptForward);
                    tokio::spawn(async move {
                        bridge::relay(p, l, corrupt).await;
                        let _ = tx.send(Done::RelayEnded { proxy, local });
                    });
                }
                ClientAction::Drop { conn } => {
                    if let Some(Conn::Connecting(task)) = self.conns.remove(&conn) {
                        task.abort();
                    }
                }
            }
        }
    }

    fn handle_done(&mut self, done: Done) {
        let now = self.clock.now();
        match done {
            Done::Connected(conn, Ok(stream)) => {
                // A connection dropped meanwhile is no longer in the map: closed here.
                if let Some(slot) = self.conns.get_mut(&conn) {
                    *slot = Conn::Up(stream);
                    self.client.handle_connected(now, conn, Ok(()));
                }
            }
            Done::Connected(conn, Err(e)) => {
                if self.conns.remove(&conn).is_some() {
                    self.client.handle_connected(now, conn, Err(e));
                }
            }
            Done::RelayEnded { proxy, local } => {
                self.relays -= 1;
                self.conns.remove(&proxy);
                self.conns.remove(&local);
                self.client.handle_closed(now, proxy);
            }
        }
    }
}

/// Opens a TCP connection, with the machine's view of why it failed.
async fn connect(target: &str) -> Result<TcpStream, ConnectError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Err(_) => Err(ConnectError::TimedOut),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => Err(ConnectError::Refused),
        Ok(Err(e)) => {
            tracing::debug!("connect to {target}: {e}");
            Err(ConnectError::Other)
        }
    }
}

/// The exit code of a failed registration (docs/CLIENT.md, "Exit codes").
fn registration_failed(f: &Failure) -> Fatal {
    let code = match f {
        Failure::Refused { code: 502, .. } => exit::NO_PORTS,
        // No such entity or it is offline: the service is gone.
        Failure::Refused {
            code: 404 | 503, ..
        }
        | Failure::TimedOut => exit::SERVICE_GONE,
        _ => exit::REFUSED,
    };
    Fatal::new(code, format!("registration failed: {f}"))
}

/// SIGINT and SIGTERM, each watched for the whole run: a signal that arrives
/// while the loop is busy elsewhere is kept for the next `next()` (a listener made
/// afresh on each call, as `tokio::signal::ctrl_c()` is, misses one that came
/// between two calls; DESIGN decision 116).
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, Fatal> {
        use tokio::signal::unix::{signal, SignalKind};
        let watch = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| Fatal::new(exit::SETUP, format!("cannot watch {name}: {e}")))
        };
        Ok(Signals {
            int: watch(SignalKind::interrupt(), "SIGINT")?,
            term: watch(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// The policy from `--allow` and `--allow-jid`.
pub fn policy(allow: &[pass_core::client::IpNet], allow_jids: &[pass_core::Jid]) -> Policy {
    let mut p = Policy::open();
    for net in allow {
        p = p.allow(*net);
    }
    for jid in allow_jids {
        p = p.allow_jid(jid.clone());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::Signals;
    use std::time::Duration;

    /// DESIGN decision 116: a SIGINT that comes while the run loop is not waiting
    /// on `next()` (it is sending a stanza, say) still stops the client.
    #[tokio::test]
    async fn a_sigint_sent_before_next_is_waited_on_is_not_lost() {
        let mut signals = Signals::new().expect("watch signals");
        let sent = std::process::Command::new("kill")
            .args(["-INT", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -INT failed");
        // The runtime takes the signal in while no one waits on `next()`.
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::time::timeout(Duration::from_secs(10), signals.next())
            .await
            .expect("the SIGINT sent before next() was lost");
    }
}
