//! The TLS build's heap: mbedTLS allocates each connection's state, and the certificate and
//! key it parses, from it. A first-fit heap over a static array (in `.bss`, so the ELF's
//! sections count it against the RAM ceiling), metered: the bytes in use and the most ever in
//! use, which the board reports on port 81.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::mem::MaybeUninit;

use critical_section::Mutex;
use embedded_alloc::LlffHeap;
use static_cell::ConstStaticCell;

/// The heap and what has been taken from it.
pub struct Metered {
    heap: LlffHeap,
    /// Bytes asked for and not yet given back, and the most at any time.
    in_use: Mutex<Cell<(usize, usize)>>,
}

#[global_allocator]
static HEAP: Metered = Metered { heap: LlffHeap::empty(), in_use: Mutex::new(Cell::new((0, 0))) };

/// Gives the heap its memory. Call once, before anything allocates.
pub fn init<const N: usize>(memory: &'static ConstStaticCell<[MaybeUninit<u8>; N]>) {
    let memory = memory.take();
    // SAFETY: `memory` is a static array taken once (`ConstStaticCell::take` panics the second
    // time), so nothing else ever reads or writes it; it lives for the program.
    unsafe { HEAP.heap.init(memory.as_mut_ptr() as usize, N) }
}

/// Bytes in use now, and the most ever in use.
pub fn in_use() -> (usize, usize) {
    critical_section::with(|cs| HEAP.in_use.borrow(cs).get())
}

// SAFETY: every call goes to `LlffHeap`'s, which upholds `GlobalAlloc`'s contract; the counts
// beside it are only arithmetic.
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let block = unsafe { self.heap.alloc(layout) };
        if !block.is_null() {
            critical_section::with(|cs| {
                let (now, peak) = self.in_use.borrow(cs).get();
                let now = now + layout.size();
                self.in_use.borrow(cs).set((now, peak.max(now)));
            });
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.heap.dealloc(block, layout) };
        critical_section::with(|cs| {
            let (now, peak) = self.in_use.borrow(cs).get();
            self.in_use.borrow(cs).set((now - layout.size(), peak));
        });
    }
}
