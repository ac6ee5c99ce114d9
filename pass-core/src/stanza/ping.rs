//! XEP-0199 ping: a get whose payload is `<ping xmlns='urn:xmpp:ping'/>`, answered
//! with an empty result.
use crate::ns;
use crate::stanza::{Iq, IqType};
use crate::xml::Element;

/// Whether `payload` is a ping element.
pub fn is_ping(payload: &Element) -> bool {
    payload.is("ping", ns::PING)
}

/// Whether `iq` is a ping request (a get carrying `<ping/>`).
pub fn is_ping_request(iq: &Iq) -> bool {
    iq.kind == IqType::Get && iq.payload.as_ref().is_some_and(is_ping)
}

/// The ping payload, for sending one.
pub fn ping() -> Element {
    Element::new("ping", ns::PING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn detects_ping_requests_only() {
        let mut iq = Iq {
            id: String::from("p"),
            kind: IqType::Get,
            from: None,
            to: None,
            payload: Some(ping()),
            error: None,
        };
        assert!(is_ping_request(&iq));
        iq.kind = IqType::Set;
        assert!(!is_ping_request(&iq));
        assert!(!is_ping(&Element::new("ping", "urn:xmpp:other")));
        assert!(!is_ping(&Element::new("pong", ns::PING)));
    }
}
