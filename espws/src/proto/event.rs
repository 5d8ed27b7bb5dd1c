//! What the connection tells its driver and application: data, pings, pongs and the end.

use super::ProtocolError;
use crate::wire::close::CloseCode;
use crate::wire::frame::OpCode;

/// What a data message carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// UTF-8 text, validated before delivery.
    Text,
    /// Arbitrary bytes.
    Binary,
}

impl DataKind {
    pub(crate) const fn opcode(self) -> OpCode {
        match self {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        }
    }
}

/// A received data message, or a chunk of one in [`Delivery::Chunked`](crate::Delivery::Chunked).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Data<'a> {
    /// Text or binary.
    pub kind: DataKind,
    /// The unmasked payload, borrowed from the receive buffer.
    pub payload: &'a [u8],
    /// This is the first chunk of its message.
    pub first: bool,
    /// This is the last chunk of its message.
    pub last: bool,
}

impl<'a> Data<'a> {
    /// Whether this is a whole message rather than a chunk of one.
    pub fn is_whole(&self) -> bool {
        self.first && self.last
    }

    /// The payload as text, if this is a whole text message.
    ///
    /// The state machine already validated it; this re-checks (fast, SIMD where available)
    /// because the crate forbids `unsafe`.
    pub fn text(&self) -> Option<&'a str> {
        if self.kind == DataKind::Text && self.is_whole() {
            simdutf8::basic::from_utf8(self.payload).ok()
        } else {
            None
        }
    }
}

/// Which side of the connection did something.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// This server.
    Local,
    /// The client.
    Peer,
}

/// How a connection ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Both sides exchanged close frames; `code` is the peer's, `initiator` started it.
    Handshake {
        /// The code in the peer's close frame (1005 if it had none).
        code: CloseCode,
        /// Who sent the first close frame.
        initiator: Side,
    },
    /// This side failed the connection because the peer broke the protocol.
    Failed(ProtocolError),
    /// The peer did not answer a ping in time.
    PongTimeout,
    /// The peer did not answer this side's close frame in time.
    CloseTimeout,
    /// The transport ended without a close handshake.
    Dropped,
}

impl Closed {
    /// The close code that best describes the end, for logs: the peer's code after a
    /// handshake, the code sent when failing, 1006 when nothing was exchanged.
    pub const fn code(self) -> CloseCode {
        match self {
            Closed::Handshake { code, .. } => code,
            Closed::Failed(e) => e.close_code(),
            Closed::PongTimeout => CloseCode::GOING_AWAY,
            Closed::CloseTimeout | Closed::Dropped => CloseCode::ABNORMAL,
        }
    }
}

impl Closed {
    /// This side's one-line explanation, for ends the peer gave no reason for.
    pub const fn explanation(self) -> &'static str {
        match self {
            Closed::Handshake { .. } => "",
            Closed::Failed(e) => e.reason(),
            Closed::PongTimeout => "no answer to ping",
            Closed::CloseTimeout => "close handshake timed out",
            Closed::Dropped => "",
        }
    }

    /// Whether the transport should linger after its FIN: only a peer still reading gains from
    /// it (it gets the close frame rather than a reset). A dead or departed one does not.
    pub const fn wants_linger(self) -> bool {
        matches!(self, Closed::Handshake { .. } | Closed::Failed(_))
    }
}

impl Closed {
    /// How it ended, in words, after the close code: "closed by the peer", "no answer to
    /// ping".
    pub const fn description(self) -> &'static str {
        match self {
            Closed::Handshake { initiator: Side::Peer, .. } => "closed by the peer",
            Closed::Handshake { initiator: Side::Local, .. } => "closed by this side",
            Closed::Failed(e) => e.reason(),
            Closed::PongTimeout => "no answer to ping",
            Closed::CloseTimeout => "no answer to the close frame",
            Closed::Dropped => "connection dropped without a close frame",
        }
    }
}

impl core::fmt::Display for Closed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}, {}", self.code(), self.description())
    }
}

/// Something the application should know about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A data message, or a chunk of one.
    Data(Data<'a>),
    /// The peer pinged; the pong is already queued.
    Ping(&'a [u8]),
    /// The peer sent a pong.
    Pong(&'a [u8]),
    /// The connection is over. Flush [`Connection::poll_transmit`](crate::Connection::poll_transmit), then drop the transport.
    Closed {
        /// How it ended.
        how: Closed,
        /// The peer's close reason, or this side's explanation.
        reason: &'a str,
    },
}
