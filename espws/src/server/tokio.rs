//! A tokio server: one current-thread runtime per core, each accepting from the same listener
//! and serving its connections as local tasks.
//!
//! Local tasks need not be `Send`, so any [`AsyncService`] runs here as written for the device,
//! and a connection never moves between threads (its buffers stay in one core's cache).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::vec;
use std::vec::Vec;

use embedded_io_adapters::tokio_1::FromTokio;

use super::slots::{Slots, FULL};
use super::threads::{listen, set_keepalive};
use crate::nonblocking::{self, AsyncService, CoarseTimer};
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
    run_with(listener, config, service, threads, None)
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
    run_with(listener, config, service, threads, Some(tls))
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
    });
    let mut workers = Vec::new();
    for n in 0..threads.max(1) {
        let listener = listener.try_clone()?;
        let shared = shared.clone();
        let worker = std::thread::Builder::new().name(std::format!("espws-tokio-{n}")).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, accept_loop(listener, shared))
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
}

async fn accept_loop<S: AsyncService + 'static>(
    listener: std::net::TcpListener,
    shared: Arc<Shared<S>>,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        let (stream, peer) = match listener.accept().await {
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

async fn serve_stream<S: AsyncService>(
    shared: Arc<Shared<S>>,
    stream: tokio::net::TcpStream,
    id: u64,
    peer: SocketAddr,
) {
    let timer = shared.timer.clone();
    let config = &shared.config;
    let Some(slot) = Slots::take(shared.slots.clone(), &PeerLabel::new(id, Some(peer))) else {
        let mut rx = RecvBuf::new([0u8; 512]);
        nonblocking::refuse(&mut FromTokio::new(stream), &mut rx, &timer, config, FULL).await;
        return;
    };
    let rx = RecvBuf::new(vec![0u8; config.rx_buffer]);
    #[cfg(feature = "tls-tokio")]
    if let Some(tls) = &shared.tls {
        match crate::tls::tokio::accept(stream, tls, config.handshake_timeout).await {
            Ok(io) => {
                let finished =
                    nonblocking::serve(io, rx, timer.clone(), config, &shared.service, id, Some(peer)).await;
                drop(slot);
                finished.linger_async(&timer).await;
            }
            Err(e) => crate::tls::log_refused(id, peer, &e),
        }
        return;
    }
    let finished = nonblocking::serve(
        FromTokio::new(stream),
        rx,
        timer.clone(),
        config,
        &shared.service,
        id,
        Some(peer),
    )
    .await;
    drop(slot);
    finished.linger_async(&timer).await;
}
