//! espws on bare metal: esp-hal, esp-radio (Wi-Fi), esp-rtos (scheduler and embassy executor)
//! and embassy-net, serving the device's console and WebSocket from a pool of tasks.
//!
//! Board glue only. What the device does, how it decides between station and access point,
//! its settings and the sizes of its buffers live in `espws-apps`, compiled and tested on the
//! host; the simulator's `--runtime embassy-tap` runs the same pool on a PC.
//!
//! Memory is all static: each worker's socket buffers and WebSocket carry sit in one
//! `ConstStaticCell` (in `.bss`, never copied through the stack), beside the few receive buffers
//! the workers share, and the task pool's futures in the executor's static pool. `firmware/README.md` adds it all up.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use embassy_executor::Spawner;
use embassy_net::{Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_time::{Duration, Timer};
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_radio::wifi::ap::AccessPointConfig;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, ControllerConfig, Interface, WifiController};
use espws::ServeConfig;
use espws::nonblocking::BufferPool;
use espws::nonblocking::EmbassyTimer;
use espws::server::Slots;
use espws::server::embassy::worker;
use espws_apps::DeviceHub;
use espws_apps::device::Device;
use espws_apps::settings::{App, Settings};
use espws_board::budget::bare_metal as budget;
use espws_board::provision::{self, Mode, Plan, WifiStrings};
use espws_board::worker_memory::WorkerMemory as Memory;
use static_cell::{ConstStaticCell, StaticCell};

esp_bootloader_esp_idf::esp_app_desc!();

/// Wi-Fi as built: station when `WIFI_SSID` and `WIFI_PASS` are set, access point otherwise.
const WIFI: WifiStrings<'static> = espws_board::wifi_from_build_env!();
// A password of 7 characters stops the build here, with the reason.
const _: () = WIFI.assert_valid();

/// The device's settings as built (`ESPWS_*`), checked at compile time.
const SETTINGS: Settings<'static> = espws_board::settings_from_build_env!();

/// The chip, as esp-hal's linker scripts lay out its RAM.
// UNVERIFIED: the ESP32 (Xtensa) build could not be compiled here (no `esp` toolchain); its
// memory map is esp-hal's memory.x, its platform statics are estimated from the ESP32-C3 build.
const CHIP: budget::Chip = if cfg!(feature = "esp32") {
    budget::ESP32
} else if cfg!(feature = "esp32c6") {
    budget::ESP32C6
} else {
    budget::ESP32C3
};
/// esp-radio's heap: first the RAM the bootloader leaves, the rest in ordinary DRAM.
const HEAP_RECLAIMED: usize = budget::heap_split(CHIP).0;
const HEAP_DRAM: usize = budget::heap_split(CHIP).1;
/// mbedTLS's heap in a TLS build, in ordinary DRAM: per client at its peak, and the certificate.
#[cfg(feature = "tls")]
const HEAP_TLS: usize = budget::tls_heap(&SETTINGS);

/// What the workers open connections with: plain TCP, or TLS in the `tls` build.
#[cfg(not(feature = "tls"))]
type Layer = espws::server::embassy::Tcp;
#[cfg(feature = "tls")]
type Layer = &'static espws::tls::mbedtls::TlsServer<'static>;
// A certificate without the feature, or the reverse, stops the build in build.rs.
const _: () = assert!(SETTINGS.tls == cfg!(feature = "tls"));

/// The Wi-Fi mode, known at build time.
const MODE: Mode = match WIFI.check() {
    Ok(mode) => mode,
    // assert_valid above has already stopped the build.
    Err(_) => Mode::AccessPoint,
};
// The whole build must fit the chip's RAM with room for the main stack; this names the knobs
// instead of leaving a linker error about overflowing regions.
const _: () = assert!(
    budget::fits(CHIP, &SETTINGS, MODE),
    "this build does not fit the chip's RAM (see firmware/README.md): lower ESPWS_MAX_CLIENTS, ESPWS_RX_BUFFER or ESPWS_HUB_QUEUE"
);

/// Tasks that listen: one per client, and one that answers 503 when all are busy (embassy-net
/// has no listen backlog, so only a socket already listening can accept).
const WORKERS: usize = budget::workers(SETTINGS.max_clients);
/// Sockets in the stack: every worker's TCP socket, and the DHCP socket (client in station
/// mode, the server's UDP socket in access-point mode). `StackResources` panics when full.
const SOCKETS: usize = budget::sockets(SETTINGS.max_clients);
const RX_BUFFER: usize = SETTINGS.rx_buffer;
/// Hub queues exist only when the app broadcasts or status ticks run.
const HUB_CLIENTS: usize = if SETTINGS.uses_hub() { SETTINGS.max_clients } else { 0 };
const HUB_QUEUE: usize = SETTINGS.hub_queue;

