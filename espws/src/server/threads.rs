//! A thread-per-connection server over `std::net`, built on the blocking driver.
//!
//! It runs unchanged on a PC and on ESP-IDF (whose `std::net` is lwIP). Plain HTTP requests and
//! WebSocket upgrades share the port; a [`BlockingService`] decides what each gets.

use core::time::Duration;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::vec;

use super::reaper::Reaper;
use super::shutdown::Shutdown;
use super::slots::{Slots, FULL};
#[cfg(not(feature = "tls"))]
use crate::blocking::TcpTransport;
use crate::blocking::{self, BlockingService, StdClock};
use crate::proto::{PeerLabel, RecvBuf, ServeConfig};

/// Stack of each connection thread unless [`Server::with_thread_stack`] says otherwise.
pub const DEFAULT_THREAD_STACK: usize = 64 * 1024;

/// A bound server; [`run`](Server::run) serves until [`ServerHandle::stop`].
pub struct Server<S> {
    listener: TcpListener,
    thread_stack: usize,
    shared: Arc<Shared<S>>,
}

/// Stops a running server from another thread, at once or gracefully.
#[derive(Clone)]
pub struct ServerHandle {
    stop: Arc<AtomicBool>,
    shutdown: Shutdown,
    addr: SocketAddr,
}

struct Shared<S> {
    config: ServeConfig<'static>,
    /// Serve https and wss with this, instead of plain TCP.
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConfig>,
    /// Serve https and wss through this TLS library instead (`with_tls_acceptor`).
    tls_acceptor: Option<std::boxed::Box<dyn crate::tls::external::Serve<S>>>,
    service: S,
    slots: Arc<Slots>,
    next_id: AtomicUsize,
    clock: StdClock,
    stop: Arc<AtomicBool>,
    shutdown: Shutdown,
    reaper: Reaper,
}

impl<S: BlockingService + Send + Sync + 'static> Server<S> {
    /// Binds to `addr`, after checking that `config` can work.
    pub fn bind(addr: impl ToSocketAddrs, config: ServeConfig<'static>, service: S) -> io::Result<Self> {
        if let Err(e) = config.check() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, std::format!("{e}")));
        }
        let listener = listen(addr)?;
        let shared = Shared {
            config,
            #[cfg(feature = "tls")]
            tls: None,
            tls_acceptor: None,
            service,
            slots: Arc::new(Slots::new(config.max_clients)),
            next_id: AtomicUsize::new(1),
            clock: StdClock::new(),
            stop: Arc::new(AtomicBool::new(false)),
            shutdown: Shutdown::new(),
            reaper: Reaper::spawn(),
        };
        Ok(Server { listener, thread_stack: DEFAULT_THREAD_STACK, shared: Arc::new(shared) })
    }

    /// Gives each connection thread a stack of `bytes` (ESP-IDF threads are FreeRTOS tasks
    /// whose stacks come out of a small RAM).
    pub fn with_thread_stack(mut self, bytes: usize) -> Self {
        self.thread_stack = bytes;
        self
    }

    /// Serves TLS (https and wss) with `tls` instead of plain TCP. Connection threads then get
    /// at least [`THREAD_STACK`](crate::tls::blocking::THREAD_STACK) of stack: a rustls
    /// handshake runs deep.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn with_tls(mut self, tls: crate::tls::TlsConfig) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.tls = Some(tls);
            self.thread_stack = self.thread_stack.max(crate::tls::blocking::THREAD_STACK);
        }
        self
    }

    /// Serves TLS (https and wss) through `acceptor`, a TLS library espws does not carry
    /// (ESP-IDF's esp-tls), instead of plain TCP or `with_tls`'s rustls; see
    /// [`tls::external`](crate::tls::external). Connection threads keep the stack
    /// [`with_thread_stack`](Self::with_thread_stack) gives them: size it for the library's
    /// handshake. Hub members cannot be served over such sessions (they are closed with 1011).
    pub fn with_tls_acceptor<A: crate::tls::external::Acceptor>(mut self, acceptor: A) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.tls_acceptor = Some(std::boxed::Box::new(acceptor));
        }
        self
    }

    /// Uses `shutdown` for [`ServerHandle::shutdown`], so that its owner can also watch it
    /// (for example [`Shutdown::wait_finished`]). Every server has one of its own otherwise.
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.shutdown = shutdown;
        }
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that can stop the server.
    pub fn handle(&self) -> io::Result<ServerHandle> {
        Ok(ServerHandle {
            stop: self.shared.stop.clone(),
            shutdown: self.shared.shutdown.clone(),
            addr: self.local_addr()?,
        })
    }

    /// The number of connections being served.
    pub fn active_clients(&self) -> usize {
        self.shared.slots.in_use()
    }

    /// Accepts and serves connections until stopped.
    pub fn run(self) -> io::Result<()> {
        for stream in self.listener.incoming() {
            if self.shared.stop.load(Ordering::Acquire) {
                break;
            }
            match stream {
                Ok(stream) => self.admit(stream),
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving the
                    // others, but do not spin.
                    warn!("accept failed: {}", e);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        Ok(())
    }

    fn admit(&self, stream: TcpStream) {
        let shared = &self.shared;
        let _ = stream.set_nodelay(true);
        // usize, not u64: 32-bit targets such as the ESP32 have no 64-bit atomics.
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed) as u64;
        let peer = stream.peer_addr().ok();
        let Some(slot) = Slots::take(shared.slots.clone(), &PeerLabel::new(id, peer)) else {
            shared.reaper.reject(stream, FULL.0, FULL.1);
            return;
        };
        let worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(std::format!("espws-client-{id}"))
            .stack_size(self.thread_stack)
            .spawn(move || {
                if let Some(acceptor) = &worker.tls_acceptor {
                    serve_through(&**acceptor, &worker, stream, id, peer);
                    return;
                }
                let finished = serve_stream(&worker, stream, id, peer);
                // The slot is free from here; the reaper closes the socket politely.
                drop(slot);
                if let Some((stream, true)) = finished {
                    worker.reaper.linger(stream);
                }
            });
        if let Err(e) = spawned {
            // The closure (and its slot) is dropped unrun.
            warn!("could not start a thread for client {}: {}", id, e);
        }
    }
}

