//! The async driver: the same state machine over `embedded-io-async`, for embassy-net on bare
//! metal and tokio on a PC.
//!
//! Deadlines from the core are honoured with a [`Timer`], raced against the read; no protocol
//! logic lives here. The driver is four rooms:
//!
//! - `transport`: the [`Transport`] and [`Timer`] traits a runtime implements;
//! - `websocket`: [`WebSocket`], one connection after its 101;
//! - `write`: writes with a timeout, and the linger after the last one;
//! - `serve`: [`serve`], one connection end to end through an [`AsyncService`].

// The coarse timer keeps deadlines in 64-bit atomics, which 32-bit devices lack.
#[cfg(all(feature = "std", target_has_atomic = "64"))]
mod coarse;
#[cfg(feature = "embassy")]
mod embassy;
mod replies;
mod serve;
#[cfg(feature = "tokio")]
mod tokio;
mod transport;
mod websocket;
mod write;

#[cfg(all(feature = "std", target_has_atomic = "64"))]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use coarse::{CoarseSleep, CoarseTimer};
#[cfg(feature = "embassy")]
#[cfg_attr(docsrs, doc(cfg(feature = "embassy")))]
pub use embassy::EmbassyTimer;
pub use replies::{Replies, ReplyError, MAX_REPLIES};
pub use serve::{refuse, serve, AsyncService};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use tokio::TokioTimer;
pub use transport::{Timer, Transport};
pub use websocket::{Error, Next, Sender, WebSocket};
