//! Stanza errors: the legacy `code` attribute (XEP-0086) together with the RFC 6120
//! condition and type.
//!
//! Readers accept either form alone (DESIGN decision 5); the writer always puts both,
//! filling the missing one from the XEP-0086 mapping, e.g.
//! `<error code='404' type='cancel'><item-not-found
//! xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`.
use crate::ns;
use crate::xml::Element;
use alloc::string::{String, ToString};
use core::fmt;

/// The error `type` attribute (RFC 6120 §8.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// `auth`
    Auth,
    /// `cancel`
    Cancel,
    /// `continue`
    Continue,
    /// `modify`
    Modify,
    /// `wait`
    Wait,
}

impl ErrorType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Auth => "auth",
            ErrorType::Cancel => "cancel",
            ErrorType::Continue => "continue",
            ErrorType::Modify => "modify",
            ErrorType::Wait => "wait",
        }
    }

    /// Reads an attribute value (exact, case-sensitive).
    pub fn from_name(s: &str) -> Option<ErrorType> {
        Some(match s {
            "auth" => ErrorType::Auth,
            "cancel" => ErrorType::Cancel,
            "continue" => ErrorType::Continue,
            "modify" => ErrorType::Modify,
            "wait" => ErrorType::Wait,
            _ => return None,
        })
    }
}

/// RFC 6120 §8.3.3 defined conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Condition {
    BadRequest,
    Conflict,
    FeatureNotImplemented,
    Forbidden,
    Gone,
    InternalServerError,
    ItemNotFound,
    JidMalformed,
    NotAcceptable,
    NotAllowed,
    NotAuthorized,
    PolicyViolation,
    RecipientUnavailable,
    Redirect,
    RegistrationRequired,
    RemoteServerNotFound,
    RemoteServerTimeout,
    ResourceConstraint,
    ServiceUnavailable,
    SubscriptionRequired,
    UndefinedCondition,
    UnexpectedRequest,
}

impl Condition {
    /// Every condition, in RFC 6120 order.
    pub const ALL: [Condition; 22] = [
        Condition::BadRequest,
        Condition::Conflict,
        Condition::FeatureNotImplemented,
        Condition::Forbidden,
        Condition::Gone,
        Condition::InternalServerError,
        Condition::ItemNotFound,
        Condition::JidMalformed,
        Condition::NotAcceptable,
        Condition::NotAllowed,
        Condition::NotAuthorized,
        Condition::PolicyViolation,
        Condition::RecipientUnavailable,
        Condition::Redirect,
        Condition::RegistrationRequired,
        Condition::RemoteServerNotFound,
        Condition::RemoteServerTimeout,
        Condition::ResourceConstraint,
        Condition::ServiceUnavailable,
        Condition::SubscriptionRequired,
        Condition::UndefinedCondition,
        Condition::UnexpectedRequest,
    ];

