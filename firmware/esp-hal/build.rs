//! Links with esp-hal's linker scripts; with the `tls` feature, embeds the certificate and key
//! that ESPWS_TLS_CERT and ESPWS_TLS_KEY name.
//!
//! `linkall.x` pulls in the memory map and the sections of the selected chip; esp-hal's own
//! build script puts it on the linker's search path. RISC-V links with rust-lld, which takes
//! `-T` directly; the Xtensa toolchain links through `xtensa-esp32-elf-gcc`, which passes it on
//! with `-Wl,`.

fn main() {
    match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("xtensa") => println!("cargo:rustc-link-arg=-Wl,-Tlinkall.x"),
        _ => println!("cargo:rustc-link-arg=-Tlinkall.x"),
    }
    println!("cargo:rerun-if-changed=build.rs");
    espws_board::tls_files::build_script();
}
