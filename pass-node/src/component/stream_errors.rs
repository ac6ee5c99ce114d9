//! The stream error we send when the framer refuses the server's XML.
//!
//! The framer cannot resynchronise after an error, so such XML cuts the stream
//! (RFC 6120 §4.9.1.1). Per-element limits are not checked here: the framer gets
//! the relaxed limits and the core refuses a stanza over the strict ones alone
//! (`pass_core::lease::Config::stanza_limits`).

use pass_core::xml::XmlError;

/// The RFC 6120 §4.9.3 stream error condition for XML the framer refused.
pub fn stream_error_condition(e: &XmlError) -> &'static str {
    match e {
        XmlError::Forbidden(_) | XmlError::UndeclaredEntity(_) => "restricted-xml",
        XmlError::LimitExceeded(_) => "policy-violation",
        XmlError::InvalidUtf8 { .. } => "unsupported-encoding",
        _ => "not-well-formed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pass_core::xml::{ForbiddenConstruct, Limit};

    #[test]
    fn conditions_follow_rfc_6120() {
        assert_eq!(
            stream_error_condition(&XmlError::Forbidden(ForbiddenConstruct::Dtd)),
            "restricted-xml"
        );
        assert_eq!(
            stream_error_condition(&XmlError::LimitExceeded(Limit::StanzaBytes)),
            "policy-violation"
        );
        assert_eq!(
            stream_error_condition(&XmlError::InvalidUtf8 { offset: 3 }),
            "unsupported-encoding"
        );
        assert_eq!(
            stream_error_condition(&XmlError::Truncated),
            "not-well-formed"
        );
    }
}
