//! The quick check path against the full one, on random accounts: wherever the quick path
//! decides, it must give the full check's decision and reason.

use proptest::prelude::*;

use crate::engine::index::Index;
use crate::engine::key::UserKey;
use crate::engine::resource::{OnAccount, OnStore, OnUser};
use crate::engine::users::Quick;
use crate::model::ids::{AccountId, RoleId, StoreId, UserId};
use crate::{Access, Account, Grant, Level, Mutation, Role, Store, User};

crate::permission_catalog! {
    /// Two scoped permissions and one of every other reach.
    pub(crate) struct Q {
        A = 0, "Area", Scoped, "a";
        B = 1, "Area", Scoped, "b";
        WIDE = 2, "Area", AccountWide, "account-wide";
        OWN = 3, "Area", OwnerOnly, "owner only";
        ENTITY = 4, "Billing", EntityBilling, "entity billing";
        STORE_BILLING = 5, "Billing", StoreBilling, "store billing";
    }
}

const ACCOUNTS: [u64; 2] = [1, 2];
/// Stores 10..=12 belong to account 1, store 20 to account 2; store 30 does not exist.
const STORES: [u64; 5] = [10, 11, 12, 20, 30];

fn stores_of(account: u64) -> Vec<u64> {
    if account == 1 {
        vec![10, 11, 12]
    } else {
        vec![20]
    }
}

/// `All`, `None` or some of the account's stores, from one number.
fn access(n: u32, account: u64) -> Access<StoreId> {
    match n % 5 {
        0 => Access::All,
        1 => Access::None,
        _ => Access::specific(
            stores_of(account)
                .into_iter()
                .enumerate()
                .filter(|(i, _)| (n >> (3 + i)) & 1 == 1)
                .map(|(_, s)| StoreId::new(s)),
        ),
    }
}

/// A world from a tape of numbers: two accounts, four roles each (the first at level 1, held
/// by the account's owner as its one grant), and six other users with zero to two grants.
fn world(tape: &[u32]) -> Vec<Mutation<Q>> {
    let mut t = tape.iter().copied().cycle();
    let mut next = move || t.next().unwrap_or(0);
    let mut batch = Vec::new();
    for a in ACCOUNTS {
        let account = AccountId::new(a);
        batch.push(Mutation::PutAccount(
            Account::new(account, "a").with_entity_level_billing(next() % 2 == 0),
        ));
        for s in stores_of(a) {
            batch.push(Mutation::PutStore(Store::new(
                StoreId::new(s),
                account,
                "s",
            )));
        }
        for r in 0..4u64 {
            let level = if r == 0 {
                Level::TOP
            } else {
                Level::below_top(1)
            };
            let n = next();
            // The owner's level-1 role (r == 0) has no ceiling: every world has a user the
            // quick path decides for.
            let ceiling = if r > 0 && n % 3 == 0 {
                access(n, a)
            } else {
                Access::All
            };
            batch.push(Mutation::PutRole(
                Role::new(
                    RoleId::new(a * 100 + r),
                    account,
                    format!("r{r}"),
                    level,
                    Q::from_bits_truncate(u64::from(next())),
                )
                .with_store_ceiling(ceiling),
            ));
        }
        let owner = User::new(
            UserId::new(a * 1000),
            account,
            &format!("o{a}"),
            "o@x.example",
        )
        .with_owner(true)
        .with_grant(Grant::new(RoleId::new(a * 100), access(next(), a)));
        batch.push(Mutation::PutUser(owner));
        for u in 1..7u64 {
            let mut grants = Vec::new();
            for _ in 0..next() % 3 {
                let n = next();
                // Now and then a role of the other account: the write is then refused.
                let role = if n % 23 == 0 {
                    300 - a * 100
                } else {
                    a * 100 + u64::from(n % 4)
                };
                grants.push(Grant::new(RoleId::new(role), access(next(), a)));
            }
            batch.push(staff(a, a * 1000 + u, next() % 4 != 0, grants));
        }
    }
    batch
}

/// Puts staff member `id` of account `a`.
fn staff(a: u64, id: u64, enabled: bool, grants: Vec<Grant>) -> Mutation<Q> {
    Mutation::PutUser(
        User::new(
            UserId::new(id),
            AccountId::new(a),
            &format!("u{id}"),
            &format!("u{id}@x.example"),
        )
        .with_enabled(enabled)
        .with_grants(grants),
    )
}

