//! Limits the reader and the framer enforce, so hostile input costs bounded memory.

/// Bounds on what the reader accepts; a caller may change any of them.
///
/// Each is enforced with [`XmlError::LimitExceeded`](super::XmlError::LimitExceeded)
/// naming the [`Limit`](super::Limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest stanza (or standalone element), in bytes of input.
    pub max_stanza_bytes: usize,
    /// Deepest element nesting (the stanza element is depth 1).
    pub max_depth: usize,
    /// Most attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
    /// Longest attribute value, in bytes after unescaping.
    pub max_attribute_bytes: usize,
    /// Longest text node, in bytes after unescaping.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stanza_bytes: 64 * 1024,
            max_depth: 32,
            max_attributes: 32,
            max_attribute_bytes: 4096,
            max_text_bytes: 16 * 1024,
        }
    }
}
