//! The simulator's TLS flags: a certificate from PEM files, or one made at start-up.

use espws::tls::{config, self_signed, TlsConfig};

use crate::Args;

/// The TLS configuration the flags ask for, if any; a self-signed certificate is announced
/// (fingerprint and where its PEM went).
pub fn config(args: &Args) -> Result<Option<TlsConfig>, String> {
    match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (None, None, false) => Ok(None),
        (Some(cert), Some(key), false) => config::from_pem_files(cert, key)
            .map(Some)
            .map_err(|e| format!("--tls-cert {} --tls-key {}: {e}", cert.display(), key.display())),
        (None, None, true) => {
            let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            if !args.bind.is_unspecified() && !args.bind.is_loopback() {
                names.insert(0, args.bind.to_string());
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
            log::info!("TLS: certificate PEM written to {} (trust it in clients)", path.display());
            Ok(Some(made.config))
        }
        (_, _, true) => {
            Err("--tls-self-signed replaces --tls-cert and --tls-key; give one or the other".into())
        }
        _ => Err("--tls-cert and --tls-key go together".into()),
    }
}
