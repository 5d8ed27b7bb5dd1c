//! The device's TLS at run time: the server a firmware's workers open connections with, from the
//! certificate and key its build embedded (`tls_files` is the build script's part).

use espws::tls::mbedtls::{Tls, TlsServer, X509};

/// The certificate and key the build script embedded, as `(certificate DER, key DER)`: use in
/// the firmware crate, whose `OUT_DIR` holds them.
#[macro_export]
macro_rules! embedded_tls_files {
    () => {
        (
            include_bytes!(concat!(env!("OUT_DIR"), "/tls-cert.der")).as_slice(),
            include_bytes!(concat!(env!("OUT_DIR"), "/tls-key.der")).as_slice(),
        )
    };
}

/// The TLS server presenting `(certificate, key)` (DER, as [`embedded_tls_files!`] gives them)
/// with the mbedTLS instance `library` (which holds the chip's random source). A certificate or
/// key that does not parse stops the device here with the reason: the build script checked the
/// files, so that means a build that mixed them up.
pub fn server<'a>(library: &'a Tls<'_>, (certificate, key): (&'a [u8], &[u8])) -> TlsServer<'a> {
    match TlsServer::new(library.reference(), X509::DER(certificate), X509::DER(key)) {
        Ok(server) => {
            espws::info!("TLS: mbedTLS with a {} B certificate", certificate.len());
            server
        }
        Err(e) => panic!("TLS: {}", e),
    }
}
