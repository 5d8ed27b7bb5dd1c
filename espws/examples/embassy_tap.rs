//! The bare-metal stack on a PC: embassy-net (smoltcp) on a Linux TAP device, served by the
//! library's worker pool exactly as the ESP32 firmware serves it.
//!
//! Make the TAP device first (`scripts/netns -- sh` gives a shell in a namespace with `tap0` at
//! 192.168.69.1), then `cargo run --example embassy_tap --features embassy -- 192.168.69.2:9001`.

use embassy_executor::{Executor, Spawner};
use embassy_net::{Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use espws::server::embassy::{worker, Tcp, WebSocketRx, WorkerBuffers};
use espws::server::Slots;
use espws::ServeConfig;

#[path = "support/echo_service.rs"]
mod echo_service;
use echo_service::Echo;

const WORKERS: usize = 3; // two clients, and one more that is told 503

static CONFIG: ServeConfig<'static> = ServeConfig { max_clients: WORKERS - 1, ..ServeConfig::DEFAULT };
static SLOTS: Slots = Slots::new(WORKERS - 1);

fn main() {
    env_logger::init();
    let addr: std::net::SocketAddrV4 = std::env::args()
        .nth(1)
        .unwrap_or("192.168.69.2:9001".into())
        .parse()
        .expect("an IPv4 address and port");
    let tap = TunTapDevice::new("tap0").expect("a TAP device tap0 (run inside scripts/netns)");
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(*addr.ip(), 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    let resources = Box::leak(Box::new(StackResources::<{ WORKERS + 1 }>::new()));
    let (stack, runner) = embassy_net::new(tap, config, resources, 0x5eed);
    println!("echo server on ws://{addr}/");
    let executor = Box::leak(Box::new(Executor::new()));
    executor.run(move |spawner: Spawner| {
        spawner.spawn(net(runner).expect("one network task"));
        for n in 0..WORKERS {
            spawner.spawn(serve(stack, addr.port(), n as u32).expect("the pool holds every worker"));
        }
    })
}

#[embassy_executor::task]
async fn net(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::task(pool_size = WORKERS)]
async fn serve(stack: Stack<'static>, port: u16, n: u32) -> ! {
    // On a device these are statics; the TCP buffers bound what a slow client may hold.
    let (mut socket_rx, mut socket_tx, mut websocket_rx) = (vec![0; 16384], vec![0; 16384], vec![0; 4096]);
    let buffers = WorkerBuffers {
        socket_rx: &mut socket_rx,
        socket_tx: &mut socket_tx,
        // The firmware lends buffers from a pool instead (`WebSocketRx::Lent`).
        websocket_rx: WebSocketRx::Own(&mut websocket_rx),
    };
    worker(stack, port, &CONFIG, &Echo, &SLOTS, n, buffers, Tcp).await
}
