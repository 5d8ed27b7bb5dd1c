//! Receive buffers shared by the workers of a device: a waiting connection holds no buffer, only
//! a small carry, and no allocator is needed.
//!
//! On bare metal every worker would otherwise own a whole receive buffer beside its socket's
//! receive ring, which already holds the bytes the peer sent. With a [`LentBuf`] the driver
//! gives the buffer back to the [`BufferPool`] whenever its connection waits for input, keeping
//! only the unconsumed tail (a partial frame header or control frame) in the worker's carry, and
//! takes one again when its task is polled to read, mostly by the socket's input (a read that
//! finds nothing gives it straight back). Input waits in the socket's ring meanwhile.
//!
//! The pool's size bounds how many connections process input at once, not how many are open.
//! A connection keeps its buffer while a write of its waits (a client that does not read its
//! echoes, until the write timeout), while a whole message is reassembled
//! ([`Delivery::Whole`](crate::proto::Delivery::Whole)), and while a request head arrives;
//! a connection that finds the pool empty waits for a buffer to come back, holding nothing.
//!
//! This is the no-allocator sibling of the tokio server's per-thread pool (`PooledBuf`): the
//! buffers are the caller's (statics on a device), lent as `&mut` slices under a critical
//! section.

use core::cell::RefCell;
use core::ops::Range;
use core::task::{Context, Poll};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::waitqueue::MultiWakerRegistration;

use crate::proto::Storage;

/// The most buffers one pool lends.
pub const MAX_LENT: usize = 16;

/// Connections that can wait for a buffer with a waker of their own; past that, a returned
/// buffer wakes them all (each polls again).
const WAITERS: usize = 32;

/// Receive buffers lent to connections while they process input.
pub struct BufferPool<'b> {
    inner: Mutex<CriticalSectionRawMutex, RefCell<Inner<'b>>>,
}

struct Inner<'b> {
    free: heapless::Vec<&'b mut [u8], MAX_LENT>,
    waiting: MultiWakerRegistration<WAITERS>,
}

impl<'b> BufferPool<'b> {
    /// An empty pool; [`give`](Self::give) it its buffers.
    pub const fn new() -> Self {
        BufferPool {
            inner: Mutex::new(RefCell::new(Inner {
                free: heapless::Vec::new(),
                waiting: MultiWakerRegistration::new(),
            })),
        }
    }

    /// Adds `buffer` to the pool. All buffers of one pool should be of one size: a connection
    /// may get any of them. Gives the buffer back if the pool already holds [`MAX_LENT`].
    pub fn give(&self, buffer: &'b mut [u8]) -> Result<(), &'b mut [u8]> {
        self.inner.lock(|inner| {
            let mut inner = inner.borrow_mut();
            inner.free.push(buffer)?;
            inner.waiting.wake();
            Ok(())
        })
    }

    /// Buffers free now.
    pub fn free(&self) -> usize {
        self.inner.lock(|inner| inner.borrow().free.len())
    }

    /// A free buffer, or `None` with `cx`'s waker registered for the next one given back.
    fn poll_take(&self, cx: Option<&mut Context<'_>>) -> Option<&'b mut [u8]> {
        self.inner.lock(|inner| {
            let mut inner = inner.borrow_mut();
            let taken = inner.free.pop();
            if let (None, Some(cx)) = (&taken, cx) {
                inner.waiting.register(cx.waker());
            }
            taken
        })
    }
}

impl Default for BufferPool<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for BufferPool<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BufferPool").field("free", &self.free()).finish()
    }
}

/// A connection's receive storage: a buffer lent from a [`BufferPool`] while bytes are
/// processed, and a carry of its own for the tail it keeps while it waits.
#[derive(Debug)]
pub struct LentBuf<'a, 'b> {
    pool: &'a BufferPool<'b>,
    /// The lent buffer; `None` while parked.
    lent: Option<&'b mut [u8]>,
    carry: &'a mut [u8],
    carried: usize,
}

impl<'a, 'b> LentBuf<'a, 'b> {
    /// Storage lending from `pool`, parked: it takes a buffer when the first bytes arrive. A
    /// waiting connection keeps at most `carry.len()` unconsumed bytes without a buffer (a
    /// control frame and a frame header need 256); with more it keeps the buffer.
    pub fn new(pool: &'a BufferPool<'b>, carry: &'a mut [u8]) -> Self {
        LentBuf { pool, lent: None, carry, carried: 0 }
    }

