//! The write side on the payments portal (seed 002) and the OMS (seed 003): R6–R20.

use std::sync::Arc;

use crate::fixture::state;
use shopguard::audit::MemoryAudit;
use shopguard::catalog::oms::{self, Oms};
use shopguard::catalog::payments::{self, Payments};
use shopguard::{
    Access, Account, AccountId, Change, Engine, ErrorKind, Event, Grant, Level, Mutation,
    OnAccount, OnStore, Role, RoleId, Store, StoreId, User, UserId, UserQuery,
};

const ACCT: AccountId = AccountId::new(7);
const NORTH: StoreId = StoreId::new(1);
const SOUTH: StoreId = StoreId::new(2);
const ADMINISTRATOR: RoleId = RoleId::new(1);
const ACCOUNTANT: RoleId = RoleId::new(2);
const MANAGER: RoleId = RoleId::new(3);
const TEAM_MEMBER: RoleId = RoleId::new(4);
const OLGA: UserId = UserId::new(10); // owner
const ADAM: UserId = UserId::new(11); // second administrator
const ACC: UserId = UserId::new(12); // accountant, North
const MIA: UserId = UserId::new(13); // manager, North
const TOM: UserId = UserId::new(14); // team member, North
const SUE: UserId = UserId::new(15); // team member, South

fn user(id: UserId, name: &str, role: RoleId, stores: Access<StoreId>) -> User {
    User::new(id, ACCT, name, &format!("{name}@shop.example")).with_grant(Grant::new(role, stores))
}

fn portal() -> (Engine<Payments>, Arc<MemoryAudit<Payments>>) {
    let e = Engine::new();
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(ACCT, "Shop").with_seat_limit(8)),
        Mutation::PutStore(Store::new(NORTH, ACCT, "North")),
        Mutation::PutStore(Store::new(SOUTH, ACCT, "South")),
        Mutation::PutRole(payments::administrator(ADMINISTRATOR, ACCT)),
        Mutation::PutRole(payments::accountant(ACCOUNTANT, ACCT)),
        Mutation::PutRole(payments::manager(MANAGER, ACCT)),
        Mutation::PutRole(payments::team_member(TEAM_MEMBER, ACCT)),
        Mutation::PutUser(user(OLGA, "olga", ADMINISTRATOR, Access::All).with_owner(true)),
        Mutation::PutUser(user(ADAM, "adam", ADMINISTRATOR, Access::All)),
        Mutation::PutUser(user(ACC, "acc", ACCOUNTANT, Access::specific([NORTH]))),
        Mutation::PutUser(user(MIA, "mia", MANAGER, Access::specific([NORTH]))),
        Mutation::PutUser(user(TOM, "tom", TEAM_MEMBER, Access::specific([NORTH]))),
        Mutation::PutUser(user(SUE, "sue", TEAM_MEMBER, Access::specific([SOUTH]))),
    ])
    .unwrap();
    // The audit of what the tests do after the setup (the setup's own record: `unchecked.rs`).
    let audit = Arc::new(MemoryAudit::new());
    (e.with_audit(audit.clone()), audit)
}

#[track_caller]
fn refused<P: shopguard::Catalog>(
    e: &Engine<P>,
    actor: UserId,
    change: Change<P>,
    kind: ErrorKind,
) -> String {
    let before = state(e);
    let err = e
        .apply(actor, change)
        .expect_err("change should be refused");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(state(e), before, "a refused change changed the engine");
    err.to_string()
}

#[test]
fn r9_administrator_invites_and_the_host_gets_the_invitation() {
    let (e, _) = portal();
    let new = user(
        UserId::new(20),
        "nia",
        TEAM_MEMBER,
        Access::specific([SOUTH]),
    );
    let applied = e.apply(ADAM, Change::CreateUser(new)).unwrap();
    assert_eq!(
        applied.events(),
        [Event::Invited {
            user: UserId::new(20),
            email: "nia@shop.example".into()
        }]
    );
    assert!(e.can(
        UserId::new(20),
        Payments::VIEW_STORES,
        &OnStore(ACCT, SOUTH)
    ));
}

