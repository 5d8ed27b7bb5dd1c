//! The deflater (with `std`): compresses whole outgoing messages when that makes them smaller.

use std::vec::Vec;

use flate2::{Compress, Compression, FlushCompress, Status};

use super::Agreed;
use crate::wire::frame::{EncodedHeader, FrameHeader, OpCode};

/// Compresses outgoing messages as agreed; one per connection.
pub struct Deflate {
    /// `None` on ESP-IDF, or when the agreed window is one the backend cannot keep to (8 bits: zlib's raw
    /// DEFLATE needs 9), then every message goes out uncompressed, as the RFC allows.
    compress: Option<Compress>,
    no_context_takeover: bool,
    out: Vec<u8>,
}

impl core::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflate").field("active", &self.compress.is_some()).finish_non_exhaustive()
    }
}

/// Messages shorter than this go out as they are: DEFLATE cannot make them much smaller.
const MIN_LEN: usize = 32;

impl Deflate {
    /// A deflater for what was agreed.
    pub fn new(agreed: &Agreed) -> Self {
        let bits = agreed.server_max_window_bits;
        // On ESP-IDF zlib's state (2^(bits+2) bytes and 128 KiB more per connection) would not
        // fit the device's heap: messages go out uncompressed there, which the RFC allows.
        let usable = bits >= 9 && !cfg!(target_os = "espidf");
        let compress = usable.then(|| Compress::new_with_window_bits(Compression::new(6), false, bits));
        Deflate { compress, no_context_takeover: agreed.server_no_context_takeover, out: Vec::new() }
    }

    /// The compressed form of a whole message (trailer stripped, RSV1 to be set), or `None`
    /// when it would not be smaller: then send it as it is.
    pub fn compress(&mut self, message: &[u8]) -> Option<&[u8]> {
        let compress = self.compress.as_mut()?;
        if message.len() < MIN_LEN {
            return None;
        }
        self.out.clear();
        // Room for a message that does not compress, so the loop rarely turns twice.
        self.out.reserve(message.len() + 64);
        let start = compress.total_in();
        loop {
            let used = (compress.total_in() - start) as usize;
            match compress.compress_vec(&message[used..], &mut self.out, FlushCompress::Sync) {
                Ok(Status::Ok | Status::BufError) => {}
                Ok(Status::StreamEnd) | Err(_) => {
                    compress.reset();
                    return None;
                }
            }
            let done = (compress.total_in() - start) as usize == message.len()
                && self.out.len() < self.out.capacity();
            if done {
                break;
            }
            self.out.reserve(self.out.capacity().max(256));
        }
        let smaller = self.out.len() >= 4 && self.out.len() - 4 < message.len();
        if !smaller || self.no_context_takeover {
            // An uncompressed message leaves the peer's window without what this one added to
            // ours: start afresh, as after every message without context takeover.
            compress.reset();
        }
        if !smaller {
            return None;
        }
        // RFC 7692 section 7.2.1: the sync flush's empty block, 00 00 FF FF, is not sent.
        self.out.truncate(self.out.len() - 4);
        Some(&self.out)
    }

    /// What the last [`compress`](Self::compress) that made a message smaller gave, for a
    /// writer that has to wait before it sends the rest (the async driver's; the blocking one
    /// writes the rest at once).
    #[cfg(feature = "async")]
    pub(crate) fn output(&self) -> &[u8] {
        &self.out
    }
}

impl Deflate {
    /// The compressed form of a whole text or binary frame whose header `header` is: its new
    /// header (RSV1 set, the same mask key) and payload. `None`: send it as it was, because it
    /// is a fragment, or compression would not make it smaller.
    #[inline(never)]
    pub fn compress_frame(
        &mut self,
        header: &EncodedHeader,
        payload: &[u8],
    ) -> Option<(EncodedHeader, &[u8])> {
        // FIN set, no RSV bit, text or binary: a whole message, the only kind compressed.
        let opcode = match header.as_bytes().first()? {
            0x81 => OpCode::Text,
            0x82 => OpCode::Binary,
            _ => return None,
        };
        let compressed = self.compress(payload)?;
        let header =
            FrameHeader { fin: true, opcode, mask: header.mask(), payload_len: compressed.len() as u64 };
        Some((EncodedHeader::new(&header).with_rsv1(), compressed))
    }
}
