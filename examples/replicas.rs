//! Two replicas of a POS back office on one PostgreSQL database.
//!
//! Replica A changes a role; replica B, which follows the database (LISTEN/NOTIFY), allows
//! accordingly, and a request that must read its own write waits for the revision (the
//! revision numbers are printed). Then an admin on B submits an edit form filled before A
//! changed the same user: refused as a conflict instead of overwriting. Last, a replica that
//! has not heard of the latest changes tries to take the last seat of the plan after A took it:
//! the database serializes the two, and the plan's limit holds (R12).
//!
//! Needs a server: `SHOPGUARD_PG` holds its connection string (`.ci/postgres` starts one and
//! prints it). Uses (and first empties) the schema `shopguard_example_replicas`.
//!
//! ```text
//! export SHOPGUARD_PG="$(bash .ci/postgres | tail -n 1)"
//! cargo run --example replicas --features postgres
//! ```
//!
//! Exits non-zero if any outcome differs from the one written next to it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::PgStorage;
use shopguard::{
    Access, Account, AccountId, Change, Decision, Engine, ErrorKind, Grant, Mutation, OnStore,
    RoleId, Store, StoreId, User, UserId,
};

const SCHEMA: &str = "shopguard_example_replicas";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("SHOPGUARD_PG").map_err(|_| {
        "set SHOPGUARD_PG to a PostgreSQL connection string (`bash .ci/postgres` starts a \
         server and prints one)"
    })?;
    // A clean slate for the story.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)?;
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))?;

    let shop = AccountId::new(1);
    let (north, south) = (StoreId::new(10), StoreId::new(11));
    let (admin_role, cashier_role) = (RoleId::new(1), RoleId::new(3));
    let (owner, second_admin, ana) = (UserId::new(1), UserId::new(2), UserId::new(3));
    let here = OnStore(shop, north);
    let mut failures = 0;
    let mut expect = |what: &str, ok: bool, shown: String| {
        println!("{} {what:<60} {shown}", if ok { "ok " } else { "BAD" });
        if !ok {
            failures += 1;
        }
    };

    // Two replicas: each its own engine and its own connections, one database.
    let a = Arc::new(Engine::<Pos>::open(PgStorage::connect(&url, SCHEMA)?)?);
    a.unchecked_apply([
        Mutation::PutAccount(Account::new(shop, "Corner Shop").with_seat_limit(4)),
        Mutation::PutStore(Store::new(north, shop, "North")),
        Mutation::PutStore(Store::new(south, shop, "South")),
        Mutation::PutRole(pos::admin(admin_role, shop)),
        Mutation::PutRole(pos::cashier(cashier_role, shop)),
        Mutation::PutUser(
            User::new(owner, shop, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(admin_role, Access::All)),
        ),
        Mutation::PutUser(
            User::new(second_admin, shop, "leo", "leo@shop.example")
                .with_grant(Grant::new(admin_role, Access::All)),
        ),
        Mutation::PutUser(
            User::new(ana, shop, "ana", "ana@shop.example")
                .with_grant(Grant::new(cashier_role, Access::specific([north]))),
        ),
    ])?;
    let b = Arc::new(Engine::<Pos>::open(PgStorage::connect(&url, SCHEMA)?)?);
    // Opened on a shared store, each follows the database by itself.
    assert!(a.is_following() && b.is_following());
    println!(
        "replica A at revision {}, replica B at revision {}\n",
        a.revision(),
        b.revision()
    );

    println!("-- a role change on A reaches B");
    let decision = b.check(ana, Pos::VIEW_REPORTS, &here);
    expect(
        &format!(
            "B, revision {}: ana may not see North's reports",
            b.revision()
        ),
        !decision.is_allowed(),
        format!("{decision:?}"),
    );
    let cashier_with_reports =
        pos::cashier(cashier_role, shop).with_permissions(pos::CASHIER | Pos::VIEW_REPORTS);
    let applied = a.apply(owner, Change::UpdateRole(cashier_with_reports))?;
    println!(
        "    A: the owner gives cashiers the reports: revision {}",
        applied.revision()
    );
    // The next request lands on B and must see that write.
    let started = Instant::now();
    let seen = b.at_least(applied.revision(), Duration::from_secs(5))?;
    let decision = seen.check(ana, Pos::VIEW_REPORTS, &here);
    expect(
        &format!(
            "B, revision {} (after {:.1} ms): ana may see North's reports",
            seen.revision(),
            started.elapsed().as_secs_f64() * 1e3
        ),
        matches!(decision, Decision::Allow(_)),
        format!("{decision:?}"),
    );

    println!("\n-- and back: B disables ana, A denies");
    let applied = b.apply(second_admin, Change::DisableUser(ana))?;
    println!("    B: leo disables ana: revision {}", applied.revision());
    let seen = a.at_least(applied.revision(), Duration::from_secs(5))?;
    let decision = seen.check(ana, Pos::SELL, &here);
    expect(
        &format!("A, revision {}: ana may not sell", seen.revision()),
        !decision.is_allowed(),
        format!("{decision:?}"),
    );

    println!("\n-- an edit form filled on B before A changed the same user");
    // Leo opens ana's edit form on B.
    let form = b.snapshot();
    let ana_in_form = form.user(ana).cloned().ok_or("ana is missing")?;
    let every_store = ana_in_form
        .clone()
        .with_grant(Grant::new(cashier_role, Access::All));
    let applied = a.apply(owner, Change::UpdateUser(every_store))?;
    println!(
        "    A: the owner gives ana every store: revision {}",
        applied.revision()
    );
    // B's follower brings that in before leo submits.
    b.at_least(applied.revision(), Duration::from_secs(5))?;
    let outcome = b.apply_based_on(
        second_admin,
        form.revision(),
        vec![Change::UpdateUser(
            ana_in_form.with_email("ana.new@shop.example"),
        )],
    );
    expect(
        &format!(
            "B: leo's form (revision {}) is refused as a conflict",
            form.revision()
        ),
        outcome
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::Conflict),
        match &outcome {
            Ok(applied) => format!("applied as revision {}", applied.revision()),
            Err(e) => e.to_string(),
        },
    );
    let kept = b.snapshot();
    expect(
        "B: ana keeps every store and her e-mail",
        kept.user(ana)
            .is_some_and(|u| u.grants().len() == 2 && u.email() == "ana@shop.example"),
        format!("revision {}", kept.revision()),
    );

    println!("\n-- a stale replica takes the last seat too (plan: 4)");
    let newcomer = |id: u64, name: &str| {
        User::new(UserId::new(id), shop, name, &format!("{name}@shop.example"))
            .with_grant(Grant::new(cashier_role, Access::specific([south])))
    };
    // Enabled now: owner, leo (ana is disabled): two free seats. Fill one.
    a.apply(owner, Change::CreateUser(newcomer(10, "bo")))?;
    // A third replica, without a follower: it will not hear of cy before its own write.
    let stale = Engine::<Pos>::open_unfollowed(PgStorage::connect(&url, SCHEMA)?)?;
    let first = a.apply(owner, Change::CreateUser(newcomer(11, "cy")));
    let second = stale.apply(second_admin, Change::CreateUser(newcomer(12, "di")));
    expect(
        "A: cy gets the last seat",
        first.is_ok(),
        match &first {
            Ok(applied) => format!("revision {}", applied.revision()),
            Err(e) => e.to_string(),
        },
    );
    expect(
        "C (stale): di is refused, the plan is full (R12)",
        second
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::SeatLimit),
        match &second {
            Ok(applied) => format!("applied as revision {}", applied.revision()),
            Err(e) => e.to_string(),
        },
    );

    println!("\n-- a restart loads the same state");
    let restarted = Engine::<Pos>::open(PgStorage::connect(&url, SCHEMA)?)?;
    let enabled = restarted
        .snapshot()
        .users(shop)
        .filter(|u| u.is_enabled())
        .count();
    expect(
        &format!("restarted replica at revision {}", restarted.revision()),
        restarted.revision() == a.revision() && enabled == 4,
        format!("{enabled} enabled users"),
    );

    if failures > 0 {
        return Err(format!("{failures} outcomes differ from the story").into());
    }
    println!("\nall outcomes as expected");
    Ok(())
}
