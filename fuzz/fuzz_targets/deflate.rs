//! See `espws_fuzz::deflate` for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: &[u8]| espws_fuzz::deflate::check(input));