#[test]
fn r9_accountants_and_team_members_cannot_invite() {
    let (e, _) = portal();
    for actor in [ACC, TOM] {
        let new = user(UserId::new(21), "x", TEAM_MEMBER, Access::specific([NORTH]));
        let msg = refused(&e, actor, Change::CreateUser(new), ErrorKind::NotPermitted);
        assert_eq!(
            msg,
            "cannot create user `x`: you lack the permission to create users"
        );
    }
}

#[test]
fn r9_manager_may_assign_only_roles_below_its_level() {
    let (e, _) = portal();
    let ok = user(
        UserId::new(22),
        "ted",
        TEAM_MEMBER,
        Access::specific([NORTH]),
    );
    e.apply(MIA, Change::CreateUser(ok)).unwrap();
    let peer = user(
        UserId::new(23),
        "pat",
        ACCOUNTANT,
        Access::specific([NORTH]),
    );
    let msg = refused(&e, MIA, Change::CreateUser(peer), ErrorKind::Hierarchy);
    assert_eq!(
        msg,
        "cannot assign role `ACCOUNTANT` (level 2): your level is 2"
    );
    let admin = user(
        UserId::new(24),
        "al",
        ADMINISTRATOR,
        Access::specific([NORTH]),
    );
    refused(&e, MIA, Change::CreateUser(admin), ErrorKind::Hierarchy);
}

#[test]
fn r10_manager_adds_amends_and_deletes_team_members_of_its_stores_only() {
    let (e, _) = portal();
    let south = user(
        UserId::new(25),
        "sam",
        TEAM_MEMBER,
        Access::specific([SOUTH]),
    );
    let msg = refused(&e, MIA, Change::CreateUser(south), ErrorKind::OutsideScope);
    assert_eq!(
        msg,
        "cannot create user `sam`: role `TEAM_MEMBER` would reach stores outside yours"
    );
    let msg = refused(&e, MIA, Change::DeleteUser(SUE), ErrorKind::OutsideScope);
    assert_eq!(
        msg,
        "cannot delete user `sue`: `sue` has stores outside yours"
    );
    let tom = e.snapshot().user(TOM).unwrap().clone();
    e.apply(
        MIA,
        Change::UpdateUser(tom.with_timezone("Europe/London").unwrap()),
    )
    .unwrap();
    // Moving Tom to the South store would reach outside Mia's stores.
    let tom = e.snapshot().user(TOM).unwrap().clone();
    refused(
        &e,
        MIA,
        Change::UpdateUser(tom.with_grants([Grant::new(TEAM_MEMBER, Access::All)])),
        ErrorKind::OutsideScope,
    );
    e.apply(MIA, Change::DeleteUser(TOM)).unwrap();
    assert!(e.snapshot().user(TOM).is_none());
}

#[test]
fn r10_r13_manager_sees_every_team_member_and_store_name() {
    let (e, _) = portal();
    let s = e.snapshot();
    let team: Vec<&str> = s.visible_users(MIA).iter().map(|u| u.username()).collect();
    assert_eq!(team, ["olga", "adam", "acc", "mia", "tom", "sue"]);
    let stores: Vec<&str> = s.visible_stores(MIA).iter().map(|x| x.name()).collect();
    assert_eq!(stores, ["North", "South"]);
    // A team member sees only its store and no team.
    assert!(s.visible_users(TOM).is_empty());
    let stores: Vec<&str> = s.visible_stores(TOM).iter().map(|x| x.name()).collect();
    assert_eq!(stores, ["North"]);
}

