//! `wss://` without std or an allocator: TLS 1.3 through `embedded-tls`, under the async driver
//! (embassy-net on a device, or any `embedded-io-async` stream).
//!
//! The server's certificate chain is checked against the CA the device carries, and its name
//! against the URL's host. Expiry is checked only with a [`TlsClock`] that knows the time
//! ([`NoClock`] does not: a device without a time source cannot tell, and says so here).
//!
//! RAM per connection, beside the WebSocket's own receive buffer: the TLS record buffers the
//! caller passes (a TLS 1.3 server may send records of up to 16,640 bytes, so the read buffer
//! must hold one; the write buffer needs [`TLS_RECORD_OVERHEAD`] more than the largest write) and
//! the `TlsConnection` itself, plus the verifier's copy of the server certificate (`CERT_SIZE`).

use embedded_io_async::{Read, Write};
pub use embedded_tls::pki::CertVerifier;
pub use embedded_tls::{
    Aes128GcmSha256, Certificate, CryptoRngCore, NoClock, TlsClock, TlsConnection, TlsError,
    TLS_RECORD_OVERHEAD,
};
use embedded_tls::{CryptoProvider, TlsConfig, TlsContext, TlsVerifier};

use crate::nonblocking::Transport;

/// The largest record a TLS 1.3 server may send: the size the read buffer should have.
pub const MAX_RECORD: usize = 16_640;

impl<'a, S: Read + Write + 'a> Transport for TlsConnection<'a, S, Aes128GcmSha256> {
    async fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), Self::Error> {
        // The parts fill records; one flush seals and sends them.
        for part in parts {
            self.write_all(part).await?;
        }
        self.flush().await
    }
}

/// A crypto provider that checks the server's chain against `ca` and its name, drawing the
/// handshake's randomness from the device's RNG.
pub struct Verifying<'a, Rng, Clock: TlsClock, const CERT_SIZE: usize> {
    rng: Rng,
    verifier: CertVerifier<'a, Aes128GcmSha256, Clock, CERT_SIZE>,
}

impl<'a, Rng: CryptoRngCore, Clock: TlsClock, const CERT_SIZE: usize> Verifying<'a, Rng, Clock, CERT_SIZE> {
    /// Trusts the DER-encoded CA certificate `ca_der`.
    pub fn new(rng: Rng, ca_der: &'a [u8]) -> Self {
        Verifying { rng, verifier: CertVerifier::new(Certificate::X509(ca_der)) }
    }
}

impl<Rng: CryptoRngCore, Clock: TlsClock, const CERT_SIZE: usize> CryptoProvider
    for Verifying<'_, Rng, Clock, CERT_SIZE>
{
    type CipherSuite = Aes128GcmSha256;
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Self::CipherSuite>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// Runs the TLS handshake over `socket` for `host`, checking the certificate with `provider`;
/// then pass the connection to [`connect_async`](super::connect_async) as the transport.
pub async fn open<'b, S, P>(
    socket: S,
    host: &str,
    read_record: &'b mut [u8],
    write_record: &'b mut [u8],
    provider: P,
) -> Result<TlsConnection<'b, S, Aes128GcmSha256>, TlsError>
where
    S: Read + Write + 'b,
    P: CryptoProvider<CipherSuite = Aes128GcmSha256>,
{
    let config = TlsConfig::new().with_server_name(host);
    let mut tls = TlsConnection::new(socket, read_record, write_record);
    tls.open(TlsContext::new(&config, provider)).await?;
    Ok(tls)
}
