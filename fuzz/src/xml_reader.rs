//! `xml_reader`: [`parse_element`] on arbitrary bytes never panics, and when it
//! accepts them:
//! - the writer's output reads back to the same tree, and writing that again gives
//!   the same text (the writer is deterministic);
//! - the stream framer agrees: the same bytes as the one stanza of a stream (whose
//!   header declares no default namespace) give that same tree.

use crate::reread_limits;
use pass_core::ns;
use pass_core::xml::{parse_element, Element, Limits, StreamEvent, StreamFramer, STREAM_CLOSE};

/// A stream header that declares only the `stream` prefix.
const HEADER: &str = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";

/// Checks one input; panics if a property fails.
pub fn check(data: &[u8]) {
    let Ok(element) = parse_element(data, &Limits::default()) else {
        return;
    };
    let written = element.to_xml();
    let reread = match parse_element(written.as_bytes(), &reread_limits()) {
        Ok(e) => e,
        Err(e) => panic!("the writer's output does not read back: {e}\n  output: {written}"),
    };
    assert_eq!(
        reread, element,
        "write → parse changed the tree\n  output: {written}"
    );
    assert_eq!(
        reread.to_xml(),
        written,
        "writing the same tree twice differs"
    );
    framer_agrees(data, &element);
}

/// The framer reads `data` inside a stream as the reader did alone. Inputs a stream
/// cannot carry as they are (a byte-order mark or an XML declaration, which only
/// the stream's start may have, and stream-level elements) are left out.
fn framer_agrees(data: &[u8], element: &Element) {
    let prolog = data
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .and_then(|i| data.get(i..i + 2));
    if data.starts_with(b"\xef\xbb\xbf") || prolog == Some(b"<?") || element.namespace == ns::STREAM
    {
        return;
    }
    let mut framer = StreamFramer::new(Limits::default());
    framer.feed(HEADER.as_bytes());
    framer.feed(data);
    framer.feed(STREAM_CLOSE.as_bytes());
    let mut events = Vec::new();
    while let Some(ev) = framer.next_event() {
        let failed = ev.is_err();
        events.push(ev);
        if failed {
            break;
        }
    }
    let stanzas: Vec<_> = events
        .iter()
        .filter(|e| !matches!(e, Ok(StreamEvent::Header(_))))
        .collect();
    assert_eq!(
        stanzas,
        [
            &Ok(StreamEvent::Stanza(element.clone())),
            &Ok(StreamEvent::End)
        ],
        "the framer reads the element differently from the reader"
    );
}
