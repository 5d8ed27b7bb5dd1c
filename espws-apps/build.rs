//! Compresses the console page at build time, so the device stores and serves it gzipped.

use std::io::Write;
use std::path::PathBuf;

fn main() {
    let page = "console/index.html";
    println!("cargo:rerun-if-changed={page}");
    let html = std::fs::read(page).expect("the console page exists");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&html).expect("compressing into memory");
    let compressed = gz.finish().expect("compressing into memory");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("index.html.gz"), compressed).expect("writing to OUT_DIR");
}
