//! The device's TLS certificate and key, from `ESPWS_TLS_CERT` and `ESPWS_TLS_KEY` (PEM files),
//! for a firmware's build script.
//!
//! A device has no file system to read them from at run time, so the build embeds them: the
//! build script calls [`embed_from_env`], which checks the files and writes the DER of the
//! leaf certificate and of the key into `OUT_DIR` (`tls-cert.der`, `tls-key.der`), and the
//! firmware includes those. The device's TLS (mbedTLS) is built for ECDSA P-256 keys: smaller
//! and faster to sign with on an ESP32 than RSA, and what every browser accepts. Anything else
//! stops the build with a sentence naming the file and how to make a good one.

use std::format;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use base64::Engine as _;

/// The variable naming the certificate chain's PEM file (leaf first).
pub const CERT_VAR: &str = "ESPWS_TLS_CERT";
/// The variable naming its private key's PEM file (PKCS#8 or SEC1, unencrypted).
pub const KEY_VAR: &str = "ESPWS_TLS_KEY";
/// The file name of the leaf certificate's DER in `OUT_DIR`.
pub const CERT_DER: &str = "tls-cert.der";
/// The file name of the key's DER in `OUT_DIR`.
pub const KEY_DER: &str = "tls-key.der";
/// How to make a certificate the device accepts, for the error messages.
pub const HOW_TO_MAKE: &str =
    "make one with scripts/device-cert (an ECDSA P-256 certificate signed by a CA of yours)";

/// The DER encoding of the OID of the P-256 curve (1.2.840.10045.3.1.7), which an ECDSA P-256
/// key and a certificate for one both carry.
const P256_OID: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// The certificate and key a build embeds, as DER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The leaf certificate.
    pub cert_der: Vec<u8>,
    /// The private key (PKCS#8 or SEC1).
    pub key_der: Vec<u8>,
}

/// The TLS part of a firmware's build script, whole: with the crate's `tls` feature, embeds the
/// files [`embed_from_env`] names, stopping the build with the reason when they are missing or
/// cannot be used; without it, stops the build when `ESPWS_TLS_CERT` is set anyway, since whoever
/// set it meant https.
pub fn build_script() {
    std::println!("cargo::rerun-if-env-changed={CERT_VAR}");
    let tls = std::env::var_os("CARGO_FEATURE_TLS").is_some();
    if !tls {
        if std::env::var_os(CERT_VAR).is_some_and(|v| !v.is_empty()) {
            panic!("{CERT_VAR} is set: build with --features tls to serve https and wss");
        }
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    match embed_from_env(&out) {
        Ok(Some(_)) => {}
        Ok(None) => panic!("the tls feature needs {CERT_VAR} and {KEY_VAR} (PEM files): {HOW_TO_MAKE}"),
        Err(e) => panic!("{e}"),
    }
}

/// For a build script: reads the two variables, checks the files, writes their DER into
/// `out_dir` and tells Cargo to rebuild when they change. `Ok(None)` when neither is set.
pub fn embed_from_env(out_dir: &Path) -> Result<Option<TlsFiles>, String> {
    std::println!("cargo::rerun-if-env-changed={CERT_VAR}");
    std::println!("cargo::rerun-if-env-changed={KEY_VAR}");
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let (cert, key) = match (var(CERT_VAR), var(KEY_VAR)) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => {
            return Err(format!("{CERT_VAR} is set but {KEY_VAR} is not: give both PEM files"))
        }
        (None, Some(_)) => {
            return Err(format!("{KEY_VAR} is set but {CERT_VAR} is not: give both PEM files"))
        }
    };
    for path in [&cert, &key] {
        std::println!("cargo::rerun-if-changed={}", path.display());
    }
    let read = |var: &str, path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("{var}={}: cannot read it: {e}", path.display()))
    };
    let files = from_pem(&read(CERT_VAR, &cert)?, &read(KEY_VAR, &key)?)?;
    let write = |name: &str, bytes: &[u8]| {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(CERT_DER, &files.cert_der)?;
    write(KEY_DER, &files.key_der)?;
    Ok(Some(files))
}

/// Checks a certificate chain's and a key's PEM text and gives their DER (the chain's leaf).
pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<TlsFiles, String> {
    let (label, cert_der) =
        first_block(cert_pem).ok_or_else(|| format!("{CERT_VAR}: no PEM block in the file"))?;
    if label != "CERTIFICATE" {
        return Err(format!("{CERT_VAR}: the first PEM block is {label}, not a CERTIFICATE"));
    }
    let (label, key_der) =
        first_block(key_pem).ok_or_else(|| format!("{KEY_VAR}: no PEM block in the file"))?;
    match label.as_str() {
        "PRIVATE KEY" | "EC PRIVATE KEY" => {}
        "ENCRYPTED PRIVATE KEY" => {
            return Err(format!("{KEY_VAR}: the key is encrypted; the device needs it unencrypted"))
        }
        "RSA PRIVATE KEY" => {
            return Err(format!(
                "{KEY_VAR}: an RSA key; the device's TLS takes ECDSA P-256 keys: {HOW_TO_MAKE}"
            ))
        }
        other => return Err(format!("{KEY_VAR}: the first PEM block is {other}, not a private key")),
    }
    if !contains(&key_der, P256_OID) {
        return Err(format!(
            "{KEY_VAR}: not an ECDSA P-256 key (RSA and other curves are not built in): {HOW_TO_MAKE}"
        ));
    }
    if !contains(&cert_der, P256_OID) {
        return Err(format!("{CERT_VAR}: the certificate is not for an ECDSA P-256 key: {HOW_TO_MAKE}"));
    }
    Ok(TlsFiles { cert_der, key_der })
}

