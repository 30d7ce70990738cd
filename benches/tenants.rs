//! Writes on a hosted fleet: 1,000,000 users over 10,000 accounts (a hundred staff, five
//! stores and four roles each). One user change, applied by its account's owner and visible to
//! the next check, and the same batch caught up by a follower.
//!
//! ```text
//! cargo bench --bench tenants
//! ```
//!
//! The load itself (one bootstrap batch) is timed once and printed: it is too slow to repeat
//! under criterion.

use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use shopguard::audit::{AuditRecord, AuditSink};
use shopguard::{
    Access, Account, AccountId, Change, Engine, Grant, Level, Mutation, Role, RoleId, Store,
    StoreId, User, UserId,
};

#[path = "workload/mod.rs"]
#[allow(dead_code, reason = "only the catalog and the generator are used here")]
mod workload;

use workload::{Perm64, SplitMix64};

const ACCOUNTS: u64 = 10_000;
const USERS_EACH: u64 = 100;
const STORES_EACH: u64 = 5;
const ROLES_EACH: u64 = 4;

fn account(a: u64) -> AccountId {
    AccountId::new(1 + a)
}
fn store(a: u64, s: u64) -> StoreId {
    StoreId::new(1_000_000 + a * STORES_EACH + s)
}
fn role(a: u64, r: u64) -> RoleId {
    RoleId::new(2_000_000 + a * ROLES_EACH + r)
}
fn user(a: u64, u: u64) -> UserId {
    UserId::new(10_000_000 + a * USERS_EACH + u)
}

/// Audit records are dropped: the bench measures the engine, not a log growing in memory.
#[derive(Debug)]
struct Discard;

impl AuditSink<Perm64> for Discard {
    fn record(&self, _records: &[AuditRecord<Perm64>]) -> Result<(), shopguard::Error> {
        Ok(())
    }
}

fn fleet() -> Vec<Mutation<Perm64>> {
    let mut rng = SplitMix64::new(0x7e4a_4750_0000_0001);
    let per = 1 + STORES_EACH + ROLES_EACH + USERS_EACH;
    let mut batch = Vec::with_capacity((ACCOUNTS * per) as usize);
    for a in 0..ACCOUNTS {
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
                    user(a, u),
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

/// The `i`-th change: a user of a pseudo-random account gets a timezone, alternately Madrid
/// and UTC; the account's owner applies it.
fn change(
    engine: &Engine<Perm64>,
    i: u64,
) -> Result<(UserId, Change<Perm64>, &'static str), Box<dyn Error>> {
    let a = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % ACCOUNTS;
    let id = user(a, 1 + i % (USERS_EACH - 1));
    let target = engine.snapshot().user(id).cloned().ok_or("user missing")?;
    let tz = if i.is_multiple_of(2) {
        "Europe/Madrid"
    } else {
        "UTC"
    };
    Ok((
        user(a, 0),
        Change::UpdateUser(target.with_timezone(tz)?),
        tz,
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let batch = fleet();
    let engine = Engine::<Perm64>::new().with_audit(Arc::new(Discard));
    let started = Instant::now();
    engine.unchecked_apply(batch)?;
    eprintln!(
        "tenants: loaded {} users in {} accounts in {:.2} s",
        ACCOUNTS * USERS_EACH,
        ACCOUNTS,
        started.elapsed().as_secs_f64()
    );
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("tenants");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let (mut i, mut unseen) = (0u64, 0u64);
    group.bench_function("update_user_1m_10k_accounts", |b| {
        b.iter(|| {
            i += 1;
            let Ok((owner, ch, tz)) = change(&engine, i) else {
                unseen += 1;
                return;
            };
            let target = match &ch {
                Change::UpdateUser(u) => u.id(),
                _ => return,
            };
            // Applied and visible to the next read of the published index.
            let seen = engine.apply(owner, ch).is_ok()
                && engine
                    .snapshot()
                    .user(target)
                    .is_some_and(|u| u.timezone() == tz);
            unseen += u64::from(!black_box(seen));
        });
    });
    if unseen > 0 {
        return Err(format!("{unseen} changes were refused or not visible").into());
    }
    group.finish();
    c.final_summary();
    Ok(())
}
