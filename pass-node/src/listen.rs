//! Listening sockets for lease and proxy ports: one per bind address, each with a
//! task that accepts and hands connections to the driver.
//!
//! Accepting survives running out of file descriptors (docs/DESIGN.md decision 51):
//! a failed accept backs off (5 ms doubling to 1 s, never a busy loop, never an
//! exit). A spare descriptor is kept for those moments. On a lease (or metrics)
//! port it is spent to accept one waiting caller and close it at once, so that
//! callers past the limit are refused rather than left hanging in the backlog; on
//! a proxy port it is spent to admit the owner, whose session was already
//! announced and must not be lost (decision 140).

use pass_core::lease::ListenError;
use socket2::{Domain, Protocol, Socket, Type};
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// First pause after a failed accept; it doubles up to [`ACCEPT_BACKOFF_MAX`].
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest pause between accepts while they keep failing.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Counters of the accept loops (exported as metrics).
#[derive(Debug, Default)]
pub struct AcceptCounters {
    /// Accepts that failed (out of descriptors, mostly).
    pub failed: AtomicU64,
    /// Callers accepted on the spare descriptor and closed at once because the
    /// node was out of descriptors.
    pub refused: AtomicU64,
    /// Owners admitted on their proxy port on the spare descriptor.
    pub admitted_on_spare: AtomicU64,
}

/// What a port's waiting connections get when the node is out of descriptors
/// (DESIGN decision 140).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenOut {
    /// Lease and metrics ports: one waiting connection is refused per failed accept.
    Refuse,
    /// Proxy ports: the owner of a session already announced is admitted on the
    /// spare descriptor; never refused (without a spare it waits in the backlog).
    Admit,
}

/// What every accept loop shares: a spare descriptor, spent when accepting fails
/// for want of descriptors, and the counters.
///
/// The spare's lock is also held around every accept, so that no other accept
/// loop can take the descriptor the spare has just freed before it is used, and
/// a lost spare is opened again before the next accept (a descriptor that comes
/// free goes to the spare first).
#[derive(Debug, Clone, Default)]
pub struct AcceptEnv {
    spare: Arc<Mutex<Option<File>>>,
    /// The accept counters.
    pub counters: Arc<AcceptCounters>,
}

impl AcceptEnv {
    /// Opens the spare descriptor (best effort: without one, callers past the
    /// limit wait in the backlog instead of being refused).
    pub fn new() -> Self {
        let env = AcceptEnv::default();
        refill(&mut env.spare.lock().unwrap_or_else(PoisonError::into_inner));
        env
    }

