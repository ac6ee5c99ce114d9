//! The owners' local service: each connection (a caller bridged by pass-client) says
//! which session it is, sends that session's upstream, which is checked byte by byte
//! and in order, and gets its downstream back. What each end saw goes in a ledger.

use crate::stream::{self, Check, Header, CHUNK};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Longest a connection may take before the service gives up on it.
const LIMIT: Duration = Duration::from_secs(90);

/// What the service saw of one session.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// Upstream bytes received, all matching the stream so far.
    pub received: u64,
    /// Upstream bytes expected.
    pub expected: u64,
    /// Where the upstream first differed from the stream (or ran past its end).
    pub corrupt_at: Option<u64>,
    /// The whole downstream was written and the caller's EOF came after the whole
    /// upstream.
    pub complete: bool,
}

/// What the services saw, by session.
pub type Ledger = Arc<Mutex<HashMap<u64, Seen>>>;

/// Starts a service on loopback; connections record into `ledger`.
pub async fn start(run_seed: u64, ledger: Ledger) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(LIMIT, serve(sock, run_seed, ledger)).await;
            });
        }
    });
    addr
}

async fn serve(sock: TcpStream, run_seed: u64, ledger: Ledger) {
    let (mut r, mut w) = sock.into_split();
    let mut head = [0; Header::LEN];
    if r.read_exact(&mut head).await.is_err() {
        return; // gone before it said who it was: the caller counts it
    }
    let Some(h) = Header::decode(&head) else {
        // Not our header: the first bytes of the relay are wrong.
        ledger.lock().expect("ledger").insert(
            u64::MAX,
            Seen {
                corrupt_at: Some(0),
                ..Seen::default()
            },
        );
        return;
    };
    let update = |f: &dyn Fn(&mut Seen)| {
        let mut l = ledger.lock().expect("ledger");
        f(l.entry(h.session).or_default());
    };
    update(&|s| s.expected = u64::from(h.up));
    let down_seed = stream::seed(run_seed, h.session, 1);
    // The downstream, then — once the whole upstream is in — the acknowledgement
    // that lets the caller call the session complete, then EOF.
    let (upstream_whole, whole) = tokio::sync::oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        stream::send(&mut w, down_seed, h.down, Duration::ZERO).await?;
        if whole.await.is_ok() {
            w.write_all(&stream::ack(h.up)).await?;
        }
        w.shutdown().await
    });
    let mut check = Check::new(stream::seed(run_seed, h.session, 0), h.up);
    let mut buf = vec![0; CHUNK];
    let clean_eof = loop {
        let n = match r.read(&mut buf).await {
            Ok(0) => break true,
            Ok(n) => n,
            Err(_) => break false,
        };
        if let Err(at) = check.take(&buf[..n]) {
            update(&|s| s.corrupt_at = Some(at));
            return;
        }
        let received = check.received;
        update(&|s| s.received = received);
    };
    if clean_eof && check.whole() {
        let _ = upstream_whole.send(());
    } else {
        drop(upstream_whole);
    }
    let wrote = matches!(writer.await, Ok(Ok(())));
    let complete = clean_eof && wrote && check.whole();
    update(&|s| s.complete = complete);
}
