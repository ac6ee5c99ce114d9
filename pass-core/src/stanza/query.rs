//! The schema level: `{jabber:iq:pass}query` and its six child kinds, exactly as
//! `xsd/pass-errata.xsd` allows (the XEP's schema with port as `xs:unsignedShort`
//! from 1 and an `<expire/>` that may be empty).
//!
//! Duplicates and any order are allowed here, as in the XSD (an unbounded choice);
//! the protocol level ([`super::pass`]) decides which combinations mean something.
use crate::ns;
use crate::xml::{is_xml_whitespace, Element, Node};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// The XSD's `PassEntity`: an NMTOKEN (an IP in practice) with an optional port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassEntity {
    /// The element text (an `xs:NMTOKEN`).
    pub host: String,
    /// The `port` attribute (1–65535; the errata widen the XSD's `xs:short`).
    pub port: Option<u16>,
}

/// One child of `<query xmlns='jabber:iq:pass'/>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryItem {
    /// `<client/>`
    Client(PassEntity),
    /// `<close/>`
    Close,
    /// `<expire/>`: seconds, or empty (as in the notices; errata).
    Expire(Option<u64>),
    /// `<oneshot/>`
    Oneshot,
    /// `<proxy/>`
    Proxy(PassEntity),
    /// `<server/>`
    Server(PassEntity),
}

impl QueryItem {
    /// The element's local name.
    pub fn name(&self) -> &'static str {
        match self {
            QueryItem::Client(_) => "client",
            QueryItem::Close => "close",
            QueryItem::Expire(_) => "expire",
            QueryItem::Oneshot => "oneshot",
            QueryItem::Proxy(_) => "proxy",
            QueryItem::Server(_) => "server",
        }
    }
}

/// `{jabber:iq:pass}query`: its children in document order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Query {
    /// The children, in order.
    pub items: Vec<QueryItem>,
}

