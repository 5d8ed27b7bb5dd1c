//! The inflater: raw DEFLATE into a caller-owned wrapping window, without allocating.

use core::ops::Range;

use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{decompress_with_limit, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::Agreed;

/// The four bytes a sender strips from the end of each compressed message (RFC 7692 section
/// 7.2.1), put back before inflating its end.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The inflate state of one connection: the decompressor and its window, which is also where
/// inflated bytes are delivered from.
///
/// `W` is the window's storage (an array, a `&mut [u8]`, a boxed slice): a power of two of at
/// least [`Inflate::window_len`] bytes for the agreed window.
pub struct Inflate<W> {
    core: Core,
    window: W,
    /// Where the next inflated byte goes.
    pos: usize,
    /// How much of [`TRAILER`] was fed for the current message.
    trailer: u8,
    /// The message ended its DEFLATE stream (a final block): the next one starts a new stream.
    stream_done: bool,
    /// Each message is compressed on its own: reset everything between them.
    reset_per_message: bool,
}

/// The decompressor (10.5 KB): inline without `std`, so that the caller's memory holds it all;
/// on the heap with `std`, where a driver allocates it for each connection that agreed to
/// compression (moved about by value, an unoptimised build overflowed a 64 KiB thread stack).
#[cfg(not(feature = "std"))]
type Core = DecompressorOxide;
/// The decompressor, on the heap with `std` (see the `no_std` definition).
#[cfg(feature = "std")]
type Core = std::boxed::Box<DecompressorOxide>;

/// The compressed data is not valid DEFLATE (or refers outside the agreed window).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InflateError;

/// The window offered cannot hold the agreed window.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WindowError {
    /// The bytes needed: a power of two.
    pub needed: usize,
}

/// What one inflate step did.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    /// Input bytes used.
    pub consumed: usize,
    /// The inflated bytes, in the window.
    pub out: Range<usize>,
    /// Everything the input given so far holds is out (and, at the end of a message, the message
    /// is complete).
    pub drained: bool,
}

impl<W> core::fmt::Debug for Inflate<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflate").field("pos", &self.pos).finish_non_exhaustive()
    }
}

impl<W: AsRef<[u8]> + AsMut<[u8]>> Inflate<W> {
    /// The decompressor's own state, in bytes, besides the window.
    pub const STATE_BYTES: usize = core::mem::size_of::<DecompressorOxide>();

    /// The window needed for `client_max_window_bits` (8 is served with 512 bytes: zlib-based
    /// clients compress with at least 9 bits whatever they agreed).
    pub const fn window_len(client_max_window_bits: u8) -> usize {
        let bits = if client_max_window_bits < 9 { 9 } else { client_max_window_bits };
        1 << bits
    }

    /// An inflater for what was agreed, over `window`.
    pub fn new(window: W, agreed: &Agreed) -> Result<Self, WindowError> {
        let needed = Self::window_len(agreed.client_max_window_bits);
        let len = window.as_ref().len();
        if len < needed || !len.is_power_of_two() {
            return Err(WindowError { needed });
        }
        Ok(Inflate {
            core: Core::default(),
            window,
            pos: 0,
            trailer: 0,
            stream_done: false,
            reset_per_message: agreed.client_no_context_takeover,
        })
    }

    /// Prepares for the next compressed message.
    pub(crate) fn start_message(&mut self) {
        self.trailer = 0;
        if self.reset_per_message || self.stream_done {
            self.core.init();
        }
        if self.reset_per_message {
            self.pos = 0;
        }
        self.stream_done = false;
    }

    /// Inflates from `input` at most `out_max` bytes (at least 1); `end` says `input` holds the
    /// rest of the message.
    pub(crate) fn step(&mut self, input: &[u8], end: bool, out_max: usize) -> Result<Step, InflateError> {
        if self.pos == self.window.as_ref().len() {
            self.pos = 0;
        }
        let start = self.pos;
        if self.stream_done {
            // After a final block, nothing but empty padding may follow.
            return Ok(Step { consumed: input.len(), out: start..start, drained: true });
        }
        let mut step = self.decompress(input, end, out_max)?;
        // The message's last input is in: its trailer goes in at once, so that the last
        // inflated bytes and the end of the message come out as one chunk.
        let room = out_max - step.out.len();
        if end && !input.is_empty() && step.consumed == input.len() && !step.drained && room > 0 {
            let more = self.decompress(&[], true, room)?;
            step.out.end = more.out.end;
            step.drained = more.drained;
        }
        Ok(step)
    }

