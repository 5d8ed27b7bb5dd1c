//! TLS through a library espws does not carry, for the threads server: ESP-IDF's esp-tls
//! (mbedTLS), as `firmware/esp-idf` serves https and wss with it.
//!
//! Such a library runs the handshake on the accepted socket itself and keeps the session, which
//! owns the socket and makes its own socket calls (esp-tls closes the socket when its session
//! is destroyed). The server lends it the socket ([`Socket`]) through an [`Acceptor`] and serves
//! the [`Session`] it gets back as a transport ([`SessionStream`]), like plain TCP. espws keeps
//! what is the server's: the first byte's check (a plain-HTTP client gets a `400` naming the
//! `https://` URL), the handshake's timeout, the socket's timeouts and the graceful shutdown.
//!
//! # Limits
//!
//! - One thread reads and writes a session. A second writer (the hub's draining thread, which
//!   broadcasts, sensor readings and status ticks go through) would write while a read blocks
//!   inside the library, which mbedTLS's contexts do not allow. So a [`SessionStream`] gives no
//!   [`SharedWriter`](crate::blocking::SharedWriter), and the hub closes a member served over it
//!   with 1011.
//! - A library that makes its own socket calls (esp-tls) looks at the handshake's deadline only
//!   between reads that time out: the socket's read timeout is a slice of the handshake timeout
//!   for that reason. A client that keeps sending a byte at a time within each slice holds its
//!   slot for longer, as any client that keeps talking does.

use core::fmt;
use core::time::Duration;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown as Direction, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{log_refused, write_plain_http_answer, HANDSHAKE_RECORD, PLAIN_HTTP_ANSWER_MAX};
use crate::blocking::{self, BlockingService, StdClock, Transport};
use crate::proto::{PeerLabel, RecvBuf, ServeConfig};
use crate::server::{Registration, Shutdown, POLL_AFTER_STOP};

/// mbedTLS's "want read" (`MBEDTLS_ERR_SSL_WANT_READ`, which esp-tls passes on as
/// `ESP_TLS_ERR_SSL_WANT_READ`): a read the socket's read timeout ended; the call may be repeated.
pub const MBEDTLS_WANT_READ: i32 = -0x6900;
/// mbedTLS's "want write" (`MBEDTLS_ERR_SSL_WANT_WRITE`, esp-tls's `ESP_TLS_ERR_SSL_WANT_WRITE`).
pub const MBEDTLS_WANT_WRITE: i32 = -0x6880;

/// A TLS library's server side, which [`Server::with_tls_acceptor`](crate::server::Server::with_tls_acceptor)
/// runs on every accepted connection.
pub trait Acceptor: Send + Sync + 'static {
    /// What a handshake gives.
    type Session: Session;

    /// Runs the server side of the handshake on `socket` and ends it within `timeout`.
    ///
    /// The client's first byte, a TLS handshake record, waits unread in the socket. The socket's
    /// read timeout is a slice of `timeout`, so that a library which repeats reads that time out
    /// (esp-tls) can look at its deadline between them; its write timeout is the server's.
    fn accept(&self, socket: Socket, timeout: Duration) -> io::Result<Self::Session>;
}

