//! A certificate made at start-up, for trying TLS without a certificate authority.

use std::fmt::Write as _;
use std::string::String;
use std::vec;
use std::vec::Vec;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::Digest as _;

use super::{config, TlsConfig, TlsError};

/// A freshly made certificate, its key and the server configuration that uses them.
pub struct SelfSigned {
    /// The certificate, PEM-encoded (give it to clients to trust).
    pub cert_pem: String,
    /// The private key, PEM-encoded (PKCS#8).
    pub key_pem: String,
    /// The SHA-256 fingerprint of the certificate, as `AB:CD:...`.
    pub fingerprint: String,
    /// A server configuration presenting the certificate.
    pub config: TlsConfig,
}

/// Makes a self-signed certificate valid for `names` (host names or IP addresses).
pub fn generate(names: &[String]) -> Result<SelfSigned, TlsError> {
    let made = rcgen::generate_simple_self_signed(names.to_vec()).map_err(TlsError::Generate)?;
    let cert_der: CertificateDer<'static> = made.cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let fingerprint = fingerprint(&cert_der);
    let config = config::from_der(vec![cert_der], key_der)?;
    Ok(SelfSigned {
        cert_pem: made.cert.pem(),
        key_pem: made.signing_key.serialize_pem(),
        fingerprint,
        config,
    })
}

/// The SHA-256 fingerprint of a DER certificate, as browsers show it: `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    let digest: Vec<u8> = sha2::Sha256::digest(der).to_vec();
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn a_fingerprint_is_32_colon_separated_hex_bytes() {
        let f = fingerprint(b"");
        assert_eq!(f.len(), 32 * 3 - 1);
        assert!(f.starts_with("E3:B0:C4:42"), "{f}");
    }

    #[test]
    fn a_generated_certificate_names_its_hosts() {
        let made = generate(&["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        assert!(made.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(made.key_pem.contains("PRIVATE KEY"));
        assert_eq!(made.fingerprint.split(':').count(), 32);
    }
}
