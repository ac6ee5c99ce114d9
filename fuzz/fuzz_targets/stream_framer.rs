//! Fuzz target: see [`pass_fuzz::stream_framer`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pass_fuzz::stream_framer::check(data));
