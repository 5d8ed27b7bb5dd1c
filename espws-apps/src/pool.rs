//! Serving on embassy-net: a pool of listening sockets, as bare-metal firmware must.
//!
//! embassy-net has no listen backlog: a connection is accepted only by a socket already
//! listening. So `max_clients + 1` workers each listen on the port; a worker that accepts while
//! every client slot is taken answers 503, so that the client over the limit hears why instead
//! of getting a reset.

use core::cell::Cell;

use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use espws::nonblocking::{self, EmbassyTimer};
use espws::proto::RecvBuf;
use espws::wire::http::StatusCode;

use crate::device::Device;

/// Counts the client slots in use, shared by the workers of one pool.
pub struct Slots {
    used: Mutex<CriticalSectionRawMutex, Cell<usize>>,
}

impl Slots {
    /// No slot in use.
    pub const fn new() -> Self {
        Slots { used: Mutex::new(Cell::new(0)) }
    }

    /// Takes a slot if fewer than `max` are in use.
    fn take(&self, max: usize) -> Option<Slot<'_>> {
        self.used.lock(|used| {
            (used.get() < max).then(|| {
                used.set(used.get() + 1);
                Slot(self)
            })
        })
    }

    /// Slots in use now.
    pub fn in_use(&self) -> usize {
        self.used.lock(Cell::get)
    }
}

impl Default for Slots {
    fn default() -> Self {
        Self::new()
    }
}

/// A taken slot, given back when dropped.
struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.used.lock(|used| used.set(used.get() - 1));
    }
}

/// The memory one worker needs: the TCP socket's buffers and the WebSocket receive buffer.
pub struct WorkerBuffers<'b> {
    /// The socket's receive window.
    pub socket_rx: &'b mut [u8],
    /// The socket's send buffer: what a slow client may have outstanding.
    pub socket_tx: &'b mut [u8],
    /// The WebSocket receive buffer.
    pub websocket_rx: &'b mut [u8],
}

/// One worker's memory as the firmware lays it out in a static: the socket's window and send
/// buffer of [`crate::budget::bare_metal`]'s sizes, and a WebSocket receive buffer of `RX` bytes.
/// Zero-initialised, so a static array of them sits in `.bss` and is never copied through a stack.
pub struct WorkerMemory<const RX: usize> {
    socket_rx: [u8; crate::budget::bare_metal::SOCKET_RX],
    socket_tx: [u8; crate::budget::bare_metal::SOCKET_TX],
    websocket_rx: [u8; RX],
}

impl<const RX: usize> WorkerMemory<RX> {
    /// All zeros, for a static initialiser.
    pub const ZERO: Self = WorkerMemory {
        socket_rx: [0; crate::budget::bare_metal::SOCKET_RX],
        socket_tx: [0; crate::budget::bare_metal::SOCKET_TX],
        websocket_rx: [0; RX],
    };

    /// The buffers, for [`worker`].
    pub fn buffers(&mut self) -> WorkerBuffers<'_> {
        WorkerBuffers {
            socket_rx: &mut self.socket_rx,
            socket_tx: &mut self.socket_tx,
            websocket_rx: &mut self.websocket_rx,
        }
    }
}

// The RAM tables count a worker's buffers as budget::bare_metal::worker_buffers.
const _: () =
    assert!(core::mem::size_of::<WorkerMemory<4096>>() == crate::budget::bare_metal::worker_buffers(4096));

/// One worker of the pool: accepts, serves, repeats, forever. Run `max_clients + 1` of them.
pub async fn worker(
    stack: Stack<'_>,
    device: &Device<'_>,
    slots: &Slots,
    id: u32,
    buffers: WorkerBuffers<'_>,
) -> ! {
    let settings = &device.settings;
    let config = settings.serve_config();
    let WorkerBuffers { socket_rx, socket_tx, websocket_rx } = buffers;
    let mut connection = 0u32;
    loop {
        let mut socket = TcpSocket::new(stack, &mut *socket_rx, &mut *socket_tx);
        socket.set_keep_alive(Some(embassy_time::Duration::from_secs(30)));
        if socket.accept(settings.port).await.is_err() {
            continue;
        }
        connection = connection.wrapping_add(1);
        // Worker number and connection count, so log lines of one client can be followed.
        let client_id = id * 1_000_000 + connection % 1_000_000;
        let mut rx = RecvBuf::new(&mut *websocket_rx);
        match slots.take(settings.max_clients) {
            Some(slot) => {
                nonblocking::serve(&mut socket, rx, EmbassyTimer, &config, device, client_id, slot).await;
            }
            None => {
                log::info!("all {} client slots taken; answering 503", settings.max_clients);
                let reason = "all client slots are taken; try again later";
                nonblocking::refuse(
                    &mut socket,
                    &mut rx,
                    &EmbassyTimer,
                    &config,
                    StatusCode::SERVICE_UNAVAILABLE,
                    reason,
                )
                .await;
            }
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
