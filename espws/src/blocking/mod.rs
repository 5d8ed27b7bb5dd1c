//! The blocking driver: moves bytes between an `embedded-io` transport and the state machine.
//!
//! This is what runs on ESP-IDF (lwIP sockets through `std::net`) and in the simulator's
//! thread-per-connection server. It honours the core's deadlines with the transport's read
//! timeout, so no timer thread is needed.

mod serve;
#[cfg(feature = "std")]
mod std_io;

use core::time::Duration;

use embedded_io::{Error as _, ErrorKind, Read, Write};

use crate::proto::connection::ReadWait;
use crate::proto::deflate;
use crate::proto::{Closed, Config, Connection, Event, RecvBuf, Role, SendError, Storage, LINGER};
use crate::server::gone_during_stop;
pub use crate::time::Clock;
use crate::time::Instant;
use crate::wire::frame::EncodedHeader;
use crate::{CloseCode, DataKind};

pub use serve::{serve, BlockingService};
#[cfg(feature = "std")]
pub use std_io::{SharedWriter, StdClock, TcpTransport, WriteTurn};

/// A blocking byte stream the driver can run a connection over.
pub trait Transport: Read + Write {
    /// Bounds how long each following read may block; `None` blocks indefinitely.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Self::Error>;

    /// Whether `error` means a read timed out (and may be retried) rather than failed.
    fn is_timeout(error: &Self::Error) -> bool {
        error.kind() == ErrorKind::TimedOut
    }

    /// Writes all `parts` in order; transports that can should do it in one vectored write.
    fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), Self::Error> {
        parts.iter().try_for_each(|part| self.write_all(part))
    }

    /// Sends end-of-stream after everything written so far, keeping the read side open.
    fn shutdown_write(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// A writer that another thread can use while this one reads (to drain a hub queue), for
    /// transports that can give one.
    #[cfg(feature = "std")]
    fn share_writes(&mut self) -> Option<SharedWriter> {
        None
    }

    /// Whether the server is shutting down: then a read's end of stream is the server's own
    /// doing (it shut the read side to wake the read), and the connection closes with 1001.
    fn stop_requested(&self) -> bool {
        false
    }

    /// Whether the socket holds an error the peer caused (a reset), which reads no longer show
    /// once a shutdown has shut the read side: a peer that had closed its socket before the
    /// server's 1001 reached it answers that frame with a reset. Then the peer is gone, not slow
    /// to reply, and the connection ends without waiting out the close timeout. Consumes the
    /// error.
    fn peer_reset(&self) -> bool {
        false
    }

    /// Waits a moment before the next read once [`stop_requested`](Self::stop_requested):
    /// reads no longer block then, and the peer's close frame is still to come.
    fn pause_after_stop(&mut self) {}
}

/// Why a driver call failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The transport failed; the connection is over.
    Io(E),
    /// The frame could not be sent (see [`SendError`]).
    Send(SendError),
}

impl<E> From<SendError> for Error<E> {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

/// One WebSocket connection over a blocking transport, after the opening handshake.
pub struct WebSocket<T, B, C> {
    io: T,
    conn: Connection,
    rx: RecvBuf<B>,
    clock: C,
    read_timeout: Option<Duration>,
    /// The idle span (ms) that `read_timeout` was armed with, 0 when it was armed otherwise.
    idle_armed_ms: u64,
    /// The clock as last read: the steady state reads it only when a timeout expires.
    now: Instant,
    /// The `Closed` event was delivered; there is nothing more to read.
    finished: bool,
    /// The inflater and the deflater, once [`enable_deflate`](Self::enable_deflate) turned
    /// compression on.
    compression: deflate::Compression,
}

/// Sends frames on a connection while an event borrows its receive buffer.
pub struct Sender<'a, T, C> {
    io: &'a mut T,
    conn: &'a mut Connection,
    clock: &'a C,
    #[cfg(feature = "std")]
    deflate: Option<&'a mut deflate::Deflate>,
}

