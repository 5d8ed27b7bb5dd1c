//! What an event handler of [`WebSocket::run`](super::WebSocket::run) answers with: replies
//! queued while the event borrows the receive buffer, written once the handler returns.

use crate::proto::{Connection, SendError};
use crate::wire::frame::EncodedHeader;
use crate::{CloseCode, DataKind};

/// How many replies one event's handler may queue with [`WebSocket::run`](super::WebSocket::run).
pub const MAX_REPLIES: usize = 4;

/// The replies an event handler queues in [`WebSocket::run`](super::WebSocket::run), written once it returns.
pub struct Replies<'c, 'a> {
    pub(super) conn: &'c mut Connection,
    pub(super) queued: heapless::Vec<(EncodedHeader, &'a [u8]), MAX_REPLIES>,
    pub(super) close: Option<(CloseCode, &'a str)>,
}

/// Why a reply could not be queued.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// The frame may not be sent now (see [`SendError`]).
    Send(SendError),
    /// [`MAX_REPLIES`] replies are queued already for this event.
    Full,
}

impl<'a> Replies<'_, 'a> {
    /// Queues one frame of a message (whole when `first` and `last` are both set); the payload
    /// may be the event's own. Inline always: an echo's handler is this call and little else.
    #[inline(always)]
    pub fn send_part(
        &mut self,
        kind: DataKind,
        payload: &'a [u8],
        first: bool,
        last: bool,
    ) -> Result<(), ReplyError> {
        if self.queued.is_full() {
            return Err(ReplyError::Full);
        }
        let header =
            self.conn.send_header(kind, payload.len() as u64, first, last).map_err(ReplyError::Send)?;
        let _ = self.queued.push((header, payload));
        Ok(())
    }

    /// Queues a whole message.
    pub fn send(&mut self, kind: DataKind, payload: &'a [u8]) -> Result<(), ReplyError> {
        self.send_part(kind, payload, true, true)
    }

    /// Queues a whole text message.
    pub fn send_text(&mut self, text: &'a str) -> Result<(), ReplyError> {
        self.send_part(DataKind::Text, text.as_bytes(), true, true)
    }

    /// Queues a whole binary message.
    pub fn send_binary(&mut self, bytes: &'a [u8]) -> Result<(), ReplyError> {
        self.send_part(DataKind::Binary, bytes, true, true)
    }

    /// Starts the closing handshake after the queued replies.
    pub fn close(&mut self, code: CloseCode, reason: &'a str) -> Result<(), ReplyError> {
        if !code.is_allowed_on_wire() {
            return Err(ReplyError::Send(SendError::CloseCodeNotAllowed));
        }
        self.close = Some((code, reason));
        Ok(())
    }
}
