//! Seed 000, a Magento POS with outlets and registers, on [`shopguard::catalog::pos`].
//!
//! Three roles (admin, manager, cashier) and two outlets. The cashier sells and opens and
//! closes the register at its outlet but cannot add or remove users; the manager does all a
//! cashier does plus its own outlet's reports; the admin has every outlet, and there may be
//! several admins. Users are created enabled; a disabled user can do nothing. The pricing plan
//! caps *active* users, while disabled staff accounts are unlimited, and only the owner changes
//! the plan. Assigning a user to an outlet changes what it may do; admins open and close
//! outlets (outlet settings), and an outlet with staff assigned cannot be closed.
//!
//! Run with `cargo run --example pos_outlets`. Exits non-zero if any outcome differs from the
//! seed page.

mod support;

use shopguard::catalog::pos::{self, Pos};
use shopguard::{
    Access, Account, AccountId, Change, DenyReason, Dimension, Engine, ErrorKind, Event, Grant,
    Level, Mutation, OnStore, Role, RoleId, Store, StoreId, User, UserId,
};
use support::{Seed, names};

const SHOP: AccountId = AccountId::new(1);
const NORTH: StoreId = StoreId::new(10);
const SOUTH: StoreId = StoreId::new(11);
const EAST: StoreId = StoreId::new(12);
const ADMIN: RoleId = RoleId::new(1);
const MANAGER: RoleId = RoleId::new(2);
const CASHIER: RoleId = RoleId::new(3);
const SUPERVISOR: RoleId = RoleId::new(4);
const OLIVIA: UserId = UserId::new(100); // the shop owner, admin
const MARK: UserId = UserId::new(101); // manager of North
const CARA: UserId = UserId::new(102); // cashier of North
const ADAM: UserId = UserId::new(103); // a second admin
const DAVE: UserId = UserId::new(104); // cashier of South, created disabled
const ERIN: UserId = UserId::new(105);
const FINN: UserId = UserId::new(106);
const GINA: UserId = UserId::new(107);

/// The plan's active users.
const SEATS: u32 = 4;

