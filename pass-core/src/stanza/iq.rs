//! The IQ envelope (RFC 6120 §8.2.3): id, type, from, to, payload and error.
use crate::jid::{Jid, JidError};
use crate::ns;
use crate::stanza::error::BadErrorElement;
use crate::stanza::StanzaError;
use crate::xml::{Element, Node};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// The four IQ types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IqType {
    /// `get`
    Get,
    /// `set`
    Set,
    /// `result`
    Result,
    /// `error`
    Error,
}

impl IqType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            IqType::Get => "get",
            IqType::Set => "set",
            IqType::Result => "result",
            IqType::Error => "error",
        }
    }

    /// Reads an attribute value (exact, case-sensitive).
    pub fn from_name(s: &str) -> Option<IqType> {
        Some(match s {
            "get" => IqType::Get,
            "set" => IqType::Set,
            "result" => IqType::Result,
            "error" => IqType::Error,
            _ => return None,
        })
    }
}

impl fmt::Display for IqType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IQ stanza. The payload is the first child element that is not `<error/>`
/// (an error IQ may echo the request's payload, as §5.2's deny does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iq {
    /// The `id` attribute (required).
    pub id: String,
    /// The `type` attribute.
    pub kind: IqType,
    /// The `from` attribute.
    pub from: Option<Jid>,
    /// The `to` attribute.
    pub to: Option<Jid>,
    /// The payload element, if any.
    pub payload: Option<Element>,
    /// The `<error/>` child of an error IQ.
    pub error: Option<StanzaError>,
}

/// Why an element is not a well-formed IQ.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseIqError {
    /// Not an `<iq/>` in a stanza namespace (`jabber:component:accept`,
    /// `jabber:client`, `jabber:server` or none).
    NotAnIq,
    /// No `id` attribute.
    MissingId,
    /// No `type` attribute.
    MissingType,
    /// The `type` attribute is not get, set, result or error.
    BadType(String),
    /// `from` or `to` is not a JID.
    BadJid {
        /// `from` or `to`.
        attr: &'static str,
        /// Why.
        error: JidError,
    },
    /// A get/set must carry exactly one payload element, a result at most one;
    /// this many were found.
    PayloadCount(usize),
    /// An `error` IQ without an `<error/>` child.
    ErrorWithoutErrorChild,
    /// More than one `<error/>` child.
    SeveralErrorChildren,
    /// An `<error/>` child in an IQ that is not of type `error`.
    ErrorChildInNonErrorIq,
    /// The `<error/>` child is malformed.
    BadError(BadErrorElement),
    /// Kept from the first API draft; not produced by this reader.
    Other(String),
}

impl fmt::Display for ParseIqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseIqError::NotAnIq => f.write_str("element is not an <iq/> in a stanza namespace"),
            ParseIqError::MissingId => f.write_str("<iq/> has no id attribute"),
            ParseIqError::MissingType => f.write_str("<iq/> has no type attribute"),
            ParseIqError::BadType(t) => {
                write!(f, "<iq/> type {t:?} is not get, set, result or error")
            }
            ParseIqError::BadJid { attr, error } => write!(f, "<iq/> {attr} attribute: {error}"),
            ParseIqError::PayloadCount(n) => write!(
                f,
                "<iq/> carries {n} payload elements (get/set need exactly one, result at most one)"
            ),
            ParseIqError::ErrorWithoutErrorChild => {
                f.write_str("<iq type='error'/> has no <error/> child")
            }
            ParseIqError::SeveralErrorChildren => {
                f.write_str("<iq/> has several <error/> children")
            }
            ParseIqError::ErrorChildInNonErrorIq => {
                f.write_str("<iq/> has an <error/> child but its type is not error")
            }
            ParseIqError::BadError(e) => write!(f, "<iq/> error child: {e}"),
            ParseIqError::Other(s) => f.write_str(s),
        }
    }
}

impl core::error::Error for ParseIqError {}

/// Whether `ns` is a namespace stanzas are found in (listings carry none).
fn is_stanza_namespace(namespace: &str) -> bool {
    matches!(namespace, "" | ns::COMPONENT | ns::CLIENT | ns::SERVER)
}

