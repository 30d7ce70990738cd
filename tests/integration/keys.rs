//! `UserKey` and `Reader`: the fast forms of a check give the same answers as the plain ones.

use std::sync::Arc;
use std::thread;

use shopguard::{
    Access, Decision, DenyReason, Engine, Grant, Mutation, OnAccount, OnChannel, OnSource, OnStore,
    OnUser, Resource, User, UserId, UserKey,
};

use crate::fixture::*;

/// Every fixture user, and ids of no user.
fn users() -> Vec<UserId> {
    vec![
        OWNER,
        MANAGER_NORTH,
        CASHIER_NORTH,
        CASHIER_SOUTH,
        DISABLED,
        NO_SOURCES,
        ACCOUNTANT_NORTH,
        OTHER_OWNER,
        UserId::new(999),
    ]
}

fn resources() -> Vec<Box<dyn Resource>> {
    vec![
        Box::new(OnAccount(ACME)),
        Box::new(OnAccount(OTHER)),
        Box::new(OnStore(ACME, NORTH)),
        Box::new(OnStore(ACME, SOUTH)),
        Box::new(OnStore(ACME, FOREIGN_STORE)),
        Box::new(OnStore(OTHER, FOREIGN_STORE)),
        Box::new(OnSource(ACME, WAREHOUSE)),
        Box::new(OnSource(ACME, SHOP_SOURCE)),
        Box::new(OnChannel(ACME, WEB)),
        Box::new(OnChannel(ACME, MARKET)),
        Box::new(OnUser(ACME, CASHIER_NORTH)),
        Box::new(OnUser(ACME, OWNER)),
    ]
}

/// Every single permission and a few combinations.
fn permissions() -> Vec<T> {
    let mut ps: Vec<T> = T::all().iter().collect();
    ps.extend([T::empty(), T::SELL | T::REFUND, T::all()]);
    ps
}

/// Asks every (user, permission, resource) by id, by `key`, and through a reader, and asserts
/// that they agree; returns how many were allowed (so a caller can see the checks were real).
fn assert_keys_agree(e: &Engine<T>, key: impl Fn(UserId) -> Option<UserKey>) -> usize {
    let mut reader = e.reader();
    let mut allowed = 0;
    for user in users() {
        let k = key(user);
        for p in permissions() {
            for r in resources() {
                let by_id = e.check(user, p, r.as_ref());
                assert_eq!(e.can(user, p, r.as_ref()), by_id.is_allowed());
                assert_eq!(reader.check(user, p, r.as_ref()), by_id, "{user} {p:?}");
                assert_eq!(reader.can(user, p, r.as_ref()), by_id.is_allowed());
                if let Some(k) = k {
                    assert_eq!(k.id(), user);
                    assert_eq!(e.check(k, p, r.as_ref()), by_id, "{k:?} {p:?}");
                    assert_eq!(e.can(k, p, r.as_ref()), by_id.is_allowed(), "{k:?} {p:?}");
                    assert_eq!(e.snapshot().check(k, p, r.as_ref()), by_id);
                    assert_eq!(reader.check(k, p, r.as_ref()), by_id, "{k:?} {p:?}");
                    assert_eq!(reader.can(k, p, r.as_ref()), by_id.is_allowed());
                }
                allowed += usize::from(by_id.is_allowed());
            }
        }
    }
    allowed
}

#[test]
fn a_key_answers_as_the_id_does() {
    let e = engine();
    let allowed = assert_keys_agree(&e, |u| e.user_key(u));
    assert!(
        allowed > 50,
        "only {allowed} checks allowed: the comparison proves little"
    );
    // Only users have keys.
    assert_eq!(e.user_key(UserId::new(999)), None);
    assert_eq!(e.reader().user_key(OWNER), e.user_key(OWNER));
    assert_eq!(e.snapshot().user_key(OWNER), e.user_key(OWNER));
}

/// `active_user` names the key and account of an enabled user, and nothing for a disabled or
/// unknown one (found by mutation testing: only its doc test, which nextest does not run,
/// called it).
#[test]
fn the_active_user_is_an_enabled_users_key_and_account() {
    let e = engine();
    let snapshot = e.snapshot();
    let mut active = 0;
    for user in users() {
        let expected = snapshot
            .user(user)
            .filter(|u| u.is_enabled())
            .map(|u| (e.user_key(user).unwrap(), u.account()));
        assert_eq!(e.active_user(user), expected, "{user}");
        active += usize::from(expected.is_some());
    }
    assert!(
        active >= 5,
        "only {active} active users: the comparison proves little"
    );
    assert_eq!(e.active_user(DISABLED), None);
    assert_eq!(e.active_user(UserId::new(999)), None);
    assert_eq!(e.active_user(OTHER_OWNER).map(|(_, a)| a), Some(OTHER));
}

