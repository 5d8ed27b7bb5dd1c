//! Control frames: the pongs, pings and close frames the connection queues and sends.

use crate::wire::close::{self, CloseCode};
use crate::wire::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::wire::mask::apply_mask;

/// The longest control frame header: two bytes and a masking key (payloads are under 126).
const CONTROL_HEADER_LEN: usize = 6;

/// A control frame ready to write: header and payload, at most 131 bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ControlFrame {
    bytes: [u8; CONTROL_HEADER_LEN + MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl ControlFrame {
    /// A frame of `opcode` carrying `payload` (cut to 125 bytes), masked with `mask` when given.
    pub(crate) fn new(opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) -> Self {
        let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        let header = FrameHeader { fin: true, opcode, mask, payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        let mut bytes = [0u8; CONTROL_HEADER_LEN + MAX_CONTROL_PAYLOAD];
        bytes[..head_len].copy_from_slice(&head[..head_len]);
        let body = &mut bytes[head_len..head_len + payload.len()];
        body.copy_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(body, key, 0);
        }
        ControlFrame { bytes, len: (head_len + payload.len()) as u8 }
    }

    /// An unmasked (server) close frame with `code` and `reason` (cut to fit 125 bytes at a
    /// character boundary).
    pub fn close(code: CloseCode, reason: &str) -> Self {
        let payload = Payload::close(code, reason);
        ControlFrame::new(OpCode::Close, payload.as_bytes(), None)
    }

    /// The frame's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A control payload waiting to be sent.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Payload {
    bytes: [u8; MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl Payload {
    /// A copy of `data`, cut to 125 bytes.
    pub(crate) fn copy_of(data: &[u8]) -> Self {
        let len = data.len().min(MAX_CONTROL_PAYLOAD);
        let mut bytes = [0u8; MAX_CONTROL_PAYLOAD];
        bytes[..len].copy_from_slice(&data[..len]);
        Payload { bytes, len: len as u8 }
    }

    /// A close payload: the code, then the reason cut at a character boundary.
    pub(crate) fn close(code: CloseCode, reason: &str) -> Self {
        let mut bytes = [0u8; MAX_CONTROL_PAYLOAD];
        let len = close::encode_close_payload(code, reason, &mut bytes);
        Payload { bytes, len: len as u8 }
    }

    /// The payload's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}
