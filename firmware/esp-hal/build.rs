//! Links with esp-hal's linker scripts.
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
}
