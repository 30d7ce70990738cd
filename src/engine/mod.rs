//! The read side: [`Engine`], [`Snapshot`], decisions and resources.

mod contacts;
pub(crate) mod decision;
pub(crate) mod explain;
pub(crate) mod index;
pub(crate) mod key;
mod parted;
pub(crate) mod partition;
#[cfg(test)]
mod quick_long_tests;
#[cfg(test)]
mod quick_tests;
mod reader;
pub(crate) mod resource;
pub(crate) mod reverse;
pub(crate) mod sql;
mod tree;
pub(crate) mod users;

pub use key::{UserKey, UserRef};
pub use reader::{Reader, SharedReader};

use crate::admin::replica::{FOLLOW_POLL, Follower};
use crate::admin::writer::{RECENT_BATCHES, Writer};

use std::borrow::Cow;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use arc_swap::ArcSwap;

use crate::Error;
use crate::admin::audit::{AuditActor, AuditRecord, AuditSink, MemoryAudit, Outcome, now_unix_ms};
use crate::admin::change::Change;
use crate::admin::commit::{Staged, Write};
use crate::admin::listing::{sees_role, sees_user};
use crate::admin::plan::affected;
use crate::engine::decision::Decision;
use crate::engine::decision::DenyReason;
use crate::engine::explain::Explanation;
use crate::engine::index::Index;
use crate::engine::index::validate_name;
use crate::engine::partition::Partition;
use crate::engine::resource::{OnRole, OnUser, Resource, Subject};
use crate::engine::reverse::ScopeFor;
use crate::engine::users::Found;
use crate::model::account::{Account, Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::permission::Catalog;
use crate::model::role::Role;
use crate::model::user::User;
use crate::storage::{Loaded, Mutation, Storage, Volatile};
use crate::trace::Traced;

/// The index of a loaded state, with a partition's accounts only.
pub(crate) fn loaded_index<P: Catalog>(
    loaded: Loaded<P>,
    partition: Option<&Partition>,
) -> Result<Index<P>, Error> {
    let records = match partition {
        Some(part) => part.keep_loaded(loaded.records),
        None => loaded.records,
    };
    let mut index = Index::empty();
    index.apply(&records)?;
    drop(records);
    index.revision = loaded.revision;
    index.shrink();
    Ok(index)
}

/// The writer of an engine opened at `revision`, remembering the stored batches before it as
/// far back as the bound allows, and as the store still keeps them (pruning removes the
/// oldest), so that forms filled before a restart can still be checked.
fn recent_batches<P: Catalog>(storage: &dyn Storage<P>, revision: u64) -> Result<Writer, Error> {
    let mut from = revision.saturating_sub(RECENT_BATCHES as u64);
    // A prune running meanwhile moves the mark again; a few tries, then remember nothing.
    for _ in 0..4 {
        match storage.changes_since(from) {
            Ok(recent) => return Ok(Writer::reopened(revision, from, &recent)),
            Err(err) => match err.pruned_through() {
                Some(through) if through > from => from = through.min(revision),
                _ => return Err(err),
            },
        }
    }
    Ok(Writer::new(revision))
}

/// The authorization engine: many accounts, answered from memory.
///
/// `Engine` is `Send + Sync`; share it behind an `Arc`. Checks read an immutable snapshot, so a
/// reader never waits on a writer, and a writer publishes a batch all at once.
///
/// See the [crate documentation](crate) for a first example.
#[derive(Debug)]
pub struct Engine<P: Catalog> {
    /// The state and the storage, shared with the engine's follower thread.
    pub(crate) core: Arc<Core<P>>,
    pub(crate) audit: Arc<dyn AuditSink<P>>,
    /// The follower an engine on a store that others write starts by itself
    /// ([`Storage::is_shared`]); it stops when the engine is dropped.
    following: Option<Follower>,
}

/// What an engine's follower shares with it: the published state, the storage, and the writer
/// lock that orders catch-up reads with writes.
#[derive(Debug)]
pub(crate) struct Core<P: Catalog> {
    pub(crate) current: ArcSwap<Index<P>>,
    /// Any backend: the engine's type does not name it, so a host picks one at run time.
    pub(crate) storage: Arc<dyn Storage<P>>,
    /// Held by the one writer at a time.
    pub(crate) writer: Mutex<Writer>,
    /// Signalled (under its mutex) after every publish, for [`Engine::at_least`].
    pub(crate) published: (Mutex<()>, Condvar),
    /// The accounts a partitioned replica serves ([`Engine::open_for`]); `None`: every account.
    pub(crate) partition: Option<Partition>,
    /// Per object kind, the id after the last one this engine allocated
    /// ([`Engine::next_id`]).
    pub(crate) allocated: Mutex<[u64; 6]>,
}

impl<P: Catalog> Engine<P> {
    /// An empty engine on the in-memory default ([`Volatile`]).
    pub fn new() -> Self {
        Engine {
            core: Arc::new(Core {
                current: ArcSwap::from_pointee(Index::empty()),
                storage: Arc::new(Volatile),
                writer: Mutex::new(Writer::new(0)),
                published: (Mutex::new(()), Condvar::new()),
                partition: None,
                allocated: Mutex::new([0; 6]),
            }),
            audit: Arc::new(MemoryAudit::new()),
            following: None,
        }
    }
}

impl<P: Catalog> Default for Engine<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Catalog> Engine<P> {
    /// Opens an engine on `storage`, loading every record it holds.
    ///
    /// On a store that other engines may write — another process on the same SQLite file,
    /// other replicas on the same PostgreSQL schema ([`Storage::is_shared`]) — the engine
    /// **follows** it: a thread of its own reads what the others store and publishes it, as
    /// [`follow`](Self::follow) does, until the engine is dropped. Without it, a user disabled
    /// by another process would still be allowed here until this engine's own next write. See
    /// [the crate documentation](crate#when-a-replica-can-be-stale) for how far behind a
    /// following engine can be, and [`follow_error`](Self::follow_error) for a follower that
    /// cannot read the store. [`open_unfollowed`](Self::open_unfollowed) opens one that reads
    /// the store only when asked ([`sync`](Self::sync)) or when it writes.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if loading fails; any other kind if the
    /// stored records break a rule (then the store is corrupt or was written by hand).
    pub fn open(storage: impl Storage<P> + 'static) -> Result<Self, Error> {
        Self::open_with(Arc::new(storage), None, true)
    }

    /// Opens an engine on `storage` that does not follow it, whatever the store: it reads what
    /// others stored only in [`sync`](Self::sync), [`follow`](Self::follow) or before its own
    /// writes. For tools and tests that decide when an engine catches up; a service on a shared
    /// store wants [`open`](Self::open).
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn open_unfollowed(storage: impl Storage<P> + 'static) -> Result<Self, Error> {
        Self::open_with(Arc::new(storage), None, false)
    }

    /// Opens a **partitioned replica** on `storage`: an engine that loads, follows
    /// ([`sync`](Self::sync), [`follow`](Self::follow)) and answers for `accounts` only, and
    /// holds only their records in memory. How a fleet grows past what one machine holds: each
    /// replica serves a share of the accounts of the same store (the same PostgreSQL), and the
    /// host routes a request to a replica serving the request's account.
    ///
    /// - Checks and queries answer as a full replica would for the served accounts. For any
    ///   other account the replica knows nothing: its users are unknown, so every check is
    ///   denied, and listings are empty — route such requests elsewhere.
    /// - It takes no writes: every write ([`apply`](Self::apply),
    ///   [`unchecked_apply`](Self::unchecked_apply), uploads) is refused with
    ///   [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly), since the rules a write must keep
    ///   (unique usernames and ids, say) reach past one account. Write through an engine opened
    ///   with [`open`](Self::open).
    /// - [`revision`](Self::revision) is the store's, as on any replica: a revision that
    ///   changed only other accounts is caught up like any other.
    ///
    /// The records are filtered as they arrive, at the load and at every catch-up read; checks
    /// cost what they cost on a full replica. Opening still reads every record from the store
    /// once (a backend hands back all of them), so the load's transient memory is the full
    /// store's; what the replica keeps afterwards is its accounts'.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shopguard::catalog::pos::{self, Pos};
    /// use shopguard::storage::MemoryStorage;
    /// use shopguard::{Access, Account, AccountId, Engine, ErrorKind, Grant, Mutation, OnStore};
    /// use shopguard::{RoleId, Store, StoreId, User, UserId};
    ///
    /// let store = Arc::new(MemoryStorage::<Pos>::new());
    /// let writer = Engine::open(Arc::clone(&store))?;
    /// let mut batch = Vec::new();
    /// for n in 1..=2 {
    ///     let (account, shop, admin) = (AccountId::new(n), StoreId::new(n), RoleId::new(n));
    ///     batch.push(Mutation::PutAccount(Account::new(account, format!("Shop {n}"))));
    ///     batch.push(Mutation::PutStore(Store::new(shop, account, "Main")));
    ///     batch.push(Mutation::PutRole(pos::admin(admin, account)));
    ///     let owner = User::new(UserId::new(n), account, "owner", &format!("o@{n}.example"))
    ///         .with_owner(true)
    ///         .with_grant(Grant::new(admin, Access::All));
    ///     batch.push(Mutation::PutUser(owner));
    /// }
    /// writer.unchecked_apply(batch)?;
    ///
    /// // A replica for account 1 only, on the same store.
    /// let replica = Engine::open_for(Arc::clone(&store), [AccountId::new(1)])?;
    /// let (one, two) = (AccountId::new(1), AccountId::new(2));
    /// assert!(replica.can(UserId::new(1), Pos::SELL, &OnStore(one, StoreId::new(1))));
    /// // Account 2 is not served: its owner is unknown here.
    /// assert!(!replica.can(UserId::new(2), Pos::SELL, &OnStore(two, StoreId::new(2))));
    /// assert!(replica.snapshot().account(two).is_none());
    /// assert_eq!(replica.revision(), writer.revision());
    /// // Writes go to a full engine.
    /// let refused = replica.unchecked_apply([Mutation::RemoveStore(StoreId::new(1))]);
    /// assert_eq!(refused.unwrap_err().kind(), ErrorKind::ReadOnly);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// A partitioned replica follows a shared store as [`open`](Self::open) says.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn open_for(
        storage: impl Storage<P> + 'static,
        accounts: impl IntoIterator<Item = AccountId>,
    ) -> Result<Self, Error> {
        Self::open_with(Arc::new(storage), Some(Partition::new(accounts)), true)
    }

    fn open_with(
        storage: Arc<dyn Storage<P>>,
        partition: Option<Partition>,
        follow: bool,
    ) -> Result<Self, Error> {
        let traced = Traced::open(partition.is_some());
        let opened = traced.in_scope(|| Self::load(storage, partition, follow, &traced));
        traced.finish(&opened, Engine::revision);
        opened
    }

    /// [`open_with`](Self::open_with), inside its span.
    fn load(
        storage: Arc<dyn Storage<P>>,
        partition: Option<Partition>,
        follow: bool,
        traced: &Traced,
    ) -> Result<Self, Error> {
        let loaded = storage.load()?;
        traced.record(
            "records",
            u64::try_from(loaded.records.len()).unwrap_or(u64::MAX),
        );
        let revision = loaded.revision;
        let writer = match &partition {
            // A partitioned replica never writes: it remembers no batches for conflicts.
            Some(_) => Writer::new(revision),
            None => recent_batches(storage.as_ref(), revision)?,
        };
        let index = loaded_index(loaded, partition.as_ref())?;
        let follow = follow && storage.is_shared();
        let core = Arc::new(Core {
            current: ArcSwap::from_pointee(index),
            storage,
            writer: Mutex::new(writer),
            published: (Mutex::new(()), Condvar::new()),
            partition,
            allocated: Mutex::new([0; 6]),
        });
        let following = follow.then(|| Follower::start(&core, FOLLOW_POLL, false));
        traced.record_flag("following", following.is_some());
        Ok(Engine {
            core,
            audit: Arc::new(MemoryAudit::new()),
            following,
        })
    }

    /// Whether this engine follows its store by itself ([`open`](Self::open) on a shared
    /// store), and its follower thread is running.
    pub fn is_following(&self) -> bool {
        self.following.as_ref().is_some_and(Follower::is_running)
    }

    /// The last error the engine's own follower met reading the store (unreachable, a batch
    /// that breaks a rule), taken out; `None` if there was none since the last call, or the
    /// engine does not follow. The follower keeps trying; meanwhile the engine answers from
    /// the last state it read (see [the crate documentation](crate#when-a-replica-can-be-stale)).
    pub fn follow_error(&self) -> Option<Error> {
        self.following.as_ref().and_then(Follower::take_error)
    }

    /// Whether this engine answers for `account`: always on an engine opened with
    /// [`open`](Self::open) or [`new`](Self::new); on a partitioned replica
    /// ([`open_for`](Self::open_for)), whether `account` was among those it was opened for.
    pub fn serves(&self, account: AccountId) -> bool {
        self.core
            .partition
            .as_ref()
            .is_none_or(|p| p.serves(account))
    }

    /// Whether this engine is a partitioned replica ([`open_for`](Self::open_for)).
    pub fn is_partitioned(&self) -> bool {
        self.core.partition.is_some()
    }

    /// Sends audit records (R19) to `sink` instead of the default in-memory log.
    #[must_use]
    pub fn with_audit(mut self, sink: Arc<dyn AuditSink<P>>) -> Self {
        self.audit = sink;
        self
    }

    /// Whether `user` may do `permission` on `resource`. The hot path: no lock, and no
    /// allocation once a thread has checked (a thread's first load of the shared state may
    /// register the thread with `arc-swap`, which allocates once).
    ///
    /// Deny by default: an unknown or disabled user, an unknown store, an empty permission, a
    /// resource of another account, anything not granted: `false` (R1, R2).
    ///
    /// `user` is a [`UserId`] or a [`UserKey`] (resolved once with
    /// [`user_key`](Self::user_key)): the same answer, the key without a lookup by id. For the
    /// fastest form, check by key through a per-thread [`reader`](Self::reader).
    #[inline]
    pub fn can<U: UserRef, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> bool {
        self.core.current.load().allows(user, permission, resource)
    }

    /// Like [`can`](Self::can), with the reason: which grant allowed, or why not.
    #[inline]
    pub fn check<U: UserRef, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> Decision {
        decide(&self.core.current.load(), user, permission, resource)
    }

    /// [`check`](Self::check), as `user` itself may be told it (R20): a denial about a user or
    /// a role that `user` may neither see ([`Snapshot::sees_user`], [`Snapshot::sees_role`])
    /// nor use `permission` on reads [`DenyReason::UnknownTargetUser`] or
    /// [`DenyReason::UnknownRole`], exactly as for an id of no user or role. An answer sent
    /// back to the asker (an HTTP status, an error body) must not tell a hidden user from a
    /// missing one; `check` keeps the exact reason, for the host's logs and admin screens.
    ///
    /// ```
    /// use shopguard::catalog::pos::{self, Pos};
    /// use shopguard::{Access, Account, AccountId, Decision, DenyReason, Dimension, Engine};
    /// use shopguard::{Grant, Mutation, OnUser, RoleId, Store, StoreId, User, UserId};
    ///
    /// let (shop, north, south) = (AccountId::new(1), StoreId::new(10), StoreId::new(11));
    /// let engine = Engine::<Pos>::new();
    /// let staff = |id, name: &str, role, store| {
    ///     User::new(UserId::new(id), shop, name, &format!("{name}@shop.example"))
    ///         .with_grant(Grant::new(RoleId::new(role), Access::specific([StoreId::new(store)])))
    /// };
    /// engine.unchecked_apply([
    ///     Mutation::PutAccount(Account::new(shop, "Corner Shop")),
    ///     Mutation::PutStore(Store::new(north, shop, "North")),
    ///     Mutation::PutStore(Store::new(south, shop, "South")),
    ///     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
    ///     Mutation::PutRole(pos::cashier(RoleId::new(3), shop)),
    ///     Mutation::PutUser(User::new(UserId::new(1), shop, "owner", "owner@shop.example")
    ///         .with_owner(true).with_grant(Grant::new(RoleId::new(1), Access::All))),
    ///     Mutation::PutUser(staff(2, "ana", 3, 10)),
    ///     Mutation::PutUser(staff(3, "bo", 3, 11)),
    /// ])?;
    /// let (ana, bo, nobody) = (UserId::new(2), UserId::new(3), UserId::new(99));
    /// // A cashier sees no user: bo reads as no user at all.
    /// assert_eq!(
    ///     engine.check(ana, Pos::MANAGE_USERS, &OnUser(shop, bo)),
    ///     Decision::Deny(DenyReason::PermissionMissing),
    /// );
    /// assert_eq!(
    ///     engine.check_redacted(ana, Pos::MANAGE_USERS, &OnUser(shop, bo)),
    ///     Decision::Deny(DenyReason::UnknownTargetUser(bo)),
    /// );
    /// assert_eq!(
    ///     engine.check_redacted(ana, Pos::MANAGE_USERS, &OnUser(shop, nobody)),
    ///     Decision::Deny(DenyReason::UnknownTargetUser(nobody)),
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn check_redacted<U: UserRef, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> Decision {
        decide_redacted(&self.core.current.load(), user, permission, resource)
    }

    /// The [`UserKey`] of a user, for faster checks; `None` if there is no such user now.
    pub fn user_key(&self, user: UserId) -> Option<UserKey> {
        self.core.current.load().users.key(user)
    }

    /// Who may act now: the [`UserKey`] and account of `user` if it exists and is enabled,
    /// `None` otherwise, in one lookup. For a request's actor (an extractor): resolve it once,
    /// then check by key.
    ///
    /// ```
    /// # use shopguard::catalog::pos::{self, Pos};
    /// # use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, RoleId, User, UserId};
    /// # let engine = Engine::<Pos>::new();
    /// # let shop = AccountId::new(1);
    /// # engine.unchecked_apply([
    /// #     Mutation::PutAccount(Account::new(shop, "Corner Shop")),
    /// #     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
    /// #     Mutation::PutUser(User::new(UserId::new(1), shop, "owner", "owner@example.com")
    /// #         .with_owner(true).with_grant(Grant::new(RoleId::new(1), Access::All))),
    /// # ])?;
    /// let (key, account) = engine.active_user(UserId::new(1)).ok_or("no such user")?;
    /// assert_eq!((key.id(), account), (UserId::new(1), shop));
    /// assert!(engine.active_user(UserId::new(2)).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn active_user(&self, user: UserId) -> Option<(UserKey, AccountId)> {
        let index = self.core.current.load();
        let position = index.users.position(user)?;
        let found = index.users.at(position)?;
        // Positions fit in u32: `insert` refuses more users.
        let slot = u32::try_from(position).ok()?;
        found
            .is_enabled()
            .then(|| (UserKey::new(user, slot), found.account()))
    }

    /// A reader for one thread's many checks: it keeps the snapshot it last used and checks
    /// it against the engine's with one atomic read, instead of loading it on every check.
    /// See [`Reader`].
    pub fn reader(&self) -> Reader<'_, P> {
        Reader::new(&self.core.current)
    }

    /// The current snapshot, for many checks or reads against one consistent state: every
    /// query besides [`can`](Self::can) and [`check`](Self::check) — [`Snapshot::explain`],
    /// [`Snapshot::scope_for`], [`Snapshot::who_can`], [`Snapshot::can_each`],
    /// [`Snapshot::can_many`], listings and searches — is asked of a snapshot, so that
    /// several answers agree with one another.
    pub fn snapshot(&self) -> Snapshot<P> {
        Snapshot(self.core.current.load_full())
    }

    /// The revision of the last accepted batch.
    pub fn revision(&self) -> u64 {
        self.core.current.load().revision
    }

    /// The storage backend. To reach a backend's own methods later, open the engine on an
    /// `Arc` of it and keep a clone (`Arc<S>` is a [`Storage`] too).
    pub fn storage(&self) -> &dyn Storage<P> {
        &*self.core.storage
    }

    /// Applies a batch of record-level writes **without authorizing anyone**: for bootstrap,
    /// migrations and tests. The same as [`unchecked_apply_as`](Self::unchecked_apply_as)
    /// with the system name `unchecked_apply`: the batch is audited under that name.
    ///
    /// # Errors
    ///
    /// As [`unchecked_apply_as`](Self::unchecked_apply_as).
    pub fn unchecked_apply<I>(&self, batch: I) -> Result<u64, Error>
    where
        I: IntoIterator<Item = Mutation<P>>,
    {
        self.unchecked_apply_as(UNCHECKED, batch)
    }

    /// Applies a batch of record-level writes **without authorizing anyone**, as the system
    /// the host names (`"migration 42"`, `"support tool"`): for bootstrap, migrations and
    /// tests. Every model invariant is still checked (references inside one account, R11
    /// owner, R12 seats, R16 usernames). All or nothing: on `Err`, memory and storage are as
    /// before. Returns the new revision.
    ///
    /// The batch is audited (R19), applied or refused, as one record: the actor is
    /// [`AuditActor::System`](crate::audit::AuditActor::System) with `system`, the change
    /// [`Change::Unchecked`](crate::Change::Unchecked) with the batch, `before` the objects it
    /// replaced or removed, and `account` the one account it writes, if it writes one. The
    /// record holds a copy of the batch: a bulk load of many users is audited whole.
    ///
    /// ```
    /// # use shopguard::catalog::pos::Pos;
    /// use std::sync::Arc;
    /// use shopguard::audit::{AuditActor, MemoryAudit};
    /// use shopguard::{Account, AccountId, Change, Engine, Mutation};
    ///
    /// let audit = Arc::new(MemoryAudit::new());
    /// let engine = Engine::<Pos>::new().with_audit(audit.clone());
    /// let shop = AccountId::new(1);
    /// engine.unchecked_apply_as("onboarding", [Mutation::PutAccount(Account::new(shop, "Corner Shop"))])?;
    /// let record = &audit.records()[0];
    /// assert_eq!(record.actor, AuditActor::System("onboarding".into()));
    /// assert_eq!(record.account, Some(shop));
    /// assert!(matches!(&record.change, Change::Unchecked { mutations } if mutations.len() == 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if `system` is empty, has
    /// white space at either end or control characters; the first broken rule, by kind
    /// ([`ErrorKind`](crate::ErrorKind)); [`ErrorKind::Storage`](crate::ErrorKind::Storage)
    /// if the backend refused the batch; [`ErrorKind::Audit`](crate::ErrorKind::Audit) if the
    /// audit sink refused its record; or [`ErrorKind::Conflict`](crate::ErrorKind::Conflict)
    /// if another engine sharing the storage wrote one of the same objects while this batch
    /// waited for the store (if it wrote only other objects, this engine catches up and
    /// applies the batch on the new state);
    /// [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown) if the storage could
    /// not say whether it stored the batch.
    pub fn unchecked_apply_as<I>(&self, system: &str, batch: I) -> Result<u64, Error>
    where
        I: IntoIterator<Item = Mutation<P>>,
    {
        validate_name("system name", system)?;
        let batch: Vec<Mutation<P>> = batch.into_iter().collect();
        let traced = Traced::unchecked(system, batch.len());
        let result = traced.in_scope(|| self.unchecked_batch(system, &batch));
        traced.finish(&result, |r| *r);
        result
    }

    /// [`unchecked_apply_as`](Self::unchecked_apply_as) of a collected batch, inside its span.
    fn unchecked_batch(&self, system: &str, batch: &[Mutation<P>]) -> Result<u64, Error> {
        let write = Bootstrap {
            engine: self,
            system,
            batch,
            at: now_unix_ms(),
        };
        let mut w = self
            .core
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // What other engines store while this batch waits is checked against it.
        let applied = self.commit_write(&mut w, Vec::new(), &write)?;
        Ok(applied.revision())
    }
}