/// An established TLS session, which owns the [`Socket`] it was given.
pub trait Session {
    /// Reads decrypted bytes; `Ok(0)` at the end of the stream.
    ///
    /// A read that the socket's read timeout ended fails with an error of kind `TimedOut` or
    /// `WouldBlock` (mbedTLS's "want read"; [`io_error`] maps its code), and the next call goes
    /// on where it stopped: the driver's timers (pings, the close timeout) run on such reads.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Encrypts some of `buf` and writes it to the socket; gives how much.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Tells the peer that nothing more follows (TLS close_notify), for a library that can.
    /// WebSocket's close frame already ends the conversation, so the default sends nothing.
    fn close_notify(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An mbedTLS result code as an I/O error: "want read" and "want write" are timeouts (the
/// socket's timeout ended the call, which may be repeated); anything else is a failure carrying
/// `error`.
pub fn io_error<E>(code: i32, error: E) -> io::Error
where
    E: Into<std::boxed::Box<dyn std::error::Error + Send + Sync>>,
{
    match code {
        MBEDTLS_WANT_READ | MBEDTLS_WANT_WRITE => io::ErrorKind::TimedOut.into(),
        _ => io::Error::other(error),
    }
}

/// The accepted connection's socket, lent to a TLS library for its session.
///
/// A library that reads and writes through Rust's traits uses it as a stream (std's or
/// embedded-io's `Read` and `Write`). One that makes its own socket calls takes its descriptor
/// ([`fd`](Self::fd)) and, if it closes the socket itself (esp-tls does), calls
/// [`release`](Self::release) before that, so that espws does not close it a second time.
#[derive(Debug)]
pub struct Socket {
    /// `None` once released.
    stream: Option<Arc<TcpStream>>,
    released: Arc<AtomicBool>,
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
}

impl Socket {
    /// The socket's descriptor, for a library that makes its own socket calls.
    #[cfg(unix)]
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.fd
    }

    /// Leaves the socket to the library, which closes it: espws will not. Reads and writes
    /// through this `Socket` fail from now on.
    #[cfg(unix)]
    pub fn release(&mut self) {
        self.released.store(true, Ordering::Release);
        self.stream = None;
    }

    /// Bounds how long each following read may block, as `TcpStream::set_read_timeout`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream()?.set_read_timeout(timeout)
    }

    fn stream(&self) -> io::Result<&TcpStream> {
        self.stream.as_deref().ok_or_else(|| io::ErrorKind::NotConnected.into())
    }
}

impl io::Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream()?.read(buf)
    }
}

impl io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl embedded_io::ErrorType for Socket {
    type Error = io::Error;
}

impl embedded_io::Read for Socket {
    /// As std's, except that a read the timeout ended fails with `TimedOut`: std reports it as
    /// `WouldBlock` on Unix, which embedded-io has no kind for.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match io::Read::read(self, buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::ErrorKind::TimedOut.into()),
            read => read,
        }
    }
}

impl embedded_io::Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The server's hold on a lent socket. Dropped after the session: it closes the socket, unless
/// the library took it over ([`Socket::release`]) and has closed it already.
#[derive(Debug)]
struct Lent {
    stream: Option<Arc<TcpStream>>,
    released: Arc<AtomicBool>,
}

impl Lent {
    /// Lends `stream`: the server's hold, and the socket for the library.
    fn new(stream: TcpStream) -> (Lent, Socket) {
        #[cfg(unix)]
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let stream = Arc::new(stream);
        let released = Arc::new(AtomicBool::new(false));
        let socket = Socket {
            stream: Some(stream.clone()),
            released: released.clone(),
            #[cfg(unix)]
            fd,
        };
        (Lent { stream: Some(stream), released }, socket)
    }

    fn stream(&self) -> &TcpStream {
        // Taken only by `drop`.
        self.stream.as_deref().expect("the lent stream is held until dropped")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let Some(stream) = self.stream.take() else { return };
        if self.released.load(Ordering::Acquire) {
            // The library closed the descriptor: give the number up without closing it again
            // (it may already be another connection's). The shutdown's list let go of it first.
            #[cfg(unix)]
            match Arc::try_unwrap(stream) {
                Ok(stream) => {
                    let _ = std::os::fd::IntoRawFd::into_raw_fd(stream);
                }
                Err(still_shared) => core::mem::forget(still_shared),
            }
        }
    }
}

