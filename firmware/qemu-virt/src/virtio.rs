//! A virtio-net device over virtio-mmio (version 2, "modern"), as an embassy-net `Driver`; and
//! the virtio entropy device, the random source of the TLS build.
//!
//! Two split virtqueues with static rings and buffers, one frame per buffer (no mergeable
//! buffers, no offloads): receive buffers are all posted at start and each is posted again once
//! embassy-net has read it; transmit buffers are filled in turn and reclaimed as the device
//! marks them used. The device reads and writes the rings and buffers on its own, so they are
//! only touched through raw pointers, with volatile accesses and fences where the virtio
//! specification orders them.

use core::ptr::{self, addr_of, addr_of_mut};
use core::sync::atomic::{Ordering, fence};
use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use embassy_sync::waitqueue::AtomicWaker;
use static_cell::ConstStaticCell;

use crate::board::{self, Reg};

/// Receive buffers posted to the device.
pub const RX_QUEUE: usize = 8;
/// Frames the stack may have in flight to the device.
pub const TX_QUEUE: usize = 4;
/// One buffer: the 12-byte virtio-net header and an Ethernet frame of 1514 bytes, rounded up.
pub const BUFFER: usize = 1536;
/// `virtio_net_hdr` with VIRTIO_F_VERSION_1 (its `num_buffers` field included).
const HEADER: usize = 12;
/// Ethernet MTU as embassy-net counts it: the IP MTU and the 14-byte header.
const MTU: usize = 1514;

// virtio-mmio registers (virtio 1.2, 4.2.2).
const MAGIC: usize = 0x000;
const VERSION: usize = 0x004;
const DEVICE_ID: usize = 0x008;
const DEVICE_FEATURES: usize = 0x010;
const DEVICE_FEATURES_SEL: usize = 0x014;
const DRIVER_FEATURES: usize = 0x020;
const DRIVER_FEATURES_SEL: usize = 0x024;
const QUEUE_SEL: usize = 0x030;
const QUEUE_NUM_MAX: usize = 0x034;
const QUEUE_NUM: usize = 0x038;
const QUEUE_READY: usize = 0x044;
const QUEUE_NOTIFY: usize = 0x050;
const INTERRUPT_STATUS: usize = 0x060;
const INTERRUPT_ACK: usize = 0x064;
const STATUS: usize = 0x070;
const QUEUE_DESC: usize = 0x080;
const QUEUE_DRIVER: usize = 0x090;
const QUEUE_DEVICE: usize = 0x0a0;
const CONFIG: usize = 0x100;

const STATUS_ACKNOWLEDGE: u32 = 1;
const STATUS_DRIVER: u32 = 2;
const STATUS_DRIVER_OK: u32 = 4;
const STATUS_FEATURES_OK: u32 = 8;
/// VIRTIO_NET_F_MAC, in the first feature word.
const FEATURE_MAC: u32 = 1 << 5;
/// VIRTIO_F_VERSION_1, bit 32: the second feature word's bit 0.
const FEATURE_VERSION_1: u32 = 1;
const DESC_F_WRITE: u16 = 2;
const NET_DEVICE: u32 = 1;
#[cfg(feature = "tls")]
const ENTROPY_DEVICE: u32 = 4;
const RX: u32 = 0;
const TX: u32 = 1;

#[repr(C, align(16))]
#[derive(Copy, Clone)]
struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

#[repr(C, align(4))]
#[derive(Copy, Clone)]
struct UsedElem {
    id: u32,
    len: u32,
}

/// The driver's ring: what the device may take.
#[repr(C, align(2))]
struct Avail<const N: usize> {
    flags: u16,
    idx: u16,
    ring: [u16; N],
    used_event: u16,
}

/// The device's ring: what it has finished with. Must be 4-byte aligned (virtio 1.2, 2.7).
#[repr(C, align(4))]
struct Used<const N: usize> {
    flags: u16,
    idx: u16,
    ring: [UsedElem; N],
    avail_event: u16,
}

/// One split virtqueue with a buffer per descriptor.
#[repr(C)]
struct Ring<const N: usize> {
    desc: [Desc; N],
    avail: Avail<N>,
    used: Used<N>,
    buffers: [[u8; BUFFER]; N],
}

impl<const N: usize> Ring<N> {
    const ZERO: Self = Ring {
        desc: [Desc { addr: 0, len: 0, flags: 0, next: 0 }; N],
        avail: Avail { flags: 0, idx: 0, ring: [0; N], used_event: 0 },
        used: Used { flags: 0, idx: 0, ring: [UsedElem { id: 0, len: 0 }; N], avail_event: 0 },
        buffers: [[0; BUFFER]; N],
    };
}

