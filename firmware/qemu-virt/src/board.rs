//! QEMU's virt machine: the devices this firmware touches, at the addresses QEMU gives them.
//!
//! Every volatile access to a device register goes through [`Reg`]; this is the only file
//! besides `virtio.rs` (descriptor rings the device reads) and `stack.rs` (painting the free
//! stack) with `unsafe`.

use core::fmt;

/// NS16550A UART.
const UART: usize = 0x1000_0000;
/// SiFive test device: writing to it ends the emulation with a status.
const TEST_FINISHER: usize = 0x10_0000;
/// CLINT: the machine timer of hart 0.
const MTIMECMP: usize = 0x0200_4000;
const MTIME: usize = 0x0200_bff8;
/// PLIC: source priorities, hart 0 machine-mode enable bits, threshold and claim.
const PLIC: usize = 0x0c00_0000;
const PLIC_ENABLE_M0: usize = PLIC + 0x2000;
const PLIC_THRESHOLD_M0: usize = PLIC + 0x20_0000;
const PLIC_CLAIM_M0: usize = PLIC + 0x20_0004;
/// The eight virtio-mmio transports, 4 KiB apart, on PLIC sources 1 to 8.
pub const VIRTIO_BASE: usize = 0x1000_1000;
/// Transports on the board.
pub const VIRTIO_SLOTS: usize = 8;
/// The CLINT's timebase on the virt machine.
pub const MTIME_HZ: u64 = 10_000_000;

/// A 32-bit device register at a fixed physical address.
#[derive(Copy, Clone)]
pub struct Reg(usize);

impl Reg {
    /// The register at `address`, which must be a register of one of the devices above.
    pub const fn at(address: usize) -> Self {
        Reg(address)
    }

    /// Reads it.
    #[inline(always)]
    pub fn read(self) -> u32 {
        // SAFETY: `Reg` is only built for addresses of the virt machine's device registers
        // (this file and virtio.rs), which are aligned, always mapped, and have no Rust objects.
        unsafe { core::ptr::read_volatile(self.0 as *const u32) }
    }

    /// Writes it.
    #[inline(always)]
    pub fn write(self, value: u32) {
        // SAFETY: as in `read`.
        unsafe { core::ptr::write_volatile(self.0 as *mut u32, value) }
    }

    /// Reads the byte at this address.
    #[inline(always)]
    pub fn read8(self) -> u8 {
        // SAFETY: as in `read`; byte registers (UART, virtio config) allow byte access.
        unsafe { core::ptr::read_volatile(self.0 as *const u8) }
    }

    /// Writes a byte at this address.
    #[inline(always)]
    pub fn write8(self, value: u8) {
        // SAFETY: as in `read8`.
        unsafe { core::ptr::write_volatile(self.0 as *mut u8, value) }
    }
}

/// The UART as a `fmt::Write` sink (transmit only, polled).
pub struct Uart;

impl Uart {
    fn put(byte: u8) {
        // Line status bit 5: the transmit holding register is empty. QEMU's is always ready;
        // the bound keeps a wedged UART from hanging the board.
        for _ in 0..100_000 {
            if Reg::at(UART + 5).read8() & 0x20 != 0 {
                break;
            }
        }
        Reg::at(UART).write8(byte);
    }
}

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                Uart::put(b'\r');
            }
            Uart::put(byte);
        }
        Ok(())
    }
}

/// Ends the emulation: status 0 is a clean exit, anything else a failure QEMU exits with.
pub fn exit(status: u16) -> ! {
    let value = if status == 0 { 0x5555 } else { (u32::from(status) << 16) | 0x3333 };
    Reg::at(TEST_FINISHER).write(value);
    loop {
        riscv::asm::wfi();
    }
}

/// The machine timer, in [`MTIME_HZ`] ticks since reset.
pub fn mtime() -> u64 {
    // The high word may carry between the two reads: read it again until it holds still.
    loop {
        let hi = Reg::at(MTIME + 4).read();
        let lo = Reg::at(MTIME).read();
        if Reg::at(MTIME + 4).read() == hi {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

/// Makes the timer interrupt pending from `at` on (`u64::MAX`: never).
pub fn set_mtimecmp(at: u64) {
    // High word to the maximum first, so that no intermediate value fires early.
    Reg::at(MTIMECMP + 4).write(u32::MAX);
    Reg::at(MTIMECMP).write(at as u32);
    Reg::at(MTIMECMP + 4).write((at >> 32) as u32);
}

/// Routes PLIC source `irq` to hart 0 in machine mode.
pub fn plic_enable(irq: u32) {
    Reg::at(PLIC + 4 * irq as usize).write(1);
    let enable = Reg::at(PLIC_ENABLE_M0 + 4 * (irq as usize / 32));
    enable.write(enable.read() | (1 << (irq % 32)));
    Reg::at(PLIC_THRESHOLD_M0).write(0);
}

/// Claims the highest pending PLIC source, if any.
pub fn plic_claim() -> Option<u32> {
    match Reg::at(PLIC_CLAIM_M0).read() {
        0 => None,
        irq => Some(irq),
    }
}

/// Tells the PLIC that source `irq` has been served.
pub fn plic_complete(irq: u32) {
    Reg::at(PLIC_CLAIM_M0).write(irq);
}

/// Lets the timer and external interrupts wake `wfi`. They are never taken (`mstatus.MIE`
/// stays clear): the main loop looks at what is pending after each `wfi`, so there are no
/// interrupt handlers and nothing runs concurrently with the tasks.
pub fn enable_wakeups() {
    // SAFETY: setting mie.MTIE and mie.MEIE only lets these sources end a `wfi`, since
    // mstatus.MIE is never set, no trap is taken.
    unsafe {
        riscv::register::mie::set_mtimer();
        riscv::register::mie::set_mext();
    }
}

/// Instructions retired since reset.
pub fn instret() -> u64 {
    riscv::register::minstret::read64()
}

/// Cycles since reset.
pub fn cycles() -> u64 {
    riscv::register::mcycle::read64()
}

/// `log` to the UART, one line per record with the time since boot.
struct UartLogger;

static LOGGER: UartLogger = UartLogger;

impl log::Log for UartLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            use fmt::Write as _;
            let ms = mtime() / (MTIME_HZ / 1000);
            let _ = writeln!(
                Uart,
                "[{:>6}.{:03} {:<5} {}] {}",
                ms / 1000,
                ms % 1000,
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Sends `log` records at info level and above to the UART. Call once, first thing.
pub fn init_logger() {
    // SAFETY: called once at boot before anything logs, on the only hart, with interrupts never
    // taken: nothing can race the racy setters (the only ones RV32IMC has without CAS).
    unsafe {
        let _ = log::set_logger_racy(&LOGGER);
        log::set_max_level_racy(log::LevelFilter::Info);
    }
}