/// Whether `child` of a stanza in namespace `stanza_ns` is its `<error/>`: in the
/// stanza's own namespace (RFC 6120), or in the stanza-errors namespace (seen from
/// some older software).
fn is_error_child(child: &Element, stanza_ns: &str) -> bool {
    child.name == "error" && (child.namespace == stanza_ns || child.namespace == ns::XMPP_STANZAS)
}

fn jid_attr(e: &Element, attr: &'static str) -> Result<Option<Jid>, ParseIqError> {
    e.attr(attr)
        .map(|v| Jid::new(v).map_err(|error| ParseIqError::BadJid { attr, error }))
        .transpose()
}

impl TryFrom<&Element> for Iq {
    type Error = ParseIqError;
    fn try_from(e: &Element) -> Result<Iq, ParseIqError> {
        if e.name != "iq" || !is_stanza_namespace(&e.namespace) {
            return Err(ParseIqError::NotAnIq);
        }
        let id = e.attr("id").ok_or(ParseIqError::MissingId)?;
        let raw_type = e.attr("type").ok_or(ParseIqError::MissingType)?;
        let kind = IqType::from_name(raw_type)
            .ok_or_else(|| ParseIqError::BadType(String::from(raw_type)))?;
        let from = jid_attr(e, "from")?;
        let to = jid_attr(e, "to")?;

        let mut payloads = 0usize;
        let mut payload = None;
        let mut error_element = None;
        for child in e.elements() {
            if is_error_child(child, &e.namespace) {
                if error_element.replace(child).is_some() {
                    return Err(ParseIqError::SeveralErrorChildren);
                }
            } else {
                payloads += 1;
                if payload.is_none() {
                    payload = Some(child);
                }
            }
        }
        match kind {
            IqType::Get | IqType::Set if payloads != 1 => {
                return Err(ParseIqError::PayloadCount(payloads))
            }
            IqType::Result if payloads > 1 => return Err(ParseIqError::PayloadCount(payloads)),
            _ => {}
        }
        let error = match (kind, error_element) {
            (IqType::Error, None) => return Err(ParseIqError::ErrorWithoutErrorChild),
            (IqType::Error, Some(el)) => {
                Some(StanzaError::try_from(el).map_err(ParseIqError::BadError)?)
            }
            (_, Some(_)) => return Err(ParseIqError::ErrorChildInNonErrorIq),
            (_, None) => None,
        };
        Ok(Iq {
            id: String::from(id),
            kind,
            from,
            to,
            payload: payload.cloned(),
            error,
        })
    }
}

impl From<&Iq> for Element {
    /// Written in `jabber:component:accept`; use `write_in` to omit it in a stream.
    /// Attributes in the order type, id, from, to (absent ones left out); the
    /// payload comes before the `<error/>`.
    fn from(iq: &Iq) -> Element {
        let mut e = Element::new("iq", ns::COMPONENT)
            .with_attr("type", iq.kind.as_str())
            .with_attr("id", &iq.id);
        if let Some(from) = &iq.from {
            e.set_attr("from", &from.to_string());
        }
        if let Some(to) = &iq.to {
            e.set_attr("to", &to.to_string());
        }
        let mut children = Vec::with_capacity(2);
        if let Some(p) = &iq.payload {
            children.push(Node::Element(p.clone()));
        }
        if let Some(err) = &iq.error {
            children.push(Node::Element(err.to_element_in(ns::COMPONENT)));
        }
        e.children = children;
        e
    }
}

impl Iq {
    /// A `result` answering `request` (from/to swapped) with an optional payload.
    pub fn result_for(request: &Iq, payload: Option<Element>) -> Iq {
        Iq {
            id: request.id.clone(),
            kind: IqType::Result,
            from: request.to.clone(),
            to: request.from.clone(),
            payload,
            error: None,
        }
    }

    /// An `error` answering `request` (from/to swapped), echoing no payload.
    pub fn error_for(request: &Iq, error: StanzaError) -> Iq {
        Iq {
            id: request.id.clone(),
            kind: IqType::Error,
            from: request.to.clone(),
            to: request.from.clone(),
            payload: None,
            error: Some(error),
        }
    }

