//! One integration binary: one link on a 2-core machine.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a test fails loudly on anything unexpected"
)]
// Only the storage backends' helpers panic outside a `#[test]` function, so whether this is
// needed depends on the features built: an `allow`, not an expectation.
#![allow(
    clippy::panic,
    reason = "a test helper fails loudly on anything unexpected"
)]

mod admin;
mod admin_props;
#[cfg(feature = "csv")]
mod attacks;
mod catalogs;
mod conformance;
mod crash;
#[cfg(feature = "csv")]
mod csv;
#[cfg(feature = "csv")]
mod csv_stores;
mod dry_run;
mod edges;
mod fixture;
mod fuzz_harness;
mod fuzz_replay;
mod keys;
mod leaks;
mod manage_props;
#[cfg(feature = "tokio")]
mod nonblocking;
mod places;
#[cfg(feature = "policy")]
mod policy;
mod properties;
mod reverse;
mod rules;
mod security;
mod serde_forms;
mod shared;
mod sql_filter;
mod storage;
mod unchecked;
mod write_model;
mod writes;