    /// The element name, e.g. `item-not-found`.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::BadRequest => "bad-request",
            Condition::Conflict => "conflict",
            Condition::FeatureNotImplemented => "feature-not-implemented",
            Condition::Forbidden => "forbidden",
            Condition::Gone => "gone",
            Condition::InternalServerError => "internal-server-error",
            Condition::ItemNotFound => "item-not-found",
            Condition::JidMalformed => "jid-malformed",
            Condition::NotAcceptable => "not-acceptable",
            Condition::NotAllowed => "not-allowed",
            Condition::NotAuthorized => "not-authorized",
            Condition::PolicyViolation => "policy-violation",
            Condition::RecipientUnavailable => "recipient-unavailable",
            Condition::Redirect => "redirect",
            Condition::RegistrationRequired => "registration-required",
            Condition::RemoteServerNotFound => "remote-server-not-found",
            Condition::RemoteServerTimeout => "remote-server-timeout",
            Condition::ResourceConstraint => "resource-constraint",
            Condition::ServiceUnavailable => "service-unavailable",
            Condition::SubscriptionRequired => "subscription-required",
            Condition::UndefinedCondition => "undefined-condition",
            Condition::UnexpectedRequest => "unexpected-request",
        }
    }

    /// Reads an element name. `payment-required` (XEP-0086, dropped by RFC 6120)
    /// reads as `not-authorized`, as XEP-0086 maps code 402.
    pub fn from_name(s: &str) -> Option<Condition> {
        if s == "payment-required" {
            return Some(Condition::NotAuthorized);
        }
        Condition::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// The XEP-0086 §"Mapping of Conditions to Codes" legacy code and type.
    ///
    /// `policy-violation` is newer than XEP-0086: it gets 406 `modify` (the code of
    /// `not-acceptable`, its nearest XEP-0086 relative; RFC 6120 gives it `modify`).
    /// `undefined-condition` has no fixed type in XEP-0086: 500 `cancel` is used.
    pub fn legacy(self) -> (u16, ErrorType) {
        use Condition::*;
        use ErrorType::*;
        match self {
            BadRequest => (400, Modify),
            Conflict => (409, Cancel),
            FeatureNotImplemented => (501, Cancel),
            Forbidden => (403, Auth),
            Gone => (302, Modify),
            InternalServerError => (500, Wait),
            ItemNotFound => (404, Cancel),
            JidMalformed => (400, Modify),
            NotAcceptable => (406, Modify),
            NotAllowed => (405, Cancel),
            NotAuthorized => (401, Auth),
            PolicyViolation => (406, Modify),
            RecipientUnavailable => (404, Wait),
            Redirect => (302, Modify),
            RegistrationRequired => (407, Auth),
            RemoteServerNotFound => (404, Cancel),
            RemoteServerTimeout => (504, Wait),
            ResourceConstraint => (500, Wait),
            ServiceUnavailable => (503, Cancel),
            SubscriptionRequired => (407, Auth),
            UndefinedCondition => (500, Cancel),
            UnexpectedRequest => (400, Wait),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stanza error. Readers accept the legacy code alone or the condition alone
/// (DESIGN decision 5); writers always put both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StanzaError {
    /// The legacy `code` attribute (XEP-0086).
    pub code: Option<u16>,
    /// The `type` attribute.
    pub kind: Option<ErrorType>,
    /// The RFC 6120 condition element.
    pub condition: Option<Condition>,
    /// Human-readable `<text/>`.
    pub text: Option<String>,
}

impl StanzaError {
    /// The condition with its XEP-0086 legacy code and RFC 6120 type
    /// (400 bad-request/modify, 401 not-authorized/auth, 404 item-not-found/cancel,
    /// 405 not-allowed/cancel, 502 service-unavailable/wait, ...).
    ///
    /// The code and type come from [`Condition::legacy`]; for service-unavailable
    /// that is 503 `cancel` (use [`PassError::NoPortsAvailable`] for the spec's 502).
    pub fn new(condition: Condition) -> StanzaError {
        let (code, kind) = condition.legacy();
        StanzaError {
            code: Some(code),
            kind: Some(kind),
            condition: Some(condition),
            text: None,
        }
    }

    /// Builder: adds `<text/>`.
    pub fn with_text(mut self, text: &str) -> StanzaError {
        self.text = Some(String::from(text));
        self
    }
}

impl StanzaError {
    /// The XEP-0086 mapping of a legacy code to condition and type
    /// (502 → service-unavailable/wait, 503 → service-unavailable/cancel, ...).
    ///
    /// A code XEP-0086 does not list reads as undefined-condition, `modify` for
    /// 4xx and `wait` for anything else (the code is kept).
    pub fn from_code(code: u16) -> StanzaError {
        use Condition::*;
        use ErrorType::*;
        let (condition, kind) = match code {
            302 => (Redirect, Modify),
            400 => (BadRequest, Modify),
            401 => (NotAuthorized, Auth),
            402 => (NotAuthorized, Auth),
            403 => (Forbidden, Auth),
            404 => (ItemNotFound, Cancel),
            405 => (NotAllowed, Cancel),
            406 => (NotAcceptable, Modify),
            407 => (RegistrationRequired, Auth),
            408 => (RemoteServerTimeout, Wait),
            409 => (Conflict, Cancel),
            500 => (InternalServerError, Wait),
            501 => (FeatureNotImplemented, Cancel),
            502 => (ServiceUnavailable, Wait),
            503 => (ServiceUnavailable, Cancel),
            504 => (RemoteServerTimeout, Wait),
            510 => (ServiceUnavailable, Cancel),
            _ if code / 100 == 4 => (UndefinedCondition, Modify),
            _ => (UndefinedCondition, Wait),
        };
        StanzaError {
            code: Some(code),
            kind: Some(kind),
            condition: Some(condition),
            text: None,
        }
    }

    /// The condition, or the one the legacy code maps to when only the code was given.
    pub fn effective_condition(&self) -> Condition {
        match (self.condition, self.code) {
            (Some(c), _) => c,
            (None, Some(code)) => StanzaError::from_code(code)
                .condition
                .unwrap_or(Condition::UndefinedCondition),
            (None, None) => Condition::UndefinedCondition,
        }
    }

    /// The legacy code, or the one the condition maps to.
    pub fn effective_code(&self) -> u16 {
        match self.code {
            Some(c) => c,
            None => self.effective_condition().legacy().0,
        }
    }

    /// The type, or the one the code (first) or condition maps to.
    pub fn effective_kind(&self) -> ErrorType {
        if let Some(k) = self.kind {
            return k;
        }
        match (self.code, self.condition) {
            (Some(code), _) => StanzaError::from_code(code)
                .kind
                .unwrap_or(ErrorType::Cancel),
            (None, Some(c)) => c.legacy().1,
            (None, None) => ErrorType::Cancel,
        }
    }

    /// The `<error/>` element in namespace `stanza_ns` (the namespace of the stanza
    /// that carries it), with both forms and `<text/>` if any.
    pub fn to_element_in(&self, stanza_ns: &str) -> Element {
        let code = self.effective_code().to_string();
        let mut e = Element::new("error", stanza_ns)
            .with_attr("code", &code)
            .with_attr("type", self.effective_kind().as_str())
            .with_child(Element::new(
                self.effective_condition().as_str(),
                ns::XMPP_STANZAS,
            ));
        if let Some(t) = &self.text {
            e = e.with_child(Element::new("text", ns::XMPP_STANZAS).with_text(t));
        }
        e
    }
}

impl From<&StanzaError> for Element {
    /// The `<error/>` element in `jabber:component:accept`; see
    /// [`StanzaError::to_element_in`].
    fn from(e: &StanzaError) -> Element {
        e.to_element_in(ns::COMPONENT)
    }
}

/// Why an `<error/>` element is not a stanza error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadErrorElement {
    /// The element is not named `error`.
    NotAnError,
    /// The `code` attribute is not a number from 100 to 999.
    BadCode(String),
    /// The `type` attribute is not one of RFC 6120's five.
    BadType(String),
    /// A child in the stanza-errors namespace names no RFC 6120 condition.
    UnknownCondition(String),
    /// More than one condition element.
    SeveralConditions,
    /// Neither a `code` attribute nor a condition element.
    NoCodeOrCondition,
}

impl fmt::Display for BadErrorElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadErrorElement::NotAnError => f.write_str("element is not <error/>"),
            BadErrorElement::BadCode(c) => {
                write!(f, "error code {c:?} is not a number from 100 to 999")
            }
            BadErrorElement::BadType(t) => write!(
                f,
                "error type {t:?} is not one of auth, cancel, continue, modify, wait"
            ),
            BadErrorElement::UnknownCondition(c) => {
                write!(f, "<{c}/> is not an RFC 6120 stanza error condition")
            }
            BadErrorElement::SeveralConditions => {
                f.write_str("<error/> holds more than one condition")
            }
            BadErrorElement::NoCodeOrCondition => {
                f.write_str("<error/> has neither a code attribute nor a condition")
            }
        }
    }
}