/// The system name [`Engine::unchecked_apply`] audits its batches under.
const UNCHECKED: &str = "unchecked_apply";

/// A batch of mutations written as they are (no authorization), audited under the system
/// that wrote it.
struct Bootstrap<'a, P: Catalog> {
    engine: &'a Engine<P>,
    system: &'a str,
    batch: &'a [Mutation<P>],
    at: u64,
}

impl<P: Catalog> Bootstrap<'_, P> {
    /// The batch's one audit record, with `before` read from `current`.
    fn record(&self, current: &Index<P>, outcome: Outcome) -> AuditRecord<P> {
        let before = if outcome.is_applied() {
            affected(current, self.batch)
        } else {
            Vec::new()
        };
        AuditRecord {
            at_unix_ms: self.at,
            actor: AuditActor::System(self.system.to_owned()),
            account: current.account_written(self.batch),
            change: Change::Unchecked {
                mutations: self.batch.to_vec(),
            },
            before,
            after: Vec::new(),
            outcome,
        }
    }

    fn refusal(&self, err: &Error) -> Vec<AuditRecord<P>> {
        vec![self.record(&self.engine.core.current.load(), Outcome::refused(err))]
    }
}

impl<P: Catalog> Write<P> for Bootstrap<'_, P> {
    fn stage(&self, current: &Index<P>, revision: u64) -> Result<Staged<'_, P>, Error> {
        let mut next = Index::clone(current);
        next.apply(self.batch)?;
        next.revision = revision;
        let records = vec![self.record(current, Outcome::Applied { revision })];
        Ok(Staged {
            next,
            mutations: Cow::Borrowed(self.batch),
            events: Vec::new(),
            records,
        })
    }

    fn refused(&self, err: &Error) {
        // Nothing was applied, so a failure to record the refusal loses nothing.
        let records = self.refusal(err);
        let _ignored = self.engine.audit.record(&records);
        let _ignored = self.engine.core.storage.record_refused(&records);
    }

    fn retried(&self, err: &Error) {
        let _ignored = self.engine.audit.record(&self.refusal(err));
    }
}

