//! A thread per connection over std::net, as the ESP-IDF firmware runs.

use espws::server::Server;
use espws_apps::device::Device;

use crate::{announce, Args};

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let mut server = Server::bind((args.bind, args.port), settings.serve_config(), device)?;
    if let Some(tls) = args.tls.clone() {
        server = server.with_tls(tls);
    }
    announce(args, &settings, server.local_addr()?);
    super::spawn_publishers(&device)?;
    server.run()
}
