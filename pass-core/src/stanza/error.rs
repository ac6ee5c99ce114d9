//! Stanza errors. (stub: the stanza work item fills this in)
use alloc::string::String;

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
    pub fn new(_condition: Condition) -> StanzaError {
        todo!("stanza work item")
    }

    /// Builder: adds `<text/>`.
    pub fn with_text(self, _text: &str) -> StanzaError {
        todo!("stanza work item")
    }
}

impl StanzaError {
    /// The XEP-0086 mapping of a legacy code to condition and type
    /// (502 → service-unavailable/wait, 503 → service-unavailable/cancel, ...).
    pub fn from_code(_code: u16) -> StanzaError {
        todo!("stanza work item")
    }
}

/// The errors XEP-0003's tables list, with the spec's messages as `<text/>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PassError {
    /// §2 502 "No more ports available. Try again later."
    NoPortsAvailable,
    /// §4.3 400 "Missing <proxy/> specification."
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

impl From<PassError> for StanzaError {
    fn from(_e: PassError) -> StanzaError {
        todo!("stanza work item")
    }
}
