//! Echo server on tokio-websockets 0.13 over TLS (tokio-rustls), as `tokio_websockets_echo`
//! otherwise: the same runtime, limits and frame size, and the TLS configuration espws-sim
//! uses (`espws::tls::config::from_pem_files`: rustls with ring, TLS 1.2 and 1.3).
//!
//! `cargo run --release -p espws-bench --example tokio_websockets_tls_echo -- PORT CERT.pem KEY.pem`

use std::path::Path;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_websockets::{Config, Limits, ServerBuilder};

const MAX_MESSAGE: usize = 16 << 20;

async fn serve(
    acceptor: TlsAcceptor,
    stream: TcpStream,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    stream.set_nodelay(true)?;
    let stream = acceptor.accept(stream).await?;
    let (_request, mut ws) = ServerBuilder::new()
        .config(Config::default().frame_size(usize::MAX))
        .limits(Limits::default().max_payload_len(Some(MAX_MESSAGE)))
        .accept(stream)
        .await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, _, cert, key] = &args[..] else {
        eprintln!("usage: tokio_websockets_tls_echo PORT CERT.pem KEY.pem");
        std::process::exit(2)
    };
    let config = espws::tls::config::from_pem_files(Path::new(cert), Path::new(key))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let acceptor = TlsAcceptor::from(config);
    espws_bench::serve_tokio("tokio_websockets_tls_echo", move |stream| serve(acceptor.clone(), stream))
}
