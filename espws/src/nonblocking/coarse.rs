//! A timer for many connections: one thread checks every deadline ten times a second.
//!
//! A runtime's own timer (tokio's) does work at every worker park for each registered timer, so
//! thousands of keepalive deadlines cost something on every message of every connection. Here a
//! connection's deadline is an atomic number: setting it, or polling its sleep, costs a few
//! instructions and no lock, and one thread finds the expired ones. Deadlines fire up to
//! [`TICK`] late, which keepalive and timeouts measured in seconds do not notice.

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::{Arc, Mutex, OnceLock};
use std::vec::Vec;

use super::Timer;
use crate::time::{Clock, Instant};

/// How often deadlines are checked: the most a sleep fires late.
pub const TICK: Duration = Duration::from_millis(100);

/// No deadline.
const NEVER: u64 = u64::MAX;

/// One sleep's shared state.
struct Entry {
    /// Milliseconds since the timer's origin, or [`NEVER`].
    deadline: AtomicU64,
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct Shared {
    origin: std::time::Instant,
    entries: Mutex<Vec<Arc<Entry>>>,
}

/// The coarse timer; cheap to copy, all copies share one checking thread.
#[derive(Clone)]
pub struct CoarseTimer {
    shared: Arc<Shared>,
}

/// A sleep on the [`CoarseTimer`].
pub struct CoarseSleep {
    entry: Arc<Entry>,
    /// The waker last handed to the entry, to skip the lock when it is the same.
    registered: Option<Waker>,
}

impl CoarseTimer {
    /// The process's coarse timer, starting its checking thread on first use.
    pub fn shared() -> Self {
        static TIMER: OnceLock<CoarseTimer> = OnceLock::new();
        TIMER
            .get_or_init(|| {
                let shared =
                    Arc::new(Shared { origin: std::time::Instant::now(), entries: Mutex::new(Vec::new()) });
                let checker = shared.clone();
                std::thread::Builder::new()
                    .name("espws-timer".into())
                    .spawn(move || check_forever(&checker))
                    .expect("the timer thread starts");
                CoarseTimer { shared }
            })
            .clone()
    }

    fn millis(&self) -> u64 {
        let elapsed = self.shared.origin.elapsed();
        elapsed.as_secs() * 1000 + u64::from(elapsed.subsec_millis())
    }
}

impl core::fmt::Debug for CoarseTimer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CoarseTimer")
    }
}

fn check_forever(shared: &Shared) -> ! {
    let mut due = Vec::new();
    loop {
        std::thread::sleep(TICK);
        let now = {
            let elapsed = shared.origin.elapsed();
            elapsed.as_secs() * 1000 + u64::from(elapsed.subsec_millis())
        };
        {
            let mut entries = shared.entries.lock().unwrap_or_else(|e| e.into_inner());
            // Sleeps that were dropped are held only here.
            entries.retain(|entry| Arc::strong_count(entry) > 1);
            for entry in entries.iter() {
                if entry.deadline.load(Ordering::Acquire) <= now && !entry.fired.swap(true, Ordering::AcqRel)
                {
                    due.push(entry.clone());
                }
            }
        }
        // Woken outside the list's lock.
        for entry in due.drain(..) {
            let waker = entry.waker.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl Clock for CoarseTimer {
    fn now(&self) -> Instant {
        Instant::from_millis(self.millis())
    }
}

impl Timer for CoarseTimer {
    type Sleep = CoarseSleep;

    fn sleep_until(&self, deadline: Instant) -> CoarseSleep {
        let entry = Arc::new(Entry {
            deadline: AtomicU64::new(deadline.as_millis()),
            fired: AtomicBool::new(deadline.as_millis() <= self.millis()),
            waker: Mutex::new(None),
        });
        self.shared.entries.lock().unwrap_or_else(|e| e.into_inner()).push(entry.clone());
        CoarseSleep { entry, registered: None }
    }

    fn reset(&self, sleep: &mut CoarseSleep, deadline: Instant) {
        sleep.entry.deadline.store(deadline.as_millis(), Ordering::Release);
        sleep.entry.fired.store(deadline.as_millis() <= self.millis(), Ordering::Release);
    }
}

impl Future for CoarseSleep {
    type Output = ();

    /// Inline: a connection polls its sleep at every wait for input, and mostly finds it not
    /// fired and its waker registered already.
    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.entry.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if !self.registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return self.register(cx);
        }
        Poll::Pending
    }
}

impl CoarseSleep {
    /// Hands `cx`'s waker to the checking thread.
    #[inline(never)]
    fn register(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        *self.entry.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        self.registered = Some(cx.waker().clone());
        // The checker may have fired between the first look and the registration.
        if self.entry.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for CoarseSleep {
    fn drop(&mut self) {
        self.entry.deadline.store(NEVER, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_fires_within_a_tick_of_its_deadline_and_can_be_moved() {
        let timer = CoarseTimer::shared();
        let start = timer.now();
        let mut sleep = timer.sleep_until(start + Duration::from_secs(3600));
        timer.reset(&mut sleep, start + Duration::from_millis(150));
        crate::hub::block_on(&mut sleep);
        let waited = timer.now().saturating_duration_since(start);
        assert!(waited >= Duration::from_millis(150), "fired early, after {waited:?}");
        assert!(waited < Duration::from_millis(150) + TICK * 3, "fired late, after {waited:?}");
        // Moved into the past, it is ready at once.
        timer.reset(&mut sleep, start);
        crate::hub::block_on(&mut sleep);
    }
}
