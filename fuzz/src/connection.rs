//! The `connection` target: the state machine driven as a driver would, with invariant checks
//! after every step, and the encoder that turns a readable [`ConnInput`] into the byte layout
//! `arbitrary` decodes, so that seed files can be generated and checked.
//!
//! Checked: no panic; `read_buf` never empty while open; once closed, only the single `Closed`
//! event and no deadline; at most one `Closed` event, and exactly one after end of stream;
//! transmitted control frames well-formed (at most 127 bytes, FIN, unmasked, valid close
//! payloads), nothing after the close frame, each ping answered by a pong with its payload;
//! the close code sent matches the outcome (a failure's own code, the echo of the peer's code,
//! 1001 for a pong timeout, the application's code after `close()`); no message delivered
//! beyond `max_message` (or the buffer, in Whole delivery); text valid UTF-8; chunk flags in
//! order; `send_header` and `close` agree with a model; due timers act, early ones do not, and a
//! driver calling `handle_timeout` at a fixed `now` reaches a later deadline in a few rounds.
//!
//! The harness keeps no history that grows with the input: counters, the message in progress
//! (at most 3 bytes of an unfinished code point) and the expected close frame are all it holds.
//!
//! The same harness drives the client role for the `client` target: there every frame this side
//! sends must be masked (with [`CLIENT_KEY`]), and its payload is checked once unmasked.

use core::time::Duration;

use arbitrary::Arbitrary;
use espws::proto::{Closed, Config, Connection, DataKind, Delivery, Event, RecvBuf, Role, SendError, Side};
use espws::wire::close::{parse_close_payload, CloseCode};
use espws::wire::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use espws::wire::mask::apply_mask_bytewise;
use espws::wire::Status;
use espws::Instant;

/// The largest receive buffer the connection target tries.
pub const MAX_BUFFER: usize = 4096;

/// The masking key of every frame the client role sends. A real client takes a fresh random key
/// per frame; one fixed, non-zero key keeps a crash reproducible and still shows a frame that
/// was not masked, or masked twice.
pub const CLIENT_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The client role's key source, for [`Role::Client`].
pub fn client_key() -> [u8; 4] {
    CLIENT_KEY
}

/// A reason text with one-, two-, three- and four-byte characters, cycled by `Op::Close`.
pub const REASON_SOURCE: &str = "bye 👋 — clôture normale, 終了します; Ünïcödé ✓ 𝄞 ";

/// The whole fuzz input of the `connection` target.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct ConnInput<'a> {
    /// Configuration and buffer.
    pub setup: Setup,
    /// What the driver does, in order; the rest of the stream is read once they run out.
    pub ops: Vec<Op>,
    /// The bytes the client sends (all remaining input bytes, as they are).
    pub stream: &'a [u8],
}

/// The connection's configuration, its receive buffer and how the driver polls.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// `Config::max_message`; `u16::MAX` stands for "no limit" (`u64::MAX`).
    pub max_message: u16,
    /// `Delivery::Chunked` rather than `Whole`.
    pub chunked: bool,
    /// `Config::ping_interval`, in milliseconds.
    pub ping_interval_ms: Option<u16>,
    /// `Config::pong_timeout`, in milliseconds.
    pub pong_timeout_ms: u16,
    /// `Config::close_timeout`, in milliseconds.
    pub close_timeout_ms: u16,
    /// The buffer is `MIN_BUFFER + buffer_extra % (MAX_BUFFER - MIN_BUFFER + 1)` bytes.
    pub buffer_extra: u16,
    /// The virtual clock's start, in milliseconds (large values test saturation).
    pub start_ms: u64,
    /// Drain in two steps, `poll_pending` then `event`, as the drivers do, not `poll_event`.
    pub two_step: bool,
}

/// One thing the driver does.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read up to this many bytes of the stream (0: a `handle_read` of zero bytes).
    Read(u16),
    /// Advance the clock by this many milliseconds and handle the timers.
    Advance(u16),
    /// The application sends a data frame header.
    Send {
        /// Binary rather than text.
        binary: bool,
        /// The payload length.
        len: u16,
        /// First frame of the message.
        first: bool,
        /// Last frame of the message.
        last: bool,
    },
    /// The application starts the closing handshake.
    Close {
        /// Mapped by [`close_code`] into mostly plausible codes.
        code: u16,
        /// The reason is the first this-many characters of [`REASON_SOURCE`].
        reason_chars: u8,
    },
    /// The transport ends.
    Eof,
    /// A read timed out after `idle_timeout()` of silence: the clock moves on by that much and
    /// the driver calls `handle_idle_timeout` (a no-op when no idle timeout is armed).
    Idle,
}

