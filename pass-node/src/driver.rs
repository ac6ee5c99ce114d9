//! The driver: one task owns the engine and feeds it every event (stanzas, accepted
//! connections, hang-ups, relay ends, the timer, shutdown), then carries out the
//! actions it asks for, in order. All protocol decisions are the engine's.

use crate::clock::Clock;
use crate::component::{Link, LinkError, LinkEvent};
use crate::config::NodeConfig;
use crate::listen::{listen, AcceptEnv, Accepted, PortListener, WhenOut};
use crate::metrics::Metrics;
use crate::pending::Pending;
use crate::relay::{relay, RelayEnv, RelayOutcome, Side};
use crate::state::{Store, StoredLease};
use pass_core::engine::Engine;
use pass_core::lease::{Action, ConnId, LeaseRecord};
use pass_core::ns;
use pass_core::xml::Element;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

/// Most further stanzas already received that are handled before the actions
/// they caused are carried out.
const LINK_BATCH: usize = 255;

/// How long the link gets to flush and close at the end.
const LINK_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Events from the node's own tasks.
#[derive(Debug)]
enum HostEvent {
    /// A pending socket's peer hung up.
    PendingClosed(ConnId),
    /// One side of a relay sent EOF: the session is over for the core (XEP-0003
    /// §2, §3), though the other direction may still be flowing.
    RelayHalfClosed { id: u64, side: Side },
    /// A relay ended by itself.
    RelayEnded { id: u64, outcome: RelayOutcome },
}

enum Conn {
    Pending(Pending),
    Relaying(u64),
}

struct RelayTask {
    client: ConnId,
    owner: ConnId,
    abort: AbortHandle,
    /// The side whose EOF was reported to the core at a half-close (the session
    /// ended then); the relay runs on only to let the other direction finish, and
    /// that conn is never reported again.
    half_closed: Option<ConnId>,
}

impl RelayTask {
    /// The relay's conns not yet reported closed to the core.
    fn unreported(&self) -> impl Iterator<Item = ConnId> + '_ {
        [self.client, self.owner]
            .into_iter()
            .filter(move |c| Some(*c) != self.half_closed)
    }
}

impl Drop for RelayTask {
    /// A relay forgotten by the driver (cut, drained out, or the node stopping on
    /// an error) must not run on unsupervised.
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// Why the driver stopped with an error.
#[derive(Debug)]
pub enum DriveError {
    /// The XMPP link gave up.
    Link(LinkError),
}

pub(crate) struct Driver<E> {
    engine: E,
    clock: Clock,
    config: NodeConfig,
    link: Link,
    metrics: Arc<Metrics>,
    relay_env: RelayEnv,
    accept_env: AcceptEnv,
    listeners: HashMap<u16, PortListener>,
    next_generation: u64,
    conns: HashMap<ConnId, Conn>,
    relays: HashMap<u64, RelayTask>,
    next_conn: u64,
    next_relay: u64,
    accepted_tx: mpsc::Sender<Accepted>,
    host_tx: mpsc::UnboundedSender<HostEvent>,
    /// The engine's abandoned-lease counters as last logged (owner gone, idle).
    leases_ended: (u64, u64),
    /// The lease store and what it held at start (taken by [`Driver::restore`]).
    store: Option<Store>,
    kept: Vec<StoredLease>,
}

pub(crate) struct Channels {
    pub(crate) link_rx: mpsc::Receiver<LinkEvent>,
    accepted_rx: mpsc::Receiver<Accepted>,
    host_rx: mpsc::UnboundedReceiver<HostEvent>,
}

impl<E: Engine + Send + 'static> Driver<E> {
    pub(crate) fn new(
        engine: E,
        config: NodeConfig,
        link: Link,
        link_rx: mpsc::Receiver<LinkEvent>,
        metrics: Arc<Metrics>,
        relay_env: RelayEnv,
        accept_env: AcceptEnv,
    ) -> (Self, Channels) {
        let (accepted_tx, accepted_rx) = mpsc::channel(1024);
        let (host_tx, host_rx) = mpsc::unbounded_channel();
        let d = Driver {
            engine,
            clock: Clock::start(),
            config,
            link,
            metrics,
            relay_env,
            accept_env,
            listeners: HashMap::new(),
            next_generation: 0,
            conns: HashMap::new(),
            relays: HashMap::new(),
            next_conn: 1,
            next_relay: 1,
            accepted_tx,
            host_tx,
            leases_ended: (0, 0),
            store: None,
            kept: Vec::new(),
        };
        (
            d,
            Channels {
                link_rx,
                accepted_rx,
                host_rx,
            },
        )
    }