#[inline]
fn decide<P: Catalog, U: UserRef, R: Resource + ?Sized>(
    index: &Index<P>,
    user: U,
    permission: P,
    resource: &R,
) -> Decision {
    match index.evaluate(user, permission, resource) {
        Ok(a) => Decision::Allow(a),
        Err(r) => Decision::Deny(r),
    }
}

/// [`decide`], with a denial about a user or role the asker may not see answered as for no
/// such user or role (R20).
fn decide_redacted<P: Catalog, U: UserRef, R: Resource + ?Sized>(
    index: &Index<P>,
    user: U,
    permission: P,
    resource: &R,
) -> Decision {
    let reason = match index.evaluate(user, permission, resource) {
        Ok(a) => return Decision::Allow(a),
        Err(r) => r,
    };
    Decision::Deny(match reason {
        // About the asker, or decided before the user or role was looked at: the same for a
        // hidden one and a missing one.
        DenyReason::UnknownUser
        | DenyReason::UserDisabled
        | DenyReason::NoPermissionAsked
        | DenyReason::OwnerOnly
        | DenyReason::WrongAccount
        | DenyReason::UnknownStore(_)
        | DenyReason::UnknownSource(_)
        | DenyReason::UnknownChannel(_)
        | DenyReason::UnknownRole(_)
        | DenyReason::UnknownTargetUser(_) => reason,
        // Found: told only if the asker may see it, or use the permission on it alone.
        _ => {
            let Some(asker) = index.users.find(user) else {
                return Decision::Deny(reason);
            };
            let (id, account) = (asker.id(), asker.account());
            match resource.subject() {
                Subject::User(t)
                    if !sees_user(index, id, t)
                        && index.evaluate(id, permission, &OnUser(account, t)).is_err() =>
                {
                    DenyReason::UnknownTargetUser(t)
                }
                Subject::Role(r)
                    if !sees_role(index, id, r)
                        && index.evaluate(id, permission, &OnRole(account, r)).is_err() =>
                {
                    DenyReason::UnknownRole(r)
                }
                _ => reason,
            }
        }
    })
}

