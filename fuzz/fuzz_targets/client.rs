//! See `espws_fuzz::client` for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| espws_fuzz::client::check(data));