    /// This IQ as an element (`jabber:component:accept`).
    pub fn to_element(&self) -> Element {
        Element::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stanza::{Condition, PassError};

    fn iq(kind: &str) -> Element {
        Element::new("iq", "")
            .with_attr("id", "pass1")
            .with_attr("type", kind)
            .with_attr("to", "pass.jabber.org")
    }

    #[test]
    fn reads_a_set_in_every_stanza_namespace() {
        for stanza_ns in ["", ns::CLIENT, ns::COMPONENT, ns::SERVER] {
            let mut e = iq("set").with_child(Element::new("query", ns::PASS));
            e.namespace = String::from(stanza_ns);
            let read = Iq::try_from(&e).unwrap();
            assert_eq!(read.kind, IqType::Set);
            assert_eq!(read.id, "pass1");
            assert_eq!(read.to, Some(Jid::new("pass.jabber.org").unwrap()));
            assert_eq!(read.from, None);
            assert_eq!(read.payload, Some(Element::new("query", ns::PASS)));
        }
        let mut other = iq("set").with_child(Element::new("query", ns::PASS));
        other.namespace = String::from("urn:other");
        assert_eq!(Iq::try_from(&other), Err(ParseIqError::NotAnIq));
    }

    #[test]
    fn refuses_malformed_envelopes() {
        let q = || Element::new("query", ns::PASS);
        let no_id = Element::new("iq", "")
            .with_attr("type", "get")
            .with_child(q());
        assert_eq!(Iq::try_from(&no_id), Err(ParseIqError::MissingId));
        let no_type = Element::new("iq", "").with_attr("id", "x").with_child(q());
        assert_eq!(Iq::try_from(&no_type), Err(ParseIqError::MissingType));
        assert_eq!(
            Iq::try_from(&iq("put").with_child(q())),
            Err(ParseIqError::BadType("put".into()))
        );
        assert!(matches!(
            Iq::try_from(&iq("get").with_attr("from", "@x").with_child(q())),
            Err(ParseIqError::BadJid { attr: "from", .. })
        ));
        assert_eq!(Iq::try_from(&iq("get")), Err(ParseIqError::PayloadCount(0)));
        assert_eq!(
            Iq::try_from(&iq("set").with_child(q()).with_child(q())),
            Err(ParseIqError::PayloadCount(2))
        );
        assert_eq!(
            Iq::try_from(&iq("result").with_child(q()).with_child(q())),
            Err(ParseIqError::PayloadCount(2))
        );
        assert_eq!(
            Iq::try_from(&iq("error").with_child(q())),
            Err(ParseIqError::ErrorWithoutErrorChild)
        );
        let err = Element::new("error", "").with_attr("code", "401");
        assert_eq!(
            Iq::try_from(&iq("result").with_child(err.clone())),
            Err(ParseIqError::ErrorChildInNonErrorIq)
        );
        assert_eq!(
            Iq::try_from(&iq("error").with_child(err.clone()).with_child(err)),
            Err(ParseIqError::SeveralErrorChildren)
        );
    }

    #[test]
    fn error_iq_keeps_echoed_payload_and_error() {
        let e = iq("error")
            .with_child(Element::new("query", ns::PASS))
            .with_child(
                Element::new("error", "")
                    .with_attr("code", "401")
                    .with_attr("type", "auth")
                    .with_child(Element::new("not-authorized", ns::XMPP_STANZAS)),
            );
        let read = Iq::try_from(&e).unwrap();
        assert_eq!(read.payload, Some(Element::new("query", ns::PASS)));
        let err = read.error.clone().unwrap();
        assert_eq!(err.condition, Some(Condition::NotAuthorized));
        let written = Element::from(&read);
        assert_eq!(Iq::try_from(&written).unwrap(), read);
    }

    #[test]
    fn answers_swap_addresses_and_keep_id() {
        let req = Iq::try_from(
            &iq("set")
                .with_attr("from", "u@h/r")
                .with_child(Element::new("query", ns::PASS)),
        )
        .unwrap();
        let res = Iq::result_for(&req, None);
        assert_eq!((res.id.as_str(), res.kind), ("pass1", IqType::Result));
        assert_eq!(res.from, req.to);
        assert_eq!(res.to, req.from);
        let err = Iq::error_for(&req, PassError::NoPortsAvailable.into());
        assert_eq!(err.kind, IqType::Error);
        assert_eq!(err.payload, None);
        assert_eq!(err.to, req.from);
        let el = Element::from(&err);
        assert_eq!(el.namespace, ns::COMPONENT);
        assert_eq!(el.attr("type"), Some("error"));
        assert_eq!(Iq::try_from(&el).unwrap(), err);
    }
}
