//! espws on an emulated RV32IMC board: QEMU's `virt` machine, the ESP32-C3's instruction set
//! and RAM ceiling, a virtio-net NIC in place of the radio, and the same embassy-net worker pool,
//! settings and applications as `firmware/esp-hal`.
//!
//! Board glue only: the CLINT is embassy-time's clock (`time.rs`), virtio-net is embassy-net's
//! driver (`virtio.rs`), and one loop below polls the executor and sleeps in `wfi`. Interrupts
//! are never taken: `wfi` ends when the timer or the NIC has something pending, and the loop
//! serves it, so nothing runs concurrently with the tasks and no handler needs a stack.
//!
//! Port 81 answers `GET /stats` with the instruction counters and the stack's high-water mark
//! (`scripts/qemu-device` reads it to count instructions per message).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod board;
#[cfg(feature = "tls")]
#[allow(unsafe_code)]
mod heap;
#[allow(unsafe_code)]
mod stack;
mod time;
#[cfg(feature = "tls")]
mod tls;
// Links tinyrlibc's C functions for mbedTLS.
#[cfg(feature = "tls")]
use tinyrlibc as _;
#[allow(unsafe_code)]
mod virtio;

use core::fmt::Write as _;
use core::net::Ipv4Addr;
use core::sync::atomic::{AtomicBool, Ordering};

use embassy_executor::{Spawner, raw};
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_time::{Duration, Timer};
use static_cell::{ConstStaticCell, StaticCell};

use crate::virtio::VirtioNet;

// ---- The one place this board uses the library's pool and the boards' shared APIs. ----
use espws::ServeConfig;
use espws::nonblocking::BufferPool;
use espws::server::Slots;
use espws::server::embassy::worker;
use espws_apps::settings::{App, Settings};
use espws_board::budget::bare_metal as budget;

/// The device's settings as built (`ESPWS_*`), checked at compile time.
const SETTINGS: Settings<'static> = espws_board::settings_from_build_env!();
/// The ESP32-C3 as the budget lays out its RAM.
const CHIP: budget::Chip = budget::ESP32C3;
/// What the C3 leaves an application of `dram_seg`: less the code in RAM, the Wi-Fi heap's part
/// of it and the platform's statics. memory.x's RAM region must not be larger.
const RAM_CEILING: usize =
    CHIP.dram - CHIP.code_in_dram - budget::heap_split(CHIP).1 - budget::PLATFORM_STATICS;
const WORKERS: usize = budget::workers(SETTINGS.max_clients);
/// Every worker's socket and the stats socket (no DHCP on this board).
const SOCKETS: usize = WORKERS + 1;
const RX_BUFFER: usize = SETTINGS.rx_buffer;
const HUB_CLIENTS: usize = if SETTINGS.uses_hub() { SETTINGS.max_clients } else { 0 };
const HUB_QUEUE: usize = SETTINGS.hub_queue;
/// The address the TAP runtime's tests expect the device at.
const ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 69, 2);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 69, 1);
const STATS_PORT: u16 = 81;

/// Receive buffers the workers share (none with whole-message delivery).
const SHARED_RX: usize = SETTINGS.shared_rx_buffers();
type WorkerMemory = espws_board::worker_memory::WorkerMemory<{ budget::worker_rx(&SETTINGS) }>;

static WORKER_MEMORY: ConstStaticCell<[WorkerMemory; WORKERS]> =
    ConstStaticCell::new([WorkerMemory::ZERO; WORKERS]);
static SHARED_RX_BUFFERS: ConstStaticCell<[[u8; RX_BUFFER]; SHARED_RX]> =
    ConstStaticCell::new([[0; RX_BUFFER]; SHARED_RX]);
static RX_POOL: BufferPool<'static> = BufferPool::new();
static STACK_RESOURCES: ConstStaticCell<StackResources<SOCKETS>> =
    ConstStaticCell::new(StackResources::new());
static HUB_RINGS: ConstStaticCell<[[u8; HUB_QUEUE]; HUB_CLIENTS]> =
    ConstStaticCell::new([[0; HUB_QUEUE]; HUB_CLIENTS]);
