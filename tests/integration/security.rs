//! Regression tests for the defects an adversarial review reproduced, each named after the rule
//! it guards. Every one failed before its fix.

use std::sync::Arc;

use shopguard::catalog::oms::Oms;
use shopguard::{
    Access, Account, AccountId, Change, Engine, ErrorKind, Grant, Level, MemoryAudit, Mutation,
    OnUser, Role, RoleId, Store, StoreId, User, UserId,
};

use crate::fixture::state;

const ACCT: AccountId = AccountId::new(1);
const NORTH: StoreId = StoreId::new(1);
const SOUTH: StoreId = StoreId::new(2);
const ADMIN: RoleId = RoleId::new(1);
const MANAGER: RoleId = RoleId::new(2); // level 2, manages users
const SUPERVISOR: RoleId = RoleId::new(3); // level 3
const SHIFT_LEAD: RoleId = RoleId::new(4); // level 5, manages users
const OWNER: UserId = UserId::new(1);
const ALICE: UserId = UserId::new(2);
const TOM: UserId = UserId::new(3);

fn level(n: u8) -> Level {
    Level::new(n).unwrap()
}

/// alice is a Manager (level 2) at North and a Shift lead (level 5) at South, both managing
/// users; tom is a level-3 Supervisor at South.
fn split_levels() -> (Engine<Oms>, Arc<MemoryAudit<Oms>>) {
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::new().with_audit(audit.clone());
    let staff = Oms::MANAGE_USERS | Oms::SALES_MANAGE_ORDERS;
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(ACCT, "Shop").with_seat_limit(20)),
        Mutation::PutStore(Store::new(NORTH, ACCT, "North")),
        Mutation::PutStore(Store::new(SOUTH, ACCT, "South")),
        Mutation::PutRole(Role::new(ADMIN, ACCT, "Admin", Level::TOP, Oms::all())),
        Mutation::PutRole(Role::new(MANAGER, ACCT, "Manager", level(2), staff)),
        Mutation::PutRole(Role::new(
            SUPERVISOR,
            ACCT,
            "Supervisor",
            level(3),
            Oms::SALES_MANAGE_ORDERS,
        )),
        Mutation::PutRole(Role::new(SHIFT_LEAD, ACCT, "Shift lead", level(5), staff)),
        Mutation::PutUser(
            User::new(OWNER, ACCT, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(ADMIN, Access::All)),
        ),
        Mutation::PutUser(
            User::new(ALICE, ACCT, "alice", "alice@shop.example").with_grants([
                Grant::new(MANAGER, Access::specific([NORTH])),
                Grant::new(SHIFT_LEAD, Access::specific([SOUTH])),
            ]),
        ),
        Mutation::PutUser(
            User::new(TOM, ACCT, "tom", "tom@shop.example")
                .with_grant(Grant::new(SUPERVISOR, Access::specific([SOUTH]))),
        ),
    ])
    .unwrap();
    (e, audit)
}

#[track_caller]
fn refused(e: &Engine<Oms>, actor: UserId, change: Change<Oms>, kind: ErrorKind) {
    let before = state(e);
    let err = e.apply(actor, change).unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(
        state(e),
        before,
        "a refused change left the state as it was"
    );
}

#[test]
fn r10_one_grants_level_is_not_lent_to_another_grants_stores_on_delete() {
    let (e, _) = split_levels();
    assert!(!e.can(ALICE, Oms::MANAGE_USERS, &OnUser(ACCT, TOM)));
    refused(&e, ALICE, Change::DeleteUser(TOM), ErrorKind::OutsideScope);
}

#[test]
fn r10_one_grants_level_is_not_lent_to_another_grants_stores_on_edit() {
    let (e, _) = split_levels();
    let tom = e.snapshot().user(TOM).unwrap().clone();
    let demoted = tom
        .clone()
        .with_grants([Grant::new(SHIFT_LEAD, Access::specific([SOUTH]))]);
    refused(
        &e,
        ALICE,
        Change::UpdateUser(demoted),
        ErrorKind::OutsideScope,
    );
    refused(&e, ALICE, Change::DisableUser(TOM), ErrorKind::OutsideScope);
}

#[test]
fn r7_one_grants_level_is_not_lent_to_another_grants_stores_on_create() {
    let (e, _) = split_levels();
    let new = User::new(UserId::new(9), ACCT, "vic", "vic@shop.example")
        .with_grant(Grant::new(SUPERVISOR, Access::specific([SOUTH])));
    refused(&e, ALICE, Change::CreateUser(new), ErrorKind::OutsideScope);
    // Each grant alone still works where it reaches: a Supervisor at North under the Manager
    // grant, and a Shift lead's peer below level 5 at South does not exist, so nothing there.
    let north = User::new(UserId::new(9), ACCT, "vic", "vic@shop.example")
        .with_grant(Grant::new(SUPERVISOR, Access::specific([NORTH])));
    e.apply(ALICE, Change::CreateUser(north)).unwrap();
    assert!(e.can(ALICE, Oms::MANAGE_USERS, &OnUser(ACCT, UserId::new(9))));
}
