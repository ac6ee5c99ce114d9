//! The checks behind the cargo-fuzz targets of `pass-core`.
//!
//! Each module holds one target's property as a plain function that panics when the
//! property fails, so that a fuzz target is one line and the same check runs over the
//! committed corpus in `cargo test` (stable, no sanitizer needed).
//!
//! | target             | input                                | property |
//! |--------------------|--------------------------------------|----------|
//! | `xml_reader`       | bytes                                | no panic; write(parse(x)) parses to the same tree; the framer agrees |
//! | `stream_framer`    | cut points + stream bytes            | the events do not depend on the chunking |
//! | `stanza_roundtrip` | bytes                                | IQ, query and PASS message survive write → read |
//! | `lease_machine`    | bytes decoded as a script of host events | the lease invariants of `pass_core::sim::model` |
//! | `service_stanzas`  | stanzas separated by NUL bytes       | every IQ get/set with id and from gets one answer |

pub mod lease_machine;
pub mod service_stanzas;
pub mod stanza_roundtrip;
pub mod stream_framer;
pub mod xml_reader;

use pass_core::xml::Limits;

/// Limits for re-reading what the writer produced: the writer may declare
/// namespaces the input had inherited, so attribute counts and sizes can grow;
/// nesting depth cannot.
pub fn reread_limits() -> Limits {
    let d = Limits::default();
    Limits {
        max_stanza_bytes: usize::MAX,
        max_depth: d.max_depth,
        max_attributes: usize::MAX,
        max_attribute_bytes: usize::MAX,
        max_text_bytes: usize::MAX,
    }
}
