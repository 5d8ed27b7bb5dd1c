//! Why a driver call failed.

use crate::proto::SendError;

/// Why a driver call failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The transport failed; the connection is over.
    Io(E),
    /// A write stayed blocked past the write timeout: the peer stopped reading and is dropped.
    WriteTimedOut,
    /// The frame could not be sent (see [`SendError`]).
    Send(SendError),
}

impl<E> From<SendError> for Error<E> {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}
