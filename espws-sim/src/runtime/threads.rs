//! A thread per connection over std::net, as the ESP-IDF firmware runs.

use espws::server::Server;
use espws_apps::device::Device;
use espws_apps::settings::App;

use crate::{announce, Args};

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let mut server = Server::bind((args.bind, args.port), settings.serve_config(), device)?;
    if let Some(tls) = args.tls.clone() {
        server = server.with_tls(tls);
    }
    announce(args, &settings, server.local_addr()?);
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
    server.run()
}
