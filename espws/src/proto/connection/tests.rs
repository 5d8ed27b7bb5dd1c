//! State machine tests: one per RFC 6455 rule, driven with byte fixtures and a virtual clock.

use std::string::String;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::proto::Side;
use crate::wire::frame::FrameHeader;
use core::time::Duration;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const T0: Instant = Instant::from_millis(1_000);

/// The defaults with whole-message delivery, which most rules here are stated in.
const WHOLE: Config = Config { delivery: Delivery::Whole, ..Config::DEFAULT };

/// An event with owned data, so that tests can collect and compare them.
#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Data(DataKind, Vec<u8>, bool, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(Closed, String),
}

/// A masked client frame with the raw first byte `b0` (FIN, RSV and opcode bits).
fn raw_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    crate::wire::frame::masked_client_frame(b0, payload, KEY)
}

fn frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame((u8::from(fin) << 7) | opcode as u8, payload)
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

struct Harness {
    conn: Connection,
    rx: RecvBuf<Vec<u8>>,
    events: Vec<Ev>,
    sent: Vec<Vec<u8>>,
    now: Instant,
}

impl Harness {
    fn new(config: Config, buffer: usize) -> Self {
        Harness {
            conn: Connection::new(config, T0),
            rx: RecvBuf::new(vec![0; buffer]),
            events: Vec::new(),
            sent: Vec::new(),
            now: T0,
        }
    }

    fn whole() -> Self {
        Self::new(WHOLE, 4096)
    }

    fn chunked(buffer: usize) -> Self {
        Self::new(Config { delivery: Delivery::Chunked, ..WHOLE }, buffer)
    }

    fn drain(&mut self) {
        while let Some(event) = self.conn.poll_event(&mut self.rx) {
            self.events.push(match event {
                Event::Data(d) => Ev::Data(d.kind, d.payload.to_vec(), d.first, d.last),
                Event::Ping(p) => Ev::Ping(p.to_vec()),
                Event::Pong(p) => Ev::Pong(p.to_vec()),
                Event::Closed { how, reason } => Ev::Closed(how, reason.into()),
            });
            self.flush();
        }
        self.flush();
    }

    fn flush(&mut self) {
        while let Some(frame) = self.conn.poll_transmit() {
            self.sent.push(frame.as_bytes().to_vec());
        }
    }

