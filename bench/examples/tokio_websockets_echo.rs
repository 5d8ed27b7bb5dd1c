//! Echo server on tokio-websockets 0.13, on the runtime espws-sim uses
//! (`new_multi_thread().enable_all()`, default worker count), a task per connection.
//!
//! `cargo run --release -p espws-bench --example tokio_websockets_echo -- PORT`
//!
//! Follows the crate's `examples/echo_server.rs`, except that tasks are spawned with a plain
//! `tokio::spawn` (as espws-sim does) rather than inside `tokio::task::unconstrained`. The
//! payload limit is 16 MiB (as espws-sim's `--max-message 16777216` in `scripts/bench`) and
//! outgoing messages are never split into frames.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_websockets::{Config, Limits, ServerBuilder};

const MAX_MESSAGE: usize = 16 << 20;

async fn serve(stream: TcpStream) -> Result<(), tokio_websockets::Error> {
    stream.set_nodelay(true)?;
    let (_request, mut ws) = ServerBuilder::new()
        .config(Config::default().frame_size(usize::MAX))
        .limits(Limits::default().max_payload_len(Some(MAX_MESSAGE)))
        .accept(stream)
        .await?;
    // Pings are answered and closes completed by the stream itself.
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    espws_bench::serve_tokio("tokio_websockets_echo", serve)
}
