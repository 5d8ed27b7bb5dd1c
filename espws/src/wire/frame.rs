//! Frame headers (RFC 6455 section 5.2): parsing and encoding.

use super::Status;
use crate::wire::close::CloseCode;

/// The longest possible frame header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The longest payload a control frame may carry (RFC 6455 section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// What a frame carries (RFC 6455 section 5.2, "Opcode").
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// A further fragment of the message in progress.
    Continuation = 0x0,
    /// The first frame of a text message.
    Text = 0x1,
    /// The first frame of a binary message.
    Binary = 0x2,
    /// Starts or answers the closing handshake.
    Close = 0x8,
    /// Asks the peer for a pong.
    Ping = 0x9,
    /// Answers a ping, or is a unidirectional heartbeat.
    Pong = 0xA,
}

impl OpCode {
    /// Decodes the 4-bit opcode field; `None` for the reserved values.
    pub const fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Whether this is a control frame (close, ping or pong).
    pub const fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }
}

/// A frame header, as parsed from or encoded to the wire.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// This is the final fragment of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key; clients must send one, servers must not.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// Why a frame header was refused. Each maps to the close code it causes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// An RSV bit is set, and no extension was negotiated.
    ReservedBits,
    /// The opcode is one of the reserved values.
    ReservedOpcode,
    /// A control frame without FIN.
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong,
    /// A 64-bit length with its most significant bit set.
    LengthOverflow,
}

impl FrameError {
    /// The close code this error answers with: all are protocol errors.
    pub const fn close_code(self) -> CloseCode {
        CloseCode::PROTOCOL_ERROR
    }
}

impl FrameHeader {
    /// Parses a header from the start of `input`.
    ///
    /// Returns [`Status::Partial`] until all header bytes are present. Checks only what the
    /// header alone decides; rules that depend on the connection (masking, fragmentation
    /// order, size limits) belong to the state machine.
    pub fn parse(input: &[u8]) -> Result<Status<FrameHeader>, FrameError> {
        Ok(match Self::parse_rsv1(input, false)? {
            Status::Complete((header, _), len) => Status::Complete(header, len),
            Status::Partial => Status::Partial,
        })
    }

    /// Like [`parse`](Self::parse), with RSV1 allowed when `rsv1_allowed` (a negotiated
    /// extension, permessage-deflate, gives it a meaning); also returns whether it was set.
    pub fn parse_rsv1(input: &[u8], rsv1_allowed: bool) -> Result<Status<(FrameHeader, bool)>, FrameError> {
        let [b0, b1, ..] = *input else {
            return Ok(Status::Partial);
        };
        let reserved = if rsv1_allowed { 0x30 } else { 0x70 };
        if b0 & reserved != 0 {
            return Err(FrameError::ReservedBits);
        }
        let rsv1 = b0 & 0x40 != 0;
        let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(FrameError::ReservedOpcode)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(FrameError::FragmentedControl);
            }
            if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                return Err(FrameError::ControlTooLong);
            }
        }
        let (payload_len, mut at) = match len7 {
            126 => {
                let Some(bytes) = input.get(2..4) else {
                    return Ok(Status::Partial);
                };
                (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4)
            }
            127 => {
                let Some(bytes) = input.get(2..10) else {
                    return Ok(Status::Partial);
                };
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                let len = u64::from_be_bytes(be);
                if len >> 63 != 0 {
                    return Err(FrameError::LengthOverflow);
                }
                (len, 10)
            }
            short => (u64::from(short), 2),
        };
        let mask = if masked {
            let Some(bytes) = input.get(at..at + 4) else {
                return Ok(Status::Partial);
            };
            at += 4;
            Some([bytes[0], bytes[1], bytes[2], bytes[3]])
        } else {
            None
        };
        Ok(Status::Complete((FrameHeader { fin, opcode, mask, payload_len }, rsv1), at))
    }

    /// The number of bytes [`encode`](Self::encode) writes for this header.
    pub const fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes the header at the front of `out` with the shortest length form; returns its
    /// length (the rest of `out` is zeroed). This is the crate's one frame-header encoder.
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        // The header is put together in one integer (little-endian: its first byte lowest) and
        // stored at once, rather than byte by byte for each length form.
        let (mut header, mut len) = match self.payload_len {
            len @ 0..=125 => (u128::from(len) << 8, 2),
            len @ 126..=0xFFFF => (126 << 8 | u128::from((len as u16).swap_bytes()) << 16, 4),
            len => (127 << 8 | u128::from(len.swap_bytes()) << 16, 10),
        };
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        header |= u128::from((u8::from(self.fin) << 7) | self.opcode as u8) | mask_bit << 8;
        if let Some(key) = self.mask {
            header |= u128::from(u32::from_le_bytes(key)) << (8 * len);
            len += 4;
        }
        out.copy_from_slice(&header.to_le_bytes()[..MAX_HEADER_LEN]);
        len
    }
}

