//! embassy-time on the CLINT: `now` is `mtime` (10 MHz, embassy-time's `tick-hz-10_000_000`),
//! and the earliest deadline sits in `mtimecmp`, whose pending bit ends the main loop's `wfi`.

use core::cell::RefCell;
use core::task::Waker;

use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

use crate::board;

struct ClintDriver {
    timers: Mutex<RefCell<Timers>>,
}

/// The timer queue and the deadline `mtimecmp` holds.
struct Timers {
    queue: Queue,
    armed: u64,
}

impl Timers {
    /// Wakes the tasks whose deadline has passed and arms the timer for the next one.
    fn rearm(&mut self) {
        self.armed = self.queue.next_expiration(board::mtime());
        board::set_mtimecmp(self.armed);
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: ClintDriver = ClintDriver {
    timers: Mutex::new(RefCell::new(Timers { queue: Queue::new(), armed: u64::MAX })),
});

impl Driver for ClintDriver {
    fn now(&self) -> u64 {
        board::mtime()
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut timers = self.timers.borrow_ref_mut(cs);
            // A deadline at or after the armed one is found when that one fires (`service`), so
            // only an earlier one re-arms now. A connection re-polls its unchanged sleep at
            // every message, and the integrated queue asks for a walk of every task's entry
            // each time: with 16 clients that cost a quarter of the board's echo rate.
            if timers.queue.schedule_wake(at, waker) && at < timers.armed {
                timers.rearm();
            }
        });
    }
}

/// Wakes the tasks whose deadline has passed and arms the timer for the next one. The main loop
/// calls it after every `wfi`; it also clears a pending timer interrupt.
pub fn service() {
    critical_section::with(|cs| DRIVER.timers.borrow_ref_mut(cs).rearm());
}
