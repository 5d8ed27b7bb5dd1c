//! Replays every committed seed (and, when present, the working corpus and any crash artifacts)
//! through the targets' checks, so `cargo test --manifest-path fuzz/Cargo.toml` is a regression
//! test; and checks that the seed files match what `src/seeds.rs` builds.

use std::fs;
use std::path::{Path, PathBuf};

use espws_fuzz::connection::{ConnInput, Harness};

const TARGETS: [&str; 6] = ["client", "connection", "deflate", "frame_header", "handshake", "utf8"];

fn run(target: &str, bytes: &[u8]) {
    match target {
        "connection" => {
            if let Ok(input) = ConnInput::decode(bytes) {
                Harness::run(&input);
            }
        }
        "client" => espws_fuzz::client::check(bytes),
        "deflate" => espws_fuzz::deflate::check(bytes),
        "frame_header" => espws_fuzz::frame_header::check(bytes),
        "handshake" => espws_fuzz::handshake::check(bytes),
        "utf8" => {
            use arbitrary::Arbitrary;
            let u = arbitrary::Unstructured::new(bytes);
            if let Ok(input) = espws_fuzz::utf8::Input::arbitrary_take_rest(u) {
                espws_fuzz::utf8::check(&input);
            }
        }
        _ => unreachable!(),
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn seed_files_match_the_generator() {
    for seed in espws_fuzz::seeds::all() {
        let path = root().join("seeds").join(seed.target).join(&seed.name);
        let on_disk =
            fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run the gen_seeds example", path.display()));
        assert!(on_disk == seed.bytes, "{} is stale; run the gen_seeds example", path.display());
    }
}

#[test]
fn connection_seeds_decode_to_what_they_were_built_from() {
    for seed in espws_fuzz::seeds::all().into_iter().filter(|s| s.target == "connection") {
        let input = ConnInput::decode(&seed.bytes).expect("decodes");
        assert_eq!(input.encode(), seed.bytes, "{} does not round-trip", seed.name);
        assert!(!input.stream.is_empty(), "{}", seed.name);
    }
}

#[test]
fn seeds_corpus_and_artifacts_pass() {
    let mut count = 0;
    for target in TARGETS {
        let mut paths = files(&root().join("seeds").join(target));
        paths.extend(files(&root().join("corpus").join(target)));
        for path in paths {
            let bytes = fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| run(target, &bytes));
            assert!(result.is_ok(), "{target}: {} fails", path.display());
            count += 1;
        }
    }
    assert!(count >= 40, "only {count} inputs replayed");
}

/// `ESPWS_FUZZ_REPLAY=path cargo test ... replay_one -- --nocapture` replays one file of the
/// connection target, with `ESPWS_FUZZ_TRACE=1` to print its events and transmits.
#[test]
fn replay_one() {
    let Some(path) = std::env::var_os("ESPWS_FUZZ_REPLAY") else { return };
    let target = std::env::var("ESPWS_FUZZ_TARGET").unwrap_or_else(|_| "connection".into());
    let bytes = fs::read(&path).unwrap();
    if target == "connection" {
        eprintln!("{:#?}", ConnInput::decode(&bytes));
    }
    run(&target, &bytes);
}
