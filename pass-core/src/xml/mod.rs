//! A strict reader and writer for the XML that XMPP allows (RFC 6120 §11), and an
//! incremental framer for an XEP-0114 component stream.
//!
//! API contract (other modules and crates rely on these names):
//! - [`parse_element`]`(bytes, &Limits) -> Result<Element, XmlError>`: one complete
//!   element (a stanza or a spec listing); leading/trailing whitespace allowed, an XML
//!   declaration allowed, nothing else around it.
//! - [`Element::to_xml`] / [`Element::write_to`]: serialise with correct escaping and
//!   the namespace declarations needed; [`Element::write_in`] omits a default
//!   namespace already in scope (stanzas inside a stream).
//! - [`StreamFramer`]: feed bytes in any chunking, pull [`StreamEvent`]s;
//!   [`StreamHeader::to_open_tag`] and [`STREAM_CLOSE`] write a stream's ends.
//! - [`XmlError`] says precisely what was refused ([`ForbiddenConstruct`], [`Limit`]).
//!
//! Reading follows XML 1.0 and XML Namespaces strictly, minus what RFC 6120 §11
//! forbids (DTDs, entity declarations, processing instructions, comments). Choices:
//! line ends are normalised to LF and literal tab/CR/LF in attribute values become
//! spaces, as XML requires (the writer escapes them as character references so trees
//! survive a round trip); a UTF-8 byte-order mark and whitespace before the XML
//! declaration are accepted; whitespace-only text is kept.
//!
//! ```
//! use pass_core::xml::{parse_element, Limits};
//! let iq = parse_element(b"<iq type='get'><query xmlns='jabber:iq:pass'/></iq>", &Limits::default())?;
//! assert!(iq.get_child("query", "jabber:iq:pass").is_some());
//! assert_eq!(iq.to_xml(), "<iq type='get'><query xmlns='jabber:iq:pass'/></iq>");
//! # Ok::<(), pass_core::xml::XmlError>(())
//! ```

mod element;
mod error;
mod framer;
mod limits;
mod reader;
#[cfg(test)]
mod testgen;
mod writer;

pub use element::{Attribute, Element, Node};
pub use error::{ForbiddenConstruct, Limit, XmlError};
pub use framer::{StreamEvent, StreamFramer, StreamHeader, STREAM_CLOSE};
pub use limits::Limits;
pub use reader::parse_element;

/// XML whitespace (XML 1.0 §2.3 production S).
pub fn is_xml_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}
