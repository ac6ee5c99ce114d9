//! Stream errors (RFC 6120 §4.9): the condition an entity names before cutting a
//! stream, typed, read from and written to `<stream:error/>`.

use crate::ns;
use crate::xml::{Element, XmlError, STREAM_CLOSE};
use alloc::string::String;
use core::fmt;

/// Declares the conditions once: the enum, [`StreamErrorCondition::ALL`] and the
/// element names.
macro_rules! conditions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The defined stream error conditions (RFC 6120 §4.9.3).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum StreamErrorCondition {
            $($(#[$doc])* $variant,)*
        }

        impl StreamErrorCondition {
            /// Every condition, in RFC order.
            pub const ALL: &'static [StreamErrorCondition] = &[$(Self::$variant,)*];

            /// The element name of the condition.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }
    };
}

conditions! {
    /// `bad-format` (§4.9.3.1).
    BadFormat => "bad-format",
    /// `bad-namespace-prefix` (§4.9.3.2).
    BadNamespacePrefix => "bad-namespace-prefix",
    /// `conflict` (§4.9.3.3).
    Conflict => "conflict",
    /// `connection-timeout` (§4.9.3.4).
    ConnectionTimeout => "connection-timeout",
    /// `host-gone` (§4.9.3.5).
    HostGone => "host-gone",
    /// `host-unknown` (§4.9.3.6).
    HostUnknown => "host-unknown",
    /// `improper-addressing` (§4.9.3.7).
    ImproperAddressing => "improper-addressing",
    /// `internal-server-error` (§4.9.3.8).
    InternalServerError => "internal-server-error",
    /// `invalid-from` (§4.9.3.9).
    InvalidFrom => "invalid-from",
    /// `invalid-namespace` (§4.9.3.10).
    InvalidNamespace => "invalid-namespace",
    /// `invalid-xml` (§4.9.3.11).
    InvalidXml => "invalid-xml",
    /// `not-authorized` (§4.9.3.12): in XEP-0114, a wrong handshake.
    NotAuthorized => "not-authorized",
    /// `not-well-formed` (§4.9.3.13).
    NotWellFormed => "not-well-formed",
    /// `policy-violation` (§4.9.3.14).
    PolicyViolation => "policy-violation",
    /// `remote-connection-failed` (§4.9.3.15).
    RemoteConnectionFailed => "remote-connection-failed",
    /// `reset` (§4.9.3.16).
    Reset => "reset",
    /// `resource-constraint` (§4.9.3.17).
    ResourceConstraint => "resource-constraint",
    /// `restricted-xml` (§4.9.3.18).
    RestrictedXml => "restricted-xml",
    /// `see-other-host` (§4.9.3.19); the host it names is not kept.
    SeeOtherHost => "see-other-host",
    /// `system-shutdown` (§4.9.3.20).
    SystemShutdown => "system-shutdown",
    /// `undefined-condition` (§4.9.3.21): also what an unknown or missing
    /// condition reads as.
    UndefinedCondition => "undefined-condition",
    /// `unsupported-encoding` (§4.9.3.22).
    UnsupportedEncoding => "unsupported-encoding",
    /// `unsupported-feature` (§4.9.3.23).
    UnsupportedFeature => "unsupported-feature",
    /// `unsupported-stanza-type` (§4.9.3.24).
    UnsupportedStanzaType => "unsupported-stanza-type",
    /// `unsupported-version` (§4.9.3.25).
    UnsupportedVersion => "unsupported-version",
}

impl StreamErrorCondition {
    /// The condition an element name stands for, if RFC 6120 defines it.
    pub fn from_name(name: &str) -> Option<StreamErrorCondition> {
        Self::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for StreamErrorCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The condition for XML a stream reader refused. The framer cannot resynchronise
/// after an error, so such XML cuts the stream (RFC 6120 §4.9.1.1): forbidden
/// constructs are `restricted-xml`, a broken limit `policy-violation`, bytes that are
/// not UTF-8 `unsupported-encoding`, anything else `not-well-formed`.
impl From<&XmlError> for StreamErrorCondition {
    fn from(e: &XmlError) -> Self {
        match e {
            XmlError::Forbidden(_) | XmlError::UndeclaredEntity(_) => Self::RestrictedXml,
            XmlError::LimitExceeded(_) => Self::PolicyViolation,
            XmlError::InvalidUtf8 { .. } => Self::UnsupportedEncoding,
            _ => Self::NotWellFormed,
        }
    }
}

/// A `<stream:error/>`: its condition and optional human-readable text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The condition.
    pub condition: StreamErrorCondition,
    /// The `<text/>`, if any (never empty).
    pub text: Option<String>,
}

impl StreamError {
    /// An error with `condition` and no text.
    pub fn new(condition: StreamErrorCondition) -> Self {
        StreamError {
            condition,
            text: None,
        }
    }

    /// The same error with a `<text/>` (an empty one is left out).
    pub fn with_text(mut self, text: &str) -> Self {
        self.text = Some(String::from(text)).filter(|t| !t.is_empty());
        self
    }

    /// Reads the `<stream:error/>` a [`StreamFramer`](crate::xml::StreamFramer)
    /// yields: the first child in the stream-errors namespace other than `<text/>`
    /// is the condition; an unknown or missing one reads as `undefined-condition`
    /// (RFC 6120 §4.9.3.21), and the children in other namespaces (application
    /// conditions) are ignored.
    pub fn from_element(e: &Element) -> Self {
        let children = || e.elements().filter(|c| c.namespace == ns::XMPP_STREAMS);
        let condition = children()
            .find(|c| c.name != "text")
            .and_then(|c| StreamErrorCondition::from_name(&c.name))
            .unwrap_or(StreamErrorCondition::UndefinedCondition);
        let text = children()
            .find(|c| c.name == "text")
            .map(|t| t.text())
            .filter(|t| !t.is_empty());
        StreamError { condition, text }
    }

    /// `<stream:error>` with the condition and the text, as written inside a stream
    /// whose header declared the `stream` prefix.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<stream:error>");
        Element::new(self.condition.as_str(), ns::XMPP_STREAMS).write_to(&mut out);
        if let Some(t) = &self.text {
            Element::new("text", ns::XMPP_STREAMS)
                .with_text(t)
                .write_to(&mut out);
        }
        out.push_str("</stream:error>");
        out
    }

    /// [`to_xml`](Self::to_xml) followed by the stream close: what an entity sends
    /// before cutting a stream (RFC 6120 §4.9.1.1).
    pub fn to_xml_closing(&self) -> String {
        let mut out = self.to_xml();
        out.push_str(STREAM_CLOSE);
        out
    }
}

/// The condition, and the text in parentheses (`host-unknown (no such domain)`).
impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.condition.as_str())?;
        if let Some(t) = &self.text {
            write!(f, " ({t})")?;
        }
        Ok(())
    }
}