fn can_each<P: Catalog, R: Resource>(
    index: &Index<P>,
    user: UserId,
    permission: P,
    resources: &[R],
) -> Vec<bool> {
    match index.prepare(user, permission) {
        Ok(asker) => resources
            .iter()
            .map(|r| index.evaluate_prepared::<false, R>(&asker, r).is_ok())
            .collect(),
        Err(_) => vec![false; resources.len()],
    }
}

fn can_many<P: Catalog, R: Resource>(index: &Index<P>, checks: &[(UserId, P, R)]) -> Vec<bool> {
    /// Checks whose users are looked up together.
    const CHUNK: usize = 16;
    let mut out = Vec::with_capacity(checks.len());
    for chunk in checks.chunks(CHUNK) {
        // First every user of the chunk: the lookups do not depend on one another, so the
        // processor overlaps their memory accesses instead of waiting for each in turn.
        let found: [Option<Found<'_, P>>; CHUNK] =
            core::array::from_fn(|k| chunk.get(k).and_then(|(u, _, _)| index.users.found(*u)));
        for ((_, permission, resource), found) in chunk.iter().zip(found) {
            out.push(found.is_some_and(|f| index.allows_found(f, *permission, resource)));
        }
    }
    out
}

/// One consistent, immutable state of the engine.
///
/// Cheap to clone (an `Arc`). Checks on a snapshot skip even the engine's lock-free load.
///
/// `Debug` prints the revision and how many accounts, roles and users it holds, never the users.
pub struct Snapshot<P>(Arc<Index<P>>);

impl<P: Catalog> core::fmt::Debug for Snapshot<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Snapshot").field(&*self.0).finish()
    }
}

