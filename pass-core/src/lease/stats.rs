//! Counters and gauges a host exports as metrics (pass-node: Prometheus).

use crate::time::Duration;
use alloc::vec::Vec;

/// Upper bounds (inclusive, in milliseconds) of the owner-answer latency buckets;
/// a last, unbounded bucket (`+Inf`) follows them.
pub const ANSWER_LATENCY_BOUNDS_MS: [u64; 10] =
    [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// Counters and gauges of a [`LeaseMachine`](super::LeaseMachine) or a
/// [`Service`](crate::service::Service).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Leases held now.
    pub leases: usize,
    /// Incoming connections waiting for their owner (notice out, or accepted and
    /// waiting for the owner's connection).
    pub pending: usize,
    /// Relays bridged now.
    pub relays: usize,
    /// Pool ports free now.
    pub ports_free: usize,
    /// Pool ports resting after a failed listen.
    pub ports_quarantined: usize,
    /// Leases granted since start.
    pub registrations: u64,
    /// Notices sent since start (incoming connection, expire, oneshot, shutdown close).
    pub notices_sent: u64,
    /// Incoming connections dropped unannounced since start because their lease
    /// was past its call rate ([`Config::call_burst`](super::Config::call_burst)).
    pub calls_throttled: u64,
    /// Incoming connections dropped unannounced since start because their lease
    /// had a session in flight (decision 2) or the service was shutting down.
    pub calls_busy: u64,
    /// Incoming connections dropped unannounced since start because
    /// [`Config::max_relays`](super::Config::max_relays) sessions were in flight or
    /// no proxy port was free.
    pub calls_over_capacity: u64,
    /// Leases ended since start because their owner's server bounced an
    /// incoming-connection notice with an error meaning the owner is gone (DESIGN
    /// decision 100).
    pub leases_owner_gone: u64,
    /// Leases ended since start because they were idle for
    /// [`Config::max_idle_lease`](super::Config::max_idle_lease) (DESIGN decision 101).
    pub leases_idle: u64,
    /// IQ errors sent since start, by legacy code (0 when an error had none),
    /// sorted by code.
    pub errors_sent: Vec<(u16, u64)>,
    /// How long owners took to answer incoming-connection notices.
    pub answer_latency: LatencyHistogram,
}

/// A histogram of owner answer latencies, bucketed by [`ANSWER_LATENCY_BOUNDS_MS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Answers per bucket (not cumulative): `counts[i]` holds latencies in
    /// `(bounds[i-1], bounds[i]]`; the last entry holds those above every bound.
    pub counts: [u64; ANSWER_LATENCY_BOUNDS_MS.len() + 1],
    /// Sum of all latencies, in milliseconds.
    pub sum_ms: u64,
    /// Number of answers.
    pub count: u64,
}

impl LatencyHistogram {
    /// Records one answer latency.
    pub fn record(&mut self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        let bucket = ANSWER_LATENCY_BOUNDS_MS
            .iter()
            .position(|&bound| ms <= bound)
            .unwrap_or(ANSWER_LATENCY_BOUNDS_MS.len());
        if let Some(c) = self.counts.get_mut(bucket) {
            *c += 1;
        }
        self.sum_ms = self.sum_ms.saturating_add(ms);
        self.count += 1;
    }

    /// Cumulative counts, as Prometheus `le` buckets want them (last = `+Inf`).
    pub fn cumulative(&self) -> [u64; ANSWER_LATENCY_BOUNDS_MS.len() + 1] {
        let mut out = self.counts;
        let mut running = 0;
        for c in out.iter_mut() {
            running += *c;
            *c = running;
        }
        out
    }
}

/// Adds one to the count of `code` in a code-sorted list.
pub(crate) fn count_error(errors: &mut Vec<(u16, u64)>, code: u16) {
    match errors.binary_search_by_key(&code, |&(c, _)| c) {
        Ok(i) => {
            if let Some(entry) = errors.get_mut(i) {
                entry.1 += 1;
            }
        }
        Err(i) => errors.insert(i, (code, 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_into_their_buckets() {
        let mut h = LatencyHistogram::default();
        h.record(Duration::from_millis(10));
        h.record(Duration::from_millis(11));
        h.record(Duration::from_secs(60));
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[ANSWER_LATENCY_BOUNDS_MS.len()], 1);
        assert_eq!(h.count, 3);
        assert_eq!(h.sum_ms, 60_021);
        assert_eq!(h.cumulative()[ANSWER_LATENCY_BOUNDS_MS.len()], 3);
        assert_eq!(h.cumulative()[1], 2);
    }

    #[test]
    fn errors_are_counted_by_code_in_order() {
        let mut e = Vec::new();
        count_error(&mut e, 502);
        count_error(&mut e, 400);
        count_error(&mut e, 502);
        assert_eq!(e, [(400, 1), (502, 2)]);
    }
}
