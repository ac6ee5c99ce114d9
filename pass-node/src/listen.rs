//! Listening sockets for lease and proxy ports: one per bind address, each with a
//! task that accepts and hands connections to the driver.
//!
//! Accepting survives running out of file descriptors (docs/DESIGN.md decision 51):
//! a failed accept backs off (5 ms doubling to 1 s, never a busy loop, never an
//! exit), and each time it spends a spare descriptor kept for the purpose to
//! accept one waiting caller and close it at once, so that callers past the limit
//! are refused rather than left hanging in the backlog.

use pass_core::lease::ListenError;
use socket2::{Domain, Protocol, Socket, Type};
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
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
}

/// What every accept loop shares: a spare descriptor, spent to refuse a caller
/// when accepting fails for want of descriptors, and the counters.
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
        env.refill();
        env
    }

    fn refill(&self) {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.is_none() {
            *spare = File::open(NULL_DEVICE).ok();
        }
    }

    /// Frees the spare descriptor, accepts one waiting caller on it and closes it,
    /// then takes the spare back. Returns whether a caller was refused.
    fn refuse_one(&self, listener: &TcpListener) -> bool {
        let had_spare = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .is_some();
        if !had_spare {
            self.refill();
            return false;
        }
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let refused = matches!(listener.poll_accept(&mut cx), Poll::Ready(Ok(_)));
        // The accepted socket is dropped (closed) here, before the spare is taken back.
        self.refill();
        if refused {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
        }
        refused
    }

    /// The next connection on `listener`. Errors that concern one connection are
    /// skipped; others (out of descriptors) back off, refusing a caller each time.
    pub async fn accept(&self, listener: &TcpListener, port: u16) -> (TcpStream, SocketAddr) {
        let mut backoff = ACCEPT_BACKOFF_MIN;
        let mut failures: u64 = 0;
        loop {
            match listener.accept().await {
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
                        warn!(port, error = %e, "accept failed: refusing callers and backing off");
                    }
                    self.refuse_one(listener);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            }
        }
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
    generation: u64,
    accepted: mpsc::Sender<Accepted>,
    env: AcceptEnv,
) {
    loop {
        let (stream, peer) = env.accept(&listener, port).await;
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
