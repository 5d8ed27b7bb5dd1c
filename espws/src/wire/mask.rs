//! Payload masking (RFC 6455 section 5.3), in place and resumable.

/// XORs `data` with the masking `key`, as if `data` started `offset` bytes into the payload.
///
/// Because the key is rotated by `offset`, a payload can be unmasked piece by piece as it
/// arrives: call this on each piece with the count of payload bytes already unmasked.
/// Masking and unmasking are the same operation.
#[inline]
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let key = u32::from_le_bytes(key).rotate_right(8 * (offset % 4) as u32);
    // Work on 32-byte blocks of key-sized words; the fixed-size inner loop lets the compiler
    // emit vector instructions without any unsafe code. Words of the key's own size, rather
    // than a doubled 64-bit key: the vector key is then one broadcast (3 instructions fewer
    // per message on x86-64), and a 32-bit MCU gets words it has registers for.
    // Blocks are taken off the front one at a time rather than counted first: a short payload
    // then skips the set-up of a counted loop (about 7 instructions at 64 bytes).
    let mut rest = data;
    while rest.len() >= 32 {
        let (block, tail) = core::mem::take(&mut rest).split_at_mut(32);
        mask_words(block, key);
        rest = tail;
    }
    for (byte, k) in mask_words(rest, key).iter_mut().zip(key.to_le_bytes()) {
        *byte ^= k;
    }
}

/// XORs each whole 32-bit word of `bytes` with `key`; gives back the 0 to 3 bytes after them.
#[inline(always)]
fn mask_words(bytes: &mut [u8], key: u32) -> &mut [u8] {
    let mut words = bytes.chunks_exact_mut(4);
    for word in &mut words {
        let masked = u32::from_le_bytes(word.try_into().expect("4-byte chunk")) ^ key;
        word.copy_from_slice(&masked.to_le_bytes());
    }
    words.into_remainder()
}

/// The byte-at-a-time definition from RFC 6455 section 5.3; the reference for tests.
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub fn apply_mask_bytewise(data: &mut [u8], key: [u8; 4], offset: u64) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= key[((offset + i as u64) % 4) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn pattern(len: usize) -> [u8; 128] {
        core::array::from_fn(|i| (i * 7 + len) as u8)
    }

    #[test]
    fn matches_the_bytewise_reference_at_every_alignment_length_and_offset() {
        for align in 0..16 {
            for len in 0..=64 {
                for offset in 0..8u64 {
                    let mut fast = pattern(len);
                    let mut slow = fast;
                    apply_mask(&mut fast[align..align + len], KEY, offset);
                    apply_mask_bytewise(&mut slow[align..align + len], KEY, offset);
                    assert_eq!(fast, slow, "align {align} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn unmasking_in_pieces_equals_unmasking_at_once() {
        let original = pattern(100);
        let mut whole = original;
        apply_mask(&mut whole[..100], KEY, 0);
        for cut in 0..=100 {
            let mut pieces = original;
            let (a, b) = pieces[..100].split_at_mut(cut);
            apply_mask(a, KEY, 0);
            apply_mask(b, KEY, cut as u64);
            assert_eq!(pieces, whole, "cut at {cut}");
        }
    }

    #[test]
    fn rfc_5_7_masked_hello() {
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, KEY, 0);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn masking_twice_restores_the_data() {
        let original = pattern(77);
        let mut data = original;
        apply_mask(&mut data, KEY, 3);
        assert_ne!(data, original);
        apply_mask(&mut data, KEY, 3);
        assert_eq!(data, original);
    }
}
