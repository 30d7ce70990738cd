//! Reverse queries on the fixture account (R21), and the SQL rendering.

use shopguard::explain::Verdict;
use shopguard::scope::{Columns, Dialect, Filter, SqlParam};
use shopguard::{ErrorKind, OnAccount, OnSource, OnStore, StoreId, UserId};

use crate::fixture::*;

#[test]
fn r21_scope_for_a_store_manager_is_its_store_and_its_source() {
    let e = engine();
    let scope = e.snapshot().scope_for(MANAGER_NORTH, T::SHIP);
    assert_eq!(scope.clauses().len(), 1);
    assert_eq!(scope.stores(), Filter::Only([NORTH].into()));
    assert_eq!(scope.sources(), Filter::Only([SHOP_SOURCE].into()));
    assert_eq!(scope.channels(), Filter::Everything);
    let columns = Columns::new("account_id")
        .store("store_id")
        .source("source_id");
    let sql = scope.to_sql(Dialect::Postgres, &columns, 1).unwrap();
    assert_eq!(
        sql.condition(),
        "(account_id = $1::int8 AND (store_id = ANY($2::int8[]) AND source_id = ANY($3::int8[])))"
    );
    assert_eq!(
        sql.params(),
        [
            SqlParam::Id(ACME.get()),
            SqlParam::Ids(vec![10]),
            SqlParam::Ids(vec![21])
        ]
    );
    assert_eq!(sql.next_param(), 4);
    let sql = scope.to_sql(Dialect::Sqlite, &columns, 3).unwrap();
    assert_eq!(
        sql.condition(),
        "(account_id = ?3 AND (store_id IN (?4) AND source_id IN (?5)))"
    );
    let sql = scope.to_sql(Dialect::MySql, &columns, 3).unwrap();
    assert_eq!(
        sql.condition(),
        "(account_id = ? AND (store_id IN (?) AND source_id IN (?)))"
    );
    assert_eq!(
        sql.params(),
        [SqlParam::Id(ACME.get()), SqlParam::Id(10), SqlParam::Id(21)]
    );
}

#[test]
fn r21_scope_for_without_the_permission_or_user_is_false() {
    let e = engine();
    for (user, p) in [
        (CASHIER_NORTH, T::REFUND),
        (UserId::new(4040), T::SELL),
        (DISABLED, T::SELL),
    ] {
        let scope = e.snapshot().scope_for(user, p);
        assert!(scope.is_nothing());
        assert_eq!(
            scope
                .to_sql(Dialect::Sqlite, &Columns::new("a").store("s"), 1)
                .unwrap()
                .condition(),
            "FALSE"
        );
    }
}

#[test]
fn r4_scope_for_a_user_without_sources_flags_it_and_reaches_no_source_rows() {
    let e = engine();
    let scope = e.snapshot().scope_for(NO_SOURCES, T::SHIP);
    assert!(scope.no_sources());
    assert_eq!(scope.sources(), Filter::Nothing);
    // Store-only tables are still reached, in the user's account only.
    let stores = Columns::new("account_id").store("store_id");
    let sql = scope.to_sql(Dialect::Postgres, &stores, 1).unwrap();
    assert_eq!(sql.condition(), "(account_id = $1::int8)");
    assert_eq!(sql.params(), [SqlParam::Id(ACME.get())]);
    let sql = scope
        .to_sql(Dialect::Postgres, &stores.source("source_id"), 1)
        .unwrap();
    assert_eq!(sql.condition(), "FALSE");
    assert!(sql.params().is_empty());
    assert_eq!(sql.next_param(), 1);
}

#[test]
fn r13_account_wide_permission_scope_is_every_store() {
    let e = engine();
    assert_eq!(
        e.snapshot()
            .scope_for(MANAGER_NORTH, T::LIST_STAFF)
            .stores(),
        Filter::Everything
    );
}

