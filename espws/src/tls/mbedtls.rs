//! TLS for the async driver without std: mbedTLS through `mbedtls-rs`, as the bare-metal worker
//! pool serves https and wss (a [`TlsServer`] as the layer of `crate::server::embassy::worker`).
//!
//! The handshake runs over any [`Transport`] (embassy-net's `TcpSocket` on a device); the
//! [`TlsStream`] it gives back is a transport too, so the WebSocket and HTTP phases are the same
//! as over TCP. mbedTLS allocates each connection's state from the global allocator: its input
//! and output record buffers (`MBEDTLS_SSL_IN_CONTENT_LEN` and `OUT_CONTENT_LEN`, which the
//! firmware picks through mbedtls-rs's `ssl-in-content-len-*`/`ssl-out-content-len-*` features),
//! the session, and, during the handshake only, the key exchange's and the signature's state.
//! An allocation that fails ends that handshake with [`AcceptError::OutOfMemory`]; the server
//! goes on serving the others.
//!
//! The certificate is checked once, by [`TlsServer::new`], and shared by every handshake.

use core::fmt;
use core::fmt::Write as _;
use core::net::SocketAddr;
use core::time::Duration;

use embassy_futures::select::{select, Either};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use mbedtls_rs::sys::{
    MBEDTLS_ERR_SSL_ALLOC_FAILED, MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION, MBEDTLS_ERR_SSL_DECODE_ERROR,
    MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE, MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE, MBEDTLS_ERR_SSL_INVALID_RECORD,
    MBEDTLS_ERR_SSL_UNSUPPORTED_EXTENSION,
};
use mbedtls_rs::{Certificate, Credentials, PrivateKey, ServerSessionConfig, Session, SessionConfig};
pub use mbedtls_rs::{SessionError, Tls, TlsReference, X509};

use super::{log_refused, write_plain_http_answer, HANDSHAKE_RECORD, PLAIN_HTTP_ANSWER_MAX};
use crate::nonblocking::{Timer, Transport};
use crate::proto::PeerLabel;

/// The server's side of TLS: the mbedTLS instance, and the certificate and key every handshake
/// presents, parsed once.
pub struct TlsServer<'a> {
    tls: TlsReference<'a>,
    config: SessionConfig<'a>,
}

impl<'a> TlsServer<'a> {
    /// Presents `certificate` (a DER leaf, kept in place; or a PEM chain, leaf first, copied to
    /// the heap) and signs with `private_key` (DER or PEM, unencrypted).
    pub fn new(
        tls: TlsReference<'a>,
        certificate: X509<'a>,
        private_key: X509<'_>,
    ) -> Result<Self, SetupError> {
        let certificate = match certificate {
            X509::DER(der) => Certificate::new_no_copy(der).map_err(|e| SetupError::Certificate(code(e)))?,
            pem => Certificate::new(pem).map_err(|e| SetupError::Certificate(e.code()))?,
        };
        let private_key = PrivateKey::new(private_key, None).map_err(|e| SetupError::PrivateKey(code(e)))?;
        let config =
            SessionConfig::Server(ServerSessionConfig::new(Credentials { certificate, private_key }));
        Ok(TlsServer { tls, config })
    }
}

/// Why [`TlsServer::new`] refused a certificate or key; the mbedTLS error code is kept for the
/// log.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The certificate did not parse (not X.509, truncated, or PEM without its final NUL byte).
    Certificate(i32),
    /// The private key did not parse, is encrypted, or is of a kind this build cannot use.
    PrivateKey(i32),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Certificate(c) => write!(f, "the TLS certificate does not parse (mbedTLS -0x{:04x})", -c),
            SetupError::PrivateKey(c) => write!(
                f,
                "the TLS private key does not parse or is not usable (mbedTLS -0x{:04x}; an ECDSA P-256 key is expected)",
                -c
            ),
        }
    }
}

