//! The ways the simulator can serve connections; each wires the same `Device` to a driver.

pub mod embassy_tap;
pub mod threads;
pub mod tokio;

use espws_apps::device::Device;
use espws_apps::settings::App;

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
