//! The async driver: the same state machine over `embedded-io-async`, for embassy-net on bare
//! metal and tokio on a PC.
//!
//! Deadlines from the core are honoured with a [`Timer`], raced against the read; no protocol
//! logic lives here. The driver's rooms:
//!
//! - `transport`: the [`Transport`] and [`Timer`] traits a runtime implements;
//! - `websocket`: [`WebSocket`], one connection after its 101;
//! - `sender`: [`Sender`], its frames out while an event borrows its buffer;
//! - `write`: writes with a timeout, and the linger after the last one;
//! - `serve`: [`serve`], one connection end to end through an [`AsyncService`];
//! - `pool` (std): [`PooledBuf`], receive buffers lent per thread while a connection has input;
//! - `lent` (embassy): `LentBuf`, the same from a `BufferPool` of the caller's buffers,
//!   without an allocator.

/// A future for an await that is rarely taken (a control frame, a write that has to wait, the
/// closing handshake): boxed on a PC, so that it does not grow every connection's task, which
/// is what an idle connection costs; inline on a device, which has no allocator.
macro_rules! rarely_awaited {
    ($future:expr) => {{
        #[cfg(feature = "std")]
        let future = std::boxed::Box::pin($future);
        #[cfg(not(feature = "std"))]
        let future = $future;
        future
    }};
}

// The coarse timer keeps deadlines in 64-bit atomics, which 32-bit devices lack.
#[cfg(all(feature = "std", target_has_atomic = "64"))]
mod coarse;
#[cfg(feature = "embassy")]
mod embassy;
mod error;
#[cfg(feature = "embassy")]
mod lent;
#[cfg(feature = "std")]
mod pool;
mod replies;
mod sender;
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
pub use error::Error;
#[cfg(feature = "embassy")]
#[cfg_attr(docsrs, doc(cfg(feature = "embassy")))]
pub use lent::{BufferPool, LentBuf, MAX_LENT};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use pool::{PooledBuf, CARRY_MAX};
pub use replies::{Replies, ReplyError, MAX_REPLIES};
pub use sender::Sender;
pub use serve::{refuse, serve, AsyncService};
#[cfg(feature = "tls-tokio")]
pub(crate) use tokio::write_all_parts;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use tokio::{SharedTcp, TokioTcp, TokioTimer};
pub use transport::{Timer, Transport};
pub use websocket::{Next, WebSocket};
