//! The server's TLS configuration: a certificate chain and its key.

use std::path::Path;
use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// A shared rustls server configuration, cheap to clone into every accept.
pub type TlsConfig = Arc<rustls::ServerConfig>;

/// A server configuration for `chain` (leaf first) and its `key`, speaking TLS 1.2 and 1.3 with
/// HTTP/1.1 offered by ALPN (WebSocket upgrades are HTTP/1.1).
pub fn from_der(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A server configuration from PEM files: `cert` holds the chain (leaf first), `key` a PKCS#8,
/// PKCS#1 or SEC1 private key (the two may be the same file).
pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error(e, TlsError::NoCertificate))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(e, TlsError::NoCertificate))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(e, TlsError::NoKey))?;
    from_der(chain, key)
}

fn pem_error(e: rustls::pki_types::pem::Error, otherwise: TlsError) -> TlsError {
    match e {
        rustls::pki_types::pem::Error::Io(e) => TlsError::Io(e),
        _ => otherwise,
    }
}
