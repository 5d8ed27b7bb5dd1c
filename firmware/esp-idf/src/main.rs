//! espws on ESP-IDF: std, lwIP and FreeRTOS through esp-idf-svc, serving the device's console
//! and WebSocket with espws's thread-per-connection server.
//!
//! Board glue only: Wi-Fi bring-up and threads. What the device does, how it decides between
//! station and access point, its settings and every stack size live in `espws-apps`, compiled
//! and tested on the host; the simulator's default runtime runs the same server on a PC.

use core::time::Duration;

use esp_idf_svc::eventloop::EspSystemEventLoop;
use esp_idf_svc::hal::peripherals::Peripherals;
use esp_idf_svc::ipv4::{self, Mask, RouterConfiguration, Subnet};
use esp_idf_svc::netif::{EspNetif, NetifConfiguration, NetifStack};
use esp_idf_svc::nvs::EspDefaultNvsPartition;
use esp_idf_svc::wifi::{
    AccessPointConfiguration, AuthMethod, BlockingWifi, ClientConfiguration, Configuration, EspWifi,
    WifiDeviceId, WifiDriver,
};
use espws::proto::handshake::Declined;
use espws::blocking::{self, BlockingService};
use espws::server::Server;
use espws::{Client, Service};
use espws::wire::http::{Request, Response};
use espws_board::budget::esp_idf as budget;
use espws_apps::device::Device;
use espws_board::provision::{self, Mode, Plan, WifiStrings};
use espws_apps::settings::{App, Settings};
use espws_apps::DeviceHub;

mod tls;

/// Wi-Fi as built: station when `WIFI_SSID` and `WIFI_PASS` are set, access point otherwise.
const WIFI: WifiStrings<'static> = espws_board::wifi_from_build_env!();
// A password of 7 characters stops the build here, with the reason.
const _: () = WIFI.assert_valid();

/// The device's settings as built (`ESPWS_*`), checked at compile time.
const SETTINGS: Settings<'static> = espws_board::settings_from_build_env!();

const MODE: Mode = match WIFI.check() {
    Ok(mode) => mode,
    // assert_valid above has already stopped the build.
    Err(_) => Mode::AccessPoint,
};

// What the RAM budget in firmware/README.md allows, checked before anything is flashed.
const _: () = assert!(
    SETTINGS.max_clients <= budget::max_clients_for_sockets(),
    "ESPWS_MAX_CLIENTS is above 12: lwIP has 16 sockets (CONFIG_LWIP_MAX_SOCKETS), of which the server needs 4 besides its clients"
);
// TLS (ESPWS_TLS_CERT): a certificate that is there and small, no hub, and its heap.
const _: () = assert!(
    !SETTINGS.tls || !tls::CERT_DER.is_empty(),
    "ESPWS_TLS_CERT is set but empty: give the certificate's and the key's PEM files, or unset it for plain http"
);
const _: () = assert!(
    tls::CERT_DER.len() <= budget::TLS_CERT_DER_MAX,
    "the TLS certificate is over 1 KiB as DER, and esp-tls keeps a copy per session: use an ECDSA P-256 leaf with fewer names"
);
const _: () = assert!(
    !budget::hub_over_tls(&SETTINGS),
    "TLS on ESP-IDF serves the echo app only: esp-tls's sessions take no second writer, which broadcasts, sensor readings and status ticks need; unset ESPWS_APP and ESPWS_TICK_MS, or ESPWS_TLS_CERT"
);
const _: () = assert!(
    !SETTINGS.tls || budget::fits(&SETTINGS, MODE),
    "with TLS each client needs about 53 KiB of the ESP32's heap (mbedTLS's session, a 14 KiB stack; see firmware/README.md): lower ESPWS_MAX_CLIENTS (unset, it is 2, which fits) or ESPWS_RX_BUFFER"
);
const _: () = assert!(
    budget::fits(&SETTINGS, MODE),
    "this build does not fit the ESP32's heap (see firmware/README.md): lower ESPWS_MAX_CLIENTS, ESPWS_RX_BUFFER or ESPWS_HUB_QUEUE"
);

/// Connection threads' stack: measured on the host by firmware/board/tests/thread_stack.rs
/// (over TLS too), with room for ESP-IDF's own calls below ours (see
/// `budget::esp_idf::CONNECTION_STACK` and `CONNECTION_STACK_TLS`). Debug builds have frames
/// three to four times deeper.
const CONNECTION_STACK: usize = budget::connection_stack(&SETTINGS, cfg!(debug_assertions));

