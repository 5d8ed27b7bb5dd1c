//! Connecting from a PC or ESP-IDF: resolve the host, open TCP, upgrade, with masking keys from
//! the operating system's random number generator.

use ::std::boxed::Box;
use ::std::io;
use ::std::net::{TcpStream, ToSocketAddrs};
use ::std::vec;

use super::{connect, ClientConfig, ConnectError, Connected};
use crate::blocking::{StdClock, TcpTransport, WebSocket};
use crate::proto::RecvBuf;

/// A blocking client connection over `std::net`.
pub type StdWebSocket = WebSocket<TcpTransport, Box<[u8]>, StdClock>;

/// A masking-key source backed by the operating system's random number generator.
///
/// Panics if the OS has no entropy to give, which on a PC or ESP-IDF does not happen once the
/// system is up: a client must not fall back to predictable keys.
pub fn os_keys() -> [u8; 4] {
    let mut key = [0u8; 4];
    getrandom::getrandom(&mut key).expect("the operating system's random number generator failed");
    key
}

/// Resolves `host:port` and opens TCP to the first address that answers within `timeout`.
pub fn open_tcp(host: &str, port: u16, timeout: ::core::time::Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolved to no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Connects to `config.request.url` (`ws://` only; see the `tls` module for `wss://`) with a
/// receive buffer of `rx_buffer` bytes.
pub fn connect_tcp<'a>(
    config: &ClientConfig<'a>,
    rx_buffer: usize,
) -> Result<Connected<'a, StdWebSocket>, ConnectError<io::Error>> {
    let url = &config.request.url;
    if url.secure {
        return Err(ConnectError::Io(io::Error::new(
            io::ErrorKind::Unsupported,
            "wss:// needs TLS, which this build does not include",
        )));
    }
    let stream = open_tcp(url.host, url.port, config.handshake_timeout).map_err(ConnectError::Io)?;
    let _ = stream.set_write_timeout(Some(config.write_timeout));
    let rx = RecvBuf::new(vec![0u8; rx_buffer].into_boxed_slice());
    connect(TcpTransport::new(stream), rx, StdClock::new(), config, os_keys)
}

/// A random number for the backoff's jitter, from the OS.
fn os_random() -> u32 {
    u32::from_le_bytes(os_keys())
}

/// Dials with `dial` again and again with `policy`'s backoff, running `session` on each
/// connection, until a session ends it on purpose ([`Ended::ByApplication`]).
///
/// `dial` is [`connect_tcp`] for `ws://` (or `tls::connect_tls` for `wss://`). Each attempt, each
/// wait and why each connection ended are logged. A silent server is found by the connection's
/// keepalive ([`Config::ping_interval`](crate::Config) and `pong_timeout`), which ends the
/// session like any other loss.
///
/// [`Ended::ByApplication`]: super::reconnect::Ended::ByApplication
pub fn run_reconnecting<'a, T: crate::blocking::Transport>(
    config: &ClientConfig<'a>,
    policy: super::reconnect::Policy,
    mut dial: impl FnMut(
        &ClientConfig<'a>,
    ) -> Result<Connected<'a, WebSocket<T, Box<[u8]>, StdClock>>, ConnectError<io::Error>>,
    mut session: impl FnMut(&mut WebSocket<T, Box<[u8]>, StdClock>, Option<&'a str>) -> super::reconnect::Ended,
) {
    use super::reconnect::{Backoff, Ended};
    use crate::time::Clock as _;
    let clock = StdClock::new();
    let mut backoff = Backoff::new(policy);
    let url = config.request.url;
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.wrapping_add(1);
        info!("dial {}: {}:{}{}", attempt, url.host, url.port, url.resource);
        let delay = match dial(config) {
            Err(e) => {
                let delay = backoff.dial_failed(os_random());
                let text = ::std::format!("{e}");
                warn!("dial {} failed: {}", attempt, text.as_str());
                delay
            }
            Ok(Connected { mut ws, protocol, .. }) => {
                info!("connected (subprotocol {})", protocol.unwrap_or("none"));
                backoff.connected(clock.now());
                let ended = session(&mut ws, protocol);
                ws.finish();
                ws.linger();
                let how = ws.connection().outcome();
                let text = how.map_or(::std::string::String::from("dropped"), |how| ::std::format!("{how}"));
                let who = if ended == Ended::ByApplication { "the application" } else { "the connection" };
                info!("connection ended ({} ended it): {}", who, text.as_str());
                backoff.disconnected(clock.now(), ended, os_random())
            }
        };
        let Some(delay) = delay else {
            info!("not reconnecting: the application closed");
            return;
        };
        info!("reconnecting in {} ms ({} failures in a row)", delay.as_millis() as u64, backoff.failures());
        ::std::thread::sleep(delay);
    }
}
