//! tokio, a current-thread runtime per core, for PC-side use at scale.

use espws::server::tokio as server;
use espws::server::Shutdown;
use espws_apps::device::Device;

use crate::{announce, Args};

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let listener = server::bind((args.bind, args.port))?;
    let certificate_file = announce(args, &settings, listener.local_addr()?)?;
    super::spawn_publishers(&device)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let shutdown = Shutdown::new();
    // The accept loops stop by themselves once the shutdown is requested.
    super::on_signals(shutdown.clone(), crate::seconds(args.shutdown_timeout), certificate_file, || {})?;
    match args.tls.as_ref().map(|tls| tls.config.clone()) {
        Some(tls) => server::run_tls_until(listener, settings.serve_config(), device, threads, tls, shutdown),
        None => server::run_until(listener, settings.serve_config(), device, threads, shutdown),
    }
}
