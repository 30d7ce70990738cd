//! Issue 17: stores, sources and sales channels as authorized, audited changes, on the four
//! products' catalogs: who may open, rename and close them (the catalog's `manage_stores`,
//! `manage_sources`, `manage_channels`, checked like any permission at the object), R3 for a
//! new object, and the refusal to delete one still referred to (InUse, R20).

use std::sync::Arc;

use crate::fixture::state;
use shopguard::audit::{MemoryAudit, Object};
use shopguard::catalog::omnichannel::{self, Omnichannel};
use shopguard::catalog::oms::{self, Oms};
use shopguard::catalog::payments::{self, Payments};
use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::Key;
use shopguard::{
    Access, Account, AccountId, Catalog, Change, Channel, ChannelId, Engine, ErrorKind, Grant,
    Level, Mutation, OnChannel, OnSource, OnStore, Role, RoleId, Source, SourceId, Store, StoreId,
    User, UserId,
};

const SHOP: AccountId = AccountId::new(1);
const OTHER: AccountId = AccountId::new(2);
const NORTH: StoreId = StoreId::new(10);
const SOUTH: StoreId = StoreId::new(11);
const NEW_OUTLET: StoreId = StoreId::new(12);
const ADMIN: RoleId = RoleId::new(1);
const CASHIER: RoleId = RoleId::new(3);
const OUTLET_MANAGER: RoleId = RoleId::new(4);
const NORTH_ONLY: RoleId = RoleId::new(5);
const OWNER: UserId = UserId::new(1);
const ANA: UserId = UserId::new(2); // cashier, North
const OLEG: UserId = UserId::new(3); // outlet manager, North
const SAM: UserId = UserId::new(4); // cashier, all outlets
const ADAM: UserId = UserId::new(5); // admin, North only
const OTHER_OWNER: UserId = UserId::new(9);

#[track_caller]
fn refused<P: Catalog>(e: &Engine<P>, actor: UserId, change: Change<P>, kind: ErrorKind) -> String {
    let before = state(e);
    let err = e
        .apply(actor, change)
        .expect_err("change should be refused");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(state(e), before, "a refused change changed the engine");
    err.to_string()
}

fn staff(id: UserId, name: &str, role: RoleId, stores: Access<StoreId>) -> User {
    User::new(id, SHOP, name, &format!("{name}@shop.example")).with_grant(Grant::new(role, stores))
}

/// Seed 000: a POS with two outlets; an outlet manager at North who may change its outlet's
/// settings (MANAGE_OUTLETS) and see users there.
fn pos_shop() -> (Engine<Pos>, Arc<MemoryAudit<Pos>>) {
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::new().with_audit(audit.clone());
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop").with_seat_limit(10)),
        Mutation::PutAccount(Account::new(OTHER, "Other Shop")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
        Mutation::PutRole(pos::admin(ADMIN, SHOP)),
        Mutation::PutRole(pos::cashier(CASHIER, SHOP)),
        Mutation::PutRole(Role::new(
            OUTLET_MANAGER,
            SHOP,
            "Outlet manager",
            Level::below_top(1),
            pos::MANAGER | Pos::MANAGE_OUTLETS | Pos::VIEW_USERS,
        )),
        Mutation::PutRole(pos::admin(RoleId::new(90), OTHER)),
        Mutation::PutUser(staff(OWNER, "owner", ADMIN, Access::All).with_owner(true)),
        Mutation::PutUser(staff(ANA, "ana", CASHIER, Access::specific([NORTH]))),
        Mutation::PutUser(staff(
            OLEG,
            "oleg",
            OUTLET_MANAGER,
            Access::specific([NORTH]),
        )),
        Mutation::PutUser(staff(SAM, "sam", CASHIER, Access::All)),
        Mutation::PutUser(
            User::new(OTHER_OWNER, OTHER, "boss", "boss@other.example")
                .with_owner(true)
                .with_grant(Grant::new(RoleId::new(90), Access::All)),
        ),
    ])
    .unwrap();
    (e, audit)
}