    fn take_back(&mut self, buffer: &'b mut [u8]) -> usize {
        let kept = self.carried;
        buffer[..kept].copy_from_slice(&self.carry[..kept]);
        self.carried = 0;
        self.lent = Some(buffer);
        kept
    }
}

impl Storage for LentBuf<'_, '_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        self.lent.as_deref().unwrap_or(&[])
    }

    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.lent.as_deref_mut().unwrap_or(&mut [])
    }

    fn park(&mut self, pending: Range<usize>) -> bool {
        if pending.len() > self.carry.len() {
            return false;
        }
        let Some(buffer) = self.lent.take() else { return false };
        self.carry[..pending.len()].copy_from_slice(&buffer[pending.clone()]);
        self.carried = pending.len();
        if let Err(buffer) = self.pool.give(buffer) {
            // Not this pool's buffer count: cannot happen for a buffer it lent, but keep it.
            self.lent = Some(buffer);
            return false;
        }
        true
    }

    #[inline(always)]
    fn is_parked(&self) -> bool {
        self.lent.is_none()
    }

    fn unpark(&mut self) -> Option<usize> {
        if self.lent.is_some() {
            return None;
        }
        let buffer = self.pool.poll_take(None)?;
        Some(self.take_back(buffer))
    }

    fn poll_unpark(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        if self.lent.is_some() {
            return Poll::Ready(None);
        }
        match self.pool.poll_take(Some(cx)) {
            Some(buffer) => Poll::Ready(Some(self.take_back(buffer))),
            None => Poll::Pending,
        }
    }
}

impl Drop for LentBuf<'_, '_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.lent.take() {
            let _ = self.pool.give(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::RecvBuf;
    use core::task::Waker;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_waiting_connection_keeps_its_tail_in_the_carry_and_gives_the_buffer_back() {
        let mut buffer = [0u8; 64];
        let pool = BufferPool::new();
        pool.give(&mut buffer).unwrap();
        let mut carry = [0u8; 16];
        let mut rx = RecvBuf::new(LentBuf::new(&pool, &mut carry));
        assert!(rx.storage().is_parked(), "a new connection holds no buffer");
        rx.spare_mut()[..10].copy_from_slice(b"0123456789");
        assert_eq!(pool.free(), 0, "the first read took the buffer");
        rx.commit(10);
        rx.consume(7);
        rx.park();
        assert_eq!(pool.free(), 1, "the waiting connection gave it back");
        assert_eq!(rx.capacity(), 0);
        rx.unpark();
        assert_eq!(rx.capacity(), 64);
        assert_eq!(rx.pending(), b"789", "the tail is at the front of the buffer again");
    }

    #[test]
    fn a_tail_longer_than_the_carry_keeps_the_buffer() {
        let mut buffer = [0u8; 64];
        let pool = BufferPool::new();
        pool.give(&mut buffer).unwrap();
        let mut carry = [0u8; 4];
        let mut rx = RecvBuf::new(LentBuf::new(&pool, &mut carry));
        rx.unpark();
        rx.commit(5);
        rx.park();
        assert!(!rx.storage().is_parked());
        assert_eq!(rx.pending_len(), 5);
        drop(rx);
        assert_eq!(pool.free(), 1, "a connection's end gives its buffer back");
    }

    #[test]
    fn a_connection_that_finds_the_pool_empty_waits_and_is_woken_by_the_next_one_given_back() {
        let (mut one, mut two) = ([0u8; 32], [0u8; 32]);
        let pool = BufferPool::new();
        pool.give(&mut one).unwrap();
        let (mut carry_a, mut carry_b) = ([0u8; 8], [0u8; 8]);
        let mut a = RecvBuf::new(LentBuf::new(&pool, &mut carry_a));
        let mut b = RecvBuf::new(LentBuf::new(&pool, &mut carry_b));
        a.unpark();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(b.poll_unpark(&mut cx).is_pending(), "the only buffer is lent");
        assert_eq!(b.spare_mut().len(), 0, "without a buffer there is no room to read into");
        a.park();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the buffer given back woke the waiter");
        assert!(b.poll_unpark(&mut cx).is_ready());
        assert_eq!(b.capacity(), 32);
        pool.give(&mut two).unwrap();
        assert!(a.poll_unpark(&mut cx).is_ready());
        assert_eq!(pool.free(), 0);
    }
}