/// An encoded frame header, ready to be written before its payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct EncodedHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl EncodedHeader {
    /// No header at all (zero bytes), as a placeholder.
    pub const EMPTY: EncodedHeader = EncodedHeader { bytes: [0; MAX_HEADER_LEN], len: 0 };

    /// Encodes `header`.
    #[inline]
    pub fn new(header: &FrameHeader) -> Self {
        let mut bytes = [0; MAX_HEADER_LEN];
        let len = header.encode(&mut bytes) as u8;
        EncodedHeader { bytes, len }
    }

    /// Encodes the header of an unmasked (server) frame. Inlined, the encoder's mask branch
    /// folds away.
    #[inline]
    pub fn unmasked(fin: bool, opcode: OpCode, payload_len: u64) -> Self {
        EncodedHeader::new(&FrameHeader { fin, opcode, mask: None, payload_len })
    }

    /// The same header with RSV1 set: the first frame of a compressed message (RFC 7692).
    pub fn with_rsv1(mut self) -> Self {
        self.bytes[0] |= 0x40;
        self
    }

    /// The header's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The masking key the header carries (a client's), which the payload must be masked with.
    #[inline]
    pub fn mask(&self) -> Option<[u8; 4]> {
        let len = usize::from(self.len);
        if len < 2 || self.bytes[1] & 0x80 == 0 {
            return None;
        }
        let key = &self.bytes[len - 4..len];
        Some([key[0], key[1], key[2], key[3]])
    }
}

