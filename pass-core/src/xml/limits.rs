//! Limits the reader and the framer enforce, so hostile input costs bounded memory.
//!
//! Two levels: the stream framer enforces the stanza size and loose per-element
//! bounds ([`Limits::relaxed_for_framing`]); breaking those cuts the stream, since
//! the framer cannot resynchronise after an error. The strict per-element limits
//! (nesting, attributes, text) are checked on each parsed stanza instead
//! ([`Limits::first_exceeded_by`]): a conforming server relays any user's
//! well-formed stanza, so one user's oversized stanza must be refused alone rather
//! than take the component stream down for everyone.

use super::{Element, Limit, Node};
use alloc::vec;
use alloc::vec::Vec;

/// Nesting the framer accepts before cutting the stream. Bounded because element
/// trees are dropped recursively; well above any strict limit worth setting.
const FRAMER_MAX_DEPTH: usize = 1024;
/// Attributes per element the framer accepts before cutting the stream.
const FRAMER_MAX_ATTRIBUTES: usize = 1024;

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

impl Limits {
    /// The loose limits to give a stream framer, derived from these strict ones: the
    /// same stanza size, the per-element bounds relaxed so that a well-formed stanza
    /// over a strict bound reaches [`first_exceeded_by`](Self::first_exceeded_by)
    /// and is refused alone instead of cutting the stream.
    pub fn relaxed_for_framing(&self) -> Limits {
        Limits {
            max_stanza_bytes: self.max_stanza_bytes,
            max_depth: FRAMER_MAX_DEPTH.max(self.max_depth),
            max_attributes: FRAMER_MAX_ATTRIBUTES.max(self.max_attributes),
            max_attribute_bytes: self.max_stanza_bytes.max(self.max_attribute_bytes),
            max_text_bytes: self.max_stanza_bytes.max(self.max_text_bytes),
        }
    }

    /// The first per-element limit `el` breaks, if any (the stanza size is the
    /// reader's to check: a parsed tree no longer knows its byte length).
    /// Iterative, so a deep tree costs no stack.
    pub fn first_exceeded_by(&self, el: &Element) -> Option<Limit> {
        let mut stack: Vec<(&Element, usize)> = vec![(el, 1)];
        while let Some((el, depth)) = stack.pop() {
            if depth > self.max_depth {
                return Some(Limit::Depth);
            }
            if el.attributes.len() > self.max_attributes {
                return Some(Limit::Attributes);
            }
            if el
                .attributes
                .iter()
                .any(|a| a.value.len() > self.max_attribute_bytes)
            {
                return Some(Limit::AttributeBytes);
            }
            for child in &el.children {
                match child {
                    Node::Element(c) => stack.push((c, depth + 1)),
                    Node::Text(t) if t.len() > self.max_text_bytes => {
                        return Some(Limit::TextBytes)
                    }
                    Node::Text(_) => {}
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn nested(levels: usize) -> Element {
        let mut e = Element::new("a", "");
        for _ in 1..levels {
            e = Element::new("a", "").with_child(e);
        }
        e
    }

    #[test]
    fn finds_each_broken_limit() {
        let strict = Limits::default();
        assert_eq!(strict.first_exceeded_by(&nested(strict.max_depth)), None);
        assert_eq!(
            strict.first_exceeded_by(&nested(strict.max_depth + 1)),
            Some(Limit::Depth)
        );
        let big = "x".repeat(strict.max_attribute_bytes + 1);
        let e = Element::new("iq", "").with_child(Element::new("q", "").with_attr("v", &big));
        assert_eq!(strict.first_exceeded_by(&e), Some(Limit::AttributeBytes));
        let text = "x".repeat(strict.max_text_bytes + 1);
        let e = Element::new("iq", "").with_text(&text);
        assert_eq!(strict.first_exceeded_by(&e), Some(Limit::TextBytes));
        let mut e = Element::new("iq", "");
        for i in 0..=strict.max_attributes {
            e.set_attr(&format!("a{i}"), "v");
        }
        assert_eq!(strict.first_exceeded_by(&e), Some(Limit::Attributes));
    }

    #[test]
    fn relaxed_limits_keep_the_stanza_size_and_relax_the_rest() {
        let strict = Limits::default();
        let loose = strict.relaxed_for_framing();
        assert_eq!(loose.max_stanza_bytes, strict.max_stanza_bytes);
        assert!(loose.max_depth > strict.max_depth);
        assert!(loose.max_attributes > strict.max_attributes);
        assert!(loose.max_attribute_bytes >= strict.max_stanza_bytes);
        assert!(loose.max_text_bytes >= strict.max_stanza_bytes);
    }
}