// Zero-initialised: in .bss, counted in the ELF's sections against the RAM budget.
static RX_RING: ConstStaticCell<Ring<RX_QUEUE>> = ConstStaticCell::new(Ring::ZERO);
static TX_RING: ConstStaticCell<Ring<TX_QUEUE>> = ConstStaticCell::new(Ring::ZERO);
#[cfg(feature = "tls")]
static ENTROPY_RING: ConstStaticCell<Ring<1>> = ConstStaticCell::new(Ring::ZERO);

/// Woken when the device has used a buffer (the main loop sees its interrupt).
static WAKER: AtomicWaker = AtomicWaker::new();

/// A queue the driver owns, seen through a raw pointer because the device shares it.
struct Queue<const N: usize> {
    ring: *mut Ring<N>,
    /// The next used entry to look at.
    last_used: u16,
}

impl<const N: usize> Queue<N> {
    fn new(ring: &'static mut Ring<N>) -> Self {
        Queue { ring: ptr::from_mut(ring), last_used: 0 }
    }

    fn buffer_address(&self, id: usize) -> u64 {
        // SAFETY: `id < N`; only the address is taken, nothing is read or written.
        (unsafe { addr_of!((*self.ring).buffers[id]) }) as usize as u64
    }

    /// Points descriptor `id` at its buffer.
    fn set_desc(&mut self, id: usize, len: u32, flags: u16) {
        let addr = self.buffer_address(id);
        // SAFETY: the ring is ours for the firmware's lifetime (taken from a ConstStaticCell);
        // the device reads a descriptor only after it is made available below.
        unsafe {
            ptr::write_volatile(addr_of_mut!((*self.ring).desc[id]), Desc { addr, len, flags, next: 0 })
        };
    }

    /// Offers descriptor `id` to the device.
    fn make_available(&mut self, id: usize) {
        // SAFETY: as in `set_desc`; the available ring is written by the driver only.
        unsafe {
            let idx = ptr::read_volatile(addr_of!((*self.ring).avail.idx));
            ptr::write_volatile(addr_of_mut!((*self.ring).avail.ring[usize::from(idx) % N]), id as u16);
            // The entry before the index that publishes it (virtio 1.2, 2.7.13).
            fence(Ordering::SeqCst);
            ptr::write_volatile(addr_of_mut!((*self.ring).avail.idx), idx.wrapping_add(1));
        }
        fence(Ordering::SeqCst);
    }

    /// The next buffer the device has finished with: its id and the bytes it wrote.
    fn next_used(&self) -> Option<(usize, usize)> {
        // SAFETY: the used ring is written by the device; volatile reads, and the fence keeps
        // the entry's read after the index's.
        unsafe {
            let idx = ptr::read_volatile(addr_of!((*self.ring).used.idx));
            if idx == self.last_used {
                return None;
            }
            fence(Ordering::SeqCst);
            let elem = ptr::read_volatile(addr_of!((*self.ring).used.ring[usize::from(self.last_used) % N]));
            Some((elem.id as usize % N, elem.len as usize))
        }
    }

    /// Buffer `id`, which the device does not own now (used and not yet offered again).
    fn buffer(&mut self, id: usize) -> &mut [u8; BUFFER] {
        // SAFETY: the device has given this buffer back (or never had it) and does not touch
        // it until `make_available`; the borrow ends before that, since it borrows `self`.
        unsafe { &mut *addr_of_mut!((*self.ring).buffers[id]) }
    }

    fn addresses(&self) -> (u64, u64, u64) {
        // SAFETY: only addresses are taken.
        unsafe {
            (
                addr_of!((*self.ring).desc) as usize as u64,
                addr_of!((*self.ring).avail) as usize as u64,
                addr_of!((*self.ring).used) as usize as u64,
            )
        }
    }
}

/// Why the network device could not be started.
#[derive(Copy, Clone, Debug)]
pub enum InitError {
    /// No such device on any of the board's virtio-mmio transports (QEMU's `-device` adds one).
    NoDevice,
    /// The device speaks the legacy interface (QEMU's default): run QEMU with
    /// `-global virtio-mmio.force-legacy=false`.
    Legacy,
    /// The device refused the features (VERSION_1, MAC).
    Features,
    /// A queue is smaller than the driver's.
    QueueTooSmall,
}

