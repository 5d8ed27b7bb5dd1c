//! Writes with a timeout, and the linger after the last one.

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;

use embassy_futures::select::{select, Either};

use super::{Error, Timer, Transport};
use crate::proto::{RecvBuf, Storage};
use crate::time::Instant;

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
