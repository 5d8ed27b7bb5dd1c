//! The connection state machine (RFC 6455 sections 5 to 7), after the opening handshake.

use core::ops::Range;
use core::time::Duration;

mod inflating;
mod receive;

use super::control::{ControlFrame, Payload};
use super::deflate::Inflater;
use super::utf8::Utf8Validator;
use super::{
    Closed, Config, Data, DataKind, Delivery, Event, ProtocolError, RecvBuf, Role, SendError, Storage,
};
use crate::time::Instant;
use crate::wire::close::CloseCode;
use crate::wire::frame::{EncodedHeader, FrameHeader, OpCode};

/// Where the receiver is in the frame stream.
#[derive(Copy, Clone, Debug)]
enum Recv {
    Header,
    Control { opcode: OpCode, len: u8, mask: [u8; 4] },
    Data { remaining: u64, mask: [u8; 4], offset: u64, fin: bool },
}

/// The data message being received.
#[derive(Copy, Clone, Debug)]
struct Incoming {
    kind: DataKind,
    /// The message's size so far, which the size limit applies to: announced payload bytes, or
    /// for a compressed message the bytes inflated.
    total: u64,
    delivered: bool,
    /// RSV1 was set on its first frame: the payload is DEFLATE.
    compressed: bool,
    /// The inflater was not yet told that this message started.
    fresh: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// This side sent close and waits for the peer's until the deadline.
    Closing {
        deadline: Instant,
    },
    Closed,
}

/// What a driver's next read waits for ([`Connection::read_wait`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReadWait {
    /// Nothing: no timer runs.
    Forever,
    /// Silence this long (the [`Connection::idle_timeout`], in milliseconds).
    Idle { millis: u64 },
    /// The [`Connection::poll_timeout`] deadline.
    Until(Instant),
}

/// A stretch of the receive buffer, kept small so that events move cheaply.
#[derive(Copy, Clone, Debug)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn of(range: Range<usize>) -> Self {
        Span { start: range.start as u32, len: range.len() as u32 }
    }

    /// The `len` bytes from `start`.
    fn at(start: usize, len: usize) -> Self {
        Span { start: start as u32, len: len as u32 }
    }

    fn range(self) -> Range<usize> {
        // Added as usize: on a 64-bit target the sum cannot wrap, so the slice's check that
        // the range does not run backwards folds away.
        self.start as usize..self.start as usize + self.len as usize
    }
}

/// An event found by the receiver, as positions in the buffer.
#[derive(Copy, Clone, Debug)]
enum Ready {
    Data {
        kind: DataKind,
        span: Span,
        first: bool,
        last: bool,
    },
    /// A chunk of a compressed message, in the inflate window rather than the receive buffer.
    Inflated {
        kind: DataKind,
        span: Span,
        first: bool,
        last: bool,
    },
    Ping(Span),
    Pong(Span),
    /// The peer's reason is in the buffer; otherwise the reason follows from `how`.
    Closed {
        how: Closed,
        peer_reason: Option<Span>,
    },
}

/// An event found in the receive buffer and not yet looked at: it holds positions only and
/// borrows nothing, so that a driver can find it in a loop and then turn it into an [`Event`]
/// with [`Connection::event`].
#[derive(Copy, Clone, Debug)]
#[must_use = "an event found must be looked at with Connection::event"]
pub struct PendingEvent(Ready);