/// The virtio-net device.
pub struct VirtioNet {
    base: usize,
    irq: u32,
    mac: [u8; 6],
    rx: Queue<RX_QUEUE>,
    tx: Queue<TX_QUEUE>,
    /// Transmit buffers the device holds.
    tx_in_flight: usize,
    /// The next transmit buffer to fill.
    tx_next: usize,
}

impl VirtioNet {
    /// Finds the device, negotiates, sets up both queues and posts every receive buffer. Call
    /// once (the rings are taken from their static cells).
    pub fn new() -> Result<Self, InitError> {
        let base = find(NET_DEVICE)?;
        let reg = |offset: usize| Reg::at(base + offset);
        let offered = negotiate(base, FEATURE_MAC)?;

        let mut mac = [0x02, 0, 0, 0, 0, 0x02];
        if offered & FEATURE_MAC != 0 {
            for (i, byte) in mac.iter_mut().enumerate() {
                *byte = reg(CONFIG + i).read8();
            }
        }

        let mut rx = Queue::new(RX_RING.take());
        let tx = Queue::new(TX_RING.take());
        setup_queue(base, RX, RX_QUEUE, rx.addresses())?;
        setup_queue(base, TX, TX_QUEUE, tx.addresses())?;
        for id in 0..RX_QUEUE {
            rx.set_desc(id, BUFFER as u32, DESC_F_WRITE);
            rx.make_available(id);
        }
        reg(STATUS).write(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        reg(QUEUE_NOTIFY).write(RX);

        let irq = ((base - board::VIRTIO_BASE) / 0x1000 + 1) as u32;
        board::plic_enable(irq);
        Ok(VirtioNet { base, irq, mac, rx, tx, tx_in_flight: 0, tx_next: 0 })
    }

    /// The device's PLIC source.
    pub fn irq(&self) -> u32 {
        self.irq
    }

    /// The device's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Acknowledges the device's interrupt and wakes the network task; the main loop calls it
    /// when the PLIC says the device interrupted.
    pub fn acknowledge(base: usize) {
        let status = Reg::at(base + INTERRUPT_STATUS).read();
        Reg::at(base + INTERRUPT_ACK).write(status);
        WAKER.wake();
    }

    /// The device's register base, for [`VirtioNet::acknowledge`].
    pub fn base(&self) -> usize {
        self.base
    }

    /// Takes back the transmit buffers the device has sent.
    fn reclaim_tx(&mut self) {
        while self.tx.next_used().is_some() {
            self.tx.last_used = self.tx.last_used.wrapping_add(1);
            self.tx_in_flight -= 1;
        }
    }

    fn tx_token(&mut self) -> Option<TxToken<'_>> {
        self.reclaim_tx();
        (self.tx_in_flight < TX_QUEUE).then_some(TxToken {
            queue: &mut self.tx,
            in_flight: &mut self.tx_in_flight,
            next: &mut self.tx_next,
            base: self.base,
        })
    }
}

/// The register base of the first virtio-mmio transport holding a device of type `device`.
fn find(device: u32) -> Result<usize, InitError> {
    let base = (0..board::VIRTIO_SLOTS)
        .map(|slot| board::VIRTIO_BASE + slot * 0x1000)
        .find(|&base| {
            Reg::at(base + MAGIC).read() == 0x7472_6976 && Reg::at(base + DEVICE_ID).read() == device
        })
        .ok_or(InitError::NoDevice)?;
    if Reg::at(base + VERSION).read() != 2 {
        return Err(InitError::Legacy);
    }
    Ok(base)
}

/// Resets the device at `base` and agrees to VERSION_1 and what it offers of `wanted` (feature
/// word 0); gives what it offered there.
fn negotiate(base: usize, wanted: u32) -> Result<u32, InitError> {
    let reg = |offset: usize| Reg::at(base + offset);
    reg(STATUS).write(0);
    reg(STATUS).write(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    reg(DEVICE_FEATURES_SEL).write(0);
    let offered = reg(DEVICE_FEATURES).read();
    reg(DRIVER_FEATURES_SEL).write(0);
    reg(DRIVER_FEATURES).write(offered & wanted);
    reg(DRIVER_FEATURES_SEL).write(1);
    reg(DRIVER_FEATURES).write(FEATURE_VERSION_1);
    reg(STATUS).write(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if reg(STATUS).read() & STATUS_FEATURES_OK == 0 {
        return Err(InitError::Features);
    }
    Ok(offered)
}

fn setup_queue(
    base: usize,
    index: u32,
    size: usize,
    (desc, avail, used): (u64, u64, u64),
) -> Result<(), InitError> {
    let reg = |offset: usize| Reg::at(base + offset);
    reg(QUEUE_SEL).write(index);
    if (reg(QUEUE_NUM_MAX).read() as usize) < size {
        return Err(InitError::QueueTooSmall);
    }
    reg(QUEUE_NUM).write(size as u32);
    for (offset, address) in [(QUEUE_DESC, desc), (QUEUE_DRIVER, avail), (QUEUE_DEVICE, used)] {
        reg(offset).write(address as u32);
        reg(offset + 4).write((address >> 32) as u32);
    }
    reg(QUEUE_READY).write(1);
    Ok(())
}

/// A received frame.
pub struct RxToken<'a> {
    queue: &'a mut Queue<RX_QUEUE>,
    id: usize,
    len: usize,
    base: usize,
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let len = self.len.clamp(HEADER, BUFFER);
        let result = f(&mut self.queue.buffer(self.id)[HEADER..len]);
        self.queue.last_used = self.queue.last_used.wrapping_add(1);
        self.queue.make_available(self.id);
        Reg::at(self.base + QUEUE_NOTIFY).write(RX);
        result
    }
}