#[test]
fn pos_admin_opens_an_outlet_and_all_access_covers_it_at_once() {
    let (e, audit) = pos_shop();
    let till = OnStore(SHOP, NEW_OUTLET);
    assert!(!e.can(SAM, Pos::SELL, &till));
    e.apply(
        OWNER,
        Change::CreateStore(Store::new(NEW_OUTLET, SHOP, "Harbour")),
    )
    .unwrap();
    // R3: `All` reaches the new outlet at once; a specific set does not.
    assert!(e.can(SAM, Pos::SELL, &till));
    assert!(e.can(OWNER, Pos::MANAGE_USERS, &till));
    assert!(!e.can(ANA, Pos::SELL, &till));
    // R19: audited, with the store after and nothing before.
    let last = audit.records().pop().unwrap();
    assert_eq!(
        last.change,
        Change::CreateStore(Store::new(NEW_OUTLET, SHOP, "Harbour"))
    );
    assert!(last.outcome.is_applied());
    assert!(last.before.is_empty());
    assert_eq!(
        last.after,
        [Object::Store(Store::new(NEW_OUTLET, SHOP, "Harbour"))]
    );
}

#[test]
fn a_cashier_cannot_open_rename_or_close_an_outlet() {
    let (e, audit) = pos_shop();
    let msg = refused(
        &e,
        ANA,
        Change::CreateStore(Store::new(NEW_OUTLET, SHOP, "Harbour")),
        ErrorKind::NotPermitted,
    );
    assert_eq!(
        msg,
        "cannot create store `Harbour`: you lack the permission to manage stores"
    );
    refused(
        &e,
        ANA,
        Change::UpdateStore(Store::new(NORTH, SHOP, "Uptown")),
        ErrorKind::NotPermitted,
    );
    refused(&e, ANA, Change::DeleteStore(NORTH), ErrorKind::NotPermitted);
    // R20: whether a store id is taken is not told to who may not open stores.
    refused(
        &e,
        ANA,
        Change::CreateStore(Store::new(NORTH, SHOP, "Taken")),
        ErrorKind::NotPermitted,
    );
    // Each refusal is audited (R19).
    let refusals = audit
        .records()
        .iter()
        .filter(|r| !r.outcome.is_applied())
        .count();
    assert_eq!(refusals, 4);
}

#[test]
fn a_store_limited_manager_renames_its_outlet_only_and_opens_none() {
    let (e, _) = pos_shop();
    e.apply(
        OLEG,
        Change::UpdateStore(Store::new(NORTH, SHOP, "North Street")),
    )
    .unwrap();
    assert_eq!(e.snapshot().store(NORTH).unwrap().name(), "North Street");
    // Another outlet is one it does not see: answered as no store (R20).
    let msg = refused(
        &e,
        OLEG,
        Change::UpdateStore(Store::new(SOUTH, SHOP, "Mine now")),
        ErrorKind::NotFound,
    );
    assert_eq!(msg, "store `store#11` not found");
    // A new outlet lies outside its stores: only all-stores holders open one.
    let msg = refused(
        &e,
        OLEG,
        Change::CreateStore(Store::new(NEW_OUTLET, SHOP, "Harbour")),
        ErrorKind::OutsideScope,
    );
    assert_eq!(
        msg,
        "cannot create store `Harbour`: it needs the permission to manage stores at every store"
    );
}

