//! Edges of the rules that no test pinned down until mutation testing (TESTING.md, "Mutation
//! testing") changed the code there and every test still passed. Each test names the rule it
//! guards; its comment names the mutant it kills.

use shopguard::catalog::oms::{self, Oms};
use shopguard::catalog::payments::{self, Payments};
use shopguard::{
    Access, Account, AccountId, Change, Channel, ChannelId, Engine, ErrorKind, Grant, Level,
    Mutation, Role, RoleId, Store, StoreId, User, UserId,
};

const OMS: AccountId = AccountId::new(3);
const S1: StoreId = StoreId::new(1);
const S2: StoreId = StoreId::new(2);
const ADMINISTRATOR: RoleId = RoleId::new(1);
const STORE_MANAGER: RoleId = RoleId::new(2);
const STORE_ASSISTANT: RoleId = RoleId::new(3);
const ROOT: UserId = UserId::new(1);
const MANAGER: UserId = UserId::new(2);
const ASSISTANT: UserId = UserId::new(3);

fn oms_user(id: UserId, name: &str, role: RoleId, stores: Access<StoreId>) -> User {
    User::new(id, OMS, name, &format!("{name}@oms.example")).with_grant(Grant::new(role, stores))
}

/// An OMS account: the owner (administrator everywhere), a store manager and a store assistant
/// of store 1.
fn oms_engine() -> Engine<Oms> {
    let e = Engine::new();
    e.unchecked_apply(oms_world()).unwrap();
    e
}

fn oms_world() -> Vec<Mutation<Oms>> {
    vec![
        Mutation::PutAccount(Account::new(OMS, "OMS")),
        Mutation::PutStore(Store::new(S1, OMS, "s1")),
        Mutation::PutStore(Store::new(S2, OMS, "s2")),
        Mutation::PutRole(oms::administrator(ADMINISTRATOR, OMS)),
        Mutation::PutRole(oms::store_manager(STORE_MANAGER, OMS)),
        Mutation::PutRole(oms::store_assistant(STORE_ASSISTANT, OMS)),
        Mutation::PutUser(oms_user(ROOT, "root", ADMINISTRATOR, Access::All).with_owner(true)),
        Mutation::PutUser(oms_user(
            MANAGER,
            "manager",
            STORE_MANAGER,
            Access::specific([S1]),
        )),
        Mutation::PutUser(oms_user(
            ASSISTANT,
            "assistant",
            STORE_ASSISTANT,
            Access::specific([S1]),
        )),
    ]
}

/// R8, R9: a role the actor sees is still not offered if it holds a permission the actor lacks.
/// Kills `Actor::holds_all -> true` (`src/admin/actor.rs`).
#[test]
fn r9_a_visible_role_holding_a_permission_the_actor_lacks_is_not_offered() {
    let e = oms_engine();
    // Level 3, seen by the store manager, but with refunds and exchanges it does not hold.
    e.unchecked_apply([Mutation::PutRole(oms::customer_service_agent(
        RoleId::new(4),
        OMS,
    ))])
    .unwrap();
    let s = e.snapshot();
    let names =
        |u: UserId| -> Vec<&str> { s.assignable_roles(u).iter().map(|r| r.name()).collect() };
    assert_eq!(names(MANAGER), ["Store assistant"]);
    assert_eq!(
        names(ROOT),
        [
            "Administrator",
            "Store manager",
            "Store assistant",
            "Customer service agent"
        ]
    );
}

