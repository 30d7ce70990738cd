//! R20 on the write side: what a refusal tells an actor about objects it may not see. A value
//! unique in the account (a username, an e-mail, a source's external id) is checked against
//! every object, so whether one is taken is said only to an actor who may create such an
//! object, as creating one would tell it, and the refusal names only the actor's own change;
//! ids are probed only after the permission; lowering the seat limit disables only users the
//! owner manages, and names no other.

use std::sync::Arc;

use shopguard::audit::{MemoryAudit, Object};
use shopguard::catalog::oms::{self, Oms};
use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::Key;
use shopguard::{
    Access, Account, AccountId, Catalog, Change, Channel, ChannelId, Engine, Error, ErrorKind,
    Event, Grant, Level, Mutation, Role, RoleId, Source, SourceId, Store, StoreId, User, UserId,
    permission_catalog,
};

use crate::fixture::state;

const SHOP: AccountId = AccountId::new(1);
const OTHER: AccountId = AccountId::new(2);
const NORTH: StoreId = StoreId::new(10);
const SOUTH: StoreId = StoreId::new(11);

permission_catalog! {
    /// Creating users and editing them are separate permissions, as in the write model.
    pub(crate) struct Split {
        SELL = 0, "Register", Scoped, "sell";
        CREATE = 1, "Team", Scoped, "create users";
        EDIT = 2, "Team", Scoped, "amend users";
        ROLES = 3, "Team", Scoped, "manage roles";
    }
    admin {
        create_users: CREATE,
        edit_users: EDIT,
        delete_users: EDIT,
        manage_roles: ROLES,
    }
}

/// The change must be refused with `kind`, leaving the engine as it was; its error.
#[track_caller]
fn refused<P: Catalog>(e: &Engine<P>, actor: UserId, change: Change<P>, kind: ErrorKind) -> Error {
    let before = state(e);
    let err = e
        .apply(actor, change)
        .expect_err("the change should be refused");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(state(e), before, "a refused change changed the engine");
    err
}

/// Everything an actor reads of a refusal, with `value` (what it wrote) replaced, so that two
/// refusals of different values compare equal when they tell the same.
fn told(err: &Error, value: &str) -> String {
    format!(
        "{:?} {:?} {:?} {} {:?}",
        err.kind(),
        err.field(),
        err.key(),
        err,
        err.problems()
    )
    .replace(value, "VALUE")
}

// ---------------------------------------------------------------------------------------------
// Usernames and e-mails (R9, R16, R20, batch rule 4).

const EDITOR: UserId = UserId::new(2); // may edit users at North, not create them
const CREATOR: UserId = UserId::new(3); // may create and edit users at North
const VIS: UserId = UserId::new(4); // a cashier at North
const HIDDEN: UserId = UserId::new(9); // a cashier at South

fn split_shop() -> Engine<Split> {
    let e = Engine::new();
    let staff = |id: u64, name: &str, email: &str, role: u64, stores: Access<StoreId>| {
        User::new(UserId::new(id), SHOP, name, email)
            .with_grant(Grant::new(RoleId::new(role), stores))
    };
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Shop")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
        Mutation::PutRole(Role::new(
            RoleId::new(1),
            SHOP,
            "Admin",
            Level::TOP,
            Split::all(),
        )),
        Mutation::PutRole(Role::new(
            RoleId::new(2),
            SHOP,
            "Editor",
            Level::below_top(1),
            Split::EDIT | Split::SELL,
        )),
        Mutation::PutRole(Role::new(
            RoleId::new(3),
            SHOP,
            "Lead",
            Level::below_top(1),
            Split::CREATE | Split::EDIT | Split::SELL,
        )),
        Mutation::PutRole(Role::new(
            RoleId::new(4),
            SHOP,
            "Cashier",
            Level::below_top(2),
            Split::SELL,
        )),
        Mutation::PutUser(staff(1, "owner", "owner@shop.example", 1, Access::All).with_owner(true)),
        Mutation::PutUser(staff(
            2,
            "ed",
            "ed@shop.example",
            2,
            Access::specific([NORTH]),
        )),
        Mutation::PutUser(staff(
            3,
            "lea",
            "lea@shop.example",
            3,
            Access::specific([NORTH]),
        )),
        Mutation::PutUser(staff(
            4,
            "vis",
            "vis@shop.example",
            4,
            Access::specific([NORTH]),
        )),
        Mutation::PutUser(staff(
            9,
            "Sam.Secret",
            "Sam.Secret@shop.example",
            4,
            Access::specific([SOUTH]),
        )),
    ])
    .unwrap();
    e
}

