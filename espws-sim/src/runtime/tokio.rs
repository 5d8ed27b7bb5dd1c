//! tokio, a current-thread runtime per core, for PC-side use at scale.

use espws::server::tokio as server;
use espws_apps::device::Device;
use espws_apps::settings::App;

use crate::{announce, Args};

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let listener = server::bind((args.bind, args.port))?;
    announce(args, &settings, listener.local_addr()?);
    // The hub's publishers run on threads of their own, beside the serving runtimes.
    if let (Some(hub), Some(period)) = (device.hub, settings.tick) {
        std::thread::Builder::new()
            .name("espws-status".into())
            .spawn(move || espws_apps::status::run_blocking(hub, period))?;
    }
    if let (Some(hub), App::Sensor) = (device.hub, settings.app) {
        let rate_hz = settings.sensor_rate_hz;
        std::thread::Builder::new()
            .name("espws-sensor".into())
            .spawn(move || espws_apps::sensor::run_blocking(hub, rate_hz))?;
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    match args.tls.clone() {
        Some(tls) => server::run_tls(listener, settings.serve_config(), device, threads, tls),
        None => server::run(listener, settings.serve_config(), device, threads),
    }
}
