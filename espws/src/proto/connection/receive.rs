//! The receiver: frame headers, payloads and control frames, in any number of pieces.

use core::ops::Range;

use super::{Connection, Incoming, Ready, Recv, Span, State};
use crate::proto::control::Payload;
use crate::proto::deflate::Inflater;
use crate::proto::{Closed, Config, DataKind, Delivery, ProtocolError, RecvBuf, Side, Storage};
use crate::time::Instant;
use crate::wire::close::{self, CloseCode};
use crate::wire::frame::{FrameError, FrameHeader, OpCode};
use crate::wire::mask::apply_mask;
use crate::wire::Status;

impl Connection {
    /// [`handle_read`](Self::handle_read) for a driver that read `n` bytes into the `room` bytes
    /// [`read_buf`](Self::read_buf) gave: bounded by that space rather than by the buffer, the
    /// count is added to the buffer's end without reading its end and size again.
    #[inline(always)]
    pub(crate) fn handle_read_in<B: Storage>(
        &mut self,
        rx: &mut RecvBuf<B>,
        n: usize,
        room: usize,
        now: Instant,
    ) {
        if self.take_read(rx, n, |rx| rx.commit_spare(n.min(room))) {
            self.last_rx = now;
        }
    }

    /// What every way of recording a read shares: on a closed connection the bytes are dropped;
    /// otherwise `commit` adds them to the buffer. Gives whether any arrived, for the caller to
    /// date them.
    #[inline(always)]
    pub(super) fn take_read<B: Storage>(
        &mut self,
        rx: &mut RecvBuf<B>,
        n: usize,
        commit: impl FnOnce(&mut RecvBuf<B>),
    ) -> bool {
        if self.state == State::Closed {
            rx.clear();
            return false;
        }
        commit(rx);
        if n == 0 {
            return false;
        }
        // Any bytes prove the peer is alive, whether or not they complete a pong.
        self.ping_sent = None;
        true
    }

    /// The general receiver: any frame, in any number of pieces.
    #[inline(never)]
    pub(super) fn advance<B: Storage>(
        &mut self,
        rx: &mut RecvBuf<B>,
        mut inflate: Option<&mut dyn Inflater>,
    ) -> Option<Ready> {
        loop {
            if let Some(ready) = self.closed_event.take() {
                return Some(ready);
            }
            if self.state == State::Closed {
                return None;
            }
            match self.recv {
                Recv::Header => {
                    let (header, rsv1) = match FrameHeader::parse_rsv1(rx.pending(), self.deflate) {
                        Ok(Status::Partial) => return None,
                        Ok(Status::Complete(header, len)) => {
                            rx.consume(len);
                            header
                        }
                        Err(e) => {
                            self.fail(ProtocolError::Frame(e));
                            continue;
                        }
                    };
                    if let Err(e) = self.on_header(header, rsv1, rx.capacity()) {
                        self.fail(e);
                    }
                }
                Recv::Control { opcode, len, mask } => {
                    let len = usize::from(len);
                    if rx.pending().len() < len {
                        return None;
                    }
                    let range = rx.start..rx.start + len;
                    apply_mask(&mut rx.bytes_mut()[range.clone()], mask, 0);
                    rx.consume(len);
                    self.recv = Recv::Header;
                    if let Some(ready) = self.on_control(opcode, range, rx.bytes()) {
                        return Some(ready);
                    }
                }
                Recv::Data { remaining, mask, offset, fin }
                    if self.incoming.is_some_and(|incoming| incoming.compressed) =>
                {
                    let Some(inflate) = inflate.as_deref_mut() else {
                        // The driver negotiated compression but polls without an inflater.
                        self.fail(ProtocolError::Frame(FrameError::ReservedBits));
                        continue;
                    };
                    match self.on_compressed(rx, inflate, remaining, mask, offset, fin) {
                        Ok(Inflated::Ready(ready)) => return Some(ready),
                        Ok(Inflated::NeedInput) => return None,
                        Ok(Inflated::Again) => {}
                        Err(e) => self.fail(e),
                    }
                }
                Recv::Data { remaining, mask, offset, fin } => {
                    let n = remaining.min(rx.pending().len() as u64) as usize;
                    if n == 0 && remaining > 0 {
                        return None;
                    }
                    let range = rx.start..rx.start + n;
                    apply_mask(&mut rx.bytes_mut()[range.clone()], mask, offset);
                    rx.consume(n);
                    let remaining = remaining - n as u64;
                    self.recv = if remaining == 0 {
                        Recv::Header
                    } else {
                        Recv::Data { remaining, mask, offset: offset + n as u64, fin }
                    };
                    match self.on_payload(range, remaining == 0 && fin, rx) {
                        Ok(Some(ready)) => return Some(ready),
                        Ok(None) => {}
                        Err(e) => self.fail(e),
                    }
                }
            }
        }
    }

    /// Whether the fast path may take the next frame: this is a server (a client's frames are
    /// unmasked), the connection is open (so no Closed event waits to be reported, and data is
    /// delivered), and it waits for a frame header between messages. Otherwise the general path
    /// reads the frame, with the same result.
    pub(super) fn whole_frames_allowed(&self) -> bool {
        self.role.is_server()
            && self.state == State::Open
            && matches!(self.recv, Recv::Header)
            && self.incoming.is_none()
    }