static HUB_SLOTS: StaticCell<[espws::hub::Slot<'static>; HUB_CLIENTS]> = StaticCell::new();
static HUB: StaticCell<espws_apps::DeviceHub> = StaticCell::new();
static DEVICE: StaticCell<espws_apps::device::Device<'static>> = StaticCell::new();
static SLOTS: Slots = Slots::new(SETTINGS.max_clients);
/// How the workers serve, from the build-time settings.
static SERVE_CONFIG: ServeConfig<'static> = SETTINGS.serve_config();

#[embassy_executor::task(pool_size = WORKERS)]
async fn worker_task(
    stack: Stack<'static>,
    device: &'static espws_apps::device::Device<'static>,
    id: u32,
    memory: &'static mut WorkerMemory,
    pool: Option<&'static BufferPool<'static>>,
    layer: Layer,
) -> ! {
    let buffers = memory.buffers(pool);
    if cfg!(feature = "raw-tcp-echo") {
        let buffer = match buffers.websocket_rx {
            espws::server::embassy::WebSocketRx::Own(buffer) => buffer,
            espws::server::embassy::WebSocketRx::Lent { carry, .. } => carry,
        };
        raw_echo(stack, buffers.socket_rx, buffers.socket_tx, buffer).await
    } else {
        worker(stack, SETTINGS.port, &SERVE_CONFIG, device, &SLOTS, id, buffers, layer).await
    }
}

/// What the workers open connections with: plain TCP, or TLS in the `tls` build.
#[cfg(not(feature = "tls"))]
type Layer = espws::server::embassy::Tcp;
#[cfg(feature = "tls")]
type Layer = &'static espws::tls::mbedtls::TlsServer<'static>;

#[embassy_executor::task]
async fn status_task(hub: &'static espws_apps::DeviceHub, period: core::time::Duration) -> ! {
    espws_apps::status::run_async(hub, espws::nonblocking::EmbassyTimer, period).await
}

/// The device: its hub when the app needs one, and the workers.
fn start_device(spawner: Spawner, stack: Stack<'static>, layer: Layer) {
    let hub: Option<&'static espws_apps::DeviceHub> = if SETTINGS.uses_hub() {
        let slots = HUB_SLOTS.init(espws::hub::slots(HUB_RINGS.take()));
        Some(&*HUB.init(espws_apps::DeviceHub::new(slots)))
    } else {
        None
    };
    let device = DEVICE.init(espws_apps::device::Device::new(SETTINGS, hub));
    let pool = espws_board::worker_memory::share(&RX_POOL, SHARED_RX_BUFFERS.take());
    for (id, memory) in WORKER_MEMORY.take().iter_mut().enumerate() {
        let task = worker_task(stack, device, id as u32, memory, pool, layer);
        spawner.spawn(task.expect("the pool holds every worker"));
    }
    if let (Some(hub), Some(period)) = (hub, SETTINGS.tick) {
        spawner.spawn(status_task(hub, period).expect("one status task"));
    }
    if let (Some(hub), App::Sensor) = (hub, SETTINGS.app) {
        spawner.spawn(sensor_task(hub, SETTINGS.sensor_rate_hz).expect("one sensor task"));
    }
}

#[embassy_executor::task]
async fn sensor_task(hub: &'static espws_apps::DeviceHub, rate_hz: u16) -> ! {
    espws_apps::sensor::run_async(hub, espws::nonblocking::EmbassyTimer, rate_hz).await
}

fn url_lines(address: Ipv4Addr) {
    log::info!("{}", espws_board::provision::console_line(address, &SETTINGS));
    log::info!("{}", espws_board::provision::websocket_line(address, &SETTINGS));
}
// ---- End of the shared APIs. ----

