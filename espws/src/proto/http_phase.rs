//! The HTTP phase of a served connection, sans-IO: request heads go in; an HTTP answer, or the
//! 101 with the client's admission, comes out.
//!
//! Every driver runs this one machine, so that all runtimes answer, refuse and log alike:
//!
//! 1. after each read, call [`HttpPhase::handle_input`] with the receive buffer's pending bytes;
//! 2. do what the [`Step`] says: read more (until [`HttpPhase::poll_timeout`], then
//!    [`HttpPhase::handle_timeout`]), write an answer, or write the 101 and run the WebSocket.
//!
//! ```
//! use espws::proto::http_phase::{HttpPhase, Step, HEAD_BUFFER};
//! use espws::wire::http::Request;
//! use espws::{Declined, Instant, Policy, Service};
//! use core::time::Duration;
//!
//! struct Everyone;
//! impl Service for Everyone {
//!     type Admission = ();
//!     fn admit(&self, _req: &Request<'_, '_>) -> Result<(), Declined> {
//!         Ok(())
//!     }
//! }
//!
//! let now = Instant::from_millis(0);
//! let mut phase = HttpPhase::new(1, None, Duration::from_secs(5), 16 * 1024, now);
//! let mut out = [0u8; HEAD_BUFFER];
//! let head = b"GET /ws HTTP/1.1\r\nHost: device\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
//! match phase.handle_input(&head[..20], false, now, &Policy::default(), &Everyone, &mut out) {
//!     Step::Read => {} // not a whole head yet
//!     _ => panic!("a partial head waits for more"),
//! }
//! match phase.handle_input(head, false, now, &Policy::default(), &Everyone, &mut out) {
//!     Step::Upgrade { len, client, .. } => {
//!         assert!(out[..len].starts_with(b"HTTP/1.1 101 "));
//!         assert_eq!(client.path(), "/ws");
//!     }
//!     _ => panic!("a valid upgrade is accepted"),
//! }
//! ```

use core::time::Duration;

use super::handshake::{self, Answer, HeadError, Policy, Refusal};
use super::inline_str::InlineStr;
use super::service::{Client, PeerLabel, Service};
use crate::time::Instant;
use crate::wire::http::{self, Request, StatusCode, EMPTY_HEADER, MAX_HEADERS};
use crate::wire::Status;

/// Room the driver gives [`HttpPhase`] for a response head: a 101, an error answer, or the
/// head of a route's response.
pub const HEAD_BUFFER: usize = 512;

/// The longest refusal sentence (with the request's origin in it, cut to fit).
const REASON: usize = 200;

/// Says why `refusal` refused `req` in one sentence, with what to do about it: for a foreign
/// origin, the origin itself and how to allow it (a page opened from a file sends `null`).
fn explain(refusal: Refusal, req: &Request<'_, '_>, out: &mut InlineStr<REASON>) {
    use core::fmt::Write as _;
    let Refusal::OriginNotAllowed = refusal else {
        let _ = out.write_str(refusal.reason());
        return;
    };
    let origin = req.header("origin").map(http::trim).unwrap_or_default();
    let origin = core::str::from_utf8(origin).unwrap_or("(not UTF-8)");
    let origin = &origin[..origin.char_indices().nth(80).map_or(origin.len(), |(at, _)| at)];
    let _ = if origin == "null" {
        write!(out, "origin null (a page opened from a file?) may not open a WebSocket here; allow it with --allow-origin null")
    } else {
        write!(out, "origin {origin} may not open a WebSocket here; allow it with --allow-origin {origin}")
    };
}

/// The HTTP phase of one connection: which request it waits for, and until when.
#[derive(Copy, Clone, Debug)]
pub struct HttpPhase {
    id: u64,
    peer: Option<core::net::SocketAddr>,
    timeout: Duration,
    max_head: usize,
    deadline: Instant,
}