/// Why a connection ended before its TLS session began.
#[derive(Debug)]
pub enum AcceptError {
    /// The client spoke plain HTTP (or anything but TLS); it was answered `400`.
    NotTls,
    /// The client closed the connection before the handshake ended.
    Closed,
    /// The handshake did not finish within its timeout.
    TimedOut,
    /// The socket failed before the handshake began.
    Io(io::Error),
    /// The TLS library ended the handshake with this error (a client it could not agree with,
    /// or no memory for the session).
    Handshake(io::Error),
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::NotTls => f.write_str("not a TLS client; answered 400"),
            AcceptError::Closed => f.write_str("closed during the TLS handshake"),
            AcceptError::TimedOut => f.write_str("TLS handshake not finished within its timeout"),
            AcceptError::Io(e) => write!(f, "socket error before the TLS handshake: {e}"),
            AcceptError::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for AcceptError {}

impl From<io::Error> for AcceptError {
    fn from(e: io::Error) -> Self {
        AcceptError::Io(e)
    }
}

impl AcceptError {
    /// Logs it as every runtime logs a connection dropped before TLS.
    pub fn log(&self, peer: &PeerLabel) {
        log_refused(peer, &std::format!("{self}"));
    }
}

/// Whether a socket call failed because its timeout passed (EAGAIN on Unix).
pub(crate) fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The longest a library's read may block during the handshake, of `left` to go: it looks at
/// its deadline between such reads, and ends at most this late.
fn handshake_read_slice(left: Duration) -> Duration {
    (left / 8).clamp(Duration::from_millis(10), Duration::from_millis(500))
}

/// Runs `acceptor`'s handshake on an accepted stream, within `timeout`, and gives the session
/// as a transport.
///
/// A client whose first byte is not a TLS handshake record gets a plain-HTTP `400` naming the
/// `https://` URL ([`AcceptError::NotTls`]). The stream's write timeout, if any, bounds the
/// handshake's writes too; its read timeout is left unset.
pub fn accept<A: Acceptor>(
    stream: TcpStream,
    acceptor: &A,
    timeout: Duration,
) -> Result<SessionStream<A::Session>, AcceptError> {
    let started = Instant::now();
    expect_client_hello(&stream, timeout)?;
    let left =
        timeout.checked_sub(started.elapsed()).filter(|d| !d.is_zero()).ok_or(AcceptError::TimedOut)?;
    stream.set_read_timeout(Some(handshake_read_slice(left)))?;
    let (lent, socket) = Lent::new(stream);
    match acceptor.accept(socket, left) {
        Ok(session) => {
            lent.stream().set_read_timeout(None)?;
            Ok(SessionStream { session, lent, shutdown: None })
        }
        Err(e) if timed_out(&e) || started.elapsed() >= timeout => Err(AcceptError::TimedOut),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            ) =>
        {
            Err(AcceptError::Closed)
        }
        Err(e) => Err(AcceptError::Handshake(e)),
    }
}

/// Waits up to `timeout` for the client's first byte, leaving it unread: a TLS client's is a
/// handshake record. Any other client is answered `400` naming the `https://` URL, and refused.
pub(crate) fn expect_client_hello(stream: &TcpStream, timeout: Duration) -> Result<(), AcceptError> {
    stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    let mut first = [0u8; 1];
    match stream.peek(&mut first) {
        Ok(0) => return Err(AcceptError::Closed),
        Ok(_) => {}
        Err(e) if timed_out(&e) => return Err(AcceptError::TimedOut),
        Err(e) => return Err(AcceptError::Io(e)),
    }
    if first[0] != HANDSHAKE_RECORD {
        answer_plain_http(stream);
        return Err(AcceptError::NotTls);
    }
    Ok(())
}

/// Answers a plain-HTTP client with the `400`, then closes without a reset: end-of-stream,
/// and what it still sends discarded for up to a second.
pub(crate) fn answer_plain_http(stream: &TcpStream) {
    let Ok(local) = stream.local_addr() else { return };
    let mut answer = [0u8; PLAIN_HTTP_ANSWER_MAX];
    let len = write_plain_http_answer(local, &mut answer);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    if (&*stream).write_all(&answer[..len]).is_err() {
        return;
    }
    let _ = stream.shutdown(Direction::Write);
    let until = Instant::now() + Duration::from_secs(1);
    let mut scratch = [0u8; 256];
    while let Some(left) = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        let _ = stream.set_read_timeout(Some(left));
        match (&*stream).read(&mut scratch) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

/// A TLS session from an [`Acceptor`], as a transport for the blocking driver.
///
/// It gives no [`SharedWriter`](crate::blocking::SharedWriter): see the module's limits.
pub struct SessionStream<S: Session> {
    // Declared, and so dropped, before `lent`: the session ends (and a library that took the
    // socket over closes it) before the server lets go of the socket.
    session: S,
    lent: Lent,
    /// The server's shutdown, which shuts this stream's read side to wake its reader.
    shutdown: Option<Shutdown>,
}

impl<S: Session> fmt::Debug for SessionStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStream").field("lent", &self.lent).finish_non_exhaustive()
    }
}