/// A whole client frame, masked with `key`, whose first byte is `first_byte` as given (FIN, RSV
/// bits and opcode, so that a test can send any of them): for clients and tests.
///
/// It masks byte by byte by the RFC's definition, not with the fast [`apply_mask`](crate::wire::mask::apply_mask),
/// so that every test built on it checks the server's unmasking against the reference.
#[cfg(any(test, all(feature = "testing", feature = "std")))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "testing", feature = "std"))))]
pub fn masked_client_frame(first_byte: u8, payload: &[u8], key: [u8; 4]) -> std::vec::Vec<u8> {
    let header = FrameHeader {
        fin: first_byte & 0x80 != 0,
        opcode: OpCode::Binary,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut frame = EncodedHeader::new(&header).as_bytes().to_vec();
    frame[0] = first_byte;
    let start = frame.len();
    frame.extend_from_slice(payload);
    crate::wire::mask::apply_mask_bytewise(&mut frame[start..], key, 0);
    frame
}

/// Reads one unmasked (server) frame from `stream`: its first byte (FIN, RSV bits, opcode) and
/// its payload. For test clients; it trusts the announced length.
#[cfg(any(test, all(feature = "testing", feature = "std")))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "testing", feature = "std"))))]
pub fn read_server_frame(stream: &mut impl std::io::Read) -> std::io::Result<(u8, std::vec::Vec<u8>)> {
    let mut head = [0u8; MAX_HEADER_LEN];
    stream.read_exact(&mut head[..2])?;
    let extra = match head[1] & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    stream.read_exact(&mut head[2..2 + extra])?;
    let len = match FrameHeader::parse(&head[..2 + extra]) {
        Ok(Status::Complete(header, _)) => header.payload_len as usize,
        other => return Err(std::io::Error::other(std::format!("not a server frame: {other:?}"))),
    };
    let mut payload = std::vec![0u8; len];
    stream.read_exact(&mut payload)?;
    Ok((head[0], payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (FrameHeader, usize) {
        match FrameHeader::parse(input) {
            Ok(Status::Complete(h, n)) => (h, n),
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    // RFC 6455 section 5.7, each example byte for byte.
    #[test]
    fn rfc_5_7_single_frame_unmasked_text() {
        let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (h, n) = parse_all(&wire);
        assert_eq!((h.fin, h.opcode, h.mask, h.payload_len, n), (true, OpCode::Text, None, 5, 2));
        assert_eq!(&wire[n..], b"Hello");
        assert_eq!(EncodedHeader::new(&h).as_bytes(), &wire[..2]);
    }

    #[test]
    fn rfc_5_7_single_frame_masked_text() {
        let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let (h, n) = parse_all(&wire);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!((h.payload_len, n), (5, 6));
        let mut payload = wire[n..].to_vec();
        crate::wire::mask::apply_mask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
        assert_eq!(EncodedHeader::new(&h).as_bytes(), &wire[..6]);
    }

    #[test]
    fn rfc_5_7_fragmented_unmasked_text() {
        let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let last = [0x80, 0x02, 0x6c, 0x6f];
        let (h1, n1) = parse_all(&first);
        let (h2, n2) = parse_all(&last);
        assert_eq!((h1.fin, h1.opcode, h1.payload_len), (false, OpCode::Text, 3));
        assert_eq!((h2.fin, h2.opcode, h2.payload_len), (true, OpCode::Continuation, 2));
        assert_eq!([&first[n1..], &last[n2..]].concat(), b"Hello");
        assert_eq!(EncodedHeader::new(&h1).as_bytes(), &first[..2]);
        assert_eq!(EncodedHeader::new(&h2).as_bytes(), &last[..2]);
    }

    #[test]
    fn rfc_5_7_unmasked_ping_and_masked_pong() {
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let pong = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let (hp, _) = parse_all(&ping);
        let (hq, nq) = parse_all(&pong);
        assert_eq!((hp.opcode, hp.payload_len), (OpCode::Ping, 5));
        assert_eq!((hq.opcode, hq.payload_len, nq), (OpCode::Pong, 5, 6));
        assert_eq!(EncodedHeader::new(&hp).as_bytes(), &ping[..2]);
        assert_eq!(EncodedHeader::new(&hq).as_bytes(), &pong[..6]);
    }

    #[test]
    fn rfc_5_7_256_bytes_binary_uses_16_bit_length() {
        let wire = [0x82, 0x7E, 0x01, 0x00];
        let (h, n) = parse_all(&wire);
        assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 256, 4));
        assert_eq!(EncodedHeader::new(&h).as_bytes(), &wire);
    }

    #[test]
    fn rfc_5_7_64_kib_binary_uses_64_bit_length() {
        let wire = [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        let (h, n) = parse_all(&wire);
        assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 65536, 10));
        assert_eq!(EncodedHeader::new(&h).as_bytes(), &wire);
    }

    #[test]
    fn rfc_5_2_length_boundaries_choose_the_shortest_form() {
        for (len, header_len) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let h = FrameHeader { fin: true, opcode: OpCode::Binary, mask: None, payload_len: len };
            assert_eq!(EncodedHeader::unmasked(true, OpCode::Binary, len), EncodedHeader::new(&h));
            assert_eq!(h.encoded_len(), header_len, "length {len}");
            assert_eq!(EncodedHeader::new(&h).as_bytes().len(), header_len);
            assert_eq!(parse_all(EncodedHeader::new(&h).as_bytes()).0, h);
        }
    }

    #[test]
    fn rfc_5_2_rsv_bits_are_refused() {
        for b0 in [0xC1, 0xA1, 0x91] {
            assert_eq!(FrameHeader::parse(&[b0, 0x80]), Err(FrameError::ReservedBits));
        }
    }

    #[test]
    fn rfc_5_2_reserved_opcodes_are_refused() {
        for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(FrameHeader::parse(&[0x80 | op, 0x80]), Err(FrameError::ReservedOpcode));
        }
    }

    #[test]
    fn rfc_5_5_control_frames_are_never_fragmented() {
        assert_eq!(FrameHeader::parse(&[0x09, 0x80]), Err(FrameError::FragmentedControl));
    }

    #[test]
    fn rfc_5_5_control_payload_is_at_most_125_bytes() {
        assert_eq!(FrameHeader::parse(&[0x89, 0xFE]), Err(FrameError::ControlTooLong));
        assert!(matches!(FrameHeader::parse(&[0x89, 0xFD]), Ok(Status::Partial)));
    }

    #[test]
    fn rfc_5_2_64_bit_length_most_significant_bit_must_be_zero() {
        let wire = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(FrameHeader::parse(&wire), Err(FrameError::LengthOverflow));
        let max = [0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4];
        assert_eq!(parse_all(&max).0.payload_len, (1 << 63) - 1);
    }

    #[test]
    fn a_masked_client_frame_parses_back_to_its_payload() {
        for len in [0usize, 5, 125, 126, 65535, 65536] {
            let payload: std::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
            let frame = masked_client_frame(0x82, &payload, [9, 8, 7, 6]);
            let (h, n) = parse_all(&frame);
            assert_eq!((h.fin, h.opcode, h.payload_len), (true, OpCode::Binary, len as u64));
            let mut body = frame[n..].to_vec();
            crate::wire::mask::apply_mask(&mut body, h.mask.unwrap(), 0);
            assert_eq!(body, payload);
        }
    }

    #[test]
    fn every_truncation_of_a_header_is_partial() {
        let wire = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 8, 7, 6];
        for cut in 0..wire.len() {
            assert_eq!(FrameHeader::parse(&wire[..cut]), Ok(Status::Partial), "cut at {cut}");
        }
        assert_eq!(parse_all(&wire).1, 14);
    }
}
