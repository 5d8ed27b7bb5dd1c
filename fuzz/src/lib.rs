//! The espws fuzz targets' checks, as a library so that `cargo test` can replay the seeds and
//! corpora (see `tests/replay.rs`) and `examples/gen_seeds.rs` can write the seed files.
//!
//! Each module holds one target's check; the files in `fuzz_targets/` only call it.

pub mod client;
pub mod connection;
pub mod deflate;
pub mod frame_header;
pub mod handshake;
pub mod seeds;
pub mod utf8;