fn vis(e: &Engine<Split>) -> User {
    e.snapshot().user(VIS).unwrap().clone()
}

/// An actor that may edit users but not create them gets the same answer for a username or
/// e-mail a hidden user holds as for a free one: it may not choose a new one at all.
#[test]
fn r20_an_editor_who_may_not_create_users_cannot_probe_names_by_renaming() {
    let e = split_shop();
    let rename = |name: &str| Change::UpdateUser(vis(&e).with_username(name));
    let taken = refused(&e, EDITOR, rename("sam.secret"), ErrorKind::NotPermitted);
    let free = refused(&e, EDITOR, rename("nobody.here"), ErrorKind::NotPermitted);
    assert_eq!(told(&taken, "sam.secret"), told(&free, "nobody.here"));
    assert_eq!(taken.field(), Some("username"));
    assert_eq!(
        taken.to_string(),
        "cannot update user `vis`: a new username needs the permission to create users"
    );
    let email = |value: &str| Change::UpdateUser(vis(&e).with_email(value));
    let taken = refused(
        &e,
        EDITOR,
        email("sam.secret@shop.example"),
        ErrorKind::NotPermitted,
    );
    let free = refused(
        &e,
        EDITOR,
        email("nobody@shop.example"),
        ErrorKind::NotPermitted,
    );
    assert_eq!(
        told(&taken, "sam.secret@shop.example"),
        told(&free, "nobody@shop.example")
    );
    assert_eq!(taken.field(), Some("e-mail"));
    // The same in a batch and a dry run.
    let dry = e.dry_run(EDITOR, &[rename("SAM.SECRET")]).unwrap_err();
    assert_eq!(dry.kind(), ErrorKind::NotPermitted, "{dry}");
    // What it may still do: the same name in other case, and everything else.
    e.apply(EDITOR, Change::UpdateUser(vis(&e).with_username("VIS")))
        .unwrap();
    e.apply(EDITOR, Change::UpdateUser(vis(&e).with_enabled(false)))
        .unwrap();
}

/// Whoever may create users is told that a name is taken, as creating a user would tell it,
/// on its own change, in its own spelling, and never by whom.
#[test]
fn r20_a_creator_is_told_a_name_is_taken_but_not_by_whom() {
    let e = split_shop();
    let err = refused(
        &e,
        CREATOR,
        Change::UpdateUser(vis(&e).with_username("sam.secret")),
        ErrorKind::Duplicate,
    );
    assert_eq!(err.key(), Some(Key::from(VIS)));
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("`sam.secret`"), "{shown}");
    assert!(
        !shown.contains("Sam.Secret") && !shown.contains("user#9"),
        "{shown}"
    );
    assert!(!shown.contains(&format!("{HIDDEN:?}")), "{shown}");
    let problems = &err.problems();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].change(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// Sources' external ids (R20, seed 003).

const WAREHOUSE: SourceId = SourceId::new(20);
const SHOP_SOURCE: SourceId = SourceId::new(21);
const OWNER: UserId = UserId::new(1);
const LINA: UserId = UserId::new(7); // manage sources, at the shop's source only

fn oms_shop() -> Engine<Oms> {
    let e = Engine::new();
    let stock_lead = RoleId::new(6);
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Acme")),
        Mutation::PutAccount(Account::new(OTHER, "Other")),
        Mutation::PutSource(Source::new(WAREHOUSE, SHOP, "WAREHOUSE")),
        Mutation::PutSource(Source::new(SHOP_SOURCE, SHOP, "north-store")),
        Mutation::PutSource(Source::new(SourceId::new(80), OTHER, "theirs")),
        Mutation::PutChannel(Channel::new(ChannelId::new(30), SHOP, "Web")),
        Mutation::PutChannel(Channel::new(ChannelId::new(81), OTHER, "Their web")),
        Mutation::PutRole(oms::administrator(RoleId::new(1), SHOP)),
        Mutation::PutRole(oms::administrator(RoleId::new(90), OTHER)),
        Mutation::PutRole(Role::new(
            stock_lead,
            SHOP,
            "Stock lead",
            Level::below_top(1),
            Oms::MANAGE_SOURCES | Oms::MANAGE_STOCK_AGGREGATES | Oms::MANAGE_INVENTORY,
        )),
        Mutation::PutUser(
            User::new(OWNER, SHOP, "owner", "owner@acme.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(LINA, SHOP, "lina", "lina@acme.example")
                .with_grant(Grant::new(stock_lead, Access::All))
                .with_sources(Access::specific([SHOP_SOURCE]))
                .with_channels(Access::specific([ChannelId::new(30)])),
        ),
    ])
    .unwrap();
    e
}

