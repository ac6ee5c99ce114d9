//! Limits on what the server sends, at two levels.
//!
//! The stream framer enforces the stream-level bound (stanza size) and loose
//! per-element bounds; breaking those cuts the stream, since the framer cannot
//! resynchronise. The strict per-element limits (nesting, attributes, text) are
//! checked here on each parsed stanza instead: a conforming server relays any user's
//! well-formed stanza, so one user's oversized stanza must be refused alone (an IQ
//! error to its sender) rather than take the component stream down for everyone.

use pass_core::xml::{Element, Limit, Limits, Node, XmlError};

/// Nesting the framer accepts before cutting the stream. Bounded because element
/// trees are dropped recursively; well above any strict limit worth setting.
const FRAMER_MAX_DEPTH: usize = 1024;
/// Attributes per element the framer accepts before cutting the stream.
const FRAMER_MAX_ATTRIBUTES: usize = 1024;

/// The loose limits to give the framer, derived from the strict ones: the same
/// stanza size, the per-element bounds relaxed so that [`check`] can refuse a
/// well-formed stanza alone.
pub fn framer_limits(strict: &Limits) -> Limits {
    Limits {
        max_stanza_bytes: strict.max_stanza_bytes,
        max_depth: FRAMER_MAX_DEPTH.max(strict.max_depth),
        max_attributes: FRAMER_MAX_ATTRIBUTES.max(strict.max_attributes),
        max_attribute_bytes: strict.max_stanza_bytes.max(strict.max_attribute_bytes),
        max_text_bytes: strict.max_stanza_bytes.max(strict.max_text_bytes),
    }
}

/// The first strict limit `stanza` breaks, if any. Iterative: depth is bounded by
/// the framer, but no recursion is needed.
pub fn check(stanza: &Element, strict: &Limits) -> Option<Limit> {
    let mut stack: Vec<(&Element, usize)> = vec![(stanza, 1)];
    while let Some((el, depth)) = stack.pop() {
        if depth > strict.max_depth {
            return Some(Limit::Depth);
        }
        if el.attributes.len() > strict.max_attributes {
            return Some(Limit::Attributes);
        }
        if el
            .attributes
            .iter()
            .any(|a| a.value.len() > strict.max_attribute_bytes)
        {
            return Some(Limit::AttributeBytes);
        }
        for child in &el.children {
            match child {
                Node::Element(c) => stack.push((c, depth + 1)),
                Node::Text(t) if t.len() > strict.max_text_bytes => return Some(Limit::TextBytes),
                Node::Text(_) => {}
            }
        }
    }
    None
}

/// The RFC 6120 §4.9.3 stream error condition for XML the framer refused.
pub fn stream_error_condition(e: &XmlError) -> &'static str {
    match e {
        XmlError::Forbidden(_) | XmlError::UndeclaredEntity(_) => "restricted-xml",
        XmlError::LimitExceeded(_) => "policy-violation",
        XmlError::InvalidUtf8 { .. } => "unsupported-encoding",
        _ => "not-well-formed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pass_core::xml::ForbiddenConstruct;

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
        assert_eq!(check(&nested(strict.max_depth), &strict), None);
        assert_eq!(
            check(&nested(strict.max_depth + 1), &strict),
            Some(Limit::Depth)
        );
        let big = "x".repeat(strict.max_attribute_bytes + 1);
        let e = Element::new("iq", "").with_child(Element::new("q", "").with_attr("v", &big));
        assert_eq!(check(&e, &strict), Some(Limit::AttributeBytes));
        let text = "x".repeat(strict.max_text_bytes + 1);
        let e = Element::new("iq", "").with_text(&text);
        assert_eq!(check(&e, &strict), Some(Limit::TextBytes));
        let mut e = Element::new("iq", "");
        for i in 0..=strict.max_attributes {
            e.set_attr(&format!("a{i}"), "v");
        }
        assert_eq!(check(&e, &strict), Some(Limit::Attributes));
    }

    #[test]
    fn framer_limits_keep_the_stanza_size_and_relax_the_rest() {
        let strict = Limits::default();
        let loose = framer_limits(&strict);
        assert_eq!(loose.max_stanza_bytes, strict.max_stanza_bytes);
        assert!(loose.max_depth > strict.max_depth);
        assert!(loose.max_attribute_bytes >= strict.max_stanza_bytes);
    }

    #[test]
    fn conditions_follow_rfc_6120() {
        assert_eq!(
            stream_error_condition(&XmlError::Forbidden(ForbiddenConstruct::Dtd)),
            "restricted-xml"
        );
        assert_eq!(
            stream_error_condition(&XmlError::LimitExceeded(Limit::StanzaBytes)),
            "policy-violation"
        );
        assert_eq!(
            stream_error_condition(&XmlError::InvalidUtf8 { offset: 3 }),
            "unsupported-encoding"
        );
        assert_eq!(
            stream_error_condition(&XmlError::Truncated),
            "not-well-formed"
        );
    }
}