#[test]
fn to_sql_refuses_column_names_that_are_not_identifiers() {
    let e = engine();
    let scope = e.snapshot().scope_for(OWNER, T::SELL);
    for columns in [
        Columns::new("account_id").store("store_id; DROP TABLE orders"),
        Columns::new("account_id OR 1=1").store("store_id"),
        Columns::new(""),
        Columns::new("a..b"),
    ] {
        for dialect in [Dialect::Postgres, Dialect::Sqlite, Dialect::MySql] {
            let err = scope.to_sql(dialect, &columns, 1).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert_eq!(err.field(), Some("column"));
        }
    }
    let err = scope
        .to_sql(Dialect::Sqlite, &Columns::new("account_id"), 0)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn r21_who_can_names_the_users_at_a_store() {
    let e = engine();
    assert_eq!(
        e.snapshot().who_can(T::SELL, &OnStore(ACME, NORTH)),
        vec![OWNER, MANAGER_NORTH, CASHIER_NORTH, NO_SOURCES]
    );
    assert_eq!(
        e.snapshot().who_can(T::SELL, &OnStore(ACME, SOUTH)),
        vec![OWNER, CASHIER_SOUTH, NO_SOURCES]
    );
    // R4: the source-less manager is not among those who ship from a source.
    assert_eq!(
        e.snapshot().who_can(T::SHIP, &OnSource(ACME, SHOP_SOURCE)),
        vec![OWNER, MANAGER_NORTH, CASHIER_NORTH, CASHIER_SOUTH]
    );
    assert_eq!(e.snapshot().who_can(T::SIGN, &OnAccount(ACME)), vec![OWNER]);
    assert!(
        e.snapshot()
            .who_can(T::SELL, &OnStore(ACME, StoreId::new(404)))
            .is_empty()
    );
    assert!(
        e.snapshot()
            .who_can(T::SELL, &OnStore(OTHER, NORTH))
            .is_empty()
    );
}

#[test]
fn explain_lists_what_each_grant_said() {
    let e = engine();
    e.unchecked_apply([shopguard::Mutation::PutUser(
        shopguard::User::new(UserId::new(170), ACME, "maria", "maria@acme.example")
            .with_grant(shopguard::Grant::new(
                CASHIER,
                shopguard::Access::specific([NORTH]),
            ))
            .with_grant(shopguard::Grant::new(
                MANAGER,
                shopguard::Access::specific([SOUTH]),
            )),
    )])
    .unwrap();
    let x = e
        .snapshot()
        .explain(UserId::new(170), T::REFUND, &OnStore(ACME, NORTH));
    assert!(!x.decision().is_allowed());
    assert_eq!(
        x.grants()[0].verdict(),
        Verdict::PermissionMissing(T::REFUND)
    );
    assert_eq!(x.grants()[0].role_name(), Some("Cashier"));
    assert_eq!(
        x.grants()[1].verdict(),
        Verdict::Denies(shopguard::DenyReason::OutsideScope(
            shopguard::Dimension::Store
        ))
    );
    assert_eq!(
        x.to_string(),
        "deny: outside the user's store scope\n  grant 0 (`Cashier`): role lacks `REFUND`\n  grant 1 (`Manager`): outside the user's store scope"
    );
    let early = e
        .snapshot()
        .explain(DISABLED, T::SELL, &OnStore(ACME, NORTH));
    assert!(early.grants().is_empty());
}

#[test]
fn batch_checks_equal_single_checks() {
    let e = engine();
    let orders = [
        OnStore(ACME, NORTH),
        OnStore(ACME, SOUTH),
        OnStore(ACME, StoreId::new(404)),
    ];
    assert_eq!(
        e.snapshot().can_each(CASHIER_NORTH, T::SELL, &orders),
        [true, false, false]
    );
    assert_eq!(
        e.snapshot().can_each(DISABLED, T::SELL, &orders),
        [false, false, false]
    );
    let checks = [
        (CASHIER_NORTH, T::SELL, OnStore(ACME, NORTH)),
        (CASHIER_NORTH, T::SELL, OnStore(ACME, SOUTH)),
        (CASHIER_SOUTH, T::SELL, OnStore(ACME, SOUTH)),
        (CASHIER_NORTH, T::SELL, OnStore(ACME, NORTH)),
    ];
    assert_eq!(e.snapshot().can_many(&checks), [true, false, true, true]);
}
