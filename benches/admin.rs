//! The write side on the 100,000-user workload: `apply` per change, and `can` while another
//! thread applies changes continuously, against `can` on an idle engine in the same run.

use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use shopguard::audit::{AuditRecord, AuditSink};
use shopguard::{Change, Engine, Mutation, Role};

#[path = "workload/mod.rs"]
#[allow(dead_code, reason = "the floor is for benches/check.rs")]
mod workload;

use workload::{EngineQuery, Perm64, World};

const QUERIES: usize = 4096;
const QUERY_SEED: u64 = 0x0c4e_c4ed_0000_0002;

/// Audit records are dropped: the bench measures the engine, not a log growing in memory.
#[derive(Debug)]
struct Discard;

impl AuditSink<Perm64> for Discard {
    fn record(&self, _records: &[AuditRecord<Perm64>]) -> Result<(), shopguard::Error> {
        Ok(())
    }
}

fn engine(world: &World) -> Result<Arc<Engine<Perm64>>, Box<dyn Error>> {
    let engine = Engine::<Perm64>::new().with_audit(Arc::new(Discard));
    engine.unchecked_apply(world.mutations())?;
    // The owner's role holds every permission, so every change below is authorized.
    let owner_role = Role::new(
        workload::role_id(0),
        workload::ACCOUNT,
        "Role 0",
        shopguard::Level::TOP,
        Perm64::all(),
    );
    engine.unchecked_apply([Mutation::PutRole(owner_role)])?;
    Ok(Arc::new(engine))
}

/// The `i`-th change: a user's timezone, alternately Madrid and UTC.
fn change(engine: &Engine<Perm64>, i: u64) -> Result<Change<Perm64>, Box<dyn Error>> {
    let id = workload::user_id(1 + (i as usize % (workload::USERS - 1)));
    let user = engine.snapshot().user(id).cloned().ok_or("user missing")?;
    let tz = if i.is_multiple_of(2) {
        "Europe/Madrid"
    } else {
        "UTC"
    };
    Ok(Change::UpdateUser(user.with_timezone(tz)?))
}

fn main() -> Result<(), Box<dyn Error>> {
    let world = World::generate();
    let queries: Vec<EngineQuery> = world.queries(QUERIES, QUERY_SEED).engine;
    let engine = engine(&world)?;
    drop(world);
    let owner = workload::user_id(0);
    let mut c = Criterion::default().configure_from_args();

    let mut group = c.benchmark_group("apply");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let mut i = 0u64;
    group.bench_function("update_user_100k", |b| {
        b.iter(|| {
            i += 1;
            let change = change(&engine, i).map_err(|e| e.to_string());
            match change {
                Ok(ch) => black_box(engine.apply(owner, ch).is_ok()),
                Err(_) => false,
            }
        });
    });
    group.finish();

    let run_queries = |engine: &Engine<Perm64>| {
        let mut n = 0usize;
        for q in black_box(queries.as_slice()) {
            n += usize::from(engine.can(q.user, q.perm, &q.on));
        }
        n
    };
    let mut group = c.benchmark_group("concurrent");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(QUERIES as u64));
    group.bench_function("can_idle", |b| b.iter(|| run_queries(&engine)));

    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (engine, stop, writes) = (engine.clone(), stop.clone(), writes.clone());
        thread::spawn(move || {
            let mut i = 1_000_000u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                if let Ok(ch) = change(&engine, i)
                    && engine.apply(owner, ch).is_ok()
                {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    group.bench_function("can_while_writing", |b| b.iter(|| run_queries(&engine)));
    stop.store(true, Ordering::Relaxed);
    writer.join().map_err(|_| "writer thread panicked")?;
    group.finish();
    eprintln!(
        "concurrent: the writer applied {} changes while can_while_writing ran",
        writes.load(Ordering::Relaxed)
    );
    c.final_summary();
    Ok(())
}
