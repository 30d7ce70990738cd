//! One test per rule of the read side (R1–R5, R10, R11, R13), named by behaviour.

use shopguard::{
    Account, AccountId, ChannelId, Decision, DenyReason, Dimension, Engine, Mutation, OnAccount,
    OnChannel, OnRole, OnSource, OnStore, OnUser, Place, Resource, RoleId, SourceId, Store,
    StoreId, UserId,
};

use crate::fixture::*;

struct Order {
    store: Place<StoreId>,
    source: Place<SourceId>,
    channel: Place<ChannelId>,
}

impl Resource for Order {
    fn account(&self) -> AccountId {
        ACME
    }
    fn store(&self) -> Place<StoreId> {
        self.store
    }
    fn source(&self) -> Place<SourceId> {
        self.source
    }
    fn channel(&self) -> Place<ChannelId> {
        self.channel
    }
}

fn order(store: StoreId, source: Option<SourceId>, channel: ChannelId) -> Order {
    Order {
        store: Place::At(store),
        source: source.map_or(Place::Unplaced, Place::At),
        channel: Place::At(channel),
    }
}

#[track_caller]
fn allow<R: Resource>(e: &Engine<T>, user: UserId, p: T, r: &R, role: RoleId) {
    let d = e.check(user, p, r);
    match d {
        Decision::Allow(a) => assert_eq!(a.role(), role, "allowed by the wrong grant"),
        Decision::Deny(reason) => panic!("expected allow by {role}, got deny: {reason}"),
    }
    assert!(e.can(user, p, r), "can disagrees with check");
}

#[track_caller]
fn deny<R: Resource>(e: &Engine<T>, user: UserId, p: T, r: &R, reason: DenyReason) {
    assert_eq!(e.check(user, p, r), Decision::Deny(reason));
    assert!(!e.can(user, p, r), "can disagrees with check");
}

#[test]
fn r1_unknown_user_is_denied() {
    let e = engine();
    deny(
        &e,
        UserId::new(9999),
        T::SELL,
        &OnStore(ACME, NORTH),
        DenyReason::UnknownUser,
    );
}

#[test]
fn r1_disabled_user_is_denied_even_as_admin() {
    let e = engine();
    deny(
        &e,
        DISABLED,
        T::SELL,
        &OnStore(ACME, NORTH),
        DenyReason::UserDisabled,
    );
}

#[test]
fn r1_unknown_store_source_channel_role_user_are_denied() {
    let e = engine();
    let s = StoreId::new(777);
    deny(
        &e,
        OWNER,
        T::SELL,
        &OnStore(ACME, s),
        DenyReason::UnknownStore(s),
    );
    let src = SourceId::new(777);
    deny(
        &e,
        OWNER,
        T::SHIP,
        &OnSource(ACME, src),
        DenyReason::UnknownSource(src),
    );
    let c = ChannelId::new(777);
    deny(
        &e,
        OWNER,
        T::SHIP,
        &OnChannel(ACME, c),
        DenyReason::UnknownChannel(c),
    );
    let r = RoleId::new(777);
    deny(
        &e,
        OWNER,
        T::SELL,
        &OnRole(ACME, r),
        DenyReason::UnknownRole(r),
    );
    let u = UserId::new(777);
    deny(
        &e,
        OWNER,
        T::SELL,
        &OnUser(ACME, u),
        DenyReason::UnknownTargetUser(u),
    );
}

#[test]
fn r1_empty_permission_is_denied() {
    let e = engine();
    deny(
        &e,
        OWNER,
        T::empty(),
        &OnStore(ACME, NORTH),
        DenyReason::NoPermissionAsked,
    );
}

#[test]
fn r1_unknown_bits_are_never_granted() {
    let e = engine();
    let future = T::from_bits_retain(1 << 40);
    deny(
        &e,
        OWNER,
        future,
        &OnStore(ACME, NORTH),
        DenyReason::PermissionMissing,
    );
}

