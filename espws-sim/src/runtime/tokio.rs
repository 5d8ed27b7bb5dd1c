//! tokio, a current-thread runtime per core, for PC-side use at scale.

use espws::server::tokio as server;
use espws_apps::device::Device;

use crate::{announce, Args};

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let listener = server::bind((args.bind, args.port))?;
    announce(args, &settings, listener.local_addr()?);
    if let (Some(hub), Some(period)) = (device.hub, settings.tick) {
        std::thread::Builder::new()
            .name("espws-status".into())
            .spawn(move || espws_apps::status::run_blocking(hub, period))?;
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    server::run(listener, settings.serve_config(), device, threads)
}
