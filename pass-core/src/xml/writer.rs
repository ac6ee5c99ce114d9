//! The writer: XMPP-style XML (single-quoted attributes, `<x/>` for empty elements),
//! escaped so that the reader gives back the same tree.
use super::{Attribute, Element, Node};
use crate::ns;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

impl Element {
    /// Serialises with namespace declarations on the root.
    pub fn to_xml(&self) -> String {
        let mut s = String::new();
        self.write_to(&mut s);
        s
    }

    /// Appends the serialisation to `out`, declaring the root's namespace.
    pub fn write_to(&self, out: &mut String) {
        self.write_in(out, "");
    }

    /// Appends the serialisation to `out`, leaving out a default namespace
    /// declaration equal to `default_ns` (the namespace already in scope).
    ///
    /// Names are written as given: they must be XML names (`NCName`s) and strings must
    /// hold only XML characters for the output to be well-formed.
    pub fn write_in(&self, out: &mut String, default_ns: &str) {
        let mut prefixes = Prefixes::default();
        self.write_scoped(out, default_ns, &mut prefixes);
    }

    fn write_scoped<'e>(&'e self, out: &mut String, default_ns: &str, prefixes: &mut Prefixes<'e>) {
        let mark = prefixes.bound.len();
        out.push('<');
        // The xml namespace cannot be a default namespace; it always has its prefix.
        let in_xml = self.namespace == ns::XML;
        if in_xml {
            out.push_str("xml:");
        }
        out.push_str(&self.name);
        if !in_xml && self.namespace != default_ns {
            out.push_str(" xmlns='");
            escape_attr(out, &self.namespace);
            out.push('\'');
        }
        for a in &self.attributes {
            if !a.namespace.is_empty()
                && a.namespace != ns::XML
                && prefixes.find(&a.namespace).is_none()
            {
                let p = prefixes.bind(&a.namespace);
                out.push_str(" xmlns:");
                out.push_str(&p);
                out.push_str("='");
                escape_attr(out, &a.namespace);
                out.push('\'');
            }
        }
        for a in &self.attributes {
            out.push(' ');
            write_attr_name(out, a, prefixes);
            out.push_str("='");
            escape_attr(out, &a.value);
            out.push('\'');
        }
        if self.children.is_empty() {
            out.push_str("/>");
        } else {
            out.push('>');
            let inner_default = if in_xml {
                default_ns
            } else {
                self.namespace.as_str()
            };
            for child in &self.children {
                match child {
                    Node::Element(e) => e.write_scoped(out, inner_default, prefixes),
                    Node::Text(t) => escape_text(out, t),
                }
            }
            out.push_str("</");
            if in_xml {
                out.push_str("xml:");
            }
            out.push_str(&self.name);
            out.push('>');
        }
        prefixes.bound.truncate(mark);
    }
}

/// Prefixes the writer declared on ancestors, for prefixed attributes.
#[derive(Default)]
struct Prefixes<'e> {
    /// (namespace, prefix) in scope, innermost last.
    bound: Vec<(&'e str, String)>,
    /// Counter for fresh prefixes (`ns0`, `ns1`, ...); never reused within one call,
    /// so an inner declaration cannot shadow an outer one.
    next: usize,
}

impl<'e> Prefixes<'e> {
    fn find(&self, ns: &str) -> Option<&str> {
        self.bound
            .iter()
            .rev()
            .find(|(n, _)| *n == ns)
            .map(|(_, p)| p.as_str())
    }

    fn bind(&mut self, ns: &'e str) -> String {
        let p = format!("ns{}", self.next);
        self.next += 1;
        self.bound.push((ns, p.clone()));
        p
    }
}

fn write_attr_name(out: &mut String, a: &Attribute, prefixes: &Prefixes<'_>) {
    if a.namespace == ns::XML {
        out.push_str("xml:");
    } else if !a.namespace.is_empty() {
        if let Some(p) = prefixes.find(&a.namespace) {
            out.push_str(p);
            out.push(':');
        }
    }
    out.push_str(&a.name);
}