#[test]
fn a_stale_key_is_slower_never_wrong() {
    let e = engine();
    let old: Vec<(UserId, UserKey)> = users()
        .into_iter()
        .filter_map(|u| Some((u, e.user_key(u)?)))
        .collect();
    // A user removed (the last record moves into its place), another changed, then thousands
    // added (the freed places are taken by other users).
    e.unchecked_apply([
        Mutation::RemoveUser(CASHIER_SOUTH),
        Mutation::PutUser(
            e.snapshot()
                .user(MANAGER_NORTH)
                .unwrap()
                .clone()
                .with_grant(Grant::new(CASHIER, Access::specific([SOUTH]))),
        ),
    ])
    .unwrap();
    let many = (0..5_000u64).map(|n| {
        Mutation::PutUser(User::new(
            UserId::new(10_000 + n),
            OTHER,
            &format!("u{n}"),
            &format!("u{n}@other.example"),
        ))
    });
    e.unchecked_apply(many).unwrap();
    let moved = old
        .iter()
        .filter(|(u, k)| e.user_key(*u).is_some_and(|now| now != *k))
        .count();
    assert!(
        moved > 0,
        "no user's record moved: this test does not test stale keys of existing users"
    );

    let stale = |u: UserId| old.iter().find(|(x, _)| *x == u).map(|(_, k)| *k);
    let allowed = assert_keys_agree(&e, stale);
    assert!(allowed > 50);
    let k = stale(CASHIER_SOUTH).unwrap();
    assert_eq!(
        e.check(k, T::SELL, &OnStore(ACME, SOUTH)),
        Decision::Deny(DenyReason::UnknownUser)
    );
    assert!(e.can(
        stale(MANAGER_NORTH).unwrap(),
        T::SELL,
        &OnStore(ACME, SOUTH)
    ));
}

#[test]
fn a_reader_sees_every_write_at_its_next_check() {
    let e = engine();
    let mut reader = e.reader();
    let key = e.user_key(CASHIER_NORTH).unwrap();
    let till = OnStore(ACME, NORTH);
    let ana = e.snapshot().user(CASHIER_NORTH).unwrap().clone();
    for round in 0..50 {
        let enabled = round % 2 == 1;
        e.unchecked_apply([Mutation::PutUser(ana.clone().with_enabled(enabled))])
            .unwrap();
        assert_eq!(reader.can(key, T::SELL, &till), enabled, "round {round}");
        assert_eq!(reader.can(CASHIER_NORTH, T::SELL, &till), enabled);
        assert_eq!(reader.snapshot().revision(), e.revision());
    }
}

#[test]
fn readers_on_threads_agree_with_the_engine_while_it_changes() {
    let e = Arc::new(engine());
    let ana = e.snapshot().user(CASHIER_NORTH).unwrap().clone();
    let till = OnStore(ACME, NORTH);
    let checkers: Vec<_> = (0..2)
        .map(|_| {
            let e = Arc::clone(&e);
            thread::spawn(move || {
                let mut reader = e.reader();
                let key = e.user_key(CASHIER_NORTH).unwrap();
                let mut seen = [0usize; 2];
                for _ in 0..20_000 {
                    // Whatever the writer is doing, a disabled Ana never sells at SOUTH and
                    // the owner always may.
                    assert!(!reader.can(key, T::SELL, &OnStore(ACME, SOUTH)));
                    assert!(reader.can(OWNER, T::SELL, &till));
                    seen[usize::from(reader.can(key, T::SELL, &till))] += 1;
                }
                (seen, reader.can(key, T::SELL, &till))
            })
        })
        .collect();
    for round in 0..200 {
        e.unchecked_apply([Mutation::PutUser(ana.clone().with_enabled(round % 2 == 0))])
            .unwrap();
    }
    let last = e.can(CASHIER_NORTH, T::SELL, &till);
    for c in checkers {
        let (seen, _) = c.join().unwrap();
        assert_eq!(seen.iter().sum::<usize>(), 20_000);
    }
    // After the writes, a new check through a reader sees the last state.
    let mut reader = e.reader();
    assert_eq!(reader.can(CASHIER_NORTH, T::SELL, &till), last);
    assert!(!last, "the last write disabled Ana");
}