#[test]
fn r11_nobody_deletes_disables_demotes_or_amends_the_owner() {
    let (e, _) = portal();
    let msg = refused(&e, ADAM, Change::DeleteUser(OLGA), ErrorKind::Owner);
    assert_eq!(msg, "cannot delete user `olga`: user is the account owner");
    refused(&e, ADAM, Change::DisableUser(OLGA), ErrorKind::Owner);
    refused(&e, OLGA, Change::DisableUser(OLGA), ErrorKind::Owner);
    let olga = e.snapshot().user(OLGA).unwrap().clone();
    refused(
        &e,
        ADAM,
        Change::UpdateUser(olga.clone().with_timezone("Europe/Paris").unwrap()),
        ErrorKind::Owner,
    );
    // Demoting herself breaks the owner invariant.
    refused(
        &e,
        OLGA,
        Change::UpdateUser(olga.clone().with_grants([Grant::new(MANAGER, Access::All)])),
        ErrorKind::Owner,
    );
    // Her own details she may amend.
    e.apply(
        OLGA,
        Change::UpdateUser(olga.with_timezone("Europe/Paris").unwrap()),
    )
    .unwrap();
}

#[test]
fn r11_ownership_moves_only_by_the_owners_transfer() {
    let (e, _) = portal();
    let msg = refused(
        &e,
        ADAM,
        Change::TransferOwnership { to: ADAM },
        ErrorKind::NotPermitted,
    );
    assert_eq!(
        msg,
        // The target is not named: the refusal is about who asks (R20).
        "cannot transfer ownership: only the account owner may transfer ownership"
    );
    // The new owner must be a level-1 user.
    refused(
        &e,
        OLGA,
        Change::TransferOwnership { to: MIA },
        ErrorKind::Owner,
    );
    e.apply(OLGA, Change::TransferOwnership { to: ADAM })
        .unwrap();
    assert!(e.snapshot().user(ADAM).unwrap().is_owner());
    assert!(!e.snapshot().user(OLGA).unwrap().is_owner());
    // Only the owner signs documents.
    assert!(e.can(ADAM, Payments::SIGN_DOCUMENTS, &OnAccount(ACCT)));
    assert!(!e.can(OLGA, Payments::SIGN_DOCUMENTS, &OnAccount(ACCT)));
    // And now Olga, an administrator, can be deleted by the new owner.
    e.apply(ADAM, Change::DeleteUser(OLGA)).unwrap();
}

#[test]
fn r12_creating_or_enabling_past_the_seat_limit_fails() {
    let (e, _) = portal();
    // 6 enabled of 8.
    for i in 0..2 {
        let u = user(
            UserId::new(30 + i),
            &format!("extra{i}"),
            TEAM_MEMBER,
            Access::All,
        );
        e.apply(OLGA, Change::CreateUser(u)).unwrap();
    }
    let ninth = user(UserId::new(40), "ninth", TEAM_MEMBER, Access::All);
    let msg = refused(
        &e,
        OLGA,
        Change::CreateUser(ninth.clone()),
        ErrorKind::SeatLimit,
    );
    assert_eq!(msg, "`Shop` would have 9 enabled users: the plan allows 8");
    // Disabled users are kept and do not count.
    e.apply(OLGA, Change::CreateUser(ninth.with_enabled(false)))
        .unwrap();
    refused(
        &e,
        OLGA,
        Change::EnableUser(UserId::new(40)),
        ErrorKind::SeatLimit,
    );
    e.apply(OLGA, Change::DisableUser(SUE)).unwrap();
    e.apply(OLGA, Change::EnableUser(UserId::new(40))).unwrap();
}

#[test]
fn r13_only_the_owner_sets_entity_level_billing_and_it_widens_accountants() {
    let (e, _) = portal();
    assert!(!e.can(ACC, Payments::VIEW_INVOICES, &OnStore(ACCT, SOUTH)));
    assert!(e.can(MIA, Payments::VIEW_STORE_INVOICES, &OnStore(ACCT, NORTH)));
    refused(
        &e,
        ADAM,
        Change::SetEntityLevelBilling(true),
        ErrorKind::NotPermitted,
    );
    e.apply(OLGA, Change::SetEntityLevelBilling(true)).unwrap();
    assert!(e.can(ACC, Payments::VIEW_INVOICES, &OnStore(ACCT, SOUTH)));
    assert!(e.can(ACC, Payments::VIEW_INVOICES, &OnAccount(ACCT)));
    assert!(!e.can(MIA, Payments::VIEW_STORE_INVOICES, &OnStore(ACCT, NORTH)));
    assert!(!e.can(MIA, Payments::VIEW_INVOICES, &OnAccount(ACCT)));
}