/// A second batch over a world: some users removed (the last records move into their places),
/// some put again with other grants, and new users added.
fn churn(tape: &[u32]) -> Vec<Mutation<Q>> {
    let mut t = tape.iter().copied().cycle();
    let mut next = move || t.next().unwrap_or(0);
    let mut batch = Vec::new();
    for a in ACCOUNTS {
        for u in 1..10u64 {
            let id = a * 1000 + u;
            let n = next();
            if u < 7 && n % 3 == 0 {
                batch.push(Mutation::RemoveUser(UserId::new(id)));
                continue;
            }
            if u < 7 && n % 3 == 2 {
                continue;
            }
            let mut grants = Vec::new();
            for _ in 0..next() % 3 {
                let role = RoleId::new(a * 100 + u64::from(next() % 4));
                grants.push(Grant::new(role, access(next(), a)));
            }
            batch.push(staff(a, id, next() % 4 != 0, grants));
        }
    }
    batch
}

/// Every user the worlds may hold.
fn users() -> Vec<UserId> {
    ACCOUNTS
        .iter()
        .flat_map(|a| (0..10).map(move |u| UserId::new(a * 1000 + u)))
        .collect()
}

/// Compares `quick` with a copy that has the quick path switched off, on every user, by id and
/// by a fresh key, and on `old_keys` (resolved before the last batch, so perhaps stale). Returns
/// how many store checks the quick path decided.
fn compare(quick: &Index<Q>, old_keys: &[UserKey]) -> Result<usize, TestCaseError> {
    let mut full = quick.clone();
    full.users.invalidate();
    let mut perms: Vec<Q> = Q::all().iter().collect();
    perms.extend([
        Q::empty(),
        Q::A | Q::B,
        Q::A | Q::WIDE,
        Q::A | Q::OWN,
        Q::all(),
    ]);
    let mut quick_decided = 0usize;
    for u in users() {
        for &p in &perms {
            for a in ACCOUNTS {
                for s in STORES {
                    let on = OnStore(AccountId::new(a), StoreId::new(s));
                    let want = full.evaluate(u, p, &on);
                    prop_assert_eq!(quick.evaluate(u, p, &on), want, "{} {:?} {:?}", u, p, on);
                    prop_assert_eq!(quick.allows(u, p, &on), want.is_ok());
                    if let Some(key) = quick.users.key(u) {
                        prop_assert_eq!(quick.evaluate(key, p, &on), want);
                        prop_assert_eq!(quick.allows(key, p, &on), want.is_ok());
                    }
                    for &key in old_keys.iter().filter(|k| k.id() == u) {
                        prop_assert_eq!(quick.evaluate(key, p, &on), want, "stale {:?}", key);
                        prop_assert_eq!(quick.allows(key, p, &on), want.is_ok());
                    }
                    if let Some(position) = quick.users.position(u) {
                        quick_decided += usize::from(
                            quick
                                .users
                                .hot(position)
                                .is_some_and(|h| h.quick() != Quick::Slow),
                        );
                    }
                }
                // Resources the quick path leaves to the full check.
                let acct = OnAccount(AccountId::new(a));
                prop_assert_eq!(quick.evaluate(u, p, &acct), full.evaluate(u, p, &acct));
                let target = OnUser(AccountId::new(a), UserId::new(a * 1000 + 1));
                prop_assert_eq!(quick.evaluate(u, p, &target), full.evaluate(u, p, &target));
            }
        }
    }
    Ok(quick_decided)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_quick_path_decides_as_the_full_check(
        tape in prop::collection::vec(any::<u32>(), 64),
        second in prop::collection::vec(any::<u32>(), 48),
    ) {
        let mut quick = Index::<Q>::empty();
        // Some worlds break a rule (a grant of another account's role): skipped.
        prop_assume!(quick.apply(&world(&tape)).is_ok());
        // The comparison is only worth something if the quick path decided some of it.
        prop_assert!(compare(&quick, &[])? > 0);

        // After removals (which move records) and puts, a second settle rebuilds the entries
        // and runs; keys from before may now be stale.
        let keys: Vec<UserKey> = users().into_iter().filter_map(|u| quick.users.key(u)).collect();
        let churned = quick.apply(&churn(&second));
        prop_assert!(churned.is_ok(), "{:?}", churned);
        compare(&quick, &keys)?;

        // A batch of users only (no removal) refreshes the changed users' entries and runs in
        // place, on a table whose record chunks the previous version still shares.
        let before = quick.clone();
        let records: Vec<User> = before.users.values().cloned().collect();
        let keys: Vec<UserKey> = users().into_iter().filter_map(|u| quick.users.key(u)).collect();
        let puts: Vec<Mutation<Q>> = churn(&tape)
            .into_iter()
            .filter(|m| matches!(m, Mutation::PutUser(_)))
            .collect();
        let put = quick.apply(&puts);
        prop_assert!(put.is_ok(), "{:?}", put);
        compare(&quick, &keys)?;
        // The earlier version is untouched by the later write: its records, and its answers.
        let kept: Vec<User> = before.users.values().cloned().collect();
        prop_assert_eq!(kept, records);
        compare(&before, &keys)?;
    }
}
