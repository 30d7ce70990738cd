//! Storage: the [`Storage`] trait, its contract, and the backends.
//!
//! The engine answers every check from memory. A storage backend keeps the records durable,
//! hands them back on start, and — when several engines (replicas) share it — tells each
//! engine what the others wrote. The engine calls it under its writer lock, after validating a
//! batch and before publishing it to readers, so a refused or failed write is never seen.
//!
//! | Backend | Feature | For |
//! |---|---|---|
//! | [`Volatile`] | (default) | services that rebuild their policy from their own data on start |
//! | [`MemoryStorage`] | (default) | tests; several engines in one process |
//! | `SqliteStorage` | `sqlite` | one host, durable in an embedded SQLite file |
//! | `PgStorage` | `postgres` | several replicas on one PostgreSQL database |
//!
//! ## Revisions and replicas
//!
//! Every accepted batch gets a revision, increasing. A [`Commit`] names the revision it was
//! planned against (`base`); a backend shared by several engines stores it only if nothing was
//! stored after `base`, and otherwise refuses with [`ErrorKind::Conflict`]. The engine then
//! reads what it missed ([`Storage::changes_since`]), and either plans the change again on the
//! new state — so the seat limit (R12) and the single owner (R11) are checked against every
//! change, whichever replica made it — or, if the other writer touched the same objects,
//! refuses with [`ErrorKind::Conflict`] rather than overwrite.
//!
//! ## The audit trail and retention
//!
//! A durable backend keeps every audit record (R19) beside the batches. Query it with
//! [`Storage::audit_query`] (one account's records, filtered, newest first, paged by
//! [`AuditCursor`](crate::audit::AuditCursor)); the SQL backends answer from indexes. Old
//! batches and records are removed with [`Storage::prune`] ([`Retention`]), after being
//! written out as JSON lines ([`Archived`]); a follower still reading the batches keeps them.
//!
//! [`ErrorKind::Conflict`]: crate::ErrorKind::Conflict

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod record;
mod retention;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod trail;

pub use memory::{MemoryStorage, Volatile};
#[cfg(feature = "postgres")]
pub use postgres::PgStorage;
#[cfg(feature = "postgres-tls")]
pub use postgres::PgTls;
pub use retention::{Archived, Pruned, Retention};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStorage;

use core::fmt;
use std::io::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::admin::audit::AuditRecord;
use crate::admin::audit_query::{AuditPage, AuditQuery};
pub(crate) use crate::model::mutation::Mutation;
pub use crate::model::mutation::{Key, ObjectKind};

/// The longest any wait is allowed to be (a day): longer timeouts are cut to it.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(86_400);

/// What a backend hands back on start.
#[derive(Clone, Debug)]
pub struct Loaded<P> {
    /// The revision of the last accepted batch (0 for an empty store).
    pub revision: u64,
    /// Every stored object as a put, parents before children: accounts, then stores, sources
    /// and channels, then roles, then users.
    pub records: Vec<Mutation<P>>,
}

/// One stored batch, as [`Storage::changes_since`] hands it back.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "P: Serialize", deserialize = "P: Deserialize<'de>"))]
pub struct Batch<P> {
    /// The revision the batch was stored as.
    pub revision: u64,
    /// Its mutations, in order.
    pub mutations: Vec<Mutation<P>>,
}

/// One batch for a backend to store, with the audit records that go with it (R19).
#[derive(Clone, Copy, Debug)]
pub struct Commit<'a, P> {
    /// The revision the batch was planned against: the last one the writing engine had.
    pub base: u64,
    /// The revision to store it as; greater than `base`.
    pub revision: u64,
    /// The mutations, in order.
    pub mutations: &'a [Mutation<P>],
    /// One record per change of the batch, stored in the same transaction as the mutations;
    /// empty for [`Engine::unchecked_apply`](crate::Engine::unchecked_apply), which
    /// authorizes no one.
    pub audit: &'a [AuditRecord<P>],
}