impl<S: Session> SessionStream<S> {
    /// The TCP stream, for socket options.
    pub fn stream(&self) -> &TcpStream {
        self.lent.stream()
    }

    /// The session.
    pub fn session_mut(&mut self) -> &mut S {
        &mut self.session
    }

    /// Enters this connection in `shutdown`, as `TcpTransport::watch` does. Drop the
    /// registration before the transport: the socket must leave the shutdown's list first.
    pub(crate) fn watch(&mut self, shutdown: &Shutdown, id: u64) -> Registration {
        self.shutdown = Some(shutdown.clone());
        let stream = self.lent.stream.as_ref().expect("the lent stream is held until dropped");
        shutdown.register(id, stream)
    }
}

impl<S: Session> embedded_io::ErrorType for SessionStream<S> {
    type Error = io::Error;
}

impl<S: Session> embedded_io::Read for SessionStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.session.read(buf)
    }
}

impl<S: Session> embedded_io::Write for SessionStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.session.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Every write has handed its records to the socket.
        Ok(())
    }
}

impl<S: Session> Transport for SessionStream<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream().set_read_timeout(timeout)
    }

    fn is_timeout(error: &io::Error) -> bool {
        timed_out(error)
    }

    fn write_all_vectored(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        write_parts(&mut self.session, parts)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.session.close_notify()?;
        self.stream().shutdown(Direction::Write)
    }

    fn stop_requested(&self) -> bool {
        self.shutdown.as_ref().is_some_and(Shutdown::is_requested)
    }

    fn peer_reset(&self) -> bool {
        crate::server::holds_reset(socket2::SockRef::from(self.stream()))
    }

    fn pause_after_stop(&mut self) {
        std::thread::sleep(POLL_AFTER_STOP);
    }
}

/// A frame's header and the start of its payload go out as one write, so one TLS record: the
/// header alone would be a record of its own (29 bytes of overhead with AES-GCM, and a TCP
/// segment of its own with Nagle off). Room for that on the connection thread's stack.
const JOINED: usize = 256;

/// Writes `parts` in order; a header and its payload with the payload's start joined to it.
fn write_parts<S: Session>(session: &mut S, parts: &[&[u8]]) -> io::Result<()> {
    let [head, body] = *parts else {
        return parts.iter().try_for_each(|part| write_all(session, part));
    };
    let Some(room) = JOINED.checked_sub(head.len()) else {
        write_all(session, head)?;
        return write_all(session, body);
    };
    let (start, rest) = body.split_at(body.len().min(room));
    let mut joined = [0u8; JOINED];
    joined[..head.len()].copy_from_slice(head);
    joined[head.len()..head.len() + start.len()].copy_from_slice(start);
    write_all(session, &joined[..head.len() + start.len()])?;
    write_all(session, rest)
}

fn write_all<S: Session>(session: &mut S, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match session.write(bytes)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => bytes = &bytes[n..],
        }
    }
    Ok(())
}

/// What the threads server hands an [`Acceptor`]'s connections.
pub(crate) struct Context<'a, S> {
    pub service: &'a S,
    pub config: &'a ServeConfig<'static>,
    pub clock: StdClock,
    pub shutdown: &'a Shutdown,
}

