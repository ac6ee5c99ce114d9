//! The TCP side of the network targets: the connections a case opens as the third
//! party and as the owner, each with its own writer task. The component and c2s
//! targets differ only in how stanzas travel; their sockets are these.

use crate::harness::{ConnectError, HarnessError, ReadEvent, SockId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// A TCP connection a case opened.
struct Sock {
    read: OwnedReadHalf,
    tx: mpsc::UnboundedSender<SockCmd>,
    writer: JoinHandle<()>,
}

enum SockCmd {
    Data(Vec<u8>),
    Shutdown,
}

/// The connections of a network target.
#[derive(Default)]
pub struct Sockets {
    socks: HashMap<u64, Sock>,
    next: u64,
}

impl Sockets {
    /// Opens a connection within `wait`; gives the local address the service sees.
    pub async fn connect(
        &mut self,
        addr: SocketAddr,
        wait: Duration,
    ) -> Result<(SockId, SocketAddr), ConnectError> {
        let stream = match timeout(wait, TcpStream::connect(addr)).await {
            Err(_) => return Err(ConnectError::Timeout),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(ConnectError::Refused)
            }
            Ok(Err(e)) => return Err(ConnectError::Other(e.to_string())),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .map_err(|e| ConnectError::Other(e.to_string()))?;
        let (read, mut write) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<SockCmd>();
        // A writer task per connection: a case can queue megabytes both ways without
        // blocking on the peer's reading.
        let writer = tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                let ok = match cmd {
                    SockCmd::Data(d) => write.write_all(&d).await.is_ok(),
                    SockCmd::Shutdown => write.shutdown().await.is_ok(),
                };
                if !ok {
                    return;
                }
            }
        });
        self.next += 1;
        let id = self.next;
        self.socks.insert(id, Sock { read, tx, writer });
        Ok((SockId(id), local))
    }

    /// Queues bytes to write.
    pub fn write(&mut self, sock: SockId, data: &[u8]) -> Result<(), HarnessError> {
        if let Some(s) = self.socks.get(&sock.0) {
            let _ = s.tx.send(SockCmd::Data(data.to_vec()));
        }
        Ok(())
    }

    /// Half-closes after what is queued.
    pub fn shutdown_write(&mut self, sock: SockId) -> Result<(), HarnessError> {
        if let Some(s) = self.socks.get(&sock.0) {
            let _ = s.tx.send(SockCmd::Shutdown);
        }
        Ok(())
    }

    /// Closes both ways at once.
    pub async fn close(&mut self, sock: SockId) {
        if let Some(s) = self.socks.remove(&sock.0) {
            // Dropping both halves closes the socket at once, queued bytes or not.
            s.writer.abort();
            let _ = s.writer.await;
            drop(s.read);
        }
    }

    /// Closes every connection.
    pub async fn close_all(&mut self) {
        let ids: Vec<u64> = self.socks.keys().copied().collect();
        for id in ids {
            self.close(SockId(id)).await;
        }
    }

    /// Reads what is there, waiting at most `wait`.
    pub async fn read(&mut self, sock: SockId, wait: Duration) -> Result<ReadEvent, HarnessError> {
        let Some(s) = self.socks.get_mut(&sock.0) else {
            return Ok(ReadEvent::Eof);
        };
        let mut buf = vec![0u8; 256 * 1024];
        match timeout(wait, s.read.read(&mut buf)).await {
            Err(_) => Ok(ReadEvent::Timeout),
            Ok(Ok(0)) => Ok(ReadEvent::Eof),
            // An RST is told from a FIN in the transcript (DESIGN decision 45).
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                Ok(ReadEvent::Reset)
            }
            Ok(Err(_)) => Ok(ReadEvent::Eof),
            Ok(Ok(n)) => {
                buf.truncate(n);
                Ok(ReadEvent::Data(buf))
            }
        }
    }
}