/// Where the engine's records live between processes, and how replicas learn of each other's
/// writes.
///
/// # Contract
///
/// An implementation **must** keep these promises; the engine's own guarantees rest on them.
///
/// - `commit` **must** be atomic: either every mutation of the batch and every audit record is
///   stored, or none is.
/// - `commit` **must** be durable before it returns `Ok`: a crash after `Ok` loses nothing.
/// - `commit` that returns `Err` **must** leave the stored records as they were; the engine
///   then leaves memory as it was too. The one exception is a commit whose outcome cannot be
///   known (the connection dropped while the server committed, and the server cannot be asked
///   afterwards): the backend **must** report it with [`Error::outcome_unknown`]. The engine
///   then reads [`changes_since`](Self::changes_since): a batch with this revision and these
///   mutations counts as applied.
/// - `commit` **must** refuse a batch whose `base` is not the last revision stored, with
///   [`Error::revision_moved`] (kind [`ErrorKind::Conflict`](crate::ErrorKind::Conflict)), so
///   that no batch is ever stored on a state its writer did not see. Writers on different
///   engines are serialized this way. A backend that only one engine ever uses (such as
///   [`Volatile`]) may skip the check.
/// - `load` **must** return exactly the records of every batch stored so far, each object in
///   its latest state, with the revision of the last batch, read as one consistent state, in
///   [`ObjectKind`] order and, within a kind, in the order the objects were first put (an
///   object removed and put again counts as new). Loading into a new engine rebuilds the same
///   state, listings included.
/// - `changes_since(r)` **must** return every batch stored after revision `r`, in revision
///   order; applying them to the state of revision `r` gives the state [`load`](Self::load)
///   returns. If [`prune`](Self::prune) removed a batch after `r`, it **must** refuse instead,
///   with [`Error::pruned`], in the same read: the engine then reloads the whole state. It
///   never answers with a list that misses a batch.
/// - `prune` **must** write every batch and record it removes to its export before removing
///   any, and remove nothing if the export fails; it **must** remove batches oldest first,
///   never one after the revision of a follower registered
///   ([`register_follower`](Self::register_follower)) within the retention's follower
///   timeout.
/// - `audit_query` **must** list records newest first by their sequence numbers, which
///   increase in the order records become visible to readers, so that a page read while
///   others write neither repeats nor skips a record.
/// - `wait_for_change` **must** return by its `timeout`.
///
/// The engine validates a batch before calling `commit`, so a backend need not re-check rules.
pub trait Storage<P>: Send + Sync + fmt::Debug {
    /// Reads every record.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend cannot be read, or a
    /// record cannot be decoded.
    fn load(&self) -> Result<Loaded<P>, Error>;