/// Maps a fuzzed number to a close code: mostly 1000..=1015 and 3000..=4999, sometimes raw.
pub fn close_code(raw: u16) -> CloseCode {
    match raw >> 14 {
        0 | 1 => CloseCode(1000 + raw % 16),
        2 => CloseCode(3000 + raw % 2000),
        _ => CloseCode(raw),
    }
}

/// The first `chars` characters of [`REASON_SOURCE`], cycled.
pub fn reason(chars: u8) -> String {
    REASON_SOURCE.chars().cycle().take(usize::from(chars)).collect()
}

impl Setup {
    /// The connection's configuration.
    pub fn config(&self) -> Config {
        Config {
            max_message: if self.max_message == u16::MAX { u64::MAX } else { u64::from(self.max_message) },
            delivery: if self.chunked { Delivery::Chunked } else { Delivery::Whole },
            ping_interval: self.ping_interval_ms.map(|ms| Duration::from_millis(ms.into())),
            pong_timeout: Duration::from_millis(self.pong_timeout_ms.into()),
            close_timeout: Duration::from_millis(self.close_timeout_ms.into()),
        }
    }

    /// The receive buffer's size.
    pub fn buffer(&self) -> usize {
        Config::MIN_BUFFER + usize::from(self.buffer_extra) % (MAX_BUFFER - Config::MIN_BUFFER + 1)
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding for seeds: the inverse of what `#[derive(Arbitrary)]` decodes (arbitrary 1.x):
// integers little-endian, `bool` one byte (low bit), `Option` a bool then the value, an enum a
// `u32` `x` choosing variant `(x * count) >> 32`, a `Vec` each element behind a `true` byte and
// a final `false` byte, and the last `&[u8]` field all remaining bytes.
// ---------------------------------------------------------------------------------------------

fn enum_tag(variant: u32, count: u32) -> [u8; 4] {
    let x = (u64::from(variant) << 32).div_ceil(u64::from(count));
    (x as u32).to_le_bytes()
}

impl Setup {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.max_message.to_le_bytes());
        out.push(u8::from(self.chunked));
        match self.ping_interval_ms {
            Some(ms) => {
                out.push(1);
                out.extend_from_slice(&ms.to_le_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.pong_timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.close_timeout_ms.to_le_bytes());
        out.extend_from_slice(&self.buffer_extra.to_le_bytes());
        out.extend_from_slice(&self.start_ms.to_le_bytes());
        out.push(u8::from(self.two_step));
    }
}

impl Op {
    fn encode(&self, out: &mut Vec<u8>) {
        const VARIANTS: u32 = 6;
        match *self {
            Op::Read(n) => {
                out.extend_from_slice(&enum_tag(0, VARIANTS));
                out.extend_from_slice(&n.to_le_bytes());
            }
            Op::Advance(ms) => {
                out.extend_from_slice(&enum_tag(1, VARIANTS));
                out.extend_from_slice(&ms.to_le_bytes());
            }
            Op::Send { binary, len, first, last } => {
                out.extend_from_slice(&enum_tag(2, VARIANTS));
                out.push(u8::from(binary));
                out.extend_from_slice(&len.to_le_bytes());
                out.push(u8::from(first));
                out.push(u8::from(last));
            }
            Op::Close { code, reason_chars } => {
                out.extend_from_slice(&enum_tag(3, VARIANTS));
                out.extend_from_slice(&code.to_le_bytes());
                out.push(reason_chars);
            }
            Op::Eof => out.extend_from_slice(&enum_tag(4, VARIANTS)),
            Op::Idle => out.extend_from_slice(&enum_tag(5, VARIANTS)),
        }
    }
}

impl ConnInput<'_> {
    /// The bytes that decode into this input.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.setup.encode(&mut out);
        for op in &self.ops {
            out.push(1);
            op.encode(&mut out);
        }
        out.push(0);
        out.extend_from_slice(self.stream);
        out
    }