#[test]
fn a_store_of_another_account_is_not_found_and_an_id_taken_is_a_duplicate() {
    let (e, _) = pos_shop();
    refused(
        &e,
        OWNER,
        Change::UpdateStore(Store::new(NORTH, OTHER, "Stolen")),
        ErrorKind::WrongAccount,
    );
    refused(
        &e,
        OWNER,
        Change::CreateStore(Store::new(NEW_OUTLET, OTHER, "Theirs")),
        ErrorKind::WrongAccount,
    );
    e.apply(
        OTHER_OWNER,
        Change::CreateStore(Store::new(StoreId::new(80), OTHER, "Their outlet")),
    )
    .unwrap();
    let msg = refused(
        &e,
        OWNER,
        Change::DeleteStore(StoreId::new(80)),
        ErrorKind::NotFound,
    );
    assert_eq!(msg, "store `store#80` not found");
    let msg = refused(
        &e,
        OWNER,
        Change::CreateStore(Store::new(StoreId::new(80), SHOP, "Mine")),
        ErrorKind::Duplicate,
    );
    assert_eq!(msg, "store id `store#80` is already in use");
    // A store name is validated like any name people read (R16).
    refused(
        &e,
        OWNER,
        Change::CreateStore(Store::new(NEW_OUTLET, SHOP, " padded")),
        ErrorKind::InvalidInput,
    );
}

#[test]
fn closing_an_outlet_in_use_names_what_refers_to_it() {
    let (e, _) = pos_shop();
    e.apply(
        OWNER,
        Change::CreateRole(
            Role::new(
                NORTH_ONLY,
                SHOP,
                "North cashier",
                Level::below_top(2),
                pos::CASHIER,
            )
            .with_store_ceiling(Access::specific([NORTH])),
        ),
    )
    .unwrap();
    let err = e.apply(OWNER, Change::DeleteStore(NORTH)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InUse);
    assert_eq!(err.key(), Some(Key::from(NORTH)));
    assert_eq!(
        err.to_string(),
        "cannot remove store `North`: still used by role `North cashier` and users `ana`, `oleg`"
    );
    // Once nothing refers to it, it closes; the audit keeps it as it was.
    e.apply_all(
        OWNER,
        vec![
            Change::DeleteRole {
                role: NORTH_ONLY,
                reassign_to: None,
            },
            Change::UpdateUser(staff(ANA, "ana", CASHIER, Access::specific([SOUTH]))),
            Change::DeleteUser(OLEG),
            Change::DeleteStore(NORTH),
        ],
    )
    .unwrap();
    assert!(e.snapshot().store(NORTH).is_none());
}

#[test]
fn r20_closing_an_outlet_counts_the_users_and_roles_the_actor_may_not_see() {
    let (e, _) = pos_shop();
    // A level-2 outlet manager at every outlet: it sees the cashiers (level 3), not the
    // level-2 manager or the level-1 admin at North (R6), and no roles (it cannot manage
    // roles).
    let wide = UserId::new(6);
    e.unchecked_apply([
        Mutation::PutRole(
            Role::new(NORTH_ONLY, SHOP, "North admin", Level::TOP, Pos::all())
                .with_store_ceiling(Access::specific([NORTH])),
        ),
        Mutation::PutUser(staff(ADAM, "adam", ADMIN, Access::specific([NORTH]))),
        Mutation::PutUser(staff(wide, "wendy", OUTLET_MANAGER, Access::All)),
    ])
    .unwrap();
    let msg = refused(&e, wide, Change::DeleteStore(NORTH), ErrorKind::InUse);
    assert_eq!(
        msg,
        "cannot remove store `North`: still used by user `ana`, 1 other role and 2 other users"
    );
    assert!(!msg.contains("adam") && !msg.contains("oleg") && !msg.contains("North admin"));
}

#[test]
fn payments_administrator_opens_a_store_and_a_manager_cannot() {
    let acct = SHOP;
    let e = Engine::<Payments>::new();
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(acct, "Shop")),
        Mutation::PutStore(Store::new(NORTH, acct, "North")),
        Mutation::PutRole(payments::administrator(ADMIN, acct)),
        Mutation::PutRole(payments::manager(RoleId::new(3), acct)),
        Mutation::PutUser(staff(OWNER, "olga", ADMIN, Access::All).with_owner(true)),
        Mutation::PutUser(staff(
            UserId::new(2),
            "mia",
            RoleId::new(3),
            Access::specific([NORTH]),
        )),
    ])
    .unwrap();
    refused(
        &e,
        UserId::new(2),
        Change::CreateStore(Store::new(SOUTH, acct, "South")),
        ErrorKind::NotPermitted,
    );
    e.apply(OWNER, Change::CreateStore(Store::new(SOUTH, acct, "South")))
        .unwrap();
    // The manager sees every store's name (the store directory), the new one included.
    let s = e.snapshot();
    let names: Vec<&str> = s
        .visible_stores(UserId::new(2))
        .iter()
        .map(|s| s.name())
        .collect();
    assert_eq!(names, ["North", "South"]);
}

