//! Echo server on yawc 0.5 (the handshake is served by hyper 1) with permessage-deflate, on the
//! runtime espws-sim uses (`new_multi_thread().enable_all()`, default worker count), a task per
//! connection: the Rust peer of `examples/deflate_ratio.rs`.
//!
//! `cargo run --release -p espws-bench --example yawc_echo -- 127.0.0.1:9402` (or a bare PORT,
//! which listens on 127.0.0.1).
//!
//! Follows the crate's `examples/echo_server.rs` (hyper's HTTP/1 connection upgraded by
//! `WebSocket::upgrade_with_options`, every text and binary message sent back with `ws.send`),
//! except that tasks are spawned with a plain `tokio::spawn` (as espws-sim does) rather than
//! inside `tokio::task::unconstrained`, and with the settings espws-sim agrees to by default:
//!
//! - permessage-deflate at zlib level 6 (yawc's `balanced`, the level espws compresses with),
//!   15-bit windows both ways (`server_max_window_bits=15; client_max_window_bits=15` in the
//!   answer: without them yawc answers a client that offers a bare `client_max_window_bits`, as
//!   espws's client does, with 9 bits) and context takeover both ways;
//! - text validated as UTF-8 (off by default in yawc; espws always validates), with the `simd`
//!   feature's simdutf8 as espws uses;
//! - a backlog of 1024, `TCP_NODELAY`, messages of up to 16 MiB (as espws-sim's `--max-message 16777216`), and
//!   outgoing messages never split into frames (yawc's default).
//!
//! yawc compresses every message (its `compression_threshold` is 0); espws sends a message
//! uncompressed when compression would not make it smaller or it is under 32 bytes, which never
//! happens for the 1 KiB JSON of the benchmark.

use std::net::SocketAddr;

use futures_util::SinkExt as _;
use futures_util::StreamExt as _;
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpStream;
use yawc::{OpCode, Options, UpgradeFut, WebSocket};

const MAX_MESSAGE: usize = 16 << 20;

fn options() -> Options {
    Options::default()
        .with_balanced_compression()
        .with_server_max_window_bits(15)
        .with_client_max_window_bits(15)
        // Both limits are exclusive bounds.
        .with_max_payload_read(MAX_MESSAGE + 1)
        .with_max_read_buffer(MAX_MESSAGE + 1)
        .with_utf8()
}

async fn echo(upgrade: UpgradeFut) -> yawc::Result<()> {
    let mut ws = upgrade.await?;
    // Pings are answered and closes acknowledged by the stream itself; it ends after a close
    // or an error.
    while let Some(frame) = ws.next().await {
        if matches!(frame.opcode(), OpCode::Text | OpCode::Binary) {
            ws.send(frame).await?;
        }
    }
    Ok(())
}

async fn upgrade(mut request: Request<Incoming>) -> yawc::Result<Response<Empty<Bytes>>> {
    let (response, upgrade) = WebSocket::upgrade_with_options(&mut request, options())?;
    tokio::spawn(async move {
        let _ = echo(upgrade).await;
    });
    Ok(response)
}

/// One hyper HTTP/1 connection, which hands its upgrades to `upgrade`.
async fn serve(stream: TcpStream) -> hyper::Result<()> {
    stream.set_nodelay(true).ok();
    let io = hyper_util::rt::TokioIo::new(stream);
    http1::Builder::new().serve_connection(io, service_fn(upgrade)).with_upgrades().await
}

/// The address in the first argument: HOST:PORT, or a bare PORT on 127.0.0.1.
fn address() -> SocketAddr {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let parsed = match arg.parse::<u16>() {
        Ok(port) => Some(SocketAddr::from(([127, 0, 0, 1], port))),
        Err(_) => arg.parse().ok(),
    };
    parsed.unwrap_or_else(|| {
        eprintln!("usage: yawc_echo ADDRESS   (such as 127.0.0.1:9402, or a bare port)");
        std::process::exit(2)
    })
}

/// A listener on `addr` with a backlog of 1024, as `espws_bench::listen` makes on 127.0.0.1.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn main() -> std::io::Result<()> {
    let addr = address();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listen(addr)?)?;
        eprintln!("yawc_echo listening on {} (permessage-deflate, 15-bit windows)", listener.local_addr()?);
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                // The peer going away (EOF, reset, close handshake done) ends the task.
                let _ = serve(stream).await;
            });
        }
    })
}
