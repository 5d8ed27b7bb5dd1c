//! A thread-per-connection WebSocket server over `std::net`, built on the blocking driver.
//!
//! It runs unchanged on a PC and on ESP-IDF (whose `std::net` is lwIP). Plain HTTP requests and
//! WebSocket upgrades share the port; a [`Service`] decides what each gets.

mod reaper;

use core::time::Duration;
use std::io::{self, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::string::String;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use crate::blocking::{self, Clock as _, HeadError, StdClock, TcpTransport, WebSocket};
use crate::proto::handshake::{self, Answer, Declined, Policy};
use crate::proto::{Closed, Config, RecvBuf};
use crate::wire::http::{self, Request, Response, StatusCode, EMPTY_HEADER, MAX_HEADERS};
use crate::wire::Status;
use reaper::Reaper;

/// A WebSocket connection as the server hands it to a [`Service`].
pub type ServerSocket = WebSocket<TcpTransport, Vec<u8>, StdClock>;

/// What the server does with requests and connections.
pub trait Service: Send + Sync + 'static {
    /// Answers a plain HTTP request (one without `Upgrade: websocket`).
    ///
    /// The default serves nothing but WebSockets: 426 for GET, 405 for other methods.
    fn http(&self, req: &Request<'_, '_>) -> Response<'_> {
        Response::websocket_only(req)
    }

    /// What a connection holds from before its 101 until it ends (a hub membership, say);
    /// `()` for a service that takes every valid upgrade.
    type Admission;

    /// Takes or declines a valid upgrade before the 101 goes out, so that a client told it is
    /// connected already has everything it needs (nothing broadcast after its 101 misses it),
    /// and a full service answers with an HTTP status rather than an upgrade and a close.
    fn admit(&self, req: &Request<'_, '_>) -> Result<Self::Admission, Declined>;

    /// Runs one accepted WebSocket connection. The server finishes the closing handshake after
    /// this returns, if the service did not.
    fn websocket(&self, ws: &mut ServerSocket, client: &Client, admission: Self::Admission);
}

/// Facts about a connected client, for the service and the logs.
#[derive(Clone, Debug)]
pub struct Client {
    /// A number unique for this server's lifetime.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The request target of the upgrade.
    pub target: String,
    /// The subprotocol agreed on, if any.
    pub protocol: Option<String>,
}

/// Server settings; [`Default`] gives the documented defaults.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Concurrent WebSocket and HTTP connections; one more gets 503.
    pub max_clients: usize,
    /// Time allowed for a request head to arrive, from accept (or from the previous response
    /// on a kept-alive connection).
    pub handshake_timeout: Duration,
    /// How long a write may block on a peer that does not read before the peer is dropped.
    pub write_timeout: Duration,
    /// TCP keepalive idle time, so that the kernel also probes silent peers.
    pub tcp_keepalive: Option<Duration>,
    /// Receive buffer per connection, in bytes; it bounds request heads (431 above it) and, in
    /// whole-message delivery, messages.
    pub rx_buffer: usize,
    /// Stack size of each connection thread.
    pub thread_stack: usize,
    /// Limits and timers of each WebSocket connection.
    pub connection: Config,
    /// Browser origins allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    /// A bearer token clients must present, if set.
    pub token: Option<String>,
    /// Subprotocols the server speaks.
    pub protocols: Vec<String>,
    /// permessage-deflate; agreed only with chunked delivery.
    pub deflate: crate::proto::deflate::DeflateConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_clients: 8,
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            tcp_keepalive: Some(Duration::from_secs(30)),
            rx_buffer: 4096,
            thread_stack: 64 * 1024,
            connection: Config::default(),
            allowed_origins: Vec::new(),
            token: None,
            protocols: Vec::new(),
            deflate: crate::proto::deflate::DeflateConfig::OFF,
        }
    }
}

/// A bound server; [`run`](Server::run) serves until [`ServerHandle::stop`].
pub struct Server<S> {
    listener: TcpListener,
    shared: Arc<Shared<S>>,
}

