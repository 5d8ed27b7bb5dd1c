//! Graceful shutdown of a server: stop accepting, close every connection with 1001 ("going
//! away"), and wait a bounded time for the closing handshakes.
//!
//! How a connection learns of it: the shutdown shuts the *read* side of its socket. A read
//! blocked on it (a thread's, or a task's) returns end of stream at once; the driver sees that a
//! shutdown was requested, so it takes the zero for the server's own doing, not the peer's, and
//! starts the closing handshake with 1001. The peer's close frame still arrives afterwards (the
//! kernel keeps receiving; reads just no longer block), so the driver polls for it until the
//! close timeout. Nothing of this costs the steady state anything: an idle connection is not
//! woken until the shutdown, and no read checks a flag.
//!
//! A peer that is gone is not waited for when the kernel says so. A peer that had closed its
//! socket answers the 1001 with a TCP reset: a read returns it (the connection ends), or, when
//! the peer's end of stream came first, the reads return end of stream and the reset waits in
//! the socket's error, which the driver looks at on each end of stream during a shutdown
//! ([`peer_reset`](crate::blocking::Transport::peer_reset)). What cannot be told apart
//! without `TCP_INFO` (which needs `unsafe` here) is a peer that ends its side of TCP after
//! reading the 1001, without a close frame and without a reset: its end of stream reads like
//! the shutdown's own, and the connection is waited for until the close timeout (or the
//! shutdown's, if that comes first).

use core::time::Duration;
use std::collections::BTreeMap;
use std::net::{Shutdown as Direction, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Instant;

/// How often a connection whose read side was shut looks again for the peer's close frame.
pub(crate) const POLL_AFTER_STOP: Duration = Duration::from_millis(10);

/// Asks a server's connections to go away politely, and waits for them; clones share one
/// shutdown. Servers: [`ServerHandle::shutdown`](super::ServerHandle::shutdown) (threads),
/// `server::tokio::run_until` (with the `tokio` feature).
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requested: AtomicBool,
    /// Set when [`Shutdown::shutdown`] returns: accept loops may then end.
    finished: AtomicBool,
    live: Mutex<BTreeMap<u64, Weak<TcpStream>>>,
    /// Tasks waiting for the request (tokio's accept loops), woken when it comes.
    #[cfg(feature = "tokio")]
    waiting: Mutex<std::vec::Vec<core::task::Waker>>,
    /// Signalled whenever a connection ends.
    ended: Condvar,
}

/// A connection's place in its server's [`Shutdown`]; leaving it (dropping) says it ended.
#[derive(Debug)]
pub(crate) struct Registration {
    inner: Arc<Inner>,
    id: u64,
}

impl Shutdown {
    /// A shutdown not yet requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a shutdown was requested.
    pub fn is_requested(&self) -> bool {
        self.inner.requested.load(Ordering::Acquire)
    }

    /// Whether [`shutdown`](Self::shutdown) has returned: every connection ended or its time
    /// ran out.
    pub fn is_finished(&self) -> bool {
        self.inner.finished.load(Ordering::Acquire)
    }

    /// The connections still open.
    pub fn open_connections(&self) -> usize {
        self.live().len()
    }

    /// Sends every connection a 1001 close and waits up to `timeout` for all of them to end;
    /// gives the number still open then (0 when every closing handshake completed). New
    /// connections are refused from the moment it is called by the servers that watch it.
    ///
    /// Connections still open when it returns go on closing by themselves, each within its
    /// close timeout ([`Config::close_timeout`](crate::Config::close_timeout)).
    pub fn shutdown(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut live = {
            let live = self.live();
            // Under the lock, so that a connection registering now either is in the list or
            // sees the request (see `register`).
            self.inner.requested.store(true, Ordering::Release);
            for stream in live.values().filter_map(Weak::upgrade) {
                wake(&stream);
            }
            info!(
                "shutting down: closing {} connection(s) with 1001, waiting up to {:?}",
                live.len(),
                timeout
            );
            live
        };
        #[cfg(feature = "tokio")]
        for waker in self.inner.waiting.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            waker.wake();
        }
        while !live.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            live = match self.inner.ended.wait_timeout(live, left) {
                Ok((live, _)) => live,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let open = live.len();
        drop(live);
        if open > 0 {
            warn!("shutdown: {} connection(s) did not finish closing within {:?}", open, timeout);
        } else {
            info!("shutdown: every connection closed");
        }
        self.inner.finished.store(true, Ordering::Release);
        self.inner.ended.notify_all();
        open
    }