// ---------------------------------------------------------------------------------------------
// Seed 003: sources (Manage sources) and sales channels (Manage stock aggregates).

const WAREHOUSE: SourceId = SourceId::new(20);
const SHOP_SOURCE: SourceId = SourceId::new(21);
const OUTLET_SOURCE: SourceId = SourceId::new(22);
const WEB: ChannelId = ChannelId::new(30);
const MARKET: ChannelId = ChannelId::new(31);
const STOCK_LEAD: RoleId = RoleId::new(6);
const LINA: UserId = UserId::new(7); // stock lead: manage sources and channels, specific ones
const ASSISTANT: UserId = UserId::new(8);

fn oms_shop() -> (Engine<Oms>, Arc<MemoryAudit<Oms>>) {
    let audit = Arc::new(MemoryAudit::new());
    let e = Engine::new().with_audit(audit.clone());
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Acme")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutSource(Source::new(WAREHOUSE, SHOP, "WAREHOUSE")),
        Mutation::PutSource(Source::new(SHOP_SOURCE, SHOP, "north-store")),
        Mutation::PutChannel(Channel::new(WEB, SHOP, "Web")),
        Mutation::PutChannel(Channel::new(MARKET, SHOP, "Marketplace")),
        Mutation::PutRole(oms::administrator(ADMIN, SHOP)),
        Mutation::PutRole(oms::store_assistant(CASHIER, SHOP)),
        Mutation::PutRole(Role::new(
            STOCK_LEAD,
            SHOP,
            "Stock lead",
            Level::below_top(1),
            Oms::MANAGE_SOURCES | Oms::MANAGE_STOCK_AGGREGATES | Oms::MANAGE_INVENTORY,
        )),
        Mutation::PutUser(
            staff(OWNER, "owner", ADMIN, Access::All)
                .with_owner(true)
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            staff(LINA, "lina", STOCK_LEAD, Access::All)
                .with_sources(Access::specific([SHOP_SOURCE]))
                .with_channels(Access::specific([WEB])),
        ),
        Mutation::PutUser(
            staff(ASSISTANT, "assistant", CASHIER, Access::specific([NORTH]))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
    ])
    .unwrap();
    (e, audit)
}

#[test]
fn oms_administrator_adds_a_source_that_all_sources_covers_at_once() {
    let (e, audit) = oms_shop();
    let at = OnSource(SHOP, OUTLET_SOURCE);
    e.apply(
        OWNER,
        Change::CreateSource(Source::new(OUTLET_SOURCE, SHOP, "south-store")),
    )
    .unwrap();
    // R3: the assistant's `All` sources reach it; the stock lead's specific set does not.
    assert!(e.can(ASSISTANT, Oms::MANAGE_SHIP_FROM_STORE_ORDERS, &at));
    assert!(!e.can(LINA, Oms::MANAGE_INVENTORY, &at));
    assert_eq!(
        e.snapshot()
            .source_named(SHOP, "SOUTH-STORE")
            .map(|s| s.id()),
        Some(OUTLET_SOURCE)
    );
    let last = audit.records().pop().unwrap();
    assert_eq!(
        last.after,
        [Object::Source(Source::new(
            OUTLET_SOURCE,
            SHOP,
            "south-store"
        ))]
    );
    // External ids stay unique per account, ignoring ASCII case.
    refused(
        &e,
        OWNER,
        Change::CreateSource(Source::new(SourceId::new(23), SHOP, "Warehouse")),
        ErrorKind::Duplicate,
    );
}

