//! Fuzz target: see [`pass_fuzz::lease_machine`].
#![no_main]

libfuzzer_sys::fuzz_target!(|script: pass_fuzz::lease_machine::Script| {
    pass_fuzz::lease_machine::check(&script);
});
