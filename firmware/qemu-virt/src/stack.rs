//! The one stack's high-water mark: painted at boot, scanned on request.
//!
//! The stack runs from the end of `.bss` (riscv-rt's `__sheap`, the heap being empty) up to the
//! end of RAM, and grows down. Everything below the frame of `main` is painted with a pattern
//! at boot; the deepest word no longer holding it is how far the stack has ever reached.

const PAINT: u32 = 0x5afe_57ac;
/// Left unpainted below the current frame: the painter's own frame and a margin.
const MARGIN: usize = 256;

unsafe extern "C" {
    static __sheap: u32;
    static _ram_start: u32;
    static _ram_end: u32;
}

/// The stack's lowest address (the end of `.bss`) and its top (the end of RAM).
pub fn bounds() -> (usize, usize) {
    // Linker symbols: only their addresses are taken, never their contents.
    (&raw const __sheap as usize, &raw const _ram_end as usize)
}

/// RAM given to the firmware: the `RAM` region of memory.x.
pub fn ram() -> usize {
    &raw const _ram_end as usize - &raw const _ram_start as usize
}

/// Paints the free stack below the caller's frame. Call first thing in `main`.
#[inline(never)]
pub fn paint() {
    let (bottom, _) = bounds();
    let marker = 0u32;
    let below_frame = (&raw const marker as usize).saturating_sub(MARGIN) & !3;
    let mut address = bottom;
    while address < below_frame {
        // SAFETY: between the end of .bss and below the current frame lies only the unused part
        // of the stack, which no Rust object occupies; the address is 4-byte aligned.
        unsafe { core::ptr::write_volatile(address as *mut u32, PAINT) };
        address += 4;
    }
}

/// The most stack ever used, in bytes, and the stack's size.
pub fn high_water() -> (usize, usize) {
    let (bottom, top) = bounds();
    let mut address = bottom;
    while address < top {
        // SAFETY: as in `paint`, reading a word of the stack region, which is always mapped.
        if unsafe { core::ptr::read_volatile(address as *const u32) } != PAINT {
            break;
        }
        address += 4;
    }
    (top - address, top - bottom)
}
