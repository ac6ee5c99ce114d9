//! The schema level. (stub: the stanza work item fills this in)
use alloc::string::String;
use alloc::vec::Vec;

/// The XSD's `PassEntity`: an NMTOKEN (an IP in practice) with an optional port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassEntity {
    /// The element text (an `xs:NMTOKEN`).
    pub host: String,
    /// The `port` attribute (1–65535; the errata widen the XSD's `xs:short`).
    pub port: Option<u16>,
}

/// One child of `<query xmlns='jabber:iq:pass'/>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryItem {
    /// `<client/>`
    Client(PassEntity),
    /// `<close/>`
    Close,
    /// `<expire/>`: seconds, or empty (as in the notices; errata).
    Expire(Option<u64>),
    /// `<oneshot/>`
    Oneshot,
    /// `<proxy/>`
    Proxy(PassEntity),
    /// `<server/>`
    Server(PassEntity),
}

/// `{jabber:iq:pass}query`: its children in document order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Query {
    /// The children, in order.
    pub items: Vec<QueryItem>,
}

/// Why an element is not a valid query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseQueryError {
    /// Stub.
    Other(String),
}
