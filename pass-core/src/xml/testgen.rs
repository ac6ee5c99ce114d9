//! Quickcheck generators shared by the reader, writer and framer tests.
use super::{Attribute, Element, Node};
use crate::ns;
use alloc::string::String;
use quickcheck::{Arbitrary, Gen};

/// An element tree the reader can give back: merged, non-empty text; names that are
/// XML names; unique attributes; awkward characters everywhere.
#[derive(Clone, Debug)]
pub struct Tree(pub Element);

const NAMES: &[&str] = &["a", "iq", "query", "x-y", "n.1", "été", "_", "ß9"];
const NAMESPACES: &[&str] = &["", "jabber:iq:pass", "urn:a", "urn:'q\"&<>", ns::XML];
const ATTR_NAMESPACES: &[&str] = &["", "", ns::XML, "urn:p", "urn:&'\"\t"];
const PIECES: &[&str] = &[
    "&",
    "<",
    ">",
    "'",
    "\"",
    "]]>",
    "]",
    "\r\n",
    "\r",
    "\n",
    "\t",
    " ",
    "é",
    "\u{1F600}",
    "\u{FFFD}",
    "text",
];

pub fn awkward(g: &mut Gen) -> String {
    let mut s = String::new();
    for _ in 0..usize::arbitrary(g) % 6 {
        if bool::arbitrary(g) {
            s.push_str(g.choose(PIECES).copied().unwrap_or(""));
        } else {
            let c = char::arbitrary(g);
            if crate::xml::reader::is_xml_char(c) {
                s.push(c);
            }
        }
    }
    s
}

pub fn tree(g: &mut Gen, depth: usize) -> Element {
    let mut e = Element::new(
        g.choose(NAMES).copied().unwrap_or("a"),
        g.choose(NAMESPACES).copied().unwrap_or(""),
    );
    for _ in 0..usize::arbitrary(g) % 4 {
        let name = *g.choose(NAMES).unwrap_or(&"a");
        let namespace = *g.choose(ATTR_NAMESPACES).unwrap_or(&"");
        if !e
            .attributes
            .iter()
            .any(|a| a.name == name && a.namespace == namespace)
        {
            e.attributes.push(Attribute {
                name: name.into(),
                namespace: namespace.into(),
                value: awkward(g),
            });
        }
    }
    if depth > 0 {
        for _ in 0..usize::arbitrary(g) % 4 {
            if bool::arbitrary(g) {
                let t = awkward(g);
                match e.children.last_mut() {
                    Some(Node::Text(prev)) => prev.push_str(&t),
                    _ if t.is_empty() => {}
                    _ => e.children.push(Node::Text(t)),
                }
            } else {
                e.children.push(Node::Element(tree(g, depth - 1)));
            }
        }
    }
    e
}

impl Arbitrary for Tree {
    fn arbitrary(g: &mut Gen) -> Self {
        Tree(tree(g, 4))
    }
}