impl<P> Clone for Snapshot<P> {
    fn clone(&self) -> Self {
        Snapshot(self.0.clone())
    }
}

impl<P: Catalog> Snapshot<P> {
    pub(crate) fn index(&self) -> &Index<P> {
        &self.0
    }

    /// See [`Engine::can`].
    #[inline]
    pub fn can<U: UserRef, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> bool {
        self.0.allows(user, permission, resource)
    }

    /// See [`Engine::check`].
    #[inline]
    pub fn check<U: UserRef, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> Decision {
        decide(&self.0, user, permission, resource)
    }

    /// See [`Engine::check_redacted`].
    #[inline]
    pub fn check_redacted<U: UserRef, R: Resource + ?Sized>(
        &self,
        user: U,
        permission: P,
        resource: &R,
    ) -> Decision {
        decide_redacted(&self.0, user, permission, resource)
    }

    /// See [`Engine::user_key`].
    pub fn user_key(&self, user: UserId) -> Option<UserKey> {
        self.0.users.key(user)
    }

    /// Every grant considered for this check and what each said, for an admin screen. Its
    /// decision equals [`check`](Self::check)'s.
    pub fn explain<R: Resource + ?Sized>(
        &self,
        user: UserId,
        permission: P,
        resource: &R,
    ) -> Explanation<P> {
        self.0.explain(user, permission, resource)
    }

