//! Receive buffers lent per thread: a waiting connection holds no buffer, only a small carry.
//!
//! An idle connection would otherwise own its whole receive buffer for its life. With a
//! [`PooledBuf`] the async driver gives the buffer back to its thread's pool whenever the
//! connection waits for input (and nothing is held for a whole message), keeping only the
//! unconsumed tail: a partial frame header or control frame, at most [`CARRY_MAX`] bytes. When
//! input is ready it takes a buffer from the pool again. A longer tail (a compressed frame's
//! input that the inflater has not taken yet) keeps the buffer until it is consumed.
//!
//! The pool is per thread, so taking and giving back cost no lock: the tokio server runs one
//! current-thread runtime per worker thread, and a connection never leaves its thread.

use core::cell::{Cell, RefCell};
use core::ops::Range;
use std::boxed::Box;
use std::vec;
use std::vec::Vec;

use crate::proto::Storage;

/// The longest unconsumed tail a waiting connection keeps without its buffer: a control frame's
/// payload (125 bytes) or a frame header (14) with room to spare.
pub const CARRY_MAX: usize = 256;

/// Free buffers a thread keeps for the next connection that has input; more are freed.
const POOL_MAX: usize = 8;

std::thread_local! {
    /// The buffer given back last: in the steady state of a busy connection, the one it takes
    /// again next, without touching the list.
    static LAST: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
    /// The other free buffers.
    static FREE: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A receive buffer of a fixed size, lent from the thread's pool while bytes are processed.
#[derive(Debug)]
pub struct PooledBuf {
    /// The lent buffer; empty (an empty box allocates nothing) while parked. Not an `Option`:
    /// the bytes are then the box itself, with no test at each look.
    buffer: Box<[u8]>,
    size: usize,
    /// The pending bytes kept while parked. Empty (and unallocated) for a connection that
    /// never waited with a partial frame.
    carry: Vec<u8>,
}

impl PooledBuf {
    /// A buffer of `size` bytes (at least one: an empty buffer is a parked one), parked: taken
    /// from the pool when the first bytes arrive.
    pub fn new(size: usize) -> Self {
        PooledBuf { buffer: Box::default(), size: size.max(1), carry: Vec::new() }
    }

    /// The free buffers in this thread's pool: what its connections have given back.
    pub fn pooled_here() -> usize {
        let last = LAST.with(|last| {
            let buffer = last.take();
            let held = usize::from(buffer.is_some());
            last.set(buffer);
            held
        });
        last + FREE.with(|free| free.borrow().len())
    }
}

impl Storage for PooledBuf {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        &self.buffer
    }

    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buffer
    }

    /// The steady state of a busy connection inline: nothing pending, so the buffer only moves
    /// to the thread's last slot; a kept tail is copied out of line.
    #[inline(always)]
    fn park(&mut self, pending: Range<usize>) -> bool {
        if !pending.is_empty() {
            return self.park_keeping(pending);
        }
        if self.buffer.is_empty() {
            return false;
        }
        give_back(core::mem::take(&mut self.buffer));
        true
    }

    #[inline(always)]
    fn is_parked(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Inline when the thread's last slot holds a buffer of this size and nothing was kept: the
    /// buffer this connection gave back at its last wait, in the steady state.
    #[inline(always)]
    fn unpark(&mut self) -> Option<usize> {
        if !self.buffer.is_empty() {
            return None;
        }
        let last = LAST.with(Cell::take);
        match last {
            Some(buffer) if buffer.len() == self.size && self.carry.is_empty() => {
                self.buffer = buffer;
                Some(0)
            }
            last => Some(self.unpark_slow(last)),
        }
    }
}

impl PooledBuf {
    /// [`park`](Storage::park) with a pending tail to keep in the carry.
    #[inline(never)]
    fn park_keeping(&mut self, pending: Range<usize>) -> bool {
        if pending.len() > CARRY_MAX {
            return false;
        }
        if self.buffer.is_empty() {
            return false;
        }
        let buffer = core::mem::take(&mut self.buffer);
        self.carry.extend_from_slice(&buffer[pending]);
        give_back(buffer);
        true
    }

