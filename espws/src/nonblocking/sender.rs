//! Frames out while an event borrows the connection's receive buffer: [`Sender`].

use core::time::Duration;

use super::error::Error;
use super::write::timed_write;
#[cfg(feature = "client")]
use super::write::timed_write_masked;
use super::{Timer, Transport};
#[cfg(feature = "std")]
use crate::proto::deflate;
use crate::proto::{Connection, SendError};
use crate::{CloseCode, DataKind};

/// Sends frames on a connection while an event borrows its receive buffer.
pub struct Sender<'a, T, K> {
    pub(super) io: &'a mut T,
    pub(super) conn: &'a mut Connection,
    pub(super) timer: &'a K,
    pub(super) write_timeout: Duration,
    #[cfg(feature = "std")]
    pub(super) deflate: Option<&'a mut deflate::Deflate>,
}

impl<T: Transport, K: Timer> Sender<'_, T, K> {
    /// Sends a whole message.
    pub async fn send(&mut self, kind: DataKind, payload: &[u8]) -> Result<(), Error<T::Error>> {
        self.send_part(kind, payload, true, true).await
    }

    /// Sends a whole text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error<T::Error>> {
        self.send_part(DataKind::Text, text.as_bytes(), true, true).await
    }

    /// Sends a whole binary message.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Result<(), Error<T::Error>> {
        self.send_part(DataKind::Binary, bytes, true, true).await
    }

    /// Sends one frame of a message: whole when `first` and `last` are both set.
    pub async fn send_part(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        first: bool,
        last: bool,
    ) -> Result<(), Error<T::Error>> {
        let header = self.conn.send_header(kind, payload.len() as u64, first, last)?;
        #[cfg(feature = "std")]
        let compressed = self.deflate.as_deref_mut().and_then(|d| d.compress_frame(&header, payload));
        #[cfg(feature = "std")]
        let (header, payload) = compressed.unwrap_or((header, payload));
        #[cfg(feature = "client")]
        let written = match header.mask() {
            None => timed_write(self.io, self.timer, self.write_timeout, &[header.as_bytes(), payload]).await,
            Some(key) => {
                timed_write_masked(self.io, self.timer, self.write_timeout, header.as_bytes(), payload, key)
                    .await
            }
        };
        // Without the client feature no connection has the client's role: headers are unmasked.
        #[cfg(not(feature = "client"))]
        let written =
            timed_write(self.io, self.timer, self.write_timeout, &[header.as_bytes(), payload]).await;
        if written.is_err() {
            // A peer that stopped reading past the write timeout is treated as gone.
            self.conn.handle_eof();
        }
        written
    }

    /// Writes bytes that already form complete frames (a queued broadcast, say) as they are.
    ///
    /// The caller vouches that they are whole frames of this end: unmasked for a server, masked
    /// with fresh keys for a client.
    pub async fn send_framed(&mut self, frames: &[u8]) -> Result<(), Error<T::Error>> {
        if !self.conn.can_send() {
            return Err(Error::Send(SendError::Closed));
        }
        if self.conn.is_mid_message() {
            return Err(Error::Send(SendError::MessageInProgress));
        }
        let written = timed_write(self.io, self.timer, self.write_timeout, &[frames]).await;
        if written.is_err() {
            self.conn.handle_eof();
        }
        written
    }

    /// Starts the closing handshake; the close frame goes out with the next driver call.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error<T::Error>> {
        self.conn.close(code, reason, self.timer.now()).map_err(Error::Send)
    }

    /// Gives the connection up at once, without a close frame: for when a frame was cut short
    /// and the stream can carry nothing more. The next driver call reports it closed.
    pub fn abort(&mut self) {
        self.conn.handle_eof();
    }

    /// Whether data frames may still be sent.
    pub fn can_send(&self) -> bool {
        self.conn.can_send()
    }
}
