//! Connecting out: the opening handshake as a client over any transport, then the same
//! [`blocking::WebSocket`] or [`nonblocking::WebSocket`] a server runs, with the client's role.
//!
//! The caller opens the transport (TCP, or TLS over TCP) and supplies the masking-key source;
//! [`connect`] and [`connect_async`] write the upgrade request, check the answer and hand back
//! the connection. `std` and `tokio` add helpers that resolve the host and open TCP themselves.

#[cfg(feature = "embassy")]
pub mod embassy;
#[cfg(feature = "tls-embedded")]
pub mod embedded_tls;
pub mod reconnect;
#[cfg(feature = "std")]
pub mod std;
#[cfg(feature = "tls-rustls")]
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;

use core::time::Duration;

use embassy_futures::select::{select, Either};

use crate::blocking;
use crate::nonblocking::{self, Timer};
use crate::proto::client_handshake::{ClientRequest, Expected, HandshakeError, Upgraded};
use crate::proto::deflate::Agreed;
use crate::proto::{Config, Delivery, MaskKeys, RecvBuf, Role, Storage};
use crate::time::Clock;

pub use crate::proto::client_handshake::{Auth, Rejection};

/// What a client connection asks for, and its limits.
#[derive(Copy, Clone, Debug)]
pub struct ClientConfig<'a> {
    /// The upgrade request: URL, origin, subprotocols, headers and credentials.
    pub request: ClientRequest<'a>,
    /// Limits and timers of the WebSocket connection (keepalive pings are the client's way to
    /// find a silent server dead).
    pub connection: Config,
    /// Time allowed for the server's answer to the upgrade request.
    pub handshake_timeout: Duration,
    /// How long a write may block before the server is counted gone (async driver).
    pub write_timeout: Duration,
}

impl<'a> ClientConfig<'a> {
    /// The defaults for `request`: [`Config::default`], 10 s for the handshake and for writes.
    pub fn new(request: ClientRequest<'a>) -> Self {
        ClientConfig {
            request,
            connection: Config::default(),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
        }
    }

    /// The request as sent: permessage-deflate is offered only with chunked delivery, because
    /// inflated bytes are delivered in chunks from the inflate window.
    fn request_sent(&self) -> ClientRequest<'a> {
        let mut request = self.request;
        request.deflate &= self.connection.delivery == Delivery::Chunked;
        request
    }
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError<E> {
    /// The transport failed.
    Io(E),
    /// The server's answer did not open a WebSocket.
    Handshake(HandshakeError),
    /// The upgrade request does not fit the receive buffer.
    RequestTooLarge,
    /// The TCP connection could not be opened (refused, unreachable or timed out).
    NoConnection,
}

impl<E: core::fmt::Debug> core::fmt::Display for ConnectError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConnectError::Io(e) => write!(f, "transport error: {e:?}"),
            ConnectError::Handshake(e) => write!(f, "{e}"),
            ConnectError::RequestTooLarge => f.write_str("the upgrade request does not fit the buffer"),
            ConnectError::NoConnection => f.write_str("the TCP connection could not be opened"),
        }
    }
}

/// What [`connect`] gives: the blocking connection, or why there is none.
pub type Connect<'a, T, B, C> =
    Result<Connected<'a, blocking::WebSocket<T, B, C>>, ConnectError<<T as embedded_io::ErrorType>::Error>>;

/// What [`connect_async`] gives: the async connection, or why there is none.
pub type ConnectAsync<'a, T, B, K> = Result<
    Connected<'a, nonblocking::WebSocket<T, B, K>>,
    ConnectError<<T as embedded_io_async::ErrorType>::Error>,
>;

/// A connection the server upgraded, with the subprotocol it chose.
pub struct Connected<'a, W> {
    /// The WebSocket, in the client role.
    pub ws: W,
    /// The subprotocol the server chose from the offer, if any.
    pub protocol: Option<&'a str>,
    /// permessage-deflate, if it was offered and the server agreed.
    pub deflate: Option<Agreed>,
}

/// 16 random bytes for `Sec-WebSocket-Key`, from the masking-key source.
fn nonce(keys: MaskKeys) -> [u8; 16] {
    let mut nonce = [0u8; 16];
    for chunk in nonce.chunks_exact_mut(4) {
        chunk.copy_from_slice(&keys());
    }
    nonce
}

/// Writes the upgrade request into the empty space of `rx` (nothing is committed): its length
/// and the answer to expect.
fn write_request<B: Storage, E>(
    request: &ClientRequest<'_>,
    rx: &mut RecvBuf<B>,
    keys: MaskKeys,
) -> Result<(usize, Expected), ConnectError<E>> {
    rx.clear();
    request.write(nonce(keys), rx.spare_mut()).map_err(|_| ConnectError::RequestTooLarge)
}