fn main() {
    // ESP-IDF patches that must be linked, and `log` to the serial console.
    esp_idf_svc::sys::link_patches();
    esp_idf_svc::log::EspLogger::initialize_default();
    // Keeps esp-idf-hal's critical-section implementation (the hub's lock) in the link.
    let _ = esp_idf_svc::hal::task::critical_section::link();

    log::info!(
        "espws {} (ESP-IDF): {} clients, {:?} app, {} B receive buffers, {} KiB connection stacks",
        env!("CARGO_PKG_VERSION"),
        SETTINGS.max_clients,
        SETTINGS.app,
        SETTINGS.rx_buffer,
        CONNECTION_STACK / 1024
    );
    if cfg!(debug_assertions) {
        log::warn!(
            "debug build: connection threads need {} KiB of stack each; build with --release for more clients",
            CONNECTION_STACK / 1024
        );
    }
    if SETTINGS.tls {
        log::info!("TLS: esp-tls (mbedTLS), a {} B certificate", tls::CERT_DER.len());
    }

    match start() {
        // The Wi-Fi driver and the server's threads run on; the main task ends here, which
        // frees its stack.
        // UNVERIFIED: that ESP-IDF deletes a returning main task and keeps the other tasks
        // running (its startup guide says app_main may return; esp-idf-sys's app_main calls
        // Rust's main and returns), and that std's cleanup after main leaves the threads alone;
        // could not be run here. If it does not hold, park here instead of returning.
        Ok(()) => log::info!("started; the main task exits"),
        Err(e) => loop {
            log::error!("cannot start: {e}");
            std::thread::sleep(Duration::from_secs(10));
        },
    }
}

