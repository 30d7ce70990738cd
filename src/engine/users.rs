//! The user table of the index.

use core::hash::BuildHasher;

use hashbrown::hash_table::HashTable;

use crate::Error;
use crate::engine::key::{Sealed, UserKey};
use crate::model::ids::{IdHash, UserId};
use crate::model::permission::Catalog;
use crate::model::user::User;

/// Users in a dense vector, found by id through a hash table of positions.
///
/// Beside each record, a small [`Hot`] entry holds the id and what a store check needs: a check
/// whose permission is not held reads only those 24 bytes, one that is held also the first line
/// of the record (the grant's stores), and a lookup by id compares ids in the denser array.
#[derive(Clone, Debug)]
pub(crate) struct UserTable<P> {
    records: Vec<User>,
    /// One entry per record, at the same position.
    hot: Vec<Hot<P>>,
    /// Positions in `records`, hashed by the id of the user there.
    index: HashTable<u32>,
    /// Whether every `hot` entry's check fields describe the index as it is now. Cleared by
    /// any change, set by [`UserTable::refresh`] once a batch is complete.
    ready: bool,
}

/// What the quick check path knows of one user.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hot<P> {
    pub(crate) id: UserId,
    /// The permissions the user's one grant holds, less those the account withholds and those
    /// that are not decided by store access (account-wide and owner-only); empty unless `quick`
    /// is `AtStores` or `Everywhere`.
    pub(crate) mask: P,
    /// The position of the user's account in the index's accounts.
    pub(crate) account: u32,
    pub(crate) quick: Quick,
}

/// How far the quick path can decide a store check for a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quick {
    /// Not at all: the full check decides.
    Slow,
    /// A disabled user: denied.
    Disabled,
    /// One grant, at the stores its `Access` names; the role has no store ceiling.
    AtStores,
    /// One grant at all stores; the role has no store ceiling.
    Everywhere,
}

impl<P: Catalog> Hot<P> {
    /// An entry that decides nothing.
    fn slow(id: UserId) -> Self {
        Hot {
            id,
            mask: P::empty(),
            account: u32::MAX,
            quick: Quick::Slow,
        }
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
    #[cfg(test)]
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
            *hot = Hot::slow(id);
            return Ok(Some(core::mem::replace(record, user)));
        }
        let position = u32::try_from(self.records.len())
            .ok()
            .filter(|&p| p < u32::MAX)
            .ok_or_else(|| {
                Error::invalid("user", id, "an engine holds at most 4,294,967,295 users")
            })?;
        self.records.push(user);
        self.hot.push(Hot::slow(id));
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

    /// Every user, by ascending id: the order listings show.
    pub(crate) fn sorted(&self) -> Vec<&User> {
        let mut v: Vec<&User> = self.records.iter().collect();
        v.sort_unstable_by_key(|u| u.id());
        v
    }

    /// Recomputes every quick-path entry with `of` (mask, account position, quick), once a
    /// batch is complete.
    pub(crate) fn refresh(&mut self, of: impl Fn(&User) -> (P, u32, Quick)) {
        for (record, hot) in self.records.iter().zip(self.hot.iter_mut()) {
            let (mask, account, quick) = of(record);
            *hot = Hot {
                id: record.id(),
                mask,
                account,
                quick,
            };
        }
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
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::catalog::pos::Pos;
    use crate::model::ids::AccountId;

    fn sealed_slot(k: UserKey) -> usize {
        Sealed::slot(k).map_or(usize::MAX, |s| s as usize)
    }

    fn user(id: u64, version: u8) -> User {
        User::new(
            UserId::new(id),
            AccountId::new(1),
            &format!("u{id}v{version}"),
            "x@example.com",
        )
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
                prop_assert_eq!(u64::from(hot.account), u.id().get());
            }
        }
    }
}
