//! See `espws_fuzz::connection` for the invariants this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: espws_fuzz::connection::ConnInput<'_>| {
    espws_fuzz::connection::Harness::run(&input)
});
