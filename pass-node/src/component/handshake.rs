//! The XEP-0114 opening: our stream header, the handshake digest, and reading the
//! server's answer.

use pass_core::xml::{Element, NS_COMPONENT, NS_STREAM};
use sha1::{Digest, Sha1};

/// Namespace of stream error conditions (RFC 6120 §4.9.3).
pub const NS_STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";

/// The stream header the component sends first.
pub fn stream_header(domain: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='{NS_COMPONENT}' xmlns:stream='{NS_STREAM}' to='{}'>",
        escape_attr(domain)
    )
}

/// The `<handshake/>` element: lowercase hex SHA-1 of stream id + secret (XEP-0114 §3).
pub fn handshake(stream_id: &str, secret: &str) -> String {
    let mut h = Sha1::new();
    h.update(stream_id.as_bytes());
    h.update(secret.as_bytes());
    format!("<handshake>{:x}</handshake>", h.finalize())
}

/// The condition named by a `<stream:error/>` (e.g. `not-authorized`), and its text.
pub fn stream_error_condition(e: &Element) -> (String, Option<String>) {
    let condition = e
        .elements()
        .find(|c| c.name != "text")
        .map_or_else(|| "undefined-condition".to_string(), |c| c.name.clone());
    let text = e
        .elements()
        .find(|c| c.name == "text")
        .map(|t| t.text())
        .filter(|t| !t.is_empty());
    (condition, text)
}

/// A `<stream:error/>` with `condition` and a human-readable text, followed by the
/// stream close: what an entity sends before cutting a stream (RFC 6120 §4.9.1.1).
pub fn stream_error(condition: &str, text: &str) -> String {
    format!(
        "<stream:error><{condition} xmlns='{NS_STREAM_ERRORS}'/>\
         <text xmlns='{NS_STREAM_ERRORS}'>{}</text></stream:error></stream:stream>",
        escape_text(text)
    )
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_is_lowercase_hex_sha1_of_id_and_secret() {
        // SHA-1("abc") is the FIPS 180 test vector; id "ab" + secret "c" gives "abc".
        assert_eq!(
            handshake("ab", "c"),
            "<handshake>a9993e364706816aba3e25717850c26c9cd0d89d</handshake>"
        );
    }

    #[test]
    fn stream_error_names_condition_and_escapes_text() {
        let e = stream_error("restricted-xml", "no <!DOCTYPE> & co");
        assert!(e.starts_with(
            "<stream:error><restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        ));
        assert!(e.contains(">no &lt;!DOCTYPE&gt; &amp; co</text>"));
        assert!(e.ends_with("</stream:error></stream:stream>"));
    }

    #[test]
    fn header_names_the_domain_and_namespace() {
        let h = stream_header("pass.example");
        assert!(h.contains("to='pass.example'"));
        assert!(h.contains("xmlns='jabber:component:accept'"));
    }

    #[test]
    fn condition_is_read_from_the_error() {
        let e = Element::new("error", NS_STREAM)
            .with_child(Element::new("not-authorized", NS_STREAM_ERRORS))
            .with_child(Element::new("text", NS_STREAM_ERRORS).with_text("bad secret"));
        assert_eq!(
            stream_error_condition(&e),
            ("not-authorized".to_string(), Some("bad secret".to_string()))
        );
    }
}