/// Receive buffers the workers share (none with whole-message delivery).
const SHARED_RX: usize = SETTINGS.shared_rx_buffers();
/// One worker's memory: the TCP socket's window and send buffer, and its carry (or, without
/// shared buffers, its WebSocket receive buffer).
type WorkerMemory = Memory<{ budget::worker_rx(&SETTINGS) }>;

// The sizes the RAM table in firmware/README.md is made of (espws_board::budget).
const _: () = assert!(core::mem::size_of::<WorkerMemory>() == budget::worker_buffers(&SETTINGS));
const _: () = assert!(
    SHARED_RX == 0
        || core::mem::size_of::<[[u8; RX_BUFFER]; SHARED_RX]>() + core::mem::size_of::<BufferPool<'static>>()
            <= budget::shared_rx(&SETTINGS)
);
const _: () = assert!(
    core::mem::size_of::<StackResources<SOCKETS>>() <= budget::stack_resources(SOCKETS),
    "embassy-net's sockets grew: update budget::bare_metal::SOCKET_STORAGE / STACK_INNER and firmware/README.md"
);

// Zero-initialised statics live in .bss and are handed out by reference, never moved through a
// stack.
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
static HUB: StaticCell<DeviceHub> = StaticCell::new();
static DEVICE: StaticCell<Device<'static>> = StaticCell::new();
static SLOTS: Slots = Slots::new(SETTINGS.max_clients);
/// How the workers serve, from the build-time settings.
static SERVE_CONFIG: ServeConfig<'static> = SETTINGS.serve_config();

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    esp_println::logger::init_logger_from_env();
    let peripherals = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));

    // esp-radio allocates its buffers and task stacks from this heap (see firmware/README.md
    // for the sizes). The first region is RAM the ROM bootloader used, free once the app runs.
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: HEAP_RECLAIMED);
    esp_alloc::heap_allocator!(size: HEAP_DRAM);
    #[cfg(feature = "tls")]
    esp_alloc::heap_allocator!(size: HEAP_TLS);

    // The scheduler must run before the radio starts.
    let timg0 = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timg0.timer0, peripherals.FROM_CPU_INTR0);

    log::info!(
        "espws {} (esp-hal): {} clients, {:?} app, {} B receive buffers",
        env!("CARGO_PKG_VERSION"),
        SETTINGS.max_clients,
        SETTINGS.app,
        SETTINGS.rx_buffer
    );

    // The interface first: an access point is named after its MAC address.
    let interface = match MODE {
        Mode::Station => Interface::station(),
        Mode::AccessPoint => Interface::access_point(),
    };
    let plan = match provision::plan(&WIFI, interface.mac_address()) {
        Ok(plan) => plan,
        // Unreachable: the same check ran at build time.
        Err(e) => halt(e.message()).await,
    };
    let (wifi_config, net_config) = match &plan {
        Plan::Station(station) => {
            log::info!("Wi-Fi: joining \"{}\" as a station", station.ssid);
            let Ok(ssid) = station.ssid.try_into() else { halt("WIFI_SSID does not fit an SSID").await };
            let authentication = if station.is_open() {
                AuthenticationMethodConfig::Open
            } else {
                let Ok(pass) = station.pass.try_into() else {
                    halt("WIFI_PASS does not fit a password").await
                };
                AuthenticationMethodConfig::Wpa2Personal(pass)
            };
            let wifi =
                Config::Station(StationConfig::default().with_ssid(ssid).with_authentication(authentication));
            (wifi, embassy_net::Config::dhcpv4(Default::default()))
        }
        Plan::AccessPoint(ap) => {
            log::info!(
                "Wi-Fi: opening the access point \"{}\" on channel {}",
                ap.ssid,
                provision::AP_CHANNEL
            );
            let Ok(ssid) = ap.ssid.as_str().try_into() else { halt("AP_SSID does not fit an SSID").await };
            let Ok(pass) = ap.pass.try_into() else { halt("AP_PASS does not fit a password").await };
            let wifi = Config::AccessPoint(
                AccessPointConfig::default()
                    .with_ssid(ssid)
                    .with_authentication(AuthenticationMethodConfig::Wpa2Personal(pass))
                    .with_channel(provision::AP_CHANNEL)
                    // A few stations; each costs the driver memory. (Setter behind esp-radio's
                    // `unstable` feature.)
                    .with_max_connections(provision::AP_MAX_STATIONS),
            );
            let net = embassy_net::Config::ipv4_static(StaticConfigV4 {
                address: Ipv4Cidr::new(ap.address, ap.prefix_len),
                gateway: Some(ap.address),
                dns_servers: Default::default(),
            });
            (wifi, net)
        }
    };

    let controller = match WifiController::new(
        peripherals.WIFI,
        ControllerConfig::default().with_initial_config(wifi_config),
    ) {
        Ok(controller) => controller,
        Err(e) => {
            log::error!("Wi-Fi did not start: {e:?}");
            halt("Wi-Fi did not start").await
        }
    };

    let rng = Rng::new();
    let seed = (u64::from(rng.random()) << 32) | u64::from(rng.random());
    #[cfg(not(feature = "tls"))]
    let layer = espws::server::embassy::Tcp;
    #[cfg(feature = "tls")]
    let layer = tls::start(peripherals.RNG, peripherals.ADC1);
    let (stack, runner) = embassy_net::new(interface, net_config, STACK_RESOURCES.take(), seed);

    // The hub, when the app broadcasts or ticks run: one queue per client.
    let hub: Option<&'static DeviceHub> = if SETTINGS.uses_hub() {
        let slots = HUB_SLOTS.init(espws::hub::slots(HUB_RINGS.take()));
        Some(&*HUB.init(DeviceHub::new(slots)))
    } else {
        None
    };
    let device: &'static Device<'static> = DEVICE.init(Device::new(SETTINGS, hub));

    spawner.spawn(net_task(runner).expect("one network task"));
    match &plan {
        Plan::Station(_) => spawner.spawn(station_task(controller).expect("one station task")),
        Plan::AccessPoint(ap) => {
            spawner.spawn(access_point_task(controller).expect("one access point task"));
            spawner.spawn(dhcp_server_task(stack, ap.address).expect("one DHCP server task"));
        }
    }
    let pool = espws_board::worker_memory::share(&RX_POOL, SHARED_RX_BUFFERS.take());
    for (id, memory) in WORKER_MEMORY.take().iter_mut().enumerate() {
        let task = worker_task(stack, device, id as u32, memory, pool, layer);
        spawner.spawn(task.expect("the pool holds every worker"));
    }
    if let (Some(hub), Some(period)) = (hub, SETTINGS.tick) {
        spawner.spawn(status_task(hub, period).expect("one status task"));
    }
    if let (Some(hub), App::Sensor) = (hub, SETTINGS.app) {
        let rate_hz = SETTINGS.sensor_rate_hz;
        spawner.spawn(sensor_task(hub, rate_hz).expect("one sensor task"));
    }

    // Tell the user where to go once the address is known (at once for the access point,
    // after DHCP for a station).
    stack.wait_config_up().await;
    if let Plan::AccessPoint(ap) = &plan {
        log::info!("{}", provision::join_line(ap));
    }
    match stack.config_v4() {
        Some(config) => {
            let address = config.address.address();
            log::info!("{}", provision::console_line(address, &SETTINGS));
            log::info!("{}", provision::websocket_line(address, &SETTINGS));
        }
        None => log::warn!("the network is up without an IPv4 address"),
    }
    loop {
        Timer::after(Duration::from_secs(3600)).await;
    }
}