    /// One accept attempt, with the spare's lock held throughout.
    fn poll_accept(
        &self,
        listener: &TcpListener,
        when_out: WhenOut,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        refill(&mut spare);
        let error = match listener.poll_accept(cx) {
            Poll::Ready(Err(e)) if !per_connection(&e) => e,
            other => return other,
        };
        if spare.take().is_none() {
            return Poll::Ready(Err(error));
        }
        // The spare's descriptor is free now, for exactly one accept.
        let second = listener.poll_accept(cx);
        match (when_out, second) {
            (WhenOut::Admit, Poll::Ready(Ok(admitted))) => {
                // The spare stays spent until a descriptor comes free.
                self.counters
                    .admitted_on_spare
                    .fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Ok(admitted))
            }
            (WhenOut::Refuse, Poll::Ready(Ok(refused))) => {
                // Closed before the spare is taken back.
                drop(refused);
                refill(&mut spare);
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Err(error))
            }
            _ => {
                refill(&mut spare);
                Poll::Ready(Err(error))
            }
        }
    }

    /// The next connection on `listener`. Errors that concern one connection are
    /// skipped; others (out of descriptors) back off, spending the spare as
    /// `when_out` says each time.
    pub async fn accept(
        &self,
        listener: &TcpListener,
        port: u16,
        when_out: WhenOut,
    ) -> (TcpStream, SocketAddr) {
        let mut backoff = ACCEPT_BACKOFF_MIN;
        let mut failures: u64 = 0;
        loop {
            match std::future::poll_fn(|cx| self.poll_accept(listener, when_out, cx)).await {
                Ok(accepted) => {
                    if failures > 0 {
                        info!(port, failures, "accepting again");
                    }
                    return accepted;
                }
                Err(e) if per_connection(&e) => continue,
                Err(e) => {
                    failures += 1;
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    if failures == 1 {
                        // Once per episode: a flood must not flood the logs too.
                        let spare = match when_out {
                            WhenOut::Refuse => "refusing waiting callers",
                            WhenOut::Admit => "admitting the owner on the spare descriptor",
                        };
                        warn!(port, error = %e, "accept failed: backing off, {spare}");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            }
        }
    }
}

/// Opens the spare if it is gone (it fails while the node is out of descriptors).
fn refill(spare: &mut Option<File>) {
    if spare.is_none() {
        *spare = File::open(NULL_DEVICE).ok();
    }
}

#[cfg(unix)]
const NULL_DEVICE: &str = "/dev/null";
#[cfg(not(unix))]
const NULL_DEVICE: &str = "NUL";

/// An accept error that concerns only the connection being accepted.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Whether an error says the host is out of descriptors or memory: nothing to do
/// with the port (the core does not set the port aside for it).
pub fn out_of_resources(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::OutOfMemory {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        use nix::errno::Errno;
        if let Some(code) = e.raw_os_error() {
            return matches!(
                Errno::from_raw(code),
                Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM
            );
        }
    }
    false
}

/// Backlog of each listening socket.
const BACKLOG: i32 = 1024;

/// A connection accepted on a port.
#[derive(Debug)]
pub struct Accepted {
    /// The local port.
    pub port: u16,
    /// Which listen of that port accepted it (a port may be closed and listened on
    /// again; late accepts of an old generation are discarded).
    pub generation: u64,
    /// The socket.
    pub stream: TcpStream,
    /// The remote address.
    pub peer: SocketAddr,
}

/// The accept tasks of one port; dropping it closes the listening sockets.
#[derive(Debug)]
pub struct PortListener {
    /// The generation stamped on accepts.
    pub generation: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl PortListener {
    /// Stops accepting and waits until the listening sockets are closed, so that the
    /// port can be bound again at once (a register right after a close may draw it).
    pub async fn close(mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks.drain(..) {
            // A cancelled task resolves once it has been dropped, sockets included.
            let _ = t.await;
        }
    }
}

impl Drop for PortListener {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds `port` on every address in `bind` and starts accepting. All or nothing:
/// if one address fails, none listens.
pub fn listen(
    bind: &[IpAddr],
    port: u16,
    when_out: WhenOut,
    generation: u64,
    accepted: &mpsc::Sender<Accepted>,
    env: &AcceptEnv,
) -> Result<PortListener, (ListenError, io::Error)> {
    let mut listeners = Vec::with_capacity(bind.len());
    for ip in bind {
        let l = bind_one(SocketAddr::new(*ip, port)).map_err(|e| {
            let kind = if e.kind() == io::ErrorKind::AddrInUse {
                ListenError::AddrInUse
            } else if out_of_resources(&e) {
                ListenError::NoResources
            } else {
                ListenError::Other
            };
            (kind, e)
        })?;
        listeners.push(l);
    }
    let tasks = listeners
        .into_iter()
        .map(|l| {
            tokio::spawn(accept_loop(
                l,
                port,
                when_out,
                generation,
                accepted.clone(),
                env.clone(),
            ))
        })
        .collect();
    Ok(PortListener { generation, tasks })
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // IPv4 is bound separately when wanted; without this `::` would take its port.
        socket.set_only_v6(true)?;
    }
    // Lets a port be listened on again while old connections sit in TIME_WAIT, in
    // this run or after a restart (DESIGN decision 73).
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

async fn accept_loop(
    listener: TcpListener,
    port: u16,
    when_out: WhenOut,
    generation: u64,
    accepted: mpsc::Sender<Accepted>,
    env: AcceptEnv,
) {
    loop {
        let (stream, peer) = env.accept(&listener, port, when_out).await;
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let a = Accepted {
            port,
            generation,
            stream,
            peer,
        };
        if accepted.send(a).await.is_err() {
            return;
        }
    }
}