    /// Feeds `input` in reads of the given sizes (the last size repeats).
    fn feed_split(&mut self, input: &[u8], sizes: &[usize]) -> &mut Self {
        let mut rest = input;
        let mut sizes = sizes.iter().copied().chain(core::iter::repeat(*sizes.last().unwrap()));
        while !rest.is_empty() && !self.conn.is_closed() {
            let space = self.conn.read_buf(&mut self.rx);
            let n = sizes.next().unwrap().min(rest.len()).min(space.len());
            assert!(n > 0, "read_buf offered no space");
            space[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            self.conn.handle_read(&mut self.rx, n, self.now);
            self.drain();
        }
        self
    }

    fn feed(&mut self, input: &[u8]) -> &mut Self {
        self.feed_split(input, &[usize::MAX])
    }

    fn closed(&self) -> Option<Closed> {
        self.events.iter().find_map(|e| match e {
            Ev::Closed(how, _) => Some(*how),
            _ => None,
        })
    }

    /// The code of the close frame this side sent, if any.
    fn sent_close_code(&self) -> Option<u16> {
        self.sent.iter().find(|f| f[0] == 0x88).map(|f| {
            if f.len() >= 4 {
                u16::from_be_bytes([f[2], f[3]])
            } else {
                0
            }
        })
    }

    fn data(&self) -> Vec<(DataKind, Vec<u8>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Data(kind, bytes, true, true) => Some((*kind, bytes.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Asserts that `input` fails the connection with `code`, sent in a close frame.
fn assert_fails(input: &[u8], code: u16) {
    let mut h = Harness::whole();
    h.feed(input);
    assert!(h.conn.is_closed(), "connection not closed");
    assert!(matches!(h.closed(), Some(Closed::Failed(_))), "{:?}", h.events);
    assert_eq!(h.sent_close_code(), Some(code));
    assert_eq!(h.closed().unwrap().code().0, code);
}

#[test]
fn rfc_5_7_masked_hello_arrives_as_text() {
    let mut h = Harness::whole();
    h.feed(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert_eq!(h.events, vec![Ev::Data(DataKind::Text, b"Hello".to_vec(), true, true)]);
}

#[test]
fn rfc_5_4_fragments_are_reassembled_with_control_frames_between_them() {
    let mut input = frame(OpCode::Text, false, b"Hel");
    input.extend(frame(OpCode::Ping, true, b"are you there"));
    input.extend(frame(OpCode::Continuation, false, b""));
    input.extend(frame(OpCode::Continuation, true, b"lo"));
    let mut h = Harness::whole();
    h.feed(&input);
    assert_eq!(
        h.events,
        vec![Ev::Ping(b"are you there".to_vec()), Ev::Data(DataKind::Text, b"Hello".to_vec(), true, true)]
    );
    assert_eq!(h.sent, vec![[&[0x8A, 13][..], b"are you there"].concat()]);
}

#[test]
fn rfc_5_5_2_ping_is_answered_with_a_pong_carrying_its_payload() {
    let mut h = Harness::whole();
    h.feed(&frame(OpCode::Ping, true, b"Hello"));
    assert_eq!(h.sent, vec![vec![0x8A, 0x05, b'H', b'e', b'l', b'l', b'o']]);
}

#[test]
fn rfc_5_5_3_unsolicited_pong_is_reported_and_not_answered() {
    let mut h = Harness::whole();
    h.feed(&frame(OpCode::Pong, true, b"x"));
    assert_eq!(h.events, vec![Ev::Pong(b"x".to_vec())]);
    assert!(h.sent.is_empty());
}

#[test]
fn rfc_5_1_unmasked_client_frame_closes_with_1002() {
    assert_fails(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], 1002);
}

#[test]
fn rfc_5_2_rsv_bits_close_with_1002() {
    for b0 in [0xC1, 0xA1, 0x91] {
        assert_fails(&raw_frame(b0, b"x"), 1002);
    }
}

#[test]
fn rfc_5_2_reserved_opcodes_close_with_1002() {
    for op in [3u8, 7, 0xB, 0xF] {
        assert_fails(&raw_frame(0x80 | op, b""), 1002);
    }
}

#[test]
fn rfc_5_5_fragmented_control_frame_closes_with_1002() {
    assert_fails(&frame(OpCode::Ping, false, b"x"), 1002);
}

#[test]
fn rfc_5_5_ping_over_125_bytes_closes_with_1002() {
    assert_fails(&frame(OpCode::Ping, true, &[0u8; 126]), 1002);
}

#[test]
fn rfc_5_4_orphan_continuation_closes_with_1002() {
    assert_fails(&frame(OpCode::Continuation, true, b"x"), 1002);
}

#[test]
fn rfc_5_4_new_message_inside_a_fragmented_one_closes_with_1002() {
    let mut input = frame(OpCode::Text, false, b"a");
    input.extend(frame(OpCode::Binary, true, b"b"));
    assert_fails(&input, 1002);
}

#[test]
fn rfc_5_5_1_close_with_one_byte_payload_closes_with_1002() {
    assert_fails(&frame(OpCode::Close, true, &[0x03]), 1002);
}

#[test]
fn rfc_7_4_close_with_an_invalid_code_closes_with_1002() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert_fails(&frame(OpCode::Close, true, &close_payload(code, "")), 1002);
    }
}

#[test]
fn rfc_5_5_1_close_reason_that_is_not_utf8_closes_with_1002() {
    assert_fails(&frame(OpCode::Close, true, &[0x03, 0xE8, 0xCE, 0xBA, 0xFF]), 1002);
}

#[test]
fn rfc_8_1_invalid_utf8_closes_with_1007() {
    assert_fails(
        &frame(OpCode::Text, true, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"),
        1007,
    );
}

#[test]
fn rfc_8_1_invalid_utf8_fails_at_the_bad_byte_before_the_frame_ends() {
    let payload = [&b"valid so far "[..], &[0xF4, 0x90], &[b'x'; 100]].concat();
    let wire = frame(OpCode::Text, true, &payload);
    let mut h = Harness::whole();
    // Only the header and the first 15 payload bytes arrive; the rest never does.
    h.feed(&wire[..2 + 4 + 15]);
    assert_eq!(h.closed(), Some(Closed::Failed(ProtocolError::InvalidUtf8)));
    assert_eq!(h.sent_close_code(), Some(1007));
}

#[test]
fn rfc_8_1_invalid_utf8_in_a_later_fragment_fails_before_the_message_ends() {
    let mut input = frame(OpCode::Text, false, "ok €".as_bytes());
    input.extend(frame(OpCode::Continuation, false, b"\xff"));
    let mut h = Harness::whole();
    h.feed(&input);
    assert_eq!(h.sent_close_code(), Some(1007));
}

#[test]
fn rfc_8_1_a_code_point_split_across_fragments_is_valid() {
    let euro = "€".as_bytes();
    let mut input = frame(OpCode::Text, false, &[b"price: ", &euro[..1]].concat());
    input.extend(frame(OpCode::Continuation, false, &euro[1..2]));
    input.extend(frame(OpCode::Continuation, true, &[&euro[2..], b"5"].concat()));
    let mut h = Harness::whole();
    h.feed(&input);
    assert_eq!(h.data(), vec![(DataKind::Text, "price: €5".as_bytes().to_vec())]);
}

#[test]
fn a_text_message_ending_inside_a_code_point_closes_with_1007() {
    assert_fails(&frame(OpCode::Text, true, &"€".as_bytes()[..2]), 1007);
}

#[test]
fn a_frame_announcing_2_pow_63_minus_1_bytes_closes_with_1009_at_once() {
    let mut wire = vec![0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    wire.extend_from_slice(&KEY);
    let mut h = Harness::whole();
    h.feed(&wire);
    assert_eq!(h.closed(), Some(Closed::Failed(ProtocolError::MessageTooBig)));
    assert_eq!(h.sent_close_code(), Some(1009));
    assert_eq!(h.rx.held_len, 0, "nothing may be buffered");
}

#[test]
fn a_single_frame_over_max_message_closes_with_1009_as_soon_as_its_header_is_read() {
    let config = Config { max_message: 1000, ..WHOLE };
    let mut h = Harness::new(config, 4096);
    let wire = frame(OpCode::Binary, true, &[7u8; 1001]);
    h.feed(&wire[..8]);
    assert_eq!(h.sent_close_code(), Some(1009));
}

#[test]
fn fragments_whose_sum_passes_max_message_close_with_1009_at_the_crossing_fragment() {
    let config = Config { max_message: 100, delivery: Delivery::Chunked, ..WHOLE };
    let mut h = Harness::new(config, 1024);
    h.feed(&frame(OpCode::Binary, false, &[1u8; 60]));
    h.feed(&frame(OpCode::Continuation, false, &[2u8; 40]));
    assert!(!h.conn.is_closed(), "exactly at the limit is fine");
    // Only the header of the crossing fragment arrives.
    h.feed(&frame(OpCode::Continuation, true, &[3u8; 1])[..6]);
    assert_eq!(h.closed(), Some(Closed::Failed(ProtocolError::MessageTooBig)));
    assert_eq!(h.sent_close_code(), Some(1009));
}

#[test]
fn whole_delivery_refuses_messages_larger_than_the_buffer_with_1009() {
    let config = Config { max_message: 1 << 30, ..WHOLE };
    let mut h = Harness::new(config, 1024);
    let fits = 1024 - Config::buffer_overhead();
    h.feed(&frame(OpCode::Binary, true, &vec![9u8; fits]));
    assert_eq!(h.data().len(), 1);
    h.feed(&frame(OpCode::Binary, true, &vec![9u8; fits + 1])[..10]);
    assert_eq!(h.sent_close_code(), Some(1009));
}

#[test]
fn whole_delivery_fills_the_buffer_with_fragments_and_pings_between_them() {
    let fits = 1024 - Config::buffer_overhead();
    let mut input = Vec::new();
    let message: Vec<u8> = (0..fits).map(|i| i as u8).collect();
    for (i, piece) in message.chunks(100).enumerate() {
        let opcode = if i == 0 { OpCode::Binary } else { OpCode::Continuation };
        input.extend(frame(opcode, (i + 1) * 100 >= fits, piece));
        input.extend(frame(OpCode::Ping, true, &[0u8; 125]));
    }
    for read in [1usize, 7, 100, 1024] {
        let mut h = Harness::new(WHOLE, 1024);
        h.feed_split(&input, &[read]);
        assert_eq!(h.data(), vec![(DataKind::Binary, message.clone())], "reads of {read}");
    }
}

#[test]
fn chunked_delivery_passes_16_mib_through_a_1_kib_buffer() {
    let config = Config { max_message: 32 << 20, delivery: Delivery::Chunked, ..WHOLE };
    let mut conn = Connection::new(config, T0);
    let mut rx = RecvBuf::new([0u8; 1024]);
    let len: u64 = 16 << 20;
    let mut header = FrameHeader { fin: true, opcode: OpCode::Binary, mask: Some(KEY), payload_len: len };
    header.mask = Some(KEY);
    let mut wire = EncodedHeader::new(&header).as_bytes().to_vec();
    let (mut sent, mut received, mut chunks) = (0u64, 0u64, 0u32);
    let mut checksum_in = 0u64;
    let mut checksum_out = 0u64;
    let mut saw_last = false;
    while !saw_last {
        // Generate the masked payload on the fly so the test needs no 16 MiB vector.
        while wire.len() < 700 && sent < len {
            let mut byte = (sent % 251) as u8;
            checksum_in = checksum_in.wrapping_add(u64::from(byte) * (sent + 1));
            byte ^= KEY[(sent % 4) as usize];
            wire.push(byte);
            sent += 1;
        }
        let space = conn.read_buf(&mut rx);
        let n = space.len().min(wire.len());
        space[..n].copy_from_slice(&wire[..n]);
        wire.drain(..n);
        conn.handle_read(&mut rx, n, T0);
        while let Some(event) = conn.poll_event(&mut rx) {
            let Event::Data(d) = event else { panic!("unexpected {event:?}") };
            assert_eq!(d.first, received == 0);
            for &b in d.payload {
                checksum_out = checksum_out.wrapping_add(u64::from(b) * (received + 1));
                received += 1;
            }
            chunks += 1;
            saw_last = d.last;
        }
    }
    assert_eq!((received, checksum_out), (len, checksum_in));
    assert!(chunks > 16 * 1024, "delivered in {chunks} chunks");
}

#[test]
fn chunked_text_chunks_are_validated_as_they_arrive() {
    let mut h = Harness::chunked(1024);
    let wire = frame(OpCode::Text, true, &[&[b'a'; 300][..], b"\xff", &[b'b'; 300]].concat());
    h.feed_split(&wire, &[200]);
    let first = &h.events[0];
    assert!(matches!(first, Ev::Data(DataKind::Text, bytes, true, false) if bytes.len() == 192));
    assert_eq!(h.sent_close_code(), Some(1007));
}

#[test]
fn rfc_5_5_1_close_is_answered_with_the_same_code_and_ends_the_connection() {
    let mut h = Harness::whole();
    h.feed(&frame(OpCode::Close, true, &close_payload(1001, "bye")));
    assert_eq!(
        h.events,
        vec![Ev::Closed(Closed::Handshake { code: CloseCode(1001), initiator: Side::Peer }, "bye".into())]
    );
    assert_eq!(h.sent, vec![vec![0x88, 0x02, 0x03, 0xE9]]);
    assert!(h.conn.is_closed());
    assert_eq!(h.conn.send_header(DataKind::Text, 1, true, true), Err(SendError::Closed));
}

#[test]
fn rfc_5_5_1_empty_close_is_answered_with_1000() {
    let mut h = Harness::whole();
    h.feed(&frame(OpCode::Close, true, b""));
    assert_eq!(h.sent_close_code(), Some(1000));
    assert_eq!(h.closed(), Some(Closed::Handshake { code: CloseCode::NO_STATUS, initiator: Side::Peer }));
}

#[test]
fn rfc_7_1_2_local_close_waits_for_the_peer_and_discards_data_meanwhile() {
    let mut h = Harness::whole();
    h.conn.close(CloseCode::NORMAL, "done", T0).unwrap();
    h.drain();
    assert_eq!(h.sent, vec![[&[0x88, 6, 0x03, 0xE8][..], b"done"].concat()]);
    assert!(!h.conn.is_closed());
    assert_eq!(h.conn.send_header(DataKind::Text, 1, true, true), Err(SendError::Closed));
    h.feed(&frame(OpCode::Text, true, b"late"));
    h.feed(&frame(OpCode::Close, true, &close_payload(1000, "")));
    assert_eq!(
        h.events,
        vec![Ev::Closed(Closed::Handshake { code: CloseCode::NORMAL, initiator: Side::Local }, "".into())]
    );
    assert_eq!(h.sent.len(), 1, "no second close frame");
}

#[test]
fn local_close_gives_up_after_the_close_timeout() {
    let mut h = Harness::whole();
    h.conn.close(CloseCode::NORMAL, "", T0).unwrap();
    let deadline = h.conn.poll_timeout().unwrap();
    assert_eq!(deadline, T0 + WHOLE.close_timeout);
    h.conn.handle_timeout(Instant::from_millis(deadline.as_millis() - 1));
    assert!(!h.conn.is_closed());
    h.conn.handle_timeout(deadline);
    h.drain();
    assert_eq!(h.closed(), Some(Closed::CloseTimeout));
}

#[test]
fn close_codes_that_must_not_be_sent_are_refused() {
    let mut conn = Connection::new(WHOLE, T0);
    assert_eq!(conn.close(CloseCode::NO_STATUS, "", T0), Err(SendError::CloseCodeNotAllowed));
    assert_eq!(conn.close(CloseCode::ABNORMAL, "", T0), Err(SendError::CloseCodeNotAllowed));
}

#[test]
fn keepalive_pings_after_the_interval_and_gives_up_without_an_answer() {
    let config =
        Config { ping_interval: Some(Duration::from_secs(2)), pong_timeout: Duration::from_secs(3), ..WHOLE };
    let mut h = Harness::new(config, 1024);
    assert_eq!(h.conn.poll_timeout(), Some(T0 + Duration::from_secs(2)));
    h.conn.handle_timeout(T0 + Duration::from_millis(1999));
    h.drain();
    assert!(h.sent.is_empty(), "too early for a ping");
    let t_ping = T0 + Duration::from_secs(2);
    h.conn.handle_timeout(t_ping);
    h.drain();
    assert_eq!(h.sent.len(), 1);
    assert_eq!(h.sent[0][0], 0x89, "a ping");
    assert_eq!(h.conn.poll_timeout(), Some(t_ping + Duration::from_secs(3)));
    h.conn.handle_timeout(t_ping + Duration::from_secs(3));
    h.drain();
    assert_eq!(h.closed(), Some(Closed::PongTimeout));
    assert_eq!(h.sent_close_code(), Some(1001));
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn keepalive_is_satisfied_by_any_received_bytes() {
    let config = Config { ping_interval: Some(Duration::from_secs(2)), ..WHOLE };
    let mut h = Harness::new(config, 1024);
    h.conn.handle_timeout(T0 + Duration::from_secs(2));
    h.drain();
    assert_eq!(h.sent.len(), 1, "ping sent");
    h.now = T0 + Duration::from_secs(3);
    h.feed(&frame(OpCode::Pong, true, b""));
    assert_eq!(h.conn.poll_timeout(), Some(T0 + Duration::from_secs(5)), "next ping 2 s after the pong");
    h.conn.handle_timeout(T0 + Duration::from_secs(4));
    h.drain();
    assert!(h.closed().is_none());
}

#[test]
fn eof_without_close_reports_a_dropped_connection() {
    let mut h = Harness::whole();
    h.conn.handle_eof();
    h.drain();
    assert_eq!(h.closed(), Some(Closed::Dropped));
    assert!(h.sent.is_empty());
}

#[test]
fn sending_follows_the_fragmentation_rules() {
    let mut conn = Connection::new(WHOLE, T0);
    let whole = conn.send_header(DataKind::Text, 5, true, true).unwrap();
    assert_eq!(whole.as_bytes(), &[0x81, 0x05]);
    assert_eq!(conn.send_header(DataKind::Binary, 1, false, true), Err(SendError::NoMessageInProgress));
    let first = conn.send_header(DataKind::Binary, 300, true, false).unwrap();
    assert_eq!(first.as_bytes(), &[0x02, 126, 0x01, 0x2C]);
    assert_eq!(conn.send_header(DataKind::Binary, 1, true, true), Err(SendError::MessageInProgress));
    let last = conn.send_header(DataKind::Binary, 70000, false, true).unwrap();
    assert_eq!(last.as_bytes(), &[0x80, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
}

/// A stream that exercises every kind of event, used by the split tests.
fn mixed_stream() -> Vec<u8> {
    let mut input = frame(OpCode::Text, true, "héllo wörld".as_bytes());
    input.extend(frame(OpCode::Binary, true, &(0..=255u8).cycle().take(300).collect::<Vec<_>>()));
    input.extend(frame(OpCode::Text, false, &"€uro".as_bytes()[..2]));
    input.extend(frame(OpCode::Ping, true, b"p"));
    input.extend(frame(OpCode::Continuation, true, &"€uro".as_bytes()[2..]));
    input.extend(frame(OpCode::Binary, true, b""));
    input.extend(frame(OpCode::Pong, true, b"q"));
    input.extend(frame(OpCode::Close, true, &close_payload(1000, "done")));
    input
}

#[test]
fn input_split_at_every_offset_gives_the_same_events() {
    let input = mixed_stream();
    let mut reference = Harness::whole();
    reference.feed(&input);
    assert_eq!(reference.events.len(), 7, "{:?}", reference.events);
    let mut one_byte = Harness::whole();
    one_byte.feed_split(&input, &[1]);
    assert_eq!(one_byte.events, reference.events, "one byte at a time");
    for cut in 1..input.len() {
        let mut h = Harness::whole();
        h.feed_split(&input, &[cut, usize::MAX]);
        assert_eq!(h.events, reference.events, "split at {cut}");
        assert_eq!(h.sent, reference.sent, "split at {cut}");
    }
}

#[test]
fn chunked_input_split_at_every_offset_gives_the_same_messages() {
    let input = mixed_stream();
    let messages = |h: &Harness| {
        let mut out: Vec<(DataKind, Vec<u8>)> = Vec::new();
        for event in &h.events {
            if let Ev::Data(kind, bytes, first, _) = event {
                if *first {
                    out.push((*kind, Vec::new()));
                }
                out.last_mut().unwrap().1.extend_from_slice(bytes);
            }
        }
        out
    };
    let mut reference = Harness::whole();
    reference.feed(&input);
    for cut in 1..input.len() {
        let mut h = Harness::chunked(256);
        h.feed_split(&input, &[cut, 1, 3]);
        assert_eq!(messages(&h), reference.data(), "split at {cut}");
        assert_eq!(h.closed(), reference.closed());
    }
}

#[test]
fn connection_state_is_small() {
    // The per-connection state besides the caller's buffers; the README's RAM table quotes it.
    // Two control payloads (a pending pong and a pending close) are most of it.
    let size = core::mem::size_of::<Connection>();
    std::println!("size_of::<Connection>() = {size}");
    assert!(size <= 512, "Connection grew to {size} bytes");
}

#[test]
fn a_pending_event_dropped_unseen_still_releases_its_message() {
    let mut h = Harness::whole();
    let mut first = frame(OpCode::Binary, false, b"ab");
    first.extend(frame(OpCode::Continuation, true, b"cd"));
    let space = h.conn.read_buf(&mut h.rx);
    space[..first.len()].copy_from_slice(&first);
    h.conn.handle_read(&mut h.rx, first.len(), T0);
    let _ = h.conn.poll_pending(&mut h.rx);
    let mut second = frame(OpCode::Binary, false, b"ef");
    second.extend(frame(OpCode::Continuation, true, b"gh"));
    h.feed(&second);
    assert_eq!(h.data(), vec![(DataKind::Binary, b"efgh".to_vec())]);
}

// The client role (RFC 6455 sections 5.1 and 5.3).
#[path = "client_tests.rs"]
mod client;
// A server's shutdown waking a read (handle_stop).
#[path = "stop_tests.rs"]
mod stop;
