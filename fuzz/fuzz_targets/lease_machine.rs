//! Fuzz target: see [`pass_fuzz::lease_machine`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pass_fuzz::lease_machine::check(data);
});
