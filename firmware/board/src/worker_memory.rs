//! One bare-metal worker's memory as the firmware lays it out in a static.

use espws::server::embassy::WorkerBuffers;

use crate::budget::bare_metal::{worker_buffers, SOCKET_RX, SOCKET_TX};

/// A worker's socket window and send buffer (the budget's sizes) and a WebSocket receive buffer
/// of `RX` bytes. Zero-initialised, so a static array of them sits in `.bss` and is never copied
/// through a stack.
pub struct WorkerMemory<const RX: usize> {
    socket_rx: [u8; SOCKET_RX],
    socket_tx: [u8; SOCKET_TX],
    websocket_rx: [u8; RX],
}

impl<const RX: usize> WorkerMemory<RX> {
    /// All zeros, for a static initialiser.
    pub const ZERO: Self =
        WorkerMemory { socket_rx: [0; SOCKET_RX], socket_tx: [0; SOCKET_TX], websocket_rx: [0; RX] };

    /// The buffers, for `espws::server::embassy::worker`.
    pub fn buffers(&mut self) -> WorkerBuffers<'_> {
        WorkerBuffers {
            socket_rx: &mut self.socket_rx,
            socket_tx: &mut self.socket_tx,
            websocket_rx: &mut self.websocket_rx,
        }
    }
}

// The RAM tables count a worker's buffers as budget::bare_metal::worker_buffers.
const _: () = assert!(core::mem::size_of::<WorkerMemory<4096>>() == worker_buffers(4096));
