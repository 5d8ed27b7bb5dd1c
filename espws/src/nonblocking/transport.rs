//! What the async driver runs over: a byte stream, and a timer.

use core::future::Future;
use core::task::Poll;

use embedded_io_async::{Read, Write};

use crate::proto::{RecvBuf, Storage};
use crate::time::{Clock, Instant};

/// An async byte stream the driver can run a connection over.
#[allow(async_fn_in_trait)] // Send-ness follows the concrete transport, as in embedded-io-async.
pub trait Transport: Read + Write {
    /// Writes all `parts` in order; transports that can should do it in one vectored write.
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), Self::Error> {
        for part in parts {
            self.write_all(part).await?;
        }
        Ok(())
    }

    /// Sends end-of-stream after everything written so far, keeping the read side open.
    async fn shutdown_write(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Writes what the transport takes of `parts` at once, without waiting: the bytes taken
    /// (0 if it would have to wait), or `None` if it cannot tell without waiting. Lets a write
    /// that completes at once skip the machinery of a future.
    fn try_write_vectored(&mut self, _parts: &[&[u8]]) -> Option<Result<usize, Self::Error>> {
        None
    }

    /// Whether [`poll_read`](Self::poll_read) works: then a wait polls the transport directly
    /// instead of building a read future each time.
    const POLLS_READ: bool = false;

    /// Polls a read directly; only called when [`POLLS_READ`](Self::POLLS_READ) is set.
    fn poll_read(
        &mut self,
        _cx: &mut core::task::Context<'_>,
        _buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        Poll::Pending
    }

    /// Whether a pending [`poll_read`](Self::poll_read) keeps nothing of the buffer it was
    /// given (with [`POLLS_READ`](Self::POLLS_READ)): the waker alone brings the next poll, so
    /// a connection can give its receive buffer back while it waits ([`PooledBuf`](super::PooledBuf)).
    /// Not so for TLS, whose session may hold decrypted bytes no socket readiness shows.
    const PARKS_WHILE_PENDING: bool = false;

    /// Whether the server is shutting down: then a read's end of stream is the server's own
    /// doing (it shut the read side to wake the read), and the connection closes with 1001.
    fn stop_requested(&self) -> bool {
        false
    }

    /// Whether the socket holds an error the peer caused (a reset), which reads no longer show
    /// once a shutdown has shut the read side: a peer that had closed its socket before the
    /// server's 1001 reached it answers that frame with a reset. Then the peer is gone, not slow
    /// to reply, and the connection ends without waiting out the close timeout. Consumes the
    /// error.
    fn peer_reset(&self) -> bool {
        false
    }
}

/// Polls a read into the spare of `rx`: through [`Transport::poll_read`], and, when the
/// transport allows it, with the storage given back while the read is pending (see
/// [`PooledBuf`](super::PooledBuf)). Parked storage is taken again when the read is polled
/// (the socket's waker, the connection's sleep or a returned buffer brings the poll), waiting
/// for a buffer if it has to (a shared pool without an allocator); a read that finds nothing
/// gives it back at once. Looking at the socket's readiness first cost the RV32 board two
/// socket lookups per message (about 45 instructions) to save a rare take and give back. A
/// wait that ends otherwise leaves it parked, and the caller unparks before it looks at `rx`
/// again.
#[inline(always)]
pub(super) fn poll_read_parking<T: Transport, B: Storage>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    cx: &mut core::task::Context<'_>,
) -> Poll<Result<usize, T::Error>> {
    if T::PARKS_WHILE_PENDING && rx.storage().is_parked() {
        core::task::ready!(rx.poll_unpark(cx));
    }
    // Storage that parks is in place here; other storage may have been parked by a pause.
    let spare = if T::PARKS_WHILE_PENDING { rx.spare_in_place() } else { rx.spare_mut() };
    let read = io.poll_read(cx, spare);
    if T::PARKS_WHILE_PENDING && read.is_pending() {
        rx.park();
    }
    read
}

/// A borrowed transport, so that its owner can still end the connection after the driver is done
/// (embassy-net's sockets say nothing to the peer when dropped).
impl<T: Transport + ?Sized> Transport for &mut T {
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), Self::Error> {
        T::write_all_vectored(self, parts).await
    }

    async fn shutdown_write(&mut self) -> Result<(), Self::Error> {
        T::shutdown_write(self).await
    }

    fn try_write_vectored(&mut self, parts: &[&[u8]]) -> Option<Result<usize, Self::Error>> {
        T::try_write_vectored(self, parts)
    }

    const POLLS_READ: bool = T::POLLS_READ;

    fn poll_read(
        &mut self,
        cx: &mut core::task::Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        T::poll_read(self, cx, buf)
    }

    const PARKS_WHILE_PENDING: bool = T::PARKS_WHILE_PENDING;

    fn stop_requested(&self) -> bool {
        T::stop_requested(self)
    }

    fn peer_reset(&self) -> bool {
        T::peer_reset(self)
    }
}

/// A clock that can also wait: the runtime's timer.
pub trait Timer: Clock {
    /// The runtime's sleep, which can be moved to a new deadline.
    type Sleep: Future<Output = ()> + Unpin;

    /// A sleep that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// Moves `sleep` to a new deadline, whether or not it has completed: cheaper than a new
    /// sleep on runtimes whose timers are registered.
    fn reset(&self, sleep: &mut Self::Sleep, deadline: Instant) {
        *sleep = self.sleep_until(deadline);
    }
}