#[test]
fn a_store_assistant_cannot_manage_sources_or_channels() {
    let (e, _) = oms_shop();
    for change in [
        Change::CreateSource(Source::new(OUTLET_SOURCE, SHOP, "south-store")),
        Change::UpdateSource(Source::new(WAREHOUSE, SHOP, "MAIN")),
        Change::DeleteSource(WAREHOUSE),
        Change::CreateChannel(Channel::new(ChannelId::new(32), SHOP, "App")),
        Change::UpdateChannel(Channel::new(WEB, SHOP, "Webshop")),
        Change::DeleteChannel(MARKET),
    ] {
        refused(&e, ASSISTANT, change, ErrorKind::NotPermitted);
    }
}

#[test]
fn manage_sources_at_specific_sources_edits_those_only_and_creates_none() {
    let (e, _) = oms_shop();
    // Its own source: the external id in other case. A new external id is checked against
    // sources it does not see, so it needs the permission at every source (R20).
    e.apply(
        LINA,
        Change::UpdateSource(Source::new(SHOP_SOURCE, SHOP, "North-Store")),
    )
    .unwrap();
    assert_eq!(
        e.snapshot().source(SHOP_SOURCE).unwrap().external_id(),
        "North-Store"
    );
    refused(
        &e,
        LINA,
        Change::UpdateSource(Source::new(SHOP_SOURCE, SHOP, "north-shop")),
        ErrorKind::OutsideScope,
    );
    refused(
        &e,
        LINA,
        Change::UpdateSource(Source::new(WAREHOUSE, SHOP, "MINE")),
        ErrorKind::NotFound,
    );
    let msg = refused(
        &e,
        LINA,
        Change::CreateSource(Source::new(OUTLET_SOURCE, SHOP, "south-store")),
        ErrorKind::OutsideScope,
    );
    assert_eq!(
        msg,
        "cannot create source `south-store`: it needs the permission to manage sources at every source"
    );
    // The same for sales channels (Manage stock aggregates).
    e.apply(
        LINA,
        Change::UpdateChannel(Channel::new(WEB, SHOP, "Webshop")),
    )
    .unwrap();
    refused(&e, LINA, Change::DeleteChannel(MARKET), ErrorKind::NotFound);
    refused(
        &e,
        LINA,
        Change::CreateChannel(Channel::new(ChannelId::new(32), SHOP, "App")),
        ErrorKind::OutsideScope,
    );
}

#[test]
fn deleting_a_source_or_channel_in_use_is_refused_until_nothing_refers_to_it() {
    let (e, audit) = oms_shop();
    let msg = refused(
        &e,
        OWNER,
        Change::DeleteSource(SHOP_SOURCE),
        ErrorKind::InUse,
    );
    assert_eq!(
        msg,
        "cannot remove source `north-store`: still used by user `lina`"
    );
    let msg = refused(&e, OWNER, Change::DeleteChannel(WEB), ErrorKind::InUse);
    assert_eq!(
        msg,
        "cannot remove sales channel `Web`: still used by user `lina`"
    );
    // A role's ceiling refers too.
    e.apply(
        OWNER,
        Change::CreateRole(
            Role::new(
                RoleId::new(7),
                SHOP,
                "Market assistant",
                Level::below_top(2),
                Oms::MANAGE_ISPU_ORDERS,
            )
            .with_channel_ceiling(Access::specific([MARKET])),
        ),
    )
    .unwrap();
    let msg = refused(&e, OWNER, Change::DeleteChannel(MARKET), ErrorKind::InUse);
    assert_eq!(
        msg,
        "cannot remove sales channel `Marketplace`: still used by role `Market assistant`"
    );
    e.apply(OWNER, Change::DeleteSource(WAREHOUSE)).unwrap();
    let last = audit.records().pop().unwrap();
    assert_eq!(
        last.before,
        [Object::Source(Source::new(WAREHOUSE, SHOP, "WAREHOUSE"))]
    );
    assert!(last.after.is_empty());
    assert!(e.snapshot().source(WAREHOUSE).is_none());
}