impl core::error::Error for BadErrorElement {}

impl TryFrom<&Element> for StanzaError {
    type Error = BadErrorElement;

    /// Reads an `<error/>` (any namespace: the caller picked it out of its stanza).
    /// Elements outside the stanza-errors namespace (application conditions) are
    /// ignored.
    fn try_from(e: &Element) -> Result<StanzaError, BadErrorElement> {
        if e.name != "error" {
            return Err(BadErrorElement::NotAnError);
        }
        let code = match e.attr("code") {
            None => None,
            Some(raw) => match raw.trim().parse::<u16>() {
                Ok(c) if (100..=999).contains(&c) => Some(c),
                _ => return Err(BadErrorElement::BadCode(String::from(raw))),
            },
        };
        let kind = match e.attr("type") {
            None => None,
            Some(raw) => Some(
                ErrorType::from_name(raw)
                    .ok_or_else(|| BadErrorElement::BadType(String::from(raw)))?,
            ),
        };
        let mut condition = None;
        let mut text = None;
        for child in e.elements().filter(|c| c.namespace == ns::XMPP_STANZAS) {
            if child.name == "text" {
                text = Some(child.text());
                continue;
            }
            let c = Condition::from_name(&child.name)
                .ok_or_else(|| BadErrorElement::UnknownCondition(child.name.clone()))?;
            if condition.replace(c).is_some() {
                return Err(BadErrorElement::SeveralConditions);
            }
        }
        if code.is_none() && condition.is_none() {
            return Err(BadErrorElement::NoCodeOrCondition);
        }
        Ok(StanzaError {
            code,
            kind,
            condition,
            text,
        })
    }
}

