//! espws: a WebSocket library (RFC 6455) for the ESP32 and other small devices, that runs
//! unchanged on a PC.
//!
//! ```
//! use espws::{Config, Connection, Event, Instant, RecvBuf};
//!
//! // A sans-IO connection: bytes in, events out. The frame is a masked "Hi" from a client.
//! let mut conn = Connection::new(Config::default(), Instant::from_millis(0));
//! let mut rx = RecvBuf::new([0u8; 256]);
//! let frame = [0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];
//! conn.read_buf(&mut rx)[..frame.len()].copy_from_slice(&frame);
//! conn.handle_read(&mut rx, frame.len(), Instant::from_millis(1));
//! match conn.poll_event(&mut rx) {
//!     Some(Event::Data(data)) => assert_eq!(data.text(), Some("Hi")),
//!     other => panic!("expected a text message, got {other:?}"),
//! }
//! ```
//!
//! # Layers
//! Each layer can be used and tested on its own; data flows down and back up, never sideways.
//!
//! - [`wire`]: stateless encoders and parsers for frame headers, masking, close payloads and the
//!   HTTP upgrade. Pure functions over byte slices.
//! - [`proto`]: sans-IO state machines. [`Connection`] is the WebSocket phase; [`HttpPhase`] is
//!   the HTTP phase of a served connection (request head, policy, [`Service::admit`], the 101
//!   or an HTTP answer). Bytes and a monotonic `now` go in; events, bytes to send and the next
//!   deadline come out.
//! - [`blocking`] and [`nonblocking`]: thin drivers that move bytes between a transport
//!   (`embedded-io` or `embedded-io-async`) and the machines.
//! - [`server`]: accept loops over any [`Service`]: std threads, tokio, an embassy-net pool.
//! - `hub` (feature `hub`): send to one client or broadcast to all, from any task.
//! - `client` (feature `client`): connecting out, as ws:// or wss://.
//! - `tls` (features `tls`, `tls-mbedtls`): TLS over TCP as a transport for the servers: rustls
//!   with std, mbedTLS on bare metal; and with std alone, the threads server's hook for a TLS
//!   library it does not carry (ESP-IDF's esp-tls).
//!
//! Everything but the std and tokio servers is `no_std` and allocation-free: the caller owns
//! every buffer.
//!
//! # Writing a service
//! Implement [`Service`] (HTTP routes and admission, shared by both drivers), then
//! [`BlockingService`](blocking::BlockingService) or [`AsyncService`](nonblocking::AsyncService)
//! for the WebSocket itself, and hand it to a server. The `examples/` folder has one of each.
//!
//! # Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | [`server::Server`] (a thread per connection), std transports and clocks |
//! | `log` | yes | diagnostics through the `log` facade |
//! | `async` | yes | [`nonblocking`], the async driver |
//! | `hub` | no | `hub`: per-client queues, broadcast, and the loop that drains them |
//! | `tokio` | no | `server::tokio`, the tokio transport and timers |
//! | `embassy` | no | `server::embassy`, the embassy-net worker pool and timer |
//! | `defmt` | no | diagnostics through `defmt` instead of `log` (no_std only) |
//! | `client` | yes | `client`: connect out (blocking and async), reconnect with backoff |
//! | `tls-rustls` | no | wss:// for the std client (rustls; webpki roots or a CA file) |
//! | `tls-embedded` | no | wss:// for the no_std client (embedded-tls, TLS 1.3, no allocator) |
//! | `tls`, `tls-tokio` | no | https and wss for the threads and tokio servers (rustls) |
//! | `tls-mbedtls` | no | https and wss for the embassy-net server without std (mbedTLS; needs an allocator) |
//! | `testing` | no | helpers for tests: masked client frames, a bytewise mask, an upgrade request |
//!
//! # Defaults
//! [`ServeConfig::default`] serves 8 clients with 4 KiB receive buffers and delivers messages
//! of up to 1 MiB in chunks, so every message up to `max_message` arrives whatever the buffer.
//! Whole-message delivery bounds messages by the buffer too; [`ServeConfig::effective_max_message`]
//! says by how much.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "std", test))]
extern crate std;

#[doc(hidden)]
#[macro_use]
pub mod log;

pub mod blocking;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
#[cfg(feature = "hub")]
#[cfg_attr(docsrs, doc(cfg(feature = "hub")))]
pub mod hub;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub mod nonblocking;
pub mod proto;
pub mod server;
pub mod time;
#[cfg(any(feature = "std", feature = "tls-mbedtls"))]
pub mod tls;
pub mod wire;

pub use proto::handshake::{Declined, Policy};
pub use proto::{
    Client, Closed, Config, Connection, Data, DataKind, Delivery, Event, HttpPhase, RecvBuf, ServeConfig,
    Served, Service, Storage,
};
pub use time::Instant;
pub use wire::close::CloseCode;