/// Brings Wi-Fi up, starts the server and the status thread, and tells the user where to go.
fn start() -> Result<(), Box<dyn std::error::Error>> {
    let peripherals = Peripherals::take()?;
    let sysloop = EspSystemEventLoop::take()?;
    let nvs = EspDefaultNvsPartition::take()?;
    let driver = WifiDriver::new(peripherals.modem, sysloop.clone(), Some(nvs))?;
    // The access point is named after its own MAC address.
    let plan = provision::plan(&WIFI, driver.get_mac(WifiDeviceId::Ap)?)?;

    let (wifi, address) = match &plan {
        Plan::Station(station) => {
            let mut wifi = BlockingWifi::wrap(EspWifi::wrap(driver)?, sysloop)?;
            wifi.set_configuration(&Configuration::Client(ClientConfiguration {
                ssid: station.ssid.try_into().map_err(|_| "WIFI_SSID does not fit an SSID")?,
                password: station.pass.try_into().map_err(|_| "WIFI_PASS does not fit a password")?,
                auth_method: if station.is_open() { AuthMethod::None } else { AuthMethod::WPA2Personal },
                ..Default::default()
            }))?;
            wifi.start()?;
            log::info!("Wi-Fi: joining \"{}\" as a station", station.ssid);
            while let Err(e) = wifi.connect() {
                log::warn!("Wi-Fi: could not join \"{}\" ({e}); retrying in 5 s", station.ssid);
                std::thread::sleep(Duration::from_secs(5));
            }
            // DHCP from the network's router.
            wifi.wait_netif_up()?;
            let address = wifi.wifi().sta_netif().get_ip_info()?.ip;
            (wifi, address)
        }
        Plan::AccessPoint(ap) => {
            // The default router configuration is 192.168.71.1: set the plan's network, with
            // ESP-IDF's DHCP server on it (it picks its own pool in the /24) and no DNS server
            // announced (the device has none, and no Internet behind it).
            // UNVERIFIED: how phones treat a DHCP offer without DNS (some warn about "no
            // Internet"); the fields and their types are checked against embedded-svc 0.29.
            let ap_netif = EspNetif::new_with_conf(&NetifConfiguration {
                ip_configuration: Some(ipv4::Configuration::Router(RouterConfiguration {
                    subnet: Subnet { gateway: ap.address, mask: Mask(ap.prefix_len) },
                    dhcp_enabled: true,
                    dns: None,
                    secondary_dns: None,
                })),
                ..NetifConfiguration::wifi_default_router()
            })?;
            let sta_netif = EspNetif::new(NetifStack::Sta)?;
            let mut wifi = BlockingWifi::wrap(EspWifi::wrap_all(driver, sta_netif, ap_netif)?, sysloop)?;
            wifi.set_configuration(&Configuration::AccessPoint(AccessPointConfiguration {
                ssid: ap.ssid.as_str().try_into().map_err(|_| "AP_SSID does not fit an SSID")?,
                password: ap.pass.try_into().map_err(|_| "AP_PASS does not fit a password")?,
                auth_method: AuthMethod::WPA2Personal,
                channel: provision::AP_CHANNEL,
                max_connections: provision::AP_MAX_STATIONS,
                ..Default::default()
            }))?;
            wifi.start()?;
            wifi.wait_netif_up()?;
            log::info!("Wi-Fi: access point \"{}\" is up", ap.ssid);
            (wifi, ap.address)
        }
    };

    // The hub, when the app broadcasts or ticks run: one queue per client, allocated once.
    let hub: Option<&'static DeviceHub> =
        SETTINGS.uses_hub().then(|| DeviceHub::leak(SETTINGS.max_clients, SETTINGS.hub_queue));
    let mut device = Device::new(SETTINGS, hub);
    // The hub's draining threads get the budget's stack and chunk, not a PC's.
    device.drain = espws::hub::DrainThread { stack: budget::HUB_DRAIN_STACK, chunk: budget::HUB_DRAIN_CHUNK };

    let server =
        Server::bind(("0.0.0.0", SETTINGS.port), SETTINGS.serve_config(), Measured(device))?.with_thread_stack(CONNECTION_STACK);
    // https and wss: esp-tls runs each connection's handshake and session (see src/tls.rs).
    let server = if SETTINGS.tls { server.with_tls_acceptor(tls::EspTlsAcceptor) } else { server };
    std::thread::Builder::new().name("espws-accept".into()).stack_size(budget::ACCEPT_STACK).spawn(
        move || {
            if let Err(e) = server.run() {
                log::error!("the server stopped: {e}");
            }
        },
    )?;
    if let (Some(hub), Some(period)) = (hub, SETTINGS.tick) {
        std::thread::Builder::new()
            .name("espws-status".into())
            .stack_size(budget::STATUS_STACK)
            .spawn(move || espws_apps::status::run_blocking(hub, period))?;
        log::info!("status ticks every {} ms to every client", period.as_millis());
    }
    if let (Some(hub), App::Sensor) = (hub, SETTINGS.app) {
        let rate_hz = SETTINGS.sensor_rate_hz;
        // As light as the status thread: a reading is formatted on its stack the same way.
        std::thread::Builder::new()
            .name("espws-sensor".into())
            .stack_size(budget::STATUS_STACK)
            .spawn(move || espws_apps::sensor::run_blocking(hub, rate_hz))?;
        log::info!("sensor readings {rate_hz} times a second to every client");
    }

    if let Plan::AccessPoint(ap) = &plan {
        log::info!("{}", provision::join_line(ap));
    }
    log::info!("{}", provision::console_line(address, &SETTINGS));
    log::info!("{}", provision::websocket_line(address, &SETTINGS));

    // Wi-Fi must outlive main: dropping it would stop the driver.
    core::mem::forget(wifi);
    Ok(())
}

/// The device, plus a log line when a connection ends saying how close its thread came to the
/// end of its stack: the check on hardware of `budget::esp_idf::CONNECTION_STACK`.
struct Measured(Device<'static>);

impl Service for Measured {
    type Admission = <Device<'static> as Service>::Admission;

    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        Service::http(&self.0, req)
    }

    fn admit(&self, req: &Request<'_, '_>) -> Result<Self::Admission, Declined> {
        Service::admit(&self.0, req)
    }
}

impl BlockingService for Measured {
    fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        client: &Client<'_>,
        admission: Self::Admission,
    ) {
        BlockingService::websocket(&self.0, ws, client, admission);
        // SAFETY: FreeRTOS's query of the calling task (a null handle), no other effect.
        // UNVERIFIED: that esp-idf-sys's generated bindings expose uxTaskGetStackHighWaterMark
        // (FreeRTOS's task.h, which esp-idf-sys binds) and that ESP-IDF counts it in bytes; the
        // bindings are generated from ESP-IDF's headers at build time and could not be built here.
        let free = unsafe { esp_idf_svc::sys::uxTaskGetStackHighWaterMark(core::ptr::null_mut()) };
        log::info!(
            "client {}: its thread's stack never had less than {free} of {CONNECTION_STACK} bytes free",
            client.id
        );
    }
}
