//! Microbenchmarks of espws's hot inner loops against the memory copy of the same bytes.
//!
//! `cargo bench -p espws-bench --bench micro` (`scripts/bench --only micro` runs it and makes
//! the table). Every benchmark in a group moves the same bytes, so the group's throughput
//! figures compare directly: the copy is the floor the others are measured against.
//!
//! - `mask_64k`: `wire::mask::apply_mask` in place over 64 KiB vs `copy_from_slice` of 64 KiB.
//! - `utf8_64k`: `proto::utf8::Utf8Validator::feed` (then `finish`) over 64 KiB of ASCII and of
//!   mixed 1- to 4-byte UTF-8 vs `copy_from_slice` of 64 KiB.
//! - `frame_header`: `wire::frame::FrameHeader::parse` of an unmasked 2-, 4- and 10-byte header
//!   (7-bit, 16-bit and 64-bit lengths) vs copying the same bytes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use espws::proto::utf8::Utf8Validator;
use espws::wire::frame::FrameHeader;
use espws::wire::mask::apply_mask;

const LEN: usize = 64 * 1024;
const KEY: [u8; 4] = [0x5a, 0x17, 0xc3, 0x8e];

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask_64k");
    group.throughput(Throughput::Bytes(LEN as u64));
    let src: Vec<u8> = (0..LEN).map(|i| (i * 31) as u8).collect();
    let mut data = src.clone();
    group.bench_function("apply_mask", |b| {
        b.iter(|| apply_mask(black_box(&mut data), black_box(KEY), black_box(0)))
    });
    let mut dst = vec![0u8; LEN];
    group.bench_function("memcpy", |b| b.iter(|| black_box(&mut dst).copy_from_slice(black_box(&src))));
    group.finish();
}

/// Text of exactly `LEN` bytes, cut at a character boundary and padded with ASCII.
fn text(pattern: &str) -> Vec<u8> {
    let mut s = String::with_capacity(LEN + 8);
    while s.len() < LEN {
        s.push_str(pattern);
    }
    let mut cut = LEN;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    while s.len() < LEN {
        s.push('.');
    }
    s.into_bytes()
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8_64k");
    group.throughput(Throughput::Bytes(LEN as u64));
    let ascii = text("The quick brown fox jumps over the lazy dog; 0123456789 {\"t\":21.5} ");
    // 1-, 2-, 3- and 4-byte sequences: Latin, Greek, Cyrillic, CJK, symbols, emoji.
    let mixed = text("temp 21.5 °C, Grüße, Ελληνικά, Русский, 日本語のテキスト, € ✓ 🎉🚀 ");
    assert!(std::str::from_utf8(&mixed).is_ok() && mixed.iter().filter(|b| **b >= 0x80).count() > LEN / 2);
    for (name, input) in [("feed_ascii", &ascii), ("feed_mixed", &mixed)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut validator = Utf8Validator::new();
                validator.feed(black_box(input)).expect("valid UTF-8");
                validator.finish().expect("complete UTF-8")
            })
        });
    }
    let mut dst = vec![0u8; LEN];
    group.bench_function("memcpy", |b| b.iter(|| black_box(&mut dst).copy_from_slice(black_box(&ascii))));
    group.finish();
}

fn header<const N: usize>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    bytes: [u8; N],
) {
    group.throughput(Throughput::Bytes(N as u64));
    group.bench_function(format!("parse_{N}"), |b| b.iter(|| FrameHeader::parse(black_box(&bytes))));
    let mut dst = [0u8; N];
    group.bench_function(format!("copy_{N}"), |b| {
        b.iter(|| {
            black_box(&mut dst).copy_from_slice(black_box(&bytes));
            dst
        })
    });
}

fn frame_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_header");
    // Unmasked binary frames (FIN set): 64 B, 16 KiB and 1 MiB payloads.
    header(&mut group, [0x82, 64]);
    header(&mut group, [0x82, 126, 0x40, 0x00]);
    header(&mut group, [0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 0]);
    group.finish();
}

fn config() -> Criterion {
    // Short by default so that `scripts/bench` stays within minutes; the command line
    // (`--measurement-time`, `--warm-up-time`) overrides it.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = mask, utf8, frame_header
}
criterion_main!(benches);
