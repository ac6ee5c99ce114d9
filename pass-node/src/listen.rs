//! Listening sockets for lease and proxy ports: one per bind address, each with a
//! task that accepts and hands connections to the driver.

use pass_core::lease::ListenError;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

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
) -> Result<PortListener, (ListenError, io::Error)> {
    let mut listeners = Vec::with_capacity(bind.len());
    for ip in bind {
        let l = bind_one(SocketAddr::new(*ip, port)).map_err(|e| {
            let kind = if e.kind() == io::ErrorKind::AddrInUse {
                ListenError::AddrInUse
            } else {
                ListenError::Other
            };
            (kind, e)
        })?;
        listeners.push(l);
    }
    let tasks = listeners
        .into_iter()
        .map(|l| tokio::spawn(accept_loop(l, port, generation, accepted.clone())))
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
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
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
            Err(e) => {
                // Usually out of file descriptors: wait instead of spinning.
                warn!(port, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