/// The errors XEP-0003's tables list, with the spec's messages as `<text/>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PassError {
    /// §2 502 "No more ports available. Try again later."
    NoPortsAvailable,
    /// §4.3 400 "Missing `<proxy/>` specification."
    MissingProxy,
    /// §4.3 401 "Port not registered to your JID."
    NotYourPort,
    /// §4.3 404 "Port not found in registry."
    PortNotFound,
    /// §4.3 405 "Proxy IP does not match."
    ProxyIpMismatch,
    /// §5.2 401 "Unauthorized" (an owner denying a connection).
    Unauthorized,
}

impl PassError {
    /// Every error the spec lists.
    pub const ALL: [PassError; 6] = [
        PassError::NoPortsAvailable,
        PassError::MissingProxy,
        PassError::NotYourPort,
        PassError::PortNotFound,
        PassError::ProxyIpMismatch,
        PassError::Unauthorized,
    ];

    /// The spec's message, verbatim.
    pub fn message(self) -> &'static str {
        match self {
            PassError::NoPortsAvailable => "No more ports available. Try again later.",
            PassError::MissingProxy => "Missing <proxy/> specification.",
            PassError::NotYourPort => "Port not registered to your JID.",
            PassError::PortNotFound => "Port not found in registry.",
            PassError::ProxyIpMismatch => "Proxy IP does not match.",
            PassError::Unauthorized => "Unauthorized",
        }
    }

    /// The spec's legacy code with the condition and type of DESIGN decision 5.
    pub fn legacy(self) -> (u16, Condition, ErrorType) {
        match self {
            // 502 is "try again later": service-unavailable/wait (XEP-0086).
            PassError::NoPortsAvailable => (502, Condition::ServiceUnavailable, ErrorType::Wait),
            PassError::MissingProxy => (400, Condition::BadRequest, ErrorType::Modify),
            PassError::NotYourPort => (401, Condition::NotAuthorized, ErrorType::Auth),
            PassError::PortNotFound => (404, Condition::ItemNotFound, ErrorType::Cancel),
            PassError::ProxyIpMismatch => (405, Condition::NotAllowed, ErrorType::Cancel),
            PassError::Unauthorized => (401, Condition::NotAuthorized, ErrorType::Auth),
        }
    }
}

impl fmt::Display for PassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.legacy().0, self.message())
    }
}

impl From<PassError> for StanzaError {
    fn from(e: PassError) -> StanzaError {
        let (code, condition, kind) = e.legacy();
        StanzaError {
            code: Some(code),
            kind: Some(kind),
            condition: Some(condition),
            text: Some(String::from(e.message())),
        }
    }
}

