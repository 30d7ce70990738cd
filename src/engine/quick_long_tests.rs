//! The quick path against the full check where the property test of `quick_tests.rs` does not
//! reach: runs of up to 702 stores around the entry's 8-bit length (254, 255, 256), users
//! across one and two chunk boundaries, narrow and wide store ids in one chunk, removals that
//! move the last record, one user written several times in one batch, keys gone stale, and the
//! public check forms (`Engine`, `Snapshot`, `Reader`, `can_each`, `can_many`). The reference
//! is the same index with its quick path switched off.

use proptest::prelude::*;

use crate::engine::index::Index;
use crate::engine::key::UserKey;
use crate::engine::resource::OnStore;
use crate::engine::users::Quick;
use crate::model::ids::{AccountId, RoleId, StoreId, UserId};
use crate::{Access, Account, Grant, Level, Mutation, Role, Store, User};

crate::permission_catalog! {
    pub(crate) struct L {
        A = 0, "Area", Scoped, "a";
        B = 1, "Area", Scoped, "b";
        WIDE = 2, "Area", AccountWide, "account-wide";
    }
}

/// Account 1's stores, ascending: 600 narrow, u32::MAX, 2^32, and 100 wide.
fn stores1() -> Vec<u64> {
    let mut v: Vec<u64> = (0..600u64).map(|i| 10_000 + i).collect();
    v.push(u64::from(u32::MAX));
    v.push(1 << 32);
    v.extend((0..100u64).map(|i| (1 << 33) + i));
    v
}
/// Account 2's stores.
fn stores2() -> Vec<u64> {
    (0..300u64).map(|i| 50_000 + i).collect()
}
fn stores_of(a: u64) -> Vec<u64> {
    if a == 1 { stores1() } else { stores2() }
}

/// Run lengths that matter.
const LENS: [usize; 16] = [
    0, 1, 2, 3, 9, 253, 254, 255, 256, 257, 300, 511, 600, 702, 5, 254,
];

/// A grant's stores for a user, from a number: a window of the account's stores.
fn grant_access(n: u64, a: u64) -> Access<StoreId> {
    let all = stores_of(a);
    match n % 23 {
        0 => Access::All,
        1 => Access::None,
        _ => {
            let len = LENS[(n / 23 % 16) as usize].min(all.len());
            let start = if len == all.len() {
                0
            } else {
                (n / 400) as usize % (all.len() - len + 1)
            };
            // Now and then every other store: gaps inside the run.
            if n.is_multiple_of(7) {
                Access::specific(
                    all.iter()
                        .skip(start)
                        .step_by(2)
                        .take(len)
                        .map(|&s| StoreId::new(s)),
                )
            } else {
                Access::specific(all[start..start + len].iter().map(|&s| StoreId::new(s)))
            }
        }
    }
}

/// Two accounts with their stores, three roles each and an owner at every store.
fn base() -> Vec<Mutation<L>> {
    let mut b = Vec::new();
    for a in [1u64, 2] {
        let account = AccountId::new(a);
        b.push(Mutation::PutAccount(Account::new(account, "a")));
        for s in stores_of(a) {
            b.push(Mutation::PutStore(Store::new(
                StoreId::new(s),
                account,
                "s",
            )));
        }
        b.push(Mutation::PutRole(Role::new(
            RoleId::new(a * 100),
            account,
            "top",
            Level::TOP,
            L::all(),
        )));
        b.push(Mutation::PutRole(Role::new(
            RoleId::new(a * 100 + 1),
            account,
            "ab",
            Level::below_top(1),
            L::A | L::B,
        )));
        b.push(Mutation::PutRole(Role::new(
            RoleId::new(a * 100 + 2),
            account,
            "a",
            Level::below_top(1),
            L::A,
        )));
        b.push(Mutation::PutUser(
            User::new(
                UserId::new(a * 100_000),
                account,
                &format!("o{a}"),
                &format!("o{a}@x.example"),
            )
            .with_owner(true)
            .with_grant(Grant::new(RoleId::new(a * 100), Access::All)),
        ));
    }
    b
}