#[test]
fn r14_renamed_role_keeps_assignments_and_former_names_resolve() {
    let (e, _) = portal();
    e.apply(
        OLGA,
        Change::RenameRole {
            role: TEAM_MEMBER,
            name: "STAFF".into(),
        },
    )
    .unwrap();
    let s = e.snapshot();
    assert_eq!(s.role(TEAM_MEMBER).unwrap().name(), "STAFF");
    assert_eq!(
        s.role_named(ACCT, "team_member").map(|r| r.id()),
        Some(TEAM_MEMBER)
    );
    assert_eq!(
        s.role_named(ACCT, "Finance").map(|r| r.id()),
        Some(ACCOUNTANT)
    );
    assert!(e.can(TOM, Payments::VIEW_STORES, &OnStore(ACCT, NORTH)));
}

#[test]
fn r15_deleting_a_role_in_use_names_its_users_or_reassigns_them() {
    let (e, _) = portal();
    let msg = refused(
        &e,
        OLGA,
        Change::DeleteRole {
            role: TEAM_MEMBER,
            reassign_to: None,
        },
        ErrorKind::InUse,
    );
    assert_eq!(
        msg,
        "cannot remove role `TEAM_MEMBER`: still used by `tom`, `sue`"
    );
    e.apply(
        OLGA,
        Change::DeleteRole {
            role: TEAM_MEMBER,
            reassign_to: Some(MANAGER),
        },
    )
    .unwrap();
    let s = e.snapshot();
    assert!(s.role(TEAM_MEMBER).is_none());
    assert_eq!(
        s.user(SUE).unwrap().grants()[0],
        Grant::new(MANAGER, Access::specific([SOUTH]))
    );
}

#[test]
fn r16_usernames_emails_and_timezones_are_validated() {
    let (e, _) = portal();
    let base = || user(UserId::new(50), "valid", TEAM_MEMBER, Access::All);
    let cases: [(User, &str, &str); 4] = [
        (
            base().with_username("store assistant"),
            "username",
            "invalid username `store assistant`: must not contain white space",
        ),
        (
            base().with_username("TOM"),
            "username",
            "duplicate username `TOM` in `Shop`",
        ),
        (
            base().with_email("nope"),
            "e-mail",
            "invalid e-mail `nope`: must be a valid address such as `name@example.com`",
        ),
        (
            base().with_email("Tom@Shop.Example"),
            "e-mail",
            "duplicate e-mail `Tom@Shop.Example` in `Shop`",
        ),
    ];
    for (u, field, message) in cases {
        let before = state(&e);
        let err = e.apply(OLGA, Change::CreateUser(u)).unwrap_err();
        assert_eq!(err.field(), Some(field));
        assert_eq!(err.to_string(), message);
        assert_eq!(state(&e), before);
    }
    // A timezone is parsed when it is set: an invalid one never reaches the engine.
    let err = base().with_timezone("Mars/Olympus").unwrap_err();
    assert_eq!(err.field(), Some("timezone"));
    assert_eq!(
        err.to_string(),
        "invalid timezone `Mars/Olympus`: must be an IANA name such as `Europe/Madrid`"
    );
    e.apply(
        OLGA,
        Change::CreateUser(
            base()
                .with_timezone("America/Argentina/Buenos_Aires")
                .unwrap(),
        ),
    )
    .unwrap();
}

