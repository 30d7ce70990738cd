//! The rules of the read side (R1–R5, R10, R11, R13).
//!
//! Most of them are tables: rows of "this user asks this permission on this resource, and gets
//! this decision", a table per rule, checked against the fixture account by [`expect`], which
//! runs every row and then fails with the list of all rows that did not hold. The tests that
//! change the account between checks run their rows in a table before and after the change;
//! the rest (which grant allows, how a denial reads, threads and snapshots) are ordinary tests.

use shopguard::{
    Account, ChannelId, Decision, DenyReason, Dimension, Engine, ErrorKind, Mutation, OnAccount,
    OnChannel, OnRole, OnSource, OnStore, OnUser, PendingSourcing, Resource, RoleId, SourceId,
    Store, StoreId, UserId,
};

use crate::fixture::*;
use crate::shared::Order;

/// A resource a row can name and a failure can print.
trait Described: Resource + std::fmt::Debug {}

impl<R: Resource + std::fmt::Debug> Described for R {}

/// The decision a row expects.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Allowed, by a grant of this role.
    Allow(RoleId),
    /// Denied, for this reason.
    Deny(DenyReason),
}

use Want::{Allow, Deny};

/// (rule, what the row shows, user, permission, resource, expected decision).
type Row<'r> = (
    &'static str,
    &'static str,
    UserId,
    T,
    &'r dyn Described,
    Want,
);

