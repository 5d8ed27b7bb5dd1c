//! An echo server on std threads: every message goes back to its sender.
//!
//! `cargo run --example blocking_echo -- 127.0.0.1:9001`, then connect to ws://127.0.0.1:9001/.

use espws::blocking::{self, BlockingService};
use espws::server::Server;
use espws::wire::http::Request;
use espws::{Client, Declined, Event, ServeConfig, Service};

struct Echo;

impl Service for Echo {
    type Admission = ();

    fn admit(&self, _req: &Request<'_, '_>) -> Result<(), Declined> {
        Ok(())
    }
}

impl BlockingService for Echo {
    fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        client: &Client<'_>,
        (): (),
    ) {
        println!("client {} connected from {:?}", client.id, client.peer);
        // Chunks go back as they arrive: a message of any size passes through the 4 KiB buffer.
        let _ = ws.run(|event, tx| {
            if let Event::Data(data) = event {
                let _ = tx.send_part(data.kind, data.payload, data.first, data.last);
            }
        });
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let server = Server::bind(addr.as_str(), ServeConfig::default(), Echo)?;
    println!("echo server on ws://{}/", server.local_addr()?);
    server.run()
}
