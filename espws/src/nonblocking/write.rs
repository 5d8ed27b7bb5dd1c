//! Writes with a timeout, and the linger after the last one.

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;

use embassy_futures::select::{select, Either};

use super::replies::MAX_REPLIES;
use super::{Error, Timer, Transport};
#[cfg(feature = "std")]
use crate::proto::deflate::Deflate;
use crate::proto::{RecvBuf, Storage};
use crate::time::Instant;
use crate::wire::frame::EncodedHeader;

/// The replies of one event in [`WebSocket::run`](super::WebSocket::run).
type Queued<'a> = heapless::Vec<(EncodedHeader, &'a [u8]), MAX_REPLIES>;

/// Writes `queued`, each reply after the one before, giving up after `timeout` per write;
/// `false` if one failed. On a PC the replies go out at once where the socket takes them (most
/// do), and only the rest waits, in a future on the heap that takes them from `queued`: a
/// connection's task keeps no room for them.
#[cfg(feature = "std")]
#[inline(always)]
pub(super) fn send_replies<'a, T: Transport, K: Timer>(
    io: &'a mut T,
    timer: &'a K,
    timeout: Duration,
    mut deflate: Option<&'a mut Deflate>,
    queued: &mut Queued<'a>,
) -> Sending<impl Future<Output = bool> + 'a> {
    match send_now(io, deflate.as_deref_mut(), queued) {
        Sent::All => Sending::Done(true),
        Sent::Failed => Sending::Done(false),
        Sent::Stalled(stalled) => {
            let rest = core::mem::take(queued);
            Sending::Waits(std::boxed::Box::pin(write_replies(
                io,
                timer,
                timeout,
                deflate,
                rest,
                Some(stalled),
            )))
        }
    }
}

/// [`send_replies`] on a device, whose task holds the writes' future in any case.
#[cfg(not(feature = "std"))]
#[inline(always)]
pub(super) fn send_replies<'a, T: Transport, K: Timer>(
    io: &'a mut T,
    timer: &'a K,
    timeout: Duration,
    queued: &mut Queued<'a>,
) -> impl Future<Output = bool> + 'a {
    write_replies(io, timer, timeout, core::mem::take(queued), None)
}

/// The replies written, or the boxed future writing the rest.
#[cfg(feature = "std")]
pub(super) enum Sending<F> {
    Done(bool),
    Waits(core::pin::Pin<std::boxed::Box<F>>),
}

/// How replies fared when written without waiting.
enum Sent {
    All,
    Failed,
    Stalled(Stalled),
}

/// The reply the socket did not take whole, where its write is to go on.
struct Stalled {
    /// Its place among the replies.
    index: usize,
    /// Its bytes already written.
    written: usize,
    /// Its compressed header, when it went out compressed: the payload is the deflater's
    /// [`output`](Deflate::output).
    #[cfg(feature = "std")]
    compressed: Option<EncodedHeader>,
}

/// Writes the replies that the socket takes at once, without a future: most do. Stops at the
/// first it does not take whole, and at a client's, which is masked through a buffer.
#[inline(always)]
fn send_now<T: Transport>(
    io: &mut T,
    #[cfg(feature = "std")] mut deflate: Option<&mut Deflate>,
    queued: &[(EncodedHeader, &[u8])],
) -> Sent {
    let mut rest = queued.iter();
    while let Some((header, payload)) = rest.next() {
        #[cfg(feature = "std")]
        let compressed = deflate.as_deref_mut().and_then(|d| d.compress_frame(header, payload));
        #[cfg(feature = "std")]
        let (header, payload) = compressed.as_ref().map_or((header, payload), |(h, p)| (h, p));
        // Counted only here, off the loop.
        let stalled = |written| {
            Sent::Stalled(Stalled {
                index: queued.len() - rest.len() - 1,
                written,
                #[cfg(feature = "std")]
                compressed: compressed.map(|(header, _)| header),
            })
        };
        #[cfg(feature = "client")]
        if header.mask().is_some() {
            return stalled(0);
        }
        let parts = [header.as_bytes(), *payload];
        match try_write(io, &parts) {
            Some(Ok(written)) if written == header.as_bytes().len() + payload.len() => {}
            Some(Ok(written)) => return stalled(written),
            Some(Err(_)) => return Sent::Failed,
            None => return stalled(0),
        }
    }
    Sent::All
}

/// Writes the replies from the one that `resume` stalled on (or from the first, trying each
/// without a future first), each after the one before.
async fn write_replies<T: Transport, K: Timer>(
    io: &mut T,
    timer: &K,
    timeout: Duration,
    #[cfg(feature = "std")] mut deflate: Option<&mut Deflate>,
    queued: Queued<'_>,
    resume: Option<Stalled>,
) -> bool {
    let stalled = match resume {
        Some(stalled) => stalled,
        None => {
            #[cfg(feature = "std")]
            let sent = send_now(io, deflate.as_deref_mut(), &queued);
            #[cfg(not(feature = "std"))]
            let sent = send_now(io, &queued);
            match sent {
                Sent::All => return true,
                Sent::Failed => return false,
                Sent::Stalled(stalled) => stalled,
            }
        }
    };
    let mut written = stalled.written;
    #[cfg_attr(not(feature = "std"), allow(unused_variables))]
    for (index, (header, payload)) in queued.iter().enumerate().skip(stalled.index) {
        #[cfg(feature = "std")]
        let compressed = if index == stalled.index {
            stalled.compressed.zip(deflate.as_deref().map(Deflate::output))
        } else {
            deflate.as_deref_mut().and_then(|d| d.compress_frame(header, payload))
        };
        #[cfg(feature = "std")]
        let (header, payload) = compressed.as_ref().map_or((header, payload), |(h, p)| (h, p));
        #[cfg(feature = "client")]
        if let Some(key) = header.mask() {
            if timed_write_masked(io, timer, timeout, header.as_bytes(), payload, key).await.is_err() {
                return false;
            }
            continue;
        }
        let parts = [header.as_bytes(), *payload];
        if timed_write_from(io, timer, timeout, &parts, core::mem::take(&mut written)).await.is_err() {
            return false;
        }
    }
    true
}

