//! Writes at scale, in two shapes: 1,000,000 users over 10,000 accounts (a hundred staff, five
//! stores and four roles each: a hosted fleet), and 100,000 users in one account (a thousand
//! stores, twenty roles: a large chain). For each, one user change applied by its account's
//! owner and visible to the next read, and the same kind of batch caught up by a follower
//! sharing the storage.
//!
//! ```text
//! cargo bench --bench tenants
//! ```
//!
//! Loading (one bootstrap batch) and opening a second engine on the loaded storage are timed
//! once and printed: they are too slow to repeat under criterion.

use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use shopguard::audit::{AuditRecord, AuditSink};
use shopguard::storage::MemoryStorage;
use shopguard::{
    Access, Account, AccountId, Change, Engine, Grant, Level, Mutation, Role, RoleId, Store,
    StoreId, User, UserId,
};

#[path = "workload/mod.rs"]
#[allow(dead_code, reason = "only the catalog and the generator are used here")]
mod workload;

use workload::{Perm64, SplitMix64};

/// A fleet's shape: every account alike.
#[derive(Clone, Copy, Debug)]
struct Shape {
    name: &'static str,
    accounts: u64,
    users_each: u64,
    stores_each: u64,
    roles_each: u64,
}

const SHAPES: [Shape; 2] = [
    Shape {
        name: "1m_users_10k_accounts",
        accounts: 10_000,
        users_each: 100,
        stores_each: 5,
        roles_each: 4,
    },
    Shape {
        name: "100k_users_1_account",
        accounts: 1,
        users_each: 100_000,
        stores_each: 1_000,
        roles_each: 20,
    },
];

impl Shape {
    fn account(&self, a: u64) -> AccountId {
        AccountId::new(1 + a)
    }
    fn store(&self, a: u64, s: u64) -> StoreId {
        StoreId::new(1_000_000 + a * self.stores_each + s)
    }
    fn role(&self, a: u64, r: u64) -> RoleId {
        RoleId::new(2_000_000 + a * self.roles_each + r)
    }
    fn user(&self, a: u64, u: u64) -> UserId {
        UserId::new(10_000_000 + a * self.users_each + u)
    }
}

/// Audit records are dropped: the bench measures the engine, not a log growing in memory.
#[derive(Debug)]
struct Discard;

impl AuditSink<Perm64> for Discard {
    fn record(&self, _records: &[AuditRecord<Perm64>]) -> Result<(), shopguard::Error> {
        Ok(())
    }
}

fn fleet(x: &Shape) -> Vec<Mutation<Perm64>> {
    let mut rng = SplitMix64::new(0x7e4a_4750_0000_0001);
    let per = 1 + x.stores_each + x.roles_each + x.users_each;
    let mut batch = Vec::with_capacity((x.accounts * per) as usize);
    for a in 0..x.accounts {
        batch.push(Mutation::PutAccount(Account::new(
            x.account(a),
            format!("Merchant {a}"),
        )));
        for s in 0..x.stores_each {
            batch.push(Mutation::PutStore(Store::new(
                x.store(a, s),
                x.account(a),
                format!("Outlet {s}"),
            )));
        }
        for r in 0..x.roles_each {
            let bits = if r == 0 { u64::MAX } else { rng.next_u64() };
            batch.push(Mutation::PutRole(Role::new(
                x.role(a, r),
                x.account(a),
                format!("Role {r}"),
                Level::below_top(r.min(2) as u8),
                Perm64::from_bits_retain(bits),
            )));
        }
        for u in 0..x.users_each {
            let grant = if u == 0 {
                Grant::new(x.role(a, 0), Access::All)
            } else {
                let s = rng.below(x.stores_each as usize) as u64;
                let r = 1 + rng.below((x.roles_each - 1) as usize) as u64;
                Grant::new(x.role(a, r), Access::specific([x.store(a, s)]))
            };
            batch.push(Mutation::PutUser(
                User::new(
                    x.user(a, u),
                    x.account(a),
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

/// The `i`-th change: a user of a pseudo-random account gets a timezone, alternately Madrid
/// and UTC; the account's owner applies it. Returns the owner, the change and the timezone.
fn change(
    x: &Shape,
    engine: &Engine<Perm64>,
    i: u64,
) -> Result<(UserId, Change<Perm64>, &'static str), Box<dyn Error>> {
    let a = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % x.accounts;
    let id = x.user(a, 1 + i % (x.users_each - 1));
    let target = engine.snapshot().user(id).cloned().ok_or("user missing")?;
    let tz = if i.is_multiple_of(2) {
        "Europe/Madrid"
    } else {
        "UTC"
    };
    Ok((
        x.user(a, 0),
        Change::UpdateUser(target.with_timezone(tz)?),
        tz,
    ))
}

/// Whether `engine` shows the change `ch` made (the user's timezone).
fn shows(engine: &Engine<Perm64>, ch: &Change<Perm64>, tz: &str) -> bool {
    match ch {
        Change::UpdateUser(u) => engine
            .snapshot()
            .user(u.id())
            .is_some_and(|now| now.timezone() == tz),
        _ => false,
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut c = Criterion::default().configure_from_args();
    for x in &SHAPES {
        let store = Arc::new(MemoryStorage::<Perm64>::new());
        let writer = Engine::open(store.clone())?.with_audit(Arc::new(Discard));
        let batch = fleet(x);
        let started = Instant::now();
        writer.unchecked_apply(batch)?;
        let users = x.accounts * x.users_each;
        eprintln!(
            "tenants/{}: loaded {users} users in {} accounts in {:.2} s",
            x.name,
            x.accounts,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let follower = Engine::open(store.clone())?;
        eprintln!(
            "tenants/{}: a second engine opened on the storage in {:.2} s",
            x.name,
            started.elapsed().as_secs_f64()
        );

        let mut group = c.benchmark_group("tenants");
        group
            .sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        let (mut i, mut unseen) = (0u64, 0u64);
        group.bench_function(format!("update_user/{}", x.name), |b| {
            b.iter(|| {
                i += 1;
                let Ok((owner, ch, tz)) = change(x, &writer, i) else {
                    unseen += 1;
                    return;
                };
                // Applied and visible to the next read of the published index.
                let seen = writer.apply(owner, ch.clone()).is_ok() && shows(&writer, &ch, tz);
                unseen += u64::from(!black_box(seen));
            });
        });
        // The follower catches up each batch the writer stored: only the catch-up is timed.
        group.bench_function(format!("follower_catch_up/{}", x.name), |b| {
            b.iter_custom(|iterations| {
                let mut spent = Duration::ZERO;
                for _ in 0..iterations {
                    i += 1;
                    let Ok((owner, ch, tz)) = change(x, &writer, i) else {
                        unseen += 1;
                        continue;
                    };
                    if writer.apply(owner, ch.clone()).is_err() {
                        unseen += 1;
                        continue;
                    }
                    let started = Instant::now();
                    let caught = follower.sync().is_ok();
                    spent += started.elapsed();
                    unseen += u64::from(!(caught && shows(&follower, &ch, tz)));
                }
                spent
            });
        });
        group.finish();
        if unseen > 0 {
            return Err(format!("{unseen} changes were refused or not visible").into());
        }
    }
    c.final_summary();
    Ok(())
}