/// An [`Acceptor`] serving the threads server's connections, its type erased so that only a
/// server given one compiles the driver for its sessions.
pub(crate) trait Serve<S>: Send + Sync {
    /// Serves one accepted connection to its end, on the calling (connection) thread.
    fn serve(&self, stream: TcpStream, id: u64, peer: Option<SocketAddr>, cx: Context<'_, S>);
}

impl<S: BlockingService, A: Acceptor> Serve<S> for A {
    fn serve(&self, stream: TcpStream, id: u64, peer: Option<SocketAddr>, cx: Context<'_, S>) {
        let mut io = match accept(stream, self, cx.config.handshake_timeout) {
            Ok(io) => io,
            Err(e) => return e.log(&PeerLabel::new(id, peer)),
        };
        let registration = io.watch(cx.shutdown, id);
        let rx = RecvBuf::new(std::vec![0u8; cx.config.rx_buffer]);
        let finished = blocking::serve(io, rx, cx.clock, cx.config, cx.service, id, peer);
        drop(registration);
        // The session cannot go to the reaper, which lingers over plain sockets: it lingers
        // here, keeping its slot, as its memory is still in use.
        finished.linger(&cx.clock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::vec::Vec;

    /// The server's end of a fresh loopback connection, and the peer's end.
    fn accepted() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, peer)
    }

    /// Whether the peer sees its connection end within 200 ms.
    fn peer_sees_the_end(mut peer: &TcpStream) -> bool {
        peer.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        matches!(peer.read(&mut [0u8; 1]), Ok(0))
    }

    #[test]
    fn the_server_closes_a_lent_socket_unless_the_library_took_it_over() {
        let (stream, peer) = accepted();
        let (lent, socket) = Lent::new(stream);
        drop(socket);
        drop(lent);
        assert!(peer_sees_the_end(&peer), "closed once the session and the server let go");

        // A library that closes the socket itself (esp-tls) releases it first; espws then
        // leaves the descriptor alone. (This test's library never closes it: it stays open.)
        #[cfg(unix)]
        {
            let (stream, peer) = accepted();
            let (lent, mut socket) = Lent::new(stream);
            socket.release();
            assert_eq!(socket.set_read_timeout(None).unwrap_err().kind(), io::ErrorKind::NotConnected);
            drop(socket);
            drop(lent);
            assert!(!peer_sees_the_end(&peer), "espws closed a socket the library had taken over");
        }
    }

    #[test]
    fn mbedtls_want_read_and_want_write_are_timeouts() {
        for code in [MBEDTLS_WANT_READ, MBEDTLS_WANT_WRITE] {
            assert!(timed_out(&io_error(code, "want")), "{code}");
        }
        // MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: a failure, with its text.
        let failed = io_error(-0x7780, "fatal alert");
        assert!(!timed_out(&failed));
        assert_eq!(std::format!("{failed}"), "fatal alert");
    }

    /// Records every write; takes at most 4 KiB at a time, as mbedTLS's output record does.
    struct Recorded(Vec<Vec<u8>>);

    impl Session for Recorded {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Ok(0)
        }

        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(4096);
            self.0.push(buf[..n].to_vec());
            Ok(n)
        }
    }

    #[test]
    fn a_header_goes_out_with_the_start_of_its_payload() {
        let mut small = Recorded(Vec::new());
        write_parts(&mut small, &[b"hd", &[1u8; 100]]).unwrap();
        assert_eq!(small.0, [[&b"hd"[..], &[1u8; 100]].concat()]);

        let body: Vec<u8> = (0..10_000).map(|i| i as u8).collect();
        let mut large = Recorded(Vec::new());
        write_parts(&mut large, &[b"head", &body]).unwrap();
        let lengths: Vec<usize> = large.0.iter().map(Vec::len).collect();
        assert_eq!(lengths, [JOINED, 4096, 4096, 10_000 + 4 - JOINED - 8192]);
        assert_eq!(large.0.concat(), [&b"head"[..], &body].concat());

        let mut apart = Recorded(Vec::new());
        write_parts(&mut apart, &[b"a", b"b", b"c"]).unwrap();
        assert_eq!(apart.0, [b"a", b"b", b"c"]);
    }
}
