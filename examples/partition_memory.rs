//! Memory of a partitioned replica beside a full one: a fleet of accounts (a hundred staff,
//! five stores and four roles each, the shape of `benches/tenants.rs`) stored once in a shared
//! `MemoryStorage`, then opened by a full engine and by a replica for every tenth account.
//!
//! ```text
//! cargo run --release --example partition_memory          # 1,000 accounts: 100,000 users
//! cargo run --release --example partition_memory 10000    # any number of accounts
//! ```
//!
//! A counting global allocator (`stats_alloc`) sums the bytes each engine still holds once
//! opened (bytes requested: the allocator's rounding and headers are not included). The
//! storage's own memory is not an engine's and is outside both figures: it is filled before
//! either region starts, and the load's copies of its records are freed before a region ends.

use std::alloc::System;
use std::error::Error;
use std::sync::Arc;

use shopguard::storage::MemoryStorage;
use shopguard::{
    Access, Account, AccountId, Engine, Grant, Level, Mutation, Role, RoleId, Store, StoreId, User,
    UserId,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[path = "../benches/workload/mod.rs"]
#[allow(dead_code, reason = "only the catalog and the generator are used here")]
mod workload;

use workload::{Perm64, SplitMix64};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const USERS_EACH: u64 = 100;
const STORES_EACH: u64 = 5;
const ROLES_EACH: u64 = 4;
/// The replica serves one account in this many.
const SHARE: u64 = 10;

fn main() -> Result<(), Box<dyn Error>> {
    let accounts: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000,
    };
    let storage = Arc::new(MemoryStorage::<Perm64>::new());
    Engine::open(Arc::clone(&storage))?.unchecked_apply(fleet(accounts))?;

    let (full, full_bytes) = held(|| Engine::open(Arc::clone(&storage)))?;
    let served = (0..accounts).filter(|a| a % SHARE == 0).map(account);
    let (part, part_bytes) = held(|| Engine::open_for(Arc::clone(&storage), served))?;

    let users = accounts * USERS_EACH;
    let part_users = accounts.div_ceil(SHARE) * USERS_EACH;
    println!(
        "{accounts} accounts, {users} users; the partitioned replica serves every {SHARE}th \
         account: {} accounts, {part_users} users",
        accounts.div_ceil(SHARE)
    );
    println!(
        "full replica:        {full_bytes:>12} bytes ({:.1} per user), revision {}",
        full_bytes as f64 / users as f64,
        full.revision()
    );
    println!(
        "partitioned replica: {part_bytes:>12} bytes ({:.1} per user served), revision {}",
        part_bytes as f64 / part_users as f64,
        part.revision()
    );
    println!(
        "ratio: {:.1} % of the full replica's memory for {:.1} % of its users",
        100.0 * part_bytes as f64 / full_bytes as f64,
        100.0 * part_users as f64 / users as f64
    );
    Ok(())
}

/// What `open` returns, and the bytes still allocated from its start to its end: the engine's.
fn held<T>(
    open: impl FnOnce() -> Result<T, shopguard::Error>,
) -> Result<(T, i128), Box<dyn Error>> {
    let region = Region::new(GLOBAL);
    let engine = open()?;
    let stats = region.change();
    // A reallocation adds its growth to `bytes_allocated` or its shrink to
    // `bytes_deallocated`, so the difference is what is still held.
    let held = stats.bytes_allocated as i128 - stats.bytes_deallocated as i128;
    Ok((engine, held))
}

fn account(a: u64) -> AccountId {
    AccountId::new(1 + a)
}

fn fleet(accounts: u64) -> Vec<Mutation<Perm64>> {
    let mut rng = SplitMix64::new(0x7e4a_4750_0000_0001);
    let store = |a: u64, s: u64| StoreId::new(1_000_000 + a * STORES_EACH + s);
    let role = |a: u64, r: u64| RoleId::new(2_000_000 + a * ROLES_EACH + r);
    let mut batch = Vec::new();
    for a in 0..accounts {
        batch.push(Mutation::PutAccount(Account::new(
            account(a),
            format!("Merchant {a}"),
        )));
        for s in 0..STORES_EACH {
            batch.push(Mutation::PutStore(Store::new(
                store(a, s),
                account(a),
                format!("Outlet {s}"),
            )));
        }
        for r in 0..ROLES_EACH {
            let bits = if r == 0 { u64::MAX } else { rng.next_u64() };
            batch.push(Mutation::PutRole(Role::new(
                role(a, r),
                account(a),
                format!("Role {r}"),
                Level::below_top(r.min(2) as u8),
                Perm64::from_bits_retain(bits),
            )));
        }
        for u in 0..USERS_EACH {
            let grant = if u == 0 {
                Grant::new(role(a, 0), Access::All)
            } else {
                let s = rng.below(STORES_EACH as usize) as u64;
                let r = 1 + rng.below((ROLES_EACH - 1) as usize) as u64;
                Grant::new(role(a, r), Access::specific([store(a, s)]))
            };
            batch.push(Mutation::PutUser(
                User::new(
                    UserId::new(10_000_000 + a * USERS_EACH + u),
                    account(a),
                    &format!("staff{u}"),
                    &format!("staff{u}@merchant{a}.example"),
                )
                .with_owner(u == 0)
                .with_grant(grant),
            ));
        }
    }
    batch
}
