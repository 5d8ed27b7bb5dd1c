//! Puts memory.x where riscv-rt's link.x includes it from, and links with link.x; with the `tls`
//! feature, embeds the certificate and key that ESPWS_TLS_CERT and ESPWS_TLS_KEY name.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("memory.x is readable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={}", espws_board::tls_files::CERT_VAR);
    if std::env::var_os("CARGO_FEATURE_TLS").is_some() {
        match espws_board::tls_files::embed_from_env(&out) {
            Ok(Some(_)) => {}
            Ok(None) => panic!(
                "the tls feature needs {} and {} (PEM files): {}",
                espws_board::tls_files::CERT_VAR,
                espws_board::tls_files::KEY_VAR,
                espws_board::tls_files::HOW_TO_MAKE
            ),
            Err(e) => panic!("{e}"),
        }
    } else if std::env::var_os(espws_board::tls_files::CERT_VAR).is_some() {
        panic!(
            "{} is set: build with --features tls to serve https and wss",
            espws_board::tls_files::CERT_VAR
        );
    }
}
