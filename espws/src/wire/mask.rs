//! Payload masking (RFC 6455 section 5.3), in place and resumable.

/// XORs `data` with the masking `key`, as if `data` started `offset` bytes into the payload.
///
/// Because the key is rotated by `offset`, a payload can be unmasked piece by piece as it
/// arrives: call this on each piece with the count of payload bytes already unmasked.
/// Masking and unmasking are the same operation.
#[inline]
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let key = u32::from_le_bytes(key).rotate_right(8 * (offset % 4) as u32);
    if MISALIGNED_WORDS_ARE_CHEAP {
        mask_in_blocks(data, key);
    } else {
        mask_aligned_words(data, key);
    }
}

/// Whether this target loads and stores misaligned words as cheaply as aligned ones (PCs),
/// which decides the masking shape. The test below checks both shapes on every target.
const MISALIGNED_WORDS_ARE_CHEAP: bool =
    cfg!(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"));

/// Masking where misaligned loads are cheap (PCs): 32-byte blocks of key-sized words.
///
/// The fixed-size inner loop lets the compiler emit vector instructions without any unsafe
/// code. Words of the key's own size, rather than a doubled 64-bit key: the vector key is then
/// one broadcast (3 instructions fewer per message on x86-64). Blocks are taken off the front
/// one at a time rather than counted first: a short payload then skips the set-up of a counted
/// loop (about 7 instructions at 64 bytes). `key` is little-endian, already rotated.
#[inline(always)]
fn mask_in_blocks(data: &mut [u8], key: u32) {
    let mut rest = data;
    while rest.len() >= 32 {
        let (block, tail) = core::mem::take(&mut rest).split_at_mut(32);
        mask_words(block, key);
        rest = tail;
    }
    mask_bytes(mask_words(rest, key), key);
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

/// Masking where words must be aligned (RV32IMC, Xtensa, small Arm cores): the bytes up to the
/// first aligned word, the aligned words, then the 0 to 3 bytes after them.
///
/// A payload follows a 6-, 8- or 14-byte header, so it is rarely aligned, and such a core would
/// assemble and store every misaligned word a byte at a time: on the emulated RV32 board that
/// was about 22 instructions a word, and 230 of a 64-byte echo's 9,700. On x86-64 this shape
/// costs more than [`mask_in_blocks`] (60 instructions per 64-byte echo, callgrind): the loop's
/// vector set-up for a count known only at run time.
#[inline(always)]
fn mask_aligned_words(data: &mut [u8], key: u32) {
    let (head, words, tail) = bytemuck::pod_align_to_mut::<u8, u32>(data);
    mask_bytes(head, key);
    // The words start `head.len()` bytes further into the key, and so does the tail.
    let key = key.rotate_right(8 * head.len() as u32);
    let word_key = u32::from_ne_bytes(key.to_le_bytes());
    for word in words {
        *word ^= word_key;
    }
    mask_bytes(tail, key);
}

/// XORs the 0 to 3 bytes of `bytes` with the first bytes of `key` (little-endian).
#[inline(always)]
fn mask_bytes(bytes: &mut [u8], key: u32) {
    for (byte, k) in bytes.iter_mut().zip(key.to_le_bytes()) {
        *byte ^= k;
    }
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

    /// One of the two ways [`apply_mask`] masks, by target: the data and the rotated key.
    type Shape = fn(&mut [u8], u32);

    fn pattern(len: usize) -> [u8; 128] {
        core::array::from_fn(|i| (i * 7 + len) as u8)
    }

    #[test]
    fn apply_mask_and_both_its_shapes_match_the_bytewise_reference_at_every_alignment_length_and_offset() {
        // Both shapes, whichever this target uses: the other runs on the devices.
        let shapes: [(&str, Shape); 2] = [("blocks", mask_in_blocks), ("aligned words", mask_aligned_words)];
        for align in 0..16 {
            for len in 0..=80 {
                for offset in 0..8u64 {
                    let mut expected = pattern(len);
                    apply_mask_bytewise(&mut expected[align..align + len], KEY, offset);
                    let mut data = pattern(len);
                    apply_mask(&mut data[align..align + len], KEY, offset);
                    assert_eq!(data, expected, "apply_mask: align {align} len {len} offset {offset}");
                    let key = u32::from_le_bytes(KEY).rotate_right(8 * (offset % 4) as u32);
                    for (name, shape) in shapes {
                        let mut data = pattern(len);
                        shape(&mut data[align..align + len], key);
                        assert_eq!(data, expected, "{name}: align {align} len {len} offset {offset}");
                    }
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
