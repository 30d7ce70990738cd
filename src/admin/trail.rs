//! The stored audit trail, from the engine: queries ([`Engine::query_audit`]) and retention
//! ([`Engine::prune`]).

use std::io::Write;

use crate::Error;
use crate::admin::audit_query::{AuditPage, AuditQuery};
use crate::engine::Engine;
use crate::model::permission::Catalog;
use crate::storage::{Pruned, Retention};

impl<P: Catalog> Engine<P> {
    /// One page of one account's audit records from the engine's storage, filtered, newest
    /// first: [`Storage::audit_query`](crate::storage::Storage::audit_query). See
    /// [`AuditQuery`] for an example.
    ///
    /// It reads the store's own audit, not the engine's [`AuditSink`](crate::audit::AuditSink):
    /// on [`Volatile`](crate::storage::Volatile), the default, it is always empty. Who may read
    /// an account's trail is the host's to decide before asking.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for a cursor of another
    /// query (field `cursor`) or a limit of 0 (field `limit`);
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the store cannot be read.
    pub fn query_audit(&self, query: &AuditQuery) -> Result<AuditPage<P>, Error> {
        self.core.storage.audit_query(query)
    }

    /// Removes from the engine's storage the batches and audit records `retention` names,
    /// after writing each to `export` as a JSON line
    /// ([`Archived`](crate::storage::Archived)): see
    /// [`Storage::prune`](crate::storage::Storage::prune). The state is not touched, and
    /// checks go on meanwhile; an engine behind what was pruned reloads the state on its next
    /// read.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shopguard::catalog::pos::Pos;
    /// use shopguard::storage::{Archived, MemoryStorage, Retention};
    /// use shopguard::{Account, AccountId, Engine, Mutation};
    ///
    /// let store = Arc::new(MemoryStorage::<Pos>::new());
    /// let engine = Arc::new(Engine::open(Arc::clone(&store))?);
    /// let shop = AccountId::new(1);
    /// engine.unchecked_apply([Mutation::PutAccount(Account::new(shop, "Corner Shop"))])?;
    /// engine.unchecked_apply([Mutation::PutAccount(Account::new(shop, "Corner Shop Ltd"))])?;
    /// let replica = Engine::open(Arc::clone(&store))?; // at revision 2
    /// engine.unchecked_apply([Mutation::PutAccount(Account::new(shop, "The Corner Shop"))])?;
    ///
    /// // Everything made until now: its three batches and their three audit records.
    /// let mut export = Vec::new();
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    /// let horizon = u64::try_from(now.as_millis())? + 1;
    /// let pruned = engine.prune(&Retention::before_unix_ms(horizon), &mut export)?;
    /// assert_eq!((pruned.batches, pruned.audit_records, pruned.through_revision), (3, 3, 3));
    /// let lines: Vec<Archived<Pos>> = String::from_utf8(export)?
    ///     .lines()
    ///     .map(serde_json::from_str)
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(lines.len(), 6);
    ///
    /// // The replica missed revision 3, which is gone: it reloads the state instead.
    /// assert_eq!(replica.sync()?, 3);
    /// assert_eq!(replica.snapshot().account(shop).map(|a| a.name()), Some("The Corner Shop"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly) on a partitioned replica;
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the store does not prune, cannot
    /// be read or written, or the export cannot be written (then nothing was removed).
    pub fn prune(&self, retention: &Retention, export: &mut dyn Write) -> Result<Pruned, Error> {
        if self.core.partition.is_some() {
            return Err(Error::partitioned_replica());
        }
        self.core.storage.prune(retention, export)
    }
}