#[test]
fn r1_check_never_crosses_accounts() {
    let e = engine();
    // The resource says it is of another account.
    deny(
        &e,
        OWNER,
        T::SELL,
        &OnStore(OTHER, FOREIGN_STORE),
        DenyReason::WrongAccount,
    );
    // The resource claims our account but names another account's store.
    deny(
        &e,
        OWNER,
        T::SELL,
        &OnStore(ACME, FOREIGN_STORE),
        DenyReason::UnknownStore(FOREIGN_STORE),
    );
    // Another account's owner on our store.
    deny(
        &e,
        OTHER_OWNER,
        T::SELL,
        &OnStore(ACME, NORTH),
        DenyReason::WrongAccount,
    );
    // Another account's role and user as subjects.
    deny(
        &e,
        OWNER,
        T::SELL,
        &OnRole(ACME, RoleId::new(50)),
        DenyReason::UnknownRole(RoleId::new(50)),
    );
    deny(
        &e,
        OWNER,
        T::SELL,
        &OnUser(ACME, OTHER_OWNER),
        DenyReason::UnknownTargetUser(OTHER_OWNER),
    );
}

#[test]
fn r2_cashier_sells_in_own_store_only() {
    let e = engine();
    allow(&e, CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH), CASHIER);
    deny(
        &e,
        CASHIER_NORTH,
        T::SELL,
        &OnStore(ACME, SOUTH),
        DenyReason::OutsideScope(Dimension::Store),
    );
}

#[test]
fn r2_permission_not_held_is_denied() {
    let e = engine();
    deny(
        &e,
        CASHIER_NORTH,
        T::REFUND,
        &OnStore(ACME, NORTH),
        DenyReason::PermissionMissing,
    );
}

#[test]
fn r2_several_permissions_need_all_of_them() {
    let e = engine();
    allow(
        &e,
        MANAGER_NORTH,
        T::SELL | T::REFUND,
        &OnStore(ACME, NORTH),
        MANAGER,
    );
    deny(
        &e,
        CASHIER_NORTH,
        T::SELL | T::REFUND,
        &OnStore(ACME, NORTH),
        DenyReason::PermissionMissing,
    );
}

#[test]
fn r2_role_channel_ceiling_narrows_user_access() {
    let e = engine();
    // The cashier has all channels, but the role's ceiling is the web store.
    allow(
        &e,
        CASHIER_NORTH,
        T::SHIP,
        &order(NORTH, Some(SHOP_SOURCE), WEB),
        CASHIER,
    );
    deny(
        &e,
        CASHIER_NORTH,
        T::SHIP,
        &order(NORTH, Some(SHOP_SOURCE), MARKET),
        DenyReason::OutsideScope(Dimension::Channel),
    );
}

#[test]
fn r3_all_covers_stores_created_later_and_specific_does_not() {
    let e = engine();
    let east = StoreId::new(12);
    e.unchecked_apply([Mutation::PutStore(Store::new(east, ACME, "East"))])
        .unwrap();
    allow(&e, OWNER, T::SELL, &OnStore(ACME, east), ADMIN);
    deny(
        &e,
        MANAGER_NORTH,
        T::SELL,
        &OnStore(ACME, east),
        DenyReason::OutsideScope(Dimension::Store),
    );
}

#[test]
fn r4_user_without_sources_gets_a_distinct_denial() {
    let e = engine();
    deny(
        &e,
        NO_SOURCES,
        T::SHIP,
        &OnSource(ACME, WAREHOUSE),
        DenyReason::NoSources,
    );
    deny(
        &e,
        NO_SOURCES,
        T::SHIP,
        &order(NORTH, Some(WAREHOUSE), WEB),
        DenyReason::NoSources,
    );
    // Not source-scoped: the same user is fine.
    allow(&e, NO_SOURCES, T::SELL, &OnStore(ACME, NORTH), MANAGER);
}