/// R10: one grant must both see the new user's roles and reach its stores. A grant that reaches
/// the store but not the level refuses with the level, and the message speaks of the user as it
/// *would* be, since it is not stored yet. Kills "match guard `stored` → true" in
/// `Actor::manages` (`src/admin/actor.rs`).
#[test]
fn r10_a_new_user_above_the_reaching_grants_level_would_hold_a_role_above_it() {
    let e = oms_engine();
    // A regional administrator: a store manager everywhere, and level 1 at store 1 only.
    let regional = RoleId::new(5);
    e.unchecked_apply([
        Mutation::PutRole(Role::new(
            regional,
            OMS,
            "Regional administrator",
            Level::TOP,
            Oms::MANAGE_USERS,
        )),
        Mutation::PutUser(
            User::new(UserId::new(9), OMS, "regional", "regional@oms.example").with_grants([
                Grant::new(STORE_MANAGER, Access::All),
                Grant::new(regional, Access::specific([S1])),
            ]),
        ),
    ])
    .unwrap();
    // A store manager at store 2: the level-1 grant sees the role but not the store; the
    // grant at every store reaches the store but not the level.
    let newbie = oms_user(
        UserId::new(20),
        "newbie",
        STORE_MANAGER,
        Access::specific([S2]),
    );
    let err = e
        .apply(UserId::new(9), Change::CreateUser(newbie))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Hierarchy, "{err}");
    assert_eq!(
        err.to_string(),
        "cannot create user `newbie`: `newbie` would hold a role above the level you manage \
         users at"
    );
}

/// The payments portal (seed 002): managers see every member of staff but manage only those of
/// their stores below their level.
fn portal() -> Engine<Payments> {
    let acct = AccountId::new(7);
    let user = |id: u64, name: &str, role: RoleId| {
        User::new(UserId::new(id), acct, name, &format!("{name}@shop.example"))
            .with_grant(Grant::new(role, Access::specific([S1])))
    };
    let e = Engine::new();
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(acct, "Shop")),
        Mutation::PutStore(Store::new(S1, acct, "North")),
        Mutation::PutRole(payments::administrator(RoleId::new(1), acct)),
        Mutation::PutRole(payments::manager(RoleId::new(3), acct)),
        Mutation::PutUser(
            User::new(UserId::new(10), acct, "olga", "olga@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
        Mutation::PutUser(user(13, "mia", RoleId::new(3))),
        Mutation::PutUser(user(16, "max", RoleId::new(3))),
    ])
    .unwrap();
    e
}

/// R10: a stored user the actor sees but whose role it does not see is refused with what the
/// user *holds*. Kills "match guard `stored` → false" in `Actor::manages`
/// (`src/admin/actor.rs`).
#[test]
fn r10_a_manager_cannot_disable_a_fellow_manager_it_sees() {
    let e = portal();
    let err = e
        .apply(UserId::new(13), Change::DisableUser(UserId::new(16)))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Hierarchy, "{err}");
    assert_eq!(
        err.to_string(),
        "cannot disable user `max`: `max` holds a role above the level you manage users at"
    );
}