/// The floor the instruction counts are measured against: the same sockets and stack, bytes
/// echoed as they come, no WebSocket.
async fn raw_echo(stack: Stack<'static>, rx: &mut [u8], tx: &mut [u8], buffer: &mut [u8]) -> ! {
    use embedded_io_async::Write as _;
    loop {
        let mut socket = TcpSocket::new(stack, &mut *rx, &mut *tx);
        if socket.accept(SETTINGS.port).await.is_err() {
            continue;
        }
        loop {
            match socket.read(buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if socket.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        socket.close();
        let _ = socket.flush().await;
        socket.abort();
    }
}

/// Set by the executor when a task is woken; cleared by the main loop before each poll.
static WORK: AtomicBool = AtomicBool::new(true);

// SAFETY: the executor calls `__pender` (no platform feature provides one); nothing else
// exports the name.
#[allow(unsafe_code)]
#[unsafe(export_name = "__pender")]
fn pender(_context: *mut ()) {
    WORK.store(true, Ordering::Relaxed);
}

/// Instructions retired while asleep in `wfi` (with `-icount`, QEMU's counter also advances
/// while the hart sleeps), so that `instret - IDLE` is the work done.
static IDLE: critical_section::Mutex<core::cell::Cell<u64>> =
    critical_section::Mutex::new(core::cell::Cell::new(0));

fn busy_instructions() -> u64 {
    board::instret() - critical_section::with(|cs| IDLE.borrow(cs).get())
}

static EXECUTOR: StaticCell<raw::Executor> = StaticCell::new();
static NET: StaticCell<VirtioNet> = StaticCell::new();

#[riscv_rt::entry]
fn main() -> ! {
    stack::paint();
    board::init_logger();
    log::info!(
        "espws {} (qemu-virt, RV32IMC): {} clients, {:?} app, {} B receive buffers{}",
        env!("CARGO_PKG_VERSION"),
        SETTINGS.max_clients,
        SETTINGS.app,
        SETTINGS.rx_buffer,
        if cfg!(feature = "raw-tcp-echo") { " (raw TCP echo floor, no WebSocket)" } else { "" }
    );
    let (bottom, top) = stack::bounds();
    log::info!(
        "RAM: {} B (ceiling {} B): .data + .bss {} B, stack {} B",
        stack::ram(),
        RAM_CEILING,
        stack::ram() - (top - bottom),
        top - bottom
    );
    if stack::ram() > RAM_CEILING {
        panic!("memory.x gives more RAM than the ESP32-C3 leaves the application");
    }

    let net = match VirtioNet::new() {
        Ok(net) => NET.init(net),
        Err(e) => panic!("no network: {e:?}"),
    };
    let (net_base, net_irq) = (net.base(), net.irq());
    #[cfg(feature = "tls")]
    let layer = tls::start();
    #[cfg(not(feature = "tls"))]
    let layer = espws::server::embassy::Tcp;
    board::enable_wakeups();
    board::set_mtimecmp(u64::MAX);

    let executor: &'static raw::Executor = EXECUTOR.init(raw::Executor::new(core::ptr::null_mut()));
    executor.spawner().spawn(main_task(executor.spawner(), net, layer).expect("one main task"));
    loop {
        WORK.store(false, Ordering::Relaxed);
        // SAFETY: polled from this loop only, never re-entered (no interrupt handler runs).
        #[allow(unsafe_code)]
        unsafe {
            executor.poll()
        };
        serve_pending(net_base, net_irq);
        if !WORK.load(Ordering::Relaxed) {
            let before = board::instret();
            riscv::asm::wfi();
            let slept = board::instret() - before;
            critical_section::with(|cs| IDLE.borrow(cs).set(IDLE.borrow(cs).get() + slept));
        }
    }
}

/// Wakes whoever waits for what is pending: expired timers, the NIC.
fn serve_pending(net_base: usize, net_irq: u32) {
    let pending = riscv::register::mip::read();
    if pending.mtimer() {
        time::service();
    }
    if pending.mext() {
        // Bounded: the PLIC has eight sources on this board.
        for _ in 0..8 {
            let Some(irq) = board::plic_claim() else { break };
            if irq == net_irq {
                VirtioNet::acknowledge(net_base);
            }
            board::plic_complete(irq);
        }
    }
}

#[embassy_executor::task]
async fn main_task(spawner: Spawner, net: &'static mut VirtioNet, layer: Layer) {
    let mac = net.mac();
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ADDRESS, 24),
        gateway: Some(GATEWAY),
        dns_servers: Default::default(),
    });
    // No RNG on this board: the MAC and the time of boot make the seed (it only randomises
    // local ports and sequence numbers).
    let seed =
        board::mtime() ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0x5a, 0xa5]);
    let (stack, runner) = embassy_net::new(net, config, STACK_RESOURCES.take(), seed);
    spawner.spawn(net_task(runner).expect("one network task"));
    spawner.spawn(stats_task(stack).expect("one stats task"));
    start_device(spawner, stack, layer);
    stack.wait_config_up().await;
    log::info!("stats: GET http://{ADDRESS}:{STATS_PORT}/stats");
    url_lines(ADDRESS);
    loop {
        Timer::after(Duration::from_secs(30)).await;
        let (used, size) = stack::high_water();
        log::info!("stack high-water mark: {used} of {size} B; {} instructions busy", busy_instructions());
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, &'static mut VirtioNet>) -> ! {
    runner.run().await
}

