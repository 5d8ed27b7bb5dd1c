//! See `espws_fuzz::frame_header` for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| espws_fuzz::frame_header::check(data));