    /// Keeps leases in `store`, restoring `kept` at the start of [`Driver::run`].
    pub(crate) fn keep_leases(&mut self, store: Store, kept: Vec<StoredLease>) {
        self.store = Some(store);
        self.kept = kept;
    }

    /// Runs until shutdown completes or the link gives up.
    pub(crate) async fn run(
        mut self,
        mut ch: Channels,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), DriveError> {
        tokio::pin!(shutdown);
        self.restore().await;
        let mut drain_until: Option<Instant> = None;
        let far = Duration::from_secs(3600);
        loop {
            let timer_at = self.engine.poll_timeout().map(|t| self.clock.to_tokio(t));
            let timer = tokio::time::sleep_until(timer_at.unwrap_or_else(|| Instant::now() + far));
            let drain_timer =
                tokio::time::sleep_until(drain_until.unwrap_or_else(|| Instant::now() + far));
            tokio::select! {
                () = &mut shutdown, if drain_until.is_none() => {
                    drain_until = Some(Instant::now() + self.config.drain_timeout);
                    self.begin_shutdown();
                }
                ev = ch.link_rx.recv() => match ev {
                    Some(ev) => {
                        // Stanzas already waiting are taken together, so that
                        // their lease changes are written in one transaction
                        // (DESIGN decision 54).
                        let waiting = std::iter::from_fn(|| ch.link_rx.try_recv().ok());
                        for ev in std::iter::once(ev).chain(waiting.take(LINK_BATCH)) {
                            if let Err(e) = self.on_link(ev) {
                                self.link.abort();
                                return Err(e);
                            }
                        }
                    }
                    None => {
                        // The link task is gone without a word: nothing more can
                        // be said to the server.
                        warn!("XMPP link task ended");
                        break;
                    }
                },
                ev = ch.host_rx.recv() => {
                    if let Some(ev) = ev {
                        self.on_host(ev);
                    }
                }
                a = ch.accepted_rx.recv(), if drain_until.is_none() => {
                    if let Some(a) = a {
                        // Whatever ended before this caller could call (a session's
                        // end, reported before its peer saw the close) reaches the
                        // engine first: DESIGN decision 50.
                        while let Ok(ev) = ch.host_rx.try_recv() {
                            self.on_host(ev);
                        }
                        self.on_accepted(a);
                    }
                }
                () = timer, if timer_at.is_some() => {
                    let now = self.clock.now();
                    self.engine.handle_timeout(now);
                }
                () = drain_timer, if drain_until.is_some() => {
                    if !self.relays.is_empty() {
                        warn!(relays = self.relays.len(), "drain timeout: cutting the remaining relays");
                    }
                    break;
                }
            }
            self.carry_out().await;
            self.refresh_metrics();
            if drain_until.is_some() && self.relays.is_empty() {
                break;
            }
        }
        self.finish().await;
        Ok(())
    }

