//! Serialising elements: what the runner writes on the component stream and what it
//! quotes in failure messages.
//!
//! The runner has its own small writer on purpose: the implementation under test may
//! share pass-core's writer, and a conformance tool should not inherit its bugs.

use pass_core::ns;
use pass_core::xml::{Element, Node};

/// The element as XML, declaring each namespace where it changes.
pub fn to_xml(el: &Element) -> String {
    let mut out = String::new();
    write_el(el, "", &mut out);
    out
}

/// The element as XML inside a stream whose default namespace is `default_ns`.
pub fn to_xml_in(el: &Element, default_ns: &str) -> String {
    let mut out = String::new();
    write_el(el, default_ns, &mut out);
    out
}

fn write_el(el: &Element, parent_ns: &str, out: &mut String) {
    out.push('<');
    out.push_str(&el.name);
    if el.namespace != parent_ns {
        out.push_str(" xmlns='");
        escape_into(&el.namespace, out);
        out.push('\'');
    }
    for a in &el.attributes {
        out.push(' ');
        if a.namespace == ns::XML {
            out.push_str("xml:");
        }
        out.push_str(&a.name);
        out.push_str("='");
        escape_into(&a.value, out);
        out.push('\'');
    }
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for child in &el.children {
        match child {
            Node::Element(c) => write_el(c, &el.namespace, out),
            Node::Text(t) => escape_into(t, out),
        }
    }
    out.push_str("</");
    out.push_str(&el.name);
    out.push('>');
}

/// Escapes text or an attribute value (both quote kinds, so either delimiter works).
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

/// Escaped copy of `s`.
pub fn escape(s: &str) -> String {
    let mut out = String::new();
    escape_into(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_namespaces_where_they_change_and_escapes() {
        let el = Element::new("iq", ns::COMPONENT)
            .with_attr("to", "a'b")
            .with_child(Element::new("query", ns::PASS).with_text("<&>"));
        assert_eq!(
            to_xml_in(&el, ns::COMPONENT),
            "<iq to='a&apos;b'><query xmlns='jabber:iq:pass'>&lt;&amp;&gt;</query></iq>"
        );
        assert!(to_xml(&el).starts_with("<iq xmlns='jabber:component:accept'"));
    }
}
