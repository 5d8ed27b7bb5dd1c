//! How a server serves its connections: limits, timers and policy, for every runtime.

use core::time::Duration;

use super::deflate::DeflateConfig;
use super::handshake::Policy;
use super::{Config, ConfigError, Delivery};

/// How long a closed connection keeps reading (and discarding) after its FIN, so that the
/// peer receives the last bytes written (a close frame, an error answer) rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);

/// What a server's connections may do, and its limits; [`Default`] gives the documented
/// defaults, which deliver every message up to `connection.max_message`.
///
/// ```
/// use espws::{Config, Delivery, Policy, ServeConfig};
///
/// // Whole messages must fit the receive buffer: this one delivers at most 16 KiB less a
/// // frame header and a control frame.
/// let config = ServeConfig {
///     rx_buffer: 16 * 1024,
///     connection: Config { delivery: Delivery::Whole, ..Config::default() },
///     policy: Policy { token: Some("s3cret"), ..Policy::default() },
///     ..ServeConfig::default()
/// };
/// assert!(config.check().is_ok());
/// assert!(config.effective_max_message() < 16 * 1024);
/// ```
#[derive(Copy, Clone, Debug)]
pub struct ServeConfig<'p> {
    /// Connections served at once, WebSocket or HTTP; one more is answered 503.
    pub max_clients: usize,
    /// Receive buffer per connection, in bytes; in whole-message delivery it bounds messages.
    pub rx_buffer: usize,
    /// The largest request head accepted, in bytes (431 above it). The receive buffer bounds it
    /// too, so a head is refused above the smaller of the two; kept apart so that a larger
    /// buffer for large messages does not also let a slow client send a larger head.
    pub max_request_head: usize,
    /// Time allowed for a request head to arrive, from accept (or from the previous answer on
    /// a kept-alive connection).
    pub handshake_timeout: Duration,
    /// How long a write may block on a peer that does not read before the peer is dropped.
    pub write_timeout: Duration,
    /// TCP keepalive idle time, so that the network stack also probes silent peers.
    pub tcp_keepalive: Option<Duration>,
    /// Limits and timers of each WebSocket connection.
    pub connection: Config,
    /// Origins, token and subprotocols.
    pub policy: Policy<'p>,
}

impl<'p> ServeConfig<'p> {
    /// 8 clients, 4 KiB receive buffers, request heads of up to 16 KiB (as Node.js's HTTP
    /// server; a browser's, cookies included, is a few KiB), messages of up to 1 MiB delivered in
    /// chunks, 5 s for a request head, 10 s for a blocked write, TCP keepalive after 30 s, and
    /// the timers of [`Config::default`].
    pub const DEFAULT: ServeConfig<'static> = ServeConfig {
        max_clients: 8,
        rx_buffer: 4096,
        max_request_head: 16 * 1024,
        handshake_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(10),
        tcp_keepalive: Some(Duration::from_secs(30)),
        connection: Config::DEFAULT,
        policy: Policy { allowed_origins: &[], token: None, protocols: &[], deflate: DeflateConfig::OFF },
    };

    /// Checks that the configuration can work: a receive buffer the connection accepts, at
    /// least one client, room for a browser's request head, and permessage-deflate only where
    /// the driver can inflate.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.max_clients == 0 {
            return Err(ConfigError::NoClients);
        }
        if self.max_request_head < Config::MIN_BUFFER {
            let needed = Config::MIN_BUFFER;
            return Err(ConfigError::RequestHeadTooSmall { max_request_head: self.max_request_head, needed });
        }
        if self.policy.deflate.enabled && self.connection.delivery == Delivery::Whole {
            return Err(ConfigError::DeflateNeedsChunked);
        }
        if self.policy.deflate.enabled && !cfg!(feature = "std") {
            return Err(ConfigError::DeflateNeedsStd);
        }
        self.connection.check_buffer(self.rx_buffer)
    }

    /// The policy the HTTP phase answers upgrades with: [`policy`](Self::policy), less
    /// permessage-deflate where [`check`](Self::check) would refuse it, so that a configuration
    /// that was never checked still never agrees to compression its driver cannot inflate.
    pub fn upgrade_policy(&self) -> Policy<'p> {
        let mut policy = self.policy;
        policy.deflate.enabled &= self.connection.delivery == Delivery::Chunked && cfg!(feature = "std");
        policy
    }

    /// The largest request head this server accepts: [`max_request_head`](Self::max_request_head),
    /// or less when the receive buffer is smaller.
    pub fn effective_max_request_head(&self) -> usize {
        self.max_request_head.min(self.rx_buffer)
    }

    /// The largest message a client can actually send: `max_message`, or less when whole
    /// delivery has to fit messages in the receive buffer.
    pub fn effective_max_message(&self) -> u64 {
        self.connection.effective_max_message(self.rx_buffer)
    }
}

impl Default for ServeConfig<'_> {
    fn default() -> Self {
        ServeConfig::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_delivers_every_message_up_to_max_message() {
        let config = ServeConfig::default();
        assert_eq!(config.check(), Ok(()));
        assert_eq!(config.effective_max_message(), config.connection.max_message);
    }

    #[test]
    #[cfg(feature = "std")]
    fn deflate_needs_chunked_delivery() {
        let mut config = ServeConfig::default();
        config.policy.deflate = DeflateConfig::FULL;
        assert_eq!(config.check(), Ok(()));
        assert!(config.upgrade_policy().deflate.enabled);
        config.connection.delivery = Delivery::Whole;
        assert_eq!(config.check(), Err(ConfigError::DeflateNeedsChunked));
        assert!(!config.upgrade_policy().deflate.enabled, "never agreed to unchecked");
    }

    #[test]
    fn no_clients_is_refused() {
        let config = ServeConfig { max_clients: 0, ..ServeConfig::default() };
        assert_eq!(config.check(), Err(ConfigError::NoClients));
    }

    #[test]
    fn a_request_head_bound_too_small_for_an_upgrade_is_refused() {
        let config = ServeConfig { max_request_head: 255, ..ServeConfig::default() };
        let needed = Config::MIN_BUFFER;
        assert_eq!(config.check(), Err(ConfigError::RequestHeadTooSmall { max_request_head: 255, needed }));
    }

    #[test]
    fn the_smaller_of_the_head_bound_and_the_buffer_bounds_a_head() {
        let config = ServeConfig { rx_buffer: 4096, max_request_head: 16 * 1024, ..ServeConfig::default() };
        assert_eq!(config.effective_max_request_head(), 4096);
        let config = ServeConfig { rx_buffer: 256 * 1024, ..config };
        assert_eq!(config.effective_max_request_head(), 16 * 1024);
    }
}