/// One WebSocket connection after its opening handshake, as a state machine.
///
/// See the [module documentation](super) for how a driver calls it.
#[derive(Debug)]
pub struct Connection {
    /// Of the [`Config`], what receiving reads: the size limit and the delivery. Its timers are
    /// kept in milliseconds below, so that the connection does not carry the whole `Config`.
    max_message: u64,
    delivery: Delivery,
    role: Role,
    state: State,
    recv: Recv,
    incoming: Option<Incoming>,
    utf8: Utf8Validator,
    /// The `Closed` event, reported once.
    closed_event: Option<Ready>,
    /// How the connection ended, once it has.
    outcome: Option<Closed>,
    outgoing: Option<DataKind>,
    pong: Option<Payload>,
    close: Option<Payload>,
    close_queued: bool,
    ping_due: bool,
    /// permessage-deflate was negotiated: RSV1 may start a message.
    deflate: bool,
    /// Whether a pong, ping or close frame waits: one flag for the hot loop to test.
    transmit: bool,
    /// Whether the fast path may take the next frame ([`whole_frames_allowed`]): one flag for
    /// every poll to test. Set where what it sums up changes: after the general receiver, on
    /// closing, on finishing.
    ///
    /// [`whole_frames_allowed`]: Self::whole_frames_allowed
    whole_frames: bool,
    /// The ping interval and pong timeout in milliseconds (0: no keepalive), so that deadlines
    /// cost an addition.
    ping_ms: u64,
    pong_ms: u64,
    close_ms: u64,
    /// Input arrived through [`handle_read_untimed`](Self::handle_read_untimed) since the last
    /// timeout: its time counts as that of the next timeout.
    untimed_input: bool,
    last_rx: Instant,
    ping_sent: Option<Instant>,
}

impl Connection {
    /// A server connection that starts now, right after the 101 response.
    pub fn new(config: Config, now: Instant) -> Self {
        Self::with_role(config, Role::Server, now)
    }

    /// A connection of either role that starts now, right after the 101.
    pub fn with_role(config: Config, role: Role, now: Instant) -> Self {
        Connection {
            max_message: config.max_message,
            delivery: config.delivery,
            role,
            state: State::Open,
            recv: Recv::Header,
            incoming: None,
            utf8: Utf8Validator::new(),
            closed_event: None,
            outcome: None,
            outgoing: None,
            pong: None,
            close: None,
            close_queued: false,
            ping_due: false,
            deflate: false,
            transmit: false,
            whole_frames: role.is_server(),
            ping_ms: config.ping_interval.map_or(0, |d| millis(d).max(1)),
            pong_ms: millis(config.pong_timeout),
            close_ms: millis(config.close_timeout),
            untimed_input: false,
            last_rx: now,
            ping_sent: None,
        }
    }