    /// Decodes fuzz bytes as libfuzzer-sys does for a typed target.
    pub fn decode(bytes: &[u8]) -> arbitrary::Result<ConnInput<'_>> {
        ConnInput::arbitrary_take_rest(arbitrary::Unstructured::new(bytes))
    }
}

// ---------------------------------------------------------------------------------------------
// Building client frames, for seeds and tests.
// ---------------------------------------------------------------------------------------------

/// A masked client frame; `b0` is the raw first byte (FIN, RSV and opcode bits).
pub fn client_frame_raw(b0: u8, key: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        opcode: OpCode::from_bits(b0 & 0x0F).unwrap_or(OpCode::Binary),
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut out = espws::wire::frame::EncodedHeader::new(&header).as_bytes().to_vec();
    out[0] = b0;
    let start = out.len();
    out.extend_from_slice(payload);
    espws::wire::mask::apply_mask_bytewise(&mut out[start..], key, 0);
    out
}

/// A masked client frame.
pub fn client_frame(opcode: OpCode, fin: bool, key: [u8; 4], payload: &[u8]) -> Vec<u8> {
    client_frame_raw((u8::from(fin) << 7) | opcode as u8, key, payload)
}

/// An unmasked server frame; `b0` is the raw first byte (FIN, RSV and opcode bits).
pub fn server_frame_raw(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = client_frame_raw(b0, [0; 4], payload);
    // The same frame without its mask bit and (all-zero) key.
    let key_at = out.len() - payload.len() - 4;
    out.drain(key_at..key_at + 4);
    out[1] &= 0x7F;
    out
}

/// An unmasked server frame.
pub fn server_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    server_frame_raw((u8::from(fin) << 7) | opcode as u8, payload)
}

/// A close payload: the code, then the reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

// ---------------------------------------------------------------------------------------------
// The connection harness.
// ---------------------------------------------------------------------------------------------

/// The data message being delivered in chunks.
struct InMessage {
    kind: DataKind,
    total: u64,
    /// Text received so far (bounded by `max_message`, which the harness checks), and how much
    /// of it is known to be valid UTF-8.
    text: Vec<u8>,
    valid_up_to: usize,
}

/// The harness: a connection, its buffer, a virtual clock and what the checks remember.
pub struct Harness<'a> {
    conn: Connection,
    /// The key this side's frames must carry: `None` for a server.
    mask: Option<[u8; 4]>,
    rx: RecvBuf<Vec<u8>>,
    config: Config,
    capacity: usize,
    now: Instant,
    two_step: bool,
    stream: &'a [u8],
    /// Bytes committed since the last drain, to bound how many events a drain may yield.
    fresh_bytes: usize,
    closed_events: u32,
    close_frames: u32,
    pings_sent: u32,
    /// The code of the first close frame sent.
    sent_close_code: Option<CloseCode>,
    /// The application's successful `close()`: code and the reason as it must go out.
    local_close: Option<(CloseCode, String)>,
    /// The close frame that `close()` queued has been seen on the wire.
    local_close_sent: bool,
    /// The application's data message being sent, by the model.
    outgoing: Option<DataKind>,
    in_message: Option<InMessage>,
    /// Payload of the pong the last ping asked for, until it is transmitted.
    expected_pong: Option<Vec<u8>>,
}

impl<'a> Harness<'a> {
    /// A fresh connection of `role` for `setup`, with `stream` (the peer's bytes) to read from.
    pub fn new(setup: &Setup, role: Role, stream: &'a [u8]) -> Self {
        let config = setup.config();
        let capacity = setup.buffer();
        let now = Instant::from_millis(setup.start_ms);
        Harness {
            conn: Connection::with_role(config, role, now),
            mask: role.next_mask(),
            rx: RecvBuf::new(vec![0; capacity]),
            config,
            capacity,
            now,
            two_step: setup.two_step,
            stream,
            fresh_bytes: 0,
            closed_events: 0,
            close_frames: 0,
            pings_sent: 0,
            sent_close_code: None,
            local_close: None,
            local_close_sent: false,
            outgoing: None,
            in_message: None,
            expected_pong: None,
        }
    }

