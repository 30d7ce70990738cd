//! Model invariants that even `unchecked_apply` keeps, and all-or-nothing batches.

use shopguard::{
    Access, Account, Engine, ErrorKind, Grant, Mutation, OnStore, RoleId, Store, StoreId, User,
    UserId,
};

use crate::fixture::*;

#[track_caller]
fn refused(e: &Engine<T>, batch: Vec<Mutation<T>>, kind: ErrorKind) -> String {
    let before = state(e);
    let err = e
        .unchecked_apply(batch)
        .expect_err("batch should be refused");
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(state(e), before, "a refused batch changed the engine");
    err.to_string()
}

fn user(id: u64, name: &str) -> User {
    User::new(UserId::new(id), ACME, name, &format!("{name}@acme.example"))
        .with_grant(Grant::new(CASHIER, Access::specific([NORTH])))
}

#[test]
fn r12_enabling_past_the_seat_limit_fails_and_disabled_users_do_not_count() {
    let e = engine();
    // 6 enabled of 10 in ACME (DISABLED does not count): 4 more fill the plan.
    let four: Vec<_> = (0..4)
        .map(|i| Mutation::PutUser(user(300 + i, &format!("extra{i}"))))
        .collect();
    e.unchecked_apply(four).unwrap();
    let msg = refused(
        &e,
        vec![Mutation::PutUser(user(310, "one-too-many"))],
        ErrorKind::SeatLimit,
    );
    assert_eq!(
        msg,
        "`Acme` would have 11 enabled users: the plan allows 10"
    );
    // A disabled user is kept and does not count.
    e.unchecked_apply([Mutation::PutUser(user(310, "kept").with_enabled(false))])
        .unwrap();
    assert!(e.snapshot().user(UserId::new(310)).is_some());
}

#[test]
fn r11_owner_cannot_be_disabled_removed_or_doubled() {
    let e = engine();
    let owner = e.snapshot().user(OWNER).unwrap().clone();
    refused(
        &e,
        vec![Mutation::PutUser(owner.clone().with_enabled(false))],
        ErrorKind::Owner,
    );
    refused(&e, vec![Mutation::RemoveUser(OWNER)], ErrorKind::Owner);
    refused(
        &e,
        vec![Mutation::PutUser(user(320, "second").with_owner(true))],
        ErrorKind::Owner,
    );
    // Demoting the owner to a level-3 role breaks the owner rule too.
    refused(
        &e,
        vec![Mutation::PutUser(
            owner
                .clone()
                .with_grants([Grant::new(CASHIER, Access::All)]),
        )],
        ErrorKind::Owner,
    );
    // A transfer in one batch is fine.
    let heir = user(321, "heir")
        .with_grants([Grant::new(ADMIN, Access::All)])
        .with_owner(true);
    e.unchecked_apply([
        Mutation::PutUser(owner.with_owner(false)),
        Mutation::PutUser(heir),
    ])
    .unwrap();
    assert!(e.snapshot().user(UserId::new(321)).unwrap().is_owner());
}

#[test]
fn r16_usernames_have_no_white_space_and_are_unique_ignoring_case() {
    let e = engine();
    let msg = refused(
        &e,
        vec![Mutation::PutUser(user(330, "store assistant"))],
        ErrorKind::InvalidInput,
    );
    assert_eq!(
        msg,
        "invalid username `store assistant`: must not contain white space"
    );
    refused(
        &e,
        vec![Mutation::PutUser(user(330, ""))],
        ErrorKind::InvalidInput,
    );
    let dup = User::new(UserId::new(331), ACME, "ANA", "other@acme.example")
        .with_grant(Grant::new(CASHIER, Access::specific([NORTH])));
    let err = e.unchecked_apply([Mutation::PutUser(dup)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Duplicate);
    assert_eq!(err.field(), Some("username"));
    // The same username in another account is fine.
    let e2 = User::new(UserId::new(332), OTHER, "ana", "ana@other.example");
    e.unchecked_apply([Mutation::PutUser(e2)]).unwrap();
}

#[test]
fn r16_emails_are_valid_and_unique() {
    let e = engine();
    let bad = User::new(UserId::new(340), ACME, "x", "not-an-email");
    let err = e.unchecked_apply([Mutation::PutUser(bad)]).unwrap_err();
    assert_eq!(err.field(), Some("e-mail"));
    let dup = User::new(UserId::new(341), ACME, "y", "ANA@acme.example");
    let err = e.unchecked_apply([Mutation::PutUser(dup)]).unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::Duplicate, Some("e-mail"))
    );
}

#[test]
fn references_must_exist_in_the_same_account() {
    let e = engine();
    // Another account's object is not found, exactly like an id of nothing: naming the account
    // that holds it would tell one tenant about another.
    let foreign = user(350, "x").with_grants([Grant::new(RoleId::new(50), Access::All)]);
    refused(&e, vec![Mutation::PutUser(foreign)], ErrorKind::NotFound);
    let foreign_store =
        user(351, "y").with_grants([Grant::new(CASHIER, Access::specific([FOREIGN_STORE]))]);
    refused(
        &e,
        vec![Mutation::PutUser(foreign_store)],
        ErrorKind::NotFound,
    );
    let missing = user(352, "z").with_grants([Grant::new(RoleId::new(404), Access::All)]);
    refused(&e, vec![Mutation::PutUser(missing)], ErrorKind::NotFound);
    // An id never moves between accounts.
    refused(
        &e,
        vec![Mutation::PutStore(Store::new(NORTH, OTHER, "North"))],
        ErrorKind::WrongAccount,
    );
}

