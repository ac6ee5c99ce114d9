//! Accepted sockets not yet bridged. A watcher notices a peer that hangs up while
//! waiting, without consuming bytes the relay will need (it only peeks).

use std::time::Duration;
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

/// How often a socket with unread bytes is checked for a reset.
const RESET_CHECK: Duration = Duration::from_millis(250);

/// Returns when the peer closed (EOF with nothing unread) or reset the connection.
///
/// While bytes wait unread, the socket's readiness must stay set: clearing it would
/// leave the relay's first read waiting for an edge that never comes (the bytes
/// are already there). So with data pending this only re-peeks now and then, which
/// still catches a reset; a FIN behind unread data is the relay's to deliver.
async fn wait_hangup(stream: &TcpStream) {
    let mut probe = [0u8; 1];
    loop {
        match stream.peek(&mut probe).await {
            Ok(0) | Err(_) => return,
            Ok(_) => tokio::time::sleep(RESET_CHECK).await,
        }
    }
}
