//! Time as the core sees it: an instant passed in by the caller.
//!
//! The core has no clock. Callers pass `now` to every `handle_*` method; tests drive
//! time by hand and a host maps its own clock onto milliseconds since any epoch.

use core::ops::{Add, Sub};
pub use core::time::Duration;

/// A point in time, in milliseconds since an epoch the caller chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The instant `millis` milliseconds after the caller's epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis)
    }

    /// Milliseconds since the caller's epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates instead of overflowing: a far deadline is "never" in practice.
    fn add(self, rhs: Duration) -> Instant {
        let ms = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(ms))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addition_saturates() {
        let t = Instant::from_millis(u64::MAX - 1) + Duration::from_secs(10);
        assert_eq!(t.as_millis(), u64::MAX);
    }

    #[test]
    fn subtraction_is_never_negative() {
        let a = Instant::from_millis(5);
        let b = Instant::from_millis(9);
        assert_eq!(a - b, Duration::ZERO);
        assert_eq!(b - a, Duration::from_millis(4));
    }
}
