//! See `espws_fuzz::handshake` for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| espws_fuzz::handshake::check(data));
