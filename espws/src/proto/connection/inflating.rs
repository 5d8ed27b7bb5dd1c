//! The connection with permessage-deflate: turning it on, polling with an inflater, and the
//! header of a compressed message. The inflating receiver itself is in `receive.rs`.

use super::{Connection, PendingEvent};
use crate::proto::deflate::Inflate;
use crate::proto::{DataKind, Event, RecvBuf, SendError, Storage};
use crate::wire::frame::EncodedHeader;

impl Connection {
    /// Lets the peer compress messages (permessage-deflate was agreed in the handshake): RSV1 on a
    /// message's first frame is then allowed, and such a message is inflated by the
    /// [`Inflate`] given to [`poll_pending_inflating`](Self::poll_pending_inflating).
    ///
    /// Compressed messages need [`Delivery::Chunked`](crate::proto::Delivery::Chunked): inflated
    /// chunks are delivered from the inflate window, so a whole message never has to fit
    /// anywhere.
    pub fn enable_deflate(&mut self) {
        self.deflate = true;
    }

    /// Whether permessage-deflate is on.
    pub fn deflate_enabled(&self) -> bool {
        self.deflate
    }

    /// Like [`poll_pending`](Self::poll_pending), inflating compressed messages with `inflate`.
    /// Look at the event with [`event_inflated`](Self::event_inflated).
    pub fn poll_pending_inflating<B: Storage, W: AsRef<[u8]> + AsMut<[u8]>>(
        &mut self,
        rx: &mut RecvBuf<B>,
        inflate: &mut Inflate<W>,
    ) -> Option<PendingEvent> {
        self.poll_pending_with(rx, || Some(inflate))
    }

    /// The event a [`poll_pending_inflating`](Self::poll_pending_inflating) found, borrowing the
    /// buffer or the inflate window.
    pub fn event_inflated<'b, B: Storage, W: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        pending: PendingEvent,
        rx: &'b RecvBuf<B>,
        inflate: &'b Inflate<W>,
    ) -> Event<'b> {
        self.event_with(pending, rx, || Some(inflate))
    }

    /// Encodes the header of a whole compressed message of `len` bytes (RSV1 set); only once
    /// permessage-deflate is on.
    pub fn send_header_compressed(&mut self, kind: DataKind, len: u64) -> Result<EncodedHeader, SendError> {
        if !self.deflate {
            return Err(SendError::NotNegotiated);
        }
        Ok(self.send_header(kind, len, true, true)?.with_rsv1())
    }
}
