//! Property tests for the wire formats and the connection state machine, over the public API.
//!
//! The fuzz targets in `fuzz/` explore hostile input; these check, on every `cargo test`, that
//! well-formed input always round-trips, whatever its content and however it is split.

use espws::proto::utf8::Utf8Validator;
use espws::proto::{Closed, Config, Connection, DataKind, Delivery, Event, RecvBuf, Side};
use espws::wire::close::{encode_close_payload, parse_close_payload, CloseCode};
use espws::wire::frame::{masked_client_frame, EncodedHeader, FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use espws::wire::mask::{apply_mask, apply_mask_bytewise};
use espws::wire::Status;
use espws::Instant;
use proptest::prelude::*;

const T0: Instant = Instant::from_millis(1_000);

// ---------------------------------------------------------------------------------------------
// Frame headers
// ---------------------------------------------------------------------------------------------

fn opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

/// Lengths from every encoding form, with the boundaries between them likely.
fn payload_len() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..=125,
        126u64..=0xFFFF,
        0x1_0000u64..(1 << 63),
        prop::sample::select(vec![0, 125, 126, 127, 0xFFFF, 0x1_0000, (1 << 32) - 1, 1 << 32, (1 << 63) - 1]),
    ]
}

/// A header the parser accepts: control frames are final and at most 125 bytes.
fn valid_header() -> impl Strategy<Value = FrameHeader> {
    (any::<bool>(), opcode(), any::<Option<[u8; 4]>>(), payload_len()).prop_map(|(fin, opcode, mask, len)| {
        if opcode.is_control() {
            FrameHeader { fin: true, opcode, mask, payload_len: len % 126 }
        } else {
            FrameHeader { fin, opcode, mask, payload_len: len }
        }
    })
}

