//! A token bucket on the core's millisecond clock, for the rate limits the core
//! enforces (IQs per account, calls per lease).
//!
//! Tokens are counted in thousandths so that whole-millisecond refills stay exact:
//! one event costs 1000, and every millisecond adds `per_second` thousandths. Time
//! going backwards refills nothing.

use crate::time::Instant;

/// Cost of one event, in thousandths of a token.
const COST: u64 = 1000;

/// The shape of a bucket: how many events at once, how many a second after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    capacity: u64,
    per_ms: u64,
}

impl Rate {
    /// `burst` events at once, then `per_second` a second.
    pub(crate) fn new(burst: u32, per_second: u32) -> Self {
        Rate {
            capacity: u64::from(burst) * COST,
            per_ms: u64::from(per_second),
        }
    }
}

/// One bucket's state; its [`Rate`] is kept by the owner (one for many buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenBucket {
    /// Thousandths of a token left.
    milli_tokens: u64,
    /// When it was last refilled.
    refilled: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn full(rate: Rate, now: Instant) -> Self {
        TokenBucket {
            milli_tokens: rate.capacity,
            refilled: now,
        }
    }

    /// Whether one more event may happen at `now` (and counts it if so).
    pub(crate) fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.milli_tokens = self.level(rate, now);
        if now > self.refilled {
            self.refilled = now;
        }
        if self.milli_tokens >= COST {
            self.milli_tokens -= COST;
            true
        } else {
            false
        }
    }

    /// Whether the bucket has refilled completely by `now` (it then holds no
    /// information and may be forgotten).
    pub(crate) fn is_full(&self, rate: Rate, now: Instant) -> bool {
        self.level(rate, now) >= rate.capacity
    }

    fn level(&self, rate: Rate, now: Instant) -> u64 {
        let elapsed = now.as_millis().saturating_sub(self.refilled.as_millis());
        self.milli_tokens
            .saturating_add(elapsed.saturating_mul(rate.per_ms))
            .min(rate.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_then_refill() {
        let rate = Rate::new(3, 10);
        let t0 = Instant::from_millis(1000);
        let mut b = TokenBucket::full(rate, t0);
        assert!(b.take(rate, t0));
        assert!(b.take(rate, t0));
        assert!(b.take(rate, t0));
        assert!(!b.take(rate, t0), "burst spent");
        // 10 per second: one token per 100 ms.
        assert!(!b.take(rate, Instant::from_millis(1099)));
        assert!(b.take(rate, Instant::from_millis(1100)));
        assert!(!b.take(rate, Instant::from_millis(1100)));
        assert!(!b.is_full(rate, Instant::from_millis(1100)));
        assert!(b.is_full(rate, Instant::from_millis(1400)));
    }

    #[test]
    fn time_going_back_does_not_refill() {
        let rate = Rate::new(1, 1000);
        let mut b = TokenBucket::full(rate, Instant::from_millis(5000));
        assert!(b.take(rate, Instant::from_millis(5000)));
        assert!(!b.take(rate, Instant::from_millis(0)));
        // ...nor moves the refill point back.
        assert!(b.take(rate, Instant::from_millis(5001)));
    }
}