    /// The fast path for the most common input: a complete, unfragmented, masked text or binary
    /// frame with a 7- or 16-bit length, where [`whole_frames`](Connection::whole_frames) lets
    /// the caller try it. Anything else (or anything wrong with it) is left untouched for the
    /// general path, which gives the same result.
    #[inline(always)]
    pub(super) fn whole_frame<B: Storage>(&mut self, rx: &mut RecvBuf<B>) -> Option<Ready> {
        let (start, capacity) = (rx.start, rx.capacity());
        // Sliced once: the frame's pieces below are taken from it without further checks.
        let pending = rx.pending_mut();
        let (b0, b1) = (pending[0], pending[1]);
        // FIN, no RSV bits, text or binary, masked.
        let kind = match b0 {
            0x81 => DataKind::Text,
            0x82 => DataKind::Binary,
            _ => return None,
        };
        let (len, head) = match b1 {
            0x80..=0xFD => (usize::from(b1 & 0x7F), 6),
            0xFE if pending.len() >= 4 => (usize::from(u16::from_be_bytes([pending[2], pending[3]])), 8),
            _ => return None,
        };
        let too_big = len as u64 > self.max_message
            || (self.delivery == Delivery::Whole && len + Config::buffer_overhead() > capacity);
        let frame = pending.get_mut(..head + len)?;
        if too_big {
            return None;
        }
        let (header, payload) = frame.split_at_mut(head);
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&header[head - 4..]);
        apply_mask(payload, mask, 0);
        let invalid = kind == DataKind::Text && simdutf8::basic::from_utf8(payload).is_err();
        // Checked above: the whole frame is pending.
        rx.consume_pending(head + len);
        if invalid {
            self.fail(ProtocolError::InvalidUtf8);
            return self.closed_event.take();
        }
        Some(Ready::Data { kind, span: Span::at(start + head, len), first: true, last: true })
    }

    fn on_header(&mut self, header: FrameHeader, rsv1: bool, capacity: usize) -> Result<(), ProtocolError> {
        let mask = match (self.role.is_server(), header.mask) {
            (true, Some(mask)) => mask,
            (true, None) => return Err(ProtocolError::UnmaskedFrame),
            // A zero key unmasks nothing: a client reads server frames as they come.
            (false, None) => [0; 4],
            (false, Some(_)) => return Err(ProtocolError::MaskedFrame),
        };
        if rsv1 && matches!(header.opcode, OpCode::Continuation | OpCode::Close | OpCode::Ping | OpCode::Pong)
        {
            return Err(ProtocolError::MisplacedRsv1);
        }
        if header.opcode.is_control() {
            // The parser already bounded control payloads to 125 bytes.
            self.recv = Recv::Control { opcode: header.opcode, len: header.payload_len as u8, mask };
            return Ok(());
        }
        let incoming = match (header.opcode, self.incoming.as_mut()) {
            (OpCode::Continuation, Some(incoming)) => incoming,
            (OpCode::Continuation, None) => return Err(ProtocolError::OrphanContinuation),
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (opcode, None) => {
                let kind = if opcode == OpCode::Text { DataKind::Text } else { DataKind::Binary };
                self.incoming.insert(Incoming {
                    kind,
                    total: 0,
                    delivered: false,
                    compressed: rsv1,
                    fresh: rsv1,
                })
            }
        };
        // Enforced on the announced length, before a single payload byte is buffered. A
        // compressed message is measured as it inflates instead: it is delivered in chunks from
        // the inflate window, so its compressed length buffers nothing.
        if !incoming.compressed {
            let total = incoming.total.saturating_add(header.payload_len);
            if total > self.delivery.max_message(self.max_message, capacity) {
                return Err(ProtocolError::MessageTooBig);
            }
            incoming.total = total;
        }
        self.recv = Recv::Data { remaining: header.payload_len, mask, offset: 0, fin: header.fin };
        Ok(())
    }

    fn on_control(&mut self, opcode: OpCode, range: Range<usize>, bytes: &[u8]) -> Option<Ready> {
        let payload = &bytes[range.clone()];
        match opcode {
            OpCode::Ping => {
                if self.state == State::Open && !self.close_queued {
                    self.pong = Some(Payload::copy_of(payload));
                    self.transmit = true;
                }
                Some(Ready::Ping(Span::of(range)))
            }
            OpCode::Pong => Some(Ready::Pong(Span::of(range))),
            _ => {
                let frame = match close::parse_close_payload(payload) {
                    Ok(frame) => frame,
                    Err(e) => {
                        self.fail(ProtocolError::InvalidClose(e));
                        return None;
                    }
                };
                let initiator = match self.state {
                    State::Closing { .. } => Side::Local,
                    _ => {
                        // Echo the peer's code, as RFC 6455 section 5.5.1 suggests; a close
                        // without a code is answered with 1000.
                        let code =
                            if frame.code == CloseCode::NO_STATUS { CloseCode::NORMAL } else { frame.code };
                        self.queue_close(code, "");
                        Side::Peer
                    }
                };
                let reason_start = range.end - frame.reason.len();
                self.finish(
                    Closed::Handshake { code: frame.code, initiator },
                    Some(Span::of(reason_start..range.end)),
                );
                self.closed_event.take()
            }
        }
    }

    fn on_payload<B: Storage>(
        &mut self,
        range: Range<usize>,
        last: bool,
        rx: &mut RecvBuf<B>,
    ) -> Result<Option<Ready>, ProtocolError> {
        let Some(incoming) = self.incoming.as_mut() else {
            return Ok(None);
        };
        let kind = incoming.kind;
        let first = !incoming.delivered;
        if kind == DataKind::Text {
            self.utf8.feed(&rx.bytes()[range.clone()]).map_err(|_| ProtocolError::InvalidUtf8)?;
            if last {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        }
        if last {
            self.incoming = None;
        }
        if matches!(self.state, State::Closing { .. }) {
            // After our close frame, data is read only to find the peer's close.
            return Ok(None);
        }
        match self.delivery {
            Delivery::Whole => {
                if !range.is_empty() {
                    if rx.held_len == 0 {
                        rx.held_start = range.start;
                    } else {
                        let end = rx.held_start + rx.held_len;
                        if end != range.start {
                            rx.bytes_mut().copy_within(range.clone(), end);
                        }
                    }
                    rx.held_len += range.len();
                }
                if !last {
                    return Ok(None);
                }
                let held = rx.held_start..rx.held_start + rx.held_len;
                // Released as it is delivered: the event borrows the buffer, so nothing moves
                // the message until the event is gone, and then nothing is held any more.
                rx.held_len = 0;
                Ok(Some(Ready::Data { kind, span: Span::of(held), first: true, last: true }))
            }
            Delivery::Chunked => {
                // Empty middle frames carry nothing worth an event.
                if range.is_empty() && !last {
                    return Ok(None);
                }
                if let Some(incoming) = self.incoming.as_mut() {
                    incoming.delivered = true;
                }
                Ok(Some(Ready::Data { kind, span: Span::of(range), first, last }))
            }
        }
    }

    /// Inflates what is buffered of a compressed message's frame, one window's worth at most:
    /// limits and UTF-8 apply to the inflated bytes, which are delivered in chunks from the window.
    /// Not inlined: its frame stays off the stack of connections that never compress.
    #[inline(never)]
    fn on_compressed<B: Storage>(
        &mut self,
        rx: &mut RecvBuf<B>,
        inflate: &mut dyn Inflater,
        remaining: u64,
        mask: [u8; 4],
        offset: u64,
        fin: bool,
    ) -> Result<Inflated, ProtocolError> {
        let Some(mut incoming) = self.incoming else {
            return Ok(Inflated::Again);
        };
        let available = remaining.min(rx.pending().len() as u64) as usize;
        if available == 0 && remaining > 0 {
            return Ok(Inflated::NeedInput);
        }
        if core::mem::take(&mut incoming.fresh) {
            inflate.start_message();
        }
        let range = rx.start..rx.start + available;
        apply_mask(&mut rx.bytes_mut()[range.clone()], mask, offset);
        // At most one byte past the limit is ever inflated: that byte fails the message.
        let room = self.max_message.saturating_sub(incoming.total).saturating_add(1);
        let end = fin && available as u64 == remaining;
        let step = inflate
            .step(&rx.bytes()[range.clone()], end, usize::try_from(room).unwrap_or(usize::MAX))
            .map_err(|_| ProtocolError::BadCompression)?;
        let consumed = step.consumed;
        if consumed < available {
            // Masked again, so that the next step unmasks them like any other pending bytes.
            apply_mask(
                &mut rx.bytes_mut()[range.start + consumed..range.end],
                mask,
                offset + consumed as u64,
            );
        }
        rx.consume(consumed);
        let remaining = remaining - consumed as u64;
        let frame_done = remaining == 0 && step.drained;
        self.recv = if frame_done {
            Recv::Header
        } else {
            Recv::Data { remaining, mask, offset: offset + consumed as u64, fin }
        };
        incoming.total += step.out.len() as u64;
        if incoming.total > self.max_message {
            return Err(ProtocolError::MessageTooBig);
        }
        let last = frame_done && fin;
        if incoming.kind == DataKind::Text {
            // Text is validated as it inflates, so an invalid byte fails the message at once.
            self.utf8.feed(inflate.output(step.out.clone())).map_err(|_| ProtocolError::InvalidUtf8)?;
            if last {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        }
        let first = !incoming.delivered;
        let deliver = !matches!(self.state, State::Closing { .. }) && (last || !step.out.is_empty());
        incoming.delivered |= deliver;
        self.incoming = if last { None } else { Some(incoming) };
        if !deliver {
            return Ok(Inflated::Again);
        }
        Ok(Inflated::Ready(Ready::Inflated { kind: incoming.kind, span: Span::of(step.out), first, last }))
    }
}

/// What an inflate step came to.
enum Inflated {
    Ready(Ready),
    NeedInput,
    Again,
}
