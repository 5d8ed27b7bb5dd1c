//! The connection with permessage-deflate: RSV1 rules, limits on inflated bytes, chunking.

use std::vec;
use std::vec::Vec;

use super::{negotiate, Agreed, DeflateConfig, Inflate};
use crate::proto::{Closed, Config, Connection, DataKind, Delivery, Event, ProtocolError, RecvBuf};
use crate::time::Instant;
use crate::wire::frame::masked_client_frame;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const T0: Instant = Instant::from_millis(1_000);

fn agreed(offer: &str) -> Agreed {
    negotiate([offer.as_bytes()], &DeflateConfig::FULL).unwrap()
}

/// Raw DEFLATE, sync-flushed, trailer stripped: a client's compressed message.
fn compress(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() * 2 + 1024);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
    out
}

#[derive(Debug, PartialEq)]
enum Ev {
    Data(DataKind, Vec<u8>, bool, bool),
    Ping(Vec<u8>),
    Closed(Closed),
}

struct Harness {
    conn: Connection,
    rx: RecvBuf<Vec<u8>>,
    inflate: Inflate<Vec<u8>>,
    events: Vec<Ev>,
    sent: Vec<Vec<u8>>,
    /// The largest chunk delivered: bounded by the window, whatever the message.
    largest_chunk: usize,
}

impl Harness {
    fn new(max_message: u64, buffer: usize, agreed: &Agreed) -> Self {
        let config = Config { max_message, delivery: Delivery::Chunked, ..Config::default() };
        let mut conn = Connection::new(config, T0);
        conn.enable_deflate();
        let window = vec![0u8; Inflate::<Vec<u8>>::window_len(agreed.client_max_window_bits)];
        Harness {
            conn,
            rx: RecvBuf::new(vec![0; buffer]),
            inflate: Inflate::new(window, agreed).unwrap(),
            events: Vec::new(),
            sent: Vec::new(),
            largest_chunk: 0,
        }
    }

    fn feed_split(&mut self, input: &[u8], size: usize) -> &mut Self {
        let mut rest = input;
        while !rest.is_empty() && !self.conn.is_closed() {
            let space = self.conn.read_buf(&mut self.rx);
            let n = size.min(rest.len()).min(space.len());
            space[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            self.conn.handle_read(&mut self.rx, n, T0);
            while let Some(pending) = self.conn.poll_pending_inflating(&mut self.rx, &mut self.inflate) {
                let event = self.conn.event_inflated(pending, &self.rx, &self.inflate);
                self.events.push(match event {
                    Event::Data(d) => {
                        self.largest_chunk = self.largest_chunk.max(d.payload.len());
                        Ev::Data(d.kind, d.payload.to_vec(), d.first, d.last)
                    }
                    Event::Ping(p) => Ev::Ping(p.to_vec()),
                    Event::Pong(_) => continue,
                    Event::Closed { how, .. } => Ev::Closed(how),
                });
                while let Some(frame) = self.conn.poll_transmit() {
                    self.sent.push(frame.as_bytes().to_vec());
                }
            }
        }
        self
    }

    fn feed(&mut self, input: &[u8]) -> &mut Self {
        self.feed_split(input, usize::MAX)
    }

    /// Whole messages, from their chunks.
    fn messages(&self) -> Vec<(DataKind, Vec<u8>)> {
        let mut out: Vec<(DataKind, Vec<u8>)> = Vec::new();
        for event in &self.events {
            if let Ev::Data(kind, bytes, first, _) = event {
                if *first {
                    out.push((*kind, Vec::new()));
                }
                out.last_mut().unwrap().1.extend_from_slice(bytes);
            }
        }
        out
    }

    fn failed(&self) -> Option<ProtocolError> {
        self.events.iter().find_map(|e| match e {
            Ev::Closed(Closed::Failed(e)) => Some(*e),
            _ => None,
        })
    }
}

/// A compressed message's first frame: FIN as given, RSV1, the opcode.
fn compressed_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    masked_client_frame(b0 | 0x40, payload, KEY)
}