#[test]
fn r17_copy_from_starts_with_the_templates_grants_and_scopes() {
    let (e, _) = portal();
    e.apply(
        MIA,
        Change::CopyUser {
            from: TOM,
            id: UserId::new(60),
            username: "tim".into(),
            email: "tim@shop.example".into(),
        },
    )
    .unwrap();
    let s = e.snapshot();
    let tim = s.user(UserId::new(60)).unwrap();
    assert_eq!(tim.grants(), s.user(TOM).unwrap().grants());
    assert!(!tim.is_owner());
    // A template the actor cannot see cannot be copied.
    refused(
        &e,
        TOM,
        Change::CopyUser {
            from: SUE,
            id: UserId::new(61),
            username: "x".into(),
            email: "x@shop.example".into(),
        },
        ErrorKind::NotFound,
    );
}

#[test]
fn r19_every_attempt_is_audited_with_before_and_after() {
    let (e, audit) = portal();
    e.apply(OLGA, Change::DisableUser(TOM)).unwrap();
    let _ = e.apply(MIA, Change::DeleteUser(SUE));
    let records = audit.records();
    assert_eq!(records.len(), 2);
    let applied = &records[0];
    assert_eq!(
        (applied.actor.user(), applied.account),
        (Some(OLGA), Some(ACCT))
    );
    assert!(applied.outcome.is_applied());
    assert!(matches!(&applied.before[..], [shopguard::audit::Object::User(u)] if u.is_enabled()));
    assert!(matches!(&applied.after[..], [shopguard::audit::Object::User(u)] if !u.is_enabled()));
    assert!(applied.at_unix_ms > 1_700_000_000_000);
    let denied = &records[1];
    assert_eq!(denied.change, Change::DeleteUser(SUE));
    assert_eq!(
        denied.outcome,
        shopguard::audit::Outcome::Refused {
            kind: "OutsideScope".into(),
            message: "cannot delete user `sue`: `sue` has stores outside yours".into()
        }
    );
}

#[test]
fn r20_users_are_searchable_by_username_email_role_and_state() {
    let (e, _) = portal();
    e.apply(OLGA, Change::DisableUser(SUE)).unwrap();
    let s = e.snapshot();
    let names = |q: UserQuery| -> Vec<String> {
        s.search_users(OLGA, &q)
            .iter()
            .map(|u| u.username().to_owned())
            .collect()
    };
    assert_eq!(
        names(UserQuery::new().username("A")),
        ["olga", "adam", "acc", "mia"]
    );
    assert_eq!(names(UserQuery::new().email("TOM@")), ["tom"]);
    assert_eq!(names(UserQuery::new().role(TEAM_MEMBER)), ["tom", "sue"]);
    assert_eq!(names(UserQuery::new().enabled(false)), ["sue"]);
    assert_eq!(
        names(UserQuery::new().role(TEAM_MEMBER).enabled(true)),
        ["tom"]
    );
}

#[test]
fn a_batch_is_all_or_nothing_and_later_changes_see_earlier_ones() {
    let (e, audit) = portal();
    let before = state(&e);
    let err = e
        .apply_all(
            OLGA,
            vec![
                Change::DisableUser(TOM),
                Change::CreateUser(user(UserId::new(70), "bad name", TEAM_MEMBER, Access::All)),
            ],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(state(&e), before);
    assert!(audit.records().iter().all(|r| !r.outcome.is_applied()));
    // A role created and assigned in one batch.
    let cashier = Role::new(
        RoleId::new(9),
        ACCT,
        "CASHIER",
        Level::new(3).unwrap(),
        Payments::VIEW_TRANSACTIONS,
    );
    e.apply_all(
        OLGA,
        vec![
            Change::CreateRole(cashier),
            Change::CreateUser(user(UserId::new(71), "cash", RoleId::new(9), Access::All)),
        ],
    )
    .unwrap();
    assert!(e.can(
        UserId::new(71),
        Payments::VIEW_TRANSACTIONS,
        &OnStore(ACCT, SOUTH)
    ));
}

// --- The OMS hierarchy (seed 003): levels 1–3.

const OMS: AccountId = AccountId::new(3);

fn oms_engine() -> Engine<Oms> {
    let e = Engine::new();
    let store = |id: u64| Mutation::PutStore(Store::new(StoreId::new(id), OMS, format!("s{id}")));
    let u = |id: u64, name: &str, role: u64| {
        User::new(UserId::new(id), OMS, name, &format!("{name}@oms.example")).with_grant(
            Grant::new(RoleId::new(role), Access::specific([StoreId::new(1)])),
        )
    };
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(OMS, "OMS")),
        store(1),
        store(2),
        Mutation::PutRole(oms::administrator(RoleId::new(1), OMS)),
        Mutation::PutRole(oms::store_manager(RoleId::new(2), OMS)),
        Mutation::PutRole(oms::store_assistant(RoleId::new(3), OMS)),
        Mutation::PutUser(
            User::new(UserId::new(1), OMS, "root", "root@oms.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
        Mutation::PutUser(u(2, "manager", 2)),
        Mutation::PutUser(u(3, "assistant", 3)),
    ])
    .unwrap();
    e
}

