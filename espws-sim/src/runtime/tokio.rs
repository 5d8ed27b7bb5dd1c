//! tokio tasks over the async driver, for PC-side use at scale.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use espws::nonblocking::{self, CoarseTimer, LINGER};
use espws::proto::RecvBuf;
use espws::wire::http::{self, StatusCode};
use espws_apps::device::Device;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{announce, Args};

pub fn run(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args, device))
}

async fn serve(args: &Args, device: Device<'static>) -> std::io::Result<()> {
    let settings = device.settings;
    let listener = TcpListener::bind((args.bind, args.port)).await?;
    announce(args, &settings, listener.local_addr()?);
    let device: &'static Device<'static> = Box::leak(Box::new(device));
    if let (Some(hub), Some(period)) = (device.hub, settings.tick) {
        tokio::spawn(espws_apps::status::run_async(hub, CoarseTimer::shared(), period));
    }
    let active = Arc::new(AtomicUsize::new(0));
    let next_id = AtomicU32::new(1);
    // Deadlines of all connections on one checking thread: tokio's timer, consulted at every
    // worker park, then holds no entry per connection.
    let timer = CoarseTimer::shared();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if active.fetch_add(1, Ordering::AcqRel) >= settings.max_clients {
            active.fetch_sub(1, Ordering::AcqRel);
            log::info!("all {} client slots taken; answering 503 to {peer}", settings.max_clients);
            tokio::spawn(reject(stream));
            continue;
        }
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(30))
            .with_interval(Duration::from_secs(10));
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Slot(active.clone());
        let timer = timer.clone();
        let tls = args.tls.clone();
        tokio::spawn(async move {
            let rx = RecvBuf::new(vec![0u8; device.settings.rx_buffer]);
            let config = device.settings.serve_config();
            let Some(tls) = &tls else {
                nonblocking::serve(FromTokio::new(stream), rx, timer, &config, device, id, slot).await;
                return;
            };
            match espws::tls::tokio::accept(stream, tls, config.handshake_timeout).await {
                Ok(io) => drop(nonblocking::serve(io, rx, timer, &config, device, id, slot).await),
                Err(e) => espws::tls::log_refused(id.into(), peer, &e),
            }
        });
    }
}

/// Holds a client slot until dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers 503 and closes politely: FIN, then input discarded until the peer's FIN.
async fn reject(mut stream: TcpStream) {
    let mut out = [0u8; 512];
    let Ok(len) = http::write_error(
        &mut out,
        StatusCode::SERVICE_UNAVAILABLE,
        "all client slots are taken; try again later",
    ) else {
        return;
    };
    let _ = tokio::time::timeout(LINGER, async {
        stream.write_all(&out[..len]).await?;
        stream.shutdown().await?;
        let mut scratch = [0u8; 1024];
        while stream.read(&mut scratch).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}
