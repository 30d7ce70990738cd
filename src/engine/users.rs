//! The user table of the index.

use core::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::hash_table::HashTable;

use crate::Error;
use crate::engine::contacts::{AccountCounts, Counts, NameHash, NameTable};
use crate::engine::key::{Sealed, UserKey};
use crate::engine::tree::Tree;
use crate::model::access::{Access, contains_sorted};
use crate::model::ids::{AccountId, IdHash, RoleId, StoreId, UserId};
use crate::model::permission::Catalog;
use crate::model::user::User;

/// Users in chunks of [`CHUNK`] records, found by id through a hash table of positions.
///
/// Beside each chunk of records, a chunk of small [`Hot`] entries holds each user's id and what
/// a store check needs, with the stores of the chunk's users that have one specific grant,
/// copied in position order into one list. A store check by the quick path reads the 24-byte
/// entry and, when the permission is held, that user's run of the list; never the record. A
/// lookup by id compares ids in the denser entries.
///
/// Everything is shared between versions of the index: the record chunks, the entry chunks,
/// the id table's parts and the per-account indexes. Cloning the table for a write copies a
/// pointer per chunk and part; the write copies the chunks and parts it changes, and
/// [`UserTable::refresh`] rebuilds the entries of the chunks whose records changed (of every
/// chunk if roles or accounts changed). A write of one user costs O([`CHUNK`]), whatever the
/// table holds.
#[derive(Clone, Debug)]
pub(crate) struct UserTable<P> {
    /// The records, in chunks of [`CHUNK`] in shared groups.
    records: Tree<Vec<User>>,
    /// How many records there are.
    len: usize,
    /// One per record chunk, at the same number.
    hot: Vec<Arc<HotChunk<P>>>,
    /// Positions in `records`, hashed by the id of the user there, in shared parts.
    index: Vec<Arc<HashTable<u32>>>,
    /// Whether every entry and run describe the index as it is now. Cleared by any change,
    /// set by [`UserTable::refresh`] once a batch is complete.
    ready: bool,
    /// Chunks whose records were replaced, added or moved since the last refresh.
    dirty: Vec<u32>,
    /// Positions by account and username, and by account and e-mail; each account's counts.
    /// Validating a few changed users reads these, never the account's other users.
    contacts: Contacts,
}

/// The per-account indexes of the table (see [`crate::engine::contacts`]).
#[derive(Clone, Debug, Default)]
struct Contacts {
    hash: NameHash,
    usernames: NameTable,
    emails: NameTable,
    counts: AccountCounts,
}

impl Contacts {
    /// Files the record `u` at `position`; `records` already holds it there.
    fn file(&mut self, records: &Tree<Vec<User>>, u: &User, position: u32) {
        let Contacts {
            hash,
            usernames,
            emails,
            counts,
        } = self;
        let (by_username, by_email) = (
            rehash_names(records, hash, User::username),
            rehash_names(records, hash, User::email),
        );
        usernames.insert(hash.of(u.account(), u.username()), position, by_username);
        emails.insert(hash.of(u.account(), u.email()), position, by_email);
        counts.add(u);
    }

    /// Takes the record `u` at `position` out of the indexes.
    fn unfile(&mut self, u: &User, position: u32) {
        self.usernames
            .remove(self.hash.of(u.account(), u.username()), position);
        self.emails
            .remove(self.hash.of(u.account(), u.email()), position);
        self.counts.remove(u);
    }

    /// The record `u` moved from `from` to `to`.
    fn repoint(&mut self, u: &User, from: u32, to: u32) {
        self.usernames
            .repoint(self.hash.of(u.account(), u.username()), from, to);
        self.emails
            .repoint(self.hash.of(u.account(), u.email()), from, to);
    }
}

/// Records per chunk: a write that changes one user copies this many records and entries.
const CHUNK_BITS: u32 = 9;
const CHUNK: usize = 1 << CHUNK_BITS;
const IN_CHUNK: usize = CHUNK - 1;

/// Parts of the id table: a write that adds or removes a user copies one (about 4,000
/// positions at 1,000,000 users).
const ID_PART_BITS: u32 = 8;
const ID_PARTS: usize = 1 << ID_PART_BITS;

/// What the quick check path knows of one user: 24 bytes with a 64-bit catalog.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hot<P> {
    pub(crate) id: UserId,
    /// The permissions the user's one grant holds, less those the account withholds and those
    /// that are not decided by store access (account-wide and owner-only); empty unless the
    /// entry's [`Quick`] is `AtStores` or `Everywhere`.
    pub(crate) mask: P,
    /// Packed: the [`Quick`] in the low two bits; the length of the user's run in the next
    /// eight ([`LONG_RUN`] for a run that ends at the next entry's start); the position of the
    /// user's account in the index's accounts in the top [`ACCOUNT_BITS`]. With the length
    /// here, a store check reads no other entry than the user's own.
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