impl<T: Transport, B: Storage, C: Clock> WebSocket<T, B, C> {
    /// Runs `config` over `io`. `rx` may already hold bytes that followed the request head.
    pub fn new(io: T, rx: RecvBuf<B>, config: Config, clock: C) -> Self {
        Self::build(io, rx, config, Role::Server, clock)
    }

    /// Runs `config` over `io` as either end; a client's `rx` may hold frames that followed the
    /// 101 (see [`client::connect`](crate::client::connect)). Needs the `client` feature, which
    /// compiles the masking of outgoing payloads into the driver.
    #[cfg(feature = "client")]
    pub fn with_role(io: T, rx: RecvBuf<B>, config: Config, role: Role, clock: C) -> Self {
        Self::build(io, rx, config, role, clock)
    }

    fn build(io: T, rx: RecvBuf<B>, config: Config, role: Role, clock: C) -> Self {
        let now = clock.now();
        let conn = Connection::with_role(config, role, now);
        WebSocket {
            io,
            conn,
            rx,
            clock,
            read_timeout: None,
            idle_armed_ms: 0,
            now,
            finished: false,
            compression: Default::default(),
        }
    }

    /// Turns permessage-deflate on, as `agreed` in the handshake: compressed messages are
    /// inflated (into a window sized for the agreement), and whole outgoing messages are
    /// compressed when that makes them smaller. Needs chunked delivery.
    #[cfg(feature = "std")]
    pub fn enable_deflate(&mut self, agreed: &deflate::Agreed) {
        self.compression.enable(&mut self.conn, agreed);
    }

    /// Blocks until the next event, and returns it with a [`Sender`] to answer it.
    ///
    /// The last event is [`Event::Closed`] (its close frame is already sent); the call after it
    /// returns `None`. Then [`linger`](Self::linger), or drop the transport.
    #[allow(clippy::type_complexity)]
    pub fn next_event(&mut self) -> Result<Option<(Event<'_>, Sender<'_, T, C>)>, Error<T::Error>> {
        let pending = loop {
            if self.conn.wants_transmit() {
                self.flush_control();
            }
            if self.finished {
                return Ok(None);
            }
            if let Some(pending) =
                deflate::poll_pending(&mut self.conn, &mut self.rx, &mut self.compression.inflate)
            {
                break pending;
            }
            self.wait_and_read()?;
        };
        let event = deflate::event(&self.conn, pending, &self.rx, &self.compression.inflate);
        if let Event::Closed { .. } = event {
            self.finished = true;
            write_final_frames(&mut self.io, &mut self.conn);
        }
        let sender = Sender {
            io: &mut self.io,
            conn: &mut self.conn,
            clock: &self.clock,
            #[cfg(feature = "std")]
            deflate: self.compression.deflate.as_deref_mut(),
        };
        Ok(Some((event, sender)))
    }

    /// Runs the connection to its end, handing every event to `handler` with a [`Sender`].
    ///
    /// The same as calling [`next_event`](Self::next_event) in a loop, without leaving the loop
    /// for each event: the tightest way to serve a connection.
    pub fn run(
        &mut self,
        mut handler: impl FnMut(Event<'_>, &mut Sender<'_, T, C>),
    ) -> Result<(), Error<T::Error>> {
        if self.finished {
            return Ok(());
        }
        // `finished` is set only below, by the Closed event, so the loop checks it only there.
        loop {
            if self.conn.wants_transmit() {
                self.flush_control();
            }
            let Some(pending) =
                deflate::poll_pending(&mut self.conn, &mut self.rx, &mut self.compression.inflate)
            else {
                self.wait_and_read()?;
                continue;
            };
            let event = deflate::event(&self.conn, pending, &self.rx, &self.compression.inflate);
            let closed = matches!(event, Event::Closed { .. });
            if closed {
                self.finished = true;
                write_final_frames(&mut self.io, &mut self.conn);
            }
            let mut sender = Sender {
                io: &mut self.io,
                conn: &mut self.conn,
                clock: &self.clock,
                #[cfg(feature = "std")]
                deflate: self.compression.deflate.as_deref_mut(),
            };
            handler(event, &mut sender);
            if closed {
                return Ok(());
            }
        }
    }