/// What the driver does next.
#[must_use = "a step says what to write or read next"]
pub enum Step<'s, 'p, A> {
    /// Read more bytes, until [`HttpPhase::poll_timeout`].
    Read,
    /// Write the head (`out[..head]`), then `body`. Then, when `keep_alive`, remove `consumed`
    /// bytes from the receive buffer and wait for the next request; otherwise close politely.
    Respond {
        /// Length of the head written into `out`.
        head: usize,
        /// The body, borrowed from the service.
        body: &'s [u8],
        /// Keep the connection for another request.
        keep_alive: bool,
        /// Length of the request head, to remove from the receive buffer.
        consumed: usize,
    },
    /// Write the error answer (`out[..len]`), then close politely.
    Refuse {
        /// Length of the answer written into `out`.
        len: usize,
    },
    /// Write the 101 (`out[..len]`), remove `consumed` bytes from the receive buffer, and run
    /// the WebSocket for `client` with its `admission`.
    Upgrade {
        /// Length of the 101 written into `out`.
        len: usize,
        /// Length of the request head, to remove from the receive buffer.
        consumed: usize,
        /// Who connected.
        client: Client<'p>,
        /// What the service's `admit` gave.
        admission: A,
    },
    /// Close without a word: the peer left, or sent nothing before the deadline.
    Close,
}

impl HttpPhase {
    /// Connection `id` from `peer`, accepted `now`, whose request heads must arrive within
    /// `timeout` and be at most `max_head` bytes long
    /// ([`ServeConfig::effective_max_request_head`](super::ServeConfig::effective_max_request_head)).
    pub fn new(
        id: u64,
        peer: Option<core::net::SocketAddr>,
        timeout: Duration,
        max_head: usize,
        now: Instant,
    ) -> Self {
        HttpPhase { id, peer, timeout, max_head, deadline: now + timeout }
    }

    /// Who the connection is, for log lines.
    pub fn label(&self) -> PeerLabel {
        PeerLabel::new(self.id, self.peer)
    }

    /// When the request head must have arrived.
    pub fn poll_timeout(&self) -> Instant {
        self.deadline
    }

    /// Decides what to do with the bytes received so far (`pending`, from the start of the
    /// request head). `buffer_full` says the receive buffer can take no more. A head longer than
    /// `max_head` is refused with 431 however the reads split it.
    pub fn handle_input<'s, 'p, S: Service + ?Sized>(
        &mut self,
        pending: &[u8],
        buffer_full: bool,
        now: Instant,
        policy: &Policy<'p>,
        service: &'s S,
        out: &mut [u8],
    ) -> Step<'s, 'p, S::Admission> {
        // One parse decides both whether the head is complete and what it asks for.
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let (req, head_len) = match Request::parse(pending, &mut headers) {
            Ok(Status::Complete(_, len)) if len > self.max_head => {
                return self.problem(HeadError::TooLarge, pending, out)
            }
            Ok(Status::Complete(req, len)) => (req, len),
            Ok(Status::Partial) if buffer_full || pending.len() >= self.max_head => {
                return self.problem(HeadError::TooLarge, pending, out)
            }
            Ok(Status::Partial) if now >= self.deadline => {
                return self.problem(HeadError::TimedOut, pending, out)
            }
            Ok(Status::Partial) => return Step::Read,
            Err(e) => return self.problem(HeadError::Malformed(e), pending, out),
        };
        match handshake::answer(&req, policy) {
            Answer::Refuse(refusal) => self.refuse_upgrade(refusal, &req, out),
            Answer::Upgrade(accepted) => match service.admit(&req) {
                Err(declined) => {
                    self.log_declined(declined.status, declined.reason);
                    self.refuse(declined.status, declined.reason, out)
                }
                Ok(admission) => match accepted.write_response(out) {
                    Ok(len) => {
                        let mut client = Client::new(self.id, self.peer, req.target, accepted.protocol);
                        client.deflate = accepted.deflate;
                        Step::Upgrade { len, consumed: head_len, client, admission }
                    }
                    Err(_) => self.no_room(),
                },
            },
            Answer::Http { keep_alive, head_only } => {
                let response = service.http(&req);
                if response.status.0 >= 400 {
                    self.log_http_error(&req, response.status);
                } else {
                    debug!("client {} {} {} -> {}", self.id, req.method, req.target, response.status.0);
                }
                let Ok(head) = response.write_head(out, keep_alive) else { return self.no_room() };
                if keep_alive {
                    self.deadline = now + self.timeout;
                }
                let body = if head_only { &[][..] } else { response.body };
                Step::Respond { head, body, keep_alive, consumed: head_len }
            }
        }
    }