/// The check's quick path keeps a summary per user; every kind of edit that changes an answer
/// shows in the next check, through the same batch's authorization too.
#[test]
fn every_edit_shows_in_the_next_check() {
    let e = engine();
    let till = OnStore(ACME, NORTH);
    let snap = e.snapshot();
    let cashier = snap.role(CASHIER).unwrap().clone();
    assert!(e.can(CASHIER_NORTH, T::SELL, &till));
    // The role loses a permission.
    let without_sell = shopguard::Role::new(
        CASHIER,
        ACME,
        "Cashier",
        cashier.level(),
        cashier.permissions().difference(T::SELL),
    );
    e.unchecked_apply([Mutation::PutRole(without_sell)])
        .unwrap();
    assert!(!e.can(CASHIER_NORTH, T::SELL, &till));
    assert!(e.can(CASHIER_NORTH, T::SHIP, &till));
    // The role gets a store ceiling that leaves NORTH out: the full check decides.
    e.unchecked_apply([Mutation::PutRole(
        cashier
            .clone()
            .with_store_ceiling(Access::specific([SOUTH])),
    )])
    .unwrap();
    assert_eq!(
        e.check(CASHIER_NORTH, T::SELL, &till),
        Decision::Deny(DenyReason::OutsideScope(shopguard::Dimension::Store))
    );
    e.unchecked_apply([Mutation::PutRole(cashier)]).unwrap();
    assert!(e.can(CASHIER_NORTH, T::SELL, &till));
    // A store added later is covered by an all-stores grant at once.
    let east = shopguard::StoreId::new(12);
    assert_eq!(
        e.check(OWNER, T::SELL, &OnStore(ACME, east)),
        Decision::Deny(DenyReason::UnknownStore(east))
    );
    e.unchecked_apply([Mutation::PutStore(shopguard::Store::new(
        east, ACME, "East",
    ))])
    .unwrap();
    assert!(e.can(OWNER, T::SELL, &OnStore(ACME, east)));
    // Entity-level billing withholds store billing from every role (R13).
    assert!(e.can(OWNER, T::STORE_INVOICES, &till));
    let acme = e.snapshot().account(ACME).unwrap().clone();
    e.unchecked_apply([Mutation::PutAccount(acme.with_entity_level_billing(true))])
        .unwrap();
    assert_eq!(
        e.check(OWNER, T::STORE_INVOICES, &till),
        Decision::Deny(DenyReason::PermissionMissing)
    );
}

/// A `SharedReader` owns its engine's `Arc`: it moves to another thread, keeps its snapshot
/// there, and sees every write, answering as the engine does.
#[test]
fn a_shared_reader_on_another_thread_answers_as_the_engine_across_writes() {
    use shopguard::SharedReader;

    let e = Arc::new(crate::fixture::engine());
    let mut reader = SharedReader::new(Arc::clone(&e));
    let agree = |reader: &mut SharedReader<T>, e: &shopguard::Engine<T>| {
        for u in [OWNER, MANAGER_NORTH, CASHIER_NORTH, CASHIER_SOUTH, DISABLED] {
            for p in [T::SELL, T::REFUND, T::SHIP] {
                for s in [NORTH, SOUTH] {
                    let r = OnStore(ACME, s);
                    assert_eq!(reader.check(u, p, &r), e.check(u, p, &r), "{u} {p:?} {s}");
                    assert_eq!(reader.can(u, p, &r), e.can(u, p, &r));
                }
            }
        }
        assert_eq!(reader.snapshot().revision(), e.revision());
        // Keys from the reader are the engine's (found by mutation testing).
        for u in users() {
            assert_eq!(reader.user_key(u), e.user_key(u), "{u}");
        }
        assert!(reader.user_key(OWNER).is_some());
    };
    agree(&mut reader, &e);
    assert!(reader.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
    e.unchecked_apply([shopguard::Mutation::RemoveUser(CASHIER_NORTH)])
        .unwrap();
    let engine = Arc::clone(&e);
    let worker = std::thread::spawn(move || {
        agree(&mut reader, &engine);
        assert!(!reader.can(CASHIER_NORTH, T::SELL, &OnStore(ACME, NORTH)));
        reader
    });
    let mut reader = worker.join().unwrap();
    e.unchecked_apply([shopguard::Mutation::RemoveUser(CASHIER_SOUTH)])
        .unwrap();
    agree(&mut reader, &e);
    assert_eq!(reader.user_key(CASHIER_SOUTH), None);
    // Neither reader prints the snapshot it holds.
    assert_eq!(format!("{reader:?}"), "SharedReader { .. }");
    assert_eq!(format!("{:?}", e.reader()), "Reader { .. }");
}

/// A snapshot lists every account, and an account's sources and channels, once, as it finds
/// each by id (found by mutation testing: the tests only ever looped over the lists, or read
/// channels through the checks).
#[test]
fn a_snapshot_lists_accounts_sources_and_channels_once() {
    fn sorted<I: Ord>(items: impl IntoIterator<Item = I>) -> Vec<I> {
        let mut items: Vec<I> = items.into_iter().collect();
        items.sort_unstable();
        items
    }
    let s = engine().snapshot();
    assert_eq!(sorted(s.accounts().map(|a| a.id())), sorted([ACME, OTHER]));
    for a in s.accounts() {
        assert_eq!(s.account(a.id()), Some(a));
    }
    assert_eq!(
        sorted(s.sources(ACME).map(|x| x.id())),
        sorted([WAREHOUSE, SHOP_SOURCE])
    );
    for x in s.sources(ACME) {
        assert_eq!(s.source(x.id()), Some(x));
    }
    assert_eq!(
        sorted(s.channels(ACME).map(|c| c.id())),
        sorted([WEB, MARKET])
    );
    assert_eq!(s.channel(WEB).map(|c| c.name()), Some("Web"));
    assert_eq!(s.channel(MARKET).map(|c| c.account()), Some(ACME));
    assert_eq!(s.sources(OTHER).count() + s.channels(OTHER).count(), 0);
}