/// Why an element is not a valid query.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseQueryError {
    /// The element is not `{jabber:iq:pass}query`.
    NotAQuery {
        /// Its local name.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// `<query/>` carries an attribute (the XSD declares none).
    AttributeOnQuery(String),
    /// `<query/>` holds text other than whitespace.
    TextInQuery(String),
    /// A child that is not one of the six, or not in `jabber:iq:pass`.
    UnknownChild {
        /// Its local name.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// An attribute the XSD does not declare on this child (only `port`, on
    /// client/proxy/server).
    UnexpectedAttribute {
        /// The child.
        element: &'static str,
        /// The attribute's local name.
        attr: String,
    },
    /// `<close/>` or `<oneshot/>` with text or children (their type is the empty string).
    NotEmpty(&'static str),
    /// A child element inside a simple-content child (client, proxy, server, expire).
    ElementInSimpleContent(&'static str),
    /// `<expire/>` text is neither empty nor an `xs:unsignedLong`.
    BadExpire(String),
    /// The host text of client/proxy/server is empty.
    EmptyHost(&'static str),
    /// The host text is not an `xs:NMTOKEN`.
    BadHost {
        /// The child.
        element: &'static str,
        /// The text as given.
        text: String,
    },
    /// The `port` attribute is not an integer from 1 to 65535.
    BadPort {
        /// The child.
        element: &'static str,
        /// The value as given.
        value: String,
    },
    /// Kept from the first API draft; not produced by this reader.
    Other(String),
}

impl fmt::Display for ParseQueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ParseQueryError::*;
        match self {
            NotAQuery { name, namespace } => write!(
                f,
                "expected <query xmlns='jabber:iq:pass'/>, found <{name}/> in namespace {namespace:?}"
            ),
            AttributeOnQuery(a) => write!(f, "<query/> must not carry attribute {a:?}"),
            TextInQuery(t) => write!(f, "<query/> must not hold text, found {t:?}"),
            UnknownChild { name, namespace } => write!(
                f,
                "<{name}/> in namespace {namespace:?} is not a child of <query/> \
                 (client, close, expire, oneshot, proxy, server in jabber:iq:pass)"
            ),
            UnexpectedAttribute { element, attr } => {
                write!(f, "<{element}/> must not carry attribute {attr:?}")
            }
            NotEmpty(e) => write!(f, "<{e}/> must be empty"),
            ElementInSimpleContent(e) => write!(f, "<{e}/> must not hold child elements"),
            BadExpire(t) => write!(
                f,
                "<expire/> must be empty or a number of seconds (0 to 18446744073709551615), found {t:?}"
            ),
            EmptyHost(e) => write!(f, "<{e}/> must hold a host, found nothing"),
            BadHost { element, text } => {
                write!(f, "<{element}/> host {text:?} is not an XML NMTOKEN")
            }
            BadPort { element, value } => write!(
                f,
                "<{element}/> port {value:?} is not a number from 1 to 65535"
            ),
            Other(s) => f.write_str(s),
        }
    }
}

impl core::error::Error for ParseQueryError {}

/// XSD whitespace "collapse" for a single token: trims XML whitespace; `None`
/// when inner whitespace remains (no token of a numeric type or NMTOKEN has any).
fn collapse_token(s: &str) -> Option<&str> {
    let t = s.trim_matches(is_xml_whitespace);
    if t.contains(is_xml_whitespace) {
        None
    } else {
        Some(t)
    }
}

/// Reads an `xs:unsignedLong` / `xs:unsignedShort` lexical form: decimal digits
/// only (XSD 1.0 gives unsigned types no sign), leading zeros allowed.
fn parse_xsd_unsigned(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok()
}

/// XML 1.0 (5th ed.) NameChar.
fn is_name_char(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z' | '-' | '.' | '0'..='9'
        | '\u{B7}'
        // 0x300-0x36F (combining marks, a NameChar range) lies inside 0xF8-0x37D.
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{203F}'..='\u{2040}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// Whether `s` is an `xs:NMTOKEN` (after whitespace collapse).
pub fn is_nmtoken(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_name_char)
}

fn text_only(e: &Element, name: &'static str) -> Result<String, ParseQueryError> {
    if e.elements().next().is_some() {
        return Err(ParseQueryError::ElementInSimpleContent(name));
    }
    Ok(e.text())
}

fn parse_entity(e: &Element, name: &'static str) -> Result<PassEntity, ParseQueryError> {
    let mut port = None;
    for a in &e.attributes {
        if a.name == "port" && a.namespace.is_empty() {
            let bad = || ParseQueryError::BadPort {
                element: name,
                value: a.value.clone(),
            };
            // No whitespace around the value: libxml2 refuses it in attributes.
            let n = parse_xsd_unsigned(&a.value).ok_or_else(bad)?;
            port = Some(u16::try_from(n).ok().filter(|p| *p != 0).ok_or_else(bad)?);
        } else {
            return Err(ParseQueryError::UnexpectedAttribute {
                element: name,
                attr: a.name.clone(),
            });
        }
    }
    let text = text_only(e, name)?;
    let host = match collapse_token(&text) {
        Some("") => return Err(ParseQueryError::EmptyHost(name)),
        Some(h) if is_nmtoken(h) => String::from(h),
        _ => {
            return Err(ParseQueryError::BadHost {
                element: name,
                text,
            })
        }
    };
    Ok(PassEntity { host, port })
}

/// Whether an element has no content at all (no text, no children).
fn has_no_content(e: &Element) -> bool {
    e.children.iter().all(|n| match n {
        Node::Text(t) => t.is_empty(),
        Node::Element(_) => false,
    })
}

fn no_attributes(e: &Element, name: &'static str) -> Result<(), ParseQueryError> {
    match e.attributes.first() {
        Some(a) => Err(ParseQueryError::UnexpectedAttribute {
            element: name,
            attr: a.name.clone(),
        }),
        None => Ok(()),
    }
}

fn parse_empty(e: &Element, name: &'static str) -> Result<(), ParseQueryError> {
    no_attributes(e, name)?;
    if has_no_content(e) {
        Ok(())
    } else {
        Err(ParseQueryError::NotEmpty(name))
    }
}

fn parse_expire(e: &Element) -> Result<Option<u64>, ParseQueryError> {
    no_attributes(e, "expire")?;
    let text = text_only(e, "expire")?;
    if text.chars().all(is_xml_whitespace) {
        return Ok(None);
    }
    // Element content collapses whitespace (libxml2 agrees).
    collapse_token(&text)
        .and_then(parse_xsd_unsigned)
        .map(Some)
        .ok_or(ParseQueryError::BadExpire(text))
}

fn parse_item(e: &Element) -> Result<QueryItem, ParseQueryError> {
    if e.namespace != ns::PASS {
        return Err(ParseQueryError::UnknownChild {
            name: e.name.clone(),
            namespace: e.namespace.clone(),
        });
    }
    Ok(match e.name.as_str() {
        "client" => QueryItem::Client(parse_entity(e, "client")?),
        "close" => {
            parse_empty(e, "close")?;
            QueryItem::Close
        }
        "expire" => QueryItem::Expire(parse_expire(e)?),
        "oneshot" => {
            parse_empty(e, "oneshot")?;
            QueryItem::Oneshot
        }
        "proxy" => QueryItem::Proxy(parse_entity(e, "proxy")?),
        "server" => QueryItem::Server(parse_entity(e, "server")?),
        _ => {
            return Err(ParseQueryError::UnknownChild {
                name: e.name.clone(),
                namespace: e.namespace.clone(),
            })
        }
    })
}

impl TryFrom<&Element> for Query {
    type Error = ParseQueryError;
    fn try_from(e: &Element) -> Result<Query, ParseQueryError> {
        if !e.is("query", ns::PASS) {
            return Err(ParseQueryError::NotAQuery {
                name: e.name.clone(),
                namespace: e.namespace.clone(),
            });
        }
        if let Some(a) = e.attributes.first() {
            return Err(ParseQueryError::AttributeOnQuery(a.name.clone()));
        }
        let mut items = Vec::new();
        for node in &e.children {
            match node {
                Node::Element(child) => items.push(parse_item(child)?),
                Node::Text(t) if t.chars().all(is_xml_whitespace) => {}
                Node::Text(t) => return Err(ParseQueryError::TextInQuery(t.clone())),
            }
        }
        Ok(Query { items })
    }
}

impl PassEntity {
    /// An entity with a host and an optional port.
    pub fn new(host: &str, port: Option<u16>) -> PassEntity {
        PassEntity {
            host: String::from(host),
            port,
        }
    }

    fn to_element(&self, name: &str) -> Element {
        let mut e = Element::new(name, ns::PASS);
        if let Some(p) = self.port {
            e.set_attr("port", &p.to_string());
        }
        e.with_text(&self.host)
    }
}

impl From<&QueryItem> for Element {
    fn from(item: &QueryItem) -> Element {
        match item {
            QueryItem::Client(p) | QueryItem::Proxy(p) | QueryItem::Server(p) => {
                p.to_element(item.name())
            }
            QueryItem::Expire(Some(n)) => {
                Element::new("expire", ns::PASS).with_text(&n.to_string())
            }
            QueryItem::Expire(None) | QueryItem::Close | QueryItem::Oneshot => {
                Element::new(item.name(), ns::PASS)
            }
        }
    }
}

impl From<&Query> for Element {
    fn from(q: &Query) -> Element {
        let mut e = Element::new("query", ns::PASS);
        e.children = q
            .items
            .iter()
            .map(|i| Node::Element(Element::from(i)))
            .collect();
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(children: &[Element]) -> Element {
        let mut e = Element::new("query", ns::PASS);
        for c in children {
            e = e.with_child(c.clone());
        }
        e
    }
    fn c(name: &str) -> Element {
        Element::new(name, ns::PASS)
    }
    fn read(children: &[Element]) -> Result<Query, ParseQueryError> {
        Query::try_from(&q(children))
    }

    #[test]
    fn reads_every_child_kind_and_writes_back() {
        let e = q(&[
            c("client").with_attr("port", "1234").with_text("4.3.2.1"),
            c("close"),
            c("expire").with_text(" 0600 "),
            c("expire"),
            c("oneshot"),
            c("proxy").with_attr("port", "65535").with_text("::1"),
            c("server").with_text("\n 1.2.3.4 \n"),
        ]);
        let query = Query::try_from(&e).unwrap();
        assert_eq!(
            query.items,
            [
                QueryItem::Client(PassEntity::new("4.3.2.1", Some(1234))),
                QueryItem::Close,
                QueryItem::Expire(Some(600)),
                QueryItem::Expire(None),
                QueryItem::Oneshot,
                QueryItem::Proxy(PassEntity::new("::1", Some(65535))),
                QueryItem::Server(PassEntity::new("1.2.3.4", None)),
            ]
        );
        let written = Element::from(&query);
        assert_eq!(Query::try_from(&written).unwrap(), query);
        assert_eq!(
            written.elements().nth(2).map(|e| e.text()),
            Some(String::from("600"))
        );
    }

    #[test]
    fn refuses_bad_ports() {
        for bad in ["0", "65536", "-1", "+1", " 1", "text", "", "1 2", "12a"] {
            assert_eq!(
                read(&[c("proxy").with_attr("port", bad).with_text("1.2.3.4")]),
                Err(ParseQueryError::BadPort {
                    element: "proxy",
                    value: bad.into()
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_bad_expire_and_hosts() {
        for bad in ["-1", "+1", "-0", "ten", "18446744073709551616", "1 0", "+"] {
            assert_eq!(
                read(&[c("expire").with_text(bad)]),
                Err(ParseQueryError::BadExpire(bad.into()))
            );
        }
        assert_eq!(
            read(&[c("expire").with_text(" 18446744073709551615 ")]),
            Ok(Query {
                items: alloc::vec![QueryItem::Expire(Some(u64::MAX))]
            })
        );
        assert_eq!(
            read(&[c("server")]),
            Err(ParseQueryError::EmptyHost("server"))
        );
        assert_eq!(
            read(&[c("client").with_text("a b")]),
            Err(ParseQueryError::BadHost {
                element: "client",
                text: "a b".into()
            })
        );
        assert_eq!(
            read(&[c("client").with_text("fe80::1%eth0")]),
            Err(ParseQueryError::BadHost {
                element: "client",
                text: "fe80::1%eth0".into()
            })
        );
    }

    #[test]
    fn refuses_structure_the_xsd_refuses() {
        assert_eq!(
            read(&[Element::new("expire", "jabber:client")]),
            Err(ParseQueryError::UnknownChild {
                name: "expire".into(),
                namespace: "jabber:client".into()
            })
        );
        assert!(matches!(
            read(&[c("bogus")]),
            Err(ParseQueryError::UnknownChild { .. })
        ));
        assert_eq!(
            read(&[c("close").with_text(" ")]),
            Err(ParseQueryError::NotEmpty("close"))
        );
        assert_eq!(
            read(&[c("oneshot").with_child(c("close"))]),
            Err(ParseQueryError::NotEmpty("oneshot"))
        );
        assert_eq!(
            read(&[c("oneshot").with_attr("x", "1")]),
            Err(ParseQueryError::UnexpectedAttribute {
                element: "oneshot",
                attr: "x".into()
            })
        );
        assert_eq!(
            read(&[c("server").with_attr("host", "1").with_text("h")]),
            Err(ParseQueryError::UnexpectedAttribute {
                element: "server",
                attr: "host".into()
            })
        );
        assert_eq!(
            read(&[c("server").with_child(c("close"))]),
            Err(ParseQueryError::ElementInSimpleContent("server"))
        );
        assert_eq!(
            Query::try_from(&q(&[]).with_attr("a", "b")),
            Err(ParseQueryError::AttributeOnQuery("a".into()))
        );
        assert_eq!(
            Query::try_from(&q(&[]).with_text("x")),
            Err(ParseQueryError::TextInQuery("x".into()))
        );
        assert!(matches!(
            Query::try_from(&Element::new("query", "jabber:iq:register")),
            Err(ParseQueryError::NotAQuery { .. })
        ));
    }
}
