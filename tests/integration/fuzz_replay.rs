//! The fuzz corpora, replayed on stable: every file of `fuzz/corpus/<target>/` goes through
//! the same harness function its fuzz target calls (`fuzz_harness.rs`), so the inputs the
//! fuzzers found interesting, and every crash reproducer kept there, are checked by
//! `cargo test` without nightly or libFuzzer. See TESTING.md for running the fuzzers.

use std::path::PathBuf;

use crate::fuzz_harness::{self, Tally};

/// Replays every file of one target's corpus. A corpus must not be empty (a missing one would
/// make this test pass without checking anything), and its inputs must be accepted somewhere
/// and refused somewhere, so that both sides of every property are exercised.
fn replay(target: &str, run: fn(&[u8]) -> Tally) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no inputs", dir.display());
    let mut total = Tally::default();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        // Name the input that failed: the harness's own message says what broke.
        match std::panic::catch_unwind(|| run(&data)) {
            Ok(tally) => total += tally,
            Err(_) => panic!("{target}: {} failed", path.display()),
        }
    }
    // Shown with `--nocapture`: the figures TESTING.md quotes.
    eprintln!("{target}: {} inputs, {total:?}", files.len());
    assert!(
        total.accepted > 0 && total.refused > 0,
        "{target}: {} inputs, {total:?}: the corpus exercises only one side",
        files.len()
    );
}

#[cfg(feature = "csv")]
#[test]
fn fuzz_corpus_csv_upload() {
    replay("csv_upload", fuzz_harness::csv_upload);
}

#[test]
fn fuzz_corpus_permission_names() {
    replay("permission_names", fuzz_harness::permission_names);
}

#[test]
fn fuzz_corpus_stored_records() {
    replay("stored_records", fuzz_harness::stored_records);
}

#[test]
fn fuzz_corpus_changes() {
    replay("changes", fuzz_harness::changes);
}