    /// One call of the decompressor from `pos`: on `input`, or on the trailer once `end` and
    /// `input` is empty.
    fn decompress(&mut self, input: &[u8], end: bool, out_max: usize) -> Result<Step, InflateError> {
        let window = self.window.as_mut();
        let from_trailer = input.is_empty() && end;
        let feed: &[u8] = if from_trailer { &TRAILER[usize::from(self.trailer)..] } else { input };
        let (status, consumed, written) =
            decompress_with_limit(&mut self.core, feed, window, self.pos, out_max, TINFL_FLAG_HAS_MORE_INPUT);
        let out = self.pos..self.pos + written;
        self.pos += written;
        if from_trailer {
            self.trailer += consumed as u8;
        }
        let drained = match status {
            TINFLStatus::Done => {
                self.stream_done = true;
                true
            }
            TINFLStatus::NeedsMoreInput => {
                // The input is used up; at the end of a message, the trailer must be too.
                consumed == feed.len() && (!end || from_trailer && usize::from(self.trailer) == TRAILER.len())
            }
            TINFLStatus::HasMoreOutput => false,
            _ => return Err(InflateError),
        };
        Ok(Step { consumed: if from_trailer { 0 } else { consumed }, out, drained })
    }

    /// The inflated bytes of a step.
    pub(crate) fn output(&self, range: Range<usize>) -> &[u8] {
        &self.window.as_ref()[range]
    }
}

/// An [`Inflate`] of any window storage, as the connection drives it.
pub(crate) trait Inflater {
    fn start_message(&mut self);
    fn step(&mut self, input: &[u8], end: bool, out_max: usize) -> Result<Step, InflateError>;
    fn output(&self, range: Range<usize>) -> &[u8];
}

impl<W: AsRef<[u8]> + AsMut<[u8]>> Inflater for Inflate<W> {
    fn start_message(&mut self) {
        Inflate::start_message(self);
    }

    fn step(&mut self, input: &[u8], end: bool, out_max: usize) -> Result<Step, InflateError> {
        Inflate::step(self, input, end, out_max)
    }

    fn output(&self, range: Range<usize>) -> &[u8] {
        Inflate::output(self, range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::deflate::negotiate;
    use std::vec::Vec;

    fn agreed(header: &str) -> Agreed {
        negotiate([header.as_bytes()], &super::super::DeflateConfig::FULL).unwrap()
    }

    /// Raw DEFLATE of `data`, sync-flushed, with the trailer stripped (what a client sends).
    pub(crate) fn compress(data: &[u8], bits: u8) -> Vec<u8> {
        let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::default(), false, bits);
        let mut out = Vec::with_capacity(data.len() * 2 + 1024);
        c.compress_vec(data, &mut out, flate2::FlushCompress::Sync).unwrap();
        assert!(out.ends_with(&TRAILER));
        out.truncate(out.len() - 4);
        out
    }

    fn inflate_all<W: AsRef<[u8]> + AsMut<[u8]>>(inf: &mut Inflate<W>, input: &[u8]) -> Vec<u8> {
        inf.start_message();
        let mut got = Vec::new();
        let mut at = 0;
        loop {
            let step = inf.step(&input[at..], true, usize::MAX).unwrap();
            at += step.consumed;
            got.extend_from_slice(inf.output(step.out));
            if step.drained && at == input.len() {
                return got;
            }
        }
    }

    #[test]
    fn the_rfc_example_hello_inflates() {
        // RFC 7692 section 7.2.3.1: "Hello" compressed, trailer stripped.
        let mut inf = Inflate::new([0u8; 32768], &agreed("permessage-deflate")).unwrap();
        assert_eq!(inflate_all(&mut inf, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), b"Hello");
        // Section 7.2.3.2: the second "Hello" refers back into the first message's window.
        assert_eq!(inflate_all(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]), b"Hello");
        // Section 7.2.3.3: an uncompressed (stored) block.
        assert_eq!(
            inflate_all(&mut inf, &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00]),
            b"Hello"
        );
        // Section 7.2.3.6: a final block (BFINAL set), after which a new stream starts.
        assert_eq!(inflate_all(&mut inf, &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]), b"Hello");
        assert_eq!(inflate_all(&mut inf, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]), b"Hello");
    }

    #[test]
    fn output_larger_than_the_window_comes_out_in_steps() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8 ^ (i / 700) as u8).collect();
        let agreed = agreed("permessage-deflate; client_max_window_bits=9");
        let mut inf = Inflate::new([0u8; 512], &agreed).unwrap();
        assert_eq!(inflate_all(&mut inf, &compress(&data, 9)), data);
    }

    #[test]
    fn a_window_too_small_or_not_a_power_of_two_is_refused() {
        let agreed = agreed("permessage-deflate; client_max_window_bits=10");
        assert_eq!(Inflate::new([0u8; 512], &agreed).unwrap_err(), WindowError { needed: 1024 });
        assert!(Inflate::new([0u8; 1500], &agreed).is_err());
        assert!(Inflate::new([0u8; 1024], &agreed).is_ok());
    }

    #[test]
    fn garbage_is_an_error() {
        let mut inf = Inflate::new([0u8; 32768], &agreed("permessage-deflate")).unwrap();
        inf.start_message();
        assert_eq!(inf.step(&[0xff; 16], true, usize::MAX).map(|_| ()), Err(InflateError));
    }
}
