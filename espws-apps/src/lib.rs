//! The applications an espws device runs, written once against the driver API and wired up
//! by the simulator and both firmware crates.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

/// The message hub the device's connections share.
pub type DeviceHub = espws::hub::Hub<'static, embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex>;

pub mod console;
pub mod device;
pub mod echo;
pub mod routes;
pub mod sensor;
pub mod settings;
pub mod status;
