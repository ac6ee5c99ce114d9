//! Fuzz target: see [`pass_fuzz::service_stanzas`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pass_fuzz::service_stanzas::check(data));
