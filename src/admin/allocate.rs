//! New ids for hosts with no sequence of their own ([`Engine::next_id`]).

use std::sync::PoisonError;

use crate::Error;
use crate::engine::Engine;
use crate::model::ids::ObjectId;
use crate::model::permission::Catalog;

/// The most ids one call reserves: a bulk load asks in blocks.
pub(crate) const MAX_BLOCK: u32 = 1 << 20;

/// The highest id handed out: SQL stores keep ids as signed 64-bit integers.
const LAST_ID: u64 = i64::MAX as u64;

impl<P: Catalog> Engine<P> {
    /// A new id of kind `I` ([`UserId`](crate::UserId), [`RoleId`](crate::RoleId),
    /// [`StoreId`](crate::StoreId), …), for a host with no sequence of its own: above every id
    /// of that kind the engine and its store hold, and handed out once — across every engine
    /// and process sharing the store, and across restarts (a SQLite or PostgreSQL store keeps
    /// its sequence in a table of its own; a [`MemoryStorage`](crate::storage::MemoryStorage)
    /// for as long as it lives). Ids of removed objects are not handed out again.
    ///
    /// Allocating writes nothing but the sequence: an id that is never used is simply skipped.
    /// Ids a host gives itself keep working; allocation continues above them.
    ///
    /// ```
    /// use shopguard::catalog::pos::{self, Pos};
    /// use shopguard::{Access, Account, AccountId, Change, Engine, Grant, Mutation, RoleId};
    /// use shopguard::{User, UserId};
    ///
    /// let engine = Engine::<Pos>::new();
    /// let shop: AccountId = engine.next_id()?;
    /// let admin: RoleId = engine.next_id()?;
    /// let owner: UserId = engine.next_id()?;
    /// engine.unchecked_apply([
    ///     Mutation::PutAccount(Account::new(shop, "Corner Shop")),
    ///     Mutation::PutRole(pos::admin(admin, shop)),
    ///     Mutation::PutUser(User::new(owner, shop, "owner", "owner@example.com")
    ///         .with_owner(true).with_grant(Grant::new(admin, Access::All))),
    /// ])?;
    /// let ana = User::new(engine.next_id()?, shop, "ana", "ana@example.com")
    ///     .with_grant(Grant::new(admin, Access::All));
    /// assert_ne!(ana.id(), owner);
    /// engine.apply(owner, Change::CreateUser(ana))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly) on a partitioned replica (allocate
    /// on the engine that writes); [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the
    /// store could not reserve the id (see
    /// [`Storage::allocate_ids`](crate::storage::Storage::allocate_ids)).
    pub fn next_id<I: ObjectId>(&self) -> Result<I, Error> {
        self.allocate(I::KIND, 1).map(I::from_key)
    }

    /// `count` new ids of kind `I` at once, in increasing order (a bulk load): as
    /// [`next_id`](Self::next_id) `count` times, with one round trip to the store.
    ///
    /// # Errors
    ///
    /// As [`next_id`](Self::next_id); [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// if `count` is more than 1,048,576 (ask in blocks).
    pub fn next_ids<I: ObjectId>(&self, count: u32) -> Result<Vec<I>, Error> {
        if count > MAX_BLOCK {
            return Err(Error::invalid(
                "id count",
                count,
                "must be at most 1048576: ask in blocks",
            ));
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        let first = self.allocate(I::KIND, u64::from(count))?;
        Ok((first..first + u64::from(count)).map(I::from_key).collect())
    }

    /// Reserves `count` (1 ..= [`MAX_BLOCK`]) ids of `kind` and returns the first.
    fn allocate(&self, kind: crate::storage::ObjectKind, count: u64) -> Result<u64, Error> {
        if self.core.partition.is_some() {
            return Err(Error::partitioned_replica());
        }
        let used_up = || Error::storage(format!("the {kind} ids are used up"));
        let slot = usize::from(kind.code());
        let mut allocated = self
            .core
            .allocated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mine = allocated.get(slot).copied().ok_or_else(used_up)?;
        let held = self.core.current.load().highest_id(kind);
        let at_least = mine.max(held.checked_add(1).ok_or_else(used_up)?).max(1);
        if at_least
            .checked_add(count)
            .is_none_or(|end| end - 1 > LAST_ID)
        {
            return Err(used_up());
        }
        let first = self.core.storage.allocate_ids(kind, count, at_least)?;
        let end = first
            .checked_add(count)
            .filter(|end| first >= at_least && end - 1 <= LAST_ID)
            .ok_or_else(|| {
                Error::storage(format!(
                    "the store allocated {kind} id {first}, below this engine's {at_least} or \
                     past the last id"
                ))
            })?;
        if let Some(next) = allocated.get_mut(slot) {
            *next = end;
        }
        Ok(first)
    }
}