/// A source-limited actor renaming its source gets the same answer for an external id a source
/// it may not see holds as for a free one; the same name in other case is still its to write.
#[test]
fn r20_a_source_limited_actor_cannot_probe_hidden_external_ids() {
    let e = oms_shop();
    let rename = |id: &str| Change::UpdateSource(Source::new(SHOP_SOURCE, SHOP, id));
    let taken = refused(&e, LINA, rename("warehouse"), ErrorKind::OutsideScope);
    let free = refused(&e, LINA, rename("south-store"), ErrorKind::OutsideScope);
    assert_eq!(told(&taken, "warehouse"), told(&free, "south-store"));
    assert_eq!(
        taken.to_string(),
        "cannot update source `north-store`: a new source external id needs the permission to \
         manage sources at every source"
    );
    assert_eq!(taken.field(), Some("source external id"));
    e.apply(LINA, rename("North-Store")).unwrap();
    assert_eq!(
        e.snapshot().source(SHOP_SOURCE).unwrap().external_id(),
        "North-Store"
    );
}

/// A clash of external ids is put on the source the change wrote, in the spelling the actor
/// wrote, never on the other source (whose id and spelling it names nowhere).
#[test]
fn r20_a_duplicate_external_id_is_put_on_the_changed_source_in_its_own_spelling() {
    let e = oms_shop();
    // WAREHOUSE (20) takes the id source 21 holds, in other case: the clash is found at 21.
    let err = refused(
        &e,
        OWNER,
        Change::UpdateSource(Source::new(WAREHOUSE, SHOP, "North-Store")),
        ErrorKind::Duplicate,
    );
    assert_eq!(err.key(), Some(Key::from(WAREHOUSE)));
    assert_eq!(err.field(), Some("source external id"));
    let shown = format!("{err} {:?}", err.problems());
    assert!(shown.contains("`North-Store`"), "{shown}");
    assert!(!shown.contains("`north-store`"), "{shown}");
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].change(), Some(0));
    assert_eq!(err.problems()[0].key(), Some(Key::from(WAREHOUSE)));
}

// ---------------------------------------------------------------------------------------------
// Ids of other accounts, probed before the permission (R20).

/// Whether an id is taken (by another account, here) is said only to an actor that may create
/// the object: any other gets the answer a free id gets.
#[test]
fn r20_an_id_taken_is_said_only_after_the_permission_to_create() {
    let e = oms_shop();
    // Lina manages sources and channels, but not at every one: it may create neither.
    for (taken, free) in [
        (
            Change::CreateSource(Source::new(SourceId::new(80), SHOP, "new-one")),
            Change::CreateSource(Source::new(SourceId::new(82), SHOP, "new-one")),
        ),
        (
            Change::CreateChannel(Channel::new(ChannelId::new(81), SHOP, "App")),
            Change::CreateChannel(Channel::new(ChannelId::new(83), SHOP, "App")),
        ),
    ] {
        let taken = refused(&e, LINA, taken, ErrorKind::OutsideScope);
        let free = refused(&e, LINA, free, ErrorKind::OutsideScope);
        assert_eq!(told(&taken, "80"), told(&free, "82").replace("83", "80"));
    }
    // Roles: an actor without the manage-roles permission.
    let role = |id: u64| {
        Change::CreateRole(Role::new(
            RoleId::new(id),
            SHOP,
            "Helper",
            Level::below_top(2),
            Oms::MANAGE_INVENTORY,
        ))
    };
    let taken = refused(&e, LINA, role(90), ErrorKind::NotPermitted);
    let free = refused(&e, LINA, role(91), ErrorKind::NotPermitted);
    assert_eq!(told(&taken, "90"), told(&free, "91").replace("91", "90"));
    // Who may create is told, naming nothing but the id.
    let err = refused(&e, OWNER, role(90), ErrorKind::Duplicate);
    assert_eq!(err.to_string(), "role id `role#90` is already in use");
    refused(
        &e,
        OWNER,
        Change::CreateSource(Source::new(SourceId::new(80), SHOP, "new-one")),
        ErrorKind::Duplicate,
    );
}

