//! The blocking driver on `std::net`: a TCP transport and a clock.

use core::time::Duration;
use std::io::{self, IoSlice, Write as _};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Clock, Transport};
use crate::time::Instant;
use crate::wire::frame::OpCode;

/// A `std::net::TcpStream` as a [`Transport`], with vectored writes.
///
/// One thread reads and writes it; [`share_writes`](Self::share_writes) lets a second thread
/// write whole frames too, taking turns with this one.
#[derive(Debug)]
pub struct TcpTransport {
    stream: Arc<TcpStream>,
    gate: Option<Arc<WriteGate>>,
    /// The TLS session over the stream, if the connection is TLS.
    tls: Option<TlsSession>,
    /// The server's shutdown, which shuts this stream's read side to wake its reader.
    shutdown: Option<crate::server::Shutdown>,
    /// No TLS session: reads are plain TCP. One byte for the hot path to test, rather than the
    /// session's niche.
    plain_reads: bool,
    /// No TLS session and no second writer: writes are plain TCP, without a turn to take.
    plain_writes: bool,
}

#[cfg(feature = "tls")]
use crate::tls::blocking::TlsSession;

/// Without the `tls` feature no connection has a session.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Debug)]
enum TlsSession {}

#[cfg(not(feature = "tls"))]
impl TlsSession {
    fn read_unless_stopping(
        &self,
        _: &TcpStream,
        _: &mut [u8],
        _: Option<&crate::server::Shutdown>,
    ) -> io::Result<usize> {
        match *self {}
    }
    fn write_all(&self, _: &TcpStream, _: &[&[u8]]) -> io::Result<()> {
        match *self {}
    }
    fn shutdown_write(&self, _: &TcpStream) -> io::Result<()> {
        match *self {}
    }
}

/// Serialises the frames of two writers and remembers when the close frame went out, after
/// which no data frame may follow (RFC 6455 section 5.5.1).
#[derive(Debug, Default)]
struct WriteGate {
    closed_for_data: Mutex<bool>,
}

impl WriteGate {
    fn enter(&self) -> MutexGuard<'_, bool> {
        self.closed_for_data.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes whole frames to a connection from another thread (see [`TcpTransport::share_writes`]).
#[derive(Debug, Clone)]
pub struct SharedWriter {
    stream: Arc<TcpStream>,
    gate: Arc<WriteGate>,
    tls: Option<TlsSession>,
}

/// A turn at writing, held across the pieces of one frame.
pub struct WriteTurn<'a> {
    stream: &'a TcpStream,
    tls: Option<&'a TlsSession>,
    closed_for_data: MutexGuard<'a, bool>,
}

impl TcpTransport {
    /// Wraps an accepted stream.
    pub fn new(stream: TcpStream) -> Self {
        TcpTransport {
            stream: Arc::new(stream),
            gate: None,
            tls: None,
            shutdown: None,
            plain_reads: true,
            plain_writes: true,
        }
    }

    /// Wraps a stream on which a TLS handshake has completed (see `tls::blocking::accept`).
    #[cfg(feature = "tls")]
    pub fn tls(tls: crate::tls::blocking::TlsStream) -> Self {
        let (stream, session) = tls.into_parts();
        TcpTransport {
            stream: Arc::new(stream),
            gate: None,
            tls: Some(session),
            shutdown: None,
            plain_reads: false,
            plain_writes: false,
        }
    }

    /// Enters this connection in `shutdown`: when it is requested, the connection closes with
    /// 1001. Keep the registration for as long as the connection is served.
    pub(crate) fn watch(
        &mut self,
        shutdown: &crate::server::Shutdown,
        id: u64,
    ) -> crate::server::Registration {
        self.shutdown = Some(shutdown.clone());
        shutdown.register(id, &self.stream)
    }

    /// The stream, for socket options.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Lets another thread write whole frames on this connection, in turn with this transport:
    /// frames never interleave, and nothing follows the close frame.
    pub fn share_writes(&mut self) -> SharedWriter {
        let gate = self.gate.get_or_insert_with(Default::default).clone();
        self.plain_writes = false;
        SharedWriter { stream: self.stream.clone(), gate, tls: self.tls.clone() }
    }

