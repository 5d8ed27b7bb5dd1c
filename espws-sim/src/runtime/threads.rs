//! A thread per connection over std::net, as the ESP-IDF firmware runs.

use espws::server::Server;
use espws_apps::device::Device;

use crate::{announce, Args};

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let config = espws::server::ServerConfig { tls: args.tls.clone(), ..settings.server_config() };
    let server = Server::bind((args.bind, args.port), config, device)?;
    announce(args, &settings, server.local_addr()?);
    if let (Some(hub), Some(period)) = (device.hub, settings.tick) {
        std::thread::Builder::new()
            .name("espws-status".into())
            .spawn(move || espws_apps::status::run_blocking(hub, period))?;
    }
    server.run()
}