    /// Where `user` may use `permission`: per dimension nothing, everything, or a set of ids,
    /// ready for a SQL `WHERE` ([`ScopeFor::to_sql`]). Agrees with [`can`](Self::can) (R21).
    pub fn scope_for(&self, user: UserId, permission: P) -> ScopeFor {
        self.0.scope_for(user, permission)
    }

    /// The users who may use `permission` on `resource`, in ascending id order (R21). For a
    /// store-scoped resource only the users holding a grant at that store or at all stores are
    /// examined, never every user.
    pub fn who_can<R: Resource + ?Sized>(&self, permission: P, resource: &R) -> Vec<UserId> {
        self.0.who_can(permission, resource)
    }

    /// One user and permission against many resources (a list page of orders): the user is
    /// looked up once. Equals calling [`can`](Self::can) for each resource.
    pub fn can_each<R: Resource>(&self, user: UserId, permission: P, resources: &[R]) -> Vec<bool> {
        can_each(&self.0, user, permission, resources)
    }

    /// Many checks, their user lookups overlapped. Equals calling [`can`](Self::can) for each.
    pub fn can_many<R: Resource>(&self, checks: &[(UserId, P, R)]) -> Vec<bool> {
        can_many(&self.0, checks)
    }

    /// The revision this snapshot shows.
    pub fn revision(&self) -> u64 {
        self.0.revision
    }