/// The same for stores (seed 000): an outlet manager at one outlet may not open one.
#[test]
fn r20_a_store_limited_manager_learns_nothing_of_store_ids() {
    let e = Engine::<Pos>::new();
    let outlet_manager = RoleId::new(4);
    let oleg = UserId::new(3);
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop")),
        Mutation::PutAccount(Account::new(OTHER, "Other Shop")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(StoreId::new(80), OTHER, "Theirs")),
        Mutation::PutRole(pos::admin(RoleId::new(1), SHOP)),
        Mutation::PutRole(Role::new(
            outlet_manager,
            SHOP,
            "Outlet manager",
            Level::below_top(1),
            pos::MANAGER | Pos::MANAGE_OUTLETS,
        )),
        Mutation::PutUser(
            User::new(OWNER, SHOP, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::All)),
        ),
        Mutation::PutUser(
            User::new(oleg, SHOP, "oleg", "oleg@shop.example")
                .with_grant(Grant::new(outlet_manager, Access::specific([NORTH]))),
        ),
    ])
    .unwrap();
    let open = |id: u64| Change::CreateStore(Store::new(StoreId::new(id), SHOP, "Harbour"));
    let taken = refused(&e, oleg, open(80), ErrorKind::OutsideScope);
    let free = refused(&e, oleg, open(81), ErrorKind::OutsideScope);
    assert_eq!(told(&taken, "80"), told(&free, "81").replace("81", "80"));
    // Its own store's id, too.
    let own = refused(&e, oleg, open(10), ErrorKind::OutsideScope);
    assert_eq!(told(&own, "10"), told(&free, "81").replace("81", "10"));
}

// ---------------------------------------------------------------------------------------------
// The seat limit (R10, R12, R20).

/// An owner whose grant reaches North only: users at South are not its to manage or see.
fn north_owner_shop() -> (Engine<Pos>, Arc<MemoryAudit<Pos>>) {
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::new().with_audit(audit.clone());
    let cashier = RoleId::new(3);
    let at = |id: u64, name: &str, store: StoreId| {
        Mutation::PutUser(
            User::new(UserId::new(id), SHOP, name, &format!("{name}@shop.example"))
                .with_grant(Grant::new(cashier, Access::specific([store]))),
        )
    };
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop").with_seat_limit(10)),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
        Mutation::PutRole(pos::admin(RoleId::new(1), SHOP)),
        Mutation::PutRole(pos::cashier(cashier, SHOP)),
        Mutation::PutUser(
            User::new(OWNER, SHOP, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(1), Access::specific([NORTH]))),
        ),
        at(2, "ana", NORTH),
        at(3, "bob", SOUTH),
        at(4, "cyd", NORTH),
        at(5, "dee", SOUTH),
    ])
    .unwrap();
    (e, audit)
}

#[test]
fn r10_r12_lowering_the_plan_disables_only_users_the_owner_manages_newest_first() {
    let (e, audit) = north_owner_shop();
    let plan = |limit: u32| Change::SetSeatLimit {
        limit: Some(limit),
        disable_excess: true,
    };
    // Five enabled, three allowed: the newest two the owner manages are cyd (4) and ana (2),
    // not dee (5) or bob (3) at South.
    let applied = e.apply(OWNER, plan(3)).unwrap();
    let (ana, bob, cyd, dee) = (
        UserId::new(2),
        UserId::new(3),
        UserId::new(4),
        UserId::new(5),
    );
    assert_eq!(
        applied.events(),
        [Event::DisabledBySeatLimit {
            users: vec![cyd, ana]
        }]
    );
    let s = e.snapshot();
    let enabled: Vec<UserId> = s
        .users(SHOP)
        .filter(|u| u.is_enabled())
        .map(|u| u.id())
        .collect();
    assert_eq!(enabled, [OWNER, bob, dee]);
    let last = audit.records().pop().unwrap();
    let after: Vec<(UserId, bool)> = last
        .after
        .iter()
        .filter_map(|o| match o {
            Object::User(u) => Some((u.id(), u.is_enabled())),
            _ => None,
        })
        .collect();
    assert_eq!(after, [(ana, false), (cyd, false)]);
}

#[test]
fn r20_a_limit_only_hidden_users_could_make_room_for_is_refused_naming_none() {
    let (e, audit) = north_owner_shop();
    let before = state(&e);
    let err = e
        .apply(
            OWNER,
            Change::SetSeatLimit {
                limit: Some(2),
                disable_excess: true,
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeatLimit, "{err}");
    assert_eq!(state(&e), before);
    let shown = format!("{err} {err:?}");
    for hidden in ["bob", "dee", "user#3", "user#5"] {
        assert!(!shown.contains(hidden), "{shown}");
    }
    // The refusal's audit record names no hidden user either.
    let last = audit.records().pop().unwrap();
    assert!(!last.outcome.is_applied());
    assert!(!format!("{last:?}").contains("bob") && !format!("{last:?}").contains("dee"));
}
