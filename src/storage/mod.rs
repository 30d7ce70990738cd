//! Storage: the [`Storage`] trait, its contract, and the in-memory implementations.
//!
//! The engine answers every check from memory. A storage backend keeps the records durable and
//! hands them back on start. The engine calls it under its writer lock, after validating a batch
//! and before publishing it to readers, so a refused or failed write is never seen.

mod memory;

pub use memory::{MemoryStorage, Volatile};

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::model::account::{Account, Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::role::Role;
use crate::model::user::User;

/// One record-level write: put (insert or replace) or remove one object.
///
/// A batch of mutations is applied all at once or not at all.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
#[non_exhaustive]
pub enum Mutation<P> {
    /// Inserts or replaces an account.
    PutAccount(Account),
    /// Removes an empty account.
    RemoveAccount(AccountId),
    /// Inserts or replaces a store.
    PutStore(Store),
    /// Removes a store no role or user refers to.
    RemoveStore(StoreId),
    /// Inserts or replaces a source.
    PutSource(Source),
    /// Removes a source no role or user refers to.
    RemoveSource(SourceId),
    /// Inserts or replaces a sales channel.
    PutChannel(Channel),
    /// Removes a sales channel no role or user refers to.
    RemoveChannel(ChannelId),
    /// Inserts or replaces a role.
    PutRole(Role<P>),
    /// Removes a role no user holds (R15).
    RemoveRole(RoleId),
    /// Inserts or replaces a user.
    PutUser(User),
    /// Removes a user.
    RemoveUser(UserId),
}

/// What a backend hands back on start.
#[derive(Clone, Debug)]
pub struct Loaded<P> {
    /// The revision of the last accepted batch (0 for an empty store).
    pub revision: u64,
    /// Every stored object as a put, parents before children: accounts, then stores, sources
    /// and channels, then roles, then users.
    pub records: Vec<Mutation<P>>,
}

/// Where the engine's records live between processes.
///
/// # Contract
///
/// An implementation **must** keep these promises; the engine's own guarantees rest on them.
///
/// - `apply` **must** be atomic: either every mutation of the batch is stored, or none is.
/// - `apply` **must** be durable before it returns `Ok`: a crash after `Ok` loses nothing.
/// - `apply` that returns `Err` **must** leave the stored records as they were; the engine
///   then leaves memory as it was too.
/// - `load` **must** return exactly the records of every batch applied so far, each object in
///   its latest state, with the revision of the last batch. Loading into a new engine rebuilds
///   the same state.
/// - `apply` is called with strictly increasing revisions, one writer at a time per engine.
///   A backend shared by several engines **must** refuse a revision it has already stored with
///   [`ErrorKind::Storage`](crate::ErrorKind::Storage) rather than overwrite it.
///
/// The engine validates a batch before calling `apply`, so a backend need not re-check rules.
pub trait Storage<P>: Send + Sync + fmt::Debug {
    /// Reads every record.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend cannot be read, or a
    /// record cannot be decoded.
    fn load(&self) -> Result<Loaded<P>, Error>;

    /// Stores one batch as revision `revision`, atomically and durably.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the batch was not stored; then
    /// nothing of it was.
    fn apply(&self, revision: u64, batch: &[Mutation<P>]) -> Result<(), Error>;
}

impl<P, S: Storage<P> + ?Sized> Storage<P> for std::sync::Arc<S> {
    fn load(&self) -> Result<Loaded<P>, Error> {
        (**self).load()
    }

    fn apply(&self, revision: u64, batch: &[Mutation<P>]) -> Result<(), Error> {
        (**self).apply(revision, batch)
    }
}