#[test]
fn r4_specific_sources_limit_orders() {
    let e = engine();
    allow(
        &e,
        MANAGER_NORTH,
        T::SHIP,
        &order(NORTH, Some(SHOP_SOURCE), WEB),
        MANAGER,
    );
    deny(
        &e,
        MANAGER_NORTH,
        T::SHIP,
        &order(NORTH, Some(WAREHOUSE), WEB),
        DenyReason::OutsideScope(Dimension::Source),
    );
}

#[test]
fn r5_unsourced_orders_need_all_sources() {
    let e = engine();
    deny(
        &e,
        MANAGER_NORTH,
        T::SHIP,
        &order(NORTH, None, WEB),
        DenyReason::NeedsAll(Dimension::Source),
    );
    allow(
        &e,
        CASHIER_NORTH,
        T::SHIP,
        &order(NORTH, None, WEB),
        CASHIER,
    );
}

#[test]
fn r5_orders_without_a_channel_need_all_channels() {
    let e = engine();
    let no_channel = Order {
        store: Place::At(NORTH),
        source: Place::At(SHOP_SOURCE),
        channel: Place::Unplaced,
    };
    // The cashier's role ceiling is one channel, so it does not reach unplaced orders.
    deny(
        &e,
        CASHIER_NORTH,
        T::SHIP,
        &no_channel,
        DenyReason::NeedsAll(Dimension::Channel),
    );
    allow(&e, MANAGER_NORTH, T::SHIP, &no_channel, MANAGER);
}

#[test]
fn account_resource_needs_all_stores_unless_account_wide() {
    let e = engine();
    deny(
        &e,
        MANAGER_NORTH,
        T::SELL,
        &OnAccount(ACME),
        DenyReason::NeedsAll(Dimension::Store),
    );
    allow(&e, OWNER, T::SELL, &OnAccount(ACME), ADMIN);
}

#[test]
fn r10_store_manager_reaches_only_users_inside_its_stores() {
    let e = engine();
    allow(
        &e,
        MANAGER_NORTH,
        T::SELL,
        &OnUser(ACME, CASHIER_NORTH),
        MANAGER,
    );
    deny(
        &e,
        MANAGER_NORTH,
        T::SELL,
        &OnUser(ACME, CASHIER_SOUTH),
        DenyReason::OutsideScope(Dimension::Store),
    );
    // A user with all stores lies outside any store-limited manager.
    deny(
        &e,
        MANAGER_NORTH,
        T::SELL,
        &OnUser(ACME, OWNER),
        DenyReason::OutsideScope(Dimension::Store),
    );
}

#[test]
fn r13_account_wide_permission_ignores_store_access() {
    let e = engine();
    allow(
        &e,
        MANAGER_NORTH,
        T::LIST_STAFF,
        &OnStore(ACME, SOUTH),
        MANAGER,
    );
    allow(&e, MANAGER_NORTH, T::LIST_STAFF, &OnAccount(ACME), MANAGER);
    allow(
        &e,
        MANAGER_NORTH,
        T::LIST_STAFF,
        &OnUser(ACME, CASHIER_SOUTH),
        MANAGER,
    );
    // Mixed with a scoped permission, the store scope applies again.
    deny(
        &e,
        MANAGER_NORTH,
        T::LIST_STAFF | T::SELL,
        &OnStore(ACME, SOUTH),
        DenyReason::OutsideScope(Dimension::Store),
    );
}