    /// Completes the closing handshake whatever the state: closes with 1000 if still open and
    /// waits for the peer's close frame (bounded by the close timeout).
    pub fn finish(&mut self) {
        if self.conn.can_send() {
            let _ = self.conn.close(CloseCode::NORMAL, "", self.clock.now());
        }
        while let Ok(Some(_)) = self.next_event() {}
    }

    /// After [`finish`](Self::finish): shuts the transport for writing and, when the peer may
    /// still be reading, reads and discards until its FIN or [`LINGER`] passes, so that the close
    /// frame is not destroyed by a reset.
    ///
    /// A client leaves closing TCP to the server (RFC 6455 section 7.1.1): it waits for the
    /// server's FIN, at most the close timeout, before it sends its own.
    pub fn linger(&mut self) {
        let client = !self.conn.role().is_server();
        if !client {
            let _ = self.io.shutdown_write();
        }
        if self.conn.outcome().is_some_and(Closed::wants_linger) {
            let wait = if client { self.conn.close_timeout() } else { LINGER };
            serve::drain_until(&mut self.io, &mut self.rx, &self.clock, self.clock.now() + wait);
        }
        if client {
            let _ = self.io.shutdown_write();
        }
    }

    /// A [`Sender`] for sending outside of an event.
    pub fn sender(&mut self) -> Sender<'_, T, C> {
        Sender {
            io: &mut self.io,
            conn: &mut self.conn,
            clock: &self.clock,
            #[cfg(feature = "std")]
            deflate: self.compression.deflate.as_deref_mut(),
        }
    }

    /// The state machine, for inspection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The transport, to set options or share it.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Gives back the transport and the receive buffer.
    pub fn into_parts(self) -> (T, RecvBuf<B>) {
        (self.io, self.rx)
    }

    #[cold]
    fn flush_control(&mut self) {
        while let Some(frame) = self.conn.poll_transmit() {
            if let Err(e) = self.io.write_all(frame.as_bytes()) {
                debug!("writing a control frame failed: {}", e.kind() as u8);
                self.conn.handle_eof();
            }
        }
    }

    /// Waits for input or the next deadline, whichever comes first.
    #[inline(always)]
    fn wait_and_read(&mut self) -> Result<(), Error<T::Error>> {
        let idle = match self.conn.read_wait() {
            ReadWait::Idle { millis } => {
                // The steady state: the socket's read timeout itself measures the silence,
                // restarting with every read, so no clock is read per message.
                if self.idle_armed_ms != millis {
                    // Exactly the span: its expiry is taken as that much silence.
                    let span = Duration::from_millis(millis);
                    self.io.set_read_timeout(Some(span)).map_err(Error::Io)?;
                    self.read_timeout = Some(span);
                    self.idle_armed_ms = millis;
                }
                true
            }
            ReadWait::Forever => {
                self.arm_read_timeout(None)?;
                false
            }
            ReadWait::Until(deadline) => {
                self.now = self.clock.now();
                if self.now >= deadline {
                    self.conn.handle_timeout(self.now);
                    return Ok(());
                }
                self.arm_read_timeout(Some(deadline.saturating_duration_since(self.now)))?;
                false
            }
        };
        let space = self.conn.read_buf(&mut self.rx);
        let room = space.len();
        match self.io.read(space) {
            Ok(0) => self.on_end_of_stream(),
            // Outside the steady state the clock was just read; inside it, the time of a read
            // does not matter.
            Ok(n) => self.conn.handle_read_in(&mut self.rx, n, room, self.now),
            Err(e) => self.on_read_error(e, idle),
        }
        Ok(())
    }

    /// A read failed or timed out (after the `idle` span when set). Out of line, so that the
    /// steady state's read does not keep the error in memory.
    #[cold]
    #[inline(never)]
    fn on_read_error(&mut self, error: T::Error, idle: bool) {
        if T::is_timeout(&error) {
            self.now = self.clock.now();
            if idle {
                self.conn.handle_idle_timeout(self.now);
            } else {
                self.conn.handle_timeout(self.now);
            }
        } else if error.kind() == ErrorKind::Interrupted {
            // Read again.
        } else if self.io.stop_requested() && !gone_during_stop(error.kind()) {
            // A TLS session reads the shut read side as a truncated stream; a reset is the peer's.
            self.on_end_of_stream();
        } else {
            debug!("read failed: {}", error.kind() as u8);
            self.conn.handle_eof();
        }
    }

    /// A read found end of stream: the peer's, or the server's shutdown waking the read (unless
    /// the socket holds the peer's reset, which that end of stream hides).
    #[cold]
    #[inline(never)]
    fn on_end_of_stream(&mut self) {
        if !self.io.stop_requested() || self.io.peer_reset() {
            self.conn.handle_eof();
        } else if self.conn.handle_stop(self.clock.now()) {
            self.io.pause_after_stop();
        }
    }

    /// Sets the transport's read timeout only when needed: each change is a system call, so a
    /// timeout that would wake up early (harmless) or late by at most an eighth is kept.
    fn arm_read_timeout(&mut self, wanted: Option<Duration>) -> Result<(), Error<T::Error>> {
        let wanted = wanted.map(|w| w.max(Duration::from_millis(1)));
        let keep = match (self.read_timeout, wanted) {
            (None, None) => true,
            (Some(current), Some(wanted)) => current <= wanted || current - wanted <= wanted / 8,
            _ => false,
        };
        if !keep {
            self.io.set_read_timeout(wanted).map_err(Error::Io)?;
            self.read_timeout = wanted;
            // Whatever was armed, it is no longer known to be the idle span.
            self.idle_armed_ms = 0;
        }
        Ok(())
    }
}