/// R1, R20: a grant of another account's role is a role not found, whoever asks; the refusal
/// must not come from judging that role (its level, its name). Kills "match guard
/// `r.account() == self.account()` → true" in `Actor::may_give` (`src/admin/actor.rs`).
#[test]
fn r20_a_grant_of_another_accounts_role_is_not_found() {
    let e = oms_engine();
    let other = AccountId::new(4);
    let foreign = RoleId::new(50);
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(other, "Rival")),
        Mutation::PutRole(Role::new(
            foreign,
            other,
            "Rival administrator",
            Level::TOP,
            Oms::all(),
        )),
    ])
    .unwrap();
    let newbie = oms_user(UserId::new(20), "newbie", foreign, Access::specific([S1]));
    for actor in [ROOT, MANAGER] {
        let err = e
            .apply(actor, Change::CreateUser(newbie.clone()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(!err.to_string().contains("Rival"), "{err}");
    }
}

/// R8: a new user reaching sales channels the actor does not reach is refused naming the
/// channels, not "stores, sources and sales channels taken together". Kills "delete `!`" before
/// `b.channels.is_within` in `Actor::no_gain` (`src/admin/actor.rs`).
#[test]
fn r8_a_manager_cannot_give_sales_channels_outside_its_own() {
    let e = oms_engine();
    let web = ChannelId::new(70);
    e.unchecked_apply([
        Mutation::PutChannel(Channel::new(web, OMS, "Web")),
        Mutation::PutChannel(Channel::new(ChannelId::new(71), OMS, "Marketplace")),
        Mutation::PutUser(
            oms_user(MANAGER, "manager", STORE_MANAGER, Access::specific([S1]))
                .with_sources(Access::All)
                .with_channels(Access::specific([web])),
        ),
    ])
    .unwrap();
    let newbie = oms_user(
        UserId::new(20),
        "newbie",
        STORE_ASSISTANT,
        Access::specific([S1]),
    )
    .with_sources(Access::All);
    // Within the manager's channels: accepted.
    let inside = newbie.clone().with_channels(Access::specific([web]));
    e.dry_run(MANAGER, &[Change::CreateUser(inside)]).unwrap();
    // Every channel: refused, naming the dimension.
    let err = e
        .apply(
            MANAGER,
            Change::CreateUser(newbie.with_channels(Access::All)),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Escalation, "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("cannot create user `newbie`: it would give `")
            && message.ends_with("` at sales channels outside yours"),
        "{message}"
    );
}

/// R9, R18: an upload needs the permission to create users *or* the one to edit them; in the
/// omnichannel catalog they differ. Kills "replace `&&` with `||`" in `authorize::uploader`
/// (`src/admin/authorize.rs`).
#[cfg(feature = "csv")]
#[test]
fn r18_a_user_who_may_only_edit_or_only_create_users_may_upload() {
    use shopguard::catalog::omnichannel::{self, Omnichannel};
    use shopguard::import::CsvLimits;
    let acct = AccountId::new(5);
    let role = |id: u64, name: &str, p: Omnichannel| {
        Mutation::PutRole(Role::new(
            RoleId::new(id),
            acct,
            name,
            Level::below_top(1),
            p,
        ))
    };
    let user = |id: u64, name: &str, role: u64| {
        Mutation::PutUser(
            User::new(UserId::new(id), acct, name, &format!("{name}@shop.example"))
                .with_grant(Grant::new(RoleId::new(role), Access::All)),
        )
    };
    let e = Engine::new();
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(acct, "Shop")),
        Mutation::PutRole(omnichannel::administrator(RoleId::new(1), acct)),
        role(
            2,
            "Editor",
            Omnichannel::USERS_VIEW | Omnichannel::USERS_EDIT,
        ),
        role(
            3,
            "Recruiter",
            Omnichannel::USERS_VIEW | Omnichannel::USERS_CREATE,
        ),
        role(4, "Viewer", Omnichannel::USERS_VIEW),
        Mutation::PutUser(
            User::new(UserId::new(1), acct, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
        user(2, "editor", 2),
        user(3, "recruiter", 3),
        user(4, "viewer", 4),
    ])
    .unwrap();
    // The omnichannel template: stores and all sales channels, no sources.
    let header = "Username,E-mail,Enabled,Access all sales channels,Timezone,Role,Stores,Action\n";
    let mut ids = (100..).map(UserId::new);
    let mut next = || ids.next().unwrap();
    for actor in [2, 3] {
        let up = e
            .upload_users_csv(
                UserId::new(actor),
                header.as_bytes(),
                &CsvLimits::default(),
                &mut next,
            )
            .unwrap();
        assert_eq!((up.created(), up.updated()), (0, 0));
    }
    let err = e
        .upload_users_csv(
            UserId::new(4),
            header.as_bytes(),
            &CsvLimits::default(),
            &mut next,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotPermitted, "{err}");
}

