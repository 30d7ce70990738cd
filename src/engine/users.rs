//! The user table of the index.

use core::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

use crate::engine::key::{Sealed, UserKey};
use crate::model::ids::{IdHash, UserId};
use crate::model::user::User;

/// Users by id, each record holding its own key.
///
/// A lookup hashes the id, matches a control byte, and compares the id stored at the start of
/// the record, whose next bytes are the fields a check reads: one table access less than a
/// map that keeps keys and positions apart.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserTable {
    table: HashTable<User>,
}

fn hash(id: UserId) -> u64 {
    IdHash.hash_one(id)
}

impl UserTable {
    #[inline]
    pub(crate) fn get(&self, id: &UserId) -> Option<&User> {
        self.table.find(hash(*id), |u| u.id() == *id)
    }

    /// The user named by id or key: a key's place is read first, and used only if it holds
    /// this user.
    #[inline]
    pub(crate) fn find<U: Sealed>(&self, user: U) -> Option<&User> {
        let id = user.id();
        if let Some(slot) = user.slot()
            && let Some(u) = self.table.get_bucket(slot as usize)
            && u.id() == id
        {
            return Some(u);
        }
        self.get(&id)
    }

    /// The key of a user: its id and its record's place.
    pub(crate) fn key(&self, id: UserId) -> Option<UserKey> {
        let slot = self.table.find_bucket_index(hash(id), |u| u.id() == id)?;
        // A place beyond u32 (over four billion buckets) is not kept: the key then finds the
        // user by id.
        Some(UserKey::new(id, u32::try_from(slot).unwrap_or(u32::MAX)))
    }

    /// How many places the table has (some empty).
    #[cfg(test)]
    pub(crate) fn places(&self) -> usize {
        self.table.num_buckets()
    }

    pub(crate) fn contains_key(&self, id: &UserId) -> bool {
        self.get(id).is_some()
    }

    /// Inserts or replaces; returns the replaced record.
    pub(crate) fn insert(&mut self, user: User) -> Option<User> {
        let id = user.id();
        match self
            .table
            .entry(hash(id), |u| u.id() == id, |u| hash(u.id()))
        {
            Entry::Occupied(mut o) => Some(core::mem::replace(o.get_mut(), user)),
            Entry::Vacant(v) => {
                v.insert(user);
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, id: &UserId) -> Option<User> {
        match self.table.find_entry(hash(*id), |u| u.id() == *id) {
            Ok(o) => Some(o.remove().0),
            Err(_) => None,
        }
    }

    /// Every user, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &User> {
        self.table.iter()
    }

    /// Every user, by ascending id: the order listings show.
    pub(crate) fn sorted(&self) -> Vec<&User> {
        let mut v: Vec<&User> = self.table.iter().collect();
        v.sort_unstable_by_key(|u| u.id());
        v
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.table.shrink_to_fit(|u| hash(u.id()));
    }
}
