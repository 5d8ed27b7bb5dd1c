//! embassy-time on the CLINT: `now` is `mtime` (10 MHz, embassy-time's `tick-hz-10_000_000`),
//! and the earliest deadline sits in `mtimecmp`, whose pending bit ends the main loop's `wfi`.

use core::cell::RefCell;
use core::task::Waker;

use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

use crate::board;

struct ClintDriver {
    queue: Mutex<RefCell<Queue>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: ClintDriver = ClintDriver {
    queue: Mutex::new(RefCell::new(Queue::new())),
});

impl Driver for ClintDriver {
    fn now(&self) -> u64 {
        board::mtime()
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow_ref_mut(cs);
            if queue.schedule_wake(at, waker) {
                board::set_mtimecmp(queue.next_expiration(board::mtime()));
            }
        });
    }
}

/// Wakes the tasks whose deadline has passed and arms the timer for the next one. The main loop
/// calls it after every `wfi`; it also clears a pending timer interrupt.
pub fn service() {
    critical_section::with(|cs| {
        let mut queue = DRIVER.queue.borrow_ref_mut(cs);
        board::set_mtimecmp(queue.next_expiration(board::mtime()));
    });
}
