//! The user table of the index.

use core::hash::BuildHasher;

use hashbrown::hash_table::HashTable;

use crate::Error;
use crate::engine::key::{Sealed, UserKey};
use crate::model::access::Access;
use crate::model::ids::{IdHash, StoreId, UserId};
use crate::model::permission::Catalog;
use crate::model::user::User;

/// Users in a dense vector, found by id through a hash table of positions.
///
/// Beside each record, a small [`Hot`] entry holds the id and what a store check needs, and the
/// stores of users with one specific grant are copied, in position order, into one flat list. A
/// store check by the quick path reads the 24-byte entry and, when the permission is held, that
/// user's run of the list; never the record. A lookup by id compares ids in the denser entries.
#[derive(Clone, Debug)]
pub(crate) struct UserTable<P> {
    records: Vec<User>,
    /// One entry per record, at the same position.
    hot: Vec<Hot<P>>,
    /// The `AtStores` users' stores, ascending within each user's run; a run starts at its
    /// entry's `from` and ends at the next entry's (or at the end).
    stores: Vec<StoreId>,
    /// Positions in `records`, hashed by the id of the user there.
    index: HashTable<u32>,
    /// Whether every `hot` entry and `stores` describe the index as it is now. Cleared by
    /// any change, set by [`UserTable::refresh`] once a batch is complete.
    ready: bool,
}

/// What the quick check path knows of one user: 24 bytes with a 64-bit catalog.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hot<P> {
    pub(crate) id: UserId,
    /// The permissions the user's one grant holds, less those the account withholds and those
    /// that are not decided by store access (account-wide and owner-only); empty unless the
    /// entry's [`Quick`] is `AtStores` or `Everywhere`.
    pub(crate) mask: P,
    /// The position of the user's account in the index's accounts, shifted left two bits, and
    /// the [`Quick`] in the low two bits.
    meta: u32,
    /// Where the user's run starts in the table's `stores`.
    from: u32,
}

/// How far the quick path can decide a store check for a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quick {
    /// Not at all: the full check decides.
    Slow = 0,
    /// A disabled user: denied.
    Disabled = 1,
    /// One grant, at the stores of the user's run; the role has no store ceiling.
    AtStores = 2,
    /// One grant at all stores; the role has no store ceiling.
    Everywhere = 3,
}

/// Account positions the two-bit packing leaves room for; users of later accounts get `Slow`
/// entries.
const MAX_ACCOUNT: u32 = u32::MAX >> 2;

impl<P: Catalog> Hot<P> {
    /// An entry that decides nothing; its run (empty) starts at `from`.
    fn slow(id: UserId, from: u32) -> Self {
        Hot {
            id,
            mask: P::empty(),
            meta: Quick::Slow as u32,
            from,
        }
    }

    /// An entry, or a `Slow` one if the account's position does not fit.
    fn new(id: UserId, mask: P, account: u32, quick: Quick, from: u32) -> Self {
        if account > MAX_ACCOUNT {
            return Hot::slow(id, from);
        }
        Hot {
            id,
            mask,
            meta: account << 2 | quick as u32,
            from,
        }
    }

    /// How far the quick path decides for this user.
    #[inline]
    pub(crate) fn quick(&self) -> Quick {
        match self.meta & 3 {
            1 => Quick::Disabled,
            2 => Quick::AtStores,
            3 => Quick::Everywhere,
            _ => Quick::Slow,
        }
    }

    /// The position of the user's account in the index's accounts.
    #[inline]
    pub(crate) fn account(&self) -> u32 {
        self.meta >> 2
    }
}

fn hash(id: UserId) -> u64 {
    IdHash.hash_one(id)
}

/// The hash of the user at a position, for the index to rehash itself.
fn rehash<P>(hot: &[Hot<P>]) -> impl Fn(&u32) -> u64 + '_ {
    |&i| hot.get(i as usize).map_or(0, |h| hash(h.id))
}

impl<P> Default for UserTable<P> {
    fn default() -> Self {
        UserTable {
            records: Vec::new(),
            hot: Vec::new(),
            stores: Vec::new(),
            index: HashTable::new(),
            ready: true,
        }
    }
}

impl<P: Catalog> UserTable<P> {
    /// The position of a user named by id or key: a key's position is tried first, and used
    /// only if it holds this user.
    #[inline]
    pub(crate) fn position<U: Sealed>(&self, user: U) -> Option<usize> {
        let id = user.id();
        if let Some(slot) = user.slot()
            && self.hot.get(slot as usize).is_some_and(|h| h.id == id)
        {
            return Some(slot as usize);
        }
        let hot = &self.hot;
        self.index
            .find(hash(id), |&i| {
                hot.get(i as usize).is_some_and(|h| h.id == id)
            })
            .map(|&i| i as usize)
    }