    /// The stream back, once no [`SharedWriter`] holds it.
    pub fn into_stream(self) -> Option<TcpStream> {
        Arc::into_inner(self.stream)
    }

    #[inline(always)]
    fn write_frame(&self, parts: &[&[u8]]) -> io::Result<()> {
        // The hot path, plain TCP with one writer, has the shape it had before TLS existed. The
        // header and payload are taken apart here so that the slice of them need not be built
        // in memory unless the slow path runs.
        if let [head, body] = *parts {
            if self.plain_writes {
                return write_head_and_body(&self.stream, head, body);
            }
            return self.write_frame_shared(&[head, body]);
        }
        self.write_frame_shared(parts)
    }

    /// [`write_frame`](Self::write_frame) over TLS or beside a second writer.
    #[inline(never)]
    fn write_frame_shared(&self, parts: &[&[u8]]) -> io::Result<()> {
        let Some(gate) = &self.gate else {
            return send(&self.stream, self.tls.as_ref(), parts);
        };
        let mut closed_for_data = gate.enter();
        if parts.first().and_then(|p| p.first()).is_some_and(|b| b & 0x0F == OpCode::Close as u8) {
            *closed_for_data = true;
        }
        send(&self.stream, self.tls.as_ref(), parts)
    }
}

impl SharedWriter {
    /// Waits for a turn at writing; hold it across the pieces of one frame.
    pub fn turn(&self) -> WriteTurn<'_> {
        WriteTurn { stream: &self.stream, tls: self.tls.as_ref(), closed_for_data: self.gate.enter() }
    }

    /// Ends the connection both ways at once; the reading thread sees end of stream.
    pub fn abort(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl WriteTurn<'_> {
    /// Writes frame bytes; `Ok(false)` (nothing written) once the close frame has gone out.
    pub fn write_data(&mut self, bytes: &[u8]) -> io::Result<bool> {
        if *self.closed_for_data {
            return Ok(false);
        }
        send(self.stream, self.tls, &[bytes])?;
        Ok(true)
    }

    /// Writes a close frame, after which no data goes out, and shuts the connection down.
    pub fn close(&mut self, frame: &[u8]) {
        if !*self.closed_for_data {
            *self.closed_for_data = true;
            let _ = send(self.stream, self.tls, &[frame]);
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl embedded_io::ErrorType for TcpTransport {
    type Error = io::Error;
}

impl embedded_io::Read for TcpTransport {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        // Plain TCP is the hot path; TLS reads stay out of line so that they do not weigh on it.
        if !self.plain_reads {
            return read_tls(self.tls.as_ref(), &self.stream, buf, self.shutdown.as_ref());
        }
        read_plain(&self.stream, buf)
    }
}

/// A plain-TCP read. On Linux, the system call itself: glibc's wrappers make every blocking
/// call a thread-cancellation point, about 30 instructions each way around it, and nothing in
/// this crate cancels threads (about 95 instructions fewer per echo, read and write together).
#[cfg(target_os = "linux")]
#[inline(always)]
fn read_plain(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    rustix::io::read(stream, buf).map_err(io::Error::from)
}

/// A plain-TCP read through std, with one buffer: readv where the system has it (glibc's readv
/// wrapper takes 7 fewer instructions than its recv), read where it does not (ESP-IDF).
#[cfg(not(target_os = "linux"))]
#[inline(always)]
fn read_plain(mut stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    io::Read::read_vectored(&mut stream, &mut [io::IoSliceMut::new(buf)])
}

#[inline(never)]
fn read_tls(
    tls: Option<&TlsSession>,
    stream: &TcpStream,
    buf: &mut [u8],
    shutdown: Option<&crate::server::Shutdown>,
) -> io::Result<usize> {
    match tls {
        Some(tls) => tls.read_unless_stopping(stream, buf, shutdown),
        // Not reached: `plain_reads` is false only with a session.
        None => read_plain(stream, buf),
    }
}

impl embedded_io::Write for TcpTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        self.write_frame(&[buf]).map(|()| buf.len())
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        (&*self.stream).flush()
    }
}

