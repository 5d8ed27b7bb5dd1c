//! When to dial again: an exponential backoff with jitter, as a sans-IO policy.
//!
//! The caller reports what happened (a dial failed, a connection came up, a connection ended)
//! with the time and a random number from its RNG, and gets back how long to wait before the
//! next dial, or `None` when it must not dial again.

use core::time::Duration;

use crate::time::Instant;

/// The shape of the backoff.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The first delay, and the least one.
    pub floor: Duration,
    /// The most any delay grows to.
    pub ceiling: Duration,
    /// How much each failure multiplies the delay by.
    pub factor: u32,
    /// How much of each delay is random, in percent: 0 waits exactly, 50 waits between half and
    /// all of it, so that devices that lost the server together do not come back together.
    pub jitter_percent: u8,
    /// A connection that stayed up this long counts as healthy: the next delay starts again
    /// from the floor.
    pub reset_after: Duration,
}

impl Default for Policy {
    /// 0.5 s doubling up to 60 s, 50 % jitter, reset after 30 s up.
    fn default() -> Self {
        Policy {
            floor: Duration::from_millis(500),
            ceiling: Duration::from_secs(60),
            factor: 2,
            jitter_percent: 50,
            reset_after: Duration::from_secs(30),
        }
    }
}

/// How a connection ended, as far as reconnecting goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The application closed it on purpose: do not dial again.
    ByApplication,
    /// Anything else: the server closed, went silent, or the network failed.
    Lost,
}

/// The backoff state of one client.
#[derive(Copy, Clone, Debug)]
pub struct Backoff {
    policy: Policy,
    /// Failures since the last healthy connection.
    failures: u32,
    /// When the current connection came up.
    up_since: Option<Instant>,
    /// The application closed: no more dials.
    stopped: bool,
}

impl Backoff {
    /// A client that has not dialled yet.
    pub const fn new(policy: Policy) -> Self {
        Backoff { policy, failures: 0, up_since: None, stopped: false }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Failures counted since the last healthy connection.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A dial (TCP, TLS or the upgrade) failed: the delay before the next one. `random` comes
    /// from the caller's RNG and spreads the delay by the jitter.
    pub fn dial_failed(&mut self, random: u32) -> Option<Duration> {
        if self.stopped {
            return None;
        }
        let delay = self.delay(random);
        self.failures = self.failures.saturating_add(1);
        Some(delay)
    }

    /// A connection came up at `now`.
    pub fn connected(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// The connection that came up ended at `now`: the delay before the next dial, or `None`
    /// after an application close.
    pub fn disconnected(&mut self, now: Instant, how: Ended, random: u32) -> Option<Duration> {
        let up_since = self.up_since.take();
        if how == Ended::ByApplication {
            self.stopped = true;
            return None;
        }
        if up_since.is_some_and(|t| now.saturating_duration_since(t) >= self.policy.reset_after) {
            self.failures = 0;
        }
        self.dial_failed(random)
    }

    /// The delay after `failures` failures: floor x factor^failures, capped, less the jitter.
    fn delay(&self, random: u32) -> Duration {
        let p = &self.policy;
        let mut delay = p.floor;
        for _ in 0..self.failures {
            delay = delay.saturating_mul(p.factor.max(1));
            if delay >= p.ceiling {
                break;
            }
        }
        let delay = delay.min(p.ceiling).max(p.floor.min(p.ceiling));
        let jitter = u64::from(p.jitter_percent.min(100));
        let ms = delay.as_millis() as u64;
        let spread = ms * jitter / 100;
        let cut = if spread == 0 { 0 } else { u64::from(random) % (spread + 1) };
        Duration::from_millis(ms - cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Instant = Instant::from_millis(0);

    fn exact() -> Policy {
        Policy { jitter_percent: 0, ..Policy::default() }
    }

    fn ms(d: Option<Duration>) -> u64 {
        d.unwrap().as_millis() as u64
    }

    #[test]
    fn failed_dials_double_from_the_floor_up_to_the_ceiling() {
        let mut b = Backoff::new(exact());
        let delays: std::vec::Vec<u64> = (0..10).map(|_| ms(b.dial_failed(0))).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    }

    #[test]
    fn jitter_stays_within_the_share_of_the_delay() {
        for random in [0, 1, 77, 250, 251, u32::MAX] {
            let mut b = Backoff::new(Policy::default());
            let d = ms(b.dial_failed(random));
            assert!((250..=500).contains(&d), "{d} ms for random {random}");
        }
        let mut b = Backoff::new(Policy::default());
        assert_eq!(ms(b.dial_failed(250)), 250);
    }

    #[test]
    fn a_connection_up_long_enough_resets_the_backoff() {
        let mut b = Backoff::new(exact());
        for _ in 0..5 {
            b.dial_failed(0);
        }
        b.connected(T0);
        // Up 30 s, the reset threshold: the next delay starts from the floor again.
        assert_eq!(ms(b.disconnected(T0 + Duration::from_secs(30), Ended::Lost, 0)), 500);
    }

    #[test]
    fn a_connection_that_drops_soon_keeps_backing_off() {
        let mut b = Backoff::new(exact());
        for _ in 0..3 {
            b.dial_failed(0);
        }
        let t = T0 + Duration::from_secs(100);
        b.connected(t);
        assert_eq!(ms(b.disconnected(t + Duration::from_secs(2), Ended::Lost, 0)), 4000);
        assert_eq!(ms(b.dial_failed(0)), 8000);
    }

    #[test]
    fn an_application_close_never_redials() {
        let mut b = Backoff::new(exact());
        b.connected(T0);
        assert_eq!(b.disconnected(T0 + Duration::from_secs(60), Ended::ByApplication, 0), None);
        assert_eq!(b.dial_failed(0), None);
    }

    #[test]
    fn a_floor_above_the_ceiling_waits_the_ceiling() {
        let mut b = Backoff::new(Policy {
            floor: Duration::from_secs(9),
            ceiling: Duration::from_secs(3),
            ..exact()
        });
        assert_eq!(ms(b.dial_failed(0)), 3000);
    }
}