/// R1, R20: another account's role is not found by update, rename or delete, and stays as it
/// was. Kills "match guard `r.account() == account` → true" in `authorize::plan`'s `role_of`
/// (`src/admin/authorize.rs`).
#[test]
fn r20_another_accounts_role_cannot_be_updated_renamed_or_deleted() {
    let e = oms_engine();
    let other = AccountId::new(4);
    let foreign = RoleId::new(50);
    let theirs = oms::store_assistant(foreign, other);
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(other, "Rival")),
        Mutation::PutRole(theirs.clone()),
    ])
    .unwrap();
    let changes = [
        // The same id, claimed for this account.
        Change::UpdateRole(oms::store_assistant(foreign, OMS)),
        Change::RenameRole {
            role: foreign,
            name: "Mine".into(),
        },
        Change::DeleteRole {
            role: foreign,
            reassign_to: None,
        },
        Change::DeleteRole {
            role: STORE_ASSISTANT,
            reassign_to: Some(foreign),
        },
    ];
    for change in changes {
        let err = e.apply(ROOT, change).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }
    assert_eq!(e.snapshot().role(foreign), Some(&theirs));
}

/// A resource at a store about a user: the check must judge the user too (R10), however the
/// asker's grants are laid out.
struct UserAtStore(AccountId, StoreId, UserId);

impl shopguard::Resource for UserAtStore {
    fn account(&self) -> AccountId {
        self.0
    }
    fn store(&self) -> shopguard::Place<StoreId> {
        shopguard::Place::At(self.1)
    }
    fn subject(&self) -> shopguard::Subject {
        shopguard::Subject::User(self.2)
    }
}

/// R10: a check at a store about a user is decided about the user too, also for an asker with
/// one grant and no store ceiling (whose plain store checks take a shorter path). Kills "delete
/// `!`" before `matches!(resource.subject(), Subject::None)` in `Index::quick`
/// (`src/engine/index/check.rs`).
#[test]
fn r10_a_check_at_a_store_about_a_user_judges_the_user() {
    let e = oms_engine();
    let about = |user| UserAtStore(OMS, S1, user);
    // The assistant is the manager's; the owner (every store, level 1) is not.
    assert!(e.can(MANAGER, Oms::MANAGE_USERS, &about(ASSISTANT)));
    assert!(!e.can(MANAGER, Oms::MANAGE_USERS, &about(ROOT)));
    assert!(
        !e.check(MANAGER, Oms::MANAGE_USERS, &about(ROOT))
            .is_allowed()
    );
    let key = e.user_key(MANAGER).unwrap();
    assert!(!e.reader().can(key, Oms::MANAGE_USERS, &about(ROOT)));
    assert!(!e.snapshot().can(MANAGER, Oms::MANAGE_USERS, &about(ROOT)));
}

shopguard::permission_catalog! {
    /// A catalog whose user permission is account-wide: the one case where `Index::manages`
    /// adds a level test of its own.
    pub(crate) struct Wide {
        SELL = 0, "Register", Scoped, "sell";
        STAFF = 1, "Team", AccountWide, "see, create, edit and delete every member of staff";
        ROLES = 2, "Team", Scoped, "manage roles";
    }
    admin {
        view_users: STAFF,
        create_users: STAFF,
        edit_users: STAFF,
        delete_users: STAFF,
        manage_roles: ROLES,
    }
}

/// R10 with an account-wide user permission (R13): managing another user still needs a grant
/// that sees the user's roles, but an actor's own record is not above itself: a level-2
/// supervisor renames itself. Kills "replace `&&` with `||`" in `Index::manages`
/// (`src/engine/index/check.rs`), which applied the level test to the actor itself.
#[test]
fn r10_an_account_wide_user_permission_still_lets_an_actor_edit_itself() {
    let acct = AccountId::new(9);
    let (top, supervisor) = (RoleId::new(1), RoleId::new(2));
    let sup = User::new(UserId::new(2), acct, "sup", "sup@shop.example")
        .with_grant(Grant::new(supervisor, Access::specific([S1])));
    let peer = User::new(UserId::new(3), acct, "peer", "peer@shop.example")
        .with_grant(Grant::new(supervisor, Access::specific([S1])));
    let e = Engine::<Wide>::new();
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(acct, "Shop")),
        Mutation::PutStore(Store::new(S1, acct, "North")),
        Mutation::PutRole(Role::new(top, acct, "Owner", Level::TOP, Wide::all())),
        Mutation::PutRole(Role::new(
            supervisor,
            acct,
            "Supervisor",
            Level::below_top(1),
            Wide::SELL | Wide::STAFF,
        )),
        Mutation::PutUser(
            User::new(UserId::new(1), acct, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(top, Access::All)),
        ),
        Mutation::PutUser(sup.clone()),
        Mutation::PutUser(peer.clone()),
    ])
    .unwrap();
    e.apply(
        sup.id(),
        Change::UpdateUser(sup.clone().with_username("sup2")),
    )
    .unwrap();
    // Another supervisor is at its own level: seen (the permission is account-wide), not
    // managed.
    let err = e
        .apply(sup.id(), Change::UpdateUser(peer.with_username("peer2")))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Hierarchy, "{err}");
}

