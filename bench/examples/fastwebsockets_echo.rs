//! Echo server on fastwebsockets 0.10 with its `upgrade` feature (the handshake is served by
//! hyper 1), on the runtime espws-sim uses (`new_multi_thread().enable_all()`, default worker
//! count), a task per connection.
//!
//! `cargo run --release -p espws-bench --example fastwebsockets_echo -- PORT`
//!
//! Follows the crate's `examples/echo_server.rs`: a `FragmentCollector` reassembles
//! fragmented messages, auto_close and auto_pong are on, every text and binary frame is
//! written back. Tasks are spawned with a plain `tokio::spawn` (as espws-sim does) rather than
//! inside `tokio::task::unconstrained`. The message limit is 16 MiB (as espws-sim's
//! `--max-message 16777216` in `scripts/bench`).

use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpStream;

const MAX_MESSAGE: usize = 16 << 20;

async fn echo(upgrade: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = upgrade.await?;
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    ws.set_max_message_size(MAX_MESSAGE);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn upgrade(mut request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgrade) = upgrade::upgrade(&mut request)?;
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

fn main() -> std::io::Result<()> {
    espws_bench::serve_tokio("fastwebsockets_echo", serve)
}
