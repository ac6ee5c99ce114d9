//! Limits the reader enforces. (stub: the XML work item fills this in)

/// Bounds on what the reader accepts; a caller may change any of them.
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
