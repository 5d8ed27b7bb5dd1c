//! A short string kept inline, for log labels, request targets and composed refusals.

use core::fmt::Write as _;

/// A short string kept inline, cut at a character boundary when it does not fit. No crate
/// offers this without pulling in more than it saves; it is a dozen lines.
#[derive(Copy, Clone, Debug)]
pub(crate) struct InlineStr<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> InlineStr<N> {
    pub(crate) const fn new() -> Self {
        InlineStr { bytes: [0; N], len: 0 }
    }

    pub(crate) fn cut(text: &str) -> Self {
        let mut out = Self::new();
        let _ = out.write_str(text);
        out
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole characters are ever copied in, so this cannot fail.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl<const N: usize> core::fmt::Write for InlineStr<N> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let room = N.min(u8::MAX as usize) - usize::from(self.len);
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        let at = usize::from(self.len);
        self.bytes[at..at + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take as u8;
        if take < text.len() {
            Err(core::fmt::Error)
        } else {
            Ok(())
        }
    }
}
