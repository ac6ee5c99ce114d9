//! One caller session: connect to a lease's public port, send the session's header and
//! upstream, check the downstream byte by byte and in order, until the service's EOF.

use crate::stream::{self, Check, Header, ACK_LEN, CHUNK};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::OwnedRwLockReadGuard;
use tokio::time::Instant;

/// Longest a session may take (its bytes take well under a second on loopback).
pub const LIMIT: Duration = Duration::from_secs(30);

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// Every byte both ways, in order, and the service's EOF after them.
    Complete,
    /// Cut short (connect refused, dropped, reset, timed out): `why`, with every
    /// byte received before that matching the stream.
    Failed(String),
    /// A downstream byte differed from the stream, or came past its end.
    Corrupt(u64),
}

/// One session's record.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: u64,
    pub lease: SocketAddr,
    pub started: Instant,
    pub ended: Instant,
    pub up: u32,
    pub down: u32,
    /// Downstream bytes received and checked.
    pub received: u64,
    pub end: End,
}

/// Runs session `h` against `lease`, sending a chunk every `pace` (a slow session
/// stays in flight for seconds). `setup` (a gate the nemesis may hold) is released
/// once the first downstream byte arrives, i.e. once the session is bridged.
pub async fn run(
    lease: SocketAddr,
    run_seed: u64,
    h: Header,
    pace: Duration,
    setup: Option<OwnedRwLockReadGuard<()>>,
) -> Session {
    let started = Instant::now();
    let mut received = 0;
    let mut corrupt = None;
    let outcome = tokio::time::timeout(
        LIMIT,
        exchange(lease, run_seed, h, pace, setup, &mut received, &mut corrupt),
    )
    .await;
    let end = match (corrupt, outcome) {
        (Some(at), _) => End::Corrupt(at),
        (None, Ok(end)) => end,
        (None, Err(_)) => End::Failed(format!("no end within {LIMIT:?}")),
    };
    Session {
        id: h.session,
        lease,
        started,
        ended: Instant::now(),
        up: h.up,
        down: h.down,
        received,
        end,
    }
}

async fn exchange(
    lease: SocketAddr,
    run_seed: u64,
    h: Header,
    pace: Duration,
    mut setup: Option<OwnedRwLockReadGuard<()>>,
    received: &mut u64,
    corrupt: &mut Option<u64>,
) -> End {
    let sock = match TcpStream::connect(lease).await {
        Ok(s) => s,
        Err(e) => return End::Failed(format!("connect: {e}")),
    };
    let (mut r, mut w) = sock.into_split();
    let up_seed = stream::seed(run_seed, h.session, 0);
    // Both directions in one future, so that the timeout drops both.
    let write = async move {
        w.write_all(&h.encode()).await?;
        stream::send(&mut w, up_seed, h.up, pace).await?;
        // Half-close: the service learns the upstream is whole.
        w.shutdown().await
    };
    let mut check = Check::new(stream::seed(run_seed, h.session, 1), h.down);
    // After the downstream, the service's acknowledgement of the whole upstream.
    let mut ack = Vec::with_capacity(ACK_LEN);
    let read = async {
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) => return Err(Err(format!("read after {received} bytes: {e}"))),
            };
            setup.take();
            let stream_part = n.min((u64::from(h.down) - check.received) as usize);
            if let Err(at) = check.take(&buf[..stream_part]) {
                *corrupt = Some(at);
                return Err(Ok(at));
            }
            *received = check.received;
            ack.extend_from_slice(&buf[stream_part..n]);
            if ack.len() > ACK_LEN {
                *corrupt = Some(u64::from(h.down) + ACK_LEN as u64);
                return Err(Ok(u64::from(h.down) + ACK_LEN as u64));
            }
        }
    };
    let (wrote, read_end) = tokio::join!(write, read);
    let read_end = match read_end {
        Ok(()) => None,
        Err(Ok(corrupt_at)) => return End::Corrupt(corrupt_at),
        Err(Err(e)) => Some(e),
    };
    let wrote = wrote.err().map(|e| format!("write: {e}"));
    match (read_end, wrote) {
        (Some(e), _) | (None, Some(e)) => End::Failed(e),
        (None, None) if !check.whole() => {
            End::Failed(format!("EOF after {received} of {} bytes", h.down))
        }
        (None, None) if ack[..] == stream::ack(h.up) => End::Complete,
        (None, None) if stream::ack(h.up).starts_with(&ack) => End::Failed(format!(
            "EOF after {} of {ACK_LEN} bytes of the service's acknowledgement of the upstream",
            ack.len()
        )),
        (None, None) => {
            *corrupt = Some(u64::from(h.down));
            End::Corrupt(u64::from(h.down))
        }
    }
}
