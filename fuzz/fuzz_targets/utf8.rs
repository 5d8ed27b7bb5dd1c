//! See `espws_fuzz::utf8` for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: espws_fuzz::utf8::Input<'_>| espws_fuzz::utf8::check(&input));
