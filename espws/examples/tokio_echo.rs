//! An echo server on tokio: a current-thread runtime per core, a task per connection.
//!
//! `cargo run --example tokio_echo -- 127.0.0.1:9001`, then connect to ws://127.0.0.1:9001/.

use espws::server::tokio as server;
use espws::ServeConfig;

#[path = "support/echo_service.rs"]
mod echo_service;
use echo_service::Echo;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = server::bind(addr.as_str())?;
    println!("echo server on ws://{}/", listener.local_addr()?);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    server::run(listener, ServeConfig::default(), Echo, threads)
}