    /// Refuses an upgrade with a sentence that says why and what to do. A frame of its own, off
    /// the stack of every request that is not refused (ESP-IDF's connection threads have little).
    #[inline(never)]
    #[cold]
    fn refuse_upgrade<'s, 'p, A>(
        &self,
        refusal: Refusal,
        req: &Request<'_, '_>,
        out: &mut [u8],
    ) -> Step<'s, 'p, A> {
        let mut reason = InlineStr::<REASON>::new();
        explain(refusal, req, &mut reason);
        let label = self.label();
        info!("refused client {} ({}): {} {}", label.id, label.addr(), refusal.status().0, reason.as_str());
        self.refuse(refusal.status(), reason.as_str(), out)
    }

    /// Logs a route's error answer (404, 405, 426) with the client's address.
    #[inline(never)]
    #[cold]
    fn log_http_error(&self, req: &Request<'_, '_>, status: StatusCode) {
        let label = self.label();
        info!(
            "client {} ({}): {} {} -> {} {}",
            label.id,
            label.addr(),
            req.method,
            req.target,
            status.0,
            status.1
        );
    }

    /// Logs a service's refusal of a valid upgrade (a full hub, say).
    #[inline(never)]
    #[cold]
    fn log_declined(&self, status: StatusCode, reason: &str) {
        let label = self.label();
        info!("declined client {} ({}): {} {}", label.id, label.addr(), status.0, reason);
    }

    /// The deadline passed: a 408 for a peer that sent part of a head, silence for one that
    /// sent nothing (a browser's idle pre-connection, say).
    pub fn handle_timeout<'s, 'p, A>(&self, pending: &[u8], out: &mut [u8]) -> Step<'s, 'p, A> {
        self.problem(HeadError::TimedOut, pending, out)
    }

    /// Answers a head that will not come, if there is anything to say.
    #[inline(never)]
    fn problem<'s, 'p, A>(&self, problem: HeadError, pending: &[u8], out: &mut [u8]) -> Step<'s, 'p, A> {
        match problem.answer(!pending.is_empty()) {
            Some((status, reason)) => {
                let label = self.label();
                info!("client {} ({}): {} {}", label.id, label.addr(), status.0, reason);
                self.refuse(status, reason, out)
            }
            None => Step::Close,
        }
    }

    fn refuse<'s, 'p, A>(&self, status: StatusCode, reason: &str, out: &mut [u8]) -> Step<'s, 'p, A> {
        match http::write_error(out, status, reason) {
            Ok(len) => Step::Refuse { len },
            Err(_) => self.no_room(),
        }
    }

    #[cold]
    fn no_room<'s, 'p, A>(&self) -> Step<'s, 'p, A> {
        warn!("client {}: the answer does not fit {} bytes; closing", self.id, HEAD_BUFFER);
        Step::Close
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::handshake::Declined;

    struct Everyone;
    impl Service for Everyone {
        type Admission = ();
        fn admit(&self, _req: &Request<'_, '_>) -> Result<(), Declined> {
            Ok(())
        }
    }

    const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: device\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    /// What the phase answers `pending` with under a head bound of `max_head`: the status of an
    /// answer written, 101 for an upgrade, 0 for a read.
    fn status(pending: &[u8], max_head: usize) -> u16 {
        let now = Instant::from_millis(0);
        let mut phase = HttpPhase::new(1, None, Duration::from_secs(5), max_head, now);
        let mut out = [0u8; HEAD_BUFFER];
        let step = phase.handle_input(pending, false, now, &Policy::default(), &Everyone, &mut out);
        let len = match step {
            Step::Read => return 0,
            Step::Upgrade { .. } => return 101,
            Step::Refuse { len } | Step::Respond { head: len, .. } => len,
            Step::Close => panic!("closed without an answer"),
        };
        core::str::from_utf8(&out[9..12]).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            panic!("no status in {:?}", core::str::from_utf8(&out[..len]));
        })
    }

    #[test]
    fn a_head_of_exactly_the_bound_is_upgraded() {
        assert_eq!(status(UPGRADE, UPGRADE.len()), 101);
    }

    #[test]
    fn a_complete_head_one_byte_over_the_bound_gets_431_in_one_read() {
        assert_eq!(status(UPGRADE, UPGRADE.len() - 1), 431);
    }

    #[test]
    fn a_partial_head_that_reaches_the_bound_gets_431_without_waiting_for_more() {
        let partial = &UPGRADE[..UPGRADE.len() - 2];
        assert_eq!(status(partial, UPGRADE.len()), 0, "below the bound, it waits");
        assert_eq!(status(partial, partial.len()), 431);
    }
}
