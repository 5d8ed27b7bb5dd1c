//! permessage-deflate (RFC 7692): the negotiation, the inflater and (with `std`) the deflater.
//!
//! The connection inflates compressed messages through an [`Inflate`] the caller owns, so a
//! connection without compression pays nothing for it. Its RAM is the decompressor's tables
//! ([`Inflate::STATE_BYTES`]) plus a window of 2^`client_max_window_bits` bytes: a client that
//! accepted `client_max_window_bits=9` costs 512 bytes of window, one that insists on 15 (it
//! did not offer the parameter) costs 32 KiB.

mod inflate;
mod negotiate;
#[cfg(feature = "std")]
mod outgoing;

pub(crate) use inflate::Inflater;
pub use inflate::{Inflate, InflateError, WindowError};
pub use negotiate::{negotiate, Agreed, DeflateConfig, EXTENSION_NAME};
#[cfg(feature = "std")]
pub use outgoing::Deflate;

#[cfg(feature = "std")]
pub use outgoing::compress_frame;

/// Where a driver keeps a connection's inflater: boxed with `std`, nothing without (a no_std
/// driver passes its own [`Inflate`] to the connection).
#[cfg(feature = "std")]
pub type InflateSlot = Option<std::boxed::Box<Inflate<std::vec::Vec<u8>>>>;
/// Where a driver keeps a connection's inflater: nothing without `std`.
#[cfg(not(feature = "std"))]
pub type InflateSlot = ();

/// An inflater for `agreed`, with a window of the size it needs.
#[cfg(feature = "std")]
#[inline(never)]
pub fn boxed_inflate(agreed: &Agreed) -> std::boxed::Box<Inflate<std::vec::Vec<u8>>> {
    let window = std::vec![0u8; Inflate::<std::vec::Vec<u8>>::window_len(agreed.client_max_window_bits)];
    // The window has the length `new` asks for.
    std::boxed::Box::new(Inflate::new(window, agreed).unwrap_or_else(|_| unreachable!()))
}

/// The next pending event, inflating through the slot's inflater if there is one.
#[inline(always)]
pub(crate) fn poll_pending<B: AsRef<[u8]> + AsMut<[u8]>>(
    conn: &mut crate::proto::Connection,
    rx: &mut crate::proto::RecvBuf<B>,
    slot: &mut InflateSlot,
) -> Option<crate::proto::PendingEvent> {
    #[cfg(feature = "std")]
    if let Some(inflate) = slot.as_deref_mut() {
        return poll_inflating(conn, rx, inflate);
    }
    let _ = slot;
    conn.poll_pending(rx)
}

/// Not inlined, so that a driver's loop does not carry the inflating path's stack.
#[cfg(feature = "std")]
#[inline(never)]
fn poll_inflating<B: AsRef<[u8]> + AsMut<[u8]>>(
    conn: &mut crate::proto::Connection,
    rx: &mut crate::proto::RecvBuf<B>,
    inflate: &mut Inflate<std::vec::Vec<u8>>,
) -> Option<crate::proto::PendingEvent> {
    conn.poll_pending_inflating(rx, inflate)
}

/// The event [`poll_pending`] found.
#[inline(always)]
pub(crate) fn event<'b, B: AsRef<[u8]> + AsMut<[u8]>>(
    conn: &crate::proto::Connection,
    pending: crate::proto::PendingEvent,
    rx: &'b crate::proto::RecvBuf<B>,
    slot: &'b InflateSlot,
) -> crate::proto::Event<'b> {
    #[cfg(feature = "std")]
    if let Some(inflate) = slot.as_deref() {
        return conn.event_inflated(pending, rx, inflate);
    }
    let _ = slot;
    conn.event(pending, rx)
}

#[cfg(test)]
mod tests;
