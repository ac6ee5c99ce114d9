//! What the client machine asks of its host (actions) and tells its user (events).

use crate::jid::Jid;
use crate::lease::ConnId;
use crate::stanza::{Condition, Iq, StanzaError};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// Where a [`ClientAction::Connect`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The proxy address the service gave in the incoming-connection request.
    Proxy(SocketAddr),
    /// The local service being exposed (its address is the host's setting).
    Local,
}

/// One piece of I/O for the host, carried out in the order they come (the
/// [host contract](super#the-host-contract-for-a-client)). Exhaustive on purpose: a
/// new action must stop every host from compiling until it carries it out.
#[allow(clippy::large_enum_variant)] // short-lived in a queue, like `Action`
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAction {
    /// Write this IQ to the XMPP stream (`from`/`to` are set).
    Send(Iq),
    /// Open a TCP connection named `conn` to `to`, then report with
    /// [`Client::handle_connected`](super::Client::handle_connected).
    Connect {
        /// The name the client gives the connection.
        conn: ConnId,
        /// Where to connect.
        to: Endpoint,
    },
    /// Relay bytes both ways between the proxy connection and the local one.
    Bridge {
        /// The connection to the service's proxy port.
        proxy: ConnId,
        /// The connection to the local service.
        local: ConnId,
    },
    /// Close this connection, or abandon it while it is connecting.
    Drop {
        /// The connection.
        conn: ConnId,
    },
}

/// Why a request the client sent did not get what it asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// An error reply (XEP-0003's 400, 401, 404, 405, 502 or anything else), with the
    /// legacy code and condition filled in from each other when only one was given.
    Refused {
        /// The legacy code (XEP-0086).
        code: u16,
        /// The RFC 6120 condition.
        condition: Condition,
        /// The `<text/>`, if any.
        text: Option<String>,
    },
    /// A `result` that is not the message the request calls for.
    BadAnswer(String),
    /// No reply within [`ClientConfig::request_timeout`](super::ClientConfig::request_timeout).
    TimedOut,
}

impl Failure {
    pub(crate) fn refused(error: &StanzaError) -> Failure {
        Failure::Refused {
            code: error.effective_code(),
            condition: error.effective_condition(),
            text: error.text.clone(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused {
                code,
                condition,
                text,
            } => {
                write!(f, "refused with {code} {condition}")?;
                match text {
                    Some(t) => write!(f, ": {t}"),
                    None => Ok(()),
                }
            }
            Failure::BadAnswer(why) => write!(f, "unexpected answer: {why}"),
            Failure::TimedOut => f.write_str("no answer in time"),
        }
    }
}

impl core::error::Error for Failure {}

/// Why the host could not open a connection the client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// The peer refused the connection.
    Refused,
    /// No connection within the host's connect timeout.
    TimedOut,
    /// Anything else (unreachable network, no route, ...).
    Other,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectError::Refused => "connection refused",
            ConnectError::TimedOut => "connection timed out",
            ConnectError::Other => "connection failed",
        })
    }
}

impl core::error::Error for ConnectError {}

/// Why a caller was denied (listing 14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// The policy does not admit the caller's IP.
    NotAllowed,
    /// No allowed JID answered with the caller's IP within
    /// [`ClientConfig::ip_answer_wait`](super::ClientConfig::ip_answer_wait).
    NoMatchingAnswer,
    /// The client holds no lease (none yet, or it is closed or ended).
    NoLease,
}

/// An outcome for the user, drained with
/// [`Client::poll_event`](super::Client::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The lease is granted: the public address(es) (listing 2).
    Registered {
        /// One address per IP the service advertises.
        servers: Vec<SocketAddr>,
    },
    /// The registration failed (an error reply, a malformed result, or no reply).
    RegistrationFailed(Failure),
    /// A caller was accepted (listing 4); the client is connecting it.
    Accepted {
        /// The caller's address.
        client: SocketAddr,
        /// The proxy address the client connects to.
        proxy: SocketAddr,
    },
    /// A caller was denied (listing 14).
    Denied {
        /// The caller's address.
        client: SocketAddr,
        /// The proxy address the service offered.
        proxy: SocketAddr,
        /// Why.
        reason: DenyReason,
    },
    /// A connection for an accepted caller could not be opened; its session ends.
    ConnectFailed {
        /// The caller's address.
        client: SocketAddr,
        /// Where the client tried to connect.
        to: Endpoint,
        /// Why it failed.
        error: ConnectError,
    },
    /// Both connections are up: the caller is bridged to the local service.
    Bridged {
        /// The caller's address.
        client: SocketAddr,
    },
    /// An accepted caller's session is over; nothing more happens to its connections.
    SessionEnded {
        /// The caller's address.
        client: SocketAddr,
    },
    /// The lease expired (listing 5, acknowledged with listing 6).
    Expired {
        /// The lease's address, as the service gave it.
        proxy: SocketAddr,
    },
    /// The oneshot lease was used and is closed (listing 7, acknowledged with 8).
    OneshotClosed {
        /// The lease's address, as the service gave it.
        proxy: SocketAddr,
    },
    /// The service acknowledged the close (listing 10): the lease is gone.
    Closed,
    /// The close failed; the lease is kept unless the service said it is not found.
    CloseFailed(Failure),
    /// A peer answered [`Client::ask_ip`](super::Client::ask_ip) (listing 12).
    PeerIp {
        /// The peer asked.
        peer: Jid,
        /// Its IP.
        ip: IpAddr,
    },
    /// A peer's IP could not be learned.
    PeerIpFailed {
        /// The peer asked.
        peer: Jid,
        /// Why.
        failure: Failure,
    },
}