#[test]
fn r15_removing_a_role_in_use_is_refused_and_names_its_users() {
    let e = engine();
    let msg = refused(&e, vec![Mutation::RemoveRole(CASHIER)], ErrorKind::InUse);
    assert!(msg.contains("`ana`"), "{msg}");
    let msg = refused(&e, vec![Mutation::RemoveStore(NORTH)], ErrorKind::InUse);
    assert!(msg.contains("marta"), "{msg}");
}

#[test]
fn a_batch_with_one_bad_mutation_applies_nothing() {
    let e = engine();
    refused(
        &e,
        vec![
            Mutation::PutStore(Store::new(StoreId::new(13), ACME, "West")),
            Mutation::PutUser(user(360, "fine")),
            Mutation::PutUser(user(361, "not fine")),
        ],
        ErrorKind::InvalidInput,
    );
    assert!(e.snapshot().store(StoreId::new(13)).is_none());
    assert!(!e.can(UserId::new(360), T::SELL, &OnStore(ACME, NORTH)));
}

#[test]
fn stored_masks_with_unknown_bits_are_refused() {
    use serde::Deserialize;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, U64Deserializer};
    use shopguard::Catalog;

    // A mask written by a newer catalog: bit 40 means nothing here and must not be dropped.
    let err = T::from_stored_bits(1 << 40).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let d: U64Deserializer<Error> = (1u64 << 40 | 1).into_deserializer();
    assert!(T::deserialize(d).is_err());
    let d: U64Deserializer<Error> = 0b11u64.into_deserializer();
    assert_eq!(T::deserialize(d).unwrap(), T::SELL | T::REFUND);
}

#[test]
fn removing_an_empty_account_works_and_a_full_one_is_refused() {
    let e = engine();
    refused(&e, vec![Mutation::RemoveAccount(OTHER)], ErrorKind::InUse);
    let lone = shopguard::AccountId::new(3);
    e.unchecked_apply([Mutation::PutAccount(Account::new(lone, "Lone"))])
        .unwrap();
    e.unchecked_apply([Mutation::RemoveAccount(lone)]).unwrap();
    assert!(e.snapshot().account(lone).is_none());
}

#[test]
fn errors_carry_what_they_are_about_typed() {
    use shopguard::storage::{Key, ObjectKind};
    let e = engine();
    // The id not found.
    let missing = user(360, "m").with_grants([Grant::new(RoleId::new(404), Access::All)]);
    let err = e.unchecked_apply([Mutation::PutUser(missing)]).unwrap_err();
    assert_eq!(
        err.key(),
        Some(Key {
            kind: ObjectKind::Role,
            id: 404
        })
    );
    // The seat figures and the account (ACME allows 10 enabled users).
    let many: Vec<Mutation<T>> = (0..10)
        .map(|i| {
            Mutation::PutUser(
                user(370 + i, &format!("s{i}")).with_grants([Grant::new(CASHIER, Access::All)]),
            )
        })
        .collect();
    let err = e.unchecked_apply(many).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeatLimit);
    assert_eq!((err.account(), err.seat_limit()), (Some(ACME), Some(10)));
    assert!(err.enabled_users().is_some_and(|n| n > 10));
    // A taken name, in its account.
    let dup = User::new(UserId::new(390), ACME, "ANA", "other@acme.example");
    let err = e.unchecked_apply([Mutation::PutUser(dup)]).unwrap_err();
    assert_eq!(
        (err.kind(), err.account(), err.field()),
        (ErrorKind::Duplicate, Some(ACME), Some("username"))
    );
}

/// `next_id` on an engine of its own (the default `Volatile` store): above every id it was
/// given, removed ones included, one sequence per kind; blocks are consecutive; a partitioned
/// replica allocates nothing; a block too large is refused.
#[test]
fn an_engine_allocates_ids_above_every_id_it_was_given() {
    let e = engine();
    // The fixture's users go up to 200, its stores to 90, its roles to 50.
    let u: UserId = e.next_id().unwrap();
    assert_eq!(u, UserId::new(201));
    assert_eq!(e.next_id::<StoreId>().unwrap(), StoreId::new(91));
    assert_eq!(e.next_id::<RoleId>().unwrap(), RoleId::new(51));
    // A host's own id above the sequence: allocation continues above it.
    e.unchecked_apply([Mutation::PutUser(user(900, "own").with_enabled(false))])
        .unwrap();
    e.unchecked_apply([Mutation::RemoveUser(UserId::new(900))])
        .unwrap();
    let block: Vec<UserId> = e.next_ids(3).unwrap();
    assert_eq!(block, [901, 902, 903].map(UserId::new));
    assert_eq!(e.next_id::<UserId>().unwrap(), UserId::new(904));
    assert!(e.next_ids::<UserId>(0).unwrap().is_empty());
    let err = e.next_ids::<UserId>(2_000_000).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(e.next_id::<UserId>().unwrap(), UserId::new(905));
    let store = std::sync::Arc::new(shopguard::storage::MemoryStorage::<T>::new());
    Engine::open(std::sync::Arc::clone(&store))
        .unwrap()
        .unchecked_apply(base())
        .unwrap();
    let part = Engine::<T>::open_for(store, [ACME]).unwrap();
    let err = part.next_id::<UserId>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReadOnly);
}
