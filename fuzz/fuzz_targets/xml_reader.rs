//! Fuzz target: see [`pass_fuzz::xml_reader`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pass_fuzz::xml_reader::check(data));