/// Opens a WebSocket over a blocking transport the caller connected: sends the upgrade
/// request, checks the answer (bounded by the handshake timeout), and returns the connection.
///
/// `keys` gives the masking keys of every frame, and the request's key; it must draw on a
/// random number generator. Frames that followed the 101 stay in `rx` for the connection.
pub fn connect<'a, T, B, C>(
    mut io: T,
    mut rx: RecvBuf<B>,
    clock: C,
    config: &ClientConfig<'a>,
    keys: MaskKeys,
) -> Connect<'a, T, B, C>
where
    T: blocking::Transport,
    B: Storage,
    C: Clock,
{
    use embedded_io::{Error as _, ErrorKind};
    let request = config.request_sent();
    let (len, expected) = write_request(&request, &mut rx, keys)?;
    io.write_all(&rx.spare_mut()[..len]).map_err(ConnectError::Io)?;
    io.flush().map_err(ConnectError::Io)?;
    let deadline = clock.now() + config.handshake_timeout;
    let upgraded = loop {
        let full = rx.spare_mut().is_empty();
        if let Some(up) =
            request.poll_response(rx.pending(), full, &expected).map_err(ConnectError::Handshake)?
        {
            break up;
        }
        let now = clock.now();
        if now >= deadline {
            return Err(ConnectError::Handshake(HandshakeError::TimedOut));
        }
        io.set_read_timeout(Some(deadline.saturating_duration_since(now).max(Duration::from_millis(1))))
            .map_err(ConnectError::Io)?;
        match io.read(rx.spare_mut()) {
            Ok(0) => return Err(ConnectError::Handshake(HandshakeError::Closed)),
            Ok(n) => rx.commit(n),
            Err(e) if T::is_timeout(&e) => return Err(ConnectError::Handshake(HandshakeError::TimedOut)),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(ConnectError::Io(e)),
        }
    };
    let Upgraded { head_len, protocol, deflate } = upgraded;
    rx.consume(head_len);
    #[allow(unused_mut)]
    let mut ws = blocking::WebSocket::with_role(io, rx, config.connection, Role::Client(keys), clock);
    #[cfg(feature = "std")]
    if let Some(agreed) = deflate {
        ws.enable_deflate(&agreed);
    }
    Ok(Connected { ws, protocol, deflate })
}

/// [`connect`] over an async transport, with the runtime's timer.
pub async fn connect_async<'a, T, B, K>(
    mut io: T,
    mut rx: RecvBuf<B>,
    timer: K,
    config: &ClientConfig<'a>,
    keys: MaskKeys,
) -> ConnectAsync<'a, T, B, K>
where
    T: nonblocking::Transport,
    B: Storage,
    K: Timer,
{
    use embedded_io_async::{Error as _, ErrorKind};
    let request = config.request_sent();
    let (len, expected) = write_request(&request, &mut rx, keys)?;
    let deadline = timer.now() + config.handshake_timeout;
    match select(io.write_all(&rx.spare_mut()[..len]), timer.sleep_until(deadline)).await {
        Either::First(result) => result.map_err(ConnectError::Io)?,
        Either::Second(()) => return Err(ConnectError::Handshake(HandshakeError::TimedOut)),
    }
    // A TLS transport holds the request in a record until flushed.
    match select(io.flush(), timer.sleep_until(deadline)).await {
        Either::First(result) => result.map_err(ConnectError::Io)?,
        Either::Second(()) => return Err(ConnectError::Handshake(HandshakeError::TimedOut)),
    }
    let upgraded = loop {
        let full = rx.spare_mut().is_empty();
        if let Some(up) =
            request.poll_response(rx.pending(), full, &expected).map_err(ConnectError::Handshake)?
        {
            break up;
        }
        match select(io.read(rx.spare_mut()), timer.sleep_until(deadline)).await {
            Either::First(Ok(0)) => return Err(ConnectError::Handshake(HandshakeError::Closed)),
            Either::First(Ok(n)) => rx.commit(n),
            Either::First(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            Either::First(Err(e)) => return Err(ConnectError::Io(e)),
            Either::Second(()) => return Err(ConnectError::Handshake(HandshakeError::TimedOut)),
        }
    };
    let Upgraded { head_len, protocol, deflate } = upgraded;
    rx.consume(head_len);
    #[allow(unused_mut)]
    let mut ws = nonblocking::WebSocket::with_role(
        io,
        rx,
        config.connection,
        Role::Client(keys),
        timer,
        config.write_timeout,
    );
    #[cfg(feature = "std")]
    if let Some(agreed) = deflate {
        ws.enable_deflate(&agreed);
    }
    Ok(Connected { ws, protocol, deflate })
}
