//! What the machine asks its host to do.
use crate::jid::Jid;
use crate::stanza::Iq;
use core::fmt;

/// A TCP connection the host accepted, named by the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// Why the host could not listen on a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenError {
    /// Something else holds the port.
    AddrInUse,
    /// Any other failure (permissions, no such address).
    Other,
    /// The host is out of file descriptors or memory: nothing is wrong with the
    /// port, so it is not set aside (DESIGN decision 51).
    NoResources,
}

/// One thing to do. The host carries actions out in the order they come.
// `Send` is much larger than the rest; actions live briefly in a queue, so boxing
// the IQ would cost an allocation per stanza for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this IQ to the XMPP stream (the host stamps nothing: `from`/`to` are set).
    Send(Iq),
    /// Start listening on this port, then report with
    /// [`LeaseMachine::handle_listen_result`](super::LeaseMachine::handle_listen_result).
    Listen {
        /// The port.
        port: u16,
    },
    /// Stop listening on this port (its lease or proxy window ended). Connections
    /// already accepted are not affected.
    Unlisten {
        /// The port.
        port: u16,
    },
    /// Relay bytes between the two connections both ways; report the first EOF of
    /// either side at once with
    /// [`LeaseMachine::handle_closed`](super::LeaseMachine::handle_closed) (the
    /// session is over), and the other side when the relay ends (the
    /// [Engine contract](crate::engine#the-engine-contract)).
    Bridge {
        /// The third party's connection (accepted on the lease port).
        client: ConnId,
        /// The owner's connection (accepted on the proxy port).
        owner: ConnId,
        /// The lease's owner (for per-account accounting).
        account: Jid,
    },
    /// Close this connection (and, if bridged, its relay).
    Drop {
        /// The connection.
        conn: ConnId,
    },
}
