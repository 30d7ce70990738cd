//! The user table's per-account indexes: positions by username and by e-mail, and each
//! account's counts (users, enabled users, owners). They make validating a few changed users
//! cost O(changed users), whatever the account holds: a clash is a hash probe, and the seat
//! and owner rules (R11, R12) read the counts instead of every user of the account.

use core::hash::{BuildHasher, Hasher};
use std::hash::RandomState;
use std::sync::Arc;

use hashbrown::hash_table::HashTable;
use smallvec::SmallVec;

use crate::engine::parted::Parted;
use crate::model::ids::{AccountId, UserId};
use crate::model::user::User;

/// Parts each name table is split into: a write copies the parts its users' names hash to,
/// not the whole table (about 4,000 positions each at 1,000,000 users).
const PART_BITS: u32 = 8;
const PARTS: usize = 1 << PART_BITS;

/// How texts are hashed for the [`NameTable`]s: keyed per engine ([`RandomState`]), so a
/// tenant cannot choose names that collide in another tenant's table.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameHash(RandomState);

impl NameHash {
    /// The hash of `text` in `account`, as [`folded`](crate::model::text::folded) compares:
    /// two texts equal by `same_folded` hash alike.
    pub(crate) fn of(&self, account: AccountId, text: &str) -> u64 {
        let mut h = self.0.build_hasher();
        h.write_u64(account.get());
        // The folded characters' UTF-8, fed through a small buffer: no allocation.
        let mut buf = [0u8; 64];
        let mut n = 0usize;
        for c in text.chars().flat_map(char::to_lowercase) {
            if n + 4 > buf.len() {
                h.write(buf.get(..n).unwrap_or(&[]));
                n = 0;
            }
            if let Some(room) = buf.get_mut(n..) {
                n += c.encode_utf8(room).len();
            }
        }
        h.write(buf.get(..n).unwrap_or(&[]));
        // Ends the text, so that no text's feed is a prefix of another's.
        h.write_u8(0xff);
        h.finish()
    }
}

/// Positions of user records, hashed by account and case-folded text (a username or an
/// e-mail, with a [`NameHash`]). Several positions may share a text while a batch is being
/// validated.
#[derive(Clone, Debug)]
pub(crate) struct NameTable {
    parts: Vec<Arc<HashTable<u32>>>,
}

impl Default for NameTable {
    fn default() -> Self {
        NameTable {
            parts: (0..PARTS).map(|_| Arc::default()).collect(),
        }
    }
}

impl NameTable {
    fn part(hash: u64) -> usize {
        // Middle bits: a part's own table takes its buckets from the low bits and its tags
        // from the top seven, which must differ between the entries of one part.
        (hash >> 32) as usize & (PARTS - 1)
    }

    /// Adds `position` under `hash`; `rehash` gives the hash of any position already in the
    /// part, for growing it.
    pub(crate) fn insert(&mut self, hash: u64, position: u32, rehash: impl Fn(&u32) -> u64) {
        if let Some(part) = self.parts.get_mut(Self::part(hash)) {
            Arc::make_mut(part).insert_unique(hash, position, rehash);
        }
    }

    /// Removes `position` from under `hash`.
    pub(crate) fn remove(&mut self, hash: u64, position: u32) {
        if let Some(part) = self.parts.get_mut(Self::part(hash))
            && let Ok(entry) = Arc::make_mut(part).find_entry(hash, |&p| p == position)
        {
            entry.remove();
        }
    }

    /// Points the entry of `from` under `hash` at `to` (a record moved).
    pub(crate) fn repoint(&mut self, hash: u64, from: u32, to: u32) {
        if let Some(part) = self.parts.get_mut(Self::part(hash))
            && let Some(slot) = Arc::make_mut(part).find_mut(hash, |&p| p == from)
        {
            *slot = to;
        }
    }

    /// The positions filed under `hash`, and perhaps a few others: the caller compares the
    /// records.
    pub(crate) fn candidates(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        self.parts
            .get(Self::part(hash))
            .into_iter()
            .flat_map(move |part| part.iter_hash(hash).copied())
    }

    /// Room for `additional` more positions, spread over the parts.
    pub(crate) fn reserve(&mut self, additional: usize, rehash: impl Fn(&u32) -> u64) {
        let each = additional / PARTS + 1;
        for part in &mut self.parts {
            Arc::make_mut(part).reserve(each, &rehash);
        }
    }

    /// Releases spare capacity of the parts no other version shares.
    pub(crate) fn shrink_to_fit(&mut self, rehash: impl Fn(&u32) -> u64) {
        for part in self.parts.iter_mut().filter_map(Arc::get_mut) {
            part.shrink_to_fit(&rehash);
        }
    }
}

/// One account's counts, kept up to date as users are put and removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Users of the account.
    pub(crate) users: u32,
    /// Enabled users (the seat limit, R12).
    pub(crate) enabled: u32,
    /// Users marked owner: exactly one in a valid account (R11), more while a batch is
    /// being validated.
    pub(crate) owners: SmallVec<[UserId; 1]>,
}

/// Every account's [`Counts`].
#[derive(Clone, Debug, Default)]
pub(crate) struct AccountCounts(Parted<AccountId, Counts>);

impl AccountCounts {
    /// The counts of `account` (all zero if it has no users).
    pub(crate) fn of(&self, account: AccountId) -> Option<&Counts> {
        self.0.get(&account)
    }

    pub(crate) fn add(&mut self, u: &User) {
        let Some(c) = self.0.entry(u.account()) else {
            return;
        };
        c.users = c.users.saturating_add(1);
        if u.is_enabled() {
            c.enabled = c.enabled.saturating_add(1);
        }
        if u.is_owner() {
            c.owners.push(u.id());
        }
    }

    pub(crate) fn remove(&mut self, u: &User) {
        let account = u.account();
        let Some(c) = self.0.get_mut(&account) else {
            return;
        };
        c.users = c.users.saturating_sub(1);
        if u.is_enabled() {
            c.enabled = c.enabled.saturating_sub(1);
        }
        if u.is_owner()
            && let Some(i) = c.owners.iter().position(|&o| o == u.id())
        {
            c.owners.swap_remove(i);
        }
        if c.users == 0 {
            self.0.remove(&account);
        }
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.0.retain_unshared(|c| c.users > 0);
    }
}