proptest! {
    #[test]
    fn frame_header_encode_then_parse_is_the_identity(
        header in valid_header(),
        trailing in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let encoded = EncodedHeader::new(&header);
        let bytes = encoded.as_bytes();
        prop_assert_eq!(bytes.len(), header.encoded_len());
        let mut wire = bytes.to_vec();
        wire.extend_from_slice(&trailing);
        prop_assert_eq!(FrameHeader::parse(&wire), Ok(Status::Complete(header, bytes.len())));
        for cut in 0..bytes.len() {
            prop_assert_eq!(FrameHeader::parse(&bytes[..cut]), Ok(Status::Partial));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Masking
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn apply_mask_equals_the_bytewise_definition(
        data in prop::collection::vec(any::<u8>(), 0..300),
        skip in 0usize..16,
        key in any::<[u8; 4]>(),
        offset in any::<u64>(),
    ) {
        // `skip` moves the slice's start, so every alignment of the wide loads is tried.
        let skip = skip.min(data.len());
        let mut fast = data.clone();
        let mut slow = data;
        apply_mask(&mut fast[skip..], key, offset);
        apply_mask_bytewise(&mut slow[skip..], key, offset);
        prop_assert_eq!(fast, slow);
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once(
        data in prop::collection::vec(any::<u8>(), 0..300),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        key in any::<[u8; 4]>(),
        offset in 0u64..(1 << 62),
    ) {
        let mut whole = data.clone();
        apply_mask(&mut whole, key, offset);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        cuts.push(data.len());
        cuts.sort_unstable();
        let mut pieces = data.clone();
        let mut start = 0;
        for cut in cuts {
            apply_mask(&mut pieces[start..cut], key, offset + start as u64);
            start = cut;
        }
        prop_assert_eq!(&pieces, &whole);
        // Masking is its own inverse.
        apply_mask(&mut pieces, key, offset);
        prop_assert_eq!(pieces, data);
    }
}

// ---------------------------------------------------------------------------------------------
// Close payloads
// ---------------------------------------------------------------------------------------------

fn allowed_code() -> impl Strategy<Value = CloseCode> {
    prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999].prop_map(CloseCode)
}

fn unicode(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..=max_chars).prop_map(String::from_iter)
}

/// The longest prefix of `s` within `max` bytes that ends on a character boundary.
fn cut_at_char_boundary(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

proptest! {
    #[test]
    fn close_payload_encode_then_parse_is_the_identity(code in allowed_code(), reason in unicode(80)) {
        prop_assert!(code.is_allowed_on_wire());
        let mut out = [0u8; 125];
        let n = encode_close_payload(code, &reason, &mut out);
        prop_assert!(n <= 125);
        let parsed = parse_close_payload(&out[..n]).unwrap();
        prop_assert_eq!(parsed.code, code);
        prop_assert_eq!(parsed.reason, cut_at_char_boundary(&reason, 123));
    }

    #[test]
    fn close_codes_outside_the_allowed_ranges_are_refused(code in any::<u16>(), reason in unicode(10)) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        let allowed = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        prop_assert_eq!(parse_close_payload(&payload).is_ok(), allowed);
    }
}

// ---------------------------------------------------------------------------------------------
// UTF-8 validation
// ---------------------------------------------------------------------------------------------

/// Bytes that are often valid UTF-8 and often broken in interesting ways.
fn utf8ish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        unicode(40).prop_map(String::into_bytes),
        (unicode(40), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(s, at, byte)| {
            let mut bytes = s.into_bytes();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            bytes
        }),
        (unicode(40), any::<prop::sample::Index>()).prop_map(|(s, at)| {
            // Truncated somewhere, often inside a code point.
            let mut bytes = s.into_bytes();
            bytes.truncate(at.index(bytes.len() + 1));
            bytes
        }),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #[test]
    fn utf8_validator_agrees_with_core_under_any_split(
        bytes in utf8ish(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        cuts.push(bytes.len());
        cuts.sort_unstable();
        let mut v = Utf8Validator::new();
        let mut start = 0;
        let mut ok = true;
        for cut in cuts {
            if v.feed(&bytes[start..cut]).is_err() {
                ok = false;
                break;
            }
            start = cut;
        }
        let ok = ok && v.finish().is_ok();
        prop_assert_eq!(ok, core::str::from_utf8(&bytes).is_ok(), "{:x?}", bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Control {
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Message {
    kind: DataKind,
    bytes: Vec<u8>,
    /// Where the message is cut into fragments (byte offsets, possibly inside a code point,
    /// possibly repeated, which makes empty fragments).
    cuts: Vec<usize>,
    /// Control frames before the first fragment, then after each fragment but the last.
    controls: Vec<Vec<Control>>,
    key: [u8; 4],
}

#[derive(Clone, Debug)]
struct Conversation {
    messages: Vec<Message>,
    close_code: CloseCode,
    close_reason: String,
}

fn control() -> impl Strategy<Value = Control> {
    let payload = prop::collection::vec(any::<u8>(), 0..=MAX_CONTROL_PAYLOAD);
    prop_oneof![payload.clone().prop_map(Control::Ping), payload.prop_map(Control::Pong)]
}

fn message(max_len: usize) -> impl Strategy<Value = Message> {
    let text = prop::collection::vec(any::<char>(), 0..=max_len / 4)
        .prop_map(|chars| (DataKind::Text, String::from_iter(chars).into_bytes()));
    let binary = prop::collection::vec(any::<u8>(), 0..=max_len).prop_map(|b| (DataKind::Binary, b));
    (
        prop_oneof![text, binary],
        prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        prop::collection::vec(prop::collection::vec(control(), 0..3), 6),
        any::<[u8; 4]>(),
    )
        .prop_map(|((kind, bytes), cuts, mut controls, key)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            controls.truncate(cuts.len() + 1);
            Message { kind, bytes, cuts, controls, key }
        })
}

fn conversation(max_len: usize) -> impl Strategy<Value = Conversation> {
    (prop::collection::vec(message(max_len), 0..5), allowed_code(), unicode(30)).prop_map(
        |(messages, close_code, reason)| Conversation {
            messages,
            close_code,
            close_reason: cut_at_char_boundary(&reason, 123).to_string(),
        },
    )
}

/// Read sizes: mostly tiny, sometimes whole buffers.
fn read_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..=8, 1usize..=64, 1usize..=4096], 1..10)
}

fn client_frame(opcode: OpCode, fin: bool, key: [u8; 4], payload: &[u8]) -> Vec<u8> {
    masked_client_frame((u8::from(fin) << 7) | opcode as u8, payload, key)
}

/// An event with owned data.
#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Data(DataKind, Vec<u8>, bool, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Closed(Closed, String),
}