#[test]
fn a_new_sales_channel_is_covered_by_all_channels_at_once() {
    let (e, _) = oms_shop();
    let app = ChannelId::new(32);
    e.apply(OWNER, Change::CreateChannel(Channel::new(app, SHOP, "App")))
        .unwrap();
    assert!(e.can(ASSISTANT, Oms::MANAGE_ISPU_ORDERS, &OnChannel(SHOP, app)));
    assert!(!e.can(LINA, Oms::MANAGE_INVENTORY, &OnChannel(SHOP, app)));
}

#[test]
fn omnichannel_channels_need_add_edit_and_delete() {
    let e = Engine::<Omnichannel>::new();
    let editor = UserId::new(2);
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Shop")),
        Mutation::PutRole(omnichannel::administrator(ADMIN, SHOP)),
        Mutation::PutRole(omnichannel::catalogue_editor(RoleId::new(2), SHOP)),
        Mutation::PutUser(
            staff(OWNER, "owner", ADMIN, Access::All)
                .with_owner(true)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            staff(editor, "eve", RoleId::new(2), Access::All).with_channels(Access::All),
        ),
    ])
    .unwrap();
    let shopee = Channel::new(WEB, SHOP, "Shopee");
    refused(
        &e,
        editor,
        Change::CreateChannel(shopee.clone()),
        ErrorKind::NotPermitted,
    );
    e.apply(OWNER, Change::CreateChannel(shopee)).unwrap();
    assert!(e.can(editor, Omnichannel::CHANNEL_VIEW, &OnChannel(SHOP, WEB)));
    assert_eq!(
        e.snapshot()
            .visible_channels(editor)
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>(),
        ["Shopee"]
    );
}

