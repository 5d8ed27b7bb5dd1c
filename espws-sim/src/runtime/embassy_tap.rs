//! embassy-net (smoltcp) on a Linux TAP device: the bare-metal firmware's network stack and
//! socket pool, with only the PHY swapped for TAP. Create the device with `scripts/netns`.

use embassy_executor::{Executor, Spawner};
use embassy_net::{Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use espws::nonblocking::BufferPool;
use espws::server::embassy::{self, WebSocketRx, WorkerBuffers};
use espws::server::Slots;
use espws::ServeConfig;
use espws_apps::device::Device;
use espws_apps::settings::{App, RX_CARRY};
use espws_apps::DeviceHub;

use crate::{announce, Args};

/// Workers the task pool can hold: `--max-clients` plus one that answers 503.
const MAX_WORKERS: usize = 65;
/// TCP window and send buffer of each socket.
const SOCKET_BUFFER: usize = 16 * 1024;

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let workers = settings.max_clients + 1;
    if workers > MAX_WORKERS {
        return Err(std::io::Error::other(format!(
            "--runtime embassy-tap serves at most {} clients (a fixed task pool, as on the device)",
            MAX_WORKERS - 1
        )));
    }
    let address: Ipv4Cidr = args.ip.parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("--ip {} is not an IPv4 CIDR such as 192.168.69.2/24", args.ip),
        )
    })?;
    let tap = TunTapDevice::new(&args.tap).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot open TAP device {}: {e}; create it and run inside its namespace with scripts/netns",
                args.tap
            ),
        )
    })?;
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address,
        gateway: None,
        dns_servers: Default::default(),
    });
    let resources: &'static mut StackResources<{ MAX_WORKERS + 1 }> =
        Box::leak(Box::new(StackResources::new()));
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let (stack, runner) = embassy_net::new(tap, config, resources, seed);

    let listen = std::net::SocketAddr::new(address.address().into(), settings.port);
    #[cfg(feature = "mbedtls")]
    let tls = args.tls.as_ref().map(mbedtls::server).transpose()?;
    let certificate_file = announce(args, &settings, listen)?;
    super::exit_on_signals(certificate_file)?;
    log::info!("embassy-net on {} with {} listening sockets (no backlog on this stack)", args.tap, workers);

    let device: &'static Device<'static> = Box::leak(Box::new(device));
    let slots: &'static Slots = Box::leak(Box::new(Slots::new(settings.max_clients)));
    let config: &'static ServeConfig<'static> = Box::leak(Box::new(settings.serve_config()));
    // As on the device: with chunked delivery the workers share a few receive buffers; over TLS
    // each keeps one of its own (a TLS connection holds its buffer while it waits).
    let shared = settings.shared_rx_buffers();
    let pool: Option<&'static BufferPool<'static>> = (shared > 0).then(|| {
        let pool: &'static BufferPool<'static> = Box::leak(Box::new(BufferPool::new()));
        for _ in 0..shared {
            let buffer: &'static mut [u8] = Box::leak(vec![0u8; settings.rx_buffer].into_boxed_slice());
            pool.give(buffer).expect("the device shares at most MAX_LENT buffers");
        }
        pool
    });
    match shared {
        0 => {
            let why = if settings.tls { "TLS" } else { "whole-message delivery" };
            log::info!("each worker owns a {} B receive buffer ({why})", settings.rx_buffer)
        }
        n => log::info!("{n} receive buffers of {} B shared by {workers} workers", settings.rx_buffer),
    }
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    executor.run(move |spawner: Spawner| {
        spawner.spawn(net_task(runner).expect("one network task"));
        for id in 0..workers {
            #[cfg(feature = "mbedtls")]
            if let Some(tls) = tls {
                let task = mbedtls::worker_task(stack, config, device, slots, tls, id as u32);
                spawner.spawn(task.expect("the pool holds every worker"));
                continue;
            }
            spawner.spawn(
                worker_task(stack, config, device, slots, pool, id as u32)
                    .expect("the pool holds every worker"),
            );
        }
        if let (Some(hub), Some(period)) = (device.hub, device.settings.tick) {
            spawner.spawn(status_task(hub, period).expect("one status task"));
        }
        if let (Some(hub), App::Sensor) = (device.hub, device.settings.app) {
            let rate_hz = device.settings.sensor_rate_hz;
            spawner.spawn(sensor_task(hub, rate_hz).expect("one sensor task"));
        }
    })
}

