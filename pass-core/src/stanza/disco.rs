//! XEP-0030 disco#info: what the service answers about itself (DESIGN decision 8),
//! and a reader of disco#info queries and results (for the conformance runner).
use crate::ns;
use crate::xml::Element;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The service's identity category.
pub const IDENTITY_CATEGORY: &str = "proxy";
/// The service's identity type.
pub const IDENTITY_TYPE: &str = "pass";
/// The service's identity name.
pub const IDENTITY_NAME: &str = "PASS relay";
/// The features the service advertises.
pub const FEATURES: [&str; 3] = [ns::DISCO_INFO, ns::PASS, ns::PING];

/// One `<identity/>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `category`
    pub category: String,
    /// `type`
    pub kind: String,
    /// `name`, if given.
    pub name: Option<String>,
}

/// A disco#info `<query/>`: empty in a get, identities and features in a result.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DiscoInfo {
    /// The `node` attribute, if any.
    pub node: Option<String>,
    /// Identities, in document order.
    pub identities: Vec<Identity>,
    /// Feature `var`s, in document order.
    pub features: Vec<String>,
}

/// Why an element is not a disco#info query.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseDiscoError {
    /// Not `{http://jabber.org/protocol/disco#info}query`.
    NotDiscoInfo,
    /// An `<identity/>` without `category` or `type`.
    IncompleteIdentity,
    /// A `<feature/>` without `var`.
    FeatureWithoutVar,
}

impl fmt::Display for ParseDiscoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseDiscoError::NotDiscoInfo => "element is not a disco#info <query/>",
            ParseDiscoError::IncompleteIdentity => "<identity/> lacks category or type",
            ParseDiscoError::FeatureWithoutVar => "<feature/> lacks var",
        })
    }
}

impl core::error::Error for ParseDiscoError {}

impl DiscoInfo {
    /// What a PASS service answers: identity proxy/pass "PASS relay" and the
    /// features disco#info, jabber:iq:pass and urn:xmpp:ping.
    pub fn pass_service() -> DiscoInfo {
        DiscoInfo {
            node: None,
            identities: alloc::vec![Identity {
                category: String::from(IDENTITY_CATEGORY),
                kind: String::from(IDENTITY_TYPE),
                name: Some(String::from(IDENTITY_NAME)),
            }],
            features: FEATURES.iter().map(|f| String::from(*f)).collect(),
        }
    }

    /// Whether `var` is among the features.
    pub fn has_feature(&self, var: &str) -> bool {
        self.features.iter().any(|f| f == var)
    }
}

/// The disco#info result payload of a PASS service.
pub fn pass_service_info() -> Element {
    Element::from(&DiscoInfo::pass_service())
}

/// Whether `payload` is a disco#info query (as carried by a get).
pub fn is_disco_info_query(payload: &Element) -> bool {
    payload.is("query", ns::DISCO_INFO)
}

impl From<&DiscoInfo> for Element {
    fn from(d: &DiscoInfo) -> Element {
        let mut e = Element::new("query", ns::DISCO_INFO);
        if let Some(n) = &d.node {
            e.set_attr("node", n);
        }
        for i in &d.identities {
            let mut id = Element::new("identity", ns::DISCO_INFO)
                .with_attr("category", &i.category)
                .with_attr("type", &i.kind);
            if let Some(n) = &i.name {
                id.set_attr("name", n);
            }
            e = e.with_child(id);
        }
        for f in &d.features {
            e = e.with_child(Element::new("feature", ns::DISCO_INFO).with_attr("var", f));
        }
        e
    }
}

impl TryFrom<&Element> for DiscoInfo {
    type Error = ParseDiscoError;
    /// Reads identities and features; other children (e.g. XEP-0128 forms) are skipped.
    fn try_from(e: &Element) -> Result<DiscoInfo, ParseDiscoError> {
        if !is_disco_info_query(e) {
            return Err(ParseDiscoError::NotDiscoInfo);
        }
        let mut d = DiscoInfo {
            node: e.attr("node").map(String::from),
            ..DiscoInfo::default()
        };
        for c in e.elements().filter(|c| c.namespace == ns::DISCO_INFO) {
            match c.name.as_str() {
                "identity" => match (c.attr("category"), c.attr("type")) {
                    (Some(cat), Some(kind)) => d.identities.push(Identity {
                        category: String::from(cat),
                        kind: String::from(kind),
                        name: c.attr("name").map(String::from),
                    }),
                    _ => return Err(ParseDiscoError::IncompleteIdentity),
                },
                "feature" => d.features.push(String::from(
                    c.attr("var").ok_or(ParseDiscoError::FeatureWithoutVar)?,
                )),
                _ => {}
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_info_round_trips_and_advertises_pass() {
        let e = pass_service_info();
        assert!(is_disco_info_query(&e));
        let d = DiscoInfo::try_from(&e).unwrap();
        assert_eq!(d, DiscoInfo::pass_service());
        assert!(d.has_feature(ns::PASS));
        assert!(d.has_feature(ns::PING));
        assert_eq!(d.identities[0].category, "proxy");
        assert_eq!(d.identities[0].name.as_deref(), Some("PASS relay"));
    }

    #[test]
    fn reads_an_empty_query_and_refuses_broken_ones() {
        let get = Element::new("query", ns::DISCO_INFO);
        assert_eq!(DiscoInfo::try_from(&get), Ok(DiscoInfo::default()));
        assert_eq!(
            DiscoInfo::try_from(&Element::new("query", ns::PASS)),
            Err(ParseDiscoError::NotDiscoInfo)
        );
        let bad = get
            .clone()
            .with_child(Element::new("identity", ns::DISCO_INFO).with_attr("type", "x"));
        assert_eq!(
            DiscoInfo::try_from(&bad),
            Err(ParseDiscoError::IncompleteIdentity)
        );
        let bad = get.with_child(Element::new("feature", ns::DISCO_INFO));
        assert_eq!(
            DiscoInfo::try_from(&bad),
            Err(ParseDiscoError::FeatureWithoutVar)
        );
    }
}
