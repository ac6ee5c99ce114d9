//! The protocol level. (stub: the stanza work item fills this in)
use crate::stanza::StanzaError;
use alloc::string::String;
use core::net::{IpAddr, SocketAddr};

/// A `jabber:iq:pass` protocol message, as carried by an IQ of a given type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassMessage {
    /// §2 client → service, `set`: lease a port.
    Register {
        /// Seconds until the port closes; `None` listens forever.
        expire: Option<u64>,
        /// Listen for one connection only.
        oneshot: bool,
    },
    /// §2 service → client, `result`: the leased address (one per advertised IP).
    Registered {
        /// The addresses the service listens on for this lease.
        servers: alloc::vec::Vec<SocketAddr>,
    },
    /// §3 service → owner, `set`: someone connected.
    IncomingConnection {
        /// The third party's address.
        client: SocketAddr,
        /// Where the owner connects to be bridged.
        proxy: SocketAddr,
    },
    /// Empty `result` query: accept (§3), expire/oneshot acknowledgement (§4.1, §4.2),
    /// close acknowledgement (§4.3). Which one depends on the request it answers.
    Ack,
    /// §5.2 owner → service, `error`: deny an incoming connection.
    Deny {
        /// The echoed `<client/>`, if present.
        client: Option<SocketAddr>,
        /// The echoed `<proxy/>`, if present.
        proxy: Option<SocketAddr>,
        /// The error given.
        error: StanzaError,
    },
    /// §4.1 service → owner, `set`: the lease expired.
    ExpireNotice {
        /// The lease's address.
        proxy: SocketAddr,
    },
    /// §4.2 service → owner, `set`: the oneshot lease was used and is closed.
    OneshotNotice {
        /// The lease's address.
        proxy: SocketAddr,
    },
    /// §4.3 owner → service, `set`: close a lease. `proxy` missing is a 400.
    Close {
        /// The lease's address, as given.
        proxy: Option<crate::stanza::PassEntity>,
    },
    /// §5.1 `get` with an empty query: asks a peer for its IP.
    ClientIpQuery,
    /// §5.1 `result` with `<client/>`: a peer's IP.
    ClientIpAnswer {
        /// The peer's IP.
        client: IpAddr,
    },
}

/// Why an IQ is not a valid protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsePassError {
    /// Stub.
    Other(String),
}

impl PassMessage {
    /// Reads the message an IQ carries, strictly (canonical forms only).
    pub fn from_iq(_iq: &crate::stanza::Iq) -> Result<PassMessage, ParsePassError> {
        todo!("stanza work item")
    }

    /// The IQ type that carries this message.
    pub fn iq_type(&self) -> crate::stanza::IqType {
        todo!("stanza work item")
    }

    /// The `<query xmlns='jabber:iq:pass'>` payload in canonical form.
    pub fn to_query(&self) -> crate::xml::Element {
        todo!("stanza work item")
    }
}
