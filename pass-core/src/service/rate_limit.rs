//! Per-account IQ rate limit: a token bucket per bare JID (hostile-input protection).

use crate::jid::Jid;
use crate::time::Instant;
use crate::token_bucket::{Rate, TokenBucket};
use alloc::collections::BTreeMap;

/// Buckets kept before full (idle) ones are swept away.
const SWEEP_ABOVE: usize = 1024;

/// Token buckets for every account seen lately.
#[derive(Debug)]
pub(crate) struct RateLimit {
    rate: Rate,
    buckets: BTreeMap<Jid, TokenBucket>,
    /// Size above which the next insert sweeps full buckets.
    sweep_at: usize,
}

impl RateLimit {
    /// `burst` requests at once, then `per_second` a second.
    pub(crate) fn new(burst: u32, per_second: u32) -> Self {
        RateLimit {
            rate: Rate::new(burst, per_second),
            buckets: BTreeMap::new(),
            sweep_at: SWEEP_ABOVE,
        }
    }

    /// Whether `account` may send one more request at `now` (and counts it if so).
    pub(crate) fn allow(&mut self, account: &Jid, now: Instant) -> bool {
        let rate = self.rate;
        if !self.buckets.contains_key(account) {
            if self.buckets.len() >= self.sweep_at {
                self.sweep(now);
            }
            self.buckets
                .insert(account.clone(), TokenBucket::full(rate, now));
        }
        match self.buckets.get_mut(account) {
            Some(bucket) => bucket.take(rate, now),
            None => false,
        }
    }

    /// Drops the buckets that have refilled completely (they hold no information),
    /// and moves the next sweep past twice what is left.
    fn sweep(&mut self, now: Instant) {
        let rate = self.rate;
        self.buckets.retain(|_, b| !b.is_full(rate, now));
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
