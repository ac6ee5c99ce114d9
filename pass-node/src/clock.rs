//! The node's monotonic clock mapped onto the core's time: milliseconds since start.

use pass_core::time::Instant as CoreInstant;
use std::time::Duration;
use tokio::time::Instant;

/// Maps tokio's monotonic [`Instant`] to [`pass_core::time::Instant`] and back.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn start() -> Self {
        Clock {
            start: Instant::now(),
        }
    }

    /// Now, as the core sees it.
    pub fn now(&self) -> CoreInstant {
        self.to_core(Instant::now())
    }

    /// A tokio instant as the core sees it.
    pub fn to_core(&self, t: Instant) -> CoreInstant {
        let ms = t.saturating_duration_since(self.start).as_millis();
        CoreInstant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    /// A core deadline as a tokio instant; a deadline beyond what tokio can hold
    /// becomes "in a year" (the driver wakes up, finds nothing due, and sleeps again).
    pub fn to_tokio(&self, t: CoreInstant) -> Instant {
        let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        self.start
            .checked_add(Duration::from_millis(t.as_millis()))
            .map_or(far, |d| d.min(far))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_a_millisecond() {
        let c = Clock::start();
        let t = Instant::now() + Duration::from_millis(1500);
        let back = c.to_tokio(c.to_core(t));
        assert!(back <= t && t - back < Duration::from_millis(1));
    }

    #[test]
    fn far_deadline_is_capped() {
        let c = Clock::start();
        let t = c.to_tokio(CoreInstant::from_millis(u64::MAX));
        assert!(t > Instant::now() + Duration::from_secs(300 * 24 * 3600));
    }
}
