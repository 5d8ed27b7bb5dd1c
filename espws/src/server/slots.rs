//! Client slots: how many connections a server serves at once, and the 503 for one too many.
//!
//! Every accept loop (threads, tokio, embassy-net) counts with this one type and refuses with
//! this one answer and log line.

use core::ops::Deref;

use crate::proto::PeerLabel;
use crate::wire::http::StatusCode;

/// The answer to a connection over the limit.
pub const FULL: (StatusCode, &str) =
    (StatusCode::SERVICE_UNAVAILABLE, "all client slots are taken; try again later");

/// Counts the client slots in use, shared by every connection of one server.
///
/// ```
/// use espws::proto::PeerLabel;
/// use espws::server::Slots;
///
/// let slots = Slots::new(1);
/// let peer = PeerLabel::new(7, None);
/// let first = Slots::take(&slots, &peer).expect("one slot is free");
/// assert!(Slots::take(&slots, &peer).is_none(), "the second client is told 503");
/// drop(first);
/// assert_eq!(slots.in_use(), 0);
/// ```
#[derive(Debug)]
pub struct Slots {
    max: usize,
    #[cfg(target_has_atomic = "ptr")]
    used: core::sync::atomic::AtomicUsize,
    // Chips without atomic read-modify-write (the ESP32-C3) count under a critical section.
    #[cfg(not(target_has_atomic = "ptr"))]
    used: critical_section::Mutex<core::cell::Cell<usize>>,
}

impl Slots {
    /// `max` slots, none in use.
    pub const fn new(max: usize) -> Self {
        Slots {
            max,
            #[cfg(target_has_atomic = "ptr")]
            used: core::sync::atomic::AtomicUsize::new(0),
            #[cfg(not(target_has_atomic = "ptr"))]
            used: critical_section::Mutex::new(core::cell::Cell::new(0)),
        }
    }

    /// The number of slots.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Slots in use now.
    pub fn in_use(&self) -> usize {
        #[cfg(target_has_atomic = "ptr")]
        return self.used.load(core::sync::atomic::Ordering::Acquire);
        #[cfg(not(target_has_atomic = "ptr"))]
        return critical_section::with(|cs| self.used.borrow(cs).get());
    }

    /// Takes a slot through `this` (a reference, an `Arc`, ...) if one is free; otherwise logs
    /// the refusal of `peer` and gives `None`: answer [`FULL`] then.
    pub fn take<R: Deref<Target = Slots>>(this: R, peer: &PeerLabel) -> Option<Slot<R>> {
        if this.try_take() {
            return Some(Slot(this));
        }
        info!("all {} client slots taken; answering 503 to client {} ({})", this.max, peer.id, peer.addr());
        None
    }

    fn try_take(&self) -> bool {
        #[cfg(target_has_atomic = "ptr")]
        {
            use core::sync::atomic::Ordering;
            self.used
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                    (used < self.max).then_some(used + 1)
                })
                .is_ok()
        }
        #[cfg(not(target_has_atomic = "ptr"))]
        critical_section::with(|cs| {
            let used = self.used.borrow(cs);
            let free = used.get() < self.max;
            if free {
                used.set(used.get() + 1);
            }
            free
        })
    }

    fn give_back(&self) {
        #[cfg(target_has_atomic = "ptr")]
        self.used.fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
        #[cfg(not(target_has_atomic = "ptr"))]
        critical_section::with(|cs| {
            let used = self.used.borrow(cs);
            used.set(used.get() - 1);
        });
    }
}

/// A taken slot, given back when dropped.
#[derive(Debug)]
pub struct Slot<R: Deref<Target = Slots>>(R);

impl<R: Deref<Target = Slots>> Drop for Slot<R> {
    fn drop(&mut self) {
        self.0.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_over_the_limit_is_refused_until_a_slot_is_given_back() {
        let slots = Slots::new(2);
        let peer = PeerLabel::new(1, None);
        let a = Slots::take(&slots, &peer).unwrap();
        let _b = Slots::take(&slots, &peer).unwrap();
        assert!(Slots::take(&slots, &peer).is_none());
        assert_eq!(slots.in_use(), 2);
        drop(a);
        assert!(Slots::take(&slots, &peer).is_some());
    }
}
