//! Incremental UTF-8 validation that fails at the first bad byte.

/// The bytes seen so far cannot be the start of valid UTF-8.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates a text message that arrives in pieces, across frames and reads.
///
/// It carries at most 3 bytes of an unfinished code point between pieces, and reports an error
/// as soon as a byte makes the text invalid, not at the end of the message.
#[derive(Copy, Clone, Debug, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator { pending: [0; 4], pending_len: 0 }
    }

    /// Validates the next piece of the message.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let width = sequence_width(self.pending[0]);
            let take = (width - have).min(input.len());
            self.pending[have..have + take].copy_from_slice(&input[..take]);
            input = &input[take..];
            let filled = have + take;
            match simdutf8::compat::from_utf8(&self.pending[..filled]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    self.pending_len = filled as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match simdutf8::compat::from_utf8(input) {
            Ok(_) => Ok(()),
            // Only an unfinished code point at the very end may wait for the next piece.
            Err(e) if e.error_len().is_none() => {
                let tail = &input[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the message: an unfinished code point is an error. Resets for the next message.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.pending_len == 0;
        self.pending_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

/// The length of the sequence a valid leading byte starts.
fn sequence_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate_in_pieces(input: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(core::iter::once(&input.len())) {
            v.feed(&input[start..cut])?;
            start = cut;
        }
        v.finish()
    }

    #[test]
    fn a_code_point_split_at_any_byte_is_valid() {
        let text = "aé€𝄞z".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(validate_in_pieces(text, &[a, b]), Ok(()), "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn agrees_with_core_on_every_split_of_tricky_inputs() {
        let inputs: &[&[u8]] = &[
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
            b"\xed\xa0\x80",     // a UTF-16 surrogate
            b"\xf4\x90\x80\x80", // above U+10FFFF
            b"\xc0\xaf",         // overlong
            b"\xe0\x80\xaf",     // overlong
            b"\xf0\x9f\x98",     // truncated
            b"\x80",             // lone continuation
            b"ok\xff",
        ];
        for input in inputs {
            let expected = core::str::from_utf8(input).is_ok();
            for cut in 0..=input.len() {
                assert_eq!(validate_in_pieces(input, &[cut]).is_ok(), expected, "{input:x?} cut {cut}");
            }
        }
    }

    #[test]
    fn fails_at_the_first_bad_byte_not_at_the_end() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"hello \xce"), Ok(()));
        // 0xF4 0x90 can never start a valid sequence: fail now, before the rest arrives.
        let mut w = Utf8Validator::new();
        assert_eq!(w.feed(b"\xf4"), Ok(()));
        assert_eq!(w.feed(b"\x90"), Err(InvalidUtf8));
        let mut x = Utf8Validator::new();
        assert_eq!(x.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"), Err(InvalidUtf8));
    }

    #[test]
    fn an_unfinished_code_point_at_the_end_is_invalid() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"\xe2\x82"), Ok(()));
        assert_eq!(v.finish(), Err(InvalidUtf8));
        // finish() resets: the next message starts clean.
        assert_eq!(v.feed(b"abc"), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }
}
