//! `wss://` on std: TLS over TCP with rustls, under the blocking driver.
//!
//! Certificates are checked by default, against the Mozilla roots (`webpki-roots`) or a CA the
//! caller names; [`TlsConfig::danger_accept_any_certificate`] turns checking off, for a lab
//! bench only, and says so in its name.

use ::std::boxed::Box;
use ::std::io::{self, Read as _, Write as _};
use ::std::net::{Shutdown, TcpStream};
use ::std::sync::Arc;
use ::std::vec;
use ::std::vec::Vec;
use core::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig as RustlsConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};
use rustls_pki_types::pem::PemObject as _;

use super::std::{open_tcp, os_keys};
use super::{connect, ClientConfig, ConnectError, Connected};
use crate::blocking::{StdClock, Transport, WebSocket};
use crate::proto::RecvBuf;

/// A TLS client stream over TCP, as a blocking [`Transport`].
pub struct TlsTransport {
    stream: StreamOwned<ClientConnection, TcpStream>,
}

/// A blocking `wss://` client connection.
pub type TlsWebSocket = WebSocket<TlsTransport, Box<[u8]>, StdClock>;

impl embedded_io::ErrorType for TlsTransport {
    type Error = io::Error;
}

impl embedded_io::Read for TlsTransport {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        self.stream.read(buf)
    }
}

impl embedded_io::Write for TlsTransport {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        self.stream.flush()
    }
}

impl Transport for TlsTransport {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), io::Error> {
        self.stream.sock.set_read_timeout(timeout)
    }

    fn is_timeout(error: &io::Error) -> bool {
        matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
    }

    fn write_all_vectored(&mut self, parts: &[&[u8]]) -> Result<(), io::Error> {
        // rustls gathers the parts into records; one flush sends them together.
        for part in parts {
            self.stream.conn.writer().write_all(part)?;
        }
        self.stream.flush()
    }

    fn shutdown_write(&mut self) -> Result<(), io::Error> {
        self.stream.conn.send_close_notify();
        self.stream.flush()?;
        self.stream.sock.shutdown(Shutdown::Write)
    }
}

/// Which certificates a `wss://` client trusts.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    config: Arc<RustlsConfig>,
}

impl TlsConfig {
    /// Trusts the Mozilla root certificates (the `webpki-roots` crate), as a browser would.
    pub fn webpki_roots() -> Self {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        Self::with_roots(roots)
    }

    /// Trusts only the CA certificates in `pem` (one or more `CERTIFICATE` blocks).
    pub fn ca_pem(pem: &[u8]) -> io::Result<Self> {
        let mut roots = RootCertStore::empty();
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, ::std::format!("{e:?}")))?;
            roots.add(cert).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            found += 1;
        }
        if found == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "no CERTIFICATE block in the CA file"));
        }
        Ok(Self::with_roots(roots))
    }

    /// Trusts only the CA certificates in the PEM file at `path`.
    pub fn ca_file(path: &::std::path::Path) -> io::Result<Self> {
        Self::ca_pem(&::std::fs::read(path)?)
    }

    /// DANGER: accepts any certificate for any name, so that anyone on the path can read and
    /// change the traffic. For a lab bench with a throwaway certificate, never for a device in
    /// the field.
    pub fn danger_accept_any_certificate() -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = RustlsConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
        TlsConfig { config: Arc::new(config) }
    }

    fn with_roots(roots: RootCertStore) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = RustlsConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConfig { config: Arc::new(config) }
    }
}

/// The certificate problem behind a failed `wss://` connection, if that is what failed: names
/// the reason (`NotValidForName`, `Expired`, `UnknownIssuer`...).
pub fn certificate_error(error: &ConnectError<io::Error>) -> Option<rustls::CertificateError> {
    let ConnectError::Io(e) = error else { return None };
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(reason) => Some(reason.clone()),
        _ => None,
    }
}

/// Connects to `config.request.url` (`wss://`, or `ws://` for plain TCP) with a receive buffer
/// of `rx_buffer` bytes, checking the server's certificate with `tls`.
pub fn connect_tls<'a>(
    config: &ClientConfig<'a>,
    rx_buffer: usize,
    tls: &TlsConfig,
) -> Result<Connected<'a, TlsWebSocket>, ConnectError<io::Error>> {
    let url = &config.request.url;
    let name = ServerName::try_from(url.host)
        .map_err(|e| ConnectError::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?
        .to_owned();
    let tcp = open_tcp(url.host, url.port, config.handshake_timeout).map_err(ConnectError::Io)?;
    let _ = tcp.set_write_timeout(Some(config.write_timeout));
    let _ = tcp.set_read_timeout(Some(config.handshake_timeout));
    let conn = ClientConnection::new(tls.config.clone(), name)
        .map_err(|e| ConnectError::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let mut stream = StreamOwned::new(conn, tcp);
    // The TLS handshake first, so that a certificate problem is reported as such.
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).map_err(ConnectError::Io)?;
    }
    let rx = RecvBuf::new(vec![0u8; rx_buffer].into_boxed_slice());
    connect(TlsTransport { stream }, rx, StdClock::new(), config, os_keys)
}

/// The verifier behind [`TlsConfig::danger_accept_any_certificate`]: signatures are still
/// checked, the certificate chain and name are not.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