#[test]
fn rfc_7692_7_2_3_1_a_compressed_hello_arrives_inflated() {
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&compressed_frame(0x81, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
    assert_eq!(h.messages(), [(DataKind::Text, b"Hello".to_vec())]);
}

#[test]
fn rfc_7692_7_2_3_1_a_compressed_message_may_be_fragmented() {
    // The section's example of "Hello" in two fragments: RSV1 on the first only.
    let mut input = masked_client_frame(0x41, &[0xf2, 0x48, 0xcd], KEY);
    input.extend(masked_client_frame(0x80, &[0xc9, 0xc9, 0x07, 0x00], KEY));
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&input);
    assert_eq!(h.messages(), [(DataKind::Text, b"Hello".to_vec())]);
}

#[test]
fn uncompressed_messages_still_pass_when_deflate_is_on() {
    let mut input = masked_client_frame(0x81, b"plain", KEY);
    input.extend(compressed_frame(0x82, &compress(b"squeezed")));
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&input);
    assert_eq!(h.messages(), [(DataKind::Text, b"plain".to_vec()), (DataKind::Binary, b"squeezed".to_vec())]);
}

#[test]
fn rsv1_without_negotiation_closes_with_1002() {
    let config = Config { delivery: Delivery::Chunked, ..Config::default() };
    let mut conn = Connection::new(config, T0);
    let mut rx = RecvBuf::new(vec![0u8; 4096]);
    let frame = compressed_frame(0x81, &compress(b"Hello"));
    conn.read_buf(&mut rx)[..frame.len()].copy_from_slice(&frame);
    conn.handle_read(&mut rx, frame.len(), T0);
    let event = conn.poll_event(&mut rx);
    assert!(
        matches!(event, Some(Event::Closed { how: Closed::Failed(ProtocolError::Frame(_)), .. })),
        "{event:?}"
    );
}

#[test]
fn rsv1_on_a_continuation_frame_closes_with_1002() {
    let mut input = masked_client_frame(0x01, b"He", KEY);
    input.extend(masked_client_frame(0xC0, b"llo", KEY));
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&input);
    assert_eq!(h.failed(), Some(ProtocolError::MisplacedRsv1));
    assert_eq!(ProtocolError::MisplacedRsv1.close_code().0, 1002);
}

#[test]
fn rsv1_on_a_control_frame_closes_with_1002() {
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&masked_client_frame(0xC9, b"", KEY));
    assert_eq!(h.failed(), Some(ProtocolError::MisplacedRsv1));
}

#[test]
fn rsv2_and_rsv3_still_close_with_1002() {
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&masked_client_frame(0xA1, b"x", KEY));
    assert!(matches!(h.failed(), Some(ProtocolError::Frame(_))));
}

#[test]
fn data_that_does_not_inflate_closes_with_1007() {
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&compressed_frame(0x82, &[0xff; 20]));
    assert_eq!(h.failed(), Some(ProtocolError::BadCompression));
    assert_eq!(ProtocolError::BadCompression.close_code().0, 1007);
}

#[test]
fn invalid_utf8_is_found_in_the_inflated_text_before_the_message_ends() {
    let mut text = vec![b'a'; 10_000];
    text[100] = 0xff;
    let compressed = compress(&text);
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    // The message never ends: the failure comes from the inflated bytes alone.
    h.feed(&masked_client_frame(0x41, &compressed, KEY));
    assert_eq!(h.failed(), Some(ProtocolError::InvalidUtf8));
}

#[test]
fn a_deflate_bomb_closes_with_1009_at_the_byte_that_crosses_the_limit() {
    // 10 MiB of zeros compress to about 10 KiB; the limit is 64 KiB.
    let bomb = compress(&vec![0u8; 10 << 20]);
    assert!(bomb.len() < 16 << 10, "{}", bomb.len());
    let limit = 64 << 10;
    let mut h = Harness::new(limit, 4096, &agreed("permessage-deflate"));
    h.feed(&compressed_frame(0x82, &bomb));
    assert_eq!(h.failed(), Some(ProtocolError::MessageTooBig));
    assert_eq!(h.sent.last().map(|f| u16::from_be_bytes([f[2], f[3]])), Some(1009));
    // Exactly the limit was delivered, and never more than one window at a time.
    let delivered: usize = h.messages().iter().map(|(_, m)| m.len()).sum();
    assert_eq!(delivered as u64, limit);
    assert!(h.largest_chunk <= 32 << 10);
}

#[test]
fn a_message_of_exactly_the_limit_passes() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 13) as u8).collect();
    let mut h = Harness::new(5000, 4096, &agreed("permessage-deflate"));
    h.feed(&compressed_frame(0x82, &compress(&data)));
    assert_eq!(h.messages(), [(DataKind::Binary, data)]);
    assert_eq!(h.failed(), None);
}