/// Stops a running server from another thread.
#[derive(Clone)]
pub struct ServerHandle {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
}

struct Shared<S> {
    config: ServerConfig,
    service: S,
    active: AtomicUsize,
    next_id: AtomicUsize,
    clock: StdClock,
    stop: Arc<AtomicBool>,
    reaper: Reaper,
}

/// Holds a client slot until dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S: Service> Server<S> {
    /// Binds to `addr`.
    pub fn bind(addr: impl ToSocketAddrs, config: ServerConfig, service: S) -> io::Result<Self> {
        if let Err(e) = config.connection.check_buffer(config.rx_buffer) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, std::format!("{e}")));
        }
        let listener = listen(addr)?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Shared {
            config,
            service,
            active: AtomicUsize::new(0),
            next_id: AtomicUsize::new(1),
            clock: StdClock::new(),
            stop,
            reaper: Reaper::spawn(),
        };
        Ok(Server { listener, shared: Arc::new(shared) })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle that can stop the server.
    pub fn handle(&self) -> io::Result<ServerHandle> {
        Ok(ServerHandle { stop: self.shared.stop.clone(), addr: self.local_addr()? })
    }

    /// The number of connections being served.
    pub fn active_clients(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
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
        let taken = shared.active.fetch_add(1, Ordering::AcqRel);
        if taken >= shared.config.max_clients {
            shared.active.fetch_sub(1, Ordering::AcqRel);
            info!(
                "all {} client slots taken; answering 503 to {:?}",
                shared.config.max_clients,
                stream.peer_addr().ok()
            );
            shared.reaper.reject(
                stream,
                StatusCode::SERVICE_UNAVAILABLE,
                "all client slots are taken; try again later",
            );
            return;
        }
        // usize, not u64: 32-bit targets such as the ESP32 have no 64-bit atomics.
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed) as u64;
        let worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(std::format!("espws-client-{id}"))
            .stack_size(shared.config.thread_stack)
            .spawn(move || {
                let _slot = Slot(&worker.active);
                serve_connection(&worker, stream, id);
            });
        if let Err(e) = spawned {
            // The closure (and its slot) never ran.
            shared.active.fetch_sub(1, Ordering::AcqRel);
            warn!("could not start a thread for client {}: {}", id, e);
        }
    }
}

