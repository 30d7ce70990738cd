//! Reverse queries and batch checks on the 100,000-user workload (R21), each against the
//! obvious alternative in the same run:
//!
//! - `scope_for` per (user, permission);
//! - `who_can` at one store against filtering all users with `can`;
//! - `can_each` (one user, many stores) and `can_many` (many triples) against single `can`s.

use std::error::Error;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use shopguard::{Engine, OnStore, StoreId, UserId};

#[path = "workload/mod.rs"]
#[allow(dead_code, reason = "the floor is for benches/check.rs")]
mod workload;

use workload::{EngineQuery, Perm64, World};

const QUERIES: usize = 4096;
const QUERY_SEED: u64 = 0x0c4e_c4ed_0000_0003;

fn main() -> Result<(), Box<dyn Error>> {
    let world = World::generate();
    let engine = Engine::<Perm64>::new();
    engine.unchecked_apply(world.mutations())?;
    let queries: Vec<EngineQuery> = world.queries(QUERIES, QUERY_SEED).engine;
    drop(world);
    let all_users: Vec<UserId> = (0..workload::USERS).map(workload::user_id).collect();
    let store = OnStore(workload::ACCOUNT, StoreId::new(workload::store_key(7)));
    let perm = Perm64::P3;

    // Honest comparisons: each fast form gives the slow form's answer.
    let filtered: Vec<UserId> = all_users
        .iter()
        .copied()
        .filter(|&u| engine.can(u, perm, &store))
        .collect();
    let who = engine.snapshot().who_can(perm, &store);
    if who != filtered {
        return Err(format!(
            "who_can gave {} users, filtering {}",
            who.len(),
            filtered.len()
        )
        .into());
    }
    let triples: Vec<(UserId, Perm64, OnStore)> =
        queries.iter().map(|q| (q.user, q.perm, q.on)).collect();
    let single: Vec<bool> = triples
        .iter()
        .map(|(u, p, r)| engine.can(*u, *p, r))
        .collect();
    if engine.snapshot().can_many(&triples) != single {
        return Err("can_many disagrees with can".into());
    }
    let one_user = queries.first().map(|q| q.user).ok_or("no queries")?;
    let stores: Vec<OnStore> = (0..workload::STORES)
        .map(|s| OnStore(workload::ACCOUNT, StoreId::new(workload::store_key(s))))
        .collect();
    let each: Vec<bool> = stores
        .iter()
        .map(|r| engine.can(one_user, perm, r))
        .collect();
    if engine.snapshot().can_each(one_user, perm, &stores) != each {
        return Err("can_each disagrees with can".into());
    }
    for q in &queries {
        let scope = engine.snapshot().scope_for(q.user, q.perm);
        if scope.allows_store(q.on.1) != engine.can(q.user, q.perm, &q.on) {
            return Err(format!("scope_for disagrees with can on {q:?}").into());
        }
    }
    eprintln!(
        "who_can at one store: {} of {} users",
        who.len(),
        workload::USERS
    );

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("reverse");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    group.throughput(Throughput::Elements(QUERIES as u64));
    group.bench_function("scope_for", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for q in black_box(queries.as_slice()) {
                n += engine.snapshot().scope_for(q.user, q.perm).clauses().len();
            }
            n
        });
    });

    group.throughput(Throughput::Elements(1));
    group.bench_function("who_can_store", |b| {
        b.iter(|| {
            engine
                .snapshot()
                .who_can(black_box(perm), black_box(&store))
                .len()
        });
    });
    group.bench_function("filter_all_users_with_can", |b| {
        b.iter(|| {
            let snapshot = engine.snapshot();
            all_users
                .iter()
                .filter(|&&u| snapshot.can(u, black_box(perm), black_box(&store)))
                .count()
        });
    });

    group.throughput(Throughput::Elements(stores.len() as u64));
    group.bench_function("can_single_one_user", |b| {
        b.iter(|| {
            black_box(stores.as_slice())
                .iter()
                .filter(|r| engine.can(one_user, perm, *r))
                .count()
        });
    });
    group.bench_function("can_each_one_user", |b| {
        b.iter(|| {
            engine
                .snapshot()
                .can_each(one_user, perm, black_box(stores.as_slice()))
                .into_iter()
                .filter(|x| *x)
                .count()
        });
    });

    group.throughput(Throughput::Elements(QUERIES as u64));
    group.bench_function("can_single_triples", |b| {
        b.iter(|| {
            black_box(triples.as_slice())
                .iter()
                .filter(|(u, p, r)| engine.can(*u, *p, r))
                .count()
        });
    });
    group.bench_function("can_many_triples", |b| {
        b.iter(|| {
            engine
                .snapshot()
                .can_many(black_box(triples.as_slice()))
                .into_iter()
                .filter(|x| *x)
                .count()
        });
    });
    group.finish();
    c.final_summary();
    Ok(())
}
