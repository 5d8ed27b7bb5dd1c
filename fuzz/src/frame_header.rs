//! `FrameHeader::parse` on arbitrary bytes, against a reference parser written from RFC 6455
//! section 5.2; complete headers must survive `EncodedHeader::new` and a second parse, and every
//! shorter prefix of a complete header must be `Partial`.

use espws::wire::frame::{EncodedHeader, FrameError, FrameHeader, OpCode, MAX_HEADER_LEN};
use espws::wire::Status;

/// RFC 6455 section 5.2, byte by byte, checking in the order the library documents.
fn reference(input: &[u8]) -> Result<Status<FrameHeader>, FrameError> {
    if input.len() < 2 {
        return Ok(Status::Partial);
    }
    let (b0, b1) = (input[0], input[1]);
    if b0 & 0b0111_0000 != 0 {
        return Err(FrameError::ReservedBits);
    }
    let opcode = match b0 & 0x0F {
        0 => OpCode::Continuation,
        1 => OpCode::Text,
        2 => OpCode::Binary,
        8 => OpCode::Close,
        9 => OpCode::Ping,
        10 => OpCode::Pong,
        _ => return Err(FrameError::ReservedOpcode),
    };
    let fin = b0 >> 7 == 1;
    let control = b0 & 0x08 != 0;
    let len7 = u64::from(b1 & 0x7F);
    if control && !fin {
        return Err(FrameError::FragmentedControl);
    }
    if control && len7 > 125 {
        return Err(FrameError::ControlTooLong);
    }
    let extra = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    if input.len() < 2 + extra {
        return Ok(Status::Partial);
    }
    let mut payload_len = len7;
    if extra > 0 {
        payload_len = input[2..2 + extra].iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if extra == 8 && input[2] & 0x80 != 0 {
            return Err(FrameError::LengthOverflow);
        }
    }
    let masked = b1 & 0x80 != 0;
    let total = 2 + extra + if masked { 4 } else { 0 };
    if input.len() < total {
        return Ok(Status::Partial);
    }
    let mask = masked.then(|| [input[2 + extra], input[3 + extra], input[4 + extra], input[5 + extra]]);
    Ok(Status::Complete(FrameHeader { fin, opcode, mask, payload_len }, total))
}

/// Checks one input.
pub fn check(data: &[u8]) {
    let parsed = FrameHeader::parse(data);
    assert_eq!(parsed, reference(data), "library and reference disagree on {data:x?}");
    match parsed {
        Ok(Status::Complete(header, n)) => {
            assert!((2..=MAX_HEADER_LEN).contains(&n));
            let encoded = EncodedHeader::new(&header);
            let bytes = encoded.as_bytes();
            assert_eq!(bytes.len(), header.encoded_len());
            assert!(bytes.len() <= n, "the shortest form is never longer than the input's");
            assert_eq!(FrameHeader::parse(bytes), Ok(Status::Complete(header, bytes.len())), "round trip");
            let mut out = [0u8; MAX_HEADER_LEN];
            assert_eq!(header.encode(&mut out), bytes.len());
            assert_eq!(&out[..bytes.len()], bytes);
            // A minimal length encoding is reproduced byte for byte.
            let len7 = data[1] & 0x7F;
            let minimal = match len7 {
                126 => header.payload_len >= 126,
                127 => header.payload_len > 0xFFFF,
                _ => true,
            };
            if minimal {
                assert_eq!(bytes, &data[..n], "re-encoding a minimal header changed it");
            }
            for cut in 0..n {
                assert_eq!(FrameHeader::parse(&data[..cut]), Ok(Status::Partial), "prefix {cut} of {n}");
            }
        }
        Ok(Status::Partial) => {
            assert!(data.len() < MAX_HEADER_LEN, "Partial with {} bytes", data.len());
        }
        Err(e) => {
            assert_eq!(e.close_code().0, 1002);
            for cut in 0..data.len().min(MAX_HEADER_LEN) {
                let p = FrameHeader::parse(&data[..cut]);
                assert!(p == Ok(Status::Partial) || p == Err(e), "prefix {cut}: {p:?}, full: {e:?}");
            }
        }
    }
}
