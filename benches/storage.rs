//! The durable backends: `apply` of one change on each backend, and how long a change made on
//! one replica takes to be seen by another (a follower on the same store).
//!
//! The account is small (1,000 users) so that the figures show the storage, not the engine's
//! own copy-on-write of a large index (`benches/admin.rs` measures that at 100,000 users).
//! PostgreSQL is the server named by `SHOPGUARD_PG` (`.ci/postgres` starts one on loopback);
//! the SQLite file is in the system's temporary directory.
//!
//! `cargo bench --bench storage --features sqlite,postgres`

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use shopguard::audit::{AuditRecord, AuditSink};
use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::{MemoryStorage, PgStorage, SqliteStorage};
use shopguard::{
    Access, Account, AccountId, Change, Engine, Grant, Mutation, RoleId, Store, StoreId, User,
    UserId,
};

const USERS: u64 = 1_000;
const STORES: u64 = 20;
const SHOP: AccountId = AccountId::new(1);
const OWNER: UserId = UserId::new(1);

/// Audit records reach storage with their batch; the in-memory sink is not what is measured.
#[derive(Debug)]
struct Discard;

impl AuditSink<Pos> for Discard {
    fn record(&self, _records: &[AuditRecord<Pos>]) -> Result<(), shopguard::Error> {
        Ok(())
    }
}

fn world() -> Vec<Mutation<Pos>> {
    let (admin, cashier) = (RoleId::new(1), RoleId::new(3));
    let mut out = vec![
        Mutation::PutAccount(Account::new(SHOP, "Bench Shop")),
        Mutation::PutRole(pos::admin(admin, SHOP)),
        Mutation::PutRole(pos::cashier(cashier, SHOP)),
    ];
    out.extend(
        (0..STORES)
            .map(|s| Mutation::PutStore(Store::new(StoreId::new(s), SHOP, format!("Store {s}")))),
    );
    out.push(Mutation::PutUser(
        User::new(OWNER, SHOP, "owner", "owner@bench.example")
            .with_owner(true)
            .with_grant(Grant::new(admin, Access::All)),
    ));
    out.extend((2..=USERS).map(|u| {
        Mutation::PutUser(
            User::new(
                UserId::new(u),
                SHOP,
                &format!("user{u}"),
                &format!("user{u}@bench.example"),
            )
            .with_grant(Grant::new(
                cashier,
                Access::specific([StoreId::new(u % STORES)]),
            )),
        )
    }));
    out
}

/// The `i`-th change: a cashier disabled, or enabled again.
fn change(i: u64) -> Change<Pos> {
    let user = UserId::new(2 + (i / 2) % (USERS - 1));
    if i.is_multiple_of(2) {
        Change::DisableUser(user)
    } else {
        Change::EnableUser(user)
    }
}

fn bench_apply(c: &mut Criterion, name: &str, engine: &Engine<Pos>) -> Result<(), Box<dyn Error>> {
    engine.unchecked_apply(world())?;
    let mut i = 0_u64;
    let mut failed = None;
    c.bench_function(&format!("storage/apply/{name}"), |b| {
        b.iter(|| {
            if let Err(e) = engine.apply(OWNER, change(i)) {
                failed.get_or_insert(e);
            }
            i += 1;
        });
    });
    // Leave every user enabled, whatever the number of iterations was.
    if i % 2 == 1 {
        engine.apply(OWNER, change(i))?;
    }
    match failed {
        Some(e) => Err(format!("{name}: apply failed: {e}").into()),
        None => Ok(()),
    }
}

/// Time from `apply` returning on `writer` until `reader` (following) shows the revision.
fn bench_propagation(
    c: &mut Criterion,
    name: &str,
    writer: &Engine<Pos>,
    reader: &Arc<Engine<Pos>>,
) -> Result<(), Box<dyn Error>> {
    let _follower = reader.follow(Duration::from_secs(1));
    let mut i = 1_u64 << 32;
    let mut failed = None;
    c.bench_function(&format!("storage/propagation/{name}"), |b| {
        b.iter_custom(|iters| {
            let mut waited = Duration::ZERO;
            for _ in 0..iters {
                match writer.apply(OWNER, change(i)) {
                    Ok(applied) => {
                        let start = Instant::now();
                        if let Err(e) = reader.at_least(applied.revision(), Duration::from_secs(5))
                        {
                            failed.get_or_insert(e);
                        }
                        waited += start.elapsed();
                    }
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
                i += 1;
            }
            waited
        });
    });
    match failed {
        Some(e) => Err(format!("{name}: {e}").into()),
        None => Ok(()),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("SHOPGUARD_PG").map_err(
        |_| "set SHOPGUARD_PG to a PostgreSQL connection string (`bash .ci/postgres` prints one)",
    )?;
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();

    let sink = || Arc::new(Discard);
    bench_apply(&mut c, "volatile", &Engine::<Pos>::new().with_audit(sink()))?;

    let memory = Arc::new(MemoryStorage::<Pos>::new());
    bench_apply(
        &mut c,
        "memory",
        &Engine::open_unfollowed(Arc::clone(&memory))?.with_audit(sink()),
    )?;

    let path = std::env::temp_dir().join(format!("shopguard-bench-{}.db", std::process::id()));
    let sqlite = Engine::open_unfollowed(SqliteStorage::open(&path)?)?.with_audit(sink());
    bench_apply(&mut c, "sqlite", &sqlite)?;

    let schema = "shopguard_bench_storage";
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)?;
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    let pg = Engine::open_unfollowed(PgStorage::connect(&url, schema)?)?.with_audit(sink());
    bench_apply(&mut c, "postgres", &pg)?;

    // Followers: the memory store wakes them on a condition variable, SQLite is polled every
    // 5 ms, PostgreSQL notifies them (LISTEN/NOTIFY).
    let reader = Arc::new(Engine::open_unfollowed(Arc::clone(&memory))?);
    let writer = Engine::open_unfollowed(Arc::clone(&memory))?.with_audit(sink());
    bench_propagation(&mut c, "memory", &writer, &reader)?;
    drop(sqlite);
    let reader = Arc::new(Engine::open_unfollowed(SqliteStorage::open(&path)?)?);
    let writer = Engine::open_unfollowed(SqliteStorage::open(&path)?)?.with_audit(sink());
    bench_propagation(&mut c, "sqlite", &writer, &reader)?;
    drop(pg);
    let reader = Arc::new(Engine::open_unfollowed(PgStorage::connect(&url, schema)?)?);
    let writer = Engine::open_unfollowed(PgStorage::connect(&url, schema)?)?.with_audit(sink());
    bench_propagation(&mut c, "postgres", &writer, &reader)?;

    c.final_summary();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}
