//! The echo service the examples and tests share, for both drivers.

use espws::blocking::{self, BlockingService};
use espws::nonblocking::{self, AsyncService};
use espws::wire::http::Request;
use espws::{Client, Declined, Event, Service};

/// Echoes every message to its sender.
pub struct Echo;

impl Service for Echo {
    type Admission = ();

    fn admit(&self, _req: &Request<'_, '_>) -> Result<(), Declined> {
        Ok(())
    }
}

impl AsyncService for Echo {
    async fn websocket<T: nonblocking::Transport, B: espws::Storage, K: nonblocking::Timer>(
        &self,
        ws: &mut nonblocking::WebSocket<T, B, K>,
        _client: &Client<'_>,
        (): (),
    ) {
        // Replies borrow the received payload: the echo copies nothing.
        let _ = ws
            .run(|event, replies| {
                if let Event::Data(data) = event {
                    let _ = replies.send_part(data.kind, data.payload, data.first, data.last);
                }
            })
            .await;
    }
}

impl BlockingService for Echo {
    fn websocket<T: blocking::Transport, B: espws::Storage, C: blocking::Clock>(
        &self,
        ws: &mut blocking::WebSocket<T, B, C>,
        _client: &Client<'_>,
        (): (),
    ) {
        let _ = ws.run(|event, tx| {
            if let Event::Data(data) = event {
                let _ = tx.send_part(data.kind, data.payload, data.first, data.last);
            }
        });
    }
}