    /// How long this side waits for the peer's close frame after sending its own
    /// ([`Config::close_timeout`], in whole milliseconds).
    pub fn close_timeout(&self) -> Duration {
        Duration::from_millis(self.close_ms)
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the connection is over; the driver drops the transport once transmits are flushed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// How the connection ended, once it has.
    pub fn outcome(&self) -> Option<Closed> {
        self.outcome
    }

    /// Whether a fragmented message is being sent: nothing but its next fragment (or a
    /// control frame) may go out now.
    pub fn is_mid_message(&self) -> bool {
        self.outgoing.is_some()
    }

    /// Whether this side may still send data frames.
    pub fn can_send(&self) -> bool {
        // `whole_frames` implies an open connection, and a queued close frame a closing or
        // closed one: after an event from the fast path, nothing more need be looked at.
        self.whole_frames || (!self.close_queued && self.state == State::Open)
    }

    /// Prepares `rx` for the next read and returns the space to read into.
    ///
    /// Moves unparsed bytes to the front when that frees worthwhile room. Never empty while the
    /// connection is open: the size checks on frame headers keep a buffered message within the
    /// buffer.
    #[inline(always)]
    pub fn read_buf<'b, B: Storage>(&mut self, rx: &'b mut RecvBuf<B>) -> &'b mut [u8] {
        rx.make_room();
        rx.spare_mut()
    }

    /// Records `n` bytes read into [`read_buf`](Self::read_buf) at `now`.
    #[inline(always)]
    pub fn handle_read<B: Storage>(&mut self, rx: &mut RecvBuf<B>, n: usize, now: Instant) {
        if self.take_read(rx, n, |rx| rx.commit(n)) {
            self.last_rx = now;
        }
    }

    /// Records `n` bytes read, for drivers that do not read a clock for every read.
    ///
    /// The input is dated by the next [`handle_timeout`](Self::handle_timeout), which
    /// [`poll_timeout`](Self::poll_timeout) then asks for at least every quarter of the ping
    /// interval: a keepalive ping is never early, and at most a quarter interval late.
    #[inline(always)]
    pub fn handle_read_untimed<B: Storage>(&mut self, rx: &mut RecvBuf<B>, n: usize) {
        if self.take_read(rx, n, |rx| rx.commit(n)) {
            self.untimed_input = true;
        }
    }

    /// Records an end of stream that a server's shutdown caused by shutting the read side (to
    /// wake a blocked read), not the peer: an open connection starts closing with 1001; one
    /// already closing waits on for the peer's close frame. Gives `true` when the driver
    /// should pause before its next read, which would return at once.
    pub fn handle_stop(&mut self, now: Instant) -> bool {
        if self.can_send() {
            // The driver writes the close frame, then reads on for the peer's.
            let _ = self.close(CloseCode::GOING_AWAY, "server shutting down", now);
            false
        } else {
            self.state != State::Closed
        }
    }

    /// Records that the transport reached end of stream or failed.
    pub fn handle_eof(&mut self) {
        if self.state != State::Closed {
            self.finish(Closed::Dropped, None);
        }
    }

    /// The next event found in the received bytes, or `None` when more input is needed.
    ///
    /// After each event, write out what [`poll_transmit`](Self::poll_transmit) yields: a ping's
    /// pong and the close reply are queued there.
    pub fn poll_event<'b, B: Storage>(&mut self, rx: &'b mut RecvBuf<B>) -> Option<Event<'b>> {
        let pending = self.poll_pending(rx)?;
        Some(self.event(pending, rx))
    }

    /// Like [`poll_event`](Self::poll_event), in two steps: find the event without borrowing
    /// the buffer, then look at it with [`event`](Self::event).
    #[inline(always)]
    pub fn poll_pending<B: Storage>(&mut self, rx: &mut RecvBuf<B>) -> Option<PendingEvent> {
        self.poll_pending_with(rx, || None)
    }

    /// [`poll_pending`](Self::poll_pending) with the inflater for compressed messages that
    /// `inflate` gives, if any; asked for only off the fast path. One path for both: the fast
    /// path's event goes straight to the caller's match whether or not compression is on (a
    /// driver that chose between two polls kept it in memory in between, about 50 instructions
    /// more per message).
    #[inline(always)]
    pub(crate) fn poll_pending_with<'i, B: Storage>(
        &mut self,
        rx: &mut RecvBuf<B>,
        inflate: impl FnOnce() -> Option<&'i mut dyn Inflater>,
    ) -> Option<PendingEvent> {
        debug_assert_eq!(self.whole_frames, self.whole_frames_allowed());
        if self.whole_frames {
            // Waiting for a header with less than two bytes: nothing to do, and the most common call.
            if rx.pending_len() < 2 {
                return None;
            }
            if let Some(ready) = self.whole_frame(rx) {
                return Some(PendingEvent(ready));
            }
        }
        let ready = self.advance(rx, inflate());
        self.whole_frames = self.whole_frames_allowed();
        ready.map(PendingEvent)
    }

    /// The event a [`poll_pending`](Self::poll_pending) found, borrowing the buffer. Call it
    /// before anything else touches the buffer.
    #[inline(always)]
    pub fn event<'b, B: Storage>(&self, pending: PendingEvent, rx: &'b RecvBuf<B>) -> Event<'b> {
        self.event_with(pending, rx, || None)
    }

    /// [`event`](Self::event) for a [`poll_pending_with`](Self::poll_pending_with), whose
    /// inflated chunks are in the window of the inflater `inflate` gives.
    #[inline(always)]
    pub(crate) fn event_with<'b, B: Storage>(
        &self,
        pending: PendingEvent,
        rx: &'b RecvBuf<B>,
        inflate: impl FnOnce() -> Option<&'b dyn Inflater>,
    ) -> Event<'b> {
        let bytes = rx.bytes();
        match pending.0 {
            Ready::Data { kind, span, first, last } => {
                Event::Data(Data { kind, payload: &bytes[span.range()], first, last })
            }
            // Found only by a poll that had the inflater.
            Ready::Inflated { kind, span, first, last } => {
                let payload = inflate().map_or(&[][..], |inflate| inflate.output(span.range()));
                Event::Data(Data { kind, payload, first, last })
            }
            Ready::Ping(span) => Event::Ping(&bytes[span.range()]),
            Ready::Pong(span) => Event::Pong(&bytes[span.range()]),
            Ready::Closed { how, peer_reason } => Event::Closed {
                how,
                reason: match peer_reason {
                    // Close reasons were validated as UTF-8 when parsed.
                    Some(span) => core::str::from_utf8(&bytes[span.range()]).unwrap_or(""),
                    None => how.explanation(),
                },
            },
        }
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) has a frame to give: a cheap check for
    /// hot loops.
    #[inline(always)]
    pub fn wants_transmit(&self) -> bool {
        self.transmit
    }

    /// The next control frame to write (pong, ping or close), in the order they must go out.
    pub fn poll_transmit(&mut self) -> Option<ControlFrame> {
        // The common case, checked without moving the 126-byte payloads around.
        if !self.transmit {
            return None;
        }
        let frame = if let Some(pong) = self.pong.take() {
            ControlFrame::new(OpCode::Pong, pong.as_bytes(), self.role.next_mask())
        } else if core::mem::take(&mut self.ping_due) {
            let stamp = self.ping_sent.unwrap_or(self.last_rx).as_millis().to_be_bytes();
            ControlFrame::new(OpCode::Ping, &stamp, self.role.next_mask())
        } else {
            let close = self.close.take()?;
            ControlFrame::new(OpCode::Close, close.as_bytes(), self.role.next_mask())
        };
        self.transmit = self.pong.is_some() || self.ping_due || self.close.is_some();
        Some(frame)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Open => match (self.ping_sent, self.ping_ms) {
                (Some(sent), _) => Some(sent.after_millis(self.pong_ms)),
                (None, 0) => None,
                // Undated input is dated at the next quarter-interval tick.
                (None, ping) if self.untimed_input => Some(self.last_rx.after_millis(ping / 4)),
                (None, ping) => Some(self.last_rx.after_millis(ping)),
            },
            State::Closing { deadline } => Some(deadline),
            State::Closed => None,
        }
    }

    /// The inactivity timeout, when that is the only timer running: the connection is open, no
    /// ping is outstanding, and a ping is due after this long without input.
    ///
    /// A driver whose transport can time out a read after a span of silence (a blocking socket's
    /// read timeout) may arm it with this and call [`handle_idle_timeout`](Self::handle_idle_timeout)
    /// when it expires, instead of reading a clock for every read: the span restarts with every
    /// read by itself. Otherwise use [`poll_timeout`](Self::poll_timeout).
    pub fn idle_timeout(&self) -> Option<core::time::Duration> {
        match (self.state, self.ping_sent, self.ping_ms) {
            (State::Open, None, ping) if ping > 0 => Some(core::time::Duration::from_millis(ping)),
            _ => None,
        }
    }

    /// [`idle_timeout`](Self::idle_timeout) and [`poll_timeout`](Self::poll_timeout) in one
    /// answer, for a driver that asks before every read (the blocking one): one look at the
    /// state, and no division for the idle span.
    #[inline(always)]
    pub(crate) fn read_wait(&self) -> ReadWait {
        // `whole_frames` implies an open connection: after a poll that just looked at it, the
        // state need not be looked at again.
        // Without keepalive no ping is ever sent, so `ping_sent` need not be looked at.
        if self.whole_frames || self.state == State::Open {
            return match self.ping_sent {
                _ if self.ping_ms == 0 => ReadWait::Forever,
                None => ReadWait::Idle { millis: self.ping_ms },
                Some(sent) => ReadWait::Until(sent.after_millis(self.pong_ms)),
            };
        }
        match self.state {
            State::Closing { deadline } => ReadWait::Until(deadline),
            // Closed: the open connection was answered above.
            State::Open | State::Closed => ReadWait::Forever,
        }
    }

    /// The transport saw no input for the whole [`idle_timeout`](Self::idle_timeout): ping now.
    pub fn handle_idle_timeout(&mut self, now: Instant) {
        if self.idle_timeout().is_some() {
            self.last_rx = now;
            self.ping_sent = Some(now);
            self.ping_due = true;
            self.transmit = true;
        }
    }

    /// Acts on deadlines that have passed: sends keepalive pings, gives up on silent peers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if core::mem::take(&mut self.untimed_input) {
            // The latest undated input came no later than now.
            self.last_rx = now;
        }
        match self.state {
            State::Open => {
                if let Some(sent) = self.ping_sent {
                    if now >= sent.after_millis(self.pong_ms) {
                        self.queue_close(CloseCode::GOING_AWAY, "no answer to ping");
                        self.finish(Closed::PongTimeout, None);
                    }
                } else if self.ping_ms > 0 {
                    // The same arithmetic as poll_timeout, so that a deadline it reports is the one acted on.
                    if now >= self.last_rx.after_millis(self.ping_ms) {
                        self.ping_sent = Some(now);
                        self.ping_due = true;
                        self.transmit = true;
                    }
                }
            }
            State::Closing { deadline } if now >= deadline => {
                self.finish(Closed::CloseTimeout, None);
            }
            State::Closing { .. } | State::Closed => {}
        }
    }

    /// Encodes the header of an outgoing data frame of `len` bytes; write the payload after it.
    ///
    /// A client's header carries a fresh masking key ([`EncodedHeader::mask`]): the payload must
    /// be masked with it ([`apply_mask`](crate::wire::mask::apply_mask)) as it is written.
    ///
    /// For a whole message pass `first` and `last`; to stream one, pass `first` on the first
    /// frame and `last` on the final one. Control frames may go out between the frames.
    #[inline(always)]
    pub fn send_header(
        &mut self,
        kind: DataKind,
        len: u64,
        first: bool,
        last: bool,
    ) -> Result<EncodedHeader, SendError> {
        if !self.can_send() {
            return Err(SendError::Closed);
        }
        // `outgoing` is written only when it changes: not for a whole message.
        let opcode = match (first, self.outgoing) {
            (true, None) => {
                if !last {
                    self.outgoing = Some(kind);
                }
                kind.opcode()
            }
            (false, Some(_)) => {
                if last {
                    self.outgoing = None;
                }
                OpCode::Continuation
            }
            (true, Some(_)) => return Err(SendError::MessageInProgress),
            (false, None) => return Err(SendError::NoMessageInProgress),
        };
        Ok(match self.role {
            Role::Server => EncodedHeader::unmasked(last, opcode, len),
            Role::Client(keys) => {
                EncodedHeader::new(&FrameHeader { fin: last, opcode, mask: Some(keys()), payload_len: len })
            }
        })
    }

    /// Starts the closing handshake: queues a close frame and waits for the peer's.
    pub fn close(&mut self, code: CloseCode, reason: &str, now: Instant) -> Result<(), SendError> {
        if !code.is_allowed_on_wire() {
            return Err(SendError::CloseCodeNotAllowed);
        }
        if !self.can_send() {
            return Err(SendError::Closed);
        }
        self.queue_close(code, reason);
        self.state = State::Closing { deadline: now.after_millis(self.close_ms) };
        self.whole_frames = false;
        Ok(())
    }

    fn queue_close(&mut self, code: CloseCode, reason: &str) {
        if !self.close_queued {
            self.close_queued = true;
            self.close = Some(Payload::close(code, reason));
            self.transmit = true;
        }
    }

    fn finish(&mut self, how: Closed, peer_reason: Option<Span>) {
        self.state = State::Closed;
        self.whole_frames = false;
        self.outcome = Some(how);
        self.closed_event = Some(Ready::Closed { how, peer_reason });
    }

    /// Fails the connection (RFC 6455 section 7.1.7): the close frame with the error's code goes
    /// out before the transport is dropped.
    fn fail(&mut self, error: ProtocolError) {
        match self.state {
            State::Open => {
                self.queue_close(error.close_code(), error.reason());
                self.finish(Closed::Failed(error), None);
            }
            // Our close frame is already out; nothing more to say.
            State::Closing { .. } => self.finish(Closed::Failed(error), None),
            State::Closed => {}
        }
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(duration: Duration) -> u64 {
    duration.as_secs().saturating_mul(1000).saturating_add(u64::from(duration.subsec_millis()))
}

// The per-connection state on 32-bit targets such as the ESP32, checked whenever the crate is
// built for one; the README quotes it. 416 bytes on riscv32imc (400 on i686, where a u64 is
// aligned to 4), 456 while the connection kept its whole `Config`.
#[cfg(target_pointer_width = "32")]
const _: () = assert!(core::mem::size_of::<Connection>() <= 416);

#[cfg(test)]
mod tests;
