//! One bare-metal worker's memory as the firmware lays it out in a static, and the receive
//! buffers the workers share.

use espws::nonblocking::BufferPool;
use espws::server::embassy::{WebSocketRx, WorkerBuffers};

use crate::budget::bare_metal::{SOCKET_RX, SOCKET_TX};

/// A worker's socket window and send buffer (the budget's sizes) and `RX` bytes for WebSocket
/// input: its own receive buffer, or its carry where the workers share buffers
/// ([`budget::bare_metal::worker_rx`](crate::budget::bare_metal::worker_rx) gives `RX`).
/// Zero-initialised, so a static array of them sits in `.bss` and is never copied through a
/// stack.
pub struct WorkerMemory<const RX: usize> {
    socket_rx: [u8; SOCKET_RX],
    socket_tx: [u8; SOCKET_TX],
    websocket_rx: [u8; RX],
}

impl<const RX: usize> WorkerMemory<RX> {
    /// All zeros, for a static initialiser.
    pub const ZERO: Self =
        WorkerMemory { socket_rx: [0; SOCKET_RX], socket_tx: [0; SOCKET_TX], websocket_rx: [0; RX] };

    /// The buffers, for `espws::server::embassy::worker`: lending from `pool` when there is one
    /// (then this worker's `RX` bytes are its carry), else with a receive buffer of its own.
    pub fn buffers<'b, 'p>(&'b mut self, pool: Option<&'b BufferPool<'p>>) -> WorkerBuffers<'b, 'p> {
        let websocket_rx = match pool {
            Some(pool) => WebSocketRx::Lent { pool, carry: &mut self.websocket_rx },
            None => WebSocketRx::Own(&mut self.websocket_rx),
        };
        WorkerBuffers { socket_rx: &mut self.socket_rx, socket_tx: &mut self.socket_tx, websocket_rx }
    }
}

/// Gives `pool` the `buffers`; `None` if there are none (each worker owns its buffer then).
pub fn share<'b, const N: usize>(
    pool: &'b BufferPool<'b>,
    buffers: &'b mut [[u8; N]],
) -> Option<&'b BufferPool<'b>> {
    if buffers.is_empty() {
        return None;
    }
    for buffer in buffers {
        pool.give(buffer).expect("at most espws::nonblocking::MAX_LENT shared buffers");
    }
    Some(pool)
}

// The RAM tables count a worker's buffers as budget::bare_metal::worker_buffers.
const _: () = {
    let defaults = espws_apps::settings::Settings::device_defaults();
    assert!(
        core::mem::size_of::<WorkerMemory<{ espws_apps::settings::RX_CARRY }>>()
            == crate::budget::bare_metal::worker_buffers(&defaults)
    );
};

// The pool's state as the budget counts it, on the 32-bit targets.
#[cfg(target_pointer_width = "32")]
const _: () = assert!(
    core::mem::size_of::<BufferPool<'static>>() <= crate::budget::bare_metal::BUFFER_POOL,
    "the buffer pool grew: update budget::bare_metal::BUFFER_POOL and firmware/README.md"
);
