//! Bulk load and reopen on SQLite at scale: a fleet of accounts (a hundred staff, five stores
//! and four roles each) written in one bootstrap batch to a fresh SQLite file, then the file
//! opened by a new engine, which rebuilds its index from it. Prints both times and the file's
//! size, and checks that the reopened engine holds every user.
//!
//! ```text
//! cargo run --release --features sqlite --example sqlite_scale            # 20,000 users
//! cargo run --release --features sqlite --example sqlite_scale 1000000    # 1,000,000 users
//! ```

use std::error::Error;
use std::time::Instant;

use shopguard::catalog::pos::Pos;
use shopguard::storage::SqliteStorage;
use shopguard::{
    Access, Account, AccountId, Engine, Grant, Level, Mutation, Role, RoleId, Store, StoreId, User,
    UserId,
};

const USERS_EACH: u64 = 100;
const STORES_EACH: u64 = 5;
const ROLES_EACH: u64 = 4;

fn fleet(accounts: u64) -> Vec<Mutation<Pos>> {
    let mut batch = Vec::new();
    for a in 0..accounts {
        let account = AccountId::new(1 + a);
        batch.push(Mutation::PutAccount(Account::new(
            account,
            format!("Merchant {a}"),
        )));
        let store = |s: u64| StoreId::new(1_000_000 + a * STORES_EACH + s);
        let role = |r: u64| RoleId::new(2_000_000 + a * ROLES_EACH + r);
        for s in 0..STORES_EACH {
            batch.push(Mutation::PutStore(Store::new(
                store(s),
                account,
                format!("Outlet {s}"),
            )));
        }
        for r in 0..ROLES_EACH {
            let permissions = if r == 0 {
                Pos::all()
            } else {
                shopguard::catalog::pos::CASHIER
            };
            batch.push(Mutation::PutRole(Role::new(
                role(r),
                account,
                format!("Role {r}"),
                Level::below_top(r.min(2) as u8),
                permissions,
            )));
        }
        for u in 0..USERS_EACH {
            let grant = if u == 0 {
                Grant::new(role(0), Access::All)
            } else {
                Grant::new(
                    role(1 + u % (ROLES_EACH - 1)),
                    Access::specific([store(u % STORES_EACH)]),
                )
            };
            batch.push(Mutation::PutUser(
                User::new(
                    UserId::new(10_000_000 + a * USERS_EACH + u),
                    account,
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

fn main() -> Result<(), Box<dyn Error>> {
    let users: u64 = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 20_000,
    };
    let accounts = users.div_ceil(USERS_EACH).max(1);
    let dir = std::env::temp_dir().join(format!("shopguard-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("fleet.db");

    let engine = Engine::open(SqliteStorage::open(&path)?)?;
    let batch = fleet(accounts);
    let started = Instant::now();
    engine.unchecked_apply(batch)?;
    let load = started.elapsed();
    drop(engine);
    let size = std::fs::metadata(&path)?.len();

    let started = Instant::now();
    let reopened = Engine::<Pos>::open(SqliteStorage::open(&path)?)?;
    let open = started.elapsed();
    let snapshot = reopened.snapshot();
    let held = (0..accounts)
        .flat_map(|a| (0..USERS_EACH).map(move |u| UserId::new(10_000_000 + a * USERS_EACH + u)))
        .filter(|&id| snapshot.user(id).is_some())
        .count() as u64;
    std::fs::remove_dir_all(&dir)?;

    println!(
        "{} users in {accounts} accounts: bulk load into SQLite {:.2} s, file {:.1} MiB; \
         Engine::open of the file {:.2} s",
        accounts * USERS_EACH,
        load.as_secs_f64(),
        size as f64 / (1024.0 * 1024.0),
        open.as_secs_f64()
    );
    if held != accounts * USERS_EACH {
        return Err(format!(
            "the reopened engine holds {held} of {} users",
            accounts * USERS_EACH
        )
        .into());
    }
    Ok(())
}
