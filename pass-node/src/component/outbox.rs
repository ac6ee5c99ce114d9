//! Stanzas waiting to be written to the XMPP stream: bounded, oldest dropped first.

use std::collections::VecDeque;
use tracing::warn;

/// A bounded FIFO of serialised stanzas. While the stream is down the engine keeps
/// emitting (expiry notices, answers); they wait here and go out after the reconnect.
#[derive(Debug)]
pub struct Outbox {
    items: VecDeque<String>,
    limit: usize,
    dropped: u64,
}

impl Outbox {
    /// An empty outbox holding at most `limit` stanzas (at least one).
    pub fn new(limit: usize) -> Self {
        Outbox {
            items: VecDeque::new(),
            limit: limit.max(1),
            dropped: 0,
        }
    }

    /// Queues a stanza; when full, drops the oldest and says so in the log.
    pub fn push(&mut self, stanza: String) {
        if self.items.len() >= self.limit {
            self.items.pop_front();
            self.dropped += 1;
            // One line per thousand keeps a long outage from flooding the log.
            if self.dropped % 1000 == 1 {
                warn!(
                    limit = self.limit,
                    dropped_total = self.dropped,
                    "stanza queue full while the XMPP stream is down: dropped the oldest stanza"
                );
            }
        }
        self.items.push_back(stanza);
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Stanzas queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Stanzas dropped since start because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The oldest stanzas concatenated, up to about `max_bytes` (at least one
    /// stanza), and how many they are. They stay queued until [`Outbox::consume`].
    pub fn batch(&self, max_bytes: usize) -> (String, usize) {
        let mut out = String::new();
        let mut n = 0;
        for s in &self.items {
            if n > 0 && out.len() + s.len() > max_bytes {
                break;
            }
            out.push_str(s);
            n += 1;
        }
        (out, n)
    }

    /// Removes the `n` oldest stanzas (they were written).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.items.len());
        self.items.drain(..n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_oldest_when_full() {
        let mut o = Outbox::new(2);
        o.push("a".into());
        o.push("b".into());
        o.push("c".into());
        assert_eq!(o.len(), 2);
        assert_eq!(o.dropped(), 1);
        assert_eq!(o.batch(100), ("bc".to_string(), 2));
    }

    #[test]
    fn batch_respects_size_but_takes_at_least_one() {
        let mut o = Outbox::new(10);
        o.push("x".repeat(10));
        o.push("y".repeat(10));
        assert_eq!(o.batch(5).1, 1);
        assert_eq!(o.batch(20).1, 2);
        o.consume(1);
        assert_eq!(o.batch(100).0, "y".repeat(10));
        o.consume(5);
        assert!(o.is_empty());
    }
}