/// A refused batch lists its first 100 problems and counts the rest, as a CSV upload does
/// (R18's cap, for `apply_all` and `dry_run` too). Kills "replace `<` with `<=`" in the
/// planner's `Report::problem` (`src/admin/plan.rs`).
#[test]
fn a_refused_batch_lists_its_first_hundred_problems_and_counts_the_rest() {
    let e = oms_engine();
    let changes: Vec<Change<Oms>> = (0..103)
        .map(|i| Change::DeleteUser(UserId::new(1_000 + i)))
        .collect();
    for err in [
        e.dry_run(ROOT, &changes).unwrap_err(),
        e.apply_all(ROOT, changes.clone()).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert_eq!((err.problems().len(), err.problems_omitted()), (100, 3));
    }
}

/// R12: a batch past the seat limit puts one problem on each change that takes a seat too
/// many, counting up, naming the account by its name. Kills "replace `+` with `-`" in the planner's `place`
/// (`src/admin/plan.rs`), which counted the second one wrong.
#[test]
fn r12_each_user_past_the_seat_limit_is_counted_on_its_own_change() {
    let e = oms_engine();
    e.unchecked_apply([Mutation::PutAccount(
        Account::new(OMS, "Corner Shop Ltd").with_seat_limit(4),
    )])
    .unwrap();
    // Three enabled users and three more: six for four seats.
    let changes: Vec<Change<Oms>> = (0..3)
        .map(|i| {
            Change::CreateUser(oms_user(
                UserId::new(30 + i),
                &format!("new{i}"),
                STORE_ASSISTANT,
                Access::specific([S1]),
            ))
        })
        .collect();
    let err = e.dry_run(ROOT, &changes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeatLimit, "{err}");
    let problems: Vec<(Option<usize>, String)> = err
        .problems()
        .iter()
        .map(|p| (p.change(), p.reason().to_string()))
        .collect();
    assert_eq!(
        problems,
        [
            (
                Some(1),
                "`Corner Shop Ltd` would have 5 enabled users: the plan allows 4".to_owned()
            ),
            (
                Some(2),
                "`Corner Shop Ltd` would have 6 enabled users: the plan allows 4".to_owned()
            ),
        ]
    );
}

