//! TLS over TCP for both drivers (feature `tls`; `tls-tokio` adds the tokio side), with rustls.
//!
//! A TLS connection is a transport like any other: [`blocking::TlsStream`] for the blocking
//! driver, [`tokio::TlsStream`] for the async one. Any accept loop calls the `accept` of its
//! side with the accepted TCP stream and a deadline: it peeks at the first byte, answers a plain
//! HTTP request with a `400` that names the `https://` URL, runs the TLS handshake within the
//! deadline (a slow or silent client is dropped when it passes) and hands back the transport.
//!
//! Certificates come from PEM files ([`config::from_pem_files`]) or are made at start-up
//! ([`self_signed::generate`]).

pub mod blocking;
pub mod config;
pub mod self_signed;
#[cfg(feature = "tls-tokio")]
pub mod tokio;

use core::fmt;
use std::net::SocketAddr;
use std::string::String;

pub use config::TlsConfig;

/// The content type of a TLS handshake record, the first byte a TLS client sends.
pub const HANDSHAKE_RECORD: u8 = 0x16;

/// Why a TLS connection or configuration failed.
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

impl std::error::Error for TlsError {}

impl From<std::io::Error> for TlsError {
    fn from(e: std::io::Error) -> Self {
        TlsError::Io(e)
    }
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Protocol(e)
    }
}

/// The `400` a plain-HTTP client gets on the TLS port, naming the URL to use instead.
pub fn plain_http_answer(local: SocketAddr) -> String {
    let body = std::format!(
        "This port speaks https and wss only: open https://{local}/ (WebSocket: wss://{local}/ws).\n"
    );
    std::format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Logs why a connection ended before its TLS handshake did, the same line on every runtime.
pub fn log_refused(id: u64, peer: SocketAddr, error: &TlsError) {
    info!("client {} ({}): dropped before TLS: {}", id, peer, error);
}