/// Answers every connection on port 81 with the counters, as JSON over HTTP/1.0.
#[embassy_executor::task]
async fn stats_task(stack: Stack<'static>) -> ! {
    use embedded_io_async::Write as _;
    let mut rx = [0u8; 512];
    let mut tx = [0u8; 512];
    let mut request = [0u8; 256];
    loop {
        let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
        socket.set_timeout(Some(Duration::from_secs(5)));
        if socket.accept(STATS_PORT).await.is_err() {
            continue;
        }
        // The request head is not looked at beyond its arrival: every path gets the counters.
        let _ = socket.read(&mut request).await;
        let (stack_used, stack_size) = stack::high_water();
        let mut body = Line::<320>::new();
        let _ = writeln!(
            body,
            "{{\"instret\":{},\"busy_instret\":{},\"cycles\":{},\"uptime_ms\":{},\"stack_used\":{},\"stack_size\":{},\"ram\":{},\"ram_ceiling\":{},\"heap_used\":{},\"heap_peak\":{},\"heap_size\":{}}}",
            board::instret(),
            busy_instructions(),
            board::cycles(),
            board::mtime() / (board::MTIME_HZ / 1000),
            stack_used,
            stack_size,
            stack::ram(),
            RAM_CEILING,
            heap_in_use().0,
            heap_in_use().1,
            heap_in_use().2
        );
        let mut head = Line::<128>::new();
        let _ = write!(
            head,
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len
        );
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(body.as_bytes()).await;
        let _ = socket.flush().await;
        socket.close();
        Timer::after(Duration::from_millis(50)).await;
        socket.abort();
    }
}

/// The TLS heap's bytes in use, the most ever in use, and its size (none without TLS).
fn heap_in_use() -> (usize, usize, usize) {
    #[cfg(feature = "tls")]
    return (heap::in_use().0, heap::in_use().1, tls::HEAP_SIZE);
    #[cfg(not(feature = "tls"))]
    (0, 0, 0)
}

/// A short line formatted in place, of at most `N` bytes.
struct Line<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Line<N> {
    fn new() -> Self {
        Line { bytes: [0; N], len: 0 }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const N: usize> core::fmt::Write for Line<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(core::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(board::Uart, "PANIC: {info}");
    board::exit(101)
}

/// A trap is a bug on this board (no interrupt is ever taken): say where, and stop.
// SAFETY: riscv-rt's trap entry calls `ExceptionHandler` with this signature; it replaces the
// default (an endless loop), and nothing else exports the name.
#[allow(unsafe_code)]
#[unsafe(export_name = "ExceptionHandler")]
fn exception_handler(_frame: &riscv_rt::TrapFrame) -> ! {
    let _ = writeln!(
        board::Uart,
        "PANIC: exception mcause={:#x} mepc={:#x} mtval={:#x}",
        riscv::register::mcause::read().bits(),
        riscv::register::mepc::read(),
        riscv::register::mtval::read()
    );
    board::exit(102)
}