/// Why a connection ended before its TLS handshake did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AcceptError {
    /// The client spoke plain HTTP (or anything but TLS); it was answered `400`.
    NotTls,
    /// The client closed the connection before the handshake ended.
    Closed,
    /// The handshake did not finish before its deadline.
    TimedOut,
    /// Not enough heap for the connection's TLS state: fewer clients at once, or a larger heap.
    OutOfMemory,
    /// The client's TLS was invalid or incompatible; the mbedTLS error code.
    Protocol(i32),
    /// The socket failed.
    Io(ErrorKind),
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AcceptError::NotTls => f.write_str("not a TLS client; answered 400"),
            AcceptError::Closed => f.write_str("closed during the TLS handshake"),
            AcceptError::TimedOut => f.write_str("TLS handshake not finished within its timeout"),
            AcceptError::OutOfMemory => f.write_str(
                "no heap left for the TLS session (serve fewer clients at once, or give TLS more heap)",
            ),
            AcceptError::Protocol(c) => {
                let what = match c {
                    MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE => {
                        "the client sent a fatal alert (does it trust the certificate?)"
                    }
                    MBEDTLS_ERR_SSL_INVALID_RECORD | MBEDTLS_ERR_SSL_DECODE_ERROR => "invalid TLS records",
                    MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION => {
                        "no TLS version in common (1.2 and 1.3 are served)"
                    }
                    MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE => "no cipher suite or group in common",
                    MBEDTLS_ERR_SSL_UNSUPPORTED_EXTENSION => "an extension the server cannot accept",
                    _ => "",
                };
                write!(
                    f,
                    "TLS handshake failed: {what}{}(mbedTLS -0x{:04x})",
                    if what.is_empty() { "" } else { " " },
                    -c
                )
            }
            AcceptError::Io(kind) => write!(f, "socket error during the TLS handshake: {kind:?}"),
        }
    }
}

impl AcceptError {
    fn from_session(e: SessionError) -> Self {
        match e {
            SessionError::MbedTls(e) if e.code() == MBEDTLS_ERR_SSL_ALLOC_FAILED => AcceptError::OutOfMemory,
            SessionError::MbedTls(e) => AcceptError::Protocol(e.code()),
            // mbedtls-rs reports the peer's end of stream as a reset.
            SessionError::Io(ErrorKind::ConnectionReset) => AcceptError::Closed,
            SessionError::Io(kind) => AcceptError::Io(kind),
        }
    }

    /// Logs it as every runtime logs a connection dropped before TLS.
    pub fn log(&self, peer: &PeerLabel) {
        let mut reason = crate::proto::InlineStr::<160>::new();
        let _ = write!(reason, "{self}");
        log_refused(peer, reason.as_str());
    }
}

fn code(e: SessionError) -> i32 {
    match e {
        SessionError::MbedTls(e) => e.code(),
        SessionError::Io(_) => MBEDTLS_ERR_SSL_INVALID_RECORD,
    }
}

/// Runs the server side of the TLS handshake on an accepted `socket`, within `timeout`.
///
/// A client whose first byte is not a TLS handshake record gets a plain-HTTP `400` naming the
/// `https://` URL at `local` ([`AcceptError::NotTls`]). Pass the socket by `&mut` to end the
/// connection yourself afterwards, whatever happened.
pub async fn accept<'a, S: Transport, K: Timer>(
    mut socket: S,
    server: &TlsServer<'a>,
    timer: &K,
    timeout: Duration,
    local: Option<SocketAddr>,
) -> Result<TlsStream<'a, S>, AcceptError> {
    let deadline = timer.now() + timeout;
    let mut first = [0u8; 1];
    match select(socket.read(&mut first), timer.sleep_until(deadline)).await {
        Either::First(Ok(0)) => return Err(AcceptError::Closed),
        Either::First(Ok(_)) => {}
        Either::First(Err(e)) => return Err(AcceptError::Io(embedded_io_async::Error::kind(&e))),
        Either::Second(()) => return Err(AcceptError::TimedOut),
    }
    if first[0] != HANDSHAKE_RECORD {
        if let Some(local) = local {
            answer_plain_http(&mut socket, timer, local).await;
        }
        return Err(AcceptError::NotTls);
    }
    let stream = Prefixed { first: Some(first[0]), inner: socket };
    let mut session = Session::new(server.tls, stream, &server.config).map_err(AcceptError::from_session)?;
    match select(session.connect(), timer.sleep_until(deadline)).await {
        Either::First(Ok(())) => Ok(TlsStream { session }),
        Either::First(Err(e)) => Err(AcceptError::from_session(e)),
        Either::Second(()) => Err(AcceptError::TimedOut),
    }
}

