//! A tokio server: one current-thread runtime per core, each accepting from the same listener
//! and serving its connections as local tasks.
//!
//! Local tasks need not be `Send`, so any [`AsyncService`] runs here as written for the device,
//! and a connection never moves between threads (its buffers stay in one core's cache).
//!
//! The kernel chooses which thread accepts a connection: it wakes them all, and the first awake
//! accepts what is queued. Hundreds of connections split about evenly; a small burst opened at
//! once may land on one thread and stay there, which suits a few light connections (one core
//! serves far more than a fleet of devices sends) and not a few busy ones on many cores.

use core::cell::RefCell;
use core::future::Future;
use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::vec;
use std::vec::Vec;

use super::shutdown::{Registration, Shutdown};
use super::slots::{Slots, FULL};
use super::threads::{listen, set_keepalive};
use crate::nonblocking::{self, AsyncService, CoarseTimer, PooledBuf, SharedTcp, TokioTcp};
use crate::proto::{PeerLabel, RecvBuf, ServeConfig};

/// Binds a listening socket for [`run`], with a backlog that absorbs bursts of connections.
pub fn bind(addr: impl ToSocketAddrs) -> io::Result<std::net::TcpListener> {
    listen(addr)
}

/// Serves connections from `listener` with `service` on `threads` threads (at least one),
/// until the process ends or every thread fails.
pub fn run<S>(
    listener: std::net::TcpListener,
    config: ServeConfig<'static>,
    service: S,
    threads: usize,
) -> io::Result<()>
where
    S: AsyncService + Send + Sync + 'static,
{
    run_with(listener, config, service, threads, None, Shutdown::new())
}

/// [`run`] until `shutdown` is requested and has finished (see [`Shutdown::shutdown`]): from
/// the request on, no connection is accepted, and every connection closes with 1001.
pub fn run_until<S>(
    listener: std::net::TcpListener,
    config: ServeConfig<'static>,
    service: S,
    threads: usize,
    shutdown: Shutdown,
) -> io::Result<()>
where
    S: AsyncService + Send + Sync + 'static,
{
    run_with(listener, config, service, threads, None, shutdown)
}

/// [`run`], serving TLS (https and wss) with `tls` instead of plain TCP.
#[cfg(feature = "tls-tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls-tokio")))]
pub fn run_tls<S>(
    listener: std::net::TcpListener,
    config: ServeConfig<'static>,
    service: S,
    threads: usize,
    tls: crate::tls::TlsConfig,
) -> io::Result<()>
where
    S: AsyncService + Send + Sync + 'static,
{
    run_with(listener, config, service, threads, Some(tls), Shutdown::new())
}

/// [`run_tls`] until `shutdown` is requested and has finished, as [`run_until`].
#[cfg(feature = "tls-tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls-tokio")))]
pub fn run_tls_until<S>(
    listener: std::net::TcpListener,
    config: ServeConfig<'static>,
    service: S,
    threads: usize,
    tls: crate::tls::TlsConfig,
    shutdown: Shutdown,
) -> io::Result<()>
where
    S: AsyncService + Send + Sync + 'static,
{
    run_with(listener, config, service, threads, Some(tls), shutdown)
}

/// Without the `tls-tokio` feature there is no TLS configuration to carry.
#[cfg(not(feature = "tls-tokio"))]
type Tls = Option<core::convert::Infallible>;
#[cfg(feature = "tls-tokio")]
type Tls = Option<crate::tls::TlsConfig>;

fn run_with<S>(
    listener: std::net::TcpListener,
    config: ServeConfig<'static>,
    service: S,
    threads: usize,
    tls: Tls,
    shutdown: Shutdown,
) -> io::Result<()>
where
    S: AsyncService + Send + Sync + 'static,
{
    if let Err(e) = config.check() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, std::format!("{e}")));
    }
    listener.set_nonblocking(true)?;
    let shared = Arc::new(Shared {
        config,
        tls,
        service,
        slots: Arc::new(Slots::new(config.max_clients)),
        next_id: AtomicUsize::new(1),
        // Deadlines of all connections on one checking thread: tokio's timer, consulted at every
        // park, then holds no entry per connection.
        timer: CoarseTimer::shared(),
        shutdown,
    });
    let mut workers = Vec::new();
    for n in 0..threads.max(1) {
        let listener = listener.try_clone()?;
        let shared = shared.clone();
        let worker = std::thread::Builder::new().name(std::format!("espws-tokio-{n}")).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let local = tokio::task::LocalSet::new();
            // The accept loop is a task of its own: the set's main future is polled whenever any
            // of its tasks wakes, which would poll the listener and the shutdown per message.
            let accepting = local.spawn_local(accept_loop(listener, shared));
            match local.block_on(&runtime, accepting) {
                Ok(result) => result,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        })?;
        workers.push(worker);
    }
    let mut result = Ok(());
    for worker in workers {
        match worker.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(io::Error::other("a server thread panicked")),
        }
    }
    result
}

