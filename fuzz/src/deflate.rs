//! permessage-deflate on arbitrary bytes: the `Sec-WebSocket-Extensions` parser and the
//! negotiation on the first part, the inflate path of the connection on the rest.
//!
//! Input: `[split: u8][mode: u8][header bytes ..split][compressed payload ..]`.
//! - Parsing and negotiating never panic; an accepted offer's answer parses back as one
//!   `permessage-deflate` element and names `client_max_window_bits` only if the header did.
//! - Inflating a compressed message (in one to three fragments, read in pieces) never panics,
//!   never delivers more than `max_message` bytes, never a chunk larger than the window, and
//!   ends in a `Closed` event or more input needed.

use espws::proto::deflate::{negotiate, DeflateConfig, Inflate};
use espws::proto::{Config, Connection, Delivery, Event, RecvBuf};
use espws::time::Instant;
use espws::wire::extensions::offers;

use crate::connection::client_frame_raw;

const MAX_MESSAGE: u64 = 4096;
const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// Runs every check on `input`.
pub fn check(input: &[u8]) {
    let [split, mode, rest @ ..] = input else { return };
    let split = usize::from(*split).min(rest.len());
    let (header, payload) = rest.split_at(split);
    check_header(header);
    check_inflate(*mode, payload);
}

fn check_header(header: &[u8]) {
    for offer in offers(header).flatten() {
        for param in offer.params() {
            assert!(!param.name.is_empty());
        }
    }
    let mentions_client_bits = header.windows(22).any(|w| w.eq_ignore_ascii_case(b"client_max_window_bits"));
    for config in [DeflateConfig::FULL, DeflateConfig::SMALL] {
        let Some(agreed) = negotiate([header], &config) else { continue };
        assert!(agreed.client_max_window_bits <= config.client_max_window_bits.max(8));
        let mut out = [0u8; 160];
        let len = agreed.write(&mut out).expect("an answer fits 160 bytes");
        let answer = &out[..len];
        let mut elements = offers(answer);
        let element = elements.next().expect("one element").expect("well-formed");
        assert!(elements.next().is_none());
        assert_eq!(element.name, b"permessage-deflate");
        let names_client_bits = element.params().any(|p| p.name == b"client_max_window_bits");
        assert!(!names_client_bits || mentions_client_bits, "client_max_window_bits answered unoffered");
        // The answer, offered back, is accepted as it is.
        assert!(negotiate([answer], &DeflateConfig::FULL).is_some());
    }
}

fn check_inflate(mode: u8, payload: &[u8]) {
    let offer: &[u8] = match mode & 3 {
        0 => b"permessage-deflate",
        1 => b"permessage-deflate; client_max_window_bits=9",
        2 => b"permessage-deflate; client_no_context_takeover; client_max_window_bits=10",
        _ => b"permessage-deflate; client_max_window_bits",
    };
    let Some(agreed) = negotiate([offer], &DeflateConfig::FULL) else { unreachable!() };
    let window_len = Inflate::<[u8; 32768]>::window_len(agreed.client_max_window_bits);
    let mut window = [0u8; 32768];
    let Ok(mut inflate) = Inflate::new(&mut window[..window_len], &agreed) else { unreachable!() };
    let config = Config { max_message: MAX_MESSAGE, delivery: Delivery::Chunked, ..Config::default() };
    let mut conn = Connection::new(config, Instant::from_millis(0));
    conn.enable_deflate();
    let mut storage = [0u8; 512];
    let mut rx = RecvBuf::new(&mut storage[..]);

    // One, two or three fragments; text or binary.
    let opcode = if mode & 4 != 0 { 0x01 } else { 0x02 };
    let fragments = 1 + usize::from(mode >> 3 & 1) + usize::from(mode >> 4 & 1);
    let mut stream = Vec::new();
    let step = payload.len() / fragments + 1;
    let pieces: Vec<&[u8]> = if payload.is_empty() { vec![&[][..]] } else { payload.chunks(step).collect() };
    for (i, piece) in pieces.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == pieces.len();
        let b0 = (u8::from(last) << 7) | if first { 0x40 | opcode } else { 0 };
        stream.extend(client_frame_raw(b0, KEY, piece));
    }
    let read_size = 1 + usize::from(mode >> 5);

    let mut delivered = 0u64;
    let mut closed = false;
    let mut rest = &stream[..];
    let mut guard = 0;
    while !rest.is_empty() && !conn.is_closed() {
        guard += 1;
        assert!(guard < 1_000_000, "no progress");
        let space = conn.read_buf(&mut rx);
        assert!(!space.is_empty(), "read_buf offered no space");
        let n = read_size.min(rest.len()).min(space.len());
        space[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        conn.handle_read(&mut rx, n, Instant::from_millis(0));
        while let Some(pending) = conn.poll_pending_inflating(&mut rx, &mut inflate) {
            match conn.event_inflated(pending, &rx, &inflate) {
                Event::Data(data) => {
                    assert!(data.payload.len() <= window_len);
                    delivered += data.payload.len() as u64;
                    assert!(delivered <= MAX_MESSAGE, "{delivered} bytes delivered");
                }
                Event::Closed { .. } => closed = true,
                Event::Ping(_) | Event::Pong(_) => {}
            }
            while conn.poll_transmit().is_some() {}
        }
    }
    assert!(!conn.is_closed() || closed, "closed without a Closed event");
}
