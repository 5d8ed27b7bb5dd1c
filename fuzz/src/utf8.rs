//! `Utf8Validator` fed arbitrary splits of arbitrary bytes must agree with `core::str::from_utf8`
//! on the whole: valid text passes every piece and `finish`; invalid text fails no later than the
//! piece holding the first byte that proves it invalid (or at `finish`, for a cut-off code
//! point), and a failure is never reported for valid text.

use arbitrary::Arbitrary;
use espws::proto::utf8::Utf8Validator;

/// The input of the `utf8` target.
#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    /// Cut points (taken modulo the length, sorted).
    pub cuts: Vec<u16>,
    /// The text: all remaining bytes.
    pub text: &'a [u8],
}

/// Checks one input.
pub fn check(input: &Input<'_>) {
    let text = input.text;
    let mut cuts: Vec<usize> = input.cuts.iter().map(|&c| usize::from(c) % (text.len() + 1)).collect();
    cuts.push(text.len());
    cuts.sort_unstable();
    let truth = core::str::from_utf8(text);
    // The last byte index by which the validator must have failed, if the text is invalid in
    // a way that more bytes cannot repair.
    let deadline = match truth {
        Err(e) => e.error_len().map(|len| (e.valid_up_to() + len).min(text.len() - 1)),
        Ok(_) => None,
    };
    let mut v = Utf8Validator::new();
    let mut start = 0;
    let mut failed_at = None;
    for &cut in &cuts {
        if v.feed(&text[start..cut]).is_err() {
            failed_at = Some(cut);
            break;
        }
        if let Some(d) = deadline {
            assert!(cut <= d, "fed past the bad byte at {d} (through {cut}) without an error: {text:x?}");
        }
        start = cut;
    }
    let finished = failed_at.is_none() && v.finish().is_ok();
    match truth {
        Ok(_) => {
            assert_eq!(failed_at, None, "valid text refused at piece ending {failed_at:?}: {text:x?}");
            assert!(finished, "valid text refused by finish: {text:x?}");
        }
        Err(e) => {
            assert!(!finished, "invalid text accepted: {text:x?}");
            if e.error_len().is_none() {
                assert_eq!(failed_at, None, "a valid prefix refused before finish: {text:x?}");
            }
        }
    }
    // finish() resets: the validator then accepts a fresh valid message.
    let _ = v.finish();
    assert!(v.feed("ok é".as_bytes()).is_ok() && v.finish().is_ok(), "not reset after finish");
}
