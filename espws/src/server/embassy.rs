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
use crate::nonblocking::{self, AsyncService, EmbassyTimer};
use crate::proto::{PeerLabel, RecvBuf, ServeConfig};

/// The memory one worker needs: the TCP socket's buffers and the WebSocket receive buffer.
pub struct WorkerBuffers<'b> {
    /// The socket's receive window.
    pub socket_rx: &'b mut [u8],
    /// The socket's send buffer: what a slow client may have outstanding.
    pub socket_tx: &'b mut [u8],
    /// The WebSocket receive buffer.
    pub websocket_rx: &'b mut [u8],
}

/// One worker of the pool: accepts on `port`, serves through `service`, repeats, forever. Run
/// `config.max_clients + 1` of them, numbered by `worker`, sharing one [`Slots`].
pub async fn worker<S: AsyncService + ?Sized>(
    stack: Stack<'_>,
    port: u16,
    config: &ServeConfig<'_>,
    service: &S,
    slots: &Slots,
    worker: u32,
    buffers: WorkerBuffers<'_>,
) -> ! {
    let WorkerBuffers { socket_rx, socket_tx, websocket_rx } = buffers;
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
        let mut rx = RecvBuf::new(&mut *websocket_rx);
        match Slots::take(slots, &PeerLabel::new(id, peer)) {
            Some(slot) => {
                let finished =
                    nonblocking::serve(&mut socket, rx, EmbassyTimer, config, service, id, peer).await;
                drop(slot);
                finished.linger_async(&EmbassyTimer).await;
            }
            None => nonblocking::refuse(&mut socket, &mut rx, &EmbassyTimer, config, FULL).await,
        }
        end(&mut socket).await;
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
