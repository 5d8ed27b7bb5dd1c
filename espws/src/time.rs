//! Monotonic time as the protocol core sees it: numbers handed in by the driver.

use core::ops::Add;
use core::time::Duration;

/// A point on a monotonic clock, in milliseconds since an origin the driver chooses.
///
/// The core never reads a clock; drivers pass `now` in and honour the deadlines that come out.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The instant `ms` milliseconds after the clock's origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the clock's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The instant `ms` milliseconds later, saturating.
    #[inline]
    pub const fn after_millis(self, ms: u64) -> Instant {
        Instant(self.0.saturating_add(ms))
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// A monotonic clock, as drivers read it.
pub trait Clock {
    /// The current time.
    fn now(&self) -> Instant;
}

impl Add<Duration> for Instant {
    type Output = Instant;

    #[inline]
    fn add(self, rhs: Duration) -> Instant {
        // Seconds and milliseconds apart: cheaper than the 128-bit `as_millis`.
        let ms = rhs.as_secs().saturating_mul(1000).saturating_add(u64::from(rhs.subsec_millis()));
        Instant(self.0.saturating_add(ms))
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Instant {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_saturates_instead_of_overflowing() {
        let late = Instant::from_millis(u64::MAX - 1);
        assert_eq!((late + Duration::from_secs(10)).as_millis(), u64::MAX);
    }

    #[test]
    fn duration_since_a_later_instant_is_zero() {
        let a = Instant::from_millis(5);
        let b = Instant::from_millis(9);
        assert_eq!(a.saturating_duration_since(b), Duration::ZERO);
        assert_eq!(b.saturating_duration_since(a), Duration::from_millis(4));
    }
}