struct Shared<S> {
    config: ServeConfig<'static>,
    #[cfg_attr(not(feature = "tls-tokio"), allow(dead_code))]
    tls: Tls,
    service: S,
    slots: Arc<Slots>,
    next_id: AtomicUsize,
    timer: CoarseTimer,
    shutdown: Shutdown,
}

async fn accept_loop<S: AsyncService + 'static>(
    listener: std::net::TcpListener,
    shared: Arc<Shared<S>>,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        // Accept, or see the shutdown request, whichever comes first.
        let accepted = {
            let mut accept = core::pin::pin!(listener.accept());
            core::future::poll_fn(|cx| {
                if shared.shutdown.poll_requested(cx).is_ready() {
                    return core::task::Poll::Ready(None);
                }
                core::future::Future::poll(accept.as_mut(), cx).map(Some)
            })
            .await
        };
        if shared.shutdown.is_requested() {
            // Stop accepting; serve this thread's connections until the shutdown is done.
            drop(listener);
            Live::wake_all();
            while !shared.shutdown.is_finished() {
                tokio::time::sleep(SHUTDOWN_CHECK).await;
            }
            return Ok(());
        }
        let Some(accepted) = accepted else { continue };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!("accept failed: {}", e);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        set_keepalive(socket2::SockRef::from(&stream), shared.config.tcp_keepalive);
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed) as u64;
        tokio::task::spawn_local(serve_stream(shared.clone(), stream, id, peer));
    }
}

/// Serves one accepted connection. Not an `async fn`: the task keeps only what the connection
/// needs after its start (its arguments would otherwise stay in the future beside their copies,
/// for the connection's life). The client slot is taken here, at the accept.
fn serve_stream<S: AsyncService>(
    shared: Arc<Shared<S>>,
    stream: tokio::net::TcpStream,
    id: u64,
    peer: SocketAddr,
) -> impl Future<Output = ()> {
    let slot = Slots::take(shared.slots.clone(), &PeerLabel::new(id, Some(peer)));
    let stream: SharedTcp = Rc::new(RefCell::new(stream));
    async move {
        let config = &shared.config;
        let Some(slot) = slot else {
            let mut rx = RecvBuf::new(vec![0u8; 512]);
            nonblocking::refuse(&mut TokioTcp::new(stream), &mut rx, &shared.timer, config, FULL).await;
            return;
        };
        let registration = Live::enter(&shared.shutdown, id, &stream);
        let io = TokioTcp::new(stream);
        // The buffer goes back to this thread's pool whenever the connection waits for input.
        let rx = RecvBuf::new(PooledBuf::new(config.rx_buffer));
        #[cfg(feature = "tls-tokio")]
        if let Some(tls) = &shared.tls {
            // Boxed: a TLS session's state would otherwise sit in every plain connection's task.
            std::boxed::Box::pin(serve_tls(&shared, io, rx, tls, id, peer, registration, slot)).await;
            return;
        }
        let io = Watched { io, shutdown: &shared.shutdown };
        let timer = &shared.timer;
        let finished =
            nonblocking::serve(io, rx, timer.clone(), config, &shared.service, id, Some(peer)).await;
        drop(registration);
        drop(slot);
        finished.linger_async(timer).await;
    }
}