/// A bad-request/modify error whose `<text/>` says what was wrong.
pub(crate) fn bad_request(why: &dyn fmt::Display) -> StanzaError {
    StanzaError::new(Condition::BadRequest).with_text(&why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xep0086_codes_map_both_ways() {
        let cases: &[(u16, Condition, ErrorType)] = &[
            (302, Condition::Redirect, ErrorType::Modify),
            (400, Condition::BadRequest, ErrorType::Modify),
            (401, Condition::NotAuthorized, ErrorType::Auth),
            (402, Condition::NotAuthorized, ErrorType::Auth),
            (403, Condition::Forbidden, ErrorType::Auth),
            (404, Condition::ItemNotFound, ErrorType::Cancel),
            (405, Condition::NotAllowed, ErrorType::Cancel),
            (406, Condition::NotAcceptable, ErrorType::Modify),
            (407, Condition::RegistrationRequired, ErrorType::Auth),
            (408, Condition::RemoteServerTimeout, ErrorType::Wait),
            (409, Condition::Conflict, ErrorType::Cancel),
            (500, Condition::InternalServerError, ErrorType::Wait),
            (501, Condition::FeatureNotImplemented, ErrorType::Cancel),
            (502, Condition::ServiceUnavailable, ErrorType::Wait),
            (503, Condition::ServiceUnavailable, ErrorType::Cancel),
            (504, Condition::RemoteServerTimeout, ErrorType::Wait),
            (510, Condition::ServiceUnavailable, ErrorType::Cancel),
        ];
        for &(code, cond, kind) in cases {
            let e = StanzaError::from_code(code);
            assert_eq!(
                (e.condition, e.kind),
                (Some(cond), Some(kind)),
                "code {code}"
            );
        }
        assert_eq!(
            StanzaError::new(Condition::ServiceUnavailable).code,
            Some(503)
        );
        assert_eq!(
            StanzaError::new(Condition::ResourceConstraint).kind,
            Some(ErrorType::Wait)
        );
        assert_eq!(StanzaError::new(Condition::PolicyViolation).code, Some(406));
        assert_eq!(
            StanzaError::from_code(499).condition,
            Some(Condition::UndefinedCondition)
        );
    }

    #[test]
    fn condition_names_round_trip() {
        for c in Condition::ALL {
            assert_eq!(Condition::from_name(c.as_str()), Some(c));
        }
        assert_eq!(Condition::from_name("nope"), None);
    }

    #[test]
    fn writes_both_forms_and_reads_either() {
        let e = StanzaError::from(PassError::PortNotFound);
        let el = e.to_element_in("jabber:client");
        assert_eq!(el.attr("code"), Some("404"));
        assert_eq!(el.attr("type"), Some("cancel"));
        assert!(el.get_child("item-not-found", ns::XMPP_STANZAS).is_some());
        assert_eq!(
            el.get_child("text", ns::XMPP_STANZAS).map(|t| t.text()),
            Some(String::from("Port not found in registry."))
        );
        assert_eq!(StanzaError::try_from(&el), Ok(e));

        let code_only = Element::new("error", "").with_attr("code", "401");
        let read = StanzaError::try_from(&code_only).unwrap();
        assert_eq!(read.effective_condition(), Condition::NotAuthorized);
        assert_eq!(read.effective_kind(), ErrorType::Auth);
        let cond_only =
            Element::new("error", "").with_child(Element::new("not-allowed", ns::XMPP_STANZAS));
        let read = StanzaError::try_from(&cond_only).unwrap();
        assert_eq!(read.effective_code(), 405);
        let written = read.to_element_in("");
        assert_eq!(written.attr("code"), Some("405"));
        assert_eq!(written.attr("type"), Some("cancel"));
    }

    #[test]
    fn refuses_bad_errors() {
        let bad = |e: Element| StanzaError::try_from(&e).unwrap_err();
        assert_eq!(
            bad(Element::new("error", "")),
            BadErrorElement::NoCodeOrCondition
        );
        assert_eq!(
            bad(Element::new("error", "").with_attr("code", "abc")),
            BadErrorElement::BadCode("abc".into())
        );
        assert_eq!(
            bad(Element::new("error", "").with_attr("code", "4040")),
            BadErrorElement::BadCode("4040".into())
        );
        assert_eq!(
            bad(Element::new("error", "")
                .with_attr("code", "400")
                .with_attr("type", "fatal")),
            BadErrorElement::BadType("fatal".into())
        );
        assert_eq!(
            bad(Element::new("error", "").with_child(Element::new("oops", ns::XMPP_STANZAS))),
            BadErrorElement::UnknownCondition("oops".into())
        );
        assert_eq!(
            bad(Element::new("error", "")
                .with_child(Element::new("gone", ns::XMPP_STANZAS))
                .with_child(Element::new("conflict", ns::XMPP_STANZAS))),
            BadErrorElement::SeveralConditions
        );
    }

    #[test]
    fn pass_errors_carry_the_spec_messages() {
        let e = StanzaError::from(PassError::NoPortsAvailable);
        assert_eq!(e.code, Some(502));
        assert_eq!(e.kind, Some(ErrorType::Wait));
        assert_eq!(e.condition, Some(Condition::ServiceUnavailable));
        assert_eq!(
            e.text.as_deref(),
            Some("No more ports available. Try again later.")
        );
        let e = StanzaError::from(PassError::Unauthorized);
        assert_eq!(
            (e.code, e.text.as_deref()),
            (Some(401), Some("Unauthorized"))
        );
    }
}