/// Writes what the transport takes of at most two parts at once: `None` if it cannot tell.
pub(super) fn try_write<T: Transport>(io: &mut T, parts: &[&[u8]]) -> Option<Result<usize, T::Error>> {
    if parts.len() > 2 {
        return None;
    }
    io.try_write_vectored(parts)
}

/// Writes `parts`, giving up after `timeout`.
pub(super) async fn timed_write<T: Transport, K: Timer>(
    io: &mut T,
    timer: &K,
    timeout: Duration,
    parts: &[&[u8]],
) -> Result<(), Error<T::Error>> {
    let written = match try_write(io, parts) {
        Some(Ok(written)) => written,
        Some(Err(e)) => return Err(Error::Io(e)),
        None => 0,
    };
    timed_write_from(io, timer, timeout, parts, written).await
}

/// Writes `parts` but for the first `written` bytes, giving up after `timeout`.
pub(super) async fn timed_write_from<T: Transport, K: Timer>(
    io: &mut T,
    timer: &K,
    timeout: Duration,
    parts: &[&[u8]],
    mut written: usize,
) -> Result<(), Error<T::Error>> {
    let mut rest: [&[u8]; 2] = [&[], &[]];
    let mut parts = parts;
    if written > 0 {
        for (slot, part) in rest.iter_mut().zip(parts) {
            let skip = written.min(part.len());
            *slot = &part[skip..];
            written -= skip;
        }
        parts = &rest;
    }
    if parts.iter().all(|part| part.is_empty()) {
        return Ok(());
    }
    let mut write = pin!(io.write_all_vectored(parts));
    // Most writes complete at once: only one that has to wait pays for a timer.
    if let Poll::Ready(result) = poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
        return result.map_err(Error::Io);
    }
    let deadline = timer.now() + timeout;
    match select(write, timer.sleep_until(deadline)).await {
        Either::First(result) => result.map_err(Error::Io),
        Either::Second(()) => Err(Error::WriteTimedOut),
    }
}

/// Sends FIN, then reads and discards until the peer's FIN or `deadline`.
pub(super) async fn linger<T: Transport, B: Storage, K: Timer>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    timer: &K,
    deadline: Instant,
) {
    let _ = select(io.shutdown_write(), timer.sleep_until(deadline)).await;
    discard_until(io, rx, timer, deadline).await;
}

/// Reads and discards until the peer's FIN, an error or `deadline`. Lent storage goes back to
/// its pool first, and the discarding reads go to a small buffer of their own: a lingering
/// connection holds no receive buffer. Also a client's wait for the server to close first.
pub(super) async fn discard_until<T: Transport, B: Storage, K: Timer>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    timer: &K,
    deadline: Instant,
) {
    rx.clear();
    rx.park();
    let mut scratch = [0u8; 64];
    loop {
        let space = if rx.storage().is_parked() { &mut scratch[..] } else { rx.spare_mut() };
        match select(io.read(space), timer.sleep_until(deadline)).await {
            Either::First(Ok(0)) | Either::First(Err(_)) | Either::Second(()) => return,
            Either::First(Ok(_)) => rx.clear(),
        }
    }
}

/// Writes a client frame: `header`, then `payload` masked with `key` through a buffer, a piece
/// at a time, giving up after `timeout` per piece.
#[cfg(feature = "client")]
pub(super) async fn timed_write_masked<T: Transport, K: Timer>(
    io: &mut T,
    timer: &K,
    timeout: Duration,
    header: &[u8],
    payload: &[u8],
    key: [u8; 4],
) -> Result<(), Error<T::Error>> {
    #[cfg(all(feature = "std", not(target_os = "espidf")))]
    if let Some(masked) = crate::blocking::masked_copy(payload, key) {
        return timed_write(io, timer, timeout, &[header, &masked]).await;
    }
    const CHUNK: usize = crate::blocking::MASK_CHUNK;
    let mut scratch = [0u8; CHUNK];
    let mut offset = 0u64;
    let mut head = header;
    let mut rest = payload;
    loop {
        let n = rest.len().min(CHUNK);
        let masked = &mut scratch[..n];
        masked.copy_from_slice(&rest[..n]);
        crate::wire::mask::apply_mask(masked, key, offset);
        timed_write(io, timer, timeout, &[head, masked]).await?;
        head = &[];
        offset += n as u64;
        rest = &rest[n..];
        if rest.is_empty() {
            return Ok(());
        }
    }
}
