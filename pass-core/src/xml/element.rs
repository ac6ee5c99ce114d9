//! The element tree the reader produces and the writer consumes.

use alloc::string::String;
use alloc::vec::Vec;

/// An XML element with its namespace resolved.
///
/// `name` is the local name; `namespace` is the namespace URI in scope for it (empty
/// when none is). Namespace declarations (`xmlns`, `xmlns:p`) are not kept as
/// attributes: the writer re-declares what it needs. Prefixes are not kept either:
/// two documents that differ only in prefixes give equal trees.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Element {
    /// Local name, without prefix.
    pub name: String,
    /// Namespace URI of the element; empty for no namespace.
    pub namespace: String,
    /// Attributes other than namespace declarations, in document order.
    pub attributes: Vec<Attribute>,
    /// Child nodes in document order. Adjacent text is merged into one node.
    pub children: Vec<Node>,
}

/// One attribute. Unprefixed attributes are in no namespace (XML Namespaces §6.2);
/// a prefixed one keeps its resolved namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Local name, without prefix.
    pub name: String,
    /// Namespace URI; empty for unprefixed attributes. `xml:lang` has
    /// [`ns::XML`](crate::ns::XML).
    pub namespace: String,
    /// The value, unescaped.
    pub value: String,
}

/// A child of an element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data, unescaped (entities and CDATA resolved).
    Text(String),
}

impl Element {
    /// An element with no attributes and no children.
    pub fn new(name: &str, namespace: &str) -> Element {
        Element {
            name: String::from(name),
            namespace: String::from(namespace),
            attributes: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Builder: adds an unprefixed attribute.
    pub fn with_attr(mut self, name: &str, value: &str) -> Element {
        self.set_attr(name, value);
        self
    }

    /// Builder: appends a child element.
    pub fn with_child(mut self, child: Element) -> Element {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: appends text.
    pub fn with_text(mut self, text: &str) -> Element {
        self.children.push(Node::Text(String::from(text)));
        self
    }

    /// Sets (or replaces) an unprefixed attribute.
    pub fn set_attr(&mut self, name: &str, value: &str) {
        match self
            .attributes
            .iter_mut()
            .find(|a| a.name == name && a.namespace.is_empty())
        {
            Some(a) => a.value = String::from(value),
            None => self.attributes.push(Attribute {
                name: String::from(name),
                namespace: String::new(),
                value: String::from(value),
            }),
        }
    }

    /// The value of an unprefixed attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name && a.namespace.is_empty())
            .map(|a| a.value.as_str())
    }

    /// Whether this element has the given local name and namespace.
    pub fn is(&self, name: &str, namespace: &str) -> bool {
        self.name == name && self.namespace == namespace
    }

    /// Child elements, skipping text.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name and namespace.
    pub fn get_child(&self, name: &str, namespace: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(name, namespace))
    }

    /// All text directly inside this element, concatenated.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// Whether the element has no child elements and only whitespace text.
    pub fn is_empty_of_content(&self) -> bool {
        self.children.iter().all(|n| match n {
            Node::Element(_) => false,
            Node::Text(t) => t.chars().all(super::is_xml_whitespace),
        })
    }
}