    /// The stores of the entry `hot` at `position`, ascending: its run, which is empty unless
    /// the entry is `AtStores`. Meaningful only while the entries are current (see
    /// [`UserTable::hot`]).
    #[inline]
    pub(crate) fn stores_of(&self, position: usize, hot: &Hot<P>) -> &[StoreId] {
        let end = self
            .hot
            .get(position.wrapping_add(1))
            .map_or(self.stores.len(), |next| next.from as usize);
        self.stores.get(hot.from as usize..end).unwrap_or(&[])
    }

    /// The record at a position.
    #[inline]
    pub(crate) fn at(&self, position: usize) -> Option<&User> {
        self.records.get(position)
    }

    /// The quick-path entry at a position, if the entries are current.
    #[inline]
    pub(crate) fn hot(&self, position: usize) -> Option<&Hot<P>> {
        if self.ready {
            self.hot.get(position)
        } else {
            None
        }
    }

    /// The user named by id or key.
    #[inline]
    pub(crate) fn find<U: Sealed>(&self, user: U) -> Option<&User> {
        self.position(user).and_then(|p| self.records.get(p))
    }

    #[inline]
    pub(crate) fn get(&self, id: &UserId) -> Option<&User> {
        self.find(*id)
    }

    /// The key of a user: its id and its record's position.
    pub(crate) fn key(&self, id: UserId) -> Option<UserKey> {
        let position = self.position(id)?;
        // Positions fit in u32: `insert` refuses more users.
        Some(UserKey::new(id, u32::try_from(position).ok()?))
    }

    pub(crate) fn contains_key(&self, id: &UserId) -> bool {
        self.position(*id).is_some()
    }

    /// Room for `additional` more users, so that a bulk load grows each vector once instead of
    /// doubling (and copying) it many times. `settle` shrinks what was not used.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.records.reserve(additional);
        self.hot.reserve(additional);
        self.index.reserve(additional, rehash(&self.hot));
    }

    /// Turns the quick path off until the next [`UserTable::refresh`].
    pub(crate) fn invalidate(&mut self) {
        self.ready = false;
    }

    /// How many users there are.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Inserts or replaces; returns the replaced record.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if the table already holds
    /// 2^32 - 1 users.
    pub(crate) fn insert(&mut self, user: User) -> Result<Option<User>, Error> {
        let id = user.id();
        self.ready = false;
        if let Some(p) = self.position(id)
            && let (Some(record), Some(hot)) = (self.records.get_mut(p), self.hot.get_mut(p))
        {
            *hot = Hot::slow(id, 0);
            return Ok(Some(core::mem::replace(record, user)));
        }
        let position = u32::try_from(self.records.len())
            .ok()
            .filter(|&p| p < u32::MAX)
            .ok_or_else(|| {
                Error::invalid("user", id, "an engine holds at most 4,294,967,295 users")
            })?;
        self.records.push(user);
        self.hot.push(Hot::slow(id, 0));
        self.index
            .insert_unique(hash(id), position, rehash(&self.hot));
        Ok(None)
    }

    pub(crate) fn remove(&mut self, id: &UserId) -> Option<User> {
        let position = self.position(*id)?;
        let entry = self
            .index
            .find_entry(hash(*id), |&i| i as usize == position)
            .ok()?;
        entry.remove();
        self.ready = false;
        let removed = self.records.swap_remove(position);
        self.hot.swap_remove(position);
        // The last user moved into the freed position: point its index entry there.
        let moved_from = self.records.len();
        if let Some(moved) = self.hot.get(position).map(|h| h.id)
            && let Some(slot) = self
                .index
                .find_mut(hash(moved), |&i| i as usize == moved_from)
        {
            // INVARIANT: positions fit in u32 (`insert` refuses more users).
            *slot = u32::try_from(position).unwrap_or(u32::MAX);
        }
        Some(removed)
    }

    /// Every user, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &User> {
        self.records.iter()
    }

    /// Recomputes every quick-path entry with `of` (mask, account position, quick), and the
    /// store runs, once a batch is complete.
    pub(crate) fn refresh(&mut self, of: impl Fn(&User) -> (P, u32, Quick)) {
        self.stores.clear();
        for (record, hot) in self.records.iter().zip(self.hot.iter_mut()) {
            let (mask, account, quick) = of(record);
            let from = u32::try_from(self.stores.len()).unwrap_or(u32::MAX);
            let mut entry = Hot::new(record.id(), mask, account, quick, from);
            if entry.quick() == Quick::AtStores {
                let run = record.grants().first().and_then(|g| match &g.stores {
                    Access::None => Some(&[][..]),
                    Access::Specific(set) => Some(set.as_slice()),
                    Access::All => None,
                });
                // Runs are found by u32 offsets: a run that would end past them is left to
                // the full check.
                match run {
                    Some(ids) if self.stores.len() + ids.len() <= u32::MAX as usize => {
                        self.stores.extend_from_slice(ids);
                    }
                    _ => entry = Hot::slow(record.id(), from),
                }
            }
            *hot = entry;
        }
        self.stores.shrink_to_fit();
        self.ready = true;
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.records.shrink_to_fit();
        self.hot.shrink_to_fit();
        self.index.shrink_to_fit(rehash(&self.hot));
    }
}