#[test]
fn r13_entity_level_billing_widens_accountant_and_withholds_store_billing() {
    let e = engine();
    // Billed per store: the accountant sees its store's invoices only; the manager its own.
    allow(
        &e,
        ACCOUNTANT_NORTH,
        T::INVOICES,
        &OnStore(ACME, NORTH),
        ACCOUNTANT,
    );
    deny(
        &e,
        ACCOUNTANT_NORTH,
        T::INVOICES,
        &OnStore(ACME, SOUTH),
        DenyReason::OutsideScope(Dimension::Store),
    );
    allow(
        &e,
        MANAGER_NORTH,
        T::STORE_INVOICES,
        &OnStore(ACME, NORTH),
        MANAGER,
    );

    e.unchecked_apply([Mutation::PutAccount(
        Account::new(ACME, "Acme")
            .with_seat_limit(10)
            .with_entity_level_billing(true),
    )])
    .unwrap();
    allow(
        &e,
        ACCOUNTANT_NORTH,
        T::INVOICES,
        &OnStore(ACME, SOUTH),
        ACCOUNTANT,
    );
    allow(
        &e,
        ACCOUNTANT_NORTH,
        T::INVOICES,
        &OnAccount(ACME),
        ACCOUNTANT,
    );
    deny(
        &e,
        MANAGER_NORTH,
        T::STORE_INVOICES,
        &OnStore(ACME, NORTH),
        DenyReason::PermissionMissing,
    );
}

#[test]
fn r11_owner_only_permission_needs_the_owner() {
    let e = engine();
    allow(&e, OWNER, T::SIGN, &OnAccount(ACME), ADMIN);
    // Another administrator-level user is not the owner.
    e.unchecked_apply([Mutation::PutUser(
        shopguard::User::new(UserId::new(150), ACME, "second-admin", "a2@acme.example")
            .with_grant(shopguard::Grant::new(ADMIN, shopguard::Access::All)),
    )])
    .unwrap();
    deny(
        &e,
        UserId::new(150),
        T::SIGN,
        &OnAccount(ACME),
        DenyReason::OwnerOnly,
    );
    allow(&e, UserId::new(150), T::SELL, &OnAccount(ACME), ADMIN);
}

#[test]
fn decisions_name_the_allowing_grant() {
    let e = engine();
    // Two grants: the first misses the permission, the second allows.
    e.unchecked_apply([Mutation::PutUser(
        shopguard::User::new(UserId::new(160), ACME, "two", "two@acme.example")
            .with_grant(shopguard::Grant::new(
                CASHIER,
                shopguard::Access::specific([SOUTH]),
            ))
            .with_grant(shopguard::Grant::new(
                MANAGER,
                shopguard::Access::specific([NORTH]),
            )),
    )])
    .unwrap();
    match e.check(UserId::new(160), T::REFUND, &OnStore(ACME, NORTH)) {
        Decision::Allow(a) => {
            assert_eq!(a.grant(), 1);
            assert_eq!(a.role(), MANAGER);
        }
        d => panic!("expected allow, got {d}"),
    }
    // SELL at NORTH: the cashier grant holds it but is out of scope; the manager grant allows.
    match e.check(UserId::new(160), T::SELL, &OnStore(ACME, NORTH)) {
        Decision::Allow(a) => assert_eq!(a.grant(), 1),
        d => panic!("expected allow, got {d}"),
    }
}

#[test]
fn deny_reasons_read_as_sentences() {
    let e = engine();
    let d = e.check(CASHIER_NORTH, T::SELL, &OnStore(ACME, SOUTH));
    assert_eq!(d.to_string(), "deny: outside the user's store scope");
    assert_eq!(
        DenyReason::UnknownStore(StoreId::new(5)).to_string(),
        "unknown store `store#5`"
    );
}

#[test]
fn engine_is_send_and_sync_and_shared_across_threads() {
    fn assert_send_sync<X: Send + Sync>() {}
    assert_send_sync::<Engine<T>>();
    let e = std::sync::Arc::new(engine());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || e.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)))
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}

#[test]
fn readers_keep_their_snapshot_while_a_writer_publishes() {
    let e = engine();
    let before = e.snapshot();
    e.unchecked_apply([Mutation::PutUser(
        shopguard::User::new(CASHIER_NORTH, ACME, "ana", "ana@acme.example").with_enabled(false),
    )])
    .unwrap();
    assert!(before.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
    assert!(!e.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
    assert_eq!(e.snapshot().revision(), before.revision() + 1);
}