/// Binds like `TcpListener::bind`, with a backlog that absorbs a burst of connections
/// (std's is 128) while the accept loop hands them out or refuses them.
pub(super) fn listen(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in addr.to_socket_addrs()? {
        let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        match socket.bind(&addr.into()).and_then(|()| socket.listen(1024)) {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
}

/// Sets TCP keepalive on a fresh connection, so that the kernel also probes silent peers.
pub(super) fn set_keepalive(stream: socket2::SockRef<'_>, idle: Option<Duration>) {
    if let Some(idle) = idle {
        let keepalive = socket2::TcpKeepalive::new().with_time(idle);
        // lwIP (ESP-IDF) takes no probe interval through socket2.
        #[cfg(not(target_os = "espidf"))]
        let keepalive = keepalive.with_interval(idle / 3);
        let _ = stream.set_tcp_keepalive(&keepalive);
    }
}

impl ServerHandle {
    /// Stops accepting; connections being served run to their end.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }

    /// Stops gracefully: stops accepting, sends every client a 1001 close, and waits up to
    /// `timeout` for the closing handshakes; gives the number of connections still open then.
    /// [`run`](Server::run) has returned or returns at once. For example before an OTA reboot.
    pub fn shutdown(&self, timeout: Duration) -> usize {
        self.stop();
        self.shutdown.shutdown(timeout)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Serves one TCP connection; gives back the stream and whether it should linger.
fn serve_stream<S: BlockingService>(
    shared: &Shared<S>,
    stream: TcpStream,
    id: u64,
    peer: Option<SocketAddr>,
) -> Option<(TcpStream, bool)> {
    let config = &shared.config;
    set_socket_options(&stream, config);
    #[cfg(feature = "tls")]
    let mut io =
        crate::tls::blocking::transport(stream, shared.tls.as_ref(), config.handshake_timeout, id, peer?)?;
    #[cfg(not(feature = "tls"))]
    let mut io = TcpTransport::new(stream);
    let _registration = io.watch(&shared.shutdown, id);
    let rx = RecvBuf::new(vec![0u8; config.rx_buffer]);
    let finished = blocking::serve(io, rx, shared.clock, config, &shared.service, id, peer);
    finished.transport.into_stream().map(|stream| (stream, finished.wants_linger))
}

/// The write timeout and keepalive of a fresh connection.
fn set_socket_options(stream: &TcpStream, config: &ServeConfig<'_>) {
    let _ = stream.set_write_timeout(Some(config.write_timeout));
    set_keepalive(socket2::SockRef::from(stream), config.tcp_keepalive);
}

/// Serves one TCP connection through a TLS library's acceptor, to its end (the slot stays taken
/// until then). Out of line, so that a plain connection's thread keeps its frames as they were.
#[inline(never)]
fn serve_through<S: BlockingService>(
    acceptor: &dyn crate::tls::external::Serve<S>,
    shared: &Shared<S>,
    stream: TcpStream,
    id: u64,
    peer: Option<SocketAddr>,
) {
    set_socket_options(&stream, &shared.config);
    let cx = crate::tls::external::Context {
        service: &shared.service,
        config: &shared.config,
        clock: shared.clock,
        shutdown: &shared.shutdown,
    };
    acceptor.serve(stream, id, peer, cx);
}
