//! Serving on embassy-net: a pool of listening sockets, as bare-metal firmware must.
//!
//! embassy-net has no listen backlog: a connection is accepted only by a socket already
//! listening. So `max_clients + 1` workers each listen on the port; a worker that accepts while
//! every client slot is taken answers 503, so that the client over the limit hears why instead
//! of getting a reset.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use embassy_net::tcp::TcpSocket;
use embassy_net::{IpAddress, Stack};

use super::slots::{Slots, FULL};
use crate::nonblocking::{self, AsyncService, BufferPool, EmbassyTimer, LentBuf, Transport};
use crate::proto::{PeerLabel, RecvBuf, ServeConfig, Storage};

/// The memory one worker needs: the TCP socket's buffers and where WebSocket input is parsed
/// (`'p` is the shared buffers' lifetime, when they are lent).
pub struct WorkerBuffers<'b, 'p> {
    /// The socket's receive window.
    pub socket_rx: &'b mut [u8],
    /// The socket's send buffer: what a slow client may have outstanding.
    pub socket_tx: &'b mut [u8],
    /// The WebSocket receive buffer: the worker's own, or lent from a pool.
    pub websocket_rx: WebSocketRx<'b, 'p>,
}

/// Where a worker parses its connection's input.
pub enum WebSocketRx<'b, 'p> {
    /// A buffer of the worker's own, held for each connection's whole life. Needed for
    /// [`Delivery::Whole`](crate::proto::Delivery::Whole) with messages up to its size.
    Own(&'b mut [u8]),
    /// A buffer lent from `pool` while the connection processes input (see [`LentBuf`]); while
    /// it waits, the connection keeps at most `carry.len()` unconsumed bytes (256 suffice for
    /// [`Delivery::Chunked`](crate::proto::Delivery::Chunked)) and input waits in the socket's
    /// receive ring. The pool's buffers must be of one size, as an own buffer would be.
    Lent {
        /// The buffers shared by the workers.
        pool: &'b BufferPool<'p>,
        /// This worker's carry.
        carry: &'b mut [u8],
    },
}

/// A worker's receive storage for one connection, as [`WebSocketRx`] says.
enum WorkerRx<'a, 'b> {
    Own(&'a mut [u8]),
    Lent(LentBuf<'a, 'b>),
}

impl Storage for WorkerRx<'_, '_> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        match self {
            WorkerRx::Own(buffer) => buffer,
            WorkerRx::Lent(lent) => lent.bytes(),
        }
    }

    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            WorkerRx::Own(buffer) => buffer,
            WorkerRx::Lent(lent) => lent.bytes_mut(),
        }
    }

    fn park(&mut self, pending: core::ops::Range<usize>) -> bool {
        match self {
            WorkerRx::Own(_) => false,
            WorkerRx::Lent(lent) => lent.park(pending),
        }
    }

    fn unpark(&mut self) -> Option<usize> {
        match self {
            WorkerRx::Own(_) => None,
            WorkerRx::Lent(lent) => lent.unpark(),
        }
    }

    #[inline(always)]
    fn is_parked(&self) -> bool {
        match self {
            WorkerRx::Own(_) => false,
            WorkerRx::Lent(lent) => lent.is_parked(),
        }
    }

    fn poll_unpark(&mut self, cx: &mut core::task::Context<'_>) -> core::task::Poll<Option<usize>> {
        match self {
            WorkerRx::Own(_) => core::task::Poll::Ready(None),
            WorkerRx::Lent(lent) => lent.poll_unpark(cx),
        }
    }
}

/// One worker of the pool: accepts on `port`, opens each connection through `layer` ([`Tcp`],
/// or a `tls::mbedtls::TlsServer` for https and wss), serves it through
/// `service`, repeats, forever. Run `config.max_clients + 1` of them, numbered by `worker`,
/// sharing one [`Slots`].
///
/// Over TLS, give each worker a buffer of its own ([`WebSocketRx::Own`]): a TLS connection keeps
/// it while it waits, since mbedTLS may hold decrypted bytes that no socket readiness shows.
#[allow(clippy::too_many_arguments)] // a worker's parts
pub async fn worker<S: AsyncService + ?Sized, L: Layer>(
    stack: Stack<'_>,
    port: u16,
    config: &ServeConfig<'_>,
    service: &S,
    slots: &Slots,
    worker: u32,
    buffers: WorkerBuffers<'_, '_>,
    layer: L,
) -> ! {
    let WorkerBuffers { socket_rx, socket_tx, mut websocket_rx } = buffers;
    let mut connection = 0u32;
    loop {
        let mut socket = TcpSocket::new(stack, &mut *socket_rx, &mut *socket_tx);
        socket.set_keep_alive(
            config.tcp_keepalive.map(|d| embassy_time::Duration::from_millis(d.as_millis() as u64)),
        );
        if socket.accept(port).await.is_err() {
            continue;
        }
        connection = connection.wrapping_add(1);
        // Worker number and connection count, so log lines of one client can be followed.
        let id = u64::from(worker) * 1_000_000 + u64::from(connection % 1_000_000);
        let peer = socket.remote_endpoint().map(|end| SocketAddr::new(ip(end.addr), end.port));
        let mut rx = RecvBuf::new(match &mut websocket_rx {
            WebSocketRx::Own(buffer) => WorkerRx::Own(buffer),
            WebSocketRx::Lent { pool, carry } => WorkerRx::Lent(LentBuf::new(pool, carry)),
        });
        // `let … else` rather than `match` and `if let`, whose scrutinees would stay in this
        // future beside the connection (72 bytes per worker).
        'serve: {
            let Some(slot) = Slots::take(slots, &PeerLabel::new(id, peer)) else {
                nonblocking::refuse(&mut socket, &mut rx, &EmbassyTimer, config, FULL).await;
                break 'serve;
            };
            // The connection's parts go into `open` and come back: kept by its future, not by
            // this one, they take no room beside the connection's while it is served.
            let accepted = Accepted { io: &mut socket, rx, id, peer };
            let Some(Accepted { io, rx, id, peer }) = layer.open(accepted, config).await else {
                break 'serve;
            };
            let finished = nonblocking::serve(io, rx, EmbassyTimer, config, service, id, peer).await;
            drop(slot);
            finished.linger_async(&EmbassyTimer).await;
        }
        end(&mut socket).await;
    }
}