    /// Runs a whole input as the server: the ops, then the rest of the stream, then end of
    /// stream.
    pub fn run(input: &ConnInput<'_>) {
        Harness::run_as(Role::Server, &input.setup, &input.ops, input.stream);
    }

    /// Runs `ops`, then the rest of `stream`, then end of stream, as `role`.
    pub fn run_as(role: Role, setup: &Setup, ops: &[Op], stream: &'a [u8]) {
        let mut h = Harness::new(setup, role, stream);
        for op in ops {
            h.apply(*op);
        }
        while !h.stream.is_empty() && !h.conn.is_closed() {
            h.read(usize::MAX);
        }
        h.apply(Op::Eof);
        h.finish();
    }

    /// Whether the application may still send, by the model.
    fn may_send(&self) -> bool {
        !self.conn.is_closed() && self.local_close.is_none() && self.close_frames == 0
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Read(n) => self.read(usize::from(n)),
            Op::Advance(ms) => self.advance(u64::from(ms)),
            Op::Send { binary, len, first, last } => self.send(binary, len, first, last),
            Op::Close { code, reason_chars } => self.close(close_code(code), &reason(reason_chars)),
            Op::Eof => {
                self.conn.handle_eof();
                assert!(self.conn.is_closed(), "closed after handle_eof");
                self.drain();
            }
            Op::Idle => self.idle(),
        }
        self.check_steady();
    }

    fn read(&mut self, n: usize) {
        let closed = self.conn.is_closed();
        let space = self.conn.read_buf(&mut self.rx);
        if !closed {
            assert!(!space.is_empty(), "read_buf offered no space while the connection is open");
        }
        let n = n.min(space.len()).min(self.stream.len());
        space[..n].copy_from_slice(&self.stream[..n]);
        self.stream = &self.stream[n..];
        self.conn.handle_read(&mut self.rx, n, self.now);
        self.fresh_bytes += n;
        self.drain();
    }

    fn advance(&mut self, ms: u64) {
        self.now = Instant::from_millis(self.now.as_millis().saturating_add(ms));
        let now = self.now;
        let before = self.conn.poll_timeout();
        let frames_before = self.close_frames;
        let pings_before = self.pings_sent;
        let was_closed = self.conn.is_closed();
        // Spurious and due calls alike; a due deadline must be acted on, and a driver that
        // calls again while the deadline stays due must reach a later one in a few rounds.
        for round in 0..4 {
            let due = self.conn.poll_timeout().is_some_and(|d| d <= now);
            self.conn.handle_timeout(now);
            self.drain();
            if round == 0 {
                match before {
                    Some(deadline) if deadline <= now => {
                        assert!(
                            self.conn.is_closed() || self.pings_sent > pings_before,
                            "a due deadline {deadline:?} at {now:?} neither pinged nor closed"
                        );
                    }
                    _ => {
                        assert_eq!(self.conn.is_closed(), was_closed, "closed by a timer not yet due");
                        assert_eq!(self.close_frames, frames_before, "close frame from a timer not yet due");
                        assert_eq!(self.pings_sent, pings_before, "ping from a timer not yet due");
                    }
                }
            }
            if !due {
                break;
            }
        }
        if let Some(deadline) = self.conn.poll_timeout() {
            assert!(deadline > now, "deadline {deadline:?} still due at {now:?} after 4 rounds");
        }
    }

    fn idle(&mut self) {
        let idle = self.conn.idle_timeout();
        if idle.is_some() {
            assert!(!self.conn.is_closed() && self.conn.can_send(), "idle timeout armed when not open");
        }
        if let Some(span) = idle {
            self.now = self.now + span;
        }
        let pings_before = self.pings_sent;
        let closed_before = self.conn.is_closed();
        self.conn.handle_idle_timeout(self.now);
        self.drain();
        let pinged = self.pings_sent - pings_before;
        assert_eq!(pinged, u32::from(idle.is_some()), "idle timeout {idle:?} sent {pinged} pings");
        assert_eq!(self.conn.is_closed(), closed_before, "an idle timeout closed the connection");
        if idle.is_some() {
            assert_eq!(self.conn.idle_timeout(), None, "idle timeout still armed with a ping outstanding");
            assert_eq!(
                self.conn.poll_timeout(),
                Some(self.now + self.config.pong_timeout),
                "after an idle ping, the deadline is the pong timeout"
            );
        }
    }

    fn send(&mut self, binary: bool, len: u16, first: bool, last: bool) {
        let kind = if binary { DataKind::Binary } else { DataKind::Text };
        let expected = if !self.may_send() {
            Err(SendError::Closed)
        } else {
            match (first, self.outgoing) {
                (true, None) | (false, Some(_)) => Ok(()),
                (true, Some(_)) => Err(SendError::MessageInProgress),
                (false, None) => Err(SendError::NoMessageInProgress),
            }
        };
        let result = self.conn.send_header(kind, u64::from(len), first, last);
        match (result, expected) {
            (Ok(header), Ok(())) => {
                let Ok(Status::Complete(parsed, n)) = FrameHeader::parse(header.as_bytes()) else {
                    panic!("send_header produced an unparsable header {:x?}", header.as_bytes());
                };
                assert_eq!(n, header.as_bytes().len());
                let opcode = if first {
                    if binary {
                        OpCode::Binary
                    } else {
                        OpCode::Text
                    }
                } else {
                    OpCode::Continuation
                };
                assert_eq!(
                    parsed,
                    FrameHeader { fin: last, opcode, mask: self.mask, payload_len: len.into() }
                );
                self.outgoing = if last { None } else { Some(self.outgoing.unwrap_or(kind)) };
            }
            (Err(e), Err(want)) => assert_eq!(e, want, "send_header refused for the wrong reason"),
            (got, want) => panic!("send_header: got {got:?}, the model expected {want:?}"),
        }
    }

    fn close(&mut self, code: CloseCode, reason: &str) {
        let expected = if !code.is_allowed_on_wire() {
            Err(SendError::CloseCodeNotAllowed)
        } else if !self.may_send() {
            Err(SendError::Closed)
        } else {
            Ok(())
        };
        let result = self.conn.close(code, reason, self.now);
        assert_eq!(result, expected, "close({code}) disagrees with the model");
        if result.is_ok() {
            let mut end = reason.len().min(123);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            self.local_close = Some((code, reason[..end].to_string()));
            assert_eq!(
                self.conn.poll_timeout(),
                Some(self.now + self.config.close_timeout),
                "after close() the deadline is the close timeout"
            );
            self.drain();
            assert!(self.local_close_sent, "close() queued no close frame");
        }
    }

    /// Takes every event and, after each, every transmit, as a driver does.
    fn drain(&mut self) {
        let budget = self.fresh_bytes + 2;
        self.fresh_bytes = 0;
        let mut events = 0usize;
        loop {
            let closed_before = self.conn.is_closed();
            let event = if self.two_step {
                let Some(pending) = self.conn.poll_pending(&mut self.rx) else { break };
                self.conn.event(pending, &self.rx)
            } else {
                let Some(event) = self.conn.poll_event(&mut self.rx) else { break };
                event
            };
            events += 1;
            if trace() {
                eprintln!("event at {:?}: {event:?}", self.now);
            }
            assert!(events <= budget, "more events ({events}) than fresh bytes allow ({budget})");
            let (closed_events, local_close) = (self.closed_events, self.local_close.is_some());
            let ping = check_event(
                &event,
                closed_before,
                closed_events,
                local_close,
                &self.config,
                self.capacity,
                &mut self.in_message,
            );
            if let Event::Closed { how, reason } = event {
                assert!(self.conn.is_closed(), "Closed event from an open connection");
                assert_eq!(Some(how), self.conn.outcome(), "the event and outcome() disagree");
                if !matches!(how, Closed::Handshake { .. }) {
                    assert_eq!(reason, how.explanation(), "the reason of {how:?}");
                }
                self.closed_events += 1;
            }
            if let Some(payload) = ping {
                // The pong is queued only while this side may still send.
                if self.conn.can_send() {
                    self.expected_pong = Some(payload);
                }
            }
            self.flush();
        }
        self.flush();
    }

    fn flush(&mut self) {
        let mut count = 0;
        loop {
            let wants = self.conn.wants_transmit();
            let Some(frame) = self.conn.poll_transmit() else {
                assert!(!wants, "wants_transmit() but poll_transmit gave nothing");
                break;
            };
            assert!(wants, "poll_transmit gave a frame that wants_transmit() denied");
            count += 1;
            assert!(count <= 3, "poll_transmit keeps yielding frames");
            self.check_transmit(frame.as_bytes());
        }
        assert!(self.expected_pong.is_none(), "a ping was not answered with a pong");
    }

    fn check_transmit(&mut self, bytes: &[u8]) {
        if trace() {
            eprintln!("transmit at {:?}: {bytes:x?}", self.now);
        }
        let key_len = if self.mask.is_some() { 4 } else { 0 };
        assert!(bytes.len() <= 2 + key_len + MAX_CONTROL_PAYLOAD, "control frame of {} bytes", bytes.len());
        let Ok(Status::Complete(header, n)) = FrameHeader::parse(bytes) else {
            panic!("transmitted frame does not parse: {bytes:x?}");
        };
        assert!(header.fin, "control frame without FIN");
        assert_eq!(header.mask, self.mask, "a server's frames are unmasked, a client's masked with its key");
        assert!(header.opcode.is_control(), "poll_transmit yielded a data frame");
        assert_eq!(n as u64 + header.payload_len, bytes.len() as u64, "frame length mismatch");
        assert_eq!(self.close_frames, 0, "a frame after the close frame: {bytes:x?}");
        let mut unmasked = [0u8; MAX_CONTROL_PAYLOAD];
        let payload = &mut unmasked[..bytes.len() - n];
        payload.copy_from_slice(&bytes[n..]);
        if let Some(key) = header.mask {
            apply_mask_bytewise(payload, key, 0);
        }
        let payload = &*payload;
        match header.opcode {
            OpCode::Pong => {
                let expected = self.expected_pong.take().expect("an unsolicited pong");
                assert_eq!(payload, &expected[..], "pong payload differs from the ping's");
            }
            OpCode::Ping => {
                assert_eq!(payload.len(), 8, "keepalive ping carries an 8-byte stamp");
                self.pings_sent += 1;
            }
            OpCode::Close => {
                let frame = parse_close_payload(payload)
                    .unwrap_or_else(|e| panic!("invalid close payload sent ({e:?}): {payload:x?}"));
                assert!(frame.code.is_allowed_on_wire() && !payload.is_empty(), "close code {}", frame.code);
                if let Some((code, reason)) = &self.local_close {
                    assert_eq!((frame.code, frame.reason), (*code, reason.as_str()), "local close frame");
                    self.local_close_sent = true;
                }
                self.close_frames += 1;
                self.sent_close_code = Some(frame.code);
            }
            _ => unreachable!("not a control opcode"),
        }
    }

    /// Checks that hold between operations.
    fn check_steady(&self) {
        assert_eq!(self.conn.can_send(), self.may_send(), "can_send disagrees with the model");
        assert!(self.closed_events <= 1, "more than one Closed event");
        if self.conn.is_closed() {
            assert_eq!(self.conn.poll_timeout(), None, "a deadline after the connection closed");
            assert!(self.conn.outcome().is_some(), "closed without an outcome");
        } else {
            assert_eq!(self.closed_events, 0, "a Closed event while still open");
            assert!(self.conn.outcome().is_none());
        }
    }

    /// Checks the end: exactly one Closed event, and the close frame that matches the outcome.
    pub fn finish(mut self) {
        self.drain();
        assert!(self.conn.is_closed());
        assert_eq!(self.closed_events, 1, "exactly one Closed event");
        assert_eq!(self.conn.poll_timeout(), None);
        assert!(self.conn.poll_event(&mut self.rx).is_none(), "an event after Closed");
        assert_eq!(self.conn.send_header(DataKind::Binary, 1, true, true), Err(SendError::Closed));
        assert!(self.conn.close(CloseCode::NORMAL, "", self.now).is_err());
        let outcome = self.conn.outcome().expect("an outcome");
        if trace() {
            eprintln!(
                "outcome {outcome:?}; close frames {}, code {:?}; pings sent {}; local close {:?}",
                self.close_frames, self.sent_close_code, self.pings_sent, self.local_close
            );
        }
        let local = self.local_close.as_ref().map(|(code, _)| *code);
        assert!(self.close_frames <= 1);
        match outcome {
            Closed::Failed(e) => match local {
                Some(code) => assert_eq!(self.sent_close_code, Some(code)),
                None => assert_eq!(
                    self.sent_close_code,
                    Some(e.close_code()),
                    "failing with {e:?} must send close code {}",
                    e.close_code()
                ),
            },
            Closed::PongTimeout => {
                assert_eq!((local, self.sent_close_code), (None, Some(CloseCode::GOING_AWAY)))
            }
            Closed::Handshake { code, initiator: Side::Peer } => {
                assert_eq!(local, None);
                let echo = if code == CloseCode::NO_STATUS { CloseCode::NORMAL } else { code };
                assert_eq!(self.sent_close_code, Some(echo), "the peer's close is echoed");
            }
            Closed::Handshake { initiator: Side::Local, .. } | Closed::CloseTimeout => {
                assert!(local.is_some(), "{outcome:?} without a local close");
                assert_eq!(self.sent_close_code, local);
            }
            Closed::Dropped => assert_eq!(self.sent_close_code, local, "a drop sends nothing new"),
        }
    }
}

