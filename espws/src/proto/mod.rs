//! The sans-IO protocol core: the connection state machine and what it is made of.
//!
//! Nothing here owns a socket or reads a clock. Drivers feed received bytes and `now` in, take
//! events, frames to send and the next deadline out. The model, after `quinn-proto`:
//!
//! 1. read socket bytes into [`Connection::read_buf`], then call [`Connection::handle_read`]
//!    (or [`Connection::handle_eof`]);
//! 2. call [`Connection::poll_event`] until it returns `None`, and after each event write out
//!    every frame [`Connection::poll_transmit`] yields;
//! 3. sleep until [`Connection::poll_timeout`] or more input, then call
//!    [`Connection::handle_timeout`];
//! 4. once [`Connection::is_closed`], flush the transmits and drop the transport.

pub mod client_handshake;
mod config;
pub(crate) mod connection;
mod control;
pub mod deflate;
mod error;
mod event;
pub mod handshake;
pub mod http_phase;
mod inline_str;
mod recv_buf;
mod role;
mod serve_config;
mod service;
pub mod utf8;

pub use config::{Config, ConfigError, Delivery};
pub use connection::{Connection, PendingEvent};
pub use control::ControlFrame;
pub use error::{ProtocolError, SendError};
pub use event::{Closed, Data, DataKind, Event, Side};
pub use http_phase::{HttpPhase, Step};
#[cfg(feature = "tls-mbedtls")]
pub(crate) use inline_str::InlineStr;
pub use recv_buf::{RecvBuf, Storage};
pub use role::{MaskKeys, Role};
pub use serve_config::{ServeConfig, LINGER};
pub(crate) use service::HttpEnd;
pub use service::{Client, Finished, PeerLabel, Served, Service, MAX_TARGET};