/// The rest of [`serve_stream`] for a TLS connection: the TLS handshake, then the same serving.
#[cfg(feature = "tls-tokio")]
#[allow(clippy::too_many_arguments)]
async fn serve_tls<S: AsyncService>(
    shared: &Shared<S>,
    io: TokioTcp,
    rx: RecvBuf<PooledBuf>,
    tls: &crate::tls::TlsConfig,
    id: u64,
    peer: SocketAddr,
    registration: Live,
    slot: impl Sized,
) {
    let timer = shared.timer.clone();
    let config = &shared.config;
    match crate::tls::tokio::accept(io, tls, config.handshake_timeout).await {
        Ok(io) => {
            let io = Watched { io, shutdown: &shared.shutdown };
            let finished =
                nonblocking::serve(io, rx, timer.clone(), config, &shared.service, id, Some(peer)).await;
            drop(registration);
            drop(slot);
            finished.linger_async(&timer).await;
        }
        Err(e) => crate::tls::log_refused(&PeerLabel::new(id, Some(peer)), &std::format!("{e}")),
    }
}

/// How often an accept loop, once a shutdown is requested, looks for its end.
const SHUTDOWN_CHECK: Duration = Duration::from_millis(100);

std::thread_local! {
    /// This worker thread's connections, for its accept loop to wake when a shutdown comes: a
    /// connection's task owns its stream, and a handle here costs no descriptor.
    static LIVE: RefCell<BTreeMap<u64, Weak<RefCell<tokio::net::TcpStream>>>> = const { RefCell::new(BTreeMap::new()) };
}

/// A connection's entry among its thread's live connections and in the server's [`Shutdown`],
/// until dropped.
struct Live {
    id: u64,
    _counted: Registration,
}

impl Live {
    /// Enters connection `id`; one that comes in after a shutdown was requested is woken at once.
    fn enter(shutdown: &Shutdown, id: u64, stream: &SharedTcp) -> Live {
        LIVE.with(|live| live.borrow_mut().insert(id, Rc::downgrade(stream)));
        let live = Live { id, _counted: shutdown.register_counted(id) };
        if shutdown.is_requested() {
            wake(stream);
        }
        live
    }

    /// Wakes every connection of this thread: their reads see end of stream from now on, and
    /// the driver closes them with 1001.
    fn wake_all() {
        LIVE.with(|live| live.borrow().values().filter_map(Weak::upgrade).for_each(|stream| wake(&stream)));
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE.with(|live| live.borrow_mut().remove(&self.id));
    }
}

/// Shuts the read side of a connection's socket, which wakes its read.
fn wake(stream: &RefCell<tokio::net::TcpStream>) {
    // Borrowed between the connection's polls (this thread runs one task at a time).
    if let Ok(stream) = stream.try_borrow() {
        let _ = socket2::SockRef::from(&*stream).shutdown(std::net::Shutdown::Read);
    }
}

/// A connection's transport that knows of the server's shutdown.
struct Watched<'s, T> {
    io: T,
    shutdown: &'s Shutdown,
}

impl<T: embedded_io_async::ErrorType> embedded_io_async::ErrorType for Watched<'_, T> {
    type Error = T::Error;
}

impl<T: embedded_io_async::Read> embedded_io_async::Read for Watched<'_, T> {
    #[inline(always)]
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.io.read(buf).await
    }
}

impl<T: embedded_io_async::Write> embedded_io_async::Write for Watched<'_, T> {
    #[inline(always)]
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.io.write(buf).await
    }

    #[inline(always)]
    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.io.flush().await
    }
}

impl<T: nonblocking::Transport> nonblocking::Transport for Watched<'_, T> {
    #[inline(always)]
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), Self::Error> {
        self.io.write_all_vectored(parts).await
    }

    #[inline(always)]
    async fn shutdown_write(&mut self) -> Result<(), Self::Error> {
        self.io.shutdown_write().await
    }

    #[inline(always)]
    fn try_write_vectored(&mut self, parts: &[&[u8]]) -> Option<Result<usize, Self::Error>> {
        self.io.try_write_vectored(parts)
    }

    const POLLS_READ: bool = T::POLLS_READ;

    #[inline(always)]
    fn poll_read(
        &mut self,
        cx: &mut core::task::Context<'_>,
        buf: &mut [u8],
    ) -> core::task::Poll<Result<usize, Self::Error>> {
        self.io.poll_read(cx, buf)
    }

    const PARKS_WHILE_PENDING: bool = T::PARKS_WHILE_PENDING;

    fn stop_requested(&self) -> bool {
        self.shutdown.is_requested()
    }

    fn peer_reset(&self) -> bool {
        self.io.peer_reset()
    }
}