/// Checks every row: `check` must give the expected decision (an allow naming the expected
/// role), and `can` must agree with it. Fails once, listing every row that did not hold.
#[track_caller]
fn expect(e: &Engine<T>, rows: &[Row<'_>]) {
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|&(rule, what, user, p, r, want)| {
            let got = e.check(user, p, r);
            let can = e.can(user, p, r);
            let holds = match want {
                Allow(role) => matches!(got, Decision::Allow(a) if a.role() == role) && can,
                Deny(reason) => got == Decision::Deny(reason) && !can,
            };
            (!holds).then(|| {
                format!(
                    "{rule} {what}: {user:?} asking {p:?} on {r:?}: expected {want:?}, \
                     got {got:?}, can {can}"
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn r1_deny_by_default() {
    let (store, source, channel) = (StoreId::new(777), SourceId::new(777), ChannelId::new(777));
    let (role, user) = (RoleId::new(777), UserId::new(777));
    let future = T::from_bits_retain(1 << 40);
    expect(
        &engine(),
        &[
            (
                "R1",
                "an unknown user is denied",
                UserId::new(9999),
                T::SELL,
                &OnStore(ACME, NORTH),
                Deny(DenyReason::UnknownUser),
            ),
            (
                "R1",
                "a disabled user is denied, even an administrator",
                DISABLED,
                T::SELL,
                &OnStore(ACME, NORTH),
                Deny(DenyReason::UserDisabled),
            ),
            (
                "R1",
                "an unknown store is denied",
                OWNER,
                T::SELL,
                &OnStore(ACME, store),
                Deny(DenyReason::UnknownStore(store)),
            ),
            (
                "R1",
                "an unknown source is denied",
                OWNER,
                T::SHIP,
                &OnSource(ACME, source),
                Deny(DenyReason::UnknownSource(source)),
            ),
            (
                "R1",
                "an unknown channel is denied",
                OWNER,
                T::SHIP,
                &OnChannel(ACME, channel),
                Deny(DenyReason::UnknownChannel(channel)),
            ),
            (
                "R1",
                "an unknown role is denied",
                OWNER,
                T::SELL,
                &OnRole(ACME, role),
                Deny(DenyReason::UnknownRole(role)),
            ),
            (
                "R1",
                "an unknown target user is denied",
                OWNER,
                T::SELL,
                &OnUser(ACME, user),
                Deny(DenyReason::UnknownTargetUser(user)),
            ),
            (
                "R1",
                "asking no permission is denied",
                OWNER,
                T::empty(),
                &OnStore(ACME, NORTH),
                Deny(DenyReason::NoPermissionAsked),
            ),
            (
                "R1",
                "bits the catalog does not know are never granted",
                OWNER,
                future,
                &OnStore(ACME, NORTH),
                Deny(DenyReason::PermissionMissing),
            ),
            (
                "R1",
                "a resource of another account is denied",
                OWNER,
                T::SELL,
                &OnStore(OTHER, FOREIGN_STORE),
                Deny(DenyReason::WrongAccount),
            ),
            (
                "R1",
                "a resource of our account naming another account's store is denied",
                OWNER,
                T::SELL,
                &OnStore(ACME, FOREIGN_STORE),
                Deny(DenyReason::UnknownStore(FOREIGN_STORE)),
            ),
            (
                "R1",
                "another account's owner is denied on our store",
                OTHER_OWNER,
                T::SELL,
                &OnStore(ACME, NORTH),
                Deny(DenyReason::WrongAccount),
            ),
            (
                "R1",
                "another account's role is unknown as a subject",
                OWNER,
                T::SELL,
                &OnRole(ACME, RoleId::new(50)),
                Deny(DenyReason::UnknownRole(RoleId::new(50))),
            ),
            (
                "R1",
                "another account's user is unknown as a subject",
                OWNER,
                T::SELL,
                &OnUser(ACME, OTHER_OWNER),
                Deny(DenyReason::UnknownTargetUser(OTHER_OWNER)),
            ),
        ],
    );
}

#[test]
fn r2_one_grant_must_hold_every_permission_within_its_scope() {
    expect(
        &engine(),
        &[
            (
                "R2",
                "a cashier sells in its own store",
                CASHIER_NORTH,
                T::SELL,
                &OnStore(ACME, NORTH),
                Allow(CASHIER),
            ),
            (
                "R2",
                "a cashier does not sell in another store",
                CASHIER_NORTH,
                T::SELL,
                &OnStore(ACME, SOUTH),
                Deny(DenyReason::OutsideScope(Dimension::Store)),
            ),
            (
                "R2",
                "a permission the role does not hold is denied",
                CASHIER_NORTH,
                T::REFUND,
                &OnStore(ACME, NORTH),
                Deny(DenyReason::PermissionMissing),
            ),
            (
                "R2",
                "several permissions, all held, are allowed",
                MANAGER_NORTH,
                T::SELL | T::REFUND,
                &OnStore(ACME, NORTH),
                Allow(MANAGER),
            ),
            (
                "R2",
                "several permissions, one not held, are denied",
                CASHIER_NORTH,
                T::SELL | T::REFUND,
                &OnStore(ACME, NORTH),
                Deny(DenyReason::PermissionMissing),
            ),
            // The cashier has all channels, but the role's ceiling is the web store.
            (
                "R2",
                "the role's channel ceiling lets the cashier ship web orders",
                CASHIER_NORTH,
                T::SHIP,
                &Order::at(ACME, NORTH, SHOP_SOURCE, WEB),
                Allow(CASHIER),
            ),
            (
                "R2",
                "the role's channel ceiling narrows the cashier's channels to the web store",
                CASHIER_NORTH,
                T::SHIP,
                &Order::at(ACME, NORTH, SHOP_SOURCE, MARKET),
                Deny(DenyReason::OutsideScope(Dimension::Channel)),
            ),
        ],
    );
}

#[test]
fn r3_all_covers_stores_created_later_and_specific_does_not() {
    let e = engine();
    let east = StoreId::new(12);
    e.unchecked_apply([Mutation::PutStore(Store::new(east, ACME, "East"))])
        .unwrap();
    expect(
        &e,
        &[
            (
                "R3",
                "all stores cover a store created later",
                OWNER,
                T::SELL,
                &OnStore(ACME, east),
                Allow(ADMIN),
            ),
            (
                "R3",
                "specific stores do not cover a store created later",
                MANAGER_NORTH,
                T::SELL,
                &OnStore(ACME, east),
                Deny(DenyReason::OutsideScope(Dimension::Store)),
            ),
        ],
    );
}

#[test]
fn r4_sources_limit_what_is_source_scoped() {
    expect(
        &engine(),
        &[
            (
                "R4",
                "a user without sources gets its own denial on a source",
                NO_SOURCES,
                T::SHIP,
                &OnSource(ACME, WAREHOUSE),
                Deny(DenyReason::NoSources),
            ),
            (
                "R4",
                "a user without sources gets its own denial on an order",
                NO_SOURCES,
                T::SHIP,
                &Order::at(ACME, NORTH, WAREHOUSE, WEB),
                Deny(DenyReason::NoSources),
            ),
            (
                "R4",
                "a user without sources is fine where nothing is source-scoped",
                NO_SOURCES,
                T::SELL,
                &OnStore(ACME, NORTH),
                Allow(MANAGER),
            ),
            (
                "R4",
                "specific sources reach orders from those sources",
                MANAGER_NORTH,
                T::SHIP,
                &Order::at(ACME, NORTH, SHOP_SOURCE, WEB),
                Allow(MANAGER),
            ),
            (
                "R4",
                "specific sources do not reach orders from other sources",
                MANAGER_NORTH,
                T::SHIP,
                &Order::at(ACME, NORTH, WAREHOUSE, WEB),
                Deny(DenyReason::OutsideScope(Dimension::Source)),
            ),
        ],
    );
}

#[test]
fn r5_unplaced_resources_need_all_of_their_dimension() {
    expect(
        &engine(),
        &[
            (
                "R5",
                "an unsourced order is out of reach of specific sources",
                MANAGER_NORTH,
                T::SHIP,
                &Order::pending_sourcing(ACME, NORTH, WEB),
                Deny(DenyReason::NeedsAll(Dimension::Source)),
            ),
            (
                "R5",
                "an unsourced order needs all sales channels too: the cashier's ceiling is one",
                CASHIER_NORTH,
                T::SHIP,
                &Order::pending_sourcing(ACME, NORTH, WEB),
                Deny(DenyReason::NeedsAll(Dimension::Channel)),
            ),
            (
                "R5",
                "an unsourced order is reached with all sources and all channels",
                OWNER,
                T::SHIP,
                &Order::pending_sourcing(ACME, NORTH, WEB),
                Allow(ADMIN),
            ),
            // The cashier's role ceiling is one channel, so it does not reach unplaced orders.
            (
                "R5",
                "an order without a channel is out of reach of a channel ceiling",
                CASHIER_NORTH,
                T::SHIP,
                &Order::without_channel(ACME, NORTH, SHOP_SOURCE),
                Deny(DenyReason::NeedsAll(Dimension::Channel)),
            ),
            (
                "R5",
                "an order without a channel is reached with all channels",
                MANAGER_NORTH,
                T::SHIP,
                &Order::without_channel(ACME, NORTH, SHOP_SOURCE),
                Allow(MANAGER),
            ),
            (
                "R5",
                "the account as a whole is out of reach of specific stores",
                MANAGER_NORTH,
                T::SELL,
                &OnAccount(ACME),
                Deny(DenyReason::NeedsAll(Dimension::Store)),
            ),
            (
                "R5",
                "the account as a whole is reached with all stores",
                OWNER,
                T::SELL,
                &OnAccount(ACME),
                Allow(ADMIN),
            ),
        ],
    );
}

#[test]
fn r5_a_host_may_narrow_pending_sourcing_to_all_sources() {
    let e = engine();
    let acme = e.snapshot().account(ACME).unwrap().clone();
    e.unchecked_apply([Mutation::PutAccount(
        acme.with_pending_sourcing(PendingSourcing::AllSources),
    )])
    .unwrap();
    expect(
        &e,
        &[
            (
                "R5",
                "narrowed: an unsourced order on the cashier's channel is reached",
                CASHIER_NORTH,
                T::SHIP,
                &Order::pending_sourcing(ACME, NORTH, WEB),
                Allow(CASHIER),
            ),
            (
                "R5",
                "narrowed: its channel is still checked",
                CASHIER_NORTH,
                T::SHIP,
                &Order::pending_sourcing(ACME, NORTH, MARKET),
                Deny(DenyReason::OutsideScope(Dimension::Channel)),
            ),
            (
                "R5",
                "narrowed: all sources are still needed",
                MANAGER_NORTH,
                T::SHIP,
                &Order::pending_sourcing(ACME, NORTH, WEB),
                Deny(DenyReason::NeedsAll(Dimension::Source)),
            ),
        ],
    );
    // Stored with the account; an account with the default is stored as before the setting.
    let narrowed = e.snapshot().account(ACME).unwrap().clone();
    let json = serde_json::to_string(&narrowed).unwrap();
    assert!(
        json.contains("\"pending_sourcing\":\"AllSources\""),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Account>(&json).unwrap(), narrowed);
    let default = Account::new(ACME, "Acme");
    let json = serde_json::to_string(&default).unwrap();
    assert!(!json.contains("pending_sourcing"), "{json}");
    assert_eq!(serde_json::from_str::<Account>(&json).unwrap(), default);
}

#[test]
fn r10_store_manager_reaches_only_users_inside_its_stores() {
    expect(
        &engine(),
        &[
            (
                "R10",
                "a store manager reaches a user of its store",
                MANAGER_NORTH,
                T::SELL,
                &OnUser(ACME, CASHIER_NORTH),
                Allow(MANAGER),
            ),
            (
                "R10",
                "a store manager does not reach a user of another store",
                MANAGER_NORTH,
                T::SELL,
                &OnUser(ACME, CASHIER_SOUTH),
                Deny(DenyReason::OutsideScope(Dimension::Store)),
            ),
            (
                "R10",
                "a user with all stores lies outside any store-limited manager",
                MANAGER_NORTH,
                T::SELL,
                &OnUser(ACME, OWNER),
                Deny(DenyReason::OutsideScope(Dimension::Store)),
            ),
        ],
    );
}

#[test]
fn r13_account_wide_permission_ignores_store_access() {
    expect(
        &engine(),
        &[
            (
                "R13",
                "an account-wide permission reaches a store outside the grant",
                MANAGER_NORTH,
                T::LIST_STAFF,
                &OnStore(ACME, SOUTH),
                Allow(MANAGER),
            ),
            (
                "R13",
                "an account-wide permission reaches the account as a whole",
                MANAGER_NORTH,
                T::LIST_STAFF,
                &OnAccount(ACME),
                Allow(MANAGER),
            ),
            (
                "R13",
                "an account-wide permission reaches a user outside the grant",
                MANAGER_NORTH,
                T::LIST_STAFF,
                &OnUser(ACME, CASHIER_SOUTH),
                Allow(MANAGER),
            ),
            (
                "R13",
                "mixed with a scoped permission, the store scope applies again",
                MANAGER_NORTH,
                T::LIST_STAFF | T::SELL,
                &OnStore(ACME, SOUTH),
                Deny(DenyReason::OutsideScope(Dimension::Store)),
            ),
        ],
    );
}

#[test]
fn r13_entity_level_billing_widens_accountant_and_withholds_store_billing() {
    let e = engine();
    // Billed per store: the accountant sees its store's invoices only; the manager its own.
    expect(
        &e,
        &[
            (
                "R13",
                "billed per store, the accountant sees its store's invoices",
                ACCOUNTANT_NORTH,
                T::INVOICES,
                &OnStore(ACME, NORTH),
                Allow(ACCOUNTANT),
            ),
            (
                "R13",
                "billed per store, the accountant does not see another store's invoices",
                ACCOUNTANT_NORTH,
                T::INVOICES,
                &OnStore(ACME, SOUTH),
                Deny(DenyReason::OutsideScope(Dimension::Store)),
            ),
            (
                "R13",
                "billed per store, the manager sees its store's invoices",
                MANAGER_NORTH,
                T::STORE_INVOICES,
                &OnStore(ACME, NORTH),
                Allow(MANAGER),
            ),
        ],
    );

    e.unchecked_apply([Mutation::PutAccount(
        Account::new(ACME, "Acme")
            .with_seat_limit(10)
            .with_entity_level_billing(true),
    )])
    .unwrap();
    expect(
        &e,
        &[
            (
                "R13",
                "billed per entity, the accountant sees another store's invoices",
                ACCOUNTANT_NORTH,
                T::INVOICES,
                &OnStore(ACME, SOUTH),
                Allow(ACCOUNTANT),
            ),
            (
                "R13",
                "billed per entity, the accountant sees the account's invoices",
                ACCOUNTANT_NORTH,
                T::INVOICES,
                &OnAccount(ACME),
                Allow(ACCOUNTANT),
            ),
            (
                "R13",
                "billed per entity, store billing is withheld from the manager",
                MANAGER_NORTH,
                T::STORE_INVOICES,
                &OnStore(ACME, NORTH),
                Deny(DenyReason::PermissionMissing),
            ),
        ],
    );
}

#[test]
fn r11_owner_only_permission_needs_the_owner() {
    let e = engine();
    expect(
        &e,
        &[(
            "R11",
            "the owner signs",
            OWNER,
            T::SIGN,
            &OnAccount(ACME),
            Allow(ADMIN),
        )],
    );
    // Another administrator-level user is not the owner.
    let second = UserId::new(150);
    e.unchecked_apply([Mutation::PutUser(
        shopguard::User::new(second, ACME, "second-admin", "a2@acme.example")
            .with_grant(shopguard::Grant::new(ADMIN, shopguard::Access::All)),
    )])
    .unwrap();
    expect(
        &e,
        &[
            (
                "R11",
                "another administrator does not sign",
                second,
                T::SIGN,
                &OnAccount(ACME),
                Deny(DenyReason::OwnerOnly),
            ),
            (
                "R11",
                "another administrator does what is not owner-only",
                second,
                T::SELL,
                &OnAccount(ACME),
                Allow(ADMIN),
            ),
        ],
    );
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

/// R1: an actor that may not act at all (unknown, disabled) is `InvalidActor` on every write
/// path, never the `NotFound` a missing or unseen target gets, so a host can answer 401 / 403
/// for the one and 404 for the other.
#[test]
fn r1_an_unknown_or_disabled_actor_is_invalid_actor_and_never_not_found() {
    let e = engine();
    let before = state(&e);
    let ghost = UserId::new(4040);
    let change = || shopguard::Change::DisableUser(CASHIER_NORTH);
    for actor in [ghost, DISABLED] {
        let err = e.apply(actor, change()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidActor, "{err}");
        let err = e.apply_all(actor, vec![change()]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidActor, "{err}");
        let err = e.dry_run(actor, &[change()]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidActor, "{err}");
        let err = e
            .apply_based_on(actor, e.revision(), vec![change()])
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidActor, "{err}");
    }
    assert_eq!(
        e.apply(ghost, change()).unwrap_err().to_string(),
        "cannot act: no user has id `4040`"
    );
    // The targets: a missing user and another account's user are `NotFound`.
    for target in [ghost, OTHER_OWNER] {
        let err = e
            .apply(OWNER, shopguard::Change::DisableUser(target))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }
    assert_eq!(state(&e), before);
}