#[test]
fn context_is_taken_over_between_messages_unless_agreed_otherwise() {
    // One compressor for two messages: the second refers back into the first.
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut input = Vec::new();
    for _ in 0..2 {
        let mut out = Vec::with_capacity(4096);
        c.compress_vec(b"a sentence said twice, and twice said", &mut out, flate2::FlushCompress::Sync)
            .unwrap();
        out.truncate(out.len() - 4);
        input.extend(compressed_frame(0x81, &out));
    }
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&input);
    assert_eq!(h.messages().len(), 2);
    assert_eq!(h.messages()[0], h.messages()[1]);
}

/// Compressed, fragmented and plain messages with control frames between fragments.
fn mixed_compressed_stream() -> (Vec<u8>, Vec<(DataKind, Vec<u8>)>) {
    let big: Vec<u8> = (0..3000u32).map(|i| b"espws "[i as usize % 6] ^ ((i / 97) as u8 % 2)).collect();
    let text = "héllo wörld, ".repeat(40);
    let mut input = compressed_frame(0x81, &compress(text.as_bytes()));
    let compressed = compress(&big);
    let (a, b) = compressed.split_at(compressed.len() / 2);
    input.extend(masked_client_frame(0x42, a, KEY));
    input.extend(masked_client_frame(0x89, b"p", KEY));
    input.extend(masked_client_frame(0x80, b, KEY));
    input.extend(masked_client_frame(0x81, "plain €".as_bytes(), KEY));
    input.extend(compressed_frame(0x82, &compress(b"")));
    input.extend(masked_client_frame(0x88, &[0x03, 0xe8], KEY));
    let expected = vec![
        (DataKind::Text, text.into_bytes()),
        (DataKind::Binary, big),
        (DataKind::Text, "plain €".as_bytes().to_vec()),
        (DataKind::Binary, Vec::new()),
    ];
    (input, expected)
}

#[test]
fn compressed_input_split_at_every_offset_gives_the_same_messages() {
    let (input, expected) = mixed_compressed_stream();
    let a = agreed("permessage-deflate; client_max_window_bits");
    let mut reference = Harness::new(1 << 20, 4096, &a);
    reference.feed(&input);
    assert_eq!(reference.messages(), expected);
    assert!(matches!(reference.events.last(), Some(Ev::Closed(Closed::Handshake { .. }))));
    for cut in 1..input.len() {
        for size in [1, 7] {
            let mut h = Harness::new(1 << 20, 256, &a);
            h.feed_split(&input[..cut], size).feed_split(&input[cut..], usize::MAX);
            assert_eq!(h.messages(), expected, "split at {cut}, then {size}");
            assert_eq!(h.events.last(), reference.events.last(), "split at {cut}");
        }
    }
}

#[test]
fn a_small_window_delivers_large_messages_in_window_sized_chunks() {
    // A client that agreed to 9 bits (512 bytes) and compresses accordingly.
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 200) as u8).collect();
    let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::default(), false, 9);
    let mut out = Vec::with_capacity(200_000);
    c.compress_vec(&data, &mut out, flate2::FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
    let a = agreed("permessage-deflate; client_max_window_bits=9");
    let mut h = Harness::new(1 << 20, 1024, &a);
    h.feed(&compressed_frame(0x82, &out));
    assert_eq!(h.messages(), [(DataKind::Binary, data)]);
    assert!(h.largest_chunk <= 512);
}

#[test]
fn the_inflate_state_per_connection_is_known() {
    let state = Inflate::<[u8; 512]>::STATE_BYTES;
    std::println!(
        "Inflate state {state} bytes, + window; Inflate<[u8; 512]> = {}",
        core::mem::size_of::<Inflate<[u8; 512]>>()
    );
    assert!(state < 12 * 1024, "{state}");
}

#[test]
fn a_small_compressed_message_arrives_as_one_whole_chunk() {
    // So that an echo answers it with one whole (and so compressible) message.
    let mut h = Harness::new(1 << 20, 4096, &agreed("permessage-deflate"));
    h.feed(&compressed_frame(0x81, &compress(br#"{"temp_c":21.5,"humidity":45.2}"#)));
    assert_eq!(
        h.events,
        [Ev::Data(DataKind::Text, br#"{"temp_c":21.5,"humidity":45.2}"#.to_vec(), true, true)]
    );
}
