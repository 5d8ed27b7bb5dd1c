//! A chat: every message goes to every client, and another thread broadcasts a tick each second.
//!
//! `cargo run --example broadcast --features hub -- 127.0.0.1:9001`

use std::time::Duration;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use espws::blocking::{self, BlockingService};
use espws::hub::{self, Hub, Member, Reply};
use espws::server::Server;
use espws::wire::http::Request;
use espws::{Client, DataKind, Declined, Delivery, ServeConfig, Service};

type ChatHub = Hub<'static, CriticalSectionRawMutex>;

struct Chat {
    hub: &'static ChatHub,
}

impl Service for Chat {
    // Each client joins the hub before its 101, so that it misses nothing sent after.
    type Admission = Member<'static, 'static, CriticalSectionRawMutex>;

    fn admit(&self, _req: &Request<'_, '_>) -> Result<Self::Admission, Declined> {
        self.hub.join().ok_or(Declined::busy("the chat is full"))
    }
}

impl BlockingService for Chat {
    fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        _client: &Client<'_>,
        member: Self::Admission,
    ) {
        // The hub's queue and the client's messages at once; a client that stops reading is
        // closed with 1008 when its queue overflows.
        hub::serve_member_blocking(ws, &member, hub::DrainThread::default(), |data, _scratch| {
            let _ = self.hub.broadcast(data.kind, data.payload);
            Reply::Nothing
        });
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9001".into());
    let config = ServeConfig {
        // Hub messages are whole, so that none falls between another's fragments.
        connection: espws::Config {
            delivery: Delivery::Whole,
            max_message: 16 * 1024,
            ..espws::Config::default()
        },
        rx_buffer: 20 * 1024,
        ..ServeConfig::default()
    };
    let hub: &'static ChatHub = Hub::leak(config.max_clients, 64 * 1024);
    std::thread::spawn(move || {
        for tick in 1u64.. {
            std::thread::sleep(Duration::from_secs(1));
            let _ = hub.broadcast(DataKind::Text, format!("tick {tick}").as_bytes());
        }
    });
    let server = Server::bind(addr.as_str(), config, Chat { hub })?;
    println!("chat on ws://{}/", server.local_addr()?);
    server.run()
}
