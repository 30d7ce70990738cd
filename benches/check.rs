//! The check path against a floor: 100,000 users, 1,000 stores, 20 roles, 64 permissions.
//!
//! The floor answers the same question from plain vectors indexed by dense user number: a
//! permission mask and a sorted store list per user. `can`, `check` and `snapshot_can` ask the
//! engine, by sparse user id. All four run over the same pre-generated queries, about half of
//! them allowed, and must agree on every one before anything is timed.

use std::collections::HashMap;
use std::error::Error;
use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use shopguard::{Engine, Snapshot, UserKey};

#[path = "workload/mod.rs"]
mod workload;

use workload::{EngineQuery, Floor, FloorQuery, Perm64, World};

/// Queries per measured iteration.
const QUERIES: usize = 4096;
/// The seed of the query stream.
const QUERY_SEED: u64 = 0x0c4e_c4ed_0000_0001;

/// The floor's id map: sparse user id to dense number, with the engine's kind of hash.
type ById = HashMap<u64, usize, BuildHasherDefault<Mix>>;

/// splitmix64's finaliser, as the engine hashes ids.
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        let mut z = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

struct Setup {
    floor: Floor,
    by_id: ById,
    engine: Engine<Perm64>,
    snapshot: Snapshot<Perm64>,
    floor_queries: Vec<FloorQuery>,
    engine_queries: Vec<EngineQuery>,
    /// Each query's user as a key, resolved once (as a host resolves it once per session).
    keys: Vec<UserKey>,
}

fn setup() -> Result<Setup, Box<dyn Error>> {
    let world = World::generate();
    let engine = Engine::<Perm64>::new();
    // One batch: a batch is validated in O(n), so loading user by user would be quadratic.
    engine.unchecked_apply(world.mutations())?;
    let floor = world.floor();
    let queries = world.queries(QUERIES, QUERY_SEED);
    drop(world);
    let snapshot = engine.snapshot();
    let keys = queries
        .engine
        .iter()
        .map(|q| engine.user_key(q.user).ok_or("a query's user has no key"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut reader = engine.reader();

    // An honest comparison: the floor and the engine give the same answer to every query.
    let mut allowed = 0usize;
    for (i, (f, e)) in queries.floor.iter().zip(&queries.engine).enumerate() {
        let by_floor = floor.can(f.user, f.perm, f.store);
        let by_engine = engine.can(e.user, e.perm, &e.on);
        let by_check = engine.check(e.user, e.perm, &e.on);
        let by_snapshot = snapshot.can(e.user, e.perm, &e.on);
        let key = *keys.get(i).ok_or("a query has no key")?;
        let by_key = [
            engine.can(key, e.perm, &e.on),
            snapshot.can(key, e.perm, &e.on),
            reader.can(key, e.perm, &e.on),
            reader.can(e.user, e.perm, &e.on),
            reader.check(key, e.perm, &e.on).is_allowed(),
        ];
        if by_floor != by_engine
            || by_engine != by_check.is_allowed()
            || by_engine != by_snapshot
            || by_key.iter().any(|&k| k != by_floor)
        {
            return Err(format!(
                "query {i} disagrees: floor {by_floor}, can {by_engine}, check {by_check}, \
                 snapshot {by_snapshot}, by key / reader {by_key:?} ({f:?} / {e:?})"
            )
            .into());
        }
        allowed += usize::from(by_floor);
    }
    let fraction = allowed as f64 / queries.floor.len() as f64;
    eprintln!(
        "workload: {} users, {} queries, allowed fraction {fraction:.3} ({allowed} allowed)",
        workload::USERS,
        queries.floor.len(),
    );
    if !(0.4..=0.6).contains(&fraction) {
        return Err(format!("allowed fraction {fraction:.3} is outside 0.40..=0.60").into());
    }
    let by_id: ById = (0..workload::USERS)
        .map(|u| (workload::user_id(u).get(), u))
        .collect();
    Ok(Setup {
        by_id,
        floor,
        engine,
        snapshot,
        keys,
        floor_queries: queries.floor,
        engine_queries: queries.engine,
    })
}

fn bench_check(c: &mut Criterion, s: &Setup) {
    let mut group = c.benchmark_group("check");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(QUERIES as u64));

    group.bench_function("floor", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for q in black_box(s.floor_queries.as_slice()) {
                n += usize::from(s.floor.can(q.user, q.perm, q.store));
            }
            n
        });
    });
    // The floor again, but finding the user by its sparse id first, as any engine must.
    group.bench_function("floor_by_id", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (f, e) in black_box(s.floor_queries.as_slice())
                .iter()
                .zip(&s.engine_queries)
            {
                let allowed = s
                    .by_id
                    .get(&e.user.get())
                    .is_some_and(|&u| s.floor.can(u, f.perm, f.store));
                n += usize::from(allowed);
            }
            n
        });
    });
    group.bench_function("can", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for q in black_box(s.engine_queries.as_slice()) {
                n += usize::from(s.engine.can(q.user, q.perm, &q.on));
            }
            n
        });
    });
    group.bench_function("check", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for q in black_box(s.engine_queries.as_slice()) {
                n += usize::from(s.engine.check(q.user, q.perm, &q.on).is_allowed());
            }
            n
        });
    });
    group.bench_function("snapshot_can", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for q in black_box(s.engine_queries.as_slice()) {
                n += usize::from(s.snapshot.can(q.user, q.perm, &q.on));
            }
            n
        });
    });
    group.bench_function("snapshot_can_key", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (q, &k) in black_box(s.engine_queries.as_slice()).iter().zip(&s.keys) {
                n += usize::from(s.snapshot.can(k, q.perm, &q.on));
            }
            n
        });
    });
    group.bench_function("reader_can", |b| {
        let mut reader = s.engine.reader();
        b.iter(|| {
            let mut n = 0usize;
            for q in black_box(s.engine_queries.as_slice()) {
                n += usize::from(reader.can(q.user, q.perm, &q.on));
            }
            n
        });
    });
    group.bench_function("reader_can_key", |b| {
        let mut reader = s.engine.reader();
        b.iter(|| {
            let mut n = 0usize;
            for (q, &k) in black_box(s.engine_queries.as_slice()).iter().zip(&s.keys) {
                n += usize::from(reader.can(k, q.perm, &q.on));
            }
            n
        });
    });
    group.bench_function("reader_check_key", |b| {
        let mut reader = s.engine.reader();
        b.iter(|| {
            let mut n = 0usize;
            for (q, &k) in black_box(s.engine_queries.as_slice()).iter().zip(&s.keys) {
                n += usize::from(reader.check(k, q.perm, &q.on).is_allowed());
            }
            n
        });
    });
    group.finish();
}

fn main() -> Result<(), Box<dyn Error>> {
    let s = setup()?;
    let mut c = Criterion::default().configure_from_args();
    bench_check(&mut c, &s);
    c.final_summary();
    Ok(())
}
