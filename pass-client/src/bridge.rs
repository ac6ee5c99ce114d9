//! Relaying one caller: bytes both ways between the proxy connection and the local
//! service, byte-exact, each direction's EOF carried as a half-close.
//!
//! A plain buffered copy per direction, not pass-node's relay: that one counts
//! bytes for metrics, rate-limits, splices and reports the first EOF to a lease
//! machine (docs/DESIGN.md decision 50); a client bridging one caller to its own
//! service needs none of it (docs/DESIGN.md decision 91).

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Bytes read at once per direction: pass-node's copy buffer size. tokio's `copy`
/// reads 8 KiB at a time, which halved throughput (docs/BENCHMARKS.md, pass-client).
const BUFFER: usize = 256 * 1024;

/// Relays until both directions are done (EOF each way) or one fails; both
/// connections are closed when it returns. `corrupt` is the CorruptForward fault's
/// (DESIGN decision 114): false outside a `faults` build.
pub async fn relay(proxy: TcpStream, local: TcpStream, corrupt: bool) {
    // Owned halves: no lock between the two directions (`tokio::io::split` has one).
    let (pr, pw) = proxy.into_split();
    let (lr, lw) = local.into_split();
    let up = one_way(pr, lw, corrupt);
    let down = one_way(lr, pw, false);
    let (a, b) = tokio::join!(up, down);
    if let Err(e) = a.and(b) {
        tracing::debug!("relay ended with an error: {e}");
    }
}

/// Copies `from` into `to` until EOF, then shuts `to` down for writing.
async fn one_way(
    from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    corrupt_first: bool,
) -> std::io::Result<u64> {
    let mut from = BufReader::with_capacity(BUFFER, from);
    let mut n = 0;
    if corrupt_first {
        let mut buf = [0u8; 4096];
        let k = from.read(&mut buf).await?;
        crate::faults::corrupt(&mut buf[..k]);
        to.write_all(&buf[..k]).await?;
        n += k as u64;
    }
    n += tokio::io::copy_buf(&mut from, &mut to).await?;
    to.shutdown().await?;
    Ok(n)
}