#[test]
fn r6_level_one_sees_all_levels_two_sees_only_three_and_three_sees_none() {
    let e = oms_engine();
    let s = e.snapshot();
    let names = |u: u64| -> Vec<&str> {
        s.visible_roles(UserId::new(u))
            .iter()
            .map(|r| r.name())
            .collect()
    };
    assert_eq!(
        names(1),
        ["Administrator", "Store manager", "Store assistant"]
    );
    assert_eq!(names(2), ["Store assistant"]);
    assert!(names(3).is_empty());
}

#[test]
fn r7_levels_create_only_below_themselves_and_level_one_may_create_level_one() {
    let e = oms_engine();
    let role = |id: u64, level: u8, p: Oms| {
        Role::new(
            RoleId::new(id),
            OMS,
            format!("r{id}"),
            Level::new(level).unwrap(),
            p,
        )
    };
    e.apply(
        UserId::new(1),
        Change::CreateRole(role(10, 1, Oms::REPORTS)),
    )
    .unwrap();
    let msg = refused(
        &e,
        UserId::new(2),
        Change::CreateRole(role(11, 2, Oms::REPORTS)),
        ErrorKind::Hierarchy,
    );
    assert_eq!(
        msg,
        "cannot create role `r11`: the role is at level 2: your level is 2"
    );
    e.apply(
        UserId::new(2),
        Change::CreateRole(role(12, 3, Oms::REPORTS)),
    )
    .unwrap();
    // Editing a role it cannot see.
    refused(
        &e,
        UserId::new(2),
        Change::RenameRole {
            role: RoleId::new(1),
            name: "Boss".into(),
        },
        ErrorKind::Hierarchy,
    );
    refused(
        &e,
        UserId::new(3),
        Change::CreateRole(role(13, 3, Oms::REPORTS)),
        ErrorKind::NotPermitted,
    );
}

#[test]
fn r8_no_permission_or_scope_the_actor_does_not_hold() {
    let e = oms_engine();
    let role = Role::new(
        RoleId::new(14),
        OMS,
        "sneaky",
        Level::new(3).unwrap(),
        Oms::REPORTS | Oms::FORCE_SHIPMENT,
    );
    let msg = refused(
        &e,
        UserId::new(2),
        Change::CreateRole(role),
        ErrorKind::Escalation,
    );
    assert_eq!(
        msg,
        "cannot create role `sneaky`: it would grant `FORCE_SHIPMENT` which you do not hold"
    );
    // A ceiling only narrows assignments, so a new role may have none; but widening the
    // ceiling of a role someone holds would widen them past the manager's one store.
    let narrow = Role::new(
        RoleId::new(15),
        OMS,
        "narrow",
        Level::new(3).unwrap(),
        Oms::REPORTS,
    )
    .with_store_ceiling(Access::specific([StoreId::new(1)]));
    e.apply(UserId::new(2), Change::CreateRole(narrow.clone()))
        .unwrap();
    let holder = User::new(UserId::new(16), OMS, "holder", "holder@oms.example")
        .with_grant(Grant::new(RoleId::new(15), Access::All));
    e.apply(UserId::new(2), Change::CreateUser(holder)).unwrap();
    let msg = refused(
        &e,
        UserId::new(2),
        Change::UpdateRole(narrow.with_store_ceiling(Access::All)),
        ErrorKind::OutsideScope,
    );
    assert_eq!(
        msg,
        "cannot update role `narrow`: it would give `REPORTS` at stores outside yours"
    );
    // Giving itself more is refused too: its own role is not visible to it.
    let me = e.snapshot().user(UserId::new(2)).unwrap().clone();
    refused(
        &e,
        UserId::new(2),
        Change::UpdateUser(me.with_grants([Grant::new(RoleId::new(2), Access::All)])),
        ErrorKind::OutsideScope,
    );
}

