//! The IQ envelope. (stub: the stanza work item fills this in)
use crate::jid::Jid;
use crate::stanza::StanzaError;
use crate::xml::Element;
use alloc::string::String;

/// The four IQ types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IqType {
    /// `get`
    Get,
    /// `set`
    Set,
    /// `result`
    Result,
    /// `error`
    Error,
}

/// An IQ stanza. The payload is the first child element that is not `<error/>`
/// (an error IQ may echo the request's payload, as §5.2's deny does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iq {
    /// The `id` attribute (required).
    pub id: String,
    /// The `type` attribute.
    pub kind: IqType,
    /// The `from` attribute.
    pub from: Option<Jid>,
    /// The `to` attribute.
    pub to: Option<Jid>,
    /// The payload element, if any.
    pub payload: Option<Element>,
    /// The `<error/>` child of an error IQ.
    pub error: Option<StanzaError>,
}

/// Why an element is not a well-formed IQ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseIqError {
    /// Not an `<iq/>` in a stanza namespace.
    NotAnIq,
    /// Stub.
    Other(String),
}

impl TryFrom<&Element> for Iq {
    type Error = ParseIqError;
    fn try_from(_e: &Element) -> Result<Iq, ParseIqError> {
        todo!("stanza work item")
    }
}

impl From<&Iq> for Element {
    /// Written in `jabber:component:accept`; use `write_in` to omit it in a stream.
    fn from(_iq: &Iq) -> Element {
        todo!("stanza work item")
    }
}

impl Iq {
    /// A `result` answering `request` (from/to swapped) with an optional payload.
    pub fn result_for(_request: &Iq, _payload: Option<Element>) -> Iq {
        todo!("stanza work item")
    }

    /// An `error` answering `request` (from/to swapped), echoing no payload.
    pub fn error_for(_request: &Iq, _error: StanzaError) -> Iq {
        todo!("stanza work item")
    }
}