/// Bits of [`Hot::meta`] for the account's position; users of later accounts get `Slow`
/// entries (about four million accounts fit).
const ACCOUNT_BITS: u32 = 22;
const ACCOUNT_SHIFT: u32 = 32 - ACCOUNT_BITS;
const MAX_ACCOUNT: u32 = u32::MAX >> ACCOUNT_SHIFT;

/// The run length in [`Hot::meta`] that says "longer: the run ends where the next entry's
/// starts"; shorter runs have their length there.
const LONG_RUN: u32 = 0xff;
const RUN_SHIFT: u32 = 2;

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

    /// An entry whose run is `len` stores from `from`, or a `Slow` one if the account's
    /// position does not fit.
    fn new(id: UserId, mask: P, account: u32, quick: Quick, from: u32, len: usize) -> Self {
        if account > MAX_ACCOUNT {
            return Hot::slow(id, from);
        }
        let len = u32::try_from(len).map_or(LONG_RUN, |l| l.min(LONG_RUN));
        Hot {
            id,
            mask,
            meta: account << ACCOUNT_SHIFT | len << RUN_SHIFT | quick as u32,
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
        self.meta >> ACCOUNT_SHIFT
    }

    /// The length of the user's run, or [`LONG_RUN`].
    #[inline(always)]
    fn run_len(&self) -> u32 {
        self.meta >> RUN_SHIFT & LONG_RUN
    }
}

/// The entries of one chunk of records, and the runs of stores they point into. The list's
/// header comes first, so that it shares a cache line with the chunk's start.
#[derive(Clone, Debug)]
#[repr(C)]
struct HotChunk<P> {
    /// The `AtStores` users' stores, ascending within each user's run; a run starts at its
    /// entry's `from` and ends at the next entry's (or at the end).
    stores: Runs,
    /// One per record of the chunk; past the records, placeholders no position reaches.
    entries: [Hot<P>; CHUNK],
    /// The role of each user's first grant (the one grant of a user the quick path decides),
    /// so that a `check` names the allowing role without reading the record.
    roles: [RoleId; CHUNK],
}

impl<P: Catalog> HotChunk<P> {
    fn empty() -> Self {
        HotChunk {
            entries: [Hot::slow(UserId::new(0), 0); CHUNK],
            stores: Runs::Narrow(Vec::new()),
            roles: [RoleId::new(0); CHUNK],
        }
    }
}

/// A chunk's runs of stores: 4 bytes a store while every id of the chunk's runs fits in 32
/// bits (database ids, as a rule), 8 bytes otherwise.
#[derive(Clone, Debug)]
enum Runs {
    Narrow(Vec<u32>),
    Wide(Vec<StoreId>),
}

impl Runs {
    fn len(&self) -> usize {
        match self {
            Runs::Narrow(v) => v.len(),
            Runs::Wide(v) => v.len(),
        }
    }

    /// `stores` at their size, narrow if every id fits.
    fn of(stores: &[StoreId]) -> Self {
        if stores.iter().all(|s| u32::try_from(s.get()).is_ok()) {
            // Every id fits, so nothing is cut.
            Runs::Narrow(stores.iter().map(|s| s.get() as u32).collect())
        } else {
            Runs::Wide(stores.to_vec())
        }
    }

    #[inline(always)]
    fn run(&self, range: core::ops::Range<usize>) -> Run<'_> {
        match self {
            Runs::Narrow(v) => Run::Narrow(v.get(range).unwrap_or(&[])),
            Runs::Wide(v) => Run::Wide(v.get(range).unwrap_or(&[])),
        }
    }
}

/// One user's run of stores, ascending (see [`UserTable::stores_of`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Run<'a> {
    Narrow(&'a [u32]),
    Wide(&'a [StoreId]),
}

impl Run<'_> {
    /// Whether the run names `store`.
    #[inline(always)]
    pub(crate) fn contains(self, store: StoreId) -> bool {
        match self {
            Run::Narrow(ids) => u32::try_from(store.get()).is_ok_and(|id| contains_sorted(ids, id)),
            Run::Wide(ids) => contains_sorted(ids, store),
        }
    }

    /// The run's stores.
    #[cfg(test)]
    pub(crate) fn to_vec(self) -> Vec<StoreId> {
        match self {
            Run::Narrow(ids) => ids.iter().map(|&id| StoreId::new(u64::from(id))).collect(),
            Run::Wide(ids) => ids.to_vec(),
        }
    }
}

