//! The floor for a thread-per-connection server: no WebSocket at all, a thread per connection
//! that reads into a buffer and writes the same bytes back.
//!
//! `cargo run --release -p espws-bench --example raw_tcp_threads -- PORT`, loaded with
//! `espws-load --raw`, which sends the same masked frame bytes as in WebSocket mode and reads
//! the same number of bytes back (no handshake).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

fn port() -> u16 {
    std::env::args().nth(1).and_then(|p| p.parse().ok()).expect("usage: raw_tcp_threads PORT")
}

/// A listener with the same backlog (1024) as espws's server and tokio's `TcpListener::bind`.
fn listen(port: u16) -> std::io::Result<TcpListener> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

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
    let listener = listen(port())?;
    eprintln!("raw_tcp_threads listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let _ = serve(stream);
        });
    }
    Ok(())
}
