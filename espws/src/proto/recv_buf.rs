//! The caller-owned receive buffer, its layout, and the storage behind it.

use core::ops::Range;
use core::task::{Context, Poll};

/// The bytes behind a [`RecvBuf`]: any byte slice the caller owns (an array, a `&mut [u8]`, a
/// `Vec<u8>`), or storage that it can give back while the connection waits for input (the
/// tokio server's pooled buffers).
pub trait Storage {
    /// The whole storage.
    fn bytes(&self) -> &[u8];

    /// The whole storage, to write into.
    fn bytes_mut(&mut self) -> &mut [u8];

    /// Gives the storage back while the connection waits, keeping only the bytes in `pending`;
    /// `false` if this storage cannot (the default: it stays).
    fn park(&mut self, pending: Range<usize>) -> bool {
        let _ = pending;
        false
    }

    /// Takes storage again after a [`park`](Self::park) that returned `true`, with the kept
    /// bytes at its front; their count, or `None` if it was not parked.
    fn unpark(&mut self) -> Option<usize> {
        None
    }

    /// Whether the storage is parked.
    fn is_parked(&self) -> bool {
        false
    }

    /// [`unpark`](Self::unpark) for storage that may have to wait for a buffer to be free (a
    /// pool shared without an allocator): `Pending`, with `cx`'s waker kept, until one is.
    fn poll_unpark(&mut self, cx: &mut Context<'_>) -> Poll<Option<usize>> {
        let _ = cx;
        Poll::Ready(self.unpark())
    }
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> Storage for S {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        self.as_ref()
    }

    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.as_mut()
    }
}

/// A receive buffer the caller owns, with the layout the state machine keeps in it.
///
/// ```text
/// [ free | held message | consumed | pending input | spare ]
///          held_start              start           end     capacity
/// ```
///
/// *Held* is the part of a whole message already reassembled (only in
/// [`Delivery::Whole`](super::Delivery::Whole)); *pending* is received bytes not yet parsed;
/// *spare* is where the next read goes.
#[derive(Debug)]
pub struct RecvBuf<B> {
    storage: B,
    pub(crate) held_start: usize,
    pub(crate) held_len: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl<B: Storage> RecvBuf<B> {
    /// Wraps `storage`, which may be an array, a `&mut [u8]` or a `Vec<u8>`.
    pub fn new(storage: B) -> Self {
        RecvBuf { storage, held_start: 0, held_len: 0, start: 0, end: 0 }
    }

    /// The storage, for inspection.
    pub fn storage(&self) -> &B {
        &self.storage
    }

    /// The buffer's size in bytes.
    pub fn capacity(&self) -> usize {
        self.storage.bytes().len()
    }

    /// Received bytes not yet consumed.
    pub fn pending(&self) -> &[u8] {
        &self.storage.bytes()[self.start..self.end]
    }

    /// Received bytes not yet consumed, to unmask in place.
    #[inline(always)]
    pub(crate) fn pending_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.start, self.end);
        &mut self.storage.bytes_mut()[start..end]
    }

    /// How many received bytes are not yet consumed: `pending().len()`, without making the slice.
    #[inline(always)]
    pub fn pending_len(&self) -> usize {
        self.end - self.start
    }

    /// Free space after the pending bytes. Parked storage is taken back first, so that any read
    /// into the buffer finds its space.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        self.unpark();
        let end = self.end;
        &mut self.storage.bytes_mut()[end..]
    }

    /// [`spare_mut`](Self::spare_mut) for a caller that knows the storage is in place (not
    /// parked): nothing to take back, so nothing but the slice.
    #[cfg(feature = "async")]
    #[inline(always)]
    pub(crate) fn spare_in_place(&mut self) -> &mut [u8] {
        debug_assert!(!self.storage.is_parked(), "spare_in_place on parked storage");
        let end = self.end;
        &mut self.storage.bytes_mut()[end..]
    }

    /// Records that `n` bytes were written to the front of [`spare_mut`](Self::spare_mut).
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.capacity());
    }

    /// [`commit`](Self::commit) for a caller that knows `n` is within the spare space.
    #[inline(always)]
    pub(crate) fn commit_spare(&mut self, n: usize) {
        debug_assert!(n <= self.capacity() - self.end);
        self.end += n;
    }

    /// Marks the first `n` pending bytes consumed.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// [`consume`](Self::consume) for a caller that knows at least `n` bytes are pending.
    #[inline(always)]
    pub(crate) fn consume_pending(&mut self, n: usize) {
        debug_assert!(n <= self.pending_len());
        self.start += n;
    }

    /// Drops everything: held, pending and spare.
    pub fn clear(&mut self) {
        self.held_start = 0;
        self.held_len = 0;
        self.start = 0;
        self.end = 0;
    }

    /// Gives the storage back while the connection waits for input, if it can be and nothing
    /// is held: pending bytes stay in the storage's own carry. The driver unparks before it
    /// touches the buffer again.
    #[cfg(feature = "async")]
    #[inline(always)]
    pub(crate) fn park(&mut self) {
        if self.held_len == 0 && self.storage.park(self.start..self.end) {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Takes storage again after [`park`](Self::park), with the pending bytes at its front.
    #[inline(always)]
    pub(crate) fn unpark(&mut self) {
        // The look first, inline: most calls find the storage in place.
        if !self.storage.is_parked() {
            return;
        }
        let kept = self.storage.unpark();
        self.took_back(kept);
    }

    /// The layout after the storage was taken back with `kept` bytes at its front.
    #[inline(always)]
    fn took_back(&mut self, kept: Option<usize>) {
        if let Some(kept) = kept {
            self.held_start = 0;
            self.start = 0;
            self.end = kept;
        }
    }

    /// [`unpark`](Self::unpark) that waits for storage to be free: ready once the buffer is in
    /// place (at once for storage that is not parked).
    #[cfg(feature = "async")]
    #[inline(always)]
    pub(crate) fn poll_unpark(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.storage.is_parked() {
            return Poll::Ready(());
        }
        match self.storage.poll_unpark(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(kept) => {
                self.took_back(kept);
                Poll::Ready(())
            }
        }
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        self.storage.bytes_mut()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.storage.bytes()
    }

    /// Makes room at the end by moving held and pending bytes to the front, when that frees
    /// enough to be worth the copy.
    #[inline(always)]
    pub(crate) fn make_room(&mut self) {
        if self.held_len == 0 && self.start == self.end {
            // `held_start` stays: with nothing held it only marks where an empty span may sit,
            // and it is within the buffer wherever it is.
            self.start = 0;
            self.end = 0;
        } else {
            self.compact();
        }
    }

    /// The slow part of [`make_room`](Self::make_room).
    #[inline(never)]
    fn compact(&mut self) {
        let capacity = self.capacity();
        let spare = capacity - self.end;
        let gap = self.start - self.held_len;
        if spare >= capacity / 4 || gap == 0 {
            return;
        }
        let (held_start, held_len, start, end) = (self.held_start, self.held_len, self.start, self.end);
        let bytes = self.storage.bytes_mut();
        bytes.copy_within(held_start..held_start + held_len, 0);
        bytes.copy_within(start..end, held_len);
        self.held_start = 0;
        self.start = held_len;
        self.end = held_len + (end - start);
    }
}