/// Writes the close frame the connection queued as it ended: it goes out before the
/// application hears of the end. A failed write ends the attempt; the connection is over anyway.
fn write_final_frames<T: Transport>(io: &mut T, conn: &mut Connection) {
    while let Some(frame) = conn.poll_transmit() {
        if io.write_all(frame.as_bytes()).is_err() {
            break;
        }
    }
}
impl<T: Transport, C: Clock> Sender<'_, T, C> {
    /// Sends a whole message.
    pub fn send(&mut self, kind: DataKind, payload: &[u8]) -> Result<(), Error<T::Error>> {
        self.send_part(kind, payload, true, true)
    }

    /// Sends a whole text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error<T::Error>> {
        self.send_part(DataKind::Text, text.as_bytes(), true, true)
    }

    /// Sends a whole binary message.
    pub fn send_binary(&mut self, bytes: &[u8]) -> Result<(), Error<T::Error>> {
        self.send_part(DataKind::Binary, bytes, true, true)
    }

    /// Sends one frame of a message: whole when `first` and `last` are both set.
    ///
    /// Header and payload go out in one vectored write where the transport supports it. A
    /// client masks a copy of the payload, a piece at a time (see
    /// [`send_part_in_place`](Self::send_part_in_place) to avoid the copy).
    #[inline(always)]
    pub fn send_part(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        first: bool,
        last: bool,
    ) -> Result<(), Error<T::Error>> {
        let header = self.conn.send_header(kind, payload.len() as u64, first, last)?;
        #[cfg(feature = "std")]
        if let Some(deflate) = self.deflate.as_deref_mut() {
            if let Some((header, compressed)) = deflate.compress_frame(&header, payload) {
                return write_frame(self.io, self.conn, &header, compressed);
            }
        }
        write_frame(self.io, self.conn, &header, payload)
    }

    /// Like [`send_part`](Self::send_part) for a payload the caller owns: a client masks it in
    /// place, without a copy, so it holds masked bytes afterwards. A server leaves it as it is.
    #[cfg(feature = "client")]
    pub fn send_part_in_place(
        &mut self,
        kind: DataKind,
        payload: &mut [u8],
        first: bool,
        last: bool,
    ) -> Result<(), Error<T::Error>> {
        let header = self.conn.send_header(kind, payload.len() as u64, first, last)?;
        if let Some(key) = header.mask() {
            crate::wire::mask::apply_mask(payload, key, 0);
        }
        self.io.write_all_vectored(&[header.as_bytes(), payload]).map_err(|e| {
            self.conn.handle_eof();
            Error::Io(e)
        })
    }

    /// Starts the closing handshake; the close frame goes out with the next driver call.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error<T::Error>> {
        self.conn.close(code, reason, self.clock.now()).map_err(Error::Send)
    }

    /// Whether data frames may still be sent.
    pub fn can_send(&self) -> bool {
        self.conn.can_send()
    }
}