/// Room for one frame to send.
pub struct TxToken<'a> {
    queue: &'a mut Queue<TX_QUEUE>,
    in_flight: &'a mut usize,
    next: &'a mut usize,
    base: usize,
}

impl embassy_net_driver::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let id = *self.next;
        let len = len.min(MTU);
        let buffer = self.queue.buffer(id);
        buffer[..HEADER].fill(0);
        let result = f(&mut buffer[HEADER..HEADER + len]);
        self.queue.set_desc(id, (HEADER + len) as u32, 0);
        self.queue.make_available(id);
        *self.next = (id + 1) % TX_QUEUE;
        *self.in_flight += 1;
        Reg::at(self.base + QUEUE_NOTIFY).write(TX);
        result
    }
}

impl embassy_net_driver::Driver for VirtioNet {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(RxToken<'_>, TxToken<'_>)> {
        WAKER.register(cx.waker());
        self.reclaim_tx();
        let (id, len) = self.rx.next_used()?;
        if self.tx_in_flight >= TX_QUEUE {
            return None;
        }
        let base = self.base;
        let rx = RxToken { queue: &mut self.rx, id, len, base };
        let tx =
            TxToken { queue: &mut self.tx, in_flight: &mut self.tx_in_flight, next: &mut self.tx_next, base };
        Some((rx, tx))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<TxToken<'_>> {
        WAKER.register(cx.waker());
        self.tx_token()
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(TX_QUEUE);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}

/// The virtio entropy device (QEMU's `-device virtio-rng-device`), read synchronously: QEMU
/// fills a request from the host's generator before the notification returns.
#[cfg(feature = "tls")]
pub struct VirtioRng {
    base: usize,
    queue: Queue<1>,
}

// SAFETY: the one hart runs everything and no interrupt handler exists (see main.rs), so the
// queue's raw pointer to its ring is never used from two places at once.
#[cfg(feature = "tls")]
unsafe impl Send for VirtioRng {}

#[cfg(feature = "tls")]
impl VirtioRng {
    /// Finds the device and sets up its one queue. Call once (the ring is a static's).
    pub fn new() -> Result<Self, InitError> {
        let base = find(ENTROPY_DEVICE)?;
        negotiate(base, 0)?;
        let queue = Queue::new(ENTROPY_RING.take());
        setup_queue(base, 0, 1, queue.addresses())?;
        Reg::at(base + STATUS)
            .write(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        Ok(VirtioRng { base, queue })
    }

    /// Fills `out` with random bytes from the host.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut filled = 0;
        while filled < out.len() {
            let want = (out.len() - filled).min(BUFFER);
            self.queue.set_desc(0, want as u32, DESC_F_WRITE);
            self.queue.make_available(0);
            Reg::at(self.base + QUEUE_NOTIFY).write(0);
            // QEMU fills the request from its main loop, which may take until the vCPU thread
            // lets it run (a tenth of a second at worst); a device silent for 2 s is broken.
            let deadline = board::mtime() + 2 * board::MTIME_HZ;
            let (_, len) = loop {
                if let Some(used) = self.queue.next_used() {
                    break used;
                }
                if board::mtime() > deadline {
                    panic!("virtio-rng did not answer within 2 s");
                }
            };
            self.queue.last_used = self.queue.last_used.wrapping_add(1);
            let len = len.min(want);
            out[filled..filled + len].copy_from_slice(&self.queue.buffer(0)[..len]);
            filled += len;
        }
    }
}