    /// Stores one batch and its audit records as `commit.revision`, atomically and durably.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) (from [`Error::revision_moved`]) if
    /// another writer stored a batch after `commit.base`;
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the batch was not stored. Either
    /// way, nothing of it was.
    /// [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown) (from
    /// [`Error::outcome_unknown`]) if it cannot be known whether the batch was stored.
    fn commit(&self, commit: &Commit<'_, P>) -> Result<(), Error>;

    /// Every batch stored after `revision`, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend cannot be read.
    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<P>>, Error>;

    /// Records attempted changes that were refused (R19). Best effort: the engine ignores a
    /// failure here, since nothing was applied.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the records were not stored.
    fn record_refused(&self, records: &[AuditRecord<P>]) -> Result<(), Error>;

    /// Every audit record stored (and not pruned), oldest first: applied batches' records
    /// (stored with their batch) and refused attempts'. It reads the whole trail into memory:
    /// for tests and small stores; page through it with [`audit_query`](Self::audit_query).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend cannot be read.
    fn audit_records(&self) -> Result<Vec<AuditRecord<P>>, Error>;

    /// Whether engines other than the one opened on this handle may write the store: other
    /// processes on the same file or database, or other handles on it. An engine opened on a
    /// shared store with [`Engine::open`](crate::Engine::open) follows it by itself, so that
    /// what the others write (a user disabled) is seen here without waiting for a write of
    /// this engine's own. A backend that other processes can write **must** return `true`.
    ///
    /// The default is `false`: [`Volatile`] and [`MemoryStorage`] live in one process, where
    /// engines sharing one call [`Engine::follow`](crate::Engine::follow) or
    /// [`Engine::sync`](crate::Engine::sync).
    fn is_shared(&self) -> bool {
        false
    }

    /// Reserves `count` new ids of `kind` ([`Engine::next_id`](crate::Engine::next_id)) and
    /// returns the first: the ids `first .. first + count` are handed to the caller alone.
    /// `at_least` is the engine's floor (above every id of that kind it holds or has handed
    /// out); `count` is at least 1.
    ///
    /// An implementation **must** return ids that are at least `at_least`, above every id of
    /// `kind` the store holds, and never handed out before by this store, by any engine or
    /// process sharing it, even after a restart: two calls, from anywhere, never get the same
    /// id. The default returns `at_least` for a store that is not [shared](Self::is_shared)
    /// (its one engine's floor is then enough) and refuses otherwise.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the ids could not be reserved
    /// (the backend cannot be written, the ids of `kind` are used up, or the backend is shared
    /// and allocates none).
    fn allocate_ids(&self, kind: ObjectKind, count: u64, at_least: u64) -> Result<u64, Error> {
        let _ = (kind, count);
        if self.is_shared() {
            Err(Error::storage(
                "this storage backend is shared and does not allocate ids",
            ))
        } else {
            Ok(at_least)
        }
    }

    /// One page of one account's audit records, filtered, newest first: see [`AuditQuery`].
    ///
    /// The default reads [`audit_records`](Self::audit_records) and filters it in memory,
    /// numbering the records from 1 in their order: right for a backend that never prunes. The
    /// built-in backends override it; the SQL ones filter in the database, on indexes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a cursor of another
    /// query (another account, other filters) or a token that is not a cursor (field
    /// `cursor`), and for a limit of 0 (field `limit`);
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend cannot be read.
    fn audit_query(&self, query: &AuditQuery) -> Result<AuditPage<P>, Error>
    where
        P: Copy,
    {
        let records = self.audit_records()?;
        query.select(
            (1u64..)
                .zip(records.iter())
                .collect::<Vec<_>>()
                .into_iter()
                .rev(),
        )
    }

    /// Removes the batches and audit records `retention` names, after writing each to `export`
    /// as a JSON line ([`Archived`]) and flushing it. If the export fails, nothing is removed.
    /// Should the removal itself fail after the export, the export holds records still stored:
    /// an export may repeat a record, never lack one.
    ///
    /// The default removes nothing and refuses: a backend that prunes must also refuse
    /// [`changes_since`](Self::changes_since) a pruned revision, as the contract says.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend does not prune, cannot
    /// be read or written, or the export cannot be written. Nothing was removed then, unless
    /// the export was complete.
    fn prune(&self, retention: &Retention, export: &mut dyn Write) -> Result<Pruned, Error> {
        let _ = (retention, export);
        Err(Error::storage("this storage backend does not prune"))
    }

    /// Records that the follower `name` has every batch up to `revision`: [`prune`](Self::prune)
    /// keeps the later ones while the registration is fresh. Called again to refresh it.
    /// [`Engine::follow`](crate::Engine::follow) registers its engine. The default keeps
    /// nothing, as a backend that never prunes need not.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the registration was not stored.
    fn register_follower(&self, name: &str, revision: u64) -> Result<(), Error> {
        let _ = (name, revision);
        Ok(())
    }

    /// Removes the follower `name`'s registration: it holds nothing back any more.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if it could not be removed.
    fn unregister_follower(&self, name: &str) -> Result<(), Error> {
        let _ = name;
        Ok(())
    }

    /// Blocks until a batch after `after` may have been stored (by any engine sharing this
    /// backend), or `timeout` passes. Returns `true` if woken by a possible change (a new
    /// revision, or a reconnect after which notifications may have been missed): the caller
    /// then reads [`changes_since`](Self::changes_since). A spurious `true` is allowed. The
    /// default sleeps for `timeout` and returns `false`: a follower then reads at its poll
    /// interval.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend cannot be watched.
    fn wait_for_change(&self, after: u64, timeout: Duration) -> Result<bool, Error> {
        let _ = after;
        std::thread::sleep(timeout);
        Ok(false)
    }
}

impl<P, S: Storage<P> + ?Sized> Storage<P> for std::sync::Arc<S> {
    fn load(&self) -> Result<Loaded<P>, Error> {
        (**self).load()
    }

    fn commit(&self, commit: &Commit<'_, P>) -> Result<(), Error> {
        (**self).commit(commit)
    }

    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<P>>, Error> {
        (**self).changes_since(revision)
    }

    fn record_refused(&self, records: &[AuditRecord<P>]) -> Result<(), Error> {
        (**self).record_refused(records)
    }

    fn audit_records(&self) -> Result<Vec<AuditRecord<P>>, Error> {
        (**self).audit_records()
    }

    fn is_shared(&self) -> bool {
        (**self).is_shared()
    }

    fn allocate_ids(&self, kind: ObjectKind, count: u64, at_least: u64) -> Result<u64, Error> {
        (**self).allocate_ids(kind, count, at_least)
    }

    fn audit_query(&self, query: &AuditQuery) -> Result<AuditPage<P>, Error>
    where
        P: Copy,
    {
        (**self).audit_query(query)
    }

    fn prune(&self, retention: &Retention, export: &mut dyn Write) -> Result<Pruned, Error> {
        (**self).prune(retention, export)
    }

    fn register_follower(&self, name: &str, revision: u64) -> Result<(), Error> {
        (**self).register_follower(name, revision)
    }

    fn unregister_follower(&self, name: &str) -> Result<(), Error> {
        (**self).unregister_follower(name)
    }

    fn wait_for_change(&self, after: u64, timeout: Duration) -> Result<bool, Error> {
        (**self).wait_for_change(after, timeout)
    }
}
