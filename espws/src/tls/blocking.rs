//! TLS for the blocking driver: rustls over a `std::net::TcpStream`.
//!
//! The session sits behind a mutex so that a second thread may write whole frames while the
//! first blocks in a read (as [`TcpTransport::share_writes`](crate::blocking::TcpTransport)
//! allows over plain TCP): a read waits for the socket without the lock and takes it only to
//! decrypt what arrived; a write holds it until its records are on the socket.

use core::time::Duration;
use std::io::{self, IoSlice, Read as _, Write as _};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rustls::ServerConnection;

use super::external::{expect_client_hello, timed_out};
use super::{TlsConfig, TlsError};
use crate::blocking::Transport;

/// The least stack a connection thread needs for the TLS handshake (rustls), with room for an
/// unoptimised build; only the pages touched count towards memory.
pub const THREAD_STACK: usize = 256 * 1024;

/// Ciphertext read from the socket per system call.
const READ_CHUNK: usize = 8 * 1024;

/// An established TLS session, shareable between a reading and a writing thread; every call
/// takes the TCP stream it runs over.
#[derive(Clone)]
pub struct TlsSession {
    inner: Arc<Mutex<Session>>,
}

struct Session {
    conn: ServerConnection,
    /// Ciphertext read from the socket that rustls has not taken yet: it takes no more while
    /// a record's worth of plaintext waits to be read.
    pending: std::vec::Vec<u8>,
}

impl core::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TlsSession")
    }
}

impl TlsSession {
    fn lock(&self) -> MutexGuard<'_, Session> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads decrypted bytes; `Ok(0)` at the end of the stream. The socket's read timeout
    /// applies as over plain TCP.
    pub fn read(&self, stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        self.read_unless_stopping(stream, buf, None)
    }

    /// [`read`](Self::read) on a server's connection: once `shutdown` is requested, an end
    /// of stream on the socket is the shutdown's doing (it shut the read side to wake this
    /// read), so it is reported as such (0) without telling rustls that the stream ended: the
    /// peer's close frame may still come, and rustls must be able to decrypt it.
    pub(crate) fn read_unless_stopping(
        &self,
        stream: &TcpStream,
        buf: &mut [u8],
        shutdown: Option<&crate::server::Shutdown>,
    ) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut raw = [0u8; READ_CHUNK];
        loop {
            {
                let mut session = self.lock();
                match session.conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer ended TCP without close_notify: WebSocket frames delimit
                    // themselves, so this is an ordinary end of stream for the driver.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                if !session.pending.is_empty() {
                    session.feed(stream)?;
                    continue;
                }
            }
            // Wait for the socket without the lock, so that another thread may write.
            let n = (&*stream).read(&mut raw)?;
            if n == 0 && shutdown.is_some_and(crate::server::Shutdown::is_requested) {
                return Ok(0);
            }
            let mut session = self.lock();
            if n == 0 {
                // End of stream: rustls notes it, and the next plaintext read reports it.
                let _ = session.conn.read_tls(&mut &[][..]);
                continue;
            }
            session.pending.extend_from_slice(&raw[..n]);
            session.feed(stream)?;
        }
    }

    /// Encrypts and writes `parts` in order, as few records as rustls makes of them, and
    /// returns once every record is on the socket (or its write timeout passed).
    pub fn write_all(&self, stream: &TcpStream, parts: &[&[u8]]) -> io::Result<()> {
        write_parts(&mut self.lock().conn, stream, parts)
    }

    /// Sends close_notify, then TCP end-of-stream, keeping the read side open.
    pub fn shutdown_write(&self, stream: &TcpStream) -> io::Result<()> {
        let conn = &mut self.lock().conn;
        conn.send_close_notify();
        flush(conn, stream)?;
        stream.shutdown(Shutdown::Write)
    }
}

