//! Echo server on tungstenite 0.30: blocking, a thread per connection.
//!
//! `cargo run --release -p espws-bench --example tungstenite_echo -- PORT`
//!
//! Every text and binary message is sent back; tungstenite answers pings and closes itself.
//! Limits are raised to 16 MiB, as `scripts/bench` runs espws-sim with `--max-message 16777216`.

use std::net::TcpStream;

use tungstenite::protocol::WebSocketConfig;

const MAX_MESSAGE: usize = 16 << 20;

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
    espws_bench::serve_threads("tungstenite_echo", serve)
}