impl Conversation {
    /// The masked byte stream a client sends.
    fn wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut frame_no = 0u8;
        let mut next_key = |key: [u8; 4]| {
            frame_no = frame_no.wrapping_add(1);
            key.map(|b| b.wrapping_add(frame_no))
        };
        for m in &self.messages {
            let bounds: Vec<usize> =
                [0].into_iter().chain(m.cuts.iter().copied()).chain([m.bytes.len()]).collect();
            for (i, piece) in bounds.windows(2).enumerate() {
                for c in &m.controls[i] {
                    let (opcode, payload) = match c {
                        Control::Ping(p) => (OpCode::Ping, p),
                        Control::Pong(p) => (OpCode::Pong, p),
                    };
                    out.extend(client_frame(opcode, true, next_key(m.key), payload));
                }
                let opcode = match (i, m.kind) {
                    (0, DataKind::Text) => OpCode::Text,
                    (0, DataKind::Binary) => OpCode::Binary,
                    _ => OpCode::Continuation,
                };
                let last = i + 2 == bounds.len();
                out.extend(client_frame(opcode, last, next_key(m.key), &m.bytes[piece[0]..piece[1]]));
            }
        }
        let mut close = self.close_code.0.to_be_bytes().to_vec();
        close.extend_from_slice(self.close_reason.as_bytes());
        out.extend(client_frame(OpCode::Close, true, [9, 8, 7, 6], &close));
        out
    }

    /// The events of Whole delivery: controls as they come, each message once complete.
    fn expected_events(&self) -> Vec<Ev> {
        let mut out = Vec::new();
        for m in &self.messages {
            for c in m.controls.iter().flatten() {
                out.push(match c {
                    Control::Ping(p) => Ev::Ping(p.clone()),
                    Control::Pong(p) => Ev::Pong(p.clone()),
                });
            }
            out.push(Ev::Data(m.kind, m.bytes.clone(), true, true));
        }
        out.push(Ev::Closed(
            Closed::Handshake { code: self.close_code, initiator: Side::Peer },
            self.close_reason.clone(),
        ));
        out
    }

    /// The frames the server sends: a pong for each ping, then the close echo.
    fn expected_transmits(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for c in self.messages.iter().flat_map(|m| m.controls.iter().flatten()) {
            if let Control::Ping(p) = c {
                let mut pong = vec![0x8A, p.len() as u8];
                pong.extend_from_slice(p);
                out.push(pong);
            }
        }
        let code = self.close_code.0.to_be_bytes();
        out.push(vec![0x88, 2, code[0], code[1]]);
        out
    }

    fn longest_message(&self) -> usize {
        self.messages.iter().map(|m| m.bytes.len()).max().unwrap_or(0)
    }
}

/// Drives a connection as a driver would, recording owned events and transmits.
struct Driver {
    conn: Connection,
    rx: RecvBuf<Vec<u8>>,
    events: Vec<Ev>,
    sent: Vec<Vec<u8>>,
}

impl Driver {
    fn new(config: Config, capacity: usize) -> Self {
        Driver {
            conn: Connection::new(config, T0),
            rx: RecvBuf::new(vec![0; capacity]),
            events: vec![],
            sent: vec![],
        }
    }

