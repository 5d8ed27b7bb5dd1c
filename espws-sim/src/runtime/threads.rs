//! A thread per connection over std::net, as the ESP-IDF firmware runs.

use espws::server::Server;
use espws_apps::device::Device;
use espws_apps::settings::Settings;

use crate::{announce, Args};

pub fn run(args: &Args, settings: Settings<'static>) -> std::io::Result<()> {
    let server = Server::bind((args.bind, args.port), settings.server_config(), Device::new(settings))?;
    announce(args, &settings, server.local_addr()?);
    server.run()
}
