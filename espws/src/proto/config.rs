//! What a connection may accept, and its timers.

use core::time::Duration;

use crate::wire::frame::{MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};

/// How received data messages reach the application.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Each message arrives whole, reassembled in the receive buffer. Messages larger than the
    /// buffer (less [`Config::buffer_overhead`]) close with 1009.
    Whole,
    /// Payload arrives in chunks as soon as it is received, so a message of any size (up to
    /// `max_message`) passes through a small buffer. Text chunks are validated as they arrive,
    /// but a chunk may end inside a code point.
    Chunked,
}

impl Delivery {
    /// The largest message accepted with this delivery, a limit of `max_message` and a receive
    /// buffer of `capacity` bytes: a whole message must also fit the buffer.
    pub const fn max_message(self, max_message: u64, capacity: usize) -> u64 {
        match self {
            Delivery::Chunked => max_message,
            Delivery::Whole => {
                let fits = capacity.saturating_sub(Config::buffer_overhead()) as u64;
                if fits < max_message {
                    fits
                } else {
                    max_message
                }
            }
        }
    }
}

/// Limits and timers for one connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The largest message accepted, in bytes; a larger one closes with 1009 as soon as a frame
    /// header announces it.
    pub max_message: u64,
    /// Whole messages or chunks.
    pub delivery: Delivery,
    /// Send a ping after this long without receiving anything; `None` disables keepalive.
    pub ping_interval: Option<Duration>,
    /// After a ping, count the peer dead if nothing arrives within this time.
    pub pong_timeout: Duration,
    /// After sending a close frame, wait this long for the peer's.
    pub close_timeout: Duration,
}

impl Config {
    /// Room a receive buffer needs beyond the largest whole message: one data frame header and
    /// one complete control frame, which may arrive between fragments.
    pub const fn buffer_overhead() -> usize {
        MAX_HEADER_LEN + 6 + MAX_CONTROL_PAYLOAD
    }

    /// The smallest receive buffer a connection accepts.
    pub const MIN_BUFFER: usize = 256;

    /// Checks that a receive buffer of `capacity` bytes can serve this configuration.
    pub fn check_buffer(&self, capacity: usize) -> Result<(), ConfigError> {
        if capacity < Self::MIN_BUFFER {
            return Err(ConfigError::BufferTooSmall { capacity, needed: Self::MIN_BUFFER });
        }
        Ok(())
    }

    /// The largest message that can actually be received with a buffer of `capacity` bytes.
    pub fn effective_max_message(&self, capacity: usize) -> u64 {
        self.delivery.max_message(self.max_message, capacity)
    }
}

impl Config {
    /// 1 MiB messages delivered in chunks (so any buffer receives them), a ping after 15 s of
    /// silence, 10 s to answer it, and 5 s for the close handshake.
    pub const DEFAULT: Config = Config {
        max_message: 1 << 20,
        delivery: Delivery::Chunked,
        ping_interval: Some(Duration::from_secs(15)),
        pong_timeout: Duration::from_secs(10),
        close_timeout: Duration::from_secs(5),
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// A configuration that cannot work.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The receive buffer is smaller than [`Config::MIN_BUFFER`].
    BufferTooSmall {
        /// The buffer offered.
        capacity: usize,
        /// The minimum.
        needed: usize,
    },
    /// A request-head bound below [`Config::MIN_BUFFER`]: too small for a browser's upgrade.
    RequestHeadTooSmall {
        /// The bound offered.
        max_request_head: usize,
        /// The minimum.
        needed: usize,
    },
    /// A server configured for no clients at all.
    NoClients,
    /// permessage-deflate with whole-message delivery: inflated bytes are delivered in chunks
    /// from the inflate window, never reassembled whole.
    DeflateNeedsChunked,
    /// permessage-deflate in a build without `std`: the drivers allocate the inflater and the
    /// deflater; a `no_std` program inflates with `proto::deflate::Inflate` itself.
    DeflateNeedsStd,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::BufferTooSmall { capacity, needed } => {
                write!(f, "receive buffer of {capacity} bytes is below the minimum of {needed}")
            }
            ConfigError::RequestHeadTooSmall { max_request_head, needed } => write!(
                f,
                "max_request_head of {max_request_head} bytes is below the minimum of {needed}: \
                 a browser's upgrade request would be refused"
            ),
            ConfigError::NoClients => write!(f, "max_clients is 0: the server could serve no one"),
            ConfigError::DeflateNeedsChunked => {
                write!(f, "permessage-deflate needs chunked delivery: turn one of them off")
            }
            ConfigError::DeflateNeedsStd => {
                write!(f, "permessage-deflate in the server needs the std feature: turn it off")
            }
        }
    }
}
