//! The Linux zero-copy relay: splice(2) socket → pipe → socket, both ways at once.

use super::rate::Throttle;
use super::{both_ways, Ending, Side, Tally, Watch};
use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};
use nix::unistd::pipe2;
use socket2::SockRef;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Pipe size asked for with F_SETPIPE_SZ (the unprivileged maximum by default).
pub const PIPE_BYTES: usize = 1024 * 1024;

struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    size: usize,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let (read, write) = pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let want = i32::try_from(PIPE_BYTES).unwrap_or(i32::MAX);
        // A smaller pipe (pipe-max-size lowered) still works, just slower.
        let size = fcntl(&write, FcntlArg::F_SETPIPE_SZ(want))
            .or_else(|_| fcntl(&write, FcntlArg::F_GETPIPE_SZ))
            .map_or(64 * 1024, |s| usize::try_from(s).unwrap_or(64 * 1024));
        Ok(Pipe { read, write, size })
    }
}

/// Relays both ways until [`both_ways`] says the relay is over.
pub(crate) async fn relay(
    client: &TcpStream,
    owner: &TcpStream,
    up_throttle: Throttle,
    down_throttle: Throttle,
    up: &mut Tally<'_>,
    down: &mut Tally<'_>,
    watch: Watch<'_, impl FnOnce(Side)>,
) -> io::Result<Ending> {
    let first_eof = watch.first_eof;
    let up_pipe = Pipe::new()?;
    let down_pipe = Pipe::new()?;
    both_ways(
        one_way(client, owner, &up_pipe, up_throttle, up, || {
            first_eof.seen(Side::Client)
        }),
        one_way(owner, client, &down_pipe, down_throttle, down, || {
            first_eof.seen(Side::Owner)
        }),
        watch,
    )
    .await
}

async fn one_way(
    from: &TcpStream,
    to: &TcpStream,
    pipe: &Pipe,
    mut throttle: Throttle,
    tally: &mut Tally<'_>,
    on_eof: impl FnOnce(),
) -> io::Result<()> {
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK;
    let chunk = throttle.chunk_limit(pipe.size);
    loop {
        // Fill the (empty) pipe from the source socket.
        let n = loop {
            from.readable().await?;
            match from.try_io(Interest::READABLE, || {
                splice(from.as_fd(), None, &pipe.write, None, chunk, flags).map_err(io::Error::from)
            }) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            // Reported before it is passed on (DESIGN decision 50).
            on_eof();
            // Half-close: the other side sees EOF and may still answer.
            SockRef::from(to).shutdown(Shutdown::Write)?;
            return Ok(());
        }
        if throttle.is_limited() {
            throttle.consume(n).await;
        }
        // Drain the pipe into the destination socket.
        let mut left = n;
        while left > 0 {
            to.writable().await?;
            match to.try_io(Interest::WRITABLE, || {
                splice(&pipe.read, None, to.as_fd(), None, left, flags).map_err(io::Error::from)
            }) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(m) => {
                    // Counted per write: the half-close watchdog sees a slow
                    // reader draining a full pipe as activity.
                    left = left.saturating_sub(m);
                    tally.add(m);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
