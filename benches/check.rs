//! The check path against floors, at 100,000 and 1,000,000 users: 1,000 stores, 20 roles, 64
//! permissions (`benches/workload/mod.rs`), one criterion group per size (`check_100000`,
//! `check_1000000`), every row of a group measured in the same run.
//!
//! The floors answer the same question as the engine from plain data:
//!
//! - `floor_compact`: [`CompactFloor::can`] by dense user number, a 16-byte record per user and
//!   one shared list of store runs; it proves what the engine's keyed `Reader::can` proves for
//!   these queries (see [`CompactFloor`] for the list). The keyed rows are compared with it.
//! - `floor_compact_by_id`: the same behind a hash map from the sparse user id to the dense
//!   number, hashed as the engine hashes ids. The by-id rows are compared with it.
//! - `floor_chunked` (and `_by_id`): the compact floor's data cut as the engine's tables are
//!   cut for writes in O(change) — records in shared chunks of 512 with their runs, the id map
//!   in 256 shared parts — with the same check: what the cut costs on plain data. An extra row
//!   for reading the others, not a floor the engine is held to.
//! - `floor_vec_per_user` (and `_by_id`): the former floor, each user's stores in a heap `Vec`
//!   of its own, kept for comparison with earlier results. It checks less than the engine (no
//!   account, no store existence for all-stores users) and still costs more than the compact
//!   floor.
//!
//! Every row runs over the same pre-generated queries, about half of them allowed, and every
//! floor and engine form must agree on every one before anything is timed.
//!
//! `CHECK_USERS` picks the world sizes: a comma-separated list, `100000,1000000` by default.

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use shopguard::{Engine, Snapshot, UserKey};

#[path = "workload/mod.rs"]
#[allow(
    dead_code,
    reason = "`World::generate` (the default size) is for the other benches"
)]
mod workload;

use workload::{CompactFloor, EngineQuery, Floor, FloorQuery, Perm64, World};

#[path = "workload/chunked.rs"]
mod chunked;

use chunked::ChunkedFloor;

/// Queries per measured iteration.
const QUERIES: usize = 4096;
/// The seed of the query stream.
const QUERY_SEED: u64 = 0x0c4e_c4ed_0000_0001;
/// World sizes measured unless `CHECK_USERS` says otherwise.
const SIZES: [usize; 2] = [100_000, 1_000_000];

struct Setup {
    users: usize,
    compact: CompactFloor,
    /// The compact floor cut into the engine's chunks and id parts (an extra row).
    chunked: ChunkedFloor,
    /// The per-user-`Vec` floor.
    floor: Floor,
    engine: Engine<Perm64>,
    snapshot: Snapshot<Perm64>,
    floor_queries: Vec<FloorQuery>,
    engine_queries: Vec<EngineQuery>,
    /// Each query's user as a key, resolved once (as a host resolves it once per session).
    keys: Vec<UserKey>,
}

fn timed<T>(what: &str, users: usize, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let v = f();
    eprintln!("setup {users} users: {what} in {:.2?}", t.elapsed());
    v
}

