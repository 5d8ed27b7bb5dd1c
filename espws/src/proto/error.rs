//! Why a connection fails or a send is refused; each protocol error maps to its close code.

use crate::wire::close::{CloseCode, CloseError};
use crate::wire::frame::FrameError;

/// A way the peer broke the protocol; each maps to the close code it is answered with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// A malformed frame header (1002).
    Frame(FrameError),
    /// A client frame without a masking key (1002).
    UnmaskedFrame,
    /// A server frame with a masking key (1002).
    MaskedFrame,
    /// A continuation frame with no message in progress (1002).
    OrphanContinuation,
    /// A new text or binary frame while a fragmented message is in progress (1002).
    ExpectedContinuation,
    /// A close frame whose payload is invalid (1002).
    InvalidClose(CloseError),
    /// A text message that is not UTF-8 (1007).
    InvalidUtf8,
    /// A message larger than the configured or buffer-imposed maximum (1009); for a compressed
    /// message, its inflated size.
    MessageTooBig,
    /// RSV1 on a control or continuation frame: only a message's first frame may say it is
    /// compressed (RFC 7692 section 6.1) (1002).
    MisplacedRsv1,
    /// A compressed message that does not inflate (1007).
    BadCompression,
}

impl ProtocolError {
    /// The close code this error is answered with.
    pub const fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::BadCompression => CloseCode::INVALID_PAYLOAD,
            ProtocolError::MessageTooBig => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short explanation, sent as the close reason.
    pub const fn reason(self) -> &'static str {
        match self {
            ProtocolError::Frame(FrameError::ReservedBits) => "RSV bits set without an extension",
            ProtocolError::Frame(FrameError::ReservedOpcode) => "reserved opcode",
            ProtocolError::Frame(FrameError::FragmentedControl) => "fragmented control frame",
            ProtocolError::Frame(FrameError::ControlTooLong) => "control frame over 125 bytes",
            ProtocolError::Frame(FrameError::LengthOverflow) => "64-bit length with the top bit set",
            ProtocolError::UnmaskedFrame => "client frames must be masked",
            ProtocolError::MaskedFrame => "server frames must not be masked",
            ProtocolError::OrphanContinuation => "continuation frame without a message",
            ProtocolError::ExpectedContinuation => "new message before the last one ended",
            ProtocolError::InvalidClose(CloseError::OneBytePayload) => "close payload of 1 byte",
            ProtocolError::InvalidClose(CloseError::CodeNotAllowed(_)) => "close code not allowed",
            ProtocolError::InvalidClose(CloseError::ReasonNotUtf8) => "close reason is not UTF-8",
            ProtocolError::InvalidUtf8 => "text is not valid UTF-8",
            ProtocolError::MessageTooBig => "message too big",
            ProtocolError::MisplacedRsv1 => "RSV1 set on a control or continuation frame",
            ProtocolError::BadCompression => "compressed data does not inflate",
        }
    }
}

/// Why a frame could not be sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// A close frame was already sent or queued.
    Closed,
    /// `first` was set while a fragmented message is still being sent.
    MessageInProgress,
    /// `first` was clear but no fragmented message is being sent.
    NoMessageInProgress,
    /// The code may not be sent in a close frame (1005, 1006, 1015, unassigned).
    CloseCodeNotAllowed,
    /// A compressed frame, but permessage-deflate was not agreed.
    NotNegotiated,
}
