//! `espws::tls::external` implemented on the host with mbedtls-rs's blocking session: what
//! `firmware/esp-idf` does with ESP-IDF's esp-tls (mbedTLS as well). Shared by espws's
//! `tests/external_tls.rs` and espws-board's `tests/thread_stack.rs`.
//!
//! As esp-tls does, it parses the certificate and key for every session, and ends the
//! handshake at its deadline. mbedtls-rs reports a read that timed out as an I/O error
//! (`TimedOut`), which its `connect` cannot resume (it starts the handshake over), so the
//! handshake's reads each wait for the time left instead of esp-tls's slices.

use std::ffi::CStr;
use std::io;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use espws::tls::external::{Acceptor, Session, Socket};
use mbedtls_rs::blocking::io::{ErrorKind, ErrorType, Read, Write};
use mbedtls_rs::{
    Certificate, Credentials, PrivateKey, ServerSessionConfig, SessionConfig, SessionError, Tls,
    TlsReference, X509,
};

/// The process's one mbedTLS instance (mbedtls-rs allows one), with the operating system's
/// generator as its random source.
pub fn library() -> TlsReference<'static> {
    static LIBRARY: OnceLock<Tls<'static>> = OnceLock::new();
    LIBRARY
        .get_or_init(|| {
            let rng = Box::leak(Box::new(rand_core_10::UnwrapErr(getrandom_04::SysRng)));
            Tls::new(rng).expect("the one mbedTLS instance of this process")
        })
        .reference()
}

/// Serves TLS with mbedTLS and a PEM certificate and key.
pub struct MbedtlsAcceptor {
    /// The certificate (PEM, with its final NUL).
    pub cert: &'static CStr,
    /// Its private key (PEM, with its final NUL).
    pub key: &'static CStr,
}

impl Acceptor for MbedtlsAcceptor {
    type Session = MbedtlsSession;

    fn accept(&self, socket: Socket, timeout: Duration) -> io::Result<MbedtlsSession> {
        let certificate = Certificate::new(X509::PEM(self.cert)).map_err(|e| failed(e.into()))?;
        let private_key = PrivateKey::new(X509::PEM(self.key), None).map_err(failed)?;
        let config =
            SessionConfig::Server(ServerSessionConfig::new(Credentials { certificate, private_key }));
        let stream = Bounded { socket, until: Some(Instant::now() + timeout) };
        let mut session = mbedtls_rs::blocking::Session::new(library(), stream, &config).map_err(failed)?;
        session.connect().map_err(failed)?;
        session.stream().until = None;
        Ok(MbedtlsSession(session))
    }
}

/// An mbedtls-rs session as espws's [`Session`].
pub struct MbedtlsSession(mbedtls_rs::blocking::Session<'static, Bounded>);

impl Session for MbedtlsSession {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            // The peer ended TCP without close_notify (mbedtls-rs calls that a reset): the end
            // of the stream, as WebSocket frames delimit themselves.
            Err(SessionError::Io(ErrorKind::ConnectionReset)) => Ok(0),
            read => read.map_err(failed),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(failed)
    }

    fn close_notify(&mut self) -> io::Result<()> {
        self.0.close().map_err(failed)
    }
}

/// An mbedtls-rs error as an I/O error: its I/O kinds as they are (a timeout stays a timeout),
/// mbedTLS's codes as text.
fn failed(e: SessionError) -> io::Error {
    match e {
        SessionError::Io(kind) => io::Error::from(io::ErrorKind::from(kind)),
        SessionError::MbedTls(e) => io::Error::other(format!("mbedTLS -0x{:04x}", -e.code())),
    }
}

/// The lent socket, whose reads wait no later than the handshake's deadline while there is one.
pub struct Bounded {
    socket: Socket,
    until: Option<Instant>,
}

impl ErrorType for Bounded {
    type Error = io::Error;
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(until) = self.until {
            let left = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero());
            self.socket.set_read_timeout(Some(left.ok_or(io::ErrorKind::TimedOut)?))?;
        }
        Read::read(&mut self.socket, buf)
    }
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(&mut self.socket, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
