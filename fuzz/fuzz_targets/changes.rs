//! Fuzz target `changes`: the bytes go to `fuzz_harness::changes`, which the stable test
//! `tests/integration/fuzz_replay.rs` also runs on every file of `fuzz/corpus/changes/`.
#![no_main]

#[allow(dead_code, reason = "each target calls one of the harness's functions")]
#[path = "../../tests/integration/fuzz_harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _tally = harness::changes(data);
});