    /// Hands the engine the leases the store kept, before any event of the stream
    /// (DESIGN decisions 52 and 54): their ports listen again at once; notices for
    /// leases that could not come back wait in the link's queue until the stream
    /// is up.
    async fn restore(&mut self) {
        if self.store.is_none() {
            return;
        }
        let kept = std::mem::take(&mut self.kept);
        let count = kept.len();
        let records = kept
            .into_iter()
            .map(|l| {
                let expires = l.expires_unix_ms.map(|ms| self.clock.from_unix_ms(ms));
                LeaseRecord::new(l.port, l.owner, l.oneshot, expires)
            })
            .collect();
        let now = self.clock.now();
        self.engine.restore(now, records);
        self.carry_out().await;
        let restored = self.engine.stats().leases;
        if count > 0 {
            info!(
                kept = count,
                restored,
                ended = count.saturating_sub(restored),
                "leases restored from the store (ended ones get an expire notice once the stream is up)"
            );
        }
    }

    /// Writes the engine's lease changes to the store, before the stanzas queued
    /// with them go out (an owner never hears of a lease the store does not
    /// hold). A failed write is logged and counted
    /// (`pass_node_store_write_errors_total`) and the node goes on: its leases
    /// work, only a restart would forget them.
    fn persist(&mut self) {
        let Some(store) = &self.store else { return };
        let changes: Vec<_> = std::iter::from_fn(|| self.engine.poll_lease_change()).collect();
        let clock = self.clock;
        if let Err(e) = store.apply(&changes, |t| clock.to_unix_ms(t)) {
            self.metrics
                .store_write_errors
                .fetch_add(1, Ordering::Relaxed);
            error!(changes = changes.len(), "lease store write failed: {e}");
        }
    }

    fn begin_shutdown(&mut self) {
        info!(
            relays = self.relays.len(),
            drain_timeout = ?self.config.drain_timeout,
            "shutting down: closing ports, telling owners, draining relays"
        );
        // Stop accepting first, then let the core tell each owner; with a store
        // the leases stay for the next start instead (DESIGN decision 53).
        self.listeners.clear();
        let now = self.clock.now();
        if self.store.is_some() {
            self.engine.suspend(now);
        } else {
            self.engine.shutdown(now);
        }
    }

    async fn finish(mut self) {
        self.relays.clear();
        self.conns.clear();
        self.listeners.clear();
        self.link.close(LINK_CLOSE_TIMEOUT).await;
        info!("pass-node stopped");
    }