#[test]
fn r11_another_administrator_cannot_strip_the_owners_role() {
    let (e, _) = portal();
    let stripped =
        payments::administrator(ADMINISTRATOR, ACCT).with_permissions(Payments::VIEW_STORES);
    let msg = refused(
        &e,
        ADAM,
        Change::UpdateRole(stripped.clone()),
        ErrorKind::Owner,
    );
    assert_eq!(
        msg,
        "cannot update role `ADMINISTRATOR`: the account owner holds this role: only the owner may narrow it"
    );
    refused(
        &e,
        ADAM,
        Change::DeleteRole {
            role: ADMINISTRATOR,
            reassign_to: Some(MANAGER),
        },
        ErrorKind::Owner,
    );
    assert!(e.can(OLGA, Payments::SIGN_DOCUMENTS, &OnAccount(ACCT)));
}

#[test]
fn seed_002_accountant_sees_business_details_whatever_its_stores() {
    let (e, _) = portal();
    assert!(e.can(ACC, Payments::VIEW_BUSINESS_DETAILS, &OnAccount(ACCT)));
    assert!(!e.can(MIA, Payments::VIEW_BUSINESS_DETAILS, &OnAccount(ACCT)));
}

#[test]
fn r20_owner_only_permission_does_not_list_every_store_for_others() {
    let (e, _) = portal();
    let signer = Role::new(
        RoleId::new(8),
        ACCT,
        "SIGNER",
        Level::TOP,
        Payments::VIEW_TRANSACTIONS | Payments::SIGN_DOCUMENTS,
    );
    e.unchecked_apply([
        Mutation::PutRole(signer),
        Mutation::PutUser(user(
            UserId::new(80),
            "sig",
            RoleId::new(8),
            Access::specific([NORTH]),
        )),
    ])
    .unwrap();
    let s = e.snapshot();
    let stores: Vec<&str> = s
        .visible_stores(UserId::new(80))
        .iter()
        .map(|x| x.name())
        .collect();
    assert_eq!(stores, ["North"]);
}

#[test]
fn r20_an_accountant_sees_only_its_stores_and_a_manager_every_store_name() {
    let (e, _) = portal();
    let s = e.snapshot();
    let names = |u: UserId| -> Vec<&str> { s.visible_stores(u).iter().map(|x| x.name()).collect() };
    assert_eq!(names(ACC), ["North"]);
    assert_eq!(names(MIA), ["North", "South"]);
    assert_eq!(names(OLGA), ["North", "South"]);
}

#[test]
fn r9_the_roles_offered_are_those_the_actor_may_assign() {
    let (e, _) = portal();
    let s = e.snapshot();
    let names =
        |u: UserId| -> Vec<&str> { s.assignable_roles(u).iter().map(|r| r.name()).collect() };
    assert_eq!(
        names(OLGA),
        ["ADMINISTRATOR", "ACCOUNTANT", "MANAGER", "TEAM_MEMBER"]
    );
    assert_eq!(names(MIA), ["TEAM_MEMBER"]);
    assert!(names(ACC).is_empty());
    assert!(names(TOM).is_empty());
}
