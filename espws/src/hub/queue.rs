//! One client's queue: whole frames in a ring, copied out in order.

use super::Outgoing;

/// One client's queue: whole frames, each behind a 4-byte length, in a ring.
pub(super) struct Queue<'a> {
    pub(super) ring: &'a mut [u8],
    pub(super) start: usize,
    pub(super) len: usize,
    /// Bytes of the frame at the front still to be copied out, once it has been started.
    pub(super) in_flight: usize,
}

impl Queue<'_> {
    pub(super) fn free(&self) -> usize {
        self.ring.len() - self.len
    }

    pub(super) fn clear(&mut self) {
        self.start = 0;
        self.len = 0;
        self.in_flight = 0;
    }

    /// Drops every queued frame but the rest of the one being copied out, which the connection
    /// must finish before it may close.
    pub(super) fn keep_in_flight(&mut self) {
        self.len = self.in_flight;
    }

    pub(super) fn put(&mut self, bytes: &[u8]) {
        let capacity = self.ring.len();
        let at = (self.start + self.len) % capacity;
        let first = bytes.len().min(capacity - at);
        self.ring[at..at + first].copy_from_slice(&bytes[..first]);
        self.ring[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.len += bytes.len();
    }

    pub(super) fn peek(&self, offset: usize, out: &mut [u8]) {
        let capacity = self.ring.len();
        let at = (self.start + offset) % capacity;
        let first = out.len().min(capacity - at);
        out[..first].copy_from_slice(&self.ring[at..at + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.ring[..rest]);
    }

    pub(super) fn skip(&mut self, n: usize) {
        self.start = (self.start + n) % self.ring.len();
        self.len -= n;
    }

    /// Queues one frame, or says it does not fit.
    pub(super) fn push_frame(&mut self, header: &[u8], payload: &[u8]) -> bool {
        let frame_len = header.len() + payload.len();
        if 4 + frame_len > self.free() {
            return false;
        }
        self.put(&(frame_len as u32).to_le_bytes());
        self.put(header);
        self.put(payload);
        true
    }

    /// Copies out as many whole frames as fit in `out`, or a piece of one that does not fit.
    pub(super) fn pop(&mut self, out: &mut [u8]) -> Outgoing {
        if self.in_flight > 0 {
            let n = self.in_flight.min(out.len());
            self.peek(0, &mut out[..n]);
            self.skip(n);
            self.in_flight -= n;
            return if self.in_flight > 0 { Outgoing::Partial(n) } else { Outgoing::Frames(n) };
        }
        let mut written = 0;
        while self.len >= 4 {
            let mut len = [0u8; 4];
            self.peek(0, &mut len);
            let frame_len = u32::from_le_bytes(len) as usize;
            if written + frame_len > out.len() {
                if written == 0 && !out.is_empty() {
                    // Too large for the buffer: stream it out piece by piece.
                    self.skip(4);
                    self.in_flight = frame_len;
                    return self.pop(out);
                }
                break;
            }
            self.peek(4, &mut out[written..written + frame_len]);
            self.skip(4 + frame_len);
            written += frame_len;
        }
        if written == 0 {
            Outgoing::Empty
        } else {
            Outgoing::Frames(written)
        }
    }
}
