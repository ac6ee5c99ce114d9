//! `xml_reader`: [`parse_element`] on arbitrary bytes never panics, and when it
//! accepts them, the writer's output reads back to the same tree (and writing that
//! again gives the same text: the writer is deterministic).

use crate::reread_limits;
use pass_core::xml::{parse_element, Limits};

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
}