/// A member of staff drawn from `n`: one grant (sometimes two), sometimes disabled.
fn staff(id: u64, n: u64) -> Mutation<L> {
    // Account by id: mostly account 1, runs of both accounts interleaved in chunks.
    let a = if id % 5 == 2 { 2 } else { 1 };
    let account = AccountId::new(a);
    let mut u = User::new(
        UserId::new(id),
        account,
        &format!("u{id}"),
        &format!("u{id}@x.example"),
    )
    .with_enabled(!n.is_multiple_of(17));
    let role = RoleId::new(a * 100 + 1 + (n / 7 % 2));
    u = u.with_grant(Grant::new(role, grant_access(n, a)));
    if n.is_multiple_of(13) {
        u = u.with_grant(Grant::new(RoleId::new(a * 100 + 2), grant_access(n / 3, a)));
    }
    Mutation::PutUser(u)
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stores to check for a user: its run's edges and neighbours, the next users' runs, others.
fn probes(index: &Index<L>, u: UserId, rng: &mut u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let add_user = |id: UserId, out: &mut Vec<(u64, u64)>| {
        if let Some(rec) = index.users.find(id) {
            let a = rec.account().get();
            let all = stores_of(a);
            for g in rec.grants() {
                if let Access::Specific(set) = &g.stores {
                    let s = set.as_slice();
                    for &x in s.iter().take(2).chain(s.iter().rev().take(2)) {
                        out.push((a, x.get()));
                        if let Ok(i) = all.binary_search(&x.get()) {
                            if i > 0 {
                                out.push((a, all[i - 1]));
                            }
                            if i + 1 < all.len() {
                                out.push((a, all[i + 1]));
                            }
                            if i + 2 < all.len() {
                                out.push((a, all[i + 2]));
                            }
                        }
                    }
                    if let Some(&x) = s.get(254) {
                        out.push((a, x.get()));
                    }
                    if let Some(&x) = s.get(255) {
                        out.push((a, x.get()));
                    }
                }
            }
        }
    };
    add_user(u, &mut out);
    if let Some(p) = index.users.position(u) {
        for q in [p + 1, p + 2, p.wrapping_sub(1)] {
            if let Some(id) = index.users.id_at(q as u32) {
                add_user(id, &mut out);
            }
        }
    }
    for a in [1u64, 2] {
        let all = stores_of(a);
        for _ in 0..3 {
            out.push((a, all[(splitmix(rng) % all.len() as u64) as usize]));
        }
        out.push((a, all[0]));
        out.push((a, *all.last().unwrap()));
    }
    out.push((1, 7));
    out.push((1, 1 << 34));
    out.push((1, 50_000));
    out.push((2, 10_000));
    out.sort_unstable();
    out.dedup();
    out
}

/// Every check form of `quick` (by id, by key, by each stale key of `old_keys`) against the same
/// index with its quick path off, for `ids`; returns how many checks the quick path could
/// decide, so that a caller can insist some were.
fn compare(
    quick: &Index<L>,
    ids: &[UserId],
    old_keys: &[UserKey],
    seed: u64,
) -> Result<usize, TestCaseError> {
    let mut full = quick.clone();
    full.users.invalidate();
    let perms = [L::A, L::B, L::A | L::B, L::empty(), L::A | L::WIDE];
    let mut rng = seed;
    let mut decided = 0;
    for &u in ids {
        let ps = probes(quick, u, &mut rng);
        let key = quick.users.key(u);
        let stale: Vec<UserKey> = old_keys.iter().copied().filter(|k| k.id() == u).collect();
        let hot_quick = quick
            .users
            .position(u)
            .and_then(|p| quick.users.hot(p))
            .is_some_and(|h| h.quick() != Quick::Slow);
        for &(a, s) in &ps {
            let on = OnStore(AccountId::new(a), StoreId::new(s));
            for &p in &perms {
                let want = full.evaluate(u, p, &on);
                prop_assert_eq!(quick.evaluate(u, p, &on), want, "{} {:?} {:?}", u, p, on);
                prop_assert_eq!(
                    quick.allows(u, p, &on),
                    want.is_ok(),
                    "allows {} {:?} {:?}",
                    u,
                    p,
                    on
                );
                if let Some(k) = key {
                    prop_assert_eq!(quick.evaluate(k, p, &on), want);
                    prop_assert_eq!(quick.allows(k, p, &on), want.is_ok());
                }
                for &k in &stale {
                    prop_assert_eq!(quick.evaluate(k, p, &on), want, "stale {:?}", k);
                    prop_assert_eq!(quick.allows(k, p, &on), want.is_ok(), "stale {:?}", k);
                }
                decided += usize::from(hot_quick);
            }
        }
    }
    Ok(decided)
}

fn all_ids(index: &Index<L>) -> Vec<UserId> {
    index.users.values().map(User::id).collect()
}

/// `initial` users, then `rounds` batches of removals, rewrites and additions, compared after
/// each.
fn run(seed: u64, initial: usize, rounds: usize) -> Result<(), TestCaseError> {
    let mut rng = seed;
    let mut index = Index::<L>::empty();
    let mut batch = base();
    let mut next_id = 1u64;
    for _ in 0..initial {
        batch.push(staff(next_id, splitmix(&mut rng)));
        next_id += 1;
    }
    let r = index.apply(&batch);
    prop_assert!(r.is_ok(), "{:?}", r);
    let ids = all_ids(&index);
    prop_assert!(compare(&index, &ids, &[], seed)? > 0);
    for round in 0..rounds {
        let keys: Vec<UserKey> = all_ids(&index)
            .into_iter()
            .filter_map(|u| index.users.key(u))
            .collect();
        let before = all_ids(&index);
        let mut batch = Vec::new();
        let kind = splitmix(&mut rng) % 4;
        let n = 1 + splitmix(&mut rng) % 40;
        for _ in 0..n {
            let live: Vec<UserId> = all_ids(&index)
                .into_iter()
                .filter(|u| u.get() < 100_000)
                .collect();
            let pick = live[(splitmix(&mut rng) % live.len() as u64) as usize];
            match (kind, splitmix(&mut rng) % 3) {
                // removals, sometimes of users at the last positions
                (0, _) | (3, 0) => {
                    let victim = if splitmix(&mut rng).is_multiple_of(2) {
                        let l = index.users.len();
                        index
                            .users
                            .id_at((l - 1 - (splitmix(&mut rng) % 3) as usize) as u32)
                            .unwrap_or(pick)
                    } else {
                        pick
                    };
                    if victim.get() < 100_000 {
                        batch.push(Mutation::RemoveUser(victim));
                    }
                }
                (1, _) | (3, 1) => batch.push(staff(pick.get(), splitmix(&mut rng))),
                _ => {
                    batch.push(staff(next_id, splitmix(&mut rng)));
                    next_id += 1;
                }
            }
        }
        // Dedupe: keep the last mutation of each user.
        let mut seen = std::collections::HashSet::new();
        let mut dedup: Vec<Mutation<L>> = batch
            .into_iter()
            .rev()
            .filter(|m| {
                let id = match m {
                    Mutation::RemoveUser(u) => *u,
                    Mutation::PutUser(u) => u.id(),
                    _ => return true,
                };
                seen.insert(id)
            })
            .collect();
        dedup.reverse();
        // Every other round: the raw batch, one user written several times (many stores, few,
        // removed, put again) in one batch.
        let raw = round % 2 == 1;
        let r = if raw {
            let mut raw_batch = Vec::new();
            for m in &dedup {
                if let Mutation::PutUser(u) = m {
                    raw_batch.push(staff(u.id().get(), splitmix(&mut rng)));
                    if splitmix(&mut rng).is_multiple_of(2) {
                        raw_batch.push(Mutation::RemoveUser(u.id()));
                    }
                }
                raw_batch.push(m.clone());
            }
            index.apply(&raw_batch)
        } else {
            index.apply(&dedup)
        };
        prop_assert!(r.is_ok(), "round {} raw {} {:?}", round, raw, r);
        let mut ids = before;
        ids.extend(all_ids(&index));
        ids.sort_unstable();
        ids.dedup();
        compare(&index, &ids, &keys, seed ^ round as u64)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn long_runs_across_chunks(
        seed in any::<u64>(),
        initial in 505usize..530,
        rounds in 3usize..8,
    ) {
        run(seed, initial, rounds)?;
    }

    #[test]
    fn long_runs_two_chunk_edges(seed in any::<u64>(), initial in 1018usize..1030) {
        run(seed, initial, 3)?;
    }
}

/// Every run length around the boundary (0, 1, 253–257) for the last user of a table of 509 to
/// 513 users, beside neighbours of 254–256 stores; then removals that move records, and the
/// run of a moved user shrunk and grown.
#[test]
fn every_length_at_every_edge() {
    for last_len in [0usize, 1, 253, 254, 255, 256, 257] {
        for mid_len in [0usize, 255] {
            for total in [509usize, 510, 511, 512, 513] {
                let mut index = Index::<L>::empty();
                let mut b = base();
                // The two owners hold positions 0 and 1; staff follow.
                for id in 1..=total as u64 {
                    let len = if id as usize == total {
                        last_len
                    } else if id % 2 == 0 {
                        mid_len
                    } else {
                        [254, 255, 256][id as usize % 3]
                    };
                    let all = stores1();
                    let start = (id as usize * 7) % (all.len() - len + 1);
                    let access =
                        Access::specific(all[start..start + len].iter().map(|&s| StoreId::new(s)));
                    b.push(Mutation::PutUser(
                        User::new(
                            UserId::new(id),
                            AccountId::new(1),
                            &format!("u{id}"),
                            &format!("u{id}@x.example"),
                        )
                        .with_grant(Grant::new(RoleId::new(101), access)),
                    ));
                }
                index.apply(&b).unwrap();
                let near = |p: usize| {
                    p < 3 || (295..305).contains(&p) || p + 6 >= total || (505..520).contains(&p)
                };
                let ids: Vec<UserId> = all_ids(&index)
                    .into_iter()
                    .enumerate()
                    .filter(|(p, _)| near(*p))
                    .map(|(_, u)| u)
                    .collect();
                compare(&index, &ids, &[], total as u64).unwrap();
                // Remove the users at positions 300 and (if there is one) 511; check again, with
                // the keys from before as stale keys.
                let keys: Vec<UserKey> = ids.iter().filter_map(|&u| index.users.key(u)).collect();
                let mut rm = vec![Mutation::RemoveUser(UserId::new(300))];
                if total > 511 {
                    rm.push(Mutation::RemoveUser(index.users.id_at(511).unwrap()));
                }
                index.apply(&rm).unwrap();
                compare(&index, &ids, &keys, 1).unwrap();
                // Shrink and grow the run of the user moved into position 300.
                let moved = index.users.id_at(300).unwrap();
                if moved.get() < 100_000 {
                    for len in [3usize, 255, 256, 0, 254] {
                        let keys: Vec<UserKey> =
                            ids.iter().filter_map(|&u| index.users.key(u)).collect();
                        let all = stores1();
                        let access = Access::specific(all[..len].iter().map(|&s| StoreId::new(s)));
                        index
                            .apply(&[Mutation::PutUser(
                                User::new(
                                    moved,
                                    AccountId::new(1),
                                    &format!("u{}", moved.get()),
                                    &format!("u{}@x.example", moved.get()),
                                )
                                .with_grant(Grant::new(RoleId::new(101), access)),
                            )])
                            .unwrap();
                        compare(&index, &ids, &keys, 2).unwrap();
                    }
                }
            }
        }
    }
}

/// Public API paths (Engine, Snapshot, Reader, can_many, can_each; ids, fresh and stale keys)
/// against the full check on the same snapshot, over churn.
#[test]
fn public_api_agrees_with_the_full_check() {
    use crate::Engine;
    use crate::engine::decision::Decision;
    let engine = Engine::<L>::new();
    let mut rng = 0xdead_beef_u64;
    let mut b = base();
    let mut next_id = 1u64;
    for _ in 0..1030 {
        b.push(staff(next_id, splitmix(&mut rng)));
        next_id += 1;
    }
    engine.unchecked_apply(b).unwrap();
    let mut old_keys: Vec<UserKey> = Vec::new();
    for round in 0..6 {
        let snap = engine.snapshot();
        let idx = snap.index();
        let mut full = idx.clone();
        full.users.invalidate();
        let mut reader = engine.reader();
        let ids: Vec<UserId> = idx.users.values().map(User::id).collect();
        let mut many = Vec::new();
        let mut want_many = Vec::new();
        for (i, &u) in ids.iter().enumerate() {
            // Only users near edges and a sample, to keep it fast.
            if !(i < 4
                || (505..520).contains(&i)
                || (1018..1040).contains(&i)
                || i + 6 >= ids.len()
                || splitmix(&mut rng).is_multiple_of(10))
            {
                continue;
            }
            let key = engine.user_key(u).unwrap();
            let stale: Vec<UserKey> = old_keys.iter().copied().filter(|k| k.id() == u).collect();
            let ps = probes(idx, u, &mut rng);
            for p in [L::A, L::B, L::A | L::B] {
                let ons: Vec<OnStore> = ps
                    .iter()
                    .map(|&(a, s)| OnStore(AccountId::new(a), StoreId::new(s)))
                    .collect();
                let each_want: Vec<bool> = ons
                    .iter()
                    .map(|on| full.evaluate(u, p, on).is_ok())
                    .collect();
                assert_eq!(snap.can_each(u, p, &ons), each_want);
                for on in &ons {
                    let want = full.evaluate(u, p, on);
                    let d = match want {
                        Ok(a) => Decision::Allow(a),
                        Err(r) => Decision::Deny(r),
                    };
                    assert_eq!(
                        engine.can(u, p, on),
                        want.is_ok(),
                        "{u} {p:?} {on:?} round {round}"
                    );
                    assert_eq!(engine.can(key, p, on), want.is_ok());
                    assert_eq!(engine.check(u, p, on), d);
                    assert_eq!(engine.check(key, p, on), d);
                    assert_eq!(snap.can(key, p, on), want.is_ok());
                    assert_eq!(snap.check(u, p, on), d);
                    assert_eq!(reader.can(key, p, on), want.is_ok());
                    assert_eq!(reader.check(key, p, on), d);
                    for &k in &stale {
                        assert_eq!(engine.can(k, p, on), want.is_ok(), "stale {k:?}");
                        assert_eq!(engine.check(k, p, on), d, "stale {k:?}");
                        assert_eq!(reader.can(k, p, on), want.is_ok(), "stale {k:?}");
                    }
                    many.push((u, p, *on));
                    want_many.push(want.is_ok());
                }
            }
        }
        // Unknown users mixed in.
        many.push((
            UserId::new(999_999),
            L::A,
            OnStore(AccountId::new(1), StoreId::new(10_000)),
        ));
        want_many.push(false);
        assert_eq!(snap.can_many(&many), want_many);
        drop(reader);
        // Churn: remove some (often the last ones), shrink/grow runs, add.
        old_keys = ids.iter().filter_map(|&u| engine.user_key(u)).collect();
        let mut batch = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let live: Vec<UserId> = ids.iter().copied().filter(|u| u.get() < 100_000).collect();
        for k in 0..30 {
            let pick = if k % 3 == 0 {
                live[live.len() - 1 - k / 3]
            } else {
                live[(splitmix(&mut rng) % live.len() as u64) as usize]
            };
            if !seen.insert(pick) {
                continue;
            }
            match splitmix(&mut rng) % 3 {
                0 => batch.push(Mutation::RemoveUser(pick)),
                _ => batch.push(staff(pick.get(), splitmix(&mut rng))),
            }
        }
        for _ in 0..(splitmix(&mut rng) % 20) {
            batch.push(staff(next_id, splitmix(&mut rng)));
            next_id += 1;
        }
        engine.unchecked_apply(batch).unwrap();
    }
}

/// A store named by a specific grant removed, or moved to the other account in one batch.
#[test]
fn store_removed_or_moved_under_a_run() {
    use crate::Engine;
    let engine = Engine::<L>::new();
    let mut b = base();
    let all = stores1();
    b.push(Mutation::PutUser(
        User::new(UserId::new(1), AccountId::new(1), "u1", "u1@x.example").with_grant(Grant::new(
            RoleId::new(101),
            Access::specific(all[..300].iter().map(|&s| StoreId::new(s))),
        )),
    ));
    engine.unchecked_apply(b).unwrap();
    let s = StoreId::new(all[299]);
    // Both refused (the store is in use), so no run can name a store gone from its account.
    let removed = engine.unchecked_apply([Mutation::RemoveStore(s)]);
    assert_eq!(removed.map_err(|e| e.kind()), Err(crate::ErrorKind::InUse));
    let moved = engine.unchecked_apply([
        Mutation::RemoveStore(s),
        Mutation::PutStore(Store::new(s, AccountId::new(2), "s")),
    ]);
    assert!(moved.is_err(), "{moved:?}");
    let snap = engine.snapshot();
    let mut full = snap.index().clone();
    full.users.invalidate();
    for a in [1, 2] {
        let on = OnStore(AccountId::new(a), s);
        assert_eq!(
            snap.check(UserId::new(1), L::A, &on).is_allowed(),
            full.evaluate(UserId::new(1), L::A, &on).is_ok()
        );
    }
}