    fn on_link(&mut self, ev: LinkEvent) -> Result<(), DriveError> {
        match ev {
            LinkEvent::Stanza(el) => {
                // The engine refuses a stanza over the strict limits itself.
                let now = self.clock.now();
                self.engine.handle_stanza(now, &el);
            }
            LinkEvent::Up { reconnect } => {
                self.metrics.stream_up.store(true, Ordering::Relaxed);
                if reconnect {
                    self.metrics
                        .stream_reconnects
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            LinkEvent::Down { .. } => {
                self.metrics.stream_up.store(false, Ordering::Relaxed);
            }
            LinkEvent::Fatal(e) => return Err(DriveError::Link(e)),
        }
        Ok(())
    }

    fn on_host(&mut self, ev: HostEvent) {
        let now = self.clock.now();
        match ev {
            HostEvent::PendingClosed(conn) => {
                if matches!(self.conns.get(&conn), Some(Conn::Pending(_))) {
                    self.conns.remove(&conn);
                    debug!(%conn, "peer hung up before the relay");
                    self.engine.handle_closed(now, conn);
                }
            }
            HostEvent::RelayHalfClosed { id, side } => {
                if let Some(r) = self.relays.get_mut(&id) {
                    if r.half_closed.is_none() {
                        let conn = match side {
                            Side::Client => r.client,
                            Side::Owner => r.owner,
                        };
                        r.half_closed = Some(conn);
                        info!(
                            client = %r.client, owner = %r.owner, ?side,
                            "relay half-closed: session over, the other way drains"
                        );
                        // The core ends the session at once: the lease takes its
                        // next caller, a oneshot lease sends its notice. (The other
                        // conn is reported when the relay is over; the core has
                        // forgotten it by then and ignores that.)
                        self.engine.handle_closed(now, conn);
                    }
                }
            }
            HostEvent::RelayEnded { id, outcome } => {
                if let Some(r) = self.relays.remove(&id) {
                    self.conns.remove(&r.client);
                    self.conns.remove(&r.owner);
                    info!(
                        client = %r.client, owner = %r.owner,
                        client_to_owner = outcome.client_to_owner,
                        owner_to_client = outcome.owner_to_client,
                        ending = outcome.ending.label(),
                        error = outcome.error.as_deref().unwrap_or("none"),
                        "relay ended"
                    );
                    self.metrics.relay_ended(outcome.ending);
                    for conn in r.unreported() {
                        self.engine.handle_closed(now, conn);
                    }
                }
            }
        }
    }

    fn on_accepted(&mut self, a: Accepted) {
        let current = self.listeners.get(&a.port).map(|l| l.generation);
        if current != Some(a.generation) {
            debug!(
                port = a.port,
                "connection accepted on a closed port; dropped"
            );
            return;
        }
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let tx = self.host_tx.clone();
        let pending = Pending::watch(a.stream, move || {
            let _ = tx.send(HostEvent::PendingClosed(conn));
        });
        self.conns.insert(conn, Conn::Pending(pending));
        debug!(%conn, port = a.port, peer = %a.peer, "accepted");
        let now = self.clock.now();
        self.engine.handle_connection(now, conn, a.port, a.peer);
    }

    /// Drains the engine's actions and carries them out in order.
    /// Stanzas go to the link at the end, after the lease changes of the whole
    /// batch are written (an owner never hears of a lease the store does not hold,
    /// and a batch costs one write).
    async fn carry_out(&mut self) {
        let mut unlistened = Vec::new();
        let mut stanzas = Vec::new();
        while let Some(action) = self.engine.poll_action() {
            match action {
                Action::Send(iq) => {
                    let mut out = String::new();
                    Element::from(&iq).write_in(&mut out, ns::COMPONENT);
                    debug!(stanza = %out, "send");
                    stanzas.push(out);
                }
                Action::Listen { port } => self.do_listen(port),
                Action::Unlisten { port } => {
                    unlistened.push(port);
                    if let Some(listener) = self.listeners.remove(&port) {
                        listener.close().await;
                        debug!(port, "stopped listening");
                    }
                }
                Action::Bridge {
                    client,
                    owner,
                    account,
                } => self.do_bridge(client, owner, &account.to_string()).await,
                Action::Drop { conn } => self.do_drop(conn),
            }
        }
        self.persist();
        for out in stanzas {
            self.link.send(out);
        }
        self.log_abandoned_leases(&unlistened);
    }

    /// Says at INFO when the engine ended a lease as abandoned (DESIGN decisions
    /// 100, 94 and 101); `unlistened` are the ports it let go of meanwhile (the
    /// lease's, and a proxy port's if a caller was waiting).
    fn log_abandoned_leases(&mut self, unlistened: &[u16]) {
        let s = self.engine.stats();
        let (gone, idle) = self.leases_ended;
        if s.leases_owner_gone > gone {
            info!(
                ports = ?unlistened,
                ended = s.leases_owner_gone - gone,
                "lease ended: its owner is gone (the owner's server bounced an incoming-connection notice and nothing came from the owner within reconnect_grace)"
            );
        }
        if s.leases_idle > idle {
            info!(
                ports = ?unlistened,
                ended = s.leases_idle - idle,
                "lease ended: no caller and no request from its owner for max_idle_lease; expire notice sent"
            );
        }
        self.leases_ended = (s.leases_owner_gone, s.leases_idle);
    }

    fn do_listen(&mut self, port: u16) {
        self.next_generation += 1;
        let now = self.clock.now();
        // An owner on its proxy port is never refused for want of descriptors
        // (DESIGN decision 140).
        let when_out = if self.engine.is_proxy_port(port) {
            WhenOut::Admit
        } else {
            WhenOut::Refuse
        };
        match listen(
            &self.config.bind,
            port,
            when_out,
            self.next_generation,
            &self.accepted_tx,
            &self.accept_env,
        ) {
            Ok(l) => {
                debug!(port, "listening");
                self.listeners.insert(port, l);
                self.engine.handle_listen_result(now, port, Ok(()));
            }
            Err((kind, e)) => {
                warn!(port, error = %e, "cannot listen");
                self.engine.handle_listen_result(now, port, Err(kind));
            }
        }
    }

    async fn do_bridge(&mut self, client: ConnId, owner: ConnId, account: &str) {
        let c = self.take_pending(client).await;
        let o = self.take_pending(owner).await;
        let now = self.clock.now();
        match (c, o) {
            (Some(c), Some(o)) => {
                let id = self.next_relay;
                self.next_relay += 1;
                let env = self.relay_env.clone();
                let tx = self.host_tx.clone();
                let task = tokio::spawn(async move {
                    let half = tx.clone();
                    relay(
                        c,
                        o,
                        &env,
                        move |side| {
                            let _ = half.send(HostEvent::RelayHalfClosed { id, side });
                        },
                        move |outcome| {
                            let _ = tx.send(HostEvent::RelayEnded { id, outcome });
                        },
                    )
                    .await;
                });
                info!(%client, %owner, %account, mode = ?self.relay_env.effective_mode(), "relay started");
                self.conns.insert(client, Conn::Relaying(id));
                self.conns.insert(owner, Conn::Relaying(id));
                self.relays.insert(
                    id,
                    RelayTask {
                        client,
                        owner,
                        abort: task.abort_handle(),
                        half_closed: None,
                    },
                );
            }
            (c, o) => {
                // One side hung up just before the bridge: close the other too and
                // report both (the hung-up side's watcher report is ignored now).
                warn!(%client, %owner, "bridge: a side had already hung up");
                drop((c, o));
                self.engine.handle_closed(now, client);
                self.engine.handle_closed(now, owner);
            }
        }
    }

    /// Takes a pending socket out of the watcher; `None` if unknown or hung up.
    async fn take_pending(&mut self, conn: ConnId) -> Option<tokio::net::TcpStream> {
        match self.conns.remove(&conn) {
            Some(Conn::Pending(p)) => p.release().await,
            Some(Conn::Relaying(id)) => {
                warn!(%conn, relay = id, "bridge asked for a connection already relaying");
                self.conns.insert(conn, Conn::Relaying(id));
                None
            }
            None => None,
        }
    }

    fn do_drop(&mut self, conn: ConnId) {
        match self.conns.remove(&conn) {
            Some(Conn::Pending(p)) => {
                debug!(%conn, "dropped");
                drop(p);
            }
            Some(Conn::Relaying(id)) => {
                if let Some(r) = self.relays.remove(&id) {
                    let other = if r.client == conn { r.owner } else { r.client };
                    self.conns.remove(&other);
                    info!(%conn, "relay cut");
                    if r.half_closed != Some(other) {
                        let now = self.clock.now();
                        self.engine.handle_closed(now, other);
                    }
                }
            }
            None => {}
        }
    }

    fn refresh_metrics(&self) {
        self.metrics.set_stats(self.engine.stats());
        let pending = self
            .conns
            .values()
            .filter(|c| matches!(c, Conn::Pending(_)))
            .count();
        self.metrics
            .pending_sockets
            .store(pending as u64, Ordering::Relaxed);
        self.metrics
            .relay_tasks
            .store(self.relays.len() as u64, Ordering::Relaxed);
        let half_open = self
            .relays
            .values()
            .filter(|r| r.half_closed.is_some())
            .count();
        self.metrics
            .half_open_relays
            .store(half_open as u64, Ordering::Relaxed);
    }
}
