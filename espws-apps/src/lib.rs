//! The applications an espws device runs, written once against the driver API and wired up
//! by the simulator and both firmware crates.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod console;
pub mod device;
pub mod echo;
#[cfg(feature = "embassy")]
pub mod pool;
pub mod routes;
pub mod settings;
