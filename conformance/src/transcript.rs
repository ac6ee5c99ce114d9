//! A case's transcript: every stanza exchanged with the implementation and every TCP
//! event on the connections the runner opened or accepted, each with its time since
//! the case started (issue "verdicts", item 4).
//!
//! Every target records into the same [`Transcript`], so every report shows the same
//! thing whichever side of the protocol was checked. Times come from the target's
//! clock ([`crate::harness::Harness::clock`]): wall time on network targets, virtual
//! time in process.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Which side of a TCP connection did something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The runner (a third-party caller, an owner's proxy connection, a forward target).
    Runner,
    /// The implementation under test.
    Implementation,
}

/// One thing that happened during a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// The runner sent a stanza to the implementation (XML as sent).
    StanzaSent {
        /// The stanza.
        xml: String,
    },
    /// The implementation sent a stanza (XML as received).
    StanzaReceived {
        /// The stanza.
        xml: String,
    },
    /// The runner opened a TCP connection.
    Connect {
        /// The runner's connection number within the case.
        conn: u64,
        /// The runner's local address.
        local: String,
        /// The address connected to.
        remote: String,
    },
    /// A connection attempt of the runner failed (refused, timed out, ...).
    ConnectFailed {
        /// The address.
        remote: String,
        /// Why.
        error: String,
    },
    /// The runner accepted a TCP connection the implementation made.
    Accept {
        /// The runner's connection number within the case.
        conn: u64,
        /// The runner's listening address.
        local: String,
        /// The implementation's address.
        remote: String,
    },
    /// Bytes went over a connection.
    Bytes {
        /// The connection.
        conn: u64,
        /// Who sent them.
        from: Side,
        /// How many.
        len: usize,
    },
    /// A side half-closed its writing direction (FIN).
    Fin {
        /// The connection.
        conn: u64,
        /// Who sent the FIN.
        by: Side,
    },
    /// A side reset the connection (RST).
    Reset {
        /// The connection.
        conn: u64,
        /// Who reset it.
        by: Side,
    },
    /// A side closed the connection entirely.
    Close {
        /// The connection.
        conn: u64,
        /// Who closed it.
        by: Side,
    },
    /// Anything else worth seeing in order (a process started or exited, a wait that
    /// ended without the awaited event, ...).
    Note {
        /// What happened.
        text: String,
    },
}

/// One event and when it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the case started, on the target's clock.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// The events of one case, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Transcript {
    /// The entries, oldest first.
    pub entries: Vec<Entry>,
}

impl Transcript {
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Which side closed connection `conn` first (its first FIN, RST or close),
    /// `None` while neither did.
    pub fn first_to_close(&self, conn: u64) -> Option<Side> {
        self.entries.iter().find_map(|e| match e.event {
            Event::Fin { conn: c, by }
            | Event::Reset { conn: c, by }
            | Event::Close { conn: c, by }
                if c == conn =>
            {
                Some(by)
            }
            _ => None,
        })
    }

    /// Whether entry `i` is the first FIN, RST or close of its connection: what
    /// reports mark as "closed first".
    pub fn is_first_close(&self, i: usize) -> bool {
        let conn = match self.entries.get(i).map(|e| &e.event) {
            Some(
                Event::Fin { conn, .. } | Event::Reset { conn, .. } | Event::Close { conn, .. },
            ) => *conn,
            _ => return false,
        };
        !self.entries[..i].iter().any(|e| {
            matches!(e.event,
                Event::Fin { conn: c, .. } | Event::Reset { conn: c, .. } | Event::Close { conn: c, .. }
                if c == conn)
        })
    }
}

/// Records a case's events against the time the case started.
#[derive(Clone, Debug)]
pub struct Recorder {
    start: Instant,
    transcript: Transcript,
}

impl Recorder {
    /// A recorder whose times count from `start` (the case's start on the target's clock).
    pub fn new(start: Instant) -> Recorder {
        Recorder {
            start,
            transcript: Transcript::default(),
        }
    }

    /// Records `event` as happening at `now` (on the same clock as `start`).
    pub fn record(&mut self, now: Instant, event: Event) {
        let since = now
            .checked_duration_since(self.start)
            .unwrap_or(Duration::ZERO);
        let at_ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
        self.transcript.entries.push(Entry { at_ms, event });
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// The finished transcript.
    pub fn finish(self) -> Transcript {
        self.transcript
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_relative_to_the_start_and_json_is_flat() {
        let start = Instant::now();
        let mut r = Recorder::new(start);
        r.record(
            start + Duration::from_millis(1500),
            Event::Bytes {
                conn: 2,
                from: Side::Implementation,
                len: 7,
            },
        );
        let t = r.finish();
        assert_eq!(t.entries[0].at_ms, 1500);
        let json = serde_json::to_string(&t).expect("serializes");
        assert_eq!(
            json,
            r#"[{"at_ms":1500,"kind":"bytes","conn":2,"from":"implementation","len":7}]"#
        );
        let back: Transcript = serde_json::from_str(&json).expect("parses back");
        assert_eq!(back, t);
    }

    #[test]
    fn who_closed_first() {
        let start = Instant::now();
        let mut r = Recorder::new(start);
        let by = |by| Event::Fin { conn: 1, by };
        r.record(start, Event::Note { text: "x".into() });
        r.record(start, by(Side::Implementation));
        r.record(
            start,
            Event::Close {
                conn: 1,
                by: Side::Runner,
            },
        );
        r.record(
            start,
            Event::Reset {
                conn: 2,
                by: Side::Runner,
            },
        );
        let t = r.finish();
        assert_eq!(t.first_to_close(1), Some(Side::Implementation));
        assert_eq!(t.first_to_close(2), Some(Side::Runner));
        assert_eq!(t.first_to_close(3), None);
        let firsts: Vec<bool> = (0..5).map(|i| t.is_first_close(i)).collect();
        assert_eq!(firsts, [false, true, false, true, false]);
    }

    #[test]
    fn an_event_before_the_start_counts_as_zero() {
        let start = Instant::now() + Duration::from_secs(5);
        let mut r = Recorder::new(start);
        r.record(Instant::now(), Event::Note { text: "x".into() });
        assert_eq!(r.transcript().entries[0].at_ms, 0);
    }
}
