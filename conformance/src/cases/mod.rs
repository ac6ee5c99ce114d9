//! The cases, one module per spec section. Each case is a short async scenario on a
//! [`Ctx`]; the catalogue entry beside it says what it checks.

pub mod c2s_only;
pub mod robustness;
pub mod s2_registration;
pub mod s3_incoming;
pub mod s4_1_expire;
pub mod s4_2_oneshot;
pub mod s4_3_close;
pub mod s5_1_client_auth;
pub mod s5_2_deny;

use crate::ctx::{Ctx, Incoming, Stop};
use crate::harness::{ReadEvent, SockId};
use std::net::SocketAddr;
use std::time::Duration;

/// Builds a catalogue entry.
macro_rules! case {
    ($id:literal, $section:literal, $listing:expr, $level:ident, $req:expr, $desc:literal, $run:path) => {
        $crate::catalogue::Case {
            id: $id,
            section: $section,
            listing: $listing,
            level: $crate::catalogue::Level::$level,
            requirement: $req,
            description: $desc,
            run: $run,
        }
    };
}
pub(crate) use case;

/// How long a case waits to conclude that nothing (more) comes.
pub(crate) const QUIET: Duration = Duration::from_millis(500);

/// A payload both sides of a relay exchange, distinct per direction.
pub(crate) fn greeting(from: &str) -> Vec<u8> {
    format!("hello from {from} through PASS\n").into_bytes()
}

/// Connects, retrying for up to a second while refused: a service re-listens
/// asynchronously after a relay or a deny.
pub(crate) async fn connect_retry(
    c: &mut Ctx,
    who: &str,
    addr: SocketAddr,
) -> Result<(SockId, SocketAddr), Stop> {
    for _ in 0..10 {
        match c.connect(who, addr).await {
            Ok(s) => return Ok(s),
            Err(Stop::Fail(_)) => c.sleep(Duration::from_millis(100)).await,
            Err(e) => return Err(e),
        }
    }
    c.connect(who, addr).await
}

/// Connects a new third party to a lease that should be listening again and waits
/// for the owner's request. A connection the service still drops as busy (the
/// previous session is ending at that very moment) is retried, for up to a second.
pub(crate) async fn reconnect_for_incoming(
    c: &mut Ctx,
    owner: &str,
    addr: SocketAddr,
) -> Result<Incoming, Stop> {
    for _ in 0..10 {
        let (sock, _) = connect_retry(c, "a second third party", addr).await?;
        match c.read_event(sock, Duration::from_millis(200)).await? {
            ReadEvent::Eof | ReadEvent::Reset => {
                c.close(sock).await;
                c.sleep(Duration::from_millis(100)).await;
            }
            _ => return c.expect_incoming(owner).await,
        }
    }
    let (_, _) = connect_retry(c, "a second third party", addr).await?;
    c.expect_incoming(owner).await
}

/// Sends bytes one way through a relay and checks they arrive unchanged.
pub(crate) async fn pass_bytes(
    c: &mut Ctx,
    step: &str,
    from: SockId,
    to: SockId,
    data: &[u8],
) -> Result<(), Stop> {
    c.write(from, data).await?;
    c.expect_bytes(step, to, data).await
}
