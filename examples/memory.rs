//! Memory per user of a loaded engine: 100,000 users in one account (the workload of
//! `benches/check.rs`). The target is at most 256 bytes per user; exits non-zero above it.
//!
//! ```text
//! cargo run --release --example memory            # 100,000 users
//! cargo run --release --example memory 1000000    # any number of users
//! ```
//!
//! A counting global allocator (`stats_alloc`) sums the bytes the engine holds once loaded:
//! bytes requested, so the allocator's own rounding and headers are not included. The growth of
//! the resident set across the load is printed beside it for comparison;
//! `cargo run --release -p compare --bin resident` measures it after glibc's `malloc_trim` has
//! returned the load's freed buffers.

use std::alloc::System;
use std::error::Error;
use std::process::ExitCode;

use std::sync::Arc;

use shopguard::Engine;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[path = "../benches/workload/mod.rs"]
#[allow(dead_code, reason = "the queries and the floor are for the benches")]
mod workload;

use workload::{Elsewhere, Perm64, USERS, World, resident_bytes};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The target: bytes of engine memory per user, at most.
const TARGET: f64 = 256.0;

fn main() -> Result<ExitCode, Box<dyn Error>> {
    let users: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => USERS,
    };
    let world = World::generate_users(users);
    let rss_before = resident_bytes();
    let region = Region::new(GLOBAL);
    // The batch is built inside the region and consumed by the load, so what is still
    // allocated at the end is the engine's.
    let engine = Engine::<Perm64>::new().with_audit(Arc::new(Elsewhere));
    engine.unchecked_apply(world.mutations())?;
    let stats = region.change();
    let rss_after = resident_bytes();

    // A reallocation adds its growth to `bytes_allocated` or its shrink to
    // `bytes_deallocated`, so the difference is what is still held.
    let held = stats.bytes_allocated as i128 - stats.bytes_deallocated as i128;
    let per_user = held as f64 / users as f64;
    println!(
        "engine loaded: {users} users, revision {}",
        engine.revision()
    );
    println!(
        "held by the engine: {held} bytes requested in {} live allocations",
        stats.allocations as i128 - stats.deallocations as i128
    );
    println!("per user: {per_user:.1} bytes (target: at most {TARGET})");
    if let (Some(a), Some(b)) = (rss_before, rss_after) {
        println!(
            "resident set growth for comparison: {:.1} bytes per user (includes the allocator's \
             headers and freed memory it keeps)",
            (b as f64 - a as f64) / users as f64
        );
    }
    drop(world);
    Ok(if per_user <= TARGET {
        ExitCode::SUCCESS
    } else {
        eprintln!("over the target");
        ExitCode::FAILURE
    })
}