/// R19: every kind of change is audited with the objects it touched as they were before and
/// after: a new role after only, a renamed one on both sides, a deleted role or user before
/// only, the account's settings on both sides. Kills "delete match arm" of `RemoveUser`,
/// `PutRole`, `RemoveRole` and `PutAccount` in the planner's `affected` (`src/admin/plan.rs`).
#[test]
fn r19_the_audit_holds_what_each_kind_of_change_touched_before_and_after() {
    use shopguard::audit::{MemoryAudit, Object};
    let audit = std::sync::Arc::new(MemoryAudit::new());
    let e = Engine::<Oms>::new().with_audit(audit.clone());
    e.unchecked_apply(oms_world()).unwrap();
    let agent = RoleId::new(4);
    let changes = [
        Change::CreateRole(oms::customer_service_agent(agent, OMS)),
        Change::RenameRole {
            role: agent,
            name: "Agent".into(),
        },
        Change::DeleteRole {
            role: agent,
            reassign_to: None,
        },
        Change::DeleteUser(ASSISTANT),
        Change::SetEntityLevelBilling(true),
    ];
    for change in changes {
        e.apply(ROOT, change).unwrap();
    }
    let name = |o: &Object<Oms>| match o {
        Object::User(u) => format!("user {}", u.username()),
        Object::Role(r) => format!("role {}", r.name()),
        Object::Account(a) => format!("account {}", a.name()),
        _ => "other".to_owned(),
    };
    // The bootstrap batch is recorded too, under a system actor: only the changes count here.
    let shapes: Vec<(Vec<String>, Vec<String>)> = audit
        .records()
        .iter()
        .filter(|r| matches!(r.actor, shopguard::audit::AuditActor::User(_)))
        .map(|r| {
            (
                r.before.iter().map(name).collect(),
                r.after.iter().map(name).collect(),
            )
        })
        .collect();
    let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        shapes,
        [
            (v(&[]), v(&["role Customer service agent"])),
            (v(&["role Customer service agent"]), v(&["role Agent"])),
            (v(&["role Agent"]), v(&[])),
            (v(&["user assistant"]), v(&[])),
            (v(&["account OMS"]), v(&["account OMS"])),
        ]
    );
    let billing = &audit.records()[4];
    assert_ne!(billing.before, billing.after);
}

/// Messages name what the engine knows by name: a role or store removed while something still
/// refers to it, by the name it had; an object moved to another account, by the accounts'
/// names; the explanation of a check, by the role's name and the catalog's permission names.
#[test]
fn messages_and_explanations_use_names_not_ids() {
    let e = oms_engine();
    let err = e
        .unchecked_apply([Mutation::RemoveRole(STORE_ASSISTANT)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InUse);
    assert_eq!(
        err.to_string(),
        "cannot remove role `Store assistant`: still used by `assistant`"
    );
    let err = e.unchecked_apply([Mutation::RemoveStore(S2)]);
    assert!(err.is_ok(), "s2 is used by no one: {err:?}");
    let err = e.unchecked_apply([Mutation::RemoveStore(S1)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot remove store `s1`: still used by user `manager`"
    );
    let other = AccountId::new(4);
    e.unchecked_apply([Mutation::PutAccount(Account::new(other, "Rival Ltd"))])
        .unwrap();
    let err = e
        .unchecked_apply([Mutation::PutStore(Store::new(S1, other, "s1"))])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongAccount);
    assert_eq!(
        err.to_string(),
        "store `s1` belongs to `Rival Ltd`, not `OMS`"
    );
    let explained =
        e.snapshot()
            .explain(ASSISTANT, Oms::MANAGE_USERS, &shopguard::OnStore(OMS, S1));
    let text = explained.to_string();
    assert!(
        text.ends_with("grant 0 (`Store assistant`): role lacks `MANAGE_USERS`"),
        "{text}"
    );
    assert!(!text.contains('#'), "{text}");
}

/// R19: an audit record is about the change's own kind of object even when it names none (an
/// upload refused before any row), and a plan setting is about the account, which it names as
/// a target; a refusal's message names the change (found by mutation testing: the change's
/// name, its kind and whether it is an account setting could each be lost with no test
/// noticing).
#[test]
fn r19_audit_records_are_about_their_change_s_kind_and_account_settings_name_the_account() {
    use shopguard::audit::MemoryAudit;
    use shopguard::storage::{Key, ObjectKind};
    use std::sync::Arc;
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::<Oms>::new().with_audit(audit.clone());
    e.unchecked_apply(oms_world()).unwrap();
    let err = e.apply(ROOT, Change::UploadUsers { rows: 0 }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().starts_with("cannot upload users:"), "{err}");
    e.apply(
        ROOT,
        Change::SetSeatLimit {
            limit: Some(10),
            disable_excess: false,
        },
    )
    .unwrap();
    // Refused, so nothing before or after names the account: the setting itself does.
    let refused = e.apply(
        MANAGER,
        Change::SetSeatLimit {
            limit: Some(3),
            disable_excess: false,
        },
    );
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::NotPermitted);
    let records = audit.records();
    let [.., upload, seats, refused] = records.as_slice() else {
        panic!("{records:?}");
    };
    assert!(upload.targets().is_empty());
    assert!(upload.concerns(ObjectKind::User));
    assert!(!upload.concerns(ObjectKind::Role));
    assert_eq!(seats.targets(), [Key::from(OMS)]);
    assert!(seats.concerns(ObjectKind::Account));
    assert!(refused.before.is_empty() && refused.after.is_empty());
    assert_eq!(refused.targets(), [Key::from(OMS)]);
    // Every change has a name of its own, as messages and the audit show it.
    let names: std::collections::BTreeSet<&str> = [
        Change::<Oms>::EnableUser(ROOT),
        Change::DisableUser(ROOT),
        Change::DeleteUser(ROOT),
        Change::UploadUsers { rows: 0 },
        Change::UploadSources { rows: 0 },
        Change::DeleteStore(S1),
    ]
    .iter()
    .map(Change::name)
    .collect();
    assert_eq!(names.len(), 6);
    assert!(names.contains("disable user"), "{names:?}");
}

