//! Token buckets for the bandwidth limits: one per relay direction (`--relay-rate`)
//! and one shared by every relay (`--total-rate`). Over-rate relays wait; nothing is
//! dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Smallest burst a bucket allows, so tiny rates still move whole segments.
const MIN_BURST: f64 = 4096.0;

/// A token bucket counted in bytes. Taking more than is there puts it into debt;
/// the taker waits until the debt is paid off.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket refilling at `bytes_per_s`, holding a tenth of a second of it.
    pub fn new(bytes_per_s: u64) -> Self {
        let rate = (bytes_per_s.max(1)) as f64;
        let burst = (rate / 10.0).max(MIN_BURST);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// The largest chunk worth moving at once under this bucket.
    pub fn burst(&self) -> usize {
        self.burst as usize
    }

    /// Takes `n` bytes at `now`; returns how long the taker must wait.
    pub fn take(&mut self, n: usize, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// A bucket shared by all relays.
pub type SharedBucket = Arc<Mutex<TokenBucket>>;

/// The limits one relay direction obeys.
#[derive(Debug, Default)]
pub struct Throttle {
    own: Option<TokenBucket>,
    total: Option<SharedBucket>,
}

impl Throttle {
    /// A throttle with an optional own rate and an optional shared bucket.
    pub fn new(rate: Option<u64>, total: Option<SharedBucket>) -> Self {
        Throttle {
            own: rate.map(TokenBucket::new),
            total,
        }
    }

    /// Whether any limit applies.
    pub fn is_limited(&self) -> bool {
        self.own.is_some() || self.total.is_some()
    }

    /// The chunk size to read next: `max`, or less when a limit applies so that
    /// waits stay short and smooth.
    pub fn chunk_limit(&self, max: usize) -> usize {
        let mut limit = max;
        if let Some(b) = &self.own {
            limit = limit.min(b.burst());
        }
        if let Some(t) = &self.total {
            let burst = t.lock().map_or(max, |b| b.burst());
            limit = limit.min(burst);
        }
        limit.max(1)
    }

    /// Accounts `n` bytes and sleeps as long as the limits ask.
    pub async fn consume(&mut self, n: usize) {
        let now = Instant::now();
        let mut wait = self.own.as_mut().map_or(Duration::ZERO, |b| b.take(n, now));
        if let Some(t) = &self.total {
            // A poisoned lock only means another relay panicked mid-update; the
            // bucket's numbers are still usable.
            let mut b = t.lock().unwrap_or_else(|p| p.into_inner());
            wait = wait.max(b.take(n, now));
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_goes_into_debt_and_asks_to_wait() {
        let mut b = TokenBucket::new(100_000);
        let t0 = Instant::now();
        assert_eq!(b.burst(), 10_000);
        assert_eq!(b.take(10_000, t0), Duration::ZERO);
        let w = b.take(50_000, t0);
        assert!((w.as_secs_f64() - 0.5).abs() < 1e-6, "{w:?}");
        // After the wait the debt is paid.
        assert_eq!(b.take(0, t0 + w), Duration::ZERO);
    }

    #[test]
    fn refill_is_capped_at_burst() {
        let mut b = TokenBucket::new(10_000);
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(100);
        assert_eq!(b.take(4096, later), Duration::ZERO);
        assert!(b.take(1, later) > Duration::ZERO);
    }

    #[test]
    fn chunk_limit_follows_the_smallest_burst() {
        let shared = Arc::new(Mutex::new(TokenBucket::new(1_000_000)));
        let t = Throttle::new(Some(200_000), Some(shared));
        assert_eq!(t.chunk_limit(1 << 20), 20_000);
        assert!(!Throttle::new(None, None).is_limited());
        assert_eq!(Throttle::new(None, None).chunk_limit(77), 77);
    }
}