    /// An account.
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.0.accounts.get(&id).map(|a| &a.account)
    }

    /// Every account.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.0.accounts.values().map(|a| &a.account)
    }

    /// A user.
    pub fn user(&self, id: UserId) -> Option<&User> {
        self.0.users.get(&id)
    }

    /// The users of one account, by ascending id.
    pub fn users(&self, account: AccountId) -> impl Iterator<Item = &User> {
        self.0.account_users(account)
    }

    /// A role.
    pub fn role(&self, id: RoleId) -> Option<&Role<P>> {
        self.0.roles.get(&id)
    }

    /// The roles of one account.
    pub fn roles(&self, account: AccountId) -> impl Iterator<Item = &Role<P>> {
        self.0
            .roles
            .values()
            .filter(move |r| r.account() == account)
    }

    /// The role of `account` called `name` now or formerly (R14), ASCII case ignored.
    pub fn role_named(&self, account: AccountId, name: &str) -> Option<&Role<P>> {
        self.0.role_named(account, name)
    }

    /// A store.
    pub fn store(&self, id: StoreId) -> Option<&Store> {
        self.0.stores.get(&id)
    }

    /// The stores of one account.
    pub fn stores(&self, account: AccountId) -> impl Iterator<Item = &Store> {
        self.0
            .stores
            .values()
            .filter(move |s| s.account() == account)
    }

    /// A source.
    pub fn source(&self, id: SourceId) -> Option<&Source> {
        self.0.sources.get(&id)
    }

    /// The sources of one account, by ascending id. For what a user may see, see
    /// [`visible_sources`](Self::visible_sources).
    pub fn sources(&self, account: AccountId) -> impl Iterator<Item = &Source> {
        let mut out: Vec<&Source> = self.0.account_sources(account).collect();
        out.sort_unstable_by_key(|s| s.id());
        out.into_iter()
    }

    /// The sales channels of one account, by ascending id. For what a user may see, see
    /// [`visible_channels`](Self::visible_channels).
    pub fn channels(&self, account: AccountId) -> impl Iterator<Item = &Channel> {
        let mut out: Vec<&Channel> = self.0.account_channels(account).collect();
        out.sort_unstable_by_key(|c| c.id());
        out.into_iter()
    }

    /// The source of `account` with this external id (ASCII case ignored).
    pub fn source_named(&self, account: AccountId, external_id: &str) -> Option<&Source> {
        self.0.source_named(account, external_id)
    }

    /// A sales channel.
    pub fn channel(&self, id: ChannelId) -> Option<&Channel> {
        self.0.channels.get(&id)
    }
}
