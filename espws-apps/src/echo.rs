//! Echo: every text and binary message goes back to its sender, as the original prototype did,
//! on the blocking and on the async driver.
//!
//! Chunks are echoed as they arrive, so with chunked delivery a message of any size passes
//! through a small receive buffer, and nothing is copied between the socket buffer and the
//! reply.

use espws::blocking::{Clock, Transport, WebSocket};
use espws::{Event, Storage};

/// Echoes on a blocking connection until it ends.
pub fn run_blocking<T, B, C>(ws: &mut WebSocket<T, B, C>)
where
    T: Transport,
    B: Storage,
    C: Clock,
{
    let _ = ws.run(|event, tx| {
        if let Event::Data(data) = event {
            // A failed send leaves the connection closed; the loop then ends with its Closed event.
            let _ = tx.send_part(data.kind, data.payload, data.first, data.last);
        }
    });
}

/// Echoes on an async connection until it ends.
pub async fn run_async<T, B, K>(ws: &mut espws::nonblocking::WebSocket<T, B, K>)
where
    T: espws::nonblocking::Transport,
    B: Storage,
    K: espws::nonblocking::Timer,
{
    let _ = ws.run(reply).await;
}

/// The echo as an event handler for [`espws::nonblocking::WebSocket::run`]: the reply borrows
/// the received payload.
#[inline]
pub fn reply<'a>(event: Event<'a>, replies: &mut espws::nonblocking::Replies<'_, 'a>) {
    if let Event::Data(data) = event {
        // A failed reply leaves the connection closed; the loop then ends with its Closed event.
        let _ = replies.send_part(data.kind, data.payload, data.first, data.last);
    }
}
