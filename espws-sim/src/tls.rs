//! The simulator's TLS flags: a certificate from PEM files, or one made at start-up.

use std::path::PathBuf;
use std::sync::Arc;

use espws::tls::{config, self_signed, TlsConfig};

use crate::Args;

/// What the TLS flags give: a rustls configuration for the threads and tokio runtimes, and the
/// same certificate and key as PEM for the embassy-tap runtime's mbedTLS.
#[derive(Clone)]
// The PEM is read by the embassy-tap runtime's mbedTLS alone (feature `mbedtls`).
#[cfg_attr(not(feature = "mbedtls"), allow(dead_code))]
pub struct Tls {
    /// The rustls server configuration.
    pub config: TlsConfig,
    /// The certificate chain, PEM, leaf first.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
    /// The PEM file a certificate made at start-up was written to, for clients to trust.
    _written: Option<Arc<WrittenPem>>,
}

/// A certificate's PEM file that this process wrote, removed when the last copy of the
/// configuration goes, at the simulator's exit (after SIGINT or SIGTERM on threads and tokio):
/// the next start makes a new certificate, so the file would only be stale litter. A process
/// killed outright leaves it, and the next start on that port overwrites it.
struct WrittenPem(PathBuf);

impl Drop for WrittenPem {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.0) {
            Ok(()) => log::info!("TLS: removed {}", self.0.display()),
            Err(e) => log::warn!("TLS: cannot remove {}: {e}", self.0.display()),
        }
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.write_str("Tls { .. }")
    }
}

/// The TLS the flags ask for, if any; a self-signed certificate is announced (fingerprint and
/// where its PEM went).
pub fn config(args: &Args) -> Result<Option<Tls>, String> {
    match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (None, None, false) => Ok(None),
        (Some(cert), Some(key), false) => {
            let flags = || format!("--tls-cert {} --tls-key {}", cert.display(), key.display());
            let config = config::from_pem_files(cert, key).map_err(|e| format!("{}: {e}", flags()))?;
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path).map_err(|e| format!("{}: {}: {e}", flags(), path.display()))
            };
            Ok(Some(Tls { config, cert_pem: read(cert)?, key_pem: read(key)?, _written: None }))
        }
        (None, None, true) => {
            let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            if !args.bind.is_unspecified() && !args.bind.is_loopback() {
                names.insert(0, args.bind.to_string());
            }
            if let Some(ip) = args.tap_address() {
                names.insert(0, ip.to_string());
            }
            let made = self_signed::generate(&names).map_err(|e| format!("--tls-self-signed: {e}"))?;
            // Named by the port, or by the process when the system picks the port.
            let tag =
                if args.port == 0 { format!("pid{}", std::process::id()) } else { args.port.to_string() };
            let path = std::env::temp_dir().join(format!("espws-sim-{tag}-cert.pem"));
            std::fs::write(&path, &made.cert_pem)
                .map_err(|e| format!("--tls-self-signed: cannot write {}: {e}", path.display()))?;
            log::info!("TLS: self-signed certificate for {}", names.join(", "));
            log::info!("TLS: certificate SHA-256 fingerprint {}", made.fingerprint);
            log::info!(
                "TLS: certificate PEM written to {} (trust it in clients; removed at exit)",
                path.display()
            );
            let written = Some(Arc::new(WrittenPem(path)));
            Ok(Some(Tls {
                config: made.config,
                cert_pem: made.cert_pem,
                key_pem: made.key_pem,
                _written: written,
            }))
        }
        (_, _, true) => {
            Err("--tls-self-signed replaces --tls-cert and --tls-key; give one or the other".into())
        }
        _ => Err("--tls-cert and --tls-key go together".into()),
    }
}
