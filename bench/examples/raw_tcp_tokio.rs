//! The floor for a tokio server: no WebSocket at all, a task per connection that reads into a
//! buffer and writes the same bytes back, on the runtime espws-sim uses
//! (`new_multi_thread().enable_all()`, default worker count).
//!
//! `cargo run --release -p espws-bench --example raw_tcp_tokio -- PORT`, loaded with
//! `espws-load --raw`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

fn main() -> std::io::Result<()> {
    espws_bench::serve_tokio("raw_tcp_tokio", serve)
}