#[embassy_executor::task]
async fn status_task(hub: &'static DeviceHub, period: std::time::Duration) -> ! {
    espws_apps::status::run_async(hub, espws::nonblocking::EmbassyTimer, period).await
}

#[embassy_executor::task]
async fn sensor_task(hub: &'static DeviceHub, rate_hz: u16) -> ! {
    espws_apps::sensor::run_async(hub, espws::nonblocking::EmbassyTimer, rate_hz).await
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::task(pool_size = MAX_WORKERS)]
async fn worker_task(
    stack: Stack<'static>,
    config: &'static ServeConfig<'static>,
    device: &'static Device<'static>,
    slots: &'static Slots,
    pool: Option<&'static BufferPool<'static>>,
    id: u32,
) -> ! {
    let mut socket_rx = vec![0u8; SOCKET_BUFFER];
    let mut socket_tx = vec![0u8; SOCKET_BUFFER];
    let (mut own, mut carry) = (Vec::new(), vec![0u8; RX_CARRY]);
    let websocket_rx = match pool {
        Some(pool) => WebSocketRx::Lent { pool, carry: &mut carry },
        None => {
            own.resize(device.settings.rx_buffer, 0);
            WebSocketRx::Own(&mut own)
        }
    };
    let buffers = WorkerBuffers { socket_rx: &mut socket_rx, socket_tx: &mut socket_tx, websocket_rx };
    embassy::worker(stack, device.settings.port, config, device, slots, id, buffers, embassy::Tcp).await
}

/// https and wss with mbedTLS, as the bare-metal firmware serves them.
#[cfg(feature = "mbedtls")]
mod mbedtls {
    use std::ffi::CString;

    use embassy_net::Stack;
    use espws::server::embassy::{self, WebSocketRx, WorkerBuffers};
    use espws::server::Slots;
    use espws::tls::mbedtls::{Tls, TlsServer, X509};
    use espws::ServeConfig;
    use espws_apps::device::Device;
    use getrandom::rand_core::UnwrapErr;

    use super::SOCKET_BUFFER;

    /// The TLS server for the certificate and key of the flags, for the whole run.
    pub fn server(tls: &crate::tls::Tls) -> std::io::Result<&'static TlsServer<'static>> {
        // The operating system's generator; it cannot fail on Linux once booted.
        let rng = Box::leak(Box::new(UnwrapErr(getrandom::SysRng)));
        let library = Tls::new(rng).map_err(|e| std::io::Error::other(format!("mbedTLS: {e:?}")))?;
        let library: &'static Tls<'static> = Box::leak(Box::new(library));
        // mbedTLS reads PEM up to its NUL byte.
        let pem = |text: &str| -> &'static std::ffi::CStr {
            Box::leak(CString::new(text).expect("PEM has no NUL byte").into_boxed_c_str())
        };
        let server =
            TlsServer::new(library.reference(), X509::PEM(pem(&tls.cert_pem)), X509::PEM(pem(&tls.key_pem)))
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        log::info!("TLS: mbedTLS, as on bare metal (records of up to 16 KiB in, 4 KiB out)");
        Ok(Box::leak(Box::new(server)))
    }

    #[embassy_executor::task(pool_size = super::MAX_WORKERS)]
    pub async fn worker_task(
        stack: Stack<'static>,
        config: &'static ServeConfig<'static>,
        device: &'static Device<'static>,
        slots: &'static Slots,
        tls: &'static TlsServer<'static>,
        id: u32,
    ) -> ! {
        let mut socket_rx = vec![0u8; SOCKET_BUFFER];
        let mut socket_tx = vec![0u8; SOCKET_BUFFER];
        let mut own = vec![0u8; device.settings.rx_buffer];
        let websocket_rx = WebSocketRx::Own(&mut own);
        let buffers = WorkerBuffers { socket_rx: &mut socket_rx, socket_tx: &mut socket_tx, websocket_rx };
        embassy::worker(stack, device.settings.port, config, device, slots, id, buffers, tls).await
    }
}
