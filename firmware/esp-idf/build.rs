//! Passes ESP-IDF's build environment (linker arguments, cfgs) from esp-idf-sys to this crate,
//! and embeds the TLS certificate and key that ESPWS_TLS_CERT and ESPWS_TLS_KEY name.

use std::path::PathBuf;

use espws_board::tls_files::{embed_from_env, CERT_DER, KEY_DER};

fn main() {
    embuild::espidf::sysenv::output();

    // With both variables set, their PEM files are checked (an ECDSA P-256 certificate and its
    // key) and their DER left in OUT_DIR for src/tls.rs; a bad or half-given pair stops the
    // build with the reason. Without them the files are empty and the device serves plain http
    // and ws (src/main.rs refuses a build whose ESPWS_TLS_CERT is set but empty).
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    match embed_from_env(&out) {
        Ok(Some(_)) => {}
        Ok(None) => {
            for name in [CERT_DER, KEY_DER] {
                std::fs::write(out.join(name), b"").expect("OUT_DIR is writable");
            }
        }
        Err(e) => panic!("{e}"),
    }
}