    /// [`unpark`](Storage::unpark) otherwise: a buffer of this size from `last` (what the
    /// thread's last slot held) or the list, or a new one, with the kept tail at its front. The
    /// count of kept bytes.
    #[cold]
    #[inline(never)]
    fn unpark_slow(&mut self, last: Option<Box<[u8]>>) -> usize {
        let pooled = last.or_else(|| FREE.with(|free| free.borrow_mut().pop()));
        let mut buffer = match pooled {
            Some(buffer) if buffer.len() == self.size => buffer,
            // Another server of another size in this thread: not worth keeping apart.
            _ => vec![0u8; self.size].into_boxed_slice(),
        };
        let kept = self.carry.len();
        if kept > 0 {
            buffer[..kept].copy_from_slice(&self.carry);
            self.carry.clear();
        }
        self.buffer = buffer;
        kept
    }
}

/// Puts `buffer` in the thread's last slot; what the slot held goes to the list.
#[inline(always)]
fn give_back(buffer: Box<[u8]>) {
    if let Some(older) = LAST.with(|last| last.replace(Some(buffer))) {
        keep_free(older);
    }
}

/// Keeps `buffer` in the thread's list of free buffers, or frees it when the list is full.
#[inline(never)]
fn keep_free(buffer: Box<[u8]>) {
    FREE.with(|free| {
        let mut free = free.borrow_mut();
        if free.len() < POOL_MAX {
            free.push(buffer);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::RecvBuf;

    #[test]
    fn a_parked_buffer_keeps_its_pending_tail_and_goes_back_to_the_pool() {
        let mut rx = RecvBuf::new(PooledBuf::new(1024));
        assert!(rx.storage().is_parked(), "a new connection holds no buffer");
        rx.unpark();
        rx.spare_mut()[..10].copy_from_slice(b"0123456789");
        rx.commit(10);
        rx.consume(7);
        rx.park();
        assert!(rx.storage().is_parked());
        assert_eq!(rx.capacity(), 0, "nothing of the buffer is held while parked");
        let pooled = PooledBuf::pooled_here();
        assert!(pooled >= 1, "the buffer went back to the pool");
        rx.unpark();
        assert!(!rx.storage().is_parked());
        assert_eq!(rx.capacity(), 1024);
        assert_eq!(rx.pending(), b"789", "the tail is at the front of the new buffer");
        assert_eq!(PooledBuf::pooled_here(), pooled - 1, "taken from the pool");
    }

    #[test]
    fn a_tail_longer_than_the_carry_or_a_held_message_keeps_the_buffer() {
        let mut rx = RecvBuf::new(PooledBuf::new(1024));
        rx.unpark();
        rx.commit(CARRY_MAX + 1);
        rx.park();
        assert!(!rx.storage().is_parked());
        assert_eq!(rx.pending_len(), CARRY_MAX + 1);

        let mut rx = RecvBuf::new(PooledBuf::new(1024));
        rx.unpark();
        rx.held_len = 3;
        rx.park();
        assert!(!rx.storage().is_parked(), "a whole message being reassembled stays");
    }

    #[test]
    fn unparking_a_buffer_that_was_not_parked_changes_nothing() {
        let mut rx = RecvBuf::new(PooledBuf::new(64));
        rx.unpark();
        rx.commit(5);
        rx.unpark();
        assert_eq!(rx.pending_len(), 5);
    }

    #[test]
    fn a_pooled_buffer_of_another_size_is_not_lent() {
        give_back(vec![0u8; 32].into_boxed_slice());
        let mut rx = RecvBuf::new(PooledBuf::new(48));
        rx.unpark();
        assert_eq!(rx.capacity(), 48);
        rx.park();
        rx.unpark();
        assert_eq!(rx.capacity(), 48);
    }
}
