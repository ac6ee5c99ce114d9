//! Accepted sockets not yet bridged. A watcher notices a peer that hangs up while
//! waiting, without consuming bytes the relay will need (it only peeks).

use std::io;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A socket waiting for its relay, watched for hang-ups.
#[derive(Debug)]
pub struct Pending {
    release: Option<oneshot::Sender<()>>,
    watcher: JoinHandle<Option<TcpStream>>,
}

impl Pending {
    /// Starts watching `stream`; `on_close` runs (once) if the peer hangs up first.
    pub fn watch<F>(stream: TcpStream, on_close: F) -> Pending
    where
        F: FnOnce() + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let watcher = tokio::spawn(async move {
            tokio::select! {
                // Released (bridged) or the handle dropped: give the socket back.
                _ = rx => Some(stream),
                () = wait_hangup(&stream) => {
                    on_close();
                    None
                }
            }
        });
        Pending {
            release: Some(tx),
            watcher,
        }
    }

    /// Stops watching and returns the socket; `None` if the peer hung up meanwhile
    /// (its close was, or is being, reported).
    pub async fn release(mut self) -> Option<TcpStream> {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
        (&mut self.watcher).await.ok().flatten()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Dropped without release: close the socket.
        self.watcher.abort();
    }
}

/// Returns when the peer closed (EOF with nothing unread) or reset the connection.
/// While data is waiting, readiness is cleared after each peek so the next wake-up
/// comes from new data or the FIN, not a spin.
async fn wait_hangup(stream: &TcpStream) {
    let mut probe = [0u8; 1];
    loop {
        let ready = match stream.ready(Interest::READABLE).await {
            Ok(r) => r,
            Err(_) => return,
        };
        match stream.peek(&mut probe).await {
            Ok(0) => return,
            Err(_) => return,
            Ok(_) if ready.is_read_closed() => {
                // Data then FIN: a half-close. The relay will deliver both; nothing
                // more to watch for.
                std::future::pending::<()>().await;
            }
            Ok(_) => {
                let _ = stream.try_io(Interest::READABLE, || {
                    Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
                });
            }
        }
    }
}