fn staff(id: UserId, name: &str, role: RoleId, stores: Access<StoreId>) -> User {
    User::new(id, SHOP, name, &format!("{name}@corner.example"))
        .with_grant(Grant::new(role, stores))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seed = Seed::new("Seed 000: a Magento POS (ConnectPOS), outlets and registers");
    let engine = Engine::<Pos>::new();
    let revision = engine.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop").with_seat_limit(SEATS)),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
        Mutation::PutRole(pos::admin(ADMIN, SHOP)),
        Mutation::PutRole(pos::manager(MANAGER, SHOP)),
        Mutation::PutRole(pos::cashier(CASHIER, SHOP)),
        // "By default, the shop owner will take the admin role."
        Mutation::PutUser(staff(OLIVIA, "olivia", ADMIN, Access::All).with_owner(true)),
    ])?;
    println!(
        "bootstrap (revision {revision}): outlets North and South, roles Admin / Manager / \
         Cashier, owner olivia; the plan allows {SEATS} active users"
    );
    let north = OnStore(SHOP, NORTH);
    let south = OnStore(SHOP, SOUTH);

    seed.section("User Management > User > Add a new user");
    let mark = staff(MARK, "mark", MANAGER, Access::specific([NORTH]));
    seed.applies(
        &engine,
        "olivia (admin) adds mark as manager of North",
        OLIVIA,
        Change::CreateUser(mark),
    );
    let cara = staff(CARA, "cara", CASHIER, Access::specific([NORTH]));
    seed.applies(
        &engine,
        "olivia adds cara as cashier of North",
        OLIVIA,
        Change::CreateUser(cara),
    );
    seed.applies(
        &engine,
        "more than one admin: olivia gives adam the admin role",
        OLIVIA,
        Change::CreateUser(staff(ADAM, "adam", ADMIN, Access::All)),
    );
    let snapshot = engine.snapshot();
    let enabled = [MARK, CARA, ADAM]
        .iter()
        .filter(|id| snapshot.user(**id).is_some_and(User::is_enabled))
        .count();
    seed.expect(
        "the new users are enabled",
        enabled == 3,
        format!("{enabled} of 3 enabled"),
    );

    seed.section("The cashier");
    seed.allow(&engine, "cara sells at North", CARA, Pos::SELL, &north);
    seed.allow(
        &engine,
        "cara opens the register at North",
        CARA,
        Pos::OPEN_REGISTER,
        &north,
    );
    seed.allow(
        &engine,
        "cara closes the register at North",
        CARA,
        Pos::CLOSE_REGISTER,
        &north,
    );
    seed.deny(
        &engine,
        "cara sells at South, an outlet she is not assigned to",
        CARA,
        Pos::SELL,
        &south,
        DenyReason::OutsideScope(Dimension::Store),
    );
    seed.deny(
        &engine,
        "cara opens North's reports",
        CARA,
        Pos::VIEW_REPORTS,
        &north,
        DenyReason::PermissionMissing,
    );
    seed.refuses(
        &engine,
        "cara adds a user (a management function)",
        CARA,
        Change::CreateUser(staff(GINA, "gina", CASHIER, Access::specific([NORTH]))),
        ErrorKind::NotPermitted,
    );
    seed.refuses(
        &engine,
        // A cashier sees no staff list: to it, other users are not there at all (R20).
        "cara removes a user (a management function)",
        CARA,
        Change::DeleteUser(MARK),
        ErrorKind::NotFound,
    );

    seed.section("The manager: everything a cashier does, and its outlet's reports");
    seed.allow(
        &engine,
        "mark sells, opens and closes the register at North",
        MARK,
        pos::CASHIER,
        &north,
    );
    seed.allow(
        &engine,
        "mark opens North's reports (his outlet)",
        MARK,
        Pos::VIEW_REPORTS,
        &north,
    );
    seed.deny(
        &engine,
        "mark opens South's reports (not his outlet)",
        MARK,
        Pos::VIEW_REPORTS,
        &south,
        DenyReason::OutsideScope(Dimension::Store),
    );
    seed.refuses(
        &engine,
        "mark adds a user (not a manager's function either)",
        MARK,
        Change::CreateUser(staff(GINA, "gina", CASHIER, Access::specific([NORTH]))),
        ErrorKind::NotPermitted,
    );

    seed.section("The admin: full access to view and change all stores");
    seed.allow(
        &engine,
        "adam, the second admin, opens South's reports",
        ADAM,
        Pos::VIEW_REPORTS,
        &south,
    );
    seed.allow(
        &engine,
        "adam changes North's outlet and register settings",
        ADAM,
        Pos::MANAGE_OUTLETS,
        &north,
    );
    let snapshot = engine.snapshot();
    let outlets = names(snapshot.visible_stores(ADAM).iter().map(|s| s.name()));
    seed.expect(
        "adam sees every outlet",
        outlets == ["North", "South"],
        format!("{outlets:?}"),
    );

    seed.section("Outlet & Register: open an outlet (outlet settings)");
    let east = Store::new(EAST, SHOP, "East");
    seed.refuses(
        &engine,
        "cara opens an outlet (a management function)",
        CARA,
        Change::CreateStore(east.clone()),
        ErrorKind::NotPermitted,
    );
    seed.refuses(
        &engine,
        "mark opens an outlet (not a manager's function either)",
        MARK,
        Change::CreateStore(east.clone()),
        ErrorKind::NotPermitted,
    );
    seed.applies(
        &engine,
        "adam opens a third outlet, East",
        ADAM,
        Change::CreateStore(east),
    );
    seed.allow(
        &engine,
        "adam opens East's reports: an admin's outlets include new ones",
        ADAM,
        Pos::VIEW_REPORTS,
        &OnStore(SHOP, EAST),
    );

    seed.section("User Management > Role: only who may add, edit and delete roles");
    let supervisor = Role::new(
        SUPERVISOR,
        SHOP,
        "Supervisor",
        Level::below_top(1),
        pos::MANAGER | Pos::VIEW_USERS,
    );
    seed.refuses(
        &engine,
        "mark adds a role",
        MARK,
        Change::CreateRole(supervisor.clone()),
        ErrorKind::NotPermitted,
    );
    seed.applies(
        &engine,
        "adam adds a role, Supervisor",
        ADAM,
        Change::CreateRole(supervisor),
    );
    seed.applies(
        &engine,
        "adam renames it Shift lead (Edit Role)",
        ADAM,
        Change::RenameRole {
            role: SUPERVISOR,
            name: "Shift lead".into(),
        },
    );
    seed.applies(
        &engine,
        "adam deletes it (Delete)",
        ADAM,
        Change::DeleteRole {
            role: SUPERVISOR,
            reassign_to: None,
        },
    );

    seed.section(&format!(
        "Active users are capped by the plan ({SEATS}); staff accounts are not"
    ));
    let dave = staff(DAVE, "dave", CASHIER, Access::specific([SOUTH]));
    seed.refuses(
        &engine,
        "olivia adds dave, enabled: a fifth active user",
        OLIVIA,
        Change::CreateUser(dave.clone()),
        ErrorKind::SeatLimit,
    );
    seed.applies(
        &engine,
        "olivia adds dave disabled",
        OLIVIA,
        Change::CreateUser(dave.with_enabled(false)),
    );
    for (id, name) in [(ERIN, "erin"), (FINN, "finn"), (GINA, "gina")] {
        let user = staff(id, name, CASHIER, Access::specific([SOUTH])).with_enabled(false);
        seed.applies(
            &engine,
            &format!("olivia adds {name} disabled"),
            OLIVIA,
            Change::CreateUser(user),
        );
    }
    let snapshot = engine.snapshot();
    let accounts = snapshot.users(SHOP).count();
    let active = snapshot.users(SHOP).filter(|u| u.is_enabled()).count();
    seed.expect(
        "more staff accounts than the plan's active users",
        accounts == 8 && active == SEATS as usize,
        format!("{accounts} staff accounts, {active} active"),
    );
    seed.deny(
        &engine,
        "dave, disabled, sells at South",
        DAVE,
        Pos::SELL,
        &south,
        DenyReason::UserDisabled,
    );
    seed.refuses(
        &engine,
        "olivia enables dave: a fifth active user",
        OLIVIA,
        Change::EnableUser(DAVE),
        ErrorKind::SeatLimit,
    );
    seed.applies(
        &engine,
        "olivia disables cara",
        OLIVIA,
        Change::DisableUser(CARA),
    );
    seed.deny(
        &engine,
        "cara, disabled, sells at North",
        CARA,
        Pos::SELL,
        &north,
        DenyReason::UserDisabled,
    );
    seed.applies(
        &engine,
        "olivia enables dave: cara's seat is free",
        OLIVIA,
        Change::EnableUser(DAVE),
    );
    seed.allow(&engine, "dave sells at South", DAVE, Pos::SELL, &south);

    seed.section("Assign a user to an outlet (Outlet & Register > Cashier)");
    seed.deny(
        &engine,
        "dave sells at North before he is assigned there",
        DAVE,
        Pos::SELL,
        &north,
        DenyReason::OutsideScope(Dimension::Store),
    );
    let dave = engine
        .snapshot()
        .user(DAVE)
        .cloned()
        .ok_or("dave is gone")?;
    seed.applies(
        &engine,
        "olivia assigns dave to North as well",
        OLIVIA,
        Change::UpdateUser(
            dave.with_grants([Grant::new(CASHIER, Access::specific([NORTH, SOUTH]))]),
        ),
    );
    seed.allow(&engine, "dave sells at North", DAVE, Pos::SELL, &north);
    seed.allow(
        &engine,
        "dave still sells at South",
        DAVE,
        Pos::SELL,
        &south,
    );
    let mark = engine
        .snapshot()
        .user(MARK)
        .cloned()
        .ok_or("mark is gone")?;
    seed.applies(
        &engine,
        "olivia moves mark, manager, from North to South",
        OLIVIA,
        Change::UpdateUser(mark.with_grants([Grant::new(MANAGER, Access::specific([SOUTH]))])),
    );
    seed.allow(
        &engine,
        "mark opens South's reports",
        MARK,
        Pos::VIEW_REPORTS,
        &south,
    );
    seed.deny(
        &engine,
        "mark opens North's reports",
        MARK,
        Pos::VIEW_REPORTS,
        &north,
        DenyReason::OutsideScope(Dimension::Store),
    );

    seed.section("Outlet & Register: close an outlet");
    seed.refuses(
        &engine,
        "adam closes North: staff are still assigned there",
        ADAM,
        Change::DeleteStore(NORTH),
        ErrorKind::InUse,
    );
    seed.applies(
        &engine,
        "adam closes East, where nobody is assigned",
        ADAM,
        Change::DeleteStore(EAST),
    );

    seed.section("The pricing plan is the owner's");
    seed.note("users keep no invitation date: the newest are those with the highest ids");
    let plan = |limit, disable_excess| Change::SetSeatLimit {
        limit: Some(limit),
        disable_excess,
    };
    seed.refuses(
        &engine,
        "adam, an admin but not the owner, changes the plan",
        ADAM,
        plan(10, false),
        ErrorKind::NotPermitted,
    );
    seed.refuses(
        &engine,
        "olivia moves to a plan of 3 active users, with 4 active",
        OLIVIA,
        plan(3, false),
        ErrorKind::SeatLimit,
    );
    let applied = seed.applies(
        &engine,
        "olivia moves to it, disabling the newest active users past it",
        OLIVIA,
        plan(3, true),
    );
    let disabled = applied.map(|a| a.events().to_vec()).unwrap_or_default();
    seed.expect(
        "dave, the newest active user, is disabled; never the owner",
        disabled == [Event::DisabledBySeatLimit { users: vec![DAVE] }],
        format!("{disabled:?}"),
    );
    seed.deny(
        &engine,
        "dave, disabled by the plan, sells at South",
        DAVE,
        Pos::SELL,
        &south,
        DenyReason::UserDisabled,
    );

    seed.finish()
}
