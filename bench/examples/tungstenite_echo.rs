//! Echo server on tungstenite 0.30: blocking, a thread per connection.
//!
//! `cargo run --release -p espws-bench --example tungstenite_echo -- PORT`
//!
//! Every text and binary message is sent back; tungstenite answers pings and closes itself.
//! Limits are raised to 16 MiB, as `scripts/bench` runs espws-sim with `--max-message 16777216`.

use std::net::{SocketAddr, TcpListener, TcpStream};

use tungstenite::protocol::WebSocketConfig;

const MAX_MESSAGE: usize = 16 << 20;

fn port() -> u16 {
    std::env::args().nth(1).and_then(|p| p.parse().ok()).expect("usage: tungstenite_echo PORT")
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

fn serve(stream: TcpStream) -> tungstenite::Result<()> {
    stream.set_nodelay(true)?;
    let config =
        WebSocketConfig::default().max_message_size(Some(MAX_MESSAGE)).max_frame_size(Some(MAX_MESSAGE));
    let mut ws = tungstenite::accept_with_config(stream, Some(config)).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(e) => e,
        tungstenite::HandshakeError::Interrupted(_) => unreachable!("a blocking socket"),
    })?;
    loop {
        let message = ws.read()?;
        if message.is_text() || message.is_binary() {
            ws.send(message)?;
        }
    }
}

fn main() -> std::io::Result<()> {
    let listener = listen(port())?;
    eprintln!("tungstenite_echo listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            // The peer going away (EOF, reset, close handshake done) ends the thread.
            let _ = serve(stream);
        });
    }
    Ok(())
}