/// Escapes character data: `&`, `<`, `>` (so `]]>` cannot appear) and CR (which the
/// reader would otherwise normalise to LF).
pub(crate) fn escape_text(out: &mut String, s: &str) {
    escape(out, s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Escapes a single-quoted attribute value: markup characters, both quotes, and tab,
/// LF and CR (which attribute-value normalisation would turn into spaces).
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    escape(out, s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\'' => Some("&apos;"),
        '"' => Some("&quot;"),
        '\t' => Some("&#x9;"),
        '\n' => Some("&#xA;"),
        '\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Copies `s`, replacing the characters `rule` names; unchanged runs are copied whole.
fn escape(out: &mut String, s: &str, rule: impl Fn(char) -> Option<&'static str>) {
    let mut run = 0;
    for (i, c) in s.char_indices() {
        if let Some(rep) = rule(c) {
            out.push_str(&s[run..i]);
            out.push_str(rep);
            run = i + c.len_utf8();
        }
    }
    out.push_str(&s[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::testgen::Tree;
    use crate::xml::{parse_element, Limits};
    use alloc::string::ToString;
    use alloc::vec;
    use quickcheck::QuickCheck;

    #[test]
    fn writes_xmpp_style() {
        let e = Element::new("iq", "jabber:client")
            .with_attr("type", "set")
            .with_attr("id", "p'1\"<&>")
            .with_child(
                Element::new("query", "jabber:iq:pass")
                    .with_child(Element::new("expire", "jabber:iq:pass").with_text("600")),
            );
        assert_eq!(
            e.to_xml(),
            "<iq xmlns='jabber:client' type='set' id='p&apos;1&quot;&lt;&amp;&gt;'><query xmlns='jabber:iq:pass'><expire>600</expire></query></iq>"
        );
    }

    #[test]
    fn write_in_omits_the_namespace_in_scope() {
        let e = Element::new("iq", ns::COMPONENT).with_child(Element::new("x", ""));
        let mut s = String::new();
        e.write_in(&mut s, ns::COMPONENT);
        assert_eq!(s, "<iq><x xmlns=''/></iq>");
        assert_eq!(Element::new("a", "").to_xml(), "<a/>");
    }

    #[test]
    fn escapes_text() {
        let e = Element::new("a", "").with_text("]]> & <b> \r\n 'q\" é");
        assert_eq!(e.to_xml(), "<a>]]&gt; &amp; &lt;b&gt; &#xD;\n 'q\" é</a>");
    }

    #[test]
    fn escapes_whitespace_in_attributes() {
        let e = Element::new("a", "").with_attr("x", "\t\n\r ");
        assert_eq!(e.to_xml(), "<a x='&#x9;&#xA;&#xD; '/>");
    }

    #[test]
    fn prefixed_attributes_get_declared_prefixes() {
        let mut e = Element::new("a", "urn:a");
        e.attributes.push(Attribute {
            name: "lang".into(),
            namespace: ns::XML.into(),
            value: "en".into(),
        });
        e.attributes.push(Attribute {
            name: "x".into(),
            namespace: "urn:p".into(),
            value: "1".into(),
        });
        let mut child = Element::new("b", "urn:a");
        child.attributes.push(Attribute {
            name: "y".into(),
            namespace: "urn:p".into(),
            value: "2".into(),
        });
        e.children.push(Node::Element(child));
        assert_eq!(
            e.to_xml(),
            "<a xmlns='urn:a' xmlns:ns0='urn:p' xml:lang='en' ns0:x='1'><b ns0:y='2'/></a>"
        );
        assert_eq!(
            parse_element(e.to_xml().as_bytes(), &Limits::default()),
            Ok(e)
        );
    }

    #[test]
    fn parse_of_write_is_identity() {
        fn prop(t: Tree) -> bool {
            let xml = t.0.to_xml();
            parse_element(xml.as_bytes(), &Limits::default()) == Ok(t.0)
        }
        QuickCheck::new()
            .tests(2000)
            .quickcheck(prop as fn(Tree) -> bool);
    }

    #[test]
    fn parse_of_write_in_scope_is_identity() {
        fn prop(t: Tree) -> bool {
            let mut xml = String::new();
            t.0.write_in(&mut xml, "urn:a");
            let scope = [("", "urn:a")];
            crate::xml::reader::parse_in_scope(xml.as_bytes(), &Limits::default(), &scope)
                == Ok(t.0)
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(Tree) -> bool);
    }

    #[test]
    fn spec_listing_round_trips_to_equal_tree() {
        let src = "<iq type='result' from='pass.jabber.org' to='user@jabber.org/res' id='pass1'><query xmlns='jabber:iq:pass'><server port='43253'>1.2.3.4</server></query></iq>";
        let e = parse_element(src.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(e.to_xml(), src);
        assert_eq!(e.to_xml().to_string(), e.to_xml());
        let _ = vec![0u8];
    }
}