fn setup(users: usize) -> Result<Setup, Box<dyn Error>> {
    let start = Instant::now();
    let world = timed("world", users, || World::generate_users(users));
    let engine = Engine::<Perm64>::new();
    // One batch: a batch is validated in O(n), so loading user by user would be quadratic.
    timed("engine load", users, || {
        engine.unchecked_apply(world.mutations())
    })?;
    let compact = timed("compact floor", users, || world.compact_floor());
    let floor = timed("per-user-Vec floor", users, || world.floor());
    let chunked = timed("chunked floor", users, || ChunkedFloor::of(&compact));
    let queries = world.queries(QUERIES, QUERY_SEED);
    drop(world);
    let snapshot = engine.snapshot();
    let keys = queries
        .engine
        .iter()
        .map(|q| engine.user_key(q.user).ok_or("a query's user has no key"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut reader = engine.reader();

    // An honest comparison: every floor and every engine form give the same answer to every
    // query.
    let mut allowed = 0usize;
    for (i, (f, e)) in queries.floor.iter().zip(&queries.engine).enumerate() {
        let want = compact.can(f.user, f.perm, f.account, f.store);
        let id = e.user.get();
        let key = *keys.get(i).ok_or("a query has no key")?;
        let (perm, account, store) = (e.perm.bits(), e.on.0.get(), e.on.1.get());
        let floors = [
            compact.can_by_id(id, perm, account, store),
            floor.can(f.user, f.perm, f.store),
            compact.dense(id).is_some_and(|u| floor.can(u, perm, store)),
            chunked.can(f.user, f.perm, f.account, f.store),
            chunked.can_by_id(id, perm, account, store),
        ];
        let engines = [
            engine.can(e.user, e.perm, &e.on),
            engine.check(e.user, e.perm, &e.on).is_allowed(),
            engine.can(key, e.perm, &e.on),
            engine.check(key, e.perm, &e.on).is_allowed(),
            snapshot.can(e.user, e.perm, &e.on),
            snapshot.can(key, e.perm, &e.on),
            reader.can(key, e.perm, &e.on),
            reader.can(e.user, e.perm, &e.on),
            reader.check(key, e.perm, &e.on).is_allowed(),
        ];
        if floors.iter().chain(&engines).any(|&x| x != want) {
            return Err(format!(
                "query {i} disagrees: compact floor {want}, other floors {floors:?}, \
                 engine forms {engines:?} ({f:?} / {e:?})"
            )
            .into());
        }
        allowed += usize::from(want);
    }
    let fraction = allowed as f64 / queries.floor.len() as f64;
    eprintln!(
        "workload: {users} users, {} queries, allowed fraction {fraction:.3} ({allowed} \
         allowed); setup {:.2?}",
        queries.floor.len(),
        start.elapsed()
    );
    if !(0.4..=0.6).contains(&fraction) {
        return Err(format!("allowed fraction {fraction:.3} is outside 0.40..=0.60").into());
    }
    Ok(Setup {
        users,
        compact,
        chunked,
        floor,
        engine,
        snapshot,
        keys,
        floor_queries: queries.floor,
        engine_queries: queries.engine,
    })
}

/// One row: `pass` answers every query once and returns how many were allowed.
fn row(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut pass: impl FnMut() -> usize) {
    group.bench_function(name, |b| b.iter(&mut pass));
}

fn bench_check(c: &mut Criterion, s: &Setup) {
    let mut group = c.benchmark_group(format!("check_{}", s.users));
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(QUERIES as u64));
    let fq = s.floor_queries.as_slice();
    let eq = s.engine_queries.as_slice();

    // The floors.
    row(&mut group, "floor_compact", || {
        let mut n = 0usize;
        for q in black_box(fq) {
            n += usize::from(s.compact.can(q.user, q.perm, q.account, q.store));
        }
        n
    });
    // Finding the user by its sparse id first, as the engine's by-id forms must.
    row(&mut group, "floor_compact_by_id", || {
        let mut n = 0usize;
        for q in black_box(eq) {
            n += usize::from(s.compact.can_by_id(
                q.user.get(),
                q.perm.bits(),
                q.on.0.get(),
                q.on.1.get(),
            ));
        }
        n
    });
    row(&mut group, "floor_vec_per_user", || {
        let mut n = 0usize;
        for q in black_box(fq) {
            n += usize::from(s.floor.can(q.user, q.perm, q.store));
        }
        n
    });
    row(&mut group, "floor_vec_per_user_by_id", || {
        let mut n = 0usize;
        for q in black_box(eq) {
            let allowed = s
                .compact
                .dense(q.user.get())
                .is_some_and(|u| s.floor.can(u, q.perm.bits(), q.on.1.get()));
            n += usize::from(allowed);
        }
        n
    });

    // The compact floor in the engine's chunks and id parts: what that cut costs by itself.
    row(&mut group, "floor_chunked", || {
        let mut n = 0usize;
        for q in black_box(fq) {
            n += usize::from(s.chunked.can(q.user, q.perm, q.account, q.store));
        }
        n
    });
    row(&mut group, "floor_chunked_by_id", || {
        let mut n = 0usize;
        for q in black_box(eq) {
            n += usize::from(s.chunked.can_by_id(
                q.user.get(),
                q.perm.bits(),
                q.on.0.get(),
                q.on.1.get(),
            ));
        }
        n
    });

    // By key: against `floor_compact`.
    let mut reader = s.engine.reader();
    row(&mut group, "reader_can_key", || {
        let mut n = 0usize;
        for (q, &k) in black_box(eq).iter().zip(&s.keys) {
            n += usize::from(reader.can(k, q.perm, &q.on));
        }
        n
    });
    row(&mut group, "snapshot_can_key", || {
        let mut n = 0usize;
        for (q, &k) in black_box(eq).iter().zip(&s.keys) {
            n += usize::from(s.snapshot.can(k, q.perm, &q.on));
        }
        n
    });
    row(&mut group, "engine_can_key", || {
        let mut n = 0usize;
        for (q, &k) in black_box(eq).iter().zip(&s.keys) {
            n += usize::from(s.engine.can(k, q.perm, &q.on));
        }
        n
    });
    let mut reader = s.engine.reader();
    row(&mut group, "reader_check_key", || {
        let mut n = 0usize;
        for (q, &k) in black_box(eq).iter().zip(&s.keys) {
            n += usize::from(reader.check(k, q.perm, &q.on).is_allowed());
        }
        n
    });
    row(&mut group, "engine_check_key", || {
        let mut n = 0usize;
        for (q, &k) in black_box(eq).iter().zip(&s.keys) {
            n += usize::from(s.engine.check(k, q.perm, &q.on).is_allowed());
        }
        n
    });

    // By id: against `floor_compact_by_id`.
    row(&mut group, "engine_can_id", || {
        let mut n = 0usize;
        for q in black_box(eq) {
            n += usize::from(s.engine.can(q.user, q.perm, &q.on));
        }
        n
    });
    row(&mut group, "snapshot_can_id", || {
        let mut n = 0usize;
        for q in black_box(eq) {
            n += usize::from(s.snapshot.can(q.user, q.perm, &q.on));
        }
        n
    });
    let mut reader = s.engine.reader();
    row(&mut group, "reader_can_id", || {
        let mut n = 0usize;
        for q in black_box(eq) {
            n += usize::from(reader.can(q.user, q.perm, &q.on));
        }
        n
    });
    row(&mut group, "engine_check_id", || {
        let mut n = 0usize;
        for q in black_box(eq) {
            n += usize::from(s.engine.check(q.user, q.perm, &q.on).is_allowed());
        }
        n
    });
    group.finish();
}

fn sizes() -> Result<Vec<usize>, Box<dyn Error>> {
    match std::env::var("CHECK_USERS") {
        Ok(v) => Ok(v
            .split(',')
            .map(|n| n.trim().replace('_', "").parse())
            .collect::<Result<_, _>>()?),
        Err(_) => Ok(SIZES.to_vec()),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut c = Criterion::default().configure_from_args();
    for users in sizes()? {
        // One world at a time: the smaller one's memory is freed before the larger is built.
        let s = setup(users)?;
        bench_check(&mut c, &s);
    }
    c.final_summary();
    Ok(())
}
