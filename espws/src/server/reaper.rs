//! Closes refused and finished connections politely, off the serving threads.
//!
//! Closing a socket with unread input makes the kernel send a reset, which can destroy the
//! response before the client reads it. So a socket is shut for writing, then kept until its
//! peer closes or a short time passes, while its input is discarded. One thread does this for
//! every such socket, so a flood of refused connections costs no thread each.

use core::time::Duration;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Instant;

use crate::proto::LINGER;
use crate::wire::http::{self, StatusCode};

/// Sockets lingering at once; beyond this the oldest is closed at once.
const MAX_LINGERING: usize = 512;
const POLL: Duration = Duration::from_millis(25);
/// The lingering thread's stack: its 2 KiB scratch buffer and a few frames, with room to spare
/// (it is the largest fixed cost of the server on ESP-IDF).
pub const REAPER_STACK: usize = 16 * 1024;

/// Hands sockets to the lingering thread.
pub(super) struct Reaper {
    tx: Sender<TcpStream>,
}

impl Reaper {
    pub(super) fn spawn() -> Self {
        let (tx, rx) = mpsc::channel();
        let _ = std::thread::Builder::new()
            .name("espws-reaper".into())
            .stack_size(REAPER_STACK)
            .spawn(move || run(rx));
        Reaper { tx }
    }

    /// Answers `status` without reading the request, then closes politely.
    pub(super) fn reject(&self, mut stream: TcpStream, status: StatusCode, reason: &str) {
        let mut out = [0u8; 512];
        if let Ok(len) = http::write_error(&mut out, status, reason) {
            // A fresh socket's send buffer takes a short response at once; do not wait.
            let _ = stream.set_nonblocking(true);
            let _ = stream.write_all(&out[..len]);
        }
        self.linger(stream);
    }

    /// Shuts `stream` for writing and closes it once the peer has, or after [`LINGER`].
    pub(super) fn linger(&self, stream: TcpStream) {
        let _ = stream.shutdown(Shutdown::Write);
        let _ = self.tx.send(stream);
    }
}

fn run(rx: Receiver<TcpStream>) {
    let mut lingering: VecDeque<(TcpStream, Instant)> = VecDeque::new();
    let mut scratch = [0u8; 2048];
    loop {
        let first = if lingering.is_empty() {
            match rx.recv() {
                Ok(stream) => Some(stream),
                // The server is gone and nothing lingers.
                Err(_) => return,
            }
        } else {
            match rx.recv_timeout(POLL) {
                Ok(stream) => Some(stream),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(POLL);
                    None
                }
            }
        };
        for stream in first.into_iter().chain(core::iter::from_fn(|| rx.try_recv().ok())) {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            if lingering.len() == MAX_LINGERING {
                lingering.pop_front();
            }
            lingering.push_back((stream, Instant::now() + LINGER));
        }
        let now = Instant::now();
        lingering.retain_mut(|(stream, deadline)| {
            if now >= *deadline {
                return false;
            }
            loop {
                match stream.read(&mut scratch) {
                    Ok(0) => return false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                }
            }
        });
    }
}