/// Whether two records of a user are filed alike in the per-account indexes: same account,
/// username, e-mail, and the flags the counts count.
fn same_contact(a: &User, b: &User) -> bool {
    a.account() == b.account()
        && a.username() == b.username()
        && a.email() == b.email()
        && a.is_enabled() == b.is_enabled()
        && a.is_owner() == b.is_owner()
}

/// The record at `position` of a chunked record table.
#[inline]
fn record(records: &Tree<Vec<User>>, position: usize) -> Option<&User> {
    records
        .get(position >> CHUNK_BITS)?
        .get(position & IN_CHUNK)
}

/// The entry at `position` of a chunked entry table, whether or not it is current: its id
/// always is.
#[inline(always)]
fn entry<P>(hot: &[Arc<HotChunk<P>>], position: usize) -> Option<&Hot<P>> {
    chunk(hot, position)?.entries.get(position & IN_CHUNK)
}

/// The chunk of entries holding `position`: the one place a position is split, so that the
/// entries, runs and roles of a position always come from the same chunk.
#[inline(always)]
fn chunk<P>(hot: &[Arc<HotChunk<P>>], position: usize) -> Option<&HotChunk<P>> {
    hot.get(position >> CHUNK_BITS).map(|c| &**c)
}

#[inline]
fn hash(id: UserId) -> u64 {
    IdHash.hash_one(id)
}

/// The id table's part of a hash: middle bits, which the part's own table does not use for
/// buckets (low bits) or tags (top bits).
#[inline]
fn id_part(hash: u64) -> usize {
    (hash >> 32) as usize & (ID_PARTS - 1)
}

/// The hash of the user at a position, for the id table to rehash itself.
fn rehash<P>(hot: &[Arc<HotChunk<P>>]) -> impl Fn(&u32) -> u64 + '_ {
    |&i| entry(hot, i as usize).map_or(0, |h| hash(h.id))
}

/// The hash a name table files the record at a position under; `text` is the username or
/// the e-mail. For the table to rehash itself as it grows or shrinks.
fn rehash_names<'a>(
    records: &'a Tree<Vec<User>>,
    hash: &'a NameHash,
    text: fn(&User) -> &str,
) -> impl Fn(&u32) -> u64 + 'a {
    move |&p| record(records, p as usize).map_or(0, |r| hash.of(r.account(), text(r)))
}

/// A position as the tables store it.
pub(crate) fn at_u32(position: usize) -> u32 {
    // INVARIANT: positions fit in u32 (`UserTable::insert` refuses more users).
    u32::try_from(position).unwrap_or(u32::MAX)
}

impl<P> Default for UserTable<P> {
    fn default() -> Self {
        UserTable {
            records: Tree::default(),
            len: 0,
            hot: Vec::new(),
            index: (0..ID_PARTS).map(|_| Arc::default()).collect(),
            ready: true,
            dirty: Vec::new(),
            contacts: Contacts::default(),
        }
    }
}

/// A user found in the table: its position, and the chunk of entries that holds it, so that
/// a check reads the chunk's entry, run and role without finding the chunk again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found<'a, P> {
    pub(crate) position: usize,
    chunk: &'a HotChunk<P>,
}

impl<P: Catalog> UserTable<P> {
    /// The position of a user named by id or key: a key's position is tried first, and used
    /// only if it holds this user.
    #[inline]
    pub(crate) fn position<U: Sealed>(&self, user: U) -> Option<usize> {
        self.found(user).map(|f| f.position)
    }

