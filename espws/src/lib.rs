//! espws: a WebSocket server (RFC 6455) for the ESP32 and other small devices.
//!
//! The crate is layered so that each layer can be used and tested on its own:
//!
//! - [`wire`]: stateless encoders and parsers for frame headers, masking, close payloads and the
//!   HTTP upgrade. Pure functions over byte slices.
//! - [`proto`]: the sans-IO connection state machine. Bytes and a monotonic `now` go in; events,
//!   bytes to send and the next deadline come out. It owns no socket and reads no clock.
//! - [`blocking`] and [`nonblocking`]: thin drivers that move bytes between a socket
//!   (`embedded-io` or `embedded-io-async`) and the state machine.
//! - `server` (feature `std`): a thread-per-connection server over `std::net`.
//! - `tls` (feature `tls`): TLS over TCP (rustls) as a transport for either driver.
//!
//! Everything except `server` and `tls` is `no_std` and allocation-free: the caller owns every buffer.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "std", test))]
extern crate std;

#[macro_use]
mod log;

pub mod blocking;
pub mod hub;
pub mod nonblocking;
pub mod proto;
#[cfg(feature = "std")]
pub mod server;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;
pub mod wire;

pub use proto::{Config, Connection, Data, DataKind, Event, RecvBuf};
pub use time::Instant;
pub use wire::close::CloseCode;
