//! The node's monotonic clock mapped onto the core's time: milliseconds since start;
//! and, for the lease store, onto the wall clock (DESIGN decision 54).

use pass_core::time::Instant as CoreInstant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Maps tokio's monotonic [`Instant`] to [`pass_core::time::Instant`] and back.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    /// The wall clock at `start`, in milliseconds since the Unix epoch.
    wall_start_ms: u64,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn start() -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        Clock {
            start: Instant::now(),
            wall_start_ms: u64::try_from(wall).unwrap_or(u64::MAX),
        }
    }

    /// A core instant on the wall clock, in milliseconds since the Unix epoch (the
    /// store keeps deadlines so: the core's clock starts again at each run).
    pub fn to_unix_ms(&self, t: CoreInstant) -> u64 {
        self.wall_start_ms.saturating_add(t.as_millis())
    }

    /// A wall-clock time (Unix milliseconds) as a core instant; one before this
    /// run's start is the start itself, which has passed.
    pub fn from_unix_ms(&self, ms: u64) -> CoreInstant {
        CoreInstant::from_millis(ms.saturating_sub(self.wall_start_ms))
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
    fn wall_clock_round_trips_and_the_past_is_the_start() {
        let c = Clock::start();
        let t = CoreInstant::from_millis(90_000);
        assert_eq!(c.from_unix_ms(c.to_unix_ms(t)), t);
        assert_eq!(c.from_unix_ms(1_000), CoreInstant::from_millis(0));
    }

    #[test]
    fn far_deadline_is_capped() {
        let c = Clock::start();
        let t = c.to_tokio(CoreInstant::from_millis(u64::MAX));
        assert!(t > Instant::now() + Duration::from_secs(300 * 24 * 3600));
    }
}