#[cfg(test)]
mod tests {
    // Every catalog of up to 64 permissions keeps the entry at 24 bytes.
    const _: () = assert!(core::mem::size_of::<Hot<crate::catalog::pos::Pos>>() == 24);

    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::catalog::pos::Pos;
    use crate::model::ids::{AccountId, RoleId};
    use crate::model::user::Grant;

    fn sealed_slot(k: UserKey) -> usize {
        Sealed::slot(k).map_or(usize::MAX, |s| s as usize)
    }

    /// The stores of user `id` at `version`: a few, or none at all.
    fn stores(id: u64, version: u8) -> Vec<StoreId> {
        (0..(id + u64::from(version)) % 4)
            .map(|s| StoreId::new(id * 10 + s))
            .collect()
    }

    fn user(id: u64, version: u8) -> User {
        User::new(
            UserId::new(id),
            AccountId::new(1),
            &format!("u{id}v{version}"),
            "x@example.com",
        )
        .with_grant(Grant::new(
            RoleId::new(1),
            Access::specific(stores(id, version)),
        ))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Inserts, replacements and removals (which move the last record) against a plain
        /// map: every id finds its own record, keys name positions holding their user, and
        /// every entry describes its record after a refresh.
        #[test]
        fn the_table_agrees_with_a_map(ops in prop::collection::vec((0u64..40, 0u8..4), 1..200)) {
            let mut table = UserTable::<Pos>::default();
            let mut model: BTreeMap<u64, u8> = BTreeMap::new();
            for (id, op) in ops {
                table.ready = true;
                if op == 0 {
                    let removed = table.remove(&UserId::new(id)).map(|u| u.username().to_owned());
                    let want = model.remove(&id).map(|v| format!("u{id}v{v}"));
                    // Only a change turns the quick path off.
                    prop_assert_eq!(table.ready, want.is_none());
                    prop_assert_eq!(removed, want);
                } else {
                    let replaced = table.insert(user(id, op)).unwrap().is_some();
                    prop_assert_eq!(replaced, model.insert(id, op).is_some());
                    prop_assert!(!table.ready);
                }
                prop_assert_eq!(table.len(), model.len());
                for probe in 0..40u64 {
                    let got = table.get(&UserId::new(probe)).map(|u| u.username().to_owned());
                    let want = model.get(&probe).map(|v| format!("u{probe}v{v}"));
                    prop_assert_eq!(got, want);
                    if let Some(k) = table.key(UserId::new(probe)) {
                        prop_assert_eq!(table.find(k).map(User::id), Some(UserId::new(probe)));
                        prop_assert_eq!(table.at(sealed_slot(k)).map(User::id), Some(UserId::new(probe)));
                    }
                }
            }
            table.refresh(|u| (Pos::SELL, u32::try_from(u.id().get()).unwrap(), Quick::AtStores));
            for (position, u) in table.values().enumerate() {
                let hot = table.hot(position).unwrap();
                prop_assert_eq!(hot.id, u.id());
                prop_assert_eq!(u64::from(hot.account()), u.id().get());
                prop_assert_eq!(hot.quick(), Quick::AtStores);
                let version = model[&u.id().get()];
                let want = stores(u.id().get(), version);
                prop_assert_eq!(table.stores_of(position, hot), want.as_slice());
            }
            // A second refresh (as every write makes) replaces the runs: odd ids keep theirs,
            // even ids (at all stores now) and ids past the packable accounts have none.
            table.refresh(|u| {
                let id = u.id().get();
                let account = if id % 5 == 0 { MAX_ACCOUNT + 1 } else { 7 };
                (Pos::SELL, account, if id % 2 == 0 { Quick::Everywhere } else { Quick::AtStores })
            });
            let mut total = 0;
            for (position, u) in table.values().enumerate() {
                let hot = table.hot(position).unwrap();
                let id = u.id().get();
                let want = if id % 2 == 1 && id % 5 != 0 {
                    stores(id, model[&id])
                } else {
                    Vec::new()
                };
                let quick = match (id % 5, id % 2) {
                    (0, _) => Quick::Slow,
                    (_, 0) => Quick::Everywhere,
                    _ => Quick::AtStores,
                };
                prop_assert_eq!(hot.quick(), quick);
                prop_assert_eq!(table.stores_of(position, hot), want.as_slice());
                total += want.len();
            }
            prop_assert_eq!(table.stores.len(), total);
        }
    }
}
