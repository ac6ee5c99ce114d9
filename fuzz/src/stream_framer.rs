//! `stream_framer`: the events a [`StreamFramer`] yields do not depend on how the
//! bytes were chunked: the fuzzer's cut points, one byte at a time and all at once
//! give the same events (and the same first error, after which the framer stops).
//!
//! Input layout: byte 0 is the number of cuts `k` (mod 32), then `k` cut offsets as
//! little-endian `u16` (taken mod the stream length), then the stream bytes. A seed
//! that is a plain stream therefore starts with a `0` byte.

use pass_core::xml::{Limits, StreamEvent, StreamFramer, XmlError};

/// Most cuts read from the input.
const MAX_CUTS: usize = 32;

/// What a framer yielded, up to and including its first error.
type Events = Vec<Result<StreamEvent, XmlError>>;

/// Splits `data` into the cut offsets and the stream.
pub fn split_input(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&k, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let k = usize::from(k) % MAX_CUTS;
    let header = (2 * k).min(rest.len());
    let (raw_cuts, stream) = rest.split_at(header);
    let mut cuts: Vec<usize> = raw_cuts
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
        .map(|c| {
            if stream.is_empty() {
                0
            } else {
                c % stream.len()
            }
        })
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    (cuts, stream)
}

/// Feeds `chunks` in order, draining events after each.
fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Events {
    let mut framer = StreamFramer::new(Limits::default());
    let mut events = Vec::new();
    for chunk in chunks {
        framer.feed(chunk);
        while let Some(ev) = framer.next_event() {
            let failed = ev.is_err();
            events.push(ev);
            if failed {
                // Errors are sticky: the framer would repeat this one forever.
                return events;
            }
        }
    }
    events
}

/// `stream` cut at `cuts` (sorted, in range).
fn chunks<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &c in cuts {
        out.push(&stream[start..c]);
        start = c;
    }
    out.push(&stream[start..]);
    out
}

/// Checks one input; panics if a property fails.
pub fn check(data: &[u8]) {
    let (cuts, stream) = split_input(data);
    let whole = run([stream]);
    let cut = run(chunks(stream, &cuts));
    assert_eq!(cut, whole, "cutting at {cuts:?} changed the events");
    let bytewise = run(stream.chunks(1));
    assert_eq!(
        bytewise, whole,
        "feeding one byte at a time changed the events"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_are_read_from_the_front_and_bounded_by_the_stream() {
        let (cuts, stream) = split_input(&[2, 3, 0, 200, 0, b'<', b'a', b'b']);
        assert_eq!(stream, b"<ab");
        assert_eq!(cuts, vec![0, 2]);
        assert_eq!(chunks(stream, &cuts), vec![&b""[..], b"<a", b"b"]);
    }

    #[test]
    fn a_plain_stream_seed_has_no_cuts() {
        let (cuts, stream) = split_input(b"\0<stream:stream>");
        assert!(cuts.is_empty());
        assert_eq!(stream, b"<stream:stream>");
    }
}