/// Logs why the device cannot go on, then does nothing (a reset would repeat it).
async fn halt(reason: &str) -> ! {
    loop {
        log::error!("{reason}");
        Timer::after(Duration::from_secs(10)).await;
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Interface>) -> ! {
    runner.run().await
}

/// Keeps the station connected: connects, waits for a disconnect, reconnects.
#[embassy_executor::task]
async fn station_task(mut controller: WifiController<'static>) -> ! {
    loop {
        match controller.connect_async().await {
            Ok(info) => {
                log::info!("Wi-Fi: connected to \"{}\" on channel {}", info.ssid.as_str(), info.channel);
                if let Ok(info) = controller.wait_for_disconnect_async().await {
                    log::warn!("Wi-Fi: disconnected ({:?}); reconnecting", info.reason);
                }
            }
            Err(e) => {
                log::warn!("Wi-Fi: could not connect ({e:?}); retrying in 5 s");
                Timer::after(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Logs stations joining and leaving the access point.
#[embassy_executor::task]
async fn access_point_task(controller: WifiController<'static>) -> ! {
    use esp_radio::wifi::ap::EventInfo;
    loop {
        match controller.wait_for_access_point_connected_event_async().await {
            Ok(EventInfo::Connected(station)) => log::info!("Wi-Fi: station {:02x?} joined", station.mac),
            Ok(EventInfo::Disconnected(station)) => log::info!("Wi-Fi: station {:02x?} left", station.mac),
            Err(e) => {
                log::warn!("Wi-Fi: access point events: {e:?}");
                Timer::after(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Leases addresses to the access point's stations, with the device as their gateway.
// UNVERIFIED at run time: that embassy-net delivers broadcast DISCOVERs to a UDP socket bound to
// 0.0.0.0:67 and sends to 255.255.255.255 (esp-hal's own access point example does the same).
#[embassy_executor::task]
async fn dhcp_server_task(stack: Stack<'static>, address: Ipv4Addr) -> ! {
    use edge_dhcp::io::{self, DEFAULT_SERVER_PORT};
    use edge_dhcp::server::{Server, ServerOptions};
    use edge_nal::UdpBind;
    use edge_nal_embassy::{Udp, UdpBuffers};

    // One socket, in the stack's count (budget::sockets); buffers for whole DHCP packets.
    let buffers =
        UdpBuffers::<1, { budget::DHCP_UDP_TX }, { budget::DHCP_UDP_RX }, { budget::DHCP_UDP_PACKETS }>::new(
        );
    let udp = Udp::new(stack, &buffers);
    let mut socket = loop {
        match udp.bind(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, DEFAULT_SERVER_PORT))).await {
            Ok(socket) => break socket,
            Err(e) => {
                log::error!("DHCP server: cannot bind port 67 ({e:?}); retrying");
                Timer::after(Duration::from_secs(5)).await;
            }
        }
    };
    let mut packet = [0u8; budget::DHCP_PACKET];
    let mut gateway = [Ipv4Addr::UNSPECIFIED];
    let mut server = Server::<_, { provision::DHCP_LEASES }>::new_with_et(address);
    server.range_start = provision::DHCP_FIRST;
    server.range_end = provision::DHCP_LAST;
    loop {
        let mut options = ServerOptions::new(address, Some(&mut gateway));
        options.lease_duration_secs = provision::DHCP_LEASE_SECS;
        options.subnet = Some(provision::netmask(provision::AP_PREFIX_LEN));
        if let Err(e) = io::server::run(&mut server, &options, &mut socket, &mut packet).await {
            log::warn!("DHCP server: {e:?}; restarting");
        }
        Timer::after(Duration::from_millis(500)).await;
    }
}

/// One listening socket of the pool; `espws::server::embassy::worker` does the rest.
#[embassy_executor::task(pool_size = WORKERS)]
async fn worker_task(
    stack: Stack<'static>,
    device: &'static Device<'static>,
    id: u32,
    memory: &'static mut WorkerMemory,
    pool: Option<&'static BufferPool<'static>>,
    layer: Layer,
) -> ! {
    worker(stack, SETTINGS.port, &SERVE_CONFIG, device, &SLOTS, id, memory.buffers(pool), layer).await
}

/// https and wss: mbedTLS with the chip's true random number generator and the certificate the
/// build embedded.
#[cfg(feature = "tls")]
mod tls {
    use esp_hal::peripherals::{ADC1, RNG};
    use esp_hal::rng::{Trng, TrngSource};
    use espws::tls::mbedtls::{Tls, TlsServer};
    use static_cell::StaticCell;
    // mbedTLS's calloc, free, strstr, strcmp and strchr.
    use tinyrlibc as _;

    static SOURCE: StaticCell<TrngSource<'static>> = StaticCell::new();
    static RNG: StaticCell<Trng> = StaticCell::new();
    static LIBRARY: StaticCell<Tls<'static>> = StaticCell::new();
    static SERVER: StaticCell<TlsServer<'static>> = StaticCell::new();

    /// Starts mbedTLS. The TRNG source (the RNG fed by the ADC's noise) stays enabled for good:
    /// every handshake draws from it.
    pub fn start(rng: RNG<'static>, adc: ADC1<'static>) -> &'static TlsServer<'static> {
        SOURCE.init(TrngSource::new(rng, adc));
        let trng = RNG.init(Trng::try_new().expect("the TRNG source was enabled just above"));
        let library = LIBRARY.init(Tls::new(trng).unwrap_or_else(|e| panic!("mbedTLS: {e:?}")));
        SERVER.init(espws_board::tls::server(library, espws_board::embedded_tls_files!()))
    }
}

/// Pushes simulated sensor readings to every client, `rate_hz` a second.
#[embassy_executor::task]
async fn sensor_task(hub: &'static DeviceHub, rate_hz: u16) -> ! {
    espws_apps::sensor::run_async(hub, EmbassyTimer, rate_hz).await
}

/// Pushes a JSON status message to every client each period.
#[embassy_executor::task]
async fn status_task(hub: &'static DeviceHub, period: core::time::Duration) -> ! {
    espws_apps::status::run_async(hub, EmbassyTimer, period).await
}