/// Binds like `TcpListener::bind`, with a backlog that absorbs a burst of connections
/// (std's is 128) while the accept loop hands them out or refuses them.
fn listen(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
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

impl ServerHandle {
    /// Stops accepting; connections being served run to their end.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Serves one TCP connection: HTTP requests until an upgrade, then the WebSocket.
fn serve_connection<S: Service>(shared: &Shared<S>, stream: TcpStream, id: u64) {
    let config = &shared.config;
    let peer = match stream.peer_addr() {
        Ok(peer) => peer,
        Err(_) => return,
    };
    let _ = stream.set_write_timeout(Some(config.write_timeout));
    if let Some(idle) = config.tcp_keepalive {
        let keepalive = socket2::TcpKeepalive::new().with_time(idle);
        // lwIP (ESP-IDF) takes no probe interval through socket2.
        #[cfg(not(target_os = "espidf"))]
        let keepalive = keepalive.with_interval(idle / 3);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
    }
    let mut io = TcpTransport::new(stream);
    let mut rx = RecvBuf::new(vec![0u8; config.rx_buffer]);
    loop {
        let deadline = shared.clock.now() + config.handshake_timeout;
        let head_len = match blocking::read_request_head(&mut io, &mut rx, &shared.clock, deadline) {
            Ok(len) => len,
            Err(HeadError::Head(problem)) => {
                if let Some((status, reason)) = problem.answer(!rx.pending().is_empty()) {
                    info!("client {} ({}): {} {}", id, peer, status.0, reason);
                    refuse(shared, io, status, reason);
                }
                return;
            }
            Err(HeadError::Io(_)) => return,
        };
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let Ok(Status::Complete(req, _)) = Request::parse(&rx.pending()[..head_len], &mut headers) else {
            return;
        };
        let origins: Vec<&str> = config.allowed_origins.iter().map(String::as_str).collect();
        let protocols: Vec<&str> = config.protocols.iter().map(String::as_str).collect();
        let policy = Policy {
            allowed_origins: &origins,
            token: config.token.as_deref(),
            protocols: &protocols,
            deflate: config.deflate,
        };
        match handshake::answer(&req, &policy) {
            Answer::Refuse(refusal) => {
                info!("refused client {} ({}): {} {}", id, peer, refusal.status().0, refusal.reason());
                return refuse(shared, io, refusal.status(), refusal.reason());
            }
            Answer::Upgrade(accepted) => {
                let accepted = accepted.for_delivery(config.connection.delivery);
                let admission = match shared.service.admit(&req) {
                    Ok(admission) => admission,
                    Err(declined) => {
                        info!("declined client {} ({}): {} {}", id, peer, declined.status.0, declined.reason);
                        return refuse(shared, io, declined.status, declined.reason);
                    }
                };
                let client = Client {
                    id,
                    peer,
                    target: req.target.into(),
                    protocol: accepted.protocol.map(String::from),
                };
                if !write_upgrade(&mut io, &accepted) {
                    return;
                }
                rx.consume(head_len);
                info!("client {} connected from {} to {}", id, peer, client.target);
                let mut ws = WebSocket::new(io, rx, config.connection, shared.clock);
                if let Some(agreed) = accepted.deflate {
                    ws.enable_deflate(&agreed);
                }
                shared.service.websocket(&mut ws, &client, admission);
                ws.finish();
                let outcome = ws.connection().outcome();
                match outcome {
                    Some(how) => info!("client {} disconnected: {}", id, how),
                    None => info!("client {} disconnected", id),
                }
                // The slot is free from here; the reaper closes the socket politely.
                let (io, _) = ws.into_parts();
                if let Some(stream) = io.into_stream().filter(|_| outcome.is_some_and(Closed::wants_linger)) {
                    shared.reaper.linger(stream);
                }
                return;
            }
            Answer::Http { keep_alive, head_only } => {
                let response = shared.service.http(&req);
                debug!("client {} {} {} -> {}", id, req.method, req.target, response.status.0);
                let mut head = [0u8; 512];
                let Ok(len) = response.write_head(&mut head, keep_alive) else { return };
                let body: &[u8] = if head_only { &[] } else { response.body };
                if blocking::Transport::write_all_vectored(&mut io, &[&head[..len], body]).is_err() {
                    return;
                }
                if !keep_alive {
                    if let Some(stream) = io.into_stream() {
                        shared.reaper.linger(stream);
                    }
                    return;
                }
            }
        }
        rx.consume(head_len);
    }
}

/// Writes the 101 response. Not inlined, so that its buffer is not part of the connection
/// thread's stack while the WebSocket runs.
#[inline(never)]
fn write_upgrade(io: &mut TcpTransport, accepted: &handshake::Accepted<'_>) -> bool {
    // Room for the 101 with the longest permessage-deflate answer and a subprotocol of 75 bytes.
    let mut head = [0u8; 384];
    let Ok(len) = accepted.write_response(&mut head) else { return false };
    embedded_io::Write::write_all(io, &head[..len]).is_ok()
}

/// Answers with an error status and closes politely.
fn refuse<S>(shared: &Shared<S>, io: TcpTransport, status: StatusCode, reason: &str) {
    let mut out = [0u8; 512];
    if let Ok(len) = http::write_error(&mut out, status, reason) {
        if let Some(mut stream) = io.into_stream() {
            if stream.write_all(&out[..len]).is_ok() {
                shared.reaper.linger(stream);
            }
        }
    }
}
