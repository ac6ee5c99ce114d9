//! Fuzz target: see [`pass_fuzz::stanza_roundtrip`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pass_fuzz::stanza_roundtrip::check(data));
