//! Writes for async hosts (feature `tokio`): each blocking write runs on tokio's blocking
//! thread pool, so the runtime's workers keep serving other tasks while a commit waits for
//! the database.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::admin::Applied;
use crate::admin::change::Change;
use crate::engine::{Engine, Snapshot};
use crate::model::ids::{ObjectId, UserId};
use crate::model::permission::Catalog;

/// An [`Engine`] shared in an `Arc`, whose writes are `async` and never block the runtime:
/// each runs the engine's own blocking call with `tokio::task::spawn_blocking`. Checks need
/// no wrapper: call [`engine`](Self::engine)`().can(…)` directly, they never block.
///
/// A write, once started, runs to its end even if the future is dropped (as a blocking task
/// does): its outcome is then in the audit and the engine's revision, not lost half-way.
///
/// ```
/// use std::sync::Arc;
/// use shopguard::catalog::pos::{self, Pos};
/// use shopguard::{Access, Account, AccountId, AsyncEngine, Change, Engine, Grant, Mutation};
/// use shopguard::{RoleId, User, UserId};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let shop = AccountId::new(1);
/// let engine = Arc::new(Engine::<Pos>::new());
/// engine.unchecked_apply([
///     Mutation::PutAccount(Account::new(shop, "Corner Shop")),
///     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
///     Mutation::PutUser(User::new(UserId::new(1), shop, "owner", "owner@example.com")
///         .with_owner(true).with_grant(Grant::new(RoleId::new(1), Access::All))),
/// ])?;
/// let writes = AsyncEngine::new(Arc::clone(&engine));
/// let ana = User::new(UserId::new(2), shop, "ana", "ana@example.com")
///     .with_grant(Grant::new(RoleId::new(1), Access::All));
/// let applied = writes.apply(UserId::new(1), Change::CreateUser(ana)).await?;
/// assert_eq!(applied.revision(), engine.revision());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncEngine<P: Catalog> {
    engine: Arc<Engine<P>>,
}

impl<P: Catalog> Clone for AsyncEngine<P> {
    fn clone(&self) -> Self {
        Self {
            engine: Arc::clone(&self.engine),
        }
    }
}

impl<P: Catalog> AsyncEngine<P> {
    /// Wraps a shared engine.
    pub fn new(engine: Arc<Engine<P>>) -> Self {
        Self { engine }
    }

    /// The engine, for checks, snapshots and listings (none of which block).
    pub fn engine(&self) -> &Arc<Engine<P>> {
        &self.engine
    }

    /// [`Engine::apply`], off the runtime's workers.
    ///
    /// # Errors
    ///
    /// As [`Engine::apply`]; [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the
    /// blocking task could not run (the runtime is shutting down).
    pub async fn apply(&self, actor: UserId, change: Change<P>) -> Result<Applied, Error> {
        self.run(move |e| e.apply(actor, change)).await
    }

    /// [`Engine::apply_all`], off the runtime's workers.
    ///
    /// # Errors
    ///
    /// As [`Engine::apply_all`], and as [`apply`](Self::apply).
    pub async fn apply_all(
        &self,
        actor: UserId,
        changes: Vec<Change<P>>,
    ) -> Result<Applied, Error> {
        self.run(move |e| e.apply_all(actor, changes)).await
    }

    /// [`Engine::apply_based_on`], off the runtime's workers.
    ///
    /// # Errors
    ///
    /// As [`Engine::apply_based_on`], and as [`apply`](Self::apply).
    pub async fn apply_based_on(
        &self,
        actor: UserId,
        based_on: u64,
        changes: Vec<Change<P>>,
    ) -> Result<Applied, Error> {
        self.run(move |e| e.apply_based_on(actor, based_on, changes))
            .await
    }

    /// [`Engine::at_least`], off the runtime's workers: waits (bounded) for a revision.
    ///
    /// # Errors
    ///
    /// As [`Engine::at_least`], and as [`apply`](Self::apply).
    pub async fn at_least(&self, revision: u64, timeout: Duration) -> Result<Snapshot<P>, Error> {
        self.run(move |e| e.at_least(revision, timeout)).await
    }

    /// [`Engine::next_ids`], off the runtime's workers: new ids from the store's sequence.
    ///
    /// # Errors
    ///
    /// As [`Engine::next_ids`], and as [`apply`](Self::apply).
    pub async fn next_ids<I: ObjectId + Send + 'static>(
        &self,
        count: u32,
    ) -> Result<Vec<I>, Error> {
        self.run(move |e| e.next_ids(count)).await
    }

    /// [`Engine::upload_users_csv`], off the runtime's workers (feature `csv`).
    ///
    /// # Errors
    ///
    /// As [`Engine::upload_users_csv`], and as [`apply`](Self::apply).
    #[cfg(feature = "csv")]
    pub async fn upload_users_csv(
        &self,
        actor: UserId,
        data: Vec<u8>,
        limits: crate::import::CsvLimits,
        mut new_id: impl FnMut() -> UserId + Send + 'static,
    ) -> Result<crate::import::Uploaded, Error> {
        self.run(move |e| e.upload_users_csv(actor, &data, &limits, &mut new_id))
            .await
    }

    /// [`Engine::query_audit`], off the runtime's workers: a page of the stored audit trail.
    ///
    /// # Errors
    ///
    /// As [`Engine::query_audit`], and as [`apply`](Self::apply).
    pub async fn query_audit(
        &self,
        query: crate::audit::AuditQuery,
    ) -> Result<crate::audit::AuditPage<P>, Error> {
        self.run(move |e| e.query_audit(&query)).await
    }

    async fn run<T: Send + 'static>(
        &self,
        write: impl FnOnce(&Engine<P>) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || write(&engine))
            .await
            .map_err(|e| Error::storage(format!("the blocking write task did not finish: {e}")))?
    }
}