#[test]
fn r20_listings_of_sources_and_channels_show_what_the_actor_reaches() {
    let (e, _) = oms_shop();
    let s = e.snapshot();
    let sources = |u| {
        s.visible_sources(u)
            .iter()
            .map(|x| x.id())
            .collect::<Vec<_>>()
    };
    let channels = |u| {
        s.visible_channels(u)
            .iter()
            .map(|x| x.id())
            .collect::<Vec<_>>()
    };
    assert_eq!(sources(OWNER), [WAREHOUSE, SHOP_SOURCE]);
    assert_eq!(sources(LINA), [SHOP_SOURCE]);
    assert_eq!(channels(OWNER), [WEB, MARKET]);
    assert_eq!(channels(LINA), [WEB]);
    // A role's ceiling narrows what its holder sees.
    e.unchecked_apply([Mutation::PutRole(
        oms::store_assistant(CASHIER, SHOP)
            .with_channel_ceiling(Access::specific([MARKET]))
            .with_source_ceiling(Access::specific([WAREHOUSE])),
    )])
    .unwrap();
    let s = e.snapshot();
    assert_eq!(
        s.visible_sources(ASSISTANT)
            .iter()
            .map(|x| x.id())
            .collect::<Vec<_>>(),
        [WAREHOUSE]
    );
    assert_eq!(
        s.visible_channels(ASSISTANT)
            .iter()
            .map(|x| x.id())
            .collect::<Vec<_>>(),
        [MARKET]
    );
    // Unknown and disabled actors see nothing; nor does anyone another account's objects.
    assert!(s.visible_sources(UserId::new(999)).is_empty());
    e.apply(OWNER, Change::DisableUser(LINA)).unwrap();
    assert!(e.snapshot().visible_channels(LINA).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Seed 000: the plan's seat limit (R12) as a change, owner only.

fn plan(limit: Option<u32>, disable_excess: bool) -> Change<Pos> {
    Change::SetSeatLimit {
        limit,
        disable_excess,
    }
}

#[test]
fn r12_only_the_owner_changes_the_plan() {
    let (e, _) = pos_shop();
    e.unchecked_apply([Mutation::PutUser(staff(ADAM, "adam", ADMIN, Access::All))])
        .unwrap();
    for actor in [ADAM, OLEG, ANA] {
        let msg = refused(&e, actor, plan(Some(20), false), ErrorKind::NotPermitted);
        assert_eq!(
            msg,
            "cannot set the seat limit: only the account owner may change the plan"
        );
    }
    e.apply(OWNER, plan(Some(20), false)).unwrap();
    assert_eq!(e.snapshot().account(SHOP).unwrap().seat_limit(), Some(20));
    e.apply(OWNER, plan(None, false)).unwrap();
    assert_eq!(e.snapshot().account(SHOP).unwrap().seat_limit(), None);
}

#[test]
fn r12_a_limit_below_the_enabled_users_is_refused_by_default() {
    let (e, _) = pos_shop();
    // Four enabled users: owner, ana, oleg, sam.
    let err = e.apply(OWNER, plan(Some(2), false)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeatLimit);
    assert_eq!((err.enabled_users(), err.seat_limit()), (Some(4), Some(2)));
    assert_eq!(e.snapshot().account(SHOP).unwrap().seat_limit(), Some(10));
    // At the enabled count it is accepted, and the next user enabled is refused.
    e.apply(OWNER, plan(Some(4), false)).unwrap();
    refused(
        &e,
        OWNER,
        Change::CreateUser(staff(UserId::new(7), "newbie", CASHIER, Access::All)),
        ErrorKind::SeatLimit,
    );
}

#[test]
fn r12_lowering_the_plan_with_disable_excess_disables_the_newest_never_the_owner() {
    let (e, audit) = pos_shop();
    let applied = e.apply(OWNER, plan(Some(2), true)).unwrap();
    assert_eq!(
        applied.events(),
        [shopguard::Event::DisabledBySeatLimit {
            users: vec![SAM, OLEG]
        }]
    );
    let s = e.snapshot();
    let enabled: Vec<UserId> = s
        .users(SHOP)
        .filter(|u| u.is_enabled())
        .map(|u| u.id())
        .collect();
    assert_eq!(enabled, [OWNER, ANA]);
    assert!(s.user(SAM).is_some_and(|u| !u.is_enabled()));
    // The audit lists them, before and after.
    let last = audit.records().pop().unwrap();
    assert_eq!(last.change, plan(Some(2), true));
    let after: Vec<(UserId, bool)> = last
        .after
        .iter()
        .filter_map(|o| match o {
            Object::User(u) => Some((u.id(), u.is_enabled())),
            _ => None,
        })
        .collect();
    assert_eq!(after, [(OLEG, false), (SAM, false)]);
    assert!(
        last.before
            .iter()
            .any(|o| matches!(o, Object::Account(a) if a.seat_limit() == Some(10)))
    );
    assert!(
        last.after
            .iter()
            .any(|o| matches!(o, Object::Account(a) if a.seat_limit() == Some(2)))
    );
    // Kept, disabled, and enabled again once the plan allows it.
    refused(&e, OWNER, Change::EnableUser(SAM), ErrorKind::SeatLimit);
    // Nothing to disable: no event.
    let applied = e.apply(OWNER, plan(Some(3), true)).unwrap();
    assert!(applied.events().is_empty());
    e.apply(OWNER, Change::EnableUser(SAM)).unwrap();
}

#[test]
fn r11_r12_a_limit_only_the_owner_could_fill_past_is_refused_even_with_disable_excess() {
    let (e, _) = pos_shop();
    let err = e.apply(OWNER, plan(Some(0), true)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeatLimit, "{err}");
    assert_eq!(e.snapshot().account(SHOP).unwrap().seat_limit(), Some(10));
    assert!(e.snapshot().users(SHOP).filter(|u| u.is_enabled()).count() == 4);
    // A dry run says the same, and what an accepted plan would disable.
    let dry = e.dry_run(OWNER, &[plan(Some(1), true)]).unwrap();
    assert_eq!(
        dry.events(),
        [shopguard::Event::DisabledBySeatLimit {
            users: vec![SAM, OLEG, ANA]
        }]
    );
    assert_eq!(
        e.snapshot().users(SHOP).filter(|u| u.is_enabled()).count(),
        4
    );
}
