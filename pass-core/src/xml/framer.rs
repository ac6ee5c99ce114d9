//! The incremental stream framer. (stub: the XML work item fills this in)
use super::{Attribute, Element, Limits, XmlError};
use alloc::string::String;
use alloc::vec::Vec;

/// The opening `<stream:stream ...>` tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    /// The `id` attribute (the server's stream id, used in the XEP-0114 handshake).
    pub id: Option<String>,
    /// The `from` attribute.
    pub from: Option<String>,
    /// The `to` attribute.
    pub to: Option<String>,
    /// The default namespace declared on the header (`jabber:component:accept`).
    pub default_namespace: String,
    /// All other attributes.
    pub attributes: Vec<Attribute>,
}

/// What the framer yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The stream header.
    Header(StreamHeader),
    /// A complete top-level element (stanza or `<handshake/>`), namespaces resolved
    /// with the stream's default namespace in scope.
    Stanza(Element),
    /// `<stream:error>`, as its element.
    StreamError(Element),
    /// `</stream:stream>`.
    End,
}

/// Feed bytes in any chunking; pull events.
#[derive(Debug)]
pub struct StreamFramer {
    _limits: Limits,
}

impl StreamFramer {
    /// A framer expecting a stream header first.
    pub fn new(limits: Limits) -> Self {
        StreamFramer { _limits: limits }
    }

    /// Appends bytes received from the peer.
    pub fn feed(&mut self, _bytes: &[u8]) {}

    /// The next complete event, `None` when more bytes are needed. After an error the
    /// framer keeps returning that error: the stream cannot be resynchronised.
    pub fn next_event(&mut self) -> Option<Result<StreamEvent, XmlError>> {
        let _ = Element::default();
        None
    }
}