/// Writes `parts` in order, through the TLS session if there is one.
#[inline(always)]
fn send(stream: &TcpStream, tls: Option<&TlsSession>, parts: &[&[u8]]) -> io::Result<()> {
    match tls {
        Some(tls) => send_tls(tls, stream, parts),
        None => write_all_vectored(stream, parts),
    }
}

/// The TLS side of [`send`], out of line: plain TCP is the hot path.
#[inline(never)]
fn send_tls(tls: &TlsSession, stream: &TcpStream, parts: &[&[u8]]) -> io::Result<()> {
    tls.write_all(stream, parts)
}

/// Writes `parts` in order, header and payload in one system call where possible.
#[inline(always)]
fn write_all_vectored(mut stream: &TcpStream, parts: &[&[u8]]) -> io::Result<()> {
    match *parts {
        [head, body] => write_head_and_body(stream, head, body),
        _ => parts.iter().try_for_each(|part| stream.write_all(part)),
    }
}

/// Writes `head` then `body`, in one system call where possible.
#[inline(always)]
fn write_head_and_body(stream: &TcpStream, head: &[u8], body: &[u8]) -> io::Result<()> {
    let n = write_vectored(stream, &[IoSlice::new(head), IoSlice::new(body)])?;
    if n == head.len() + body.len() {
        return Ok(());
    }
    write_rest(stream, head, body, n)
}

/// A vectored plain-TCP write: on Linux the system call itself, as for [`read_plain`].
#[cfg(target_os = "linux")]
#[inline(always)]
fn write_vectored(stream: &TcpStream, parts: &[IoSlice<'_>]) -> io::Result<usize> {
    rustix::io::writev(stream, parts).map_err(io::Error::from)
}

/// A vectored plain-TCP write.
#[cfg(not(target_os = "linux"))]
#[inline(always)]
fn write_vectored(mut stream: &TcpStream, parts: &[IoSlice<'_>]) -> io::Result<usize> {
    stream.write_vectored(parts)
}

/// Finishes a short write of `head` then `body` after its first `n` bytes. Out of line, so that
/// the message loop the first write is inlined into stays small.
#[cold]
#[inline(never)]
fn write_rest(mut stream: &TcpStream, mut head: &[u8], mut body: &[u8], n: usize) -> io::Result<()> {
    let from_head = n.min(head.len());
    head = &head[from_head..];
    body = &body[n - from_head..];
    while !head.is_empty() {
        let n = stream.write_vectored(&[IoSlice::new(head), IoSlice::new(body)])?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    stream.write_all(body)
}

impl Transport for TcpTransport {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), io::Error> {
        self.stream.set_read_timeout(timeout)
    }

    fn is_timeout(error: &io::Error) -> bool {
        // SO_RCVTIMEO expiry reads as EAGAIN on Unix and as a timeout elsewhere.
        matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
    }

    #[inline(always)]
    fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), io::Error> {
        self.write_frame(parts)
    }

    fn shutdown_write(&mut self) -> Result<(), io::Error> {
        if let Some(tls) = &self.tls {
            return tls.shutdown_write(&self.stream);
        }
        self.stream.shutdown(Shutdown::Write)
    }

    fn share_writes(&mut self) -> Option<SharedWriter> {
        Some(TcpTransport::share_writes(self))
    }

    fn stop_requested(&self) -> bool {
        self.shutdown.as_ref().is_some_and(crate::server::Shutdown::is_requested)
    }

    fn peer_reset(&self) -> bool {
        crate::server::holds_reset(socket2::SockRef::from(&*self.stream))
    }

    fn pause_after_stop(&mut self) {
        std::thread::sleep(crate::server::POLL_AFTER_STOP);
    }
}

/// `std::time::Instant` as a [`Clock`], counting from its creation.
#[derive(Copy, Clone, Debug)]
pub struct StdClock {
    origin: std::time::Instant,
}

impl StdClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        StdClock { origin: std::time::Instant::now() }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for StdClock {
    fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }
}