/// Writes one frame: a client masks the payload through a buffer, a server writes it as it is.
#[inline(always)]
fn write_frame<T: Transport>(
    io: &mut T,
    conn: &mut Connection,
    header: &EncodedHeader,
    payload: &[u8],
) -> Result<(), Error<T::Error>> {
    #[cfg(feature = "client")]
    let written = match header.mask() {
        None => io.write_all_vectored(&[header.as_bytes(), payload]),
        Some(key) => write_masked(io, header.as_bytes(), payload, key),
    };
    // Without the client feature no connection has the client's role: headers are unmasked.
    #[cfg(not(feature = "client"))]
    let written = io.write_all_vectored(&[header.as_bytes(), payload]);
    written.map_err(|e| {
        // A peer that stopped reading past the write timeout is treated as gone.
        conn.handle_eof();
        Error::Io(e)
    })
}

/// How much of a borrowed payload a client masks at a time, on the stack.
#[cfg(feature = "client")]
pub(crate) const MASK_CHUNK: usize = if cfg!(feature = "std") { 1024 } else { 256 };

/// A payload over [`MASK_CHUNK`] masked whole into a heap copy, on a PC: one write of the
/// frame instead of one per chunk (a 16 KiB message went out as 16 segments, and the client
/// ran at a quarter of tokio-websockets' rate). Not on ESP-IDF, whose heap is the device's RAM.
#[cfg(all(feature = "client", feature = "std", not(target_os = "espidf")))]
pub(crate) fn masked_copy(payload: &[u8], key: [u8; 4]) -> Option<std::vec::Vec<u8>> {
    if payload.len() <= MASK_CHUNK {
        return None;
    }
    let mut masked = payload.to_vec();
    crate::wire::mask::apply_mask(&mut masked, key, 0);
    Some(masked)
}

/// Writes a client frame: `header`, then `payload` masked with `key` through a stack buffer, a
/// piece at a time. Kept out of line so that the server's send path does not pay for its stack.
#[cfg(feature = "client")]
#[inline(never)]
fn write_masked<T: Transport>(
    io: &mut T,
    header: &[u8],
    payload: &[u8],
    key: [u8; 4],
) -> Result<(), T::Error> {
    #[cfg(all(feature = "std", not(target_os = "espidf")))]
    if let Some(masked) = masked_copy(payload, key) {
        return io.write_all_vectored(&[header, &masked]);
    }
    let mut scratch = [0u8; MASK_CHUNK];
    let mut offset = 0u64;
    let mut chunks = payload.chunks(MASK_CHUNK);
    let first = chunks.next().unwrap_or(&[]);
    scratch[..first.len()].copy_from_slice(first);
    crate::wire::mask::apply_mask(&mut scratch[..first.len()], key, 0);
    io.write_all_vectored(&[header, &scratch[..first.len()]])?;
    offset += first.len() as u64;
    for chunk in chunks {
        let masked = &mut scratch[..chunk.len()];
        masked.copy_from_slice(chunk);
        crate::wire::mask::apply_mask(masked, key, offset);
        io.write_all(masked)?;
        offset += chunk.len() as u64;
    }
    Ok(())
}
