//! The ways the simulator can serve connections; each wires the same `Device` to a driver.

pub mod embassy_tap;
pub mod threads;
pub mod tokio;

use std::time::Duration;

use espws::server::Shutdown;
use espws_apps::device::Device;
use espws_apps::settings::App;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::tls::PublishedFile;

/// Starts the hub's publishers (status ticks, sensor readings) on threads of their own, beside
/// a std runtime's serving threads.
fn spawn_publishers(device: &Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
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
    Ok(())
}

/// Shuts the server down gracefully on the first SIGINT or SIGTERM: `stop_accepting`, then 1001
/// to every client and up to `timeout` for their closing handshakes (`shutdown`); the runtime
/// then returns and the process exits 0. A second signal exits at once, as [`exit_now`] does.
fn on_signals(
    shutdown: Shutdown,
    timeout: Duration,
    certificate_file: Option<PublishedFile>,
    stop_accepting: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    let mut stop_accepting = Some(stop_accepting);
    on_each_signal(move |signal| {
        let name = signal_name(signal);
        let Some(stop_accepting) = stop_accepting.take() else {
            log::warn!("{name} again: exiting at once, without waiting for the closing handshakes");
            exit_now(certificate_file.as_ref(), signal);
        };
        log::info!(
            "{name}: closing every client with 1001, waiting up to {:.1} s (send it again to exit at once)",
            timeout.as_secs_f64()
        );
        stop_accepting();
        let shutdown = shutdown.clone();
        let started = std::thread::Builder::new()
            .name("espws-shutdown".into())
            .spawn(move || shutdown.shutdown(timeout));
        if let Err(e) = started {
            log::error!("could not start the shutdown: {e}; exiting");
            std::process::exit(1);
        }
    })
}

/// For a runtime without a graceful shutdown (embassy-tap, like the device): the first SIGINT or
/// SIGTERM ends the process at once ([`exit_now`]).
fn exit_on_signals(certificate_file: Option<PublishedFile>) -> std::io::Result<()> {
    on_each_signal(move |signal| {
        log::info!(
            "{}: exiting at once (this runtime, like the device, has no graceful shutdown: clients see the connection end without a close frame)",
            signal_name(signal)
        );
        exit_now(certificate_file.as_ref(), signal);
    })
}

/// Calls `on_signal` with each SIGINT and SIGTERM, on a thread of its own.
fn on_each_signal(mut on_signal: impl FnMut(i32) + Send + 'static) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("espws-signals".into()).spawn(move || {
        for signal in signals.forever() {
            on_signal(signal);
        }
    })?;
    Ok(())
}

/// Ends the process at once, as the signal itself would, with the shell's status for it (128 +
/// the signal), after removing the certificate file the simulator wrote: `process::exit` runs
/// no destructors, so the file's own removal on drop would not happen.
fn exit_now(certificate_file: Option<&PublishedFile>, signal: i32) -> ! {
    if let Some(file) = certificate_file {
        file.remove();
    }
    std::process::exit(128 + signal)
}

/// The name the log gives a signal the simulator handles.
fn signal_name(signal: i32) -> &'static str {
    if signal == SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    }
}
