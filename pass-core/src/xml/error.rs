//! Reader errors. (stub: the XML work item fills this in)
use core::fmt;

/// Why input is not acceptable XMPP XML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XmlError {
    /// Input ended before the element was complete.
    Truncated,
    /// Anything else, described.
    Malformed(alloc::string::String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for XmlError {}
