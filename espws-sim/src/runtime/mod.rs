//! The ways the simulator can serve connections; each wires the same `Device` to a driver.

pub mod embassy_tap;
pub mod threads;
pub mod tokio;
