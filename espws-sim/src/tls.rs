//! The simulator's TLS flags: a certificate from PEM files, or one made at start-up.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};

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
    /// For a certificate made at start-up, which is written out for clients to trust: the PEM
    /// file it went to, once the port is bound (see [`Tls::publish`]); shared by clones. `None`
    /// for one from files, which stays where the user keeps it.
    written: Option<Arc<OnceLock<WrittenPem>>>,
}

impl Tls {
    /// Writes a certificate made at start-up to the temporary directory, named by the bound
    /// `port`, for clients to trust (nothing for one from files). Called once the port is bound:
    /// a second simulator refused a port in use must not overwrite, then remove, the file of the
    /// one serving there.
    pub fn publish(&self, port: u16) -> Result<(), String> {
        let Some(written) = &self.written else { return Ok(()) };
        if written.get().is_some() {
            return Ok(());
        }
        let path = std::env::temp_dir().join(format!("espws-sim-{port}-cert.pem"));
        std::fs::write(&path, &self.cert_pem)
            .map_err(|e| format!("--tls-self-signed: cannot write {}: {e}", path.display()))?;
        log::info!(
            "TLS: certificate PEM written to {} (trust it in clients; removed at exit)",
            path.display()
        );
        let _ = written.set(WrittenPem(path));
        Ok(())
    }

    /// A handle on the file [`Tls::publish`] writes (none for a certificate from files) that
    /// does not keep it: a signal thread holds one, so the file still goes with the last `Tls`
    /// when the runtime returns.
    pub fn published_file(&self) -> Option<PublishedFile> {
        self.written.as_ref().map(|written| PublishedFile(Arc::downgrade(written)))
    }
}

/// Removes the certificate file for an exit that runs no drop: embassy-tap's (its executor
/// never returns) and a second signal's on threads and tokio (see [`Tls::published_file`]).
pub struct PublishedFile(Weak<OnceLock<WrittenPem>>);

impl PublishedFile {
    /// Removes the file, if one was written and not already removed with its `Tls`.
    pub fn remove(&self) {
        if let Some(written) = self.0.upgrade() {
            if let Some(written) = written.get() {
                written.remove();
            }
        }
    }
}

/// A certificate's PEM file that this process wrote, removed when the last copy of the
/// configuration goes, at the simulator's exit after SIGINT or SIGTERM (where that exit runs no
/// drop, by [`PublishedFile::remove`]):
/// the next start makes a new certificate, so the file would only be stale litter. A process
/// killed outright leaves it, and the next simulator to bind that port overwrites it.
struct WrittenPem(PathBuf);

impl WrittenPem {
    fn remove(&self) {
        match std::fs::remove_file(&self.0) {
            Ok(()) => log::info!("TLS: removed {}", self.0.display()),
            Err(e) => log::warn!("TLS: cannot remove {}: {e}", self.0.display()),
        }
    }
}

impl Drop for WrittenPem {
    fn drop(&mut self) {
        self.remove();
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.write_str("Tls { .. }")
    }
}

/// The TLS the flags ask for, if any; a self-signed certificate is announced by its names and
/// fingerprint, and written out by [`Tls::publish`] once the port is bound.
pub fn config(args: &Args) -> Result<Option<Tls>, String> {
    match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (None, None, false) => Ok(None),
        (Some(cert), Some(key), false) => {
            let flags = || format!("--tls-cert {} --tls-key {}", cert.display(), key.display());
            let config = config::from_pem_files(cert, key).map_err(|e| format!("{}: {e}", flags()))?;
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path).map_err(|e| format!("{}: {}: {e}", flags(), path.display()))
            };
            Ok(Some(Tls { config, cert_pem: read(cert)?, key_pem: read(key)?, written: None }))
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
            log::info!("TLS: self-signed certificate for {}", names.join(", "));
            log::info!("TLS: certificate SHA-256 fingerprint {}", made.fingerprint);
            Ok(Some(Tls {
                config: made.config,
                cert_pem: made.cert_pem,
                key_pem: made.key_pem,
                written: Some(Arc::default()),
            }))
        }
        (_, _, true) => {
            Err("--tls-self-signed replaces --tls-cert and --tls-key; give one or the other".into())
        }
        _ => Err("--tls-cert and --tls-key go together".into()),
    }
}