    /// Blocks until a [`shutdown`](Self::shutdown), called elsewhere, has returned.
    pub fn wait_finished(&self) {
        let mut live = self.live();
        while !self.is_finished() {
            live = match self.inner.ended.wait(live) {
                Ok(live) => live,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Ready once a shutdown is requested. An async accept loop waits on it beside `accept`
    /// rather than on a timer: a timer entry would be looked at on every wake of the runtime.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_requested(&self, cx: &mut core::task::Context<'_>) -> core::task::Poll<()> {
        if self.is_requested() {
            return core::task::Poll::Ready(());
        }
        let mut waiting = self.inner.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        drop(waiting);
        // The request may have come between the first look and the registration.
        if self.is_requested() {
            return core::task::Poll::Ready(());
        }
        core::task::Poll::Pending
    }

    /// Enters connection `id`, whose socket `stream` is, until the registration is dropped.
    /// A connection that comes in after the request is woken at once.
    pub(crate) fn register(&self, id: u64, stream: &Arc<TcpStream>) -> Registration {
        let mut live = self.live();
        live.insert(id, Arc::downgrade(stream));
        if self.is_requested() {
            wake(stream);
        }
        Registration { inner: self.inner.clone(), id }
    }

    /// Counts connection `id` until the registration is dropped, without a socket to wake: its
    /// own thread wakes it (the tokio server's accept loops do).
    #[cfg(feature = "tokio")]
    pub(crate) fn register_counted(&self, id: u64) -> Registration {
        self.live().insert(id, Weak::new());
        Registration { inner: self.inner.clone(), id }
    }

    fn live(&self) -> MutexGuard<'_, BTreeMap<u64, Weak<TcpStream>>> {
        self.inner.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut live = self.inner.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        live.remove(&self.id);
        drop(live);
        self.inner.ended.notify_all();
    }
}

/// Wakes the connection's read: it returns end of stream at once from now on.
fn wake(stream: &TcpStream) {
    let _ = stream.shutdown(Direction::Read);
}

/// Whether `socket` holds an error, which it gives up: how the transports'
/// [`peer_reset`](crate::blocking::Transport::peer_reset) find the peer's reset that the shut
/// read side hides.
pub(crate) fn holds_reset(socket: socket2::SockRef<'_>) -> bool {
    matches!(socket.take_error(), Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::net::TcpListener;

    /// The server's end of a fresh loopback connection, and the peer's end.
    fn accepted(listener: &TcpListener) -> (Arc<TcpStream>, TcpStream) {
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (Arc::new(listener.accept().unwrap().0), peer)
    }

    #[test]
    fn a_blocked_read_wakes_and_the_shutdown_waits_for_the_connection_to_end() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (stream, _peer) = accepted(&listener);
        let shutdown = Shutdown::new();
        let registration = shutdown.register(1, &stream);
        let reader = {
            let stream = stream.clone();
            std::thread::spawn(move || {
                let mut byte = [0u8; 1];
                let n = (&*stream).read(&mut byte).unwrap();
                drop(registration);
                n
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(shutdown.open_connections(), 1);
        let open = shutdown.shutdown(Duration::from_secs(5));
        assert_eq!(reader.join().unwrap(), 0, "the blocked read returned end of stream");
        assert_eq!(open, 0);
        assert!(shutdown.is_finished());
    }

    #[test]
    fn a_connection_that_does_not_end_is_counted_once_the_time_is_up() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (stream, _peer) = accepted(&listener);
        let shutdown = Shutdown::new();
        let _registration = shutdown.register(1, &stream);
        let started = Instant::now();
        assert_eq!(shutdown.shutdown(Duration::from_millis(100)), 1);
        assert!(started.elapsed() >= Duration::from_millis(100));
        // One registering after the request is woken at once: its read sees end of stream.
        let (late, _late_peer) = accepted(&listener);
        let _late_registration = shutdown.register(2, &late);
        assert_eq!((&*late).read(&mut [0u8; 1]).unwrap(), 0);
    }
}
