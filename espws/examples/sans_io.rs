//! The protocol core by hand: no socket, no clock, no runtime. Bytes and `now` go in; events,
//! frames to send and the next deadline come out.
//!
//! `cargo run --example sans_io`

use espws::wire::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use espws::wire::mask::apply_mask;
use espws::{Config, Connection, DataKind, Event, Instant, RecvBuf};

/// What a client would send: one masked frame.
fn client_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let header = FrameHeader { fin: true, opcode, mask: Some(key), payload_len: payload.len() as u64 };
    let mut head = [0u8; MAX_HEADER_LEN];
    let len = header.encode(&mut head);
    let mut frame = head[..len].to_vec();
    let start = frame.len();
    frame.extend_from_slice(payload);
    apply_mask(&mut frame[start..], key, 0);
    frame
}

fn main() {
    let mut now = Instant::from_millis(0);
    let mut conn = Connection::new(Config::default(), now);
    let mut rx = RecvBuf::new([0u8; 512]);

    // The "network": a text message, a ping, then a close, all in one read.
    let mut input = client_frame(OpCode::Text, b"hello, device");
    input.extend(client_frame(OpCode::Ping, b"are you there?"));
    input.extend(client_frame(OpCode::Close, &1000u16.to_be_bytes()));

    now = now + core::time::Duration::from_millis(5);
    conn.read_buf(&mut rx)[..input.len()].copy_from_slice(&input);
    conn.handle_read(&mut rx, input.len(), now);

    while let Some(event) = conn.poll_event(&mut rx) {
        match event {
            Event::Data(data) => {
                println!("message: {:?}", data.text());
                // A reply is a header from the core and the payload as it is.
                let header = conn.send_header(DataKind::Text, data.payload.len() as u64, true, true);
                println!("reply header: {:02x?}", header.map(|h| h.as_bytes().to_vec()));
            }
            Event::Ping(payload) => {
                println!("ping {:?}; the pong is queued", String::from_utf8_lossy(payload))
            }
            Event::Pong(_) => {}
            Event::Closed { how, reason } => println!("closed: {how} ({reason:?})"),
        }
        // Control frames the core queued (the pong, the close reply) go out in order.
        while let Some(frame) = conn.poll_transmit() {
            println!("send {} bytes: {:02x?}", frame.as_bytes().len(), frame.as_bytes());
        }
    }
    assert!(conn.is_closed());
    println!("next deadline: {:?}", conn.poll_timeout());
}