/// Answers a plain-HTTP client with the `400`, then ends the stream, waiting at most a second.
async fn answer_plain_http<S: Transport, K: Timer>(socket: &mut S, timer: &K, local: SocketAddr) {
    let mut answer = [0u8; PLAIN_HTTP_ANSWER_MAX];
    let len = write_plain_http_answer(local, &mut answer);
    let deadline = timer.now() + Duration::from_secs(1);
    let answered = async {
        socket.write_all(&answer[..len]).await?;
        socket.shutdown_write().await?;
        // Read what the client sent until its end, so that the answer is not lost to a reset.
        let mut scratch = [0u8; 64];
        while socket.read(&mut scratch).await? > 0 {}
        Ok::<(), S::Error>(())
    };
    let _ = select(answered, timer.sleep_until(deadline)).await;
}

/// A TLS connection over a transport, as a transport for the async driver.
///
/// Its reads return what one TLS record held; its writes are sealed into records and handed to
/// the socket before they return. mbedTLS may hold decrypted bytes that no socket readiness
/// shows, so a connection over it keeps its receive buffer while it waits.
pub struct TlsStream<'a, S: Transport> {
    session: Session<'a, Prefixed<S>>,
}

impl<S: Transport> fmt::Debug for TlsStream<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsStream")
    }
}

impl<S: Transport> ErrorType for TlsStream<'_, S> {
    type Error = SessionError;
}

impl<S: Transport> Read for TlsStream<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, SessionError> {
        match self.session.read(buf).await {
            // The peer ended TCP without close_notify: an ordinary end of stream here, as
            // WebSocket frames delimit themselves (mbedtls-rs reports it as a reset).
            Err(SessionError::Io(ErrorKind::ConnectionReset)) => Ok(0),
            read => read,
        }
    }
}

impl<S: Transport> Write for TlsStream<'_, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, SessionError> {
        let n = self.session.write(buf).await?;
        // The last byte of a record may still wait in the session (mbedtls-rs keeps one when
        // the socket's buffer is full); the flush hands it to the socket.
        self.session.flush().await?;
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), SessionError> {
        self.session.flush().await
    }
}

impl<S: Transport> Transport for TlsStream<'_, S> {
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), SessionError> {
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                let n = self.session.write(rest).await?;
                rest = &rest[n..];
            }
        }
        self.session.flush().await
    }

    async fn shutdown_write(&mut self) -> Result<(), SessionError> {
        // close_notify, then TCP end-of-stream.
        self.session.close().await?;
        self.session.stream().inner.shutdown_write().await.map_err(SessionError::from_io)
    }
}

/// The accepted stream with the byte [`accept`] read to tell TLS from plain HTTP put back in
/// front. Its `flush` is empty: a socket's own flush may wait for the peer's acknowledgement
/// (embassy-net's does), which no write here needs.
struct Prefixed<S> {
    first: Option<u8>,
    inner: S,
}

impl<S: ErrorType> ErrorType for Prefixed<S> {
    type Error = S::Error;
}

impl<S: Read> Read for Prefixed<S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, S::Error> {
        match (self.first.take(), buf.first_mut()) {
            (Some(byte), Some(slot)) => {
                *slot = byte;
                Ok(1)
            }
            (first, _) => {
                self.first = first;
                self.inner.read(buf).await
            }
        }
    }
}

impl<S: Write> Write for Prefixed<S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, S::Error> {
        self.inner.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), S::Error> {
        Ok(())
    }
}
