//! The floor for a thread-per-connection server: no WebSocket at all, a thread per connection
//! that reads into a buffer and writes the same bytes back.
//!
//! `cargo run --release -p espws-bench --example raw_tcp_threads -- PORT`, loaded with
//! `espws-load --raw`, which sends the same masked frame bytes as in WebSocket mode and reads
//! the same number of bytes back (no handshake).

use std::io::{Read, Write};
use std::net::TcpStream;

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

fn main() -> std::io::Result<()> {
    espws_bench::serve_threads("raw_tcp_threads", serve)
}
