//! Accept loops: the library's servers, generic over any [`Service`](crate::Service).
//!
//! - [`Server`] (feature `std`): a thread per connection over `std::net`, as on ESP-IDF;
//! - `tokio::run` (feature `tokio`): a current-thread runtime per core, a task per connection;
//! - `embassy::worker` (feature `embassy`): a pool of embassy-net sockets, as bare metal needs.
//!
//! Each counts its clients with [`Slots`] and answers one too many with the same 503. The std
//! servers stop gracefully through a [`Shutdown`]: 1001 to every client, a bounded wait.

#[cfg(feature = "embassy")]
#[cfg_attr(docsrs, doc(cfg(feature = "embassy")))]
pub mod embassy;
#[cfg(feature = "std")]
mod reaper;
#[cfg(feature = "std")]
mod shutdown;
mod slots;
#[cfg(feature = "std")]
mod threads;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

#[cfg(feature = "std")]
pub use reaper::REAPER_STACK;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use shutdown::Shutdown;
#[cfg(feature = "std")]
pub(crate) use shutdown::{holds_reset, Registration, POLL_AFTER_STOP};
pub use slots::{Slot, Slots, FULL};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use threads::{Server, ServerHandle, DEFAULT_THREAD_STACK};

/// Whether a read error that comes while the server is shutting down is the peer's doing: a
/// reset or an abort means the peer is gone, and the connection ends at once. Any other error
/// then is taken for the shutdown's own end of stream (a TLS session may read the shut read
/// side as a truncated stream), and the connection keeps waiting for the peer's close frame.
pub(crate) fn gone_during_stop(kind: embedded_io::ErrorKind) -> bool {
    use embedded_io::ErrorKind;
    matches!(
        kind,
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::NotConnected
    )
}
