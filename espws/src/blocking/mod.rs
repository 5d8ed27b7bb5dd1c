//! The blocking driver: moves bytes between an `embedded-io` transport and the state machine.
//!
//! This is what runs on ESP-IDF (lwIP sockets through `std::net`) and in the simulator's
//! thread-per-connection server. It honours the core's deadlines with the transport's read
//! timeout, so no timer thread is needed.

#[cfg(feature = "std")]
mod std_io;

use core::time::Duration;

use embedded_io::{Error as _, ErrorKind, Read, Write};

use crate::proto::deflate::{self, InflateSlot};
use crate::proto::{handshake, Closed, Config, Connection, Event, RecvBuf, SendError};
pub use crate::time::Clock;
use crate::time::Instant;
use crate::wire::frame::EncodedHeader;
use crate::{CloseCode, DataKind};

#[cfg(feature = "std")]
pub use std_io::{SharedWriter, StdClock, TcpTransport, WriteTurn};

/// How long a closed connection keeps reading (and discarding) after its FIN, so that the
/// peer receives the close frame rather than a reset.
pub const LINGER: Duration = Duration::from_secs(2);

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
    /// The clock as last read: the steady state reads it only when a timeout expires.
    now: Instant,
    /// The `Closed` event was delivered; there is nothing more to read.
    finished: bool,
    /// The inflater, once permessage-deflate is on.
    inflate: InflateSlot,
    #[cfg(feature = "std")]
    deflate: Option<std::boxed::Box<deflate::Deflate>>,
}

/// Sends frames on a connection while an event borrows its receive buffer.
pub struct Sender<'a, T, C> {
    io: &'a mut T,
    conn: &'a mut Connection,
    clock: &'a C,
    #[cfg(feature = "std")]
    deflate: Option<&'a mut deflate::Deflate>,
}

impl<T: Transport, B: AsRef<[u8]> + AsMut<[u8]>, C: Clock> WebSocket<T, B, C> {
    /// Runs `config` over `io`. `rx` may already hold bytes that followed the request head.
    pub fn new(io: T, rx: RecvBuf<B>, config: Config, clock: C) -> Self {
        let now = clock.now();
        let conn = Connection::new(config, now);
        WebSocket {
            io,
            conn,
            rx,
            clock,
            read_timeout: None,
            now,
            finished: false,
            inflate: Default::default(),
            #[cfg(feature = "std")]
            deflate: None,
        }
    }

