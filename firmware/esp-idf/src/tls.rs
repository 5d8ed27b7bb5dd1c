//! https and wss through ESP-IDF's esp-tls (mbedTLS), as esp-idf-svc exposes it: only the glue
//! that `espws::tls::external` asks for. The rest (the first byte's check and its 400, the
//! handshake timeout, the socket's timeouts, the graceful shutdown) is espws's, tested on the
//! host with mbedTLS in `espws/tests/external_tls.rs`.
//!
//! UNVERIFIED: not compiled (esp-idf-sys needs ESP-IDF, which cannot be downloaded where this
//! was written); every call was checked against the esp-idf-svc 0.53.0 sources (`src/tls.rs`:
//! `EspTls::adopt`, `negotiate_server`, `read`, `write`, the `Socket` trait).

use core::time::Duration;
use std::io;

use esp_idf_svc::sys::{EspError, ESP_TLS_ERR_SSL_WANT_READ, ESP_TLS_ERR_SSL_WANT_WRITE};
use esp_idf_svc::tls::{EspTls, ServerConfig, X509};
use espws::tls::external::{self, Acceptor, Session, Socket};

/// The leaf certificate and its key, as the build script wrote them (empty without
/// ESPWS_TLS_CERT).
pub const CERT_DER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tls-cert.der"));
const KEY_DER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tls-key.der"));

// esp-tls passes mbedTLS's codes on unchanged; espws's `io_error` knows mbedTLS's.
#[allow(clippy::unnecessary_cast)]
const _: () = assert!(
    ESP_TLS_ERR_SSL_WANT_READ as i32 == external::MBEDTLS_WANT_READ
        && ESP_TLS_ERR_SSL_WANT_WRITE as i32 == external::MBEDTLS_WANT_WRITE,
    "esp-tls's want-read and want-write codes are not mbedTLS's"
);

/// esp-tls's server side, presenting the embedded certificate.
pub struct EspTlsAcceptor;

impl Acceptor for EspTlsAcceptor {
    type Session = EspSession;

    fn accept(&self, socket: Socket, timeout: Duration) -> io::Result<EspSession> {
        let mut tls = EspTls::adopt(Lent(socket)).map_err(failed)?;
        // Blocking; esp-tls repeats the reads that the socket's read timeout (a slice of
        // `timeout`, set by espws) ends, until this deadline.
        tls.negotiate_server(&ServerConfig {
            server_cert: Some(X509::der(CERT_DER)),
            server_key: Some(X509::der(KEY_DER)),
            tls_handshake_timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
            ..ServerConfig::new()
        })
        .map_err(failed)?;
        Ok(EspSession(tls))
    }
}

/// espws's lent socket as esp-tls's: esp-tls closes it when the session is destroyed, so it is
/// released to it first.
struct Lent(Socket);

impl esp_idf_svc::tls::Socket for Lent {
    fn handle(&self) -> i32 {
        self.0.fd()
    }

    fn release(&mut self) -> Result<(), EspError> {
        self.0.release();
        Ok(())
    }
}

/// An esp-tls session as espws's.
pub struct EspSession(EspTls<Lent>);

impl Session for EspSession {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(failed)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(failed)
    }
}

/// esp-tls's error as an I/O error: mbedTLS's want-read and want-write (the socket's timeout
/// ended the call) are timeouts, which the driver takes up again.
fn failed(e: EspError) -> io::Error {
    external::io_error(e.code(), e)
}