/// Whether to print what happens (`ESPWS_FUZZ_TRACE=1`), for looking into a crash.
pub(crate) fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ESPWS_FUZZ_TRACE").is_some())
}

/// Checks one event; returns a ping's payload.
fn check_event(
    event: &Event<'_>,
    closed_before: bool,
    closed_events: u32,
    local_close: bool,
    config: &Config,
    capacity: usize,
    in_message: &mut Option<InMessage>,
) -> Option<Vec<u8>> {
    assert_eq!(closed_events, 0, "an event after the Closed event: {event:?}");
    if closed_before {
        assert!(matches!(event, Event::Closed { .. }), "{event:?} after the connection closed");
    }
    match *event {
        Event::Data(d) => {
            assert!(!local_close, "data delivered after this side sent close");
            match config.delivery {
                Delivery::Whole => {
                    assert!(d.first && d.last, "a chunk in Whole delivery");
                    let limit = config.effective_max_message(capacity);
                    assert!(d.payload.len() as u64 <= limit, "{} bytes over {limit}", d.payload.len());
                    if d.kind == DataKind::Text {
                        assert!(core::str::from_utf8(d.payload).is_ok(), "invalid UTF-8 delivered as text");
                        assert!(d.text().is_some());
                    }
                }
                Delivery::Chunked => check_chunk(d, config.max_message, in_message),
            }
            None
        }
        Event::Ping(p) => {
            assert!(p.len() <= MAX_CONTROL_PAYLOAD);
            Some(p.to_vec())
        }
        Event::Pong(p) => {
            assert!(p.len() <= MAX_CONTROL_PAYLOAD);
            None
        }
        Event::Closed { reason, .. } => {
            assert!(reason.len() <= 123, "close reason of {} bytes", reason.len());
            None
        }
    }
}

