//! XEP-0114, the Jabber Component Protocol, sans I/O: both sides of the opening
//! (the component's stream header, the server's answering header with a stream id,
//! the handshake digest and its check) and typed stream errors.
//!
//! The node plays the component ([`ComponentHandshake`]); the conformance runner,
//! the node's test servers and its benches play the server ([`ServerHandshake`]).
//! Each machine is fed the [`StreamEvent`](crate::xml::StreamEvent)s of a
//! [`StreamFramer`](crate::xml::StreamFramer) and says what to write and how the
//! opening ended; the caller only moves bytes. After the opening, the same framer
//! carries the stanzas: the machines never read ahead.
//!
//! This is the project's only copy of the handshake and of the stream error
//! conditions: the node, the runner, the test servers and the benches call it
//! (docs/DESIGN.md decision 19).
//!
//! ```
//! use pass_core::component::{ComponentHandshake, ComponentStep, ServerHandshake, ServerStep};
//! use pass_core::xml::{Limits, StreamFramer};
//!
//! let (mut component, header) = ComponentHandshake::start("pass.example", "s3cret");
//! let mut server = ServerHandshake::new("pass.example", "s3cret", "3BF96D32");
//! let (mut at_server, mut at_component) =
//!     (StreamFramer::new(Limits::default()), StreamFramer::new(Limits::default()));
//!
//! at_server.feed(header.as_bytes());
//! let ServerStep::Send(answer) = server.handle(at_server.next_event().unwrap()?)? else { panic!() };
//! at_component.feed(answer.as_bytes());
//! let ComponentStep::Send(handshake) = component.handle(at_component.next_event().unwrap()?)?
//! else { panic!() };
//! at_server.feed(handshake.as_bytes());
//! let ServerStep::Accepted(accepted) = server.handle(at_server.next_event().unwrap()?)? else { panic!() };
//! at_component.feed(accepted.as_bytes());
//! assert_eq!(component.handle(at_component.next_event().unwrap()?)?, ComponentStep::Accepted);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

mod opening;
mod stream_error;

pub use opening::{
    ComponentHandshake, ComponentOpeningError, ComponentStep, ServerHandshake, ServerOpeningError,
    ServerStep,
};
pub use stream_error::{StreamError, StreamErrorCondition};

use crate::ns;
use crate::xml::{Element, StreamHeader};
use alloc::format;
use alloc::string::String;
use sha1::{Digest, Sha1};

/// What the server writes when it accepts the handshake (XEP-0114 §3).
pub const HANDSHAKE_ACCEPTED: &str = "<handshake/>";

/// The header a component opens its stream with: `to` its domain (XEP-0114 §3).
pub fn component_header(domain: &str) -> StreamHeader {
    let mut h = StreamHeader::new(ns::COMPONENT);
    h.to = Some(String::from(domain));
    h
}

/// The header a server answers with: `from` the component's domain, and the
/// `id` the handshake digest is computed over.
pub fn server_header(domain: &str, stream_id: &str) -> StreamHeader {
    let mut h = StreamHeader::new(ns::COMPONENT);
    h.from = Some(String::from(domain));
    h.id = Some(String::from(stream_id));
    h
}

/// The handshake digest: lowercase hex SHA-1 of the stream id followed by the
/// shared secret (XEP-0114 §3).
pub fn handshake_digest(stream_id: &str, secret: &str) -> String {
    let mut h = Sha1::new();
    h.update(stream_id.as_bytes());
    h.update(secret.as_bytes());
    format!("{:x}", h.finalize())
}

/// The `<handshake/>` a component sends, carrying the digest, as written inside the
/// component stream.
pub fn handshake(stream_id: &str, secret: &str) -> String {
    format!(
        "<handshake>{}</handshake>",
        handshake_digest(stream_id, secret)
    )
}

/// Whether `handshake` (the component's `<handshake/>` element) carries the digest
/// for `stream_id` and `secret`. Surrounding whitespace and upper-case hex are
/// accepted: the digest is what counts.
pub fn is_valid_handshake(handshake: &Element, stream_id: &str, secret: &str) -> bool {
    handshake.name == "handshake"
        && handshake
            .text()
            .trim()
            .eq_ignore_ascii_case(&handshake_digest(stream_id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, StreamEvent, StreamFramer};

    #[test]
    fn digest_is_lowercase_hex_sha1_of_id_and_secret() {
        // SHA-1("abc") is the FIPS 180 test vector; id "ab" + secret "c" gives "abc".
        assert_eq!(
            handshake("ab", "c"),
            "<handshake>a9993e364706816aba3e25717850c26c9cd0d89d</handshake>"
        );
        // XEP-0114 Example 3: stream id 3BF96D32, shared secret "test".
        assert_eq!(
            handshake_digest("3BF96D32", "test"),
            "aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e"
        );
    }

    #[test]
    fn a_handshake_is_checked_by_its_digest() {
        let digest = handshake_digest("id1", "s3cret");
        let el = |text: &str| Element::new("handshake", ns::COMPONENT).with_text(text);
        assert!(is_valid_handshake(&el(&digest), "id1", "s3cret"));
        assert!(is_valid_handshake(
            &el(&format!(" {}\n", digest.to_uppercase())),
            "id1",
            "s3cret"
        ));
        assert!(!is_valid_handshake(&el(&digest), "id2", "s3cret"));
        assert!(!is_valid_handshake(&el(&digest), "id1", "secret"));
        assert!(!is_valid_handshake(&el(""), "id1", "s3cret"));
        let other = Element::new("shake", ns::COMPONENT).with_text(&digest);
        assert!(!is_valid_handshake(&other, "id1", "s3cret"));
    }

    #[test]
    fn headers_round_trip_through_the_framer() {
        let read = |h: &StreamHeader| {
            let mut f = StreamFramer::new(Limits::default());
            f.feed(h.to_open_tag().as_bytes());
            match f.next_event() {
                Some(Ok(StreamEvent::Header(h))) => h,
                other => panic!("{other:?}"),
            }
        };
        let c = component_header("pass.example");
        assert_eq!(
            c.to_open_tag(),
            "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' \
             xmlns:stream='http://etherx.jabber.org/streams' to='pass.example'>"
        );
        assert_eq!(read(&c), c);
        let s = server_header("pass.example", "3BF96D32");
        assert_eq!(read(&s), s);
        assert_eq!(
            read(&component_header("a'b&c")).to.as_deref(),
            Some("a'b&c")
        );
    }
}