/// What a [`worker`] runs between an accepted socket and the HTTP phase: nothing ([`Tcp`]), or
/// a TLS handshake (a `tls::mbedtls::TlsServer`, feature `tls-mbedtls`).
pub trait Layer: for<'s, 'b> layer::Open<&'s mut TcpSocket<'b>> {}

impl<L: for<'s, 'b> layer::Open<&'s mut TcpSocket<'b>>> Layer for L {}

/// Plain TCP: connections are served over the socket as it is.
#[derive(Copy, Clone, Debug, Default)]
pub struct Tcp;

use layer::Accepted;

/// How a [`Layer`] opens a connection: public items in a private module, so that the layers
/// are this crate's alone.
mod layer {
    use super::*;

    /// An accepted connection's parts, on their way to the HTTP phase.
    pub struct Accepted<T, B: Storage> {
        pub io: T,
        pub rx: RecvBuf<B>,
        pub id: u64,
        pub peer: Option<SocketAddr>,
    }

    /// Turns an accepted socket `T` into the transport a connection is served over.
    #[allow(async_fn_in_trait)] // awaited by the worker's future alone
    pub trait Open<T: Transport> {
        /// What the connection is served over.
        type Io: Transport;

        /// The connection over its transport, or `None` (the reason logged) when there is none
        /// to serve.
        async fn open<B: Storage>(
            &self,
            accepted: Accepted<T, B>,
            config: &ServeConfig<'_>,
        ) -> Option<Accepted<Self::Io, B>>;
    }

    impl<T: Transport> Open<T> for Tcp {
        type Io = T;

        async fn open<B: Storage>(
            &self,
            accepted: Accepted<T, B>,
            _: &ServeConfig<'_>,
        ) -> Option<Accepted<T, B>> {
            Some(accepted)
        }
    }

    #[cfg(feature = "tls-mbedtls")]
    impl<'a, 's, 'b> Open<&'s mut TcpSocket<'b>> for &crate::tls::mbedtls::TlsServer<'a> {
        type Io = crate::tls::mbedtls::TlsStream<'a, &'s mut TcpSocket<'b>>;

        async fn open<B: Storage>(
            &self,
            accepted: Accepted<&'s mut TcpSocket<'b>, B>,
            config: &ServeConfig<'_>,
        ) -> Option<Accepted<Self::Io, B>> {
            let Accepted { io: socket, rx, id, peer } = accepted;
            let local = socket.local_endpoint().map(|end| SocketAddr::new(ip(end.addr), end.port));
            let timeout = config.handshake_timeout;
            match crate::tls::mbedtls::accept(socket, self, &EmbassyTimer, timeout, local).await {
                Ok(io) => Some(Accepted { io, rx, id, peer }),
                Err(e) => {
                    e.log(&PeerLabel::new(id, peer));
                    None
                }
            }
        }
    }
}

/// Ends what the driver left open before the socket is reused: embassy-net forgets a dropped
/// socket without a word to the peer, which would then wait forever (a silent client dropped at
/// the handshake timeout, a peer that never sent its FIN). FIN first, then a reset if the
/// connection is still not closed.
async fn end(socket: &mut TcpSocket<'_>) {
    use embassy_net::tcp::State;
    use embassy_time::{with_timeout, Duration};
    socket.close();
    let _ = with_timeout(Duration::from_millis(500), socket.flush()).await;
    if !matches!(socket.state(), State::Closed | State::TimeWait) {
        socket.abort();
        let _ = with_timeout(Duration::from_millis(500), socket.flush()).await;
    }
}

/// embassy-net's address as `core::net`'s.
fn ip(addr: IpAddress) -> IpAddr {
    #[allow(unreachable_patterns)] // IPv6 exists only with embassy-net's `proto-ipv6`.
    match addr {
        IpAddress::Ipv4(v4) => IpAddr::V4(Ipv4Addr::from(v4.octets())),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}
