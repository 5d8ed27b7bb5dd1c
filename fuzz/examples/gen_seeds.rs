//! Writes the seed files: `cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds`.
//! The files are committed; `tests/replay.rs` fails when they drift from `src/seeds.rs`.

use std::fs;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let seeds = espws_fuzz::seeds::all();
    for seed in &seeds {
        let dir = root.join(seed.target);
        fs::create_dir_all(&dir).expect("create the seed directory");
        fs::write(dir.join(&seed.name), &seed.bytes).expect("write a seed");
    }
    println!("wrote {} seeds under {}", seeds.len(), root.display());
}
