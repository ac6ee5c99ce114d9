//! Why the reader or the framer refused input.
use alloc::string::String;
use core::fmt;

/// A construct that XML allows but XMPP forbids (RFC 6120 §11.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForbiddenConstruct {
    /// A document type declaration (`<!DOCTYPE ...>`).
    Dtd,
    /// An entity declaration (`<!ENTITY ...>`).
    EntityDeclaration,
    /// A processing instruction (`<?target ...?>`), other than the XML declaration.
    ProcessingInstruction,
    /// A comment (`<!-- ... -->`).
    Comment,
}

impl ForbiddenConstruct {
    /// What the construct is called, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ForbiddenConstruct::Dtd => "a document type declaration (<!DOCTYPE)",
            ForbiddenConstruct::EntityDeclaration => "an entity declaration (<!ENTITY)",
            ForbiddenConstruct::ProcessingInstruction => "a processing instruction (<?...?>)",
            ForbiddenConstruct::Comment => "a comment (<!--)",
        }
    }
}

/// Which [`Limits`](super::Limits) field was exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_stanza_bytes`](super::Limits::max_stanza_bytes).
    StanzaBytes,
    /// [`Limits::max_depth`](super::Limits::max_depth).
    Depth,
    /// [`Limits::max_attributes`](super::Limits::max_attributes).
    Attributes,
    /// [`Limits::max_attribute_bytes`](super::Limits::max_attribute_bytes).
    AttributeBytes,
    /// [`Limits::max_text_bytes`](super::Limits::max_text_bytes).
    TextBytes,
}

impl Limit {
    /// What the limit bounds, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Limit::StanzaBytes => "stanza size in bytes",
            Limit::Depth => "element nesting depth",
            Limit::Attributes => "attributes per element",
            Limit::AttributeBytes => "attribute value length in bytes",
            Limit::TextBytes => "text node length in bytes",
        }
    }
}

/// Why input is not acceptable XMPP XML.
///
/// Offsets count bytes from the start of the input given to
/// [`parse_element`](super::parse_element); for errors from the
/// [`StreamFramer`](super::StreamFramer) inside a stanza, from the start of that stanza,
/// and between stanzas, from the start of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum XmlError {
    /// Input ended before the element (or the construct being read) was complete.
    Truncated,
    /// The bytes are not UTF-8.
    InvalidUtf8 {
        /// Offset of the first byte that is not valid UTF-8.
        offset: usize,
    },
    /// A character that XML does not allow (XML 1.0 §2.2 `Char`), written literally or
    /// as a character reference.
    InvalidChar {
        /// Offset of the character or of the reference's `&`.
        offset: usize,
        /// The code point.
        code_point: u32,
    },
    /// A construct XMPP forbids.
    Forbidden(ForbiddenConstruct),
    /// A reference to an entity other than the five predefined ones.
    UndeclaredEntity(String),
    /// A prefix used on an element or attribute without a declaration in scope.
    UndeclaredPrefix(String),
    /// A namespace declaration that XML Namespaces forbids (e.g. `xmlns:p=''`, or
    /// rebinding `xml` / `xmlns`); carries the declaring attribute's name.
    InvalidNamespaceDeclaration(String),
    /// The same attribute twice on one element (by name or by namespace and local name).
    DuplicateAttribute(String),
    /// An end tag that does not close the open element.
    MismatchedEndTag {
        /// The qualified name of the open element.
        expected: String,
        /// The qualified name in the end tag.
        found: String,
    },
    /// Content after the element (other than whitespace).
    TrailingData {
        /// Offset of the first byte after the element that is not whitespace.
        offset: usize,
    },
    /// A limit of [`Limits`](super::Limits) was exceeded.
    LimitExceeded(Limit),
    /// Anything else that is not well-formed.
    Syntax {
        /// Offset where the input went wrong.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Truncated => f.write_str("input ended before the XML was complete"),
            XmlError::InvalidUtf8 { offset } => write!(f, "invalid UTF-8 at byte {offset}"),
            XmlError::InvalidChar { offset, code_point } => write!(
                f,
                "character U+{code_point:04X} at byte {offset} is not allowed in XML"
            ),
            XmlError::Forbidden(c) => write!(f, "XMPP forbids {}", c.describe()),
            XmlError::UndeclaredEntity(name) => write!(
                f,
                "undeclared entity &{name}; (only amp, lt, gt, apos and quot exist in XMPP)"
            ),
            XmlError::UndeclaredPrefix(p) => {
                write!(f, "namespace prefix '{p}' is used but not declared")
            }
            XmlError::InvalidNamespaceDeclaration(a) => {
                write!(f, "namespace declaration {a} is not allowed")
            }
            XmlError::DuplicateAttribute(a) => write!(f, "attribute '{a}' appears twice"),
            XmlError::MismatchedEndTag { expected, found } => {
                write!(f, "end tag </{found}> does not match the open <{expected}>")
            }
            XmlError::TrailingData { offset } => {
                write!(f, "unexpected data after the element at byte {offset}")
            }
            XmlError::LimitExceeded(l) => write!(f, "limit exceeded: {}", l.describe()),
            XmlError::Syntax { offset, expected } => {
                write!(f, "malformed XML at byte {offset}: expected {expected}")
            }
        }
    }
}

impl core::error::Error for XmlError {}
