//! Per-account IQ rate limit: a token bucket per bare JID (hostile-input protection).
//!
//! Tokens are counted in thousandths so that whole-millisecond refills stay exact:
//! one request costs 1000, and every millisecond adds `per_second` thousandths.

use crate::jid::Jid;
use crate::time::Instant;
use alloc::collections::BTreeMap;

/// Cost of one request, in thousandths of a token.
const COST: u64 = 1000;

/// Buckets kept before full (idle) ones are swept away.
const SWEEP_ABOVE: usize = 1024;

/// One account's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Thousandths of a token left.
    milli_tokens: u64,
    /// When it was last refilled.
    refilled: Instant,
}

/// Token buckets for every account seen lately.
#[derive(Debug)]
pub(crate) struct RateLimit {
    capacity: u64,
    per_ms: u64,
    buckets: BTreeMap<Jid, Bucket>,
    /// Size above which the next insert sweeps full buckets.
    sweep_at: usize,
}

impl RateLimit {
    /// `burst` requests at once, then `per_second` a second.
    pub(crate) fn new(burst: u32, per_second: u32) -> Self {
        RateLimit {
            capacity: u64::from(burst) * COST,
            per_ms: u64::from(per_second),
            buckets: BTreeMap::new(),
            sweep_at: SWEEP_ABOVE,
        }
    }

    /// Whether `account` may send one more request at `now` (and counts it if so).
    pub(crate) fn allow(&mut self, account: &Jid, now: Instant) -> bool {
        let (capacity, per_ms) = (self.capacity, self.per_ms);
        if !self.buckets.contains_key(account) {
            if self.buckets.len() >= self.sweep_at {
                self.sweep(now);
            }
            self.buckets.insert(
                account.clone(),
                Bucket {
                    milli_tokens: capacity,
                    refilled: now,
                },
            );
        }
        let Some(bucket) = self.buckets.get_mut(account) else {
            return false;
        };
        let elapsed = now.as_millis().saturating_sub(bucket.refilled.as_millis());
        bucket.milli_tokens = bucket
            .milli_tokens
            .saturating_add(elapsed.saturating_mul(per_ms))
            .min(capacity);
        if now > bucket.refilled {
            bucket.refilled = now;
        }
        if bucket.milli_tokens >= COST {
            bucket.milli_tokens -= COST;
            true
        } else {
            false
        }
    }

    /// Drops the buckets that have refilled completely (they hold no information),
    /// and moves the next sweep past twice what is left.
    fn sweep(&mut self, now: Instant) {
        let (capacity, per_ms) = (self.capacity, self.per_ms);
        self.buckets.retain(|_, b| {
            let elapsed = now.as_millis().saturating_sub(b.refilled.as_millis());
            b.milli_tokens
                .saturating_add(elapsed.saturating_mul(per_ms))
                < capacity
        });
        self.sweep_at = (self.buckets.len() * 2).max(SWEEP_ABOVE);
    }

    /// Accounts tracked now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn burst_then_refuse_then_refill() {
        let mut rl = RateLimit::new(3, 10);
        let a = jid("a@h");
        let t0 = Instant::from_millis(1000);
        assert!(rl.allow(&a, t0));
        assert!(rl.allow(&a, t0));
        assert!(rl.allow(&a, t0));
        assert!(!rl.allow(&a, t0), "burst spent");
        // 10 per second: one token per 100 ms.
        assert!(!rl.allow(&a, Instant::from_millis(1099)));
        assert!(rl.allow(&a, Instant::from_millis(1100)));
        assert!(!rl.allow(&a, Instant::from_millis(1100)));
    }

    #[test]
    fn accounts_are_separate() {
        let mut rl = RateLimit::new(1, 1);
        let t = Instant::from_millis(0);
        assert!(rl.allow(&jid("a@h"), t));
        assert!(!rl.allow(&jid("a@h"), t));
        assert!(rl.allow(&jid("b@h"), t));
    }

    #[test]
    fn time_going_back_does_not_refill() {
        let mut rl = RateLimit::new(1, 1000);
        let a = jid("a@h");
        assert!(rl.allow(&a, Instant::from_millis(5000)));
        assert!(!rl.allow(&a, Instant::from_millis(0)));
    }

    #[test]
    fn idle_buckets_are_swept() {
        let mut rl = RateLimit::new(1, 1);
        for i in 0..SWEEP_ABOVE {
            assert!(rl.allow(&jid(&format!("u{i}@h")), Instant::from_millis(0)));
        }
        assert_eq!(rl.tracked(), SWEEP_ABOVE);
        // Ten seconds later all are full again: the next new account sweeps them.
        assert!(rl.allow(&jid("new@h"), Instant::from_millis(10_000)));
        assert_eq!(rl.tracked(), 1);
    }
}
