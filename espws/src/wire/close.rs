//! Close frame payloads (RFC 6455 sections 5.5.1 and 7.4).

/// A close status code (RFC 6455 section 7.4).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, dead peer, page navigated away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: the endpoint cannot accept this kind of data.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no code was present. Never sent on the wire.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection dropped without a close frame. Never sent on the wire.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a text message was not valid UTF-8.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: the message violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: the message is too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);

    /// Whether a peer may put this code in a close frame.
    ///
    /// 1004-1006 and 1015 are reserved or local-only; 1016-2999 are unassigned and
    /// 0-999 unused; 3000-4999 belong to libraries and applications.
    pub const fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for CloseCode {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "{}", self.0)
    }
}

impl core::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A close frame's code and reason.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, or [`CloseCode::NO_STATUS`] when the payload was empty.
    pub code: CloseCode,
    /// The UTF-8 reason, possibly empty.
    pub reason: &'a str,
}

/// Why a close payload was refused; each answers with 1002.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CloseError {
    /// A single byte cannot hold a status code.
    OneBytePayload,
    /// The code is reserved, unassigned, or local-only.
    CodeNotAllowed(u16),
    /// The reason is not valid UTF-8.
    ReasonNotUtf8,
}

/// Parses a close frame's (unmasked) payload.
pub fn parse_close_payload(payload: &[u8]) -> Result<CloseFrame<'_>, CloseError> {
    match payload {
        [] => Ok(CloseFrame { code: CloseCode::NO_STATUS, reason: "" }),
        [_] => Err(CloseError::OneBytePayload),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_allowed_on_wire() {
                return Err(CloseError::CodeNotAllowed(code.0));
            }
            let reason = simdutf8::basic::from_utf8(reason).map_err(|_| CloseError::ReasonNotUtf8)?;
            Ok(CloseFrame { code, reason })
        }
    }
}

/// Encodes a close payload into `out`, cutting the reason at a character boundary so that the
/// whole payload stays within 125 bytes. Returns the bytes written.
pub fn encode_close_payload(code: CloseCode, reason: &str, out: &mut [u8; 125]) -> usize {
    out[..2].copy_from_slice(&code.0.to_be_bytes());
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    out[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    2 + end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5_5_1_empty_payload_means_no_status() {
        assert_eq!(parse_close_payload(&[]).unwrap().code, CloseCode::NO_STATUS);
    }

    #[test]
    fn rfc_5_5_1_one_byte_payload_is_an_error() {
        assert_eq!(parse_close_payload(&[3]), Err(CloseError::OneBytePayload));
    }

    #[test]
    fn rfc_7_4_codes_that_must_not_be_sent_are_refused() {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            let payload = code.to_be_bytes();
            assert_eq!(parse_close_payload(&payload), Err(CloseError::CodeNotAllowed(code)));
        }
    }

    #[test]
    fn rfc_7_4_defined_and_private_codes_are_accepted() {
        for code in [1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            let payload = code.to_be_bytes();
            assert_eq!(parse_close_payload(&payload).unwrap().code, CloseCode(code));
        }
    }

    #[test]
    fn rfc_5_5_1_reason_must_be_utf8() {
        assert_eq!(parse_close_payload(&[0x03, 0xE8, 0xFF]), Err(CloseError::ReasonNotUtf8));
        let ok = parse_close_payload(&[0x03, 0xE8, 0xC3, 0xA9]).unwrap();
        assert_eq!(ok.reason, "é");
    }

    #[test]
    fn encoding_cuts_long_reasons_at_a_character_boundary() {
        let reason = "é".repeat(100);
        let mut out = [0; 125];
        let n = encode_close_payload(CloseCode::NORMAL, &reason, &mut out);
        assert_eq!(n, 124);
        let parsed = parse_close_payload(&out[..n]).unwrap();
        assert_eq!((parsed.code, parsed.reason.chars().count()), (CloseCode::NORMAL, 61));
    }
}
