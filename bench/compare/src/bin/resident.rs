//! Resident memory per user of a loaded engine, as the operating system counts it: the growth of
//! `VmRSS` across the load, measured after glibc's `malloc_trim(0)` has returned the load's freed
//! buffers (the batch, its audit copy, the index's growth steps) to the system.
//!
//! ```text
//! cargo run --release -p compare --bin resident            # 100,000 users
//! cargo run --release -p compare --bin resident 1000000    # any number of users
//! ```
//!
//! `examples/memory.rs` in the shopguard package counts the bytes the engine requested; this
//! adds what the allocator costs on top (chunk headers, rounding, fragmentation the trim cannot
//! return). It lives in this measurement member, not in shopguard's examples, because calling
//! `malloc_trim` needs one `unsafe` foreign call and shopguard forbids `unsafe` in every target.

use std::error::Error;
use std::sync::Arc;

use shopguard::Engine;

#[path = "../../../../benches/workload/mod.rs"]
#[allow(
    dead_code,
    reason = "the shared workload module serves several benches; this uses its world"
)]
mod workload;

use workload::{Elsewhere, Perm64, USERS, World, resident_bytes};

fn main() -> Result<(), Box<dyn Error>> {
    let users: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => USERS,
    };
    let world = World::generate_users(users);
    trim();
    let before = resident_bytes().ok_or("no VmRSS in /proc/self/status")?;
    let heap_before = heap();
    let engine = Engine::<Perm64>::new().with_audit(Arc::new(Elsewhere));
    engine.unchecked_apply(world.mutations())?;
    let untrimmed = resident_bytes().ok_or("no VmRSS in /proc/self/status")?;
    let released = trim();
    let after = resident_bytes().ok_or("no VmRSS in /proc/self/status")?;
    let per_user = |rss: u64| (rss as f64 - before as f64) / users as f64;
    println!(
        "engine loaded: {users} users, revision {}",
        engine.revision()
    );
    println!(
        "resident growth per user: {:.1} bytes after malloc_trim ({}), {:.1} before it",
        per_user(after),
        if released {
            "memory returned"
        } else {
            "nothing returned"
        },
        per_user(untrimmed),
    );
    if let (Some((used0, free0)), Some((used1, free1))) = (heap_before, heap()) {
        let growth = |a: usize, b: usize| (b as f64 - a as f64) / users as f64;
        println!(
            "allocator growth per user after the trim: {:.1} bytes in allocated blocks \
             (with their headers), {:.1} free in the heap",
            growth(used0, used1),
            growth(free0, free1),
        );
    }
    drop(engine);
    drop(world);
    Ok(())
}

/// glibc's `mallinfo2`: the bytes in use in allocated blocks (heap and mapped) and the bytes
/// free inside the heap, of the whole process.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap() -> Option<(usize, usize)> {
    // SAFETY: `mallinfo2` takes no argument and returns a plain struct by value.
    #[allow(unsafe_code, reason = "glibc has no safe entry point for mallinfo2")]
    let info = unsafe { libc::mallinfo2() };
    Some((info.uordblks + info.hblkhd, info.fordblks))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap() -> Option<(usize, usize)> {
    None
}

/// glibc's `malloc_trim(0)`: returns the free pages of every arena to the system. Elsewhere
/// (musl, other systems) nothing, and the figure includes what the allocator keeps.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and has no precondition; glibc serializes it with
    // every other allocator call.
    #[allow(unsafe_code, reason = "glibc has no safe entry point for malloc_trim")]
    let released = unsafe { libc::malloc_trim(0) };
    released == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}