    /// Turns permessage-deflate on, as agreed in the handshake: compressed messages are inflated
    /// (into a window sized for `agreed`) and whole outgoing messages are compressed when that
    /// makes them smaller.
    #[cfg(feature = "std")]
    #[inline(never)]
    pub fn enable_deflate(&mut self, agreed: &deflate::Agreed) {
        self.conn.enable_deflate();
        self.inflate = Some(deflate::boxed_inflate(agreed));
        self.deflate = Some(std::boxed::Box::new(deflate::Deflate::new(agreed)));
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
            if let Some(pending) = deflate::poll_pending(&mut self.conn, &mut self.rx, &mut self.inflate) {
                break pending;
            }
            self.wait_and_read()?;
        };
        let event = deflate::event(&self.conn, pending, &self.rx, &self.inflate);
        if let Event::Closed { .. } = event {
            self.finished = true;
            write_final_frames(&mut self.io, &mut self.conn);
        }
        let sender = Sender {
            io: &mut self.io,
            conn: &mut self.conn,
            clock: &self.clock,
            #[cfg(feature = "std")]
            deflate: self.deflate.as_deref_mut(),
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
        loop {
            if self.conn.wants_transmit() {
                self.flush_control();
            }
            if self.finished {
                return Ok(());
            }
            let Some(pending) = deflate::poll_pending(&mut self.conn, &mut self.rx, &mut self.inflate) else {
                self.wait_and_read()?;
                continue;
            };
            let event = deflate::event(&self.conn, pending, &self.rx, &self.inflate);
            if let Event::Closed { .. } = event {
                self.finished = true;
                write_final_frames(&mut self.io, &mut self.conn);
            }
            handler(
                event,
                &mut Sender {
                    io: &mut self.io,
                    conn: &mut self.conn,
                    clock: &self.clock,
                    #[cfg(feature = "std")]
                    deflate: self.deflate.as_deref_mut(),
                },
            );
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
    pub fn linger(&mut self) {
        let _ = self.io.shutdown_write();
        if !self.conn.outcome().is_some_and(Closed::wants_linger) {
            return;
        }
        let deadline = self.clock.now() + LINGER;
        loop {
            let now = self.clock.now();
            if now >= deadline
                || self.io.set_read_timeout(Some(deadline.saturating_duration_since(now))).is_err()
            {
                return;
            }
            self.rx.clear();
            match self.io.read(self.rx.spare_mut()) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// A [`Sender`] for sending outside of an event.
    pub fn sender(&mut self) -> Sender<'_, T, C> {
        Sender {
            io: &mut self.io,
            conn: &mut self.conn,
            clock: &self.clock,
            #[cfg(feature = "std")]
            deflate: self.deflate.as_deref_mut(),
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
        let idle = self.conn.idle_timeout();
        if let Some(idle) = idle {
            // The steady state: the socket's read timeout itself measures the silence, restarting
            // with every read, so no clock is read per message.
            if self.read_timeout != Some(idle) {
                self.io.set_read_timeout(Some(idle)).map_err(Error::Io)?;
                self.read_timeout = Some(idle);
            }
        } else if let Some(deadline) = self.conn.poll_timeout() {
            self.now = self.clock.now();
            if self.now >= deadline {
                self.conn.handle_timeout(self.now);
                return Ok(());
            }
            self.arm_read_timeout(Some(deadline.saturating_duration_since(self.now)))?;
        } else {
            self.arm_read_timeout(None)?;
        }
        let space = self.conn.read_buf(&mut self.rx);
        match self.io.read(space) {
            Ok(0) => self.conn.handle_eof(),
            // Outside the steady state the clock was just read; inside it, the time of a read
            // does not matter.
            Ok(n) => self.conn.handle_read(&mut self.rx, n, self.now),
            Err(e) if T::is_timeout(&e) => {
                self.now = self.clock.now();
                match idle {
                    Some(_) => self.conn.handle_idle_timeout(self.now),
                    None => self.conn.handle_timeout(self.now),
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                debug!("read failed: {}", e.kind() as u8);
                self.conn.handle_eof();
            }
        }
        Ok(())
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
    /// Header and payload go out in one vectored write where the transport supports it.
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
        if self.deflate.is_some() {
            return self.write_compressed(header, payload);
        }
        self.write_frame(header, payload)
    }

    /// Writes a frame whose header is encoded.
    #[inline(always)]
    fn write_frame(&mut self, header: EncodedHeader, payload: &[u8]) -> Result<(), Error<T::Error>> {
        self.io.write_all_vectored(&[header.as_bytes(), payload]).map_err(|e| {
            // A peer that stopped reading past the write timeout is treated as gone.
            self.conn.handle_eof();
            Error::Io(e)
        })
    }

    /// Writes a frame compressed when that makes it smaller. Not inlined, so that connections
    /// without compression do not carry its stack.
    #[cfg(feature = "std")]
    #[inline(never)]
    fn write_compressed(&mut self, header: EncodedHeader, payload: &[u8]) -> Result<(), Error<T::Error>> {
        let Some(deflate) = self.deflate.as_deref_mut() else { return self.write_frame(header, payload) };
        let (header, payload) =
            deflate::compress_frame(deflate, &header, payload).unwrap_or((header, payload));
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

/// Why no request head could be read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HeadError<E> {
    /// No usable head arrived (see [`handshake::HeadError::answer`] for what to say).
    Head(handshake::HeadError),
    /// The transport failed.
    Io(E),
}

/// Reads into `rx` until it holds a complete request head, and returns the head's length.
///
/// Parse the head again from `rx.pending()` with [`Request::parse`](crate::wire::http::Request::parse)
/// to inspect it; the bytes after it stay pending for the WebSocket connection.
pub fn read_request_head<T: Transport, B: AsRef<[u8]> + AsMut<[u8]>>(
    io: &mut T,
    rx: &mut RecvBuf<B>,
    clock: &impl Clock,
    deadline: Instant,
) -> Result<usize, HeadError<T::Error>> {
    use handshake::HeadError::{Closed, TimedOut};
    loop {
        let full = rx.spare_mut().is_empty();
        if let Some(len) = handshake::poll_head(rx.pending(), full).map_err(HeadError::Head)? {
            return Ok(len);
        }
        let now = clock.now();
        if now >= deadline {
            return Err(HeadError::Head(TimedOut));
        }
        io.set_read_timeout(Some(deadline.saturating_duration_since(now).max(Duration::from_millis(1))))
            .map_err(HeadError::Io)?;
        match io.read(rx.spare_mut()) {
            Ok(0) => return Err(HeadError::Head(Closed)),
            Ok(n) => rx.commit(n),
            Err(e) if T::is_timeout(&e) => return Err(HeadError::Head(TimedOut)),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(HeadError::Io(e)),
        }
    }
}