/// R3, R9: each change of a batch is judged on the state the changes before it leave. A store
/// manager of two stores who gives up the second cannot, later in the same batch, create a
/// user there. (Written for a mutation survivor, the quick path's entries read while a batch
/// is half applied; that mutant is equivalent, as the authorization of changes judges the
/// actor from its records, not from the quick path, but the rule deserved its own case.)
#[test]
fn r9_a_batch_judges_each_change_on_the_state_the_earlier_changes_leave() {
    let e = oms_engine();
    let both = oms_user(
        MANAGER,
        "manager",
        STORE_MANAGER,
        Access::specific([S1, S2]),
    );
    e.unchecked_apply([Mutation::PutUser(both.clone())])
        .unwrap();
    let narrowed = both
        .clone()
        .with_grants([Grant::new(STORE_MANAGER, Access::specific([S1]))]);
    let newcomer = |id: u64, store| {
        oms_user(
            UserId::new(id),
            &format!("new{id}"),
            STORE_ASSISTANT,
            Access::specific([store]),
        )
    };
    // Alone, each change goes through: the manager may narrow itself, and create at S2.
    assert!(
        e.dry_run(MANAGER, &[Change::UpdateUser(narrowed.clone())])
            .is_ok()
    );
    assert!(
        e.dry_run(MANAGER, &[Change::CreateUser(newcomer(50, S2))])
            .is_ok()
    );
    // Together, the creation is judged after the narrowing: refused, and nothing applied.
    let before = e.revision();
    let err = e
        .apply_all(
            MANAGER,
            vec![
                Change::UpdateUser(narrowed),
                Change::CreateUser(newcomer(51, S2)),
            ],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutsideScope, "{err}");
    assert_eq!(e.revision(), before);
    assert_eq!(e.snapshot().user(MANAGER).unwrap(), &both);
}

/// R6: a store manager (level 2, managing roles below it) sees the roles of its account below
/// its level, not those at or above it, and no role of another account, whatever its level
/// (found by mutation testing: either half of the test could stand for both).
#[test]
fn r6_a_manager_sees_its_accounts_roles_below_its_level_only() {
    let e = oms_engine();
    let other = AccountId::new(4);
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(other, "Elsewhere")),
        Mutation::PutRole(oms::store_assistant(RoleId::new(30), other)),
    ])
    .unwrap();
    let s = e.snapshot();
    assert!(s.sees_role(MANAGER, STORE_ASSISTANT));
    assert!(!s.sees_role(MANAGER, STORE_MANAGER));
    assert!(!s.sees_role(MANAGER, ADMINISTRATOR));
    assert!(!s.sees_role(MANAGER, RoleId::new(30)));
    assert!(s.sees_role(ROOT, ADMINISTRATOR));
}
