//! permessage-deflate (RFC 7692): the negotiation, the inflater and (with `std`) the deflater.
//!
//! The connection inflates compressed messages through an [`Inflate`] the caller owns, so a
//! connection without compression pays nothing for it. Its RAM is the decompressor's tables
//! ([`Inflate::STATE_BYTES`]) plus a window of 2^`client_max_window_bits` bytes: a client that
//! accepted `client_max_window_bits=9` costs 512 bytes of window, one that insists on 15 (it
//! did not offer the parameter) costs 32 KiB.
//!
//! The std drivers allocate both halves only for a connection that agreed to compression. A `no_std` program drives [`Connection::poll_pending_inflating`]
//! with an `Inflate` over memory of its own, and sends uncompressed, which the RFC allows.
//!
//! [`Connection::poll_pending_inflating`]: crate::proto::Connection::poll_pending_inflating

mod inflate;
mod negotiate;
#[cfg(feature = "std")]
mod outgoing;

pub(crate) use inflate::Inflater;
pub use inflate::{Inflate, InflateError, WindowError};
pub use negotiate::{
    check_answer, negotiate, Agreed, AnswerError, DeflateConfig, CLIENT_OFFER, EXTENSION_NAME,
};
#[cfg(feature = "std")]
pub use outgoing::Deflate;

#[cfg(feature = "std")]
use crate::proto::Role;
use crate::proto::{Connection, Event, PendingEvent, RecvBuf, Storage};

/// Where a std driver keeps a connection's inflater, allocated only once compression is agreed.
#[cfg(feature = "std")]
pub(crate) type InflateSlot = Option<std::boxed::Box<Inflate<std::vec::Vec<u8>>>>;
/// Where a driver keeps a connection's inflater: nothing without `std`.
#[cfg(not(feature = "std"))]
pub(crate) type InflateSlot = ();

/// A driver's compression state for one connection: empty until permessage-deflate is agreed.
#[derive(Default)]
pub(crate) struct Compression {
    /// The inflater.
    pub(crate) inflate: InflateSlot,
    /// The deflater.
    #[cfg(feature = "std")]
    pub(crate) deflate: Option<std::boxed::Box<Deflate>>,
}

impl Compression {
    /// Turns compression on for `conn`, as `agreed` in the handshake. Out of line: connections
    /// that never compress do not carry its frame.
    #[cfg(feature = "std")]
    #[inline(never)]
    pub(crate) fn enable(&mut self, conn: &mut Connection, agreed: &Agreed) {
        conn.enable_deflate();
        let (inflate, deflate) = start(agreed, conn.role());
        self.inflate = Some(inflate);
        self.deflate = Some(deflate);
    }
}

/// The sides of an agreement as the end `role` sees them: the inflater and the deflater read
/// `client_*` as the peer's parameters and `server_*` as their own.
#[cfg(feature = "std")]
fn as_seen_by(agreed: &Agreed, role: Role) -> Agreed {
    if role.is_server() {
        *agreed
    } else {
        agreed.mirrored()
    }
}

/// The inflater and the deflater for what was `agreed`, at the end `role` is: a server
/// inflates with the client's window and compresses with its own, a client the other way round.
#[cfg(feature = "std")]
#[inline(never)]
fn start(
    agreed: &Agreed,
    role: Role,
) -> (std::boxed::Box<Inflate<std::vec::Vec<u8>>>, std::boxed::Box<Deflate>) {
    let ours = as_seen_by(agreed, role);
    let window = std::vec![0u8; Inflate::<std::vec::Vec<u8>>::window_len(ours.client_max_window_bits)];
    // The window has the length `new` asks for.
    let inflate = Inflate::new(window, &ours).unwrap_or_else(|_| unreachable!());
    (std::boxed::Box::new(inflate), std::boxed::Box::new(Deflate::new(&ours)))
}

/// The next pending event, inflating through the slot's inflater if there is one.
#[inline(always)]
pub(crate) fn poll_pending<B: Storage>(
    conn: &mut Connection,
    rx: &mut RecvBuf<B>,
    slot: &mut InflateSlot,
) -> Option<PendingEvent> {
    #[cfg(feature = "std")]
    return conn
        .poll_pending_with(rx, move || slot.as_deref_mut().map(|inflate| inflate as &mut dyn Inflater));
    #[cfg(not(feature = "std"))]
    {
        let _ = slot;
        conn.poll_pending_with(rx, || None)
    }
}

/// The event [`poll_pending`] found.
#[inline(always)]
pub(crate) fn event<'b, B: Storage>(
    conn: &Connection,
    pending: PendingEvent,
    rx: &'b RecvBuf<B>,
    slot: &'b InflateSlot,
) -> Event<'b> {
    #[cfg(feature = "std")]
    return conn.event_with(pending, rx, move || slot.as_deref().map(|inflate| inflate as &dyn Inflater));
    #[cfg(not(feature = "std"))]
    {
        let _ = slot;
        conn.event_with(pending, rx, || None)
    }
}

#[cfg(test)]
mod tests;
