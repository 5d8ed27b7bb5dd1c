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
    espws_board::tls_files::build_script();
}
