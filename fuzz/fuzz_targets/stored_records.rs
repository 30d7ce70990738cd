//! Fuzz target `stored_records`: the bytes go to `fuzz_harness::stored_records`, which the stable test
//! `tests/integration/fuzz_replay.rs` also runs on every file of `fuzz/corpus/stored_records/`.
#![no_main]

#[allow(dead_code, reason = "each target calls one of the harness's functions")]
#[path = "../../tests/integration/fuzz_harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _tally = harness::stored_records(data);
});
