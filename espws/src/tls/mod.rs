//! TLS over TCP for the servers: a TLS connection is a transport like any other.
//!
//! - With std (feature `tls`; `tls-tokio` adds the tokio side), rustls: `blocking::TlsStream`
//!   for the blocking driver, `tokio::TlsStream` for the async one. Certificates come from PEM
//!   files (`config::from_pem_files`) or are made at start-up (`self_signed::generate`).
//! - Without std (feature `tls-mbedtls`), mbedTLS: `mbedtls::TlsStream` for the async driver
//!   over any stream, as the bare-metal worker pool serves it.
//! - With std, a TLS library espws does not carry, whose session owns the socket (ESP-IDF's
//!   esp-tls): [`external`], for the threads server.
//!
//! Any accept loop calls the `accept` of its side with the accepted TCP stream and a deadline:
//! it looks at the first byte, answers a plain HTTP request with a `400` that names the
//! `https://` URL ([`write_plain_http_answer`]), runs the TLS handshake within the deadline (a
//! slow or silent client is dropped when it passes) and hands back the transport.

#[cfg(feature = "tls")]
pub mod blocking;
#[cfg(feature = "tls")]
pub mod config;
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod external;
#[cfg(feature = "tls-mbedtls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls-mbedtls")))]
pub mod mbedtls;
#[cfg(feature = "tls")]
pub mod self_signed;
#[cfg(feature = "tls-tokio")]
pub mod tokio;

use core::fmt::{self, Write as _};
use core::net::SocketAddr;

use crate::proto::PeerLabel;
#[cfg(feature = "tls")]
use std::string::String;

#[cfg(feature = "tls")]
pub use config::TlsConfig;

/// The content type of a TLS handshake record, the first byte a TLS client sends.
pub const HANDSHAKE_RECORD: u8 = 0x16;

/// Room for [`write_plain_http_answer`]'s answer with any IPv4 or IPv6 address and port.
pub const PLAIN_HTTP_ANSWER_MAX: usize = 320;

/// Why a TLS connection or configuration failed (rustls).
#[cfg(feature = "tls")]
#[derive(Debug)]
pub enum TlsError {
    /// Reading or writing the socket or a file failed.
    Io(std::io::Error),
    /// The client spoke plain HTTP (or anything but TLS); it was answered `400`.
    NotTls,
    /// The client closed the connection before the handshake ended.
    Closed,
    /// The handshake did not finish before its deadline.
    TimedOut,
    /// The peer's TLS was invalid or incompatible (garbage, no common cipher suite, ...).
    Protocol(rustls::Error),
    /// A PEM file held no certificate.
    NoCertificate,
    /// A PEM file held no private key, or the key was unreadable.
    NoKey,
    /// The certificate could not be made.
    Generate(rcgen::Error),
}

#[cfg(feature = "tls")]
impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Io(e) => write!(f, "{e}"),
            TlsError::NotTls => f.write_str("not a TLS client; answered 400"),
            TlsError::Closed => f.write_str("closed during the TLS handshake"),
            TlsError::TimedOut => f.write_str("TLS handshake not finished within its timeout"),
            TlsError::Protocol(e) => write!(f, "TLS handshake failed: {e}"),
            TlsError::NoCertificate => f.write_str("no certificate in the PEM file"),
            TlsError::NoKey => f.write_str("no usable private key in the PEM file"),
            TlsError::Generate(e) => write!(f, "cannot make a certificate: {e}"),
        }
    }
}

#[cfg(feature = "tls")]
impl std::error::Error for TlsError {}

#[cfg(feature = "tls")]
impl From<std::io::Error> for TlsError {
    fn from(e: std::io::Error) -> Self {
        TlsError::Io(e)
    }
}

#[cfg(feature = "tls")]
impl From<external::AcceptError> for TlsError {
    fn from(e: external::AcceptError) -> Self {
        match e {
            external::AcceptError::NotTls => TlsError::NotTls,
            external::AcceptError::Closed => TlsError::Closed,
            external::AcceptError::TimedOut => TlsError::TimedOut,
            external::AcceptError::Io(e) | external::AcceptError::Handshake(e) => TlsError::Io(e),
        }
    }
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Protocol(e)
    }
}

/// The `400` a plain-HTTP client gets on the TLS port, naming the URL to use instead.
#[cfg(feature = "tls")]
pub fn plain_http_answer(local: SocketAddr) -> String {
    let mut out = [0u8; PLAIN_HTTP_ANSWER_MAX];
    let len = write_plain_http_answer(local, &mut out);
    String::from_utf8_lossy(&out[..len]).into_owned()
}

/// Writes the `400` a plain-HTTP client gets on the TLS port into `out`, naming the `https://`
/// and `wss://` URLs to use instead; gives its length. `out` needs [`PLAIN_HTTP_ANSWER_MAX`]
/// bytes (a shorter one gets the answer cut short, never a panic).
pub fn write_plain_http_answer(local: SocketAddr, out: &mut [u8]) -> usize {
    struct Body(SocketAddr);
    impl fmt::Display for Body {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let local = self.0;
            writeln!(
                f,
                "This port speaks https and wss only: open https://{local}/ (WebSocket: wss://{local}/ws)."
            )
        }
    }
    let mut counter = Counter(0);
    let _ = write!(counter, "{}", Body(local));
    let mut cursor = Cursor { out, len: 0 };
    let _ = write!(
        cursor,
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        counter.0,
        Body(local)
    );
    cursor.len
}

/// Counts what is formatted into it.
struct Counter(usize);

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Formats into a byte slice, refusing what does not fit.
struct Cursor<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let room = self.out.get_mut(self.len..end).ok_or(fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Logs why a connection ended before its TLS handshake did, the same line on every runtime.
pub fn log_refused(peer: &PeerLabel, reason: &str) {
    info!("client {} ({}): dropped before TLS: {}", peer.id, peer.addr(), reason);
}