    /// [`UserTable::position`], with the chunk of entries holding it.
    #[inline(always)]
    pub(crate) fn found<U: Sealed>(&self, user: U) -> Option<Found<'_, P>> {
        let id = user.id();
        if let Some(slot) = user.slot()
            && let Some(found) = self.found_at(slot as usize)
            && found
                .chunk
                .entries
                .get(found.position & IN_CHUNK)
                .is_some_and(|h| h.id == id)
        {
            return Some(found);
        }
        let h = hash(id);
        let hot = &self.hot;
        let position = self
            .index
            .get(id_part(h))?
            .find(h, |&i| {
                (i as usize) < self.len && entry(hot, i as usize).is_some_and(|e| e.id == id)
            })
            .map(|&i| i as usize)?;
        self.found_at(position)
    }

    /// The user at `position`, if there is one.
    #[inline(always)]
    pub(crate) fn found_at(&self, position: usize) -> Option<Found<'_, P>> {
        if position < self.len {
            let chunk = chunk(&self.hot, position)?;
            Some(Found { position, chunk })
        } else {
            None
        }
    }

    /// The quick-path entry of a found user, if the entries are current.
    #[inline(always)]
    pub(crate) fn hot_of<'a>(&self, found: Found<'a, P>) -> Option<&'a Hot<P>> {
        if self.ready {
            found.chunk.entries.get(found.position & IN_CHUNK)
        } else {
            None
        }
    }

    /// The stores of the entry `hot` of a found user, ascending: its run, which is empty
    /// unless the entry is `AtStores`. Meaningful only while the entries are current (see
    /// [`UserTable::hot`]).
    #[inline(always)]
    pub(crate) fn stores_of<'a>(&self, found: Found<'a, P>, hot: &Hot<P>) -> Run<'a> {
        let Found { position, chunk } = found;
        let from = hot.from as usize;
        let len = hot.run_len();
        if len != LONG_RUN {
            return chunk.stores.run(from..from + len as usize);
        }
        // A long run ends where the next entry's starts, or at the end of the chunk's list for
        // the last record.
        let end = if position + 1 < self.len && (position + 1) & IN_CHUNK != 0 {
            chunk
                .entries
                .get((position + 1) & IN_CHUNK)
                .map_or(0, |next| next.from as usize)
        } else {
            chunk.stores.len()
        };
        chunk.stores.run(from..end)
    }

    /// The role of the first grant of a found user, whose entry the quick path decided by
    /// (meaningful only then, as [`UserTable::stores_of`]).
    #[inline(always)]
    pub(crate) fn role_of(&self, found: Found<'_, P>) -> Option<RoleId> {
        found.chunk.roles.get(found.position & IN_CHUNK).copied()
    }

    /// The record at a position.
    #[inline]
    pub(crate) fn at(&self, position: usize) -> Option<&User> {
        record(&self.records, position)
    }

    /// The quick-path entry at a position, if the entries are current.
    #[cfg(test)]
    pub(crate) fn hot(&self, position: usize) -> Option<&Hot<P>> {
        self.hot_of(self.found_at(position)?)
    }

    /// The id of the user at a position (current whether or not the entries are).
    #[inline]
    pub(crate) fn id_at(&self, position: u32) -> Option<UserId> {
        let p = position as usize;
        if p < self.len {
            entry(&self.hot, p).map(|h| h.id)
        } else {
            None
        }
    }

    /// The user named by id or key.
    #[inline]
    pub(crate) fn find<U: Sealed>(&self, user: U) -> Option<&User> {
        self.position(user).and_then(|p| self.at(p))
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

    /// Room for `additional` more users, so that a bulk load grows each table once instead of
    /// doubling (and copying) it many times. `settle` shrinks what was not used.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.records.reserve(additional / CHUNK + 1);
        self.hot.reserve(additional / CHUNK + 1);
        let UserTable {
            hot,
            index,
            records,
            contacts,
            ..
        } = self;
        let each = additional / ID_PARTS + 1;
        for part in index.iter_mut() {
            Arc::make_mut(part).reserve(each, rehash(hot));
        }
        let Contacts {
            hash,
            usernames,
            emails,
            ..
        } = contacts;
        usernames.reserve(additional, rehash_names(records, hash, User::username));
        emails.reserve(additional, rehash_names(records, hash, User::email));
    }

    /// Turns the quick path off until the next [`UserTable::refresh`].
    pub(crate) fn invalidate(&mut self) {
        self.ready = false;
    }

    /// How many users there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The entry at a position, its chunk copied first if another version shares it.
    fn entry_mut(&mut self, position: usize) -> Option<&mut Hot<P>> {
        let chunk = self.hot.get_mut(position >> CHUNK_BITS)?;
        Arc::make_mut(chunk).entries.get_mut(position & IN_CHUNK)
    }

    /// The record at a position, its chunk copied first if another version shares it.
    fn at_mut(&mut self, position: usize) -> Option<&mut User> {
        self.records
            .get_mut(position >> CHUNK_BITS)?
            .get_mut(position & IN_CHUNK)
    }

    /// Marks the chunk of a position for the next refresh.
    fn touch(&mut self, position: usize) {
        self.dirty.push(at_u32(position >> CHUNK_BITS));
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
        if let Some(p) = self.position(id) {
            let at = at_u32(p);
            let Some(slot) = self.at_mut(p) else {
                return Err(Error::not_found("user", id));
            };
            let old = core::mem::replace(slot, user);
            self.touch(p);
            // Most updates keep the names and flags: then the indexes (and the parts another
            // version shares) are left alone.
            if let Some(new) = record(&self.records, p)
                && !same_contact(&old, new)
            {
                self.contacts.unfile(&old, at);
                self.contacts.file(&self.records, new, at);
            }
            return Ok(Some(old));
        }
        let position = u32::try_from(self.len)
            .ok()
            .filter(|&p| p < u32::MAX)
            .ok_or_else(|| {
                Error::invalid("user", id, "an engine holds at most 4,294,967,295 users")
            })?;
        let p = self.len;
        if p & IN_CHUNK == 0 {
            self.records.push(Vec::with_capacity(CHUNK.min(p + 1)));
            self.hot.push(Arc::new(HotChunk::empty()));
        }
        if let Some(last) = self.records.last_mut() {
            last.push(user);
        }
        self.len += 1;
        if let Some(e) = self.entry_mut(p) {
            *e = Hot::slow(id, 0);
        }
        let h = hash(id);
        let UserTable { hot, index, .. } = self;
        if let Some(part) = index.get_mut(id_part(h)) {
            Arc::make_mut(part).insert_unique(h, position, rehash(hot));
        }
        self.touch(p);
        if let Some(new) = record(&self.records, p) {
            self.contacts.file(&self.records, new, position);
        }
        Ok(None)
    }

    /// Removes a user, and says at which position it was: the last record moved there,
    /// unless it was the last.
    pub(crate) fn remove_at(&mut self, id: &UserId) -> Option<(User, usize)> {
        let position = self.position(*id)?;
        let h = hash(*id);
        let part = self.index.get_mut(id_part(h))?;
        if let Ok(found) = Arc::make_mut(part).find_entry(h, |&i| i as usize == position) {
            found.remove();
        }
        self.ready = false;
        let at = at_u32(position);
        if let Some(gone) = record(&self.records, position) {
            self.contacts.unfile(gone, at);
        }
        // Take the last record (and entry id) off the end.
        let last_at = self.len - 1;
        let last = {
            let chunk = self.records.last_mut()?;
            let user = chunk.pop()?;
            if chunk.is_empty() {
                self.records.pop();
                self.hot.pop();
            }
            user
        };
        self.len = last_at;
        self.touch(position);
        let removed = if position == last_at {
            last
        } else {
            // The last user moves into the freed position: its entry's id, its id-table
            // entry and its name entries follow it.
            let moved = last.id();
            self.contacts.repoint(&last, at_u32(last_at), at);
            let removed = core::mem::replace(self.at_mut(position)?, last);
            if let Some(e) = self.entry_mut(position) {
                *e = Hot::slow(moved, 0);
            }
            let h = hash(moved);
            if let Some(part) = self.index.get_mut(id_part(h))
                && let Some(slot) = Arc::make_mut(part).find_mut(h, |&i| i as usize == last_at)
            {
                *slot = at;
            }
            removed
        };
        if last_at & IN_CHUNK != 0 {
            // The last chunk lost a record but remains.
            self.touch(last_at);
        }
        Some((removed, position))
    }

    /// Every user, in position order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &User> {
        self.records.iter().flat_map(|chunk| chunk.iter())
    }

    /// Brings the quick-path entries (mask, account position, quick, from `of`) and the store
    /// runs up to date once a batch is complete. `everything`: what `of` reads (roles,
    /// accounts) may have changed, so every chunk is rebuilt; otherwise only the chunks whose
    /// records changed since the last refresh are.
    pub(crate) fn refresh(&mut self, of: impl Fn(&User) -> (P, u32, Quick), everything: bool) {
        self.dirty.sort_unstable();
        self.dirty.dedup();
        let UserTable {
            records,
            hot,
            dirty,
            ..
        } = self;
        let mut scratch = Vec::new();
        let mut rebuild = |c: usize, hot: &mut Vec<Arc<HotChunk<P>>>| {
            if let (Some(users), Some(chunk)) = (records.get(c), hot.get_mut(c)) {
                Self::rebuild(users, Arc::make_mut(chunk), &of, &mut scratch);
            }
        };
        if everything {
            for c in 0..records.len() {
                rebuild(c, hot);
            }
        } else {
            for &c in dirty.iter() {
                rebuild(c as usize, hot);
            }
        }
        self.dirty.clear();
        // A bulk load marked every chunk: keep no memory for it.
        self.dirty.shrink_to(64);
        self.ready = true;
    }

    /// Recomputes a chunk's entries and runs from its records. The runs are gathered in
    /// `scratch` (one for every chunk of a refresh), then copied into the chunk at their size
    /// and width.
    fn rebuild(
        users: &[User],
        chunk: &mut HotChunk<P>,
        of: &impl Fn(&User) -> (P, u32, Quick),
        scratch: &mut Vec<StoreId>,
    ) {
        let HotChunk {
            entries,
            stores,
            roles,
        } = chunk;
        scratch.clear();
        for ((record, slot), role) in users.iter().zip(entries.iter_mut()).zip(roles.iter_mut()) {
            let from = u32::try_from(scratch.len()).unwrap_or(u32::MAX);
            let room = (u32::MAX as usize).saturating_sub(scratch.len());
            let (entry, run) = Self::entry(record, of(record), from, room);
            scratch.extend_from_slice(run);
            *slot = entry;
            *role = record.grants().first().map_or(RoleId::new(0), |g| g.role);
        }
        *stores = Runs::of(scratch);
    }

    /// The entry of a user, with its run if it is `AtStores` (`None`: no run fits or is
    /// needed), starting at `from`.
    fn entry(
        record: &User,
        (mask, account, quick): (P, u32, Quick),
        from: u32,
        room: usize,
    ) -> (Hot<P>, &[StoreId]) {
        let id = record.id();
        if quick != Quick::AtStores {
            return (Hot::new(id, mask, account, quick, from, 0), &[]);
        }
        let run = record.grants().first().and_then(|g| match &g.stores {
            Access::None => Some(&[][..]),
            Access::Specific(set) => Some(set.as_slice()),
            Access::All => None,
        });
        // Runs are found by u32 offsets: a run that would end past them is left to the full
        // check.
        match run {
            Some(ids) if ids.len() <= room => {
                let entry = Hot::new(id, mask, account, quick, from, ids.len());
                // A `Slow` entry (its account does not fit) has no run.
                let ids = if entry.quick() == Quick::AtStores {
                    ids
                } else {
                    &[]
                };
                (entry, ids)
            }
            _ => (Hot::slow(id, from), &[]),
        }
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.hot.shrink_to_fit();
        for chunk in self.records.unshared_mut() {
            chunk.shrink_to_fit();
        }
        let UserTable {
            records,
            hot,
            index,
            contacts,
            ..
        } = self;
        for part in index.iter_mut().filter_map(Arc::get_mut) {
            part.shrink_to_fit(rehash(hot));
        }
        let Contacts {
            hash,
            usernames,
            emails,
            counts,
        } = contacts;
        usernames.shrink_to_fit(rehash_names(records, hash, User::username));
        emails.shrink_to_fit(rehash_names(records, hash, User::email));
        counts.shrink_to_fit();
    }

    /// The counts of an account's users (`None`: it has none).
    pub(crate) fn counts(&self, account: AccountId) -> Option<&Counts> {
        self.contacts.counts.of(account)
    }

    /// The positions of the users of `account` whose username is `username` by
    /// [`same_folded`](crate::model::text::same_folded).
    pub(crate) fn named(&self, account: AccountId, username: &str) -> impl Iterator<Item = u32> {
        let h = self.contacts.hash.of(account, username);
        self.contacts.usernames.candidates(h).filter(move |&p| {
            self.at(p as usize).is_some_and(|u| {
                u.account() == account && crate::model::text::same_folded(u.username(), username)
            })
        })
    }

    /// The positions of the users of `account` whose e-mail is `email` by
    /// [`same_folded`](crate::model::text::same_folded).
    pub(crate) fn with_email(&self, account: AccountId, email: &str) -> impl Iterator<Item = u32> {
        let h = self.contacts.hash.of(account, email);
        self.contacts.emails.candidates(h).filter(move |&p| {
            self.at(p as usize).is_some_and(|u| {
                u.account() == account && crate::model::text::same_folded(u.email(), email)
            })
        })
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

    /// Many users of one account: a name looked up finds exactly the users of that name, in
    /// any case, never another user whose entry shares the name table's tag (with thousands
    /// of entries such matches are certain). Kills `&&` -> `||` in `with_email` (and in
    /// `named`), which no smaller table noticed.
    #[test]
    fn lookups_by_name_in_a_large_account_find_only_equal_names() {
        let account = AccountId::new(1);
        let mut table = UserTable::<Pos>::default();
        for id in 1..=4_000u64 {
            let u = User::new(
                UserId::new(id),
                account,
                &format!("user{id}"),
                &format!("user{id}@shop.example"),
            );
            table.insert(u).unwrap();
        }
        for id in 1..=4_000u64 {
            let by_email: Vec<u32> = table
                .with_email(account, &format!("USER{id}@shop.example"))
                .collect();
            let by_name: Vec<u32> = table.named(account, &format!("User{id}")).collect();
            assert_eq!(by_email, by_name);
            let [p] = by_email[..] else {
                panic!("user{id}: {by_email:?}");
            };
            assert_eq!(table.at(p as usize).map(User::id), Some(UserId::new(id)));
        }
        for id in 4_001..=4_500u64 {
            assert_eq!(
                table
                    .with_email(account, &format!("user{id}@shop.example"))
                    .count(),
                0
            );
            assert_eq!(table.named(account, &format!("user{id}")).count(), 0);
            assert_eq!(
                table
                    .with_email(
                        AccountId::new(2),
                        &format!("user{}@shop.example", id - 4_000)
                    )
                    .count(),
                0
            );
        }
    }

    fn sealed_slot(k: UserKey) -> usize {
        Sealed::slot(k).map_or(usize::MAX, |s| s as usize)
    }

    /// The stores of user `id` at `version`: a few, or none at all; some ids past 32 bits, so
    /// that chunks of both widths are built; for some ids 254 to 256, so that runs both
    /// shorter and longer than an entry can say are built.
    fn stores(id: u64, version: u8) -> Vec<StoreId> {
        let base = if id % 7 == 3 { 1 << 33 } else { 0 };
        let count = if id % 9 == 4 {
            254 + (id + u64::from(version)) % 3
        } else {
            (id + u64::from(version)) % 4
        };
        (0..count)
            .map(|s| StoreId::new(base + id * 1_000 + s))
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
                    let removed = table.remove_at(&UserId::new(id)).map(|(u, _)| u.username().to_owned());
                    let want = model.remove(&id).map(|v| format!("u{id}v{v}"));
                    // Only a change turns the quick path off.
                    prop_assert_eq!(table.ready, want.is_none());
                    prop_assert_eq!(removed, want);
                } else {
                    let replaced = table.insert(user(id, op)).unwrap().is_some();
                    prop_assert_eq!(replaced, model.insert(id, op).is_some());
                    prop_assert!(!table.ready);
                    // Until the refresh, no entry is read: the record may differ from it.
                    prop_assert!(table.hot(0).is_none());
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
            table.refresh(|u| (Pos::SELL, u32::try_from(u.id().get()).unwrap(), Quick::AtStores), false);
            // Past the last record is no user, though its chunk may hold placeholder entries.
            prop_assert!(table.found_at(table.len()).is_none());
            prop_assert!(table.hot(table.len()).is_none());
            for (position, u) in table.values().enumerate() {
                let hot = table.hot(position).unwrap();
                prop_assert_eq!(hot.id, u.id());
                prop_assert_eq!(u64::from(hot.account()), u.id().get());
                prop_assert_eq!(hot.quick(), Quick::AtStores);
                let version = model[&u.id().get()];
                let want = stores(u.id().get(), version);
                prop_assert_eq!(table.stores_of(table.found_at(position).unwrap(), hot).to_vec(), want.clone());
            }
            // A second refresh (as every write makes) replaces the runs: odd ids keep theirs,
            // even ids (at all stores now) and ids past the packable accounts have none.
            table.refresh(|u| {
                let id = u.id().get();
                // 2^22: the first account position the packing leaves no room for, and the
                // last that fits (written out, not from `MAX_ACCOUNT`, so that the bound itself
                // is tested).
                let account = match id % 5 {
                    0 => 1 << 22,
                    1 => (1 << 22) - 1,
                    _ => 7,
                };
                (Pos::SELL, account, if id % 2 == 0 { Quick::Everywhere } else { Quick::AtStores })
            }, true);
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
                if quick != Quick::Slow {
                    prop_assert_eq!(hot.account(), if id % 5 == 1 { (1 << 22) - 1 } else { 7 });
                }
                prop_assert_eq!(table.stores_of(table.found_at(position).unwrap(), hot).to_vec(), want.clone());
                total += want.len();
            }
            prop_assert_eq!(table.hot.iter().map(|c| c.stores.len()).sum::<usize>(), total);
        }

        /// The per-account indexes against a scan of the table: for every account and every
        /// name of a small pool (case variants and non-ASCII folding included), the positions
        /// found are exactly the users a scan finds equal by `same_folded`; the counts are the
        /// scan's counts. Names are shared between users on purpose, as inside a batch.
        #[test]
        fn the_name_indexes_agree_with_a_scan(
            ops in prop::collection::vec((0u64..30, 0usize..3, 0usize..6, 0usize..6, 0u8..4), 1..150),
        ) {
            const NAMES: [&str; 6] = ["till", "TILL", "Ärger", "ärger", "x@example.com", "X@Example.com"];
            let mut table = UserTable::<Pos>::default();
            for (id, account, name, email, flags) in ops {
                let id = UserId::new(id);
                if flags == 3 && name == 0 {
                    table.remove_at(&id);
                    continue;
                }
                // An id keeps its account (the index refuses moves before the table sees them).
                let account = AccountId::new(1 + (id.get() + account as u64) % 2);
                let account = table.get(&id).map_or(account, User::account);
                let mut u = User::new(id, account, NAMES[name], NAMES[email]);
                if flags & 1 == 1 {
                    u = u.with_enabled(false);
                }
                if flags & 2 == 2 {
                    u = u.with_owner(true);
                }
                table.insert(u).unwrap();
                for account in [AccountId::new(1), AccountId::new(2)] {
                    for probe in NAMES {
                        let mut got: Vec<u32> = table.named(account, probe).collect();
                        got.sort_unstable();
                        let mut want: Vec<u32> = (0..table.len() as u32)
                            .filter(|&p| {
                                let u = table.at(p as usize).unwrap();
                                u.account() == account && crate::model::text::same_folded(u.username(), probe)
                            })
                            .collect();
                        prop_assert_eq!(&got, &want);
                        got = table.with_email(account, probe).collect();
                        got.sort_unstable();
                        want = (0..table.len() as u32)
                            .filter(|&p| {
                                let u = table.at(p as usize).unwrap();
                                u.account() == account && crate::model::text::same_folded(u.email(), probe)
                            })
                            .collect();
                        prop_assert_eq!(&got, &want);
                    }
                    let mine: Vec<&User> = table.values().filter(|u| u.account() == account).collect();
                    let counts = table.counts(account);
                    prop_assert_eq!(counts.map_or(0, |c| c.users as usize), mine.len());
                    prop_assert_eq!(
                        counts.map_or(0, |c| c.enabled as usize),
                        mine.iter().filter(|u| u.is_enabled()).count()
                    );
                    let mut owners: Vec<UserId> = counts.map_or(Vec::new(), |c| c.owners.to_vec());
                    owners.sort_unstable();
                    let mut want: Vec<UserId> = mine.iter().filter(|u| u.is_owner()).map(|u| u.id()).collect();
                    want.sort_unstable();
                    prop_assert_eq!(owners, want);
                }
            }
        }

        /// Across chunks: batches of inserts, replacements and removals over more users than
        /// a chunk holds, each followed by a refresh (the first of everything, the others of
        /// the changed chunks only). After each, every id finds its record, and every entry and
        /// run describes its record as a full rebuild would.
        #[test]
        fn chunks_follow_their_records(
            first in prop::collection::vec((0u64..1400, 1u8..4), 600..900),
            later in prop::collection::vec(
                prop::collection::vec((0u64..1400, 0u8..4), 1..6),
                1..12,
            ),
        ) {
            let batches = core::iter::once(first).chain(later);
            let of = |u: &User| {
                let id = u.id().get();
                let quick = if id.is_multiple_of(3) { Quick::Everywhere } else { Quick::AtStores };
                (Pos::SELL, 7, quick)
            };
            let mut table = UserTable::<Pos>::default();
            let mut model: BTreeMap<u64, u8> = BTreeMap::new();
            for (round, batch) in batches.enumerate() {
                table.invalidate();
                for (id, op) in batch {
                    if op == 0 {
                        let gone = table.remove_at(&UserId::new(id)).map(|(u, _)| u.id().get());
                        prop_assert_eq!(gone, model.remove(&id).map(|_| id));
                    } else {
                        table.insert(user(id, op)).unwrap();
                        model.insert(id, op);
                    }
                }
                table.refresh(of, round == 0);
                prop_assert_eq!(table.len(), model.len());
                for (&id, &version) in &model {
                    let p = table.position(UserId::new(id)).unwrap();
                    let u = table.at(p).unwrap();
                    prop_assert_eq!(u.id().get(), id);
                    let hot = table.hot(p).unwrap();
                    prop_assert_eq!(hot.id, u.id());
                    let want = if id.is_multiple_of(3) { Vec::new() } else { stores(id, version) };
                    prop_assert_eq!(table.stores_of(table.found_at(p).unwrap(), hot).to_vec(), want);
                }
                prop_assert!(table.position(UserId::new(5000)).is_none());
            }
        }
    }
}
