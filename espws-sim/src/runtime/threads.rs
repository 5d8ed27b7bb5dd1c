//! A thread per connection over std::net, as the ESP-IDF firmware runs.

use espws::server::{Server, Shutdown};
use espws_apps::device::Device;

use crate::{announce, Args};

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let shutdown = Shutdown::new();
    let mut server = Server::bind((args.bind, args.port), settings.serve_config(), device)?
        .with_shutdown(shutdown.clone());
    if let Some(tls) = &args.tls {
        server = server.with_tls(tls.config.clone());
    }
    let certificate_file = announce(args, &settings, server.local_addr()?)?;
    super::spawn_publishers(&device)?;
    let handle = server.handle()?;
    super::on_signals(
        shutdown.clone(),
        crate::seconds(args.shutdown_timeout),
        certificate_file,
        move || handle.stop(),
    )?;
    server.run()?;
    // Stopped by a signal: the connections are closing; wait for that to be done.
    shutdown.wait_finished();
    Ok(())
}