impl core::error::Error for StreamError {}

/// What a stream reader sends when it refuses XML: the condition for the error and
/// the error's description as text.
impl From<&XmlError> for StreamError {
    fn from(e: &XmlError) -> Self {
        StreamError::new(e.into()).with_text(&alloc::string::ToString::to_string(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse_element, ForbiddenConstruct, Limit, Limits};
    use alloc::format;

    /// A `<stream:error/>` as it arrives inside a stream.
    fn read(xml: &str) -> StreamError {
        let wrapped = format!(
            "<stream:stream xmlns:stream='{}'>{xml}</stream:stream>",
            ns::STREAM
        );
        let stream = parse_element(wrapped.as_bytes(), &Limits::default()).unwrap();
        let error = StreamError::from_element(stream.elements().next().unwrap());
        error
    }

    #[test]
    fn every_condition_round_trips_through_its_element() {
        for &c in StreamErrorCondition::ALL {
            assert_eq!(StreamErrorCondition::from_name(c.as_str()), Some(c));
            let e = StreamError::new(c).with_text("why");
            assert_eq!(read(&e.to_xml()), e, "{c}");
            assert_eq!(read(&StreamError::new(c).to_xml()), StreamError::new(c));
        }
        assert_eq!(StreamErrorCondition::from_name("text"), None);
    }

    #[test]
    fn writes_the_condition_and_escaped_text_then_closes() {
        let e =
            StreamError::new(StreamErrorCondition::RestrictedXml).with_text("no <!DOCTYPE> & co");
        assert_eq!(
            e.to_xml_closing(),
            "<stream:error><restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no &lt;!DOCTYPE&gt; &amp; co</text>\
             </stream:error></stream:stream>"
        );
        assert_eq!(
            StreamError::new(StreamErrorCondition::NotAuthorized).to_xml_closing(),
            "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
             </stream:error></stream:stream>"
        );
        assert_eq!(
            StreamError::new(StreamErrorCondition::Reset)
                .with_text("")
                .text,
            None
        );
    }

    #[test]
    fn unknown_missing_and_foreign_conditions_read_as_undefined() {
        let s = ns::XMPP_STREAMS;
        let undefined = StreamErrorCondition::UndefinedCondition;
        assert_eq!(
            read(&format!(
                "<stream:error><gone-fishing xmlns='{s}'/></stream:error>"
            ))
            .condition,
            undefined
        );
        assert_eq!(read("<stream:error/>").condition, undefined);
        assert_eq!(
            read("<stream:error><conflict xmlns='urn:other'/></stream:error>").condition,
            undefined
        );
        // An application condition beside a defined one does not hide it.
        let e = read(&format!(
            "<stream:error><escape-your-data xmlns='urn:app'/><conflict xmlns='{s}'/>\
             <text xmlns='{s}'>bad secret</text></stream:error>"
        ));
        assert_eq!(e.condition, StreamErrorCondition::Conflict);
        assert_eq!(format!("{e}"), "conflict (bad secret)");
    }

    #[test]
    fn xml_errors_map_to_rfc_6120_conditions() {
        use StreamErrorCondition::*;
        let cases = [
            (XmlError::Forbidden(ForbiddenConstruct::Dtd), RestrictedXml),
            (XmlError::UndeclaredEntity("xxe".into()), RestrictedXml),
            (XmlError::LimitExceeded(Limit::StanzaBytes), PolicyViolation),
            (XmlError::InvalidUtf8 { offset: 3 }, UnsupportedEncoding),
            (XmlError::Truncated, NotWellFormed),
            (XmlError::UndeclaredPrefix("p".into()), NotWellFormed),
        ];
        for (xml_error, condition) in cases {
            let e = StreamError::from(&xml_error);
            assert_eq!(e.condition, condition, "{xml_error}");
            assert_eq!(e.text, Some(format!("{xml_error}")));
        }
    }
}