    /// Feeds `input` in reads of the given sizes (cycled); `usize::MAX` reads all that fits.
    fn feed(&mut self, input: &[u8], sizes: &[usize]) {
        let mut rest = input;
        let mut sizes = sizes.iter().copied().cycle();
        while !rest.is_empty() && !self.conn.is_closed() {
            let space = self.conn.read_buf(&mut self.rx);
            assert!(!space.is_empty(), "read_buf offered no space while open");
            let n = sizes.next().unwrap().min(rest.len()).min(space.len());
            space[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            self.conn.handle_read(&mut self.rx, n, T0);
            while let Some(event) = self.conn.poll_event(&mut self.rx) {
                self.events.push(match event {
                    Event::Data(d) => Ev::Data(d.kind, d.payload.to_vec(), d.first, d.last),
                    Event::Ping(p) => Ev::Ping(p.to_vec()),
                    Event::Pong(p) => Ev::Pong(p.to_vec()),
                    Event::Closed { how, reason } => Ev::Closed(how, reason.into()),
                });
                while let Some(frame) = self.conn.poll_transmit() {
                    self.sent.push(frame.as_bytes().to_vec());
                }
            }
        }
    }

    /// Merges chunks into whole messages, checking the chunk flags on the way.
    fn merged_events(&self) -> Vec<Ev> {
        let mut out = Vec::new();
        let mut current: Option<(DataKind, Vec<u8>)> = None;
        for event in &self.events {
            match event {
                Ev::Data(kind, bytes, first, last) => {
                    assert_eq!(*first, current.is_none(), "first flag out of order in {:?}", self.events);
                    let (k, acc) = current.get_or_insert_with(|| (*kind, Vec::new()));
                    assert_eq!(k, kind, "kind changed inside a message");
                    acc.extend_from_slice(bytes);
                    if *last {
                        let (k, acc) = current.take().unwrap();
                        out.push(Ev::Data(k, acc, true, true));
                    }
                }
                other => out.push(other.clone()),
            }
        }
        assert!(current.is_none(), "a message never ended");
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whole delivery with the tightest buffer the configuration promises to work with: any
    /// split of the stream gives the events of reading it all at once, which are the messages.
    #[test]
    fn whole_delivery_gives_the_same_events_for_any_split(
        conversation in conversation(1500),
        sizes in read_sizes(),
        slack in prop_oneof![Just(0usize), 0usize..512],
    ) {
        let capacity = (conversation.longest_message() + Config::buffer_overhead()).max(Config::MIN_BUFFER) + slack;
        let config = Config { delivery: Delivery::Whole, ..Config::default() };
        prop_assert!(config.effective_max_message(capacity) >= conversation.longest_message() as u64);
        let wire = conversation.wire();

        let mut at_once = Driver::new(config, capacity);
        at_once.feed(&wire, &[usize::MAX]);
        let mut split = Driver::new(config, capacity);
        split.feed(&wire, &sizes);

        prop_assert_eq!(&at_once.events, &conversation.expected_events());
        prop_assert_eq!(&split.events, &at_once.events);
        prop_assert_eq!(&at_once.sent, &conversation.expected_transmits());
        prop_assert_eq!(&split.sent, &at_once.sent);
        prop_assert!(split.conn.is_closed());
    }

    /// Chunked delivery through a small buffer: the chunks of each message, concatenated, are
    /// the message, and the control frames come in their order.
    #[test]
    fn chunked_delivery_through_a_small_buffer_reassembles_the_messages(
        conversation in conversation(3000),
        sizes in read_sizes(),
        capacity in Config::MIN_BUFFER..=512,
    ) {
        let config = Config { delivery: Delivery::Chunked, ..Config::default() };
        let wire = conversation.wire();
        let mut split = Driver::new(config, capacity);
        split.feed(&wire, &sizes);
        prop_assert_eq!(split.merged_events(), conversation.expected_events());
        prop_assert_eq!(&split.sent, &conversation.expected_transmits());
        prop_assert!(split.conn.is_closed());
    }
}