/// The label and decoded body of the first PEM block of `text`.
fn first_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = &rest[..label_end];
    let body_and_end = &rest[label_end + "-----".len()..];
    let end = body_and_end.find(&format!("-----END {label}-----"))?;
    let body: String = body_and_end[..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    Some((label.to_string(), der))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ECDSA P-256 certificate and its PKCS#8 key, made with openssl for these tests only
    /// (`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ...`); the
    /// thread-stack measurement serves TLS with them too.
    const CERT: &str = include_str!("../tests/data/p256-cert.pem");
    const KEY: &str = include_str!("../tests/data/p256-key.pem");

    #[test]
    fn a_p256_certificate_and_key_give_their_der() {
        let files = from_pem(CERT, KEY).unwrap();
        assert_eq!(&files.cert_der[..2], &[0x30, 0x82], "a DER SEQUENCE");
        assert_eq!(files.key_der.len(), 138, "a PKCS#8 P-256 key with its public key");
        // A chain: the leaf comes first, whatever follows.
        let chain = std::format!("{CERT}{CERT}");
        assert_eq!(from_pem(&chain, KEY).unwrap(), files);
    }

    #[test]
    fn an_rsa_key_is_refused_by_name() {
        let err = from_pem(CERT, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
            .unwrap_err();
        assert!(err.contains("an RSA key") && err.contains("scripts/device-cert"), "{err}");
    }

    #[test]
    fn an_rsa_key_in_pkcs8_is_refused_as_not_p256() {
        let err = from_pem(CERT, RSA_PKCS8).unwrap_err();
        assert!(err.contains("not an ECDSA P-256 key"), "{err}");
    }

    /// A 1024-bit RSA key in PKCS#8, made with openssl for this test only.
    const RSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAMrQPiOXqGl9rPgu
tsGkGS6MUg6f+EVrykU7QS33wKqUwxctIdNaSClAbjXGRNjRg5DnmYCxKDpOSUus
k+1FKuVTk1UgQZ1zYZMQgX0Yyv3RI7/AOrZJiG2pB9kU1xnUDyJca4HIycj6sUml
N5wOptoly0W29BaegOglz60kEKMRAgMBAAECgYAekNXcnV2nUGaCHOA0PNwCtOkl
BRzwsXcRigWfvOgPjU39rzKa3M9lUC2L8y6rEqBmdVEgIRLz/ppzSjYdG0CEfFLV
ZKe4aMG2VUq6Zgz/mjeSHvgc+xVnMbIgkRXTLrXlUZx34+4MAFKwsUoSp72EEPV7
gIEfZiKmuMwYZ9juxQJBAPxVZwWQctC41UKJn9z9mTMSBdN3PM85A6Sv7cRzgSkd
i5Gaew7rieQ8wmPN+8q40TDrB8wrmjyOpnTHnatFHxsCQQDNwqRGXL9Rtio/rCMx
takQPLDdfce4tnXIEuqidretvaxEC1SgrTxbTbOaZd6G84+KYyVSDapoX3TKsiJk
4W1DAkB8iz6FHY29/WytIbZ44eaqsVuUy0aFVTO6JmdpzkTS4VVQ8XmJnLH7qA2e
Kz37CgueZHL90AuZliMMgrYModo/AkA3et8elc2Ec9DqgDixI6FlXmf2IP8kQBZ8
DxWzHr2iHD2Bz2hPNsbKe6YM4KDi1HOExfz/Je4n3G06ZlO9zcbPAkEA6EIK/0w5
xkMrrn5lqgBO2ZPAzoxC6f/SKAdHlkU9bT9I5eby1thVQc9B19Fbt3mNSc3nHRCi
NZs/mJ/vMn2Apg==
-----END PRIVATE KEY-----
";

    #[test]
    fn an_encrypted_key_is_refused() {
        let key = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(from_pem(CERT, key).unwrap_err().contains("encrypted"));
    }

    #[test]
    fn a_key_file_given_as_the_certificate_is_refused() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = from_pem(key, key).unwrap_err();
        assert!(err.starts_with(CERT_VAR) && err.contains("not a CERTIFICATE"), "{err}");
    }

    #[test]
    fn a_file_without_pem_is_refused() {
        assert!(from_pem("hello", "world").unwrap_err().contains("no PEM block"));
    }
}