impl Session {
    /// Hands rustls what it takes of the pending ciphertext, once the plaintext is all read;
    /// on a TLS error, sends its alert and fails.
    fn feed(&mut self, stream: &TcpStream) -> io::Result<()> {
        let mut rest = &self.pending[..];
        let taken = self.conn.read_tls(&mut rest)?;
        self.pending.drain(..taken);
        if let Err(e) = self.conn.process_new_packets() {
            let _ = flush(&mut self.conn, stream);
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        // Answers rustls owes the peer (a key update, say).
        flush(&mut self.conn, stream)
    }
}

fn write_parts(conn: &mut ServerConnection, stream: &TcpStream, parts: &[&[u8]]) -> io::Result<()> {
    let mut slices: [&[u8]; 2] = [&[], &[]];
    let mut rest: &[&[u8]] = parts;
    // Two parts (a header and its payload) go into the same records.
    if let [head, body] = parts {
        slices = [head, body];
        rest = &[];
    }
    while slices.iter().any(|s| !s.is_empty()) {
        let n = conn.writer().write_vectored(&[IoSlice::new(slices[0]), IoSlice::new(slices[1])])?;
        let from_head = n.min(slices[0].len());
        slices = [&slices[0][from_head..], &slices[1][n - from_head..]];
        flush(conn, stream)?;
    }
    for part in rest {
        let mut part = *part;
        while !part.is_empty() {
            let n = conn.writer().write(part)?;
            part = &part[n..];
            flush(conn, stream)?;
        }
    }
    flush(conn, stream)
}

/// Writes every pending record to the socket.
fn flush(conn: &mut ServerConnection, mut stream: &TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        if conn.write_tls(&mut stream)? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// A TLS connection over a TCP stream, as a transport for the blocking driver.
#[derive(Debug)]
pub struct TlsStream {
    stream: TcpStream,
    session: TlsSession,
}

impl TlsStream {
    /// The TCP stream, for socket options.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The stream and the session, for a transport that shares writes between threads.
    pub fn into_parts(self) -> (TcpStream, TlsSession) {
        (self.stream, self.session)
    }
}

impl embedded_io::ErrorType for TlsStream {
    type Error = io::Error;
}

impl embedded_io::Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        self.session.read(&self.stream, buf)
    }
}

impl embedded_io::Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        self.session.write_all(&self.stream, &[buf]).map(|()| buf.len())
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        // Every write has already put its records on the socket.
        Ok(())
    }
}

impl Transport for TlsStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), io::Error> {
        self.stream.set_read_timeout(timeout)
    }

    fn is_timeout(error: &io::Error) -> bool {
        timed_out(error)
    }

    fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), io::Error> {
        self.session.write_all(&self.stream, parts)
    }

    fn shutdown_write(&mut self) -> Result<(), io::Error> {
        self.session.shutdown_write(&self.stream)
    }
}

/// Runs the server side of the TLS handshake on an accepted stream, within `timeout`.
///
/// A client whose first byte is not a TLS handshake record gets a plain-HTTP `400` naming the
/// `https://` URL ([`TlsError::NotTls`]). The stream's read timeout is left unset; its write
/// timeout, if any, bounds the handshake's writes too.
pub fn accept(stream: TcpStream, config: &TlsConfig, timeout: Duration) -> Result<TlsStream, TlsError> {
    let deadline = Instant::now() + timeout;
    let remaining = || deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero());
    expect_client_hello(&stream, timeout)?;

    let mut conn = ServerConnection::new(config.clone())?;
    while conn.is_handshaking() {
        flush(&mut conn, &stream)?;
        if !conn.wants_read() {
            continue;
        }
        let Some(left) = remaining() else { return Err(TlsError::TimedOut) };
        stream.set_read_timeout(Some(left))?;
        match conn.read_tls(&mut &stream) {
            Ok(0) => return Err(TlsError::Closed),
            Ok(_) => {}
            Err(e) if timed_out(&e) => return Err(TlsError::TimedOut),
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = conn.process_new_packets() {
            let _ = flush(&mut conn, &stream);
            return Err(e.into());
        }
    }
    // The server's last flight (and TLS 1.3 session tickets).
    flush(&mut conn, &stream)?;
    stream.set_read_timeout(None)?;
    let session = Session { conn, pending: std::vec::Vec::new() };
    Ok(TlsStream { stream, session: TlsSession { inner: Arc::new(Mutex::new(session)) } })
}

/// The transport an accept loop serves an accepted stream over: plain TCP without `config`,
/// TLS after a successful [`accept`] with it; `None` (the reason logged) when the TLS
/// handshake failed.
// Out of line: inlined, rustls's handshake state made the connection thread's own frame 3.8 KiB,
// so every idle plain connection on threads touched a fourth page of stack (4 KiB more RSS).
#[inline(never)]
pub fn transport(
    stream: TcpStream,
    config: Option<&TlsConfig>,
    timeout: Duration,
    id: u64,
    peer: std::net::SocketAddr,
) -> Option<crate::blocking::TcpTransport> {
    let Some(config) = config else { return Some(crate::blocking::TcpTransport::new(stream)) };
    match accept(stream, config, timeout) {
        Ok(tls) => Some(crate::blocking::TcpTransport::tls(tls)),
        Err(e) => {
            super::log_refused(&crate::proto::PeerLabel::new(id, Some(peer)), &std::format!("{e}"));
            None
        }
    }
}