fn check_chunk(d: espws::Data<'_>, max_message: u64, in_message: &mut Option<InMessage>) {
    match in_message {
        None => assert!(d.first, "a chunk with first=false but no message in progress"),
        Some(m) => {
            assert!(!d.first, "first=true inside a message");
            assert_eq!(m.kind, d.kind, "a message's kind changed between chunks");
        }
    }
    let m = in_message.get_or_insert_with(|| InMessage {
        kind: d.kind,
        total: 0,
        text: Vec::new(),
        valid_up_to: 0,
    });
    m.total += d.payload.len() as u64;
    assert!(m.total <= max_message, "{} bytes delivered for a message, max_message {max_message}", m.total);
    if d.kind == DataKind::Text {
        m.text.extend_from_slice(d.payload);
        match core::str::from_utf8(&m.text[m.valid_up_to..]) {
            Ok(_) => m.valid_up_to = m.text.len(),
            Err(e) if e.error_len().is_none() => m.valid_up_to += e.valid_up_to(),
            Err(_) => panic!("invalid UTF-8 delivered in a text chunk"),
        }
        // Keep only the unfinished code point, so the harness holds at most 3 bytes.
        let tail = m.text.split_off(m.valid_up_to);
        m.text = tail;
        m.valid_up_to = 0;
    }
    if d.last {
        assert!(m.text.is_empty(), "a text message ended inside a code point");
        *in_message = None;
    }
}
