//! The read side: [`Engine`], [`Snapshot`], decisions and resources.

pub(crate) mod decision;
pub(crate) mod explain;
pub(crate) mod index;
pub(crate) mod resource;
pub(crate) mod reverse;
pub(crate) mod users;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::admin::audit::{AuditSink, MemoryAudit};
use crate::engine::decision::Decision;
use crate::engine::explain::Explanation;
use crate::engine::index::{Index, Pending};
use crate::engine::resource::Resource;
use crate::engine::reverse::ScopeFor;
use crate::model::account::{Account, Channel, Source, Store};
use crate::model::ids::{AccountId, ChannelId, RoleId, SourceId, StoreId, UserId};
use crate::model::permission::Catalog;
use crate::model::role::Role;
use crate::model::user::User;
use crate::storage::{Batch, Commit, Key, Mutation, Storage, Volatile};
use crate::{Error, ErrorKind};

/// The longest any wait is allowed to be (a day): longer timeouts are cut to it.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(86_400);

/// How many times a write is planned again after other writers went first.
pub(crate) const MAX_ATTEMPTS: usize = 16;

/// How many recent batches the engine remembers the objects of, for conflict checks.
const RECENT_BATCHES: usize = 1024;

/// How many objects those batches may name in all (16 bytes each).
const RECENT_KEYS: usize = 16_384;

/// The follower waits for changes in slices this long, looking at its stop flag in between.
const FOLLOW_SLICE: Duration = Duration::from_millis(100);

/// The writer's state, behind the engine's writer lock.
#[derive(Debug)]
pub(crate) struct Writer {
    /// The last revision handed to the audit sink or storage. A batch that storage refused
    /// keeps its number, so no two batches this engine audited as applied share one.
    pub(crate) last: u64,
    /// The objects written by each recent batch (this engine's and those it caught up on),
    /// oldest first.
    recent: std::collections::VecDeque<(u64, Box<[Key]>)>,
    /// How many keys `recent` holds.
    recent_keys: usize,
    /// `recent` holds every batch after this revision.
    complete_after: u64,
}

impl Writer {
    fn new(revision: u64) -> Self {
        Writer {
            last: revision,
            recent: std::collections::VecDeque::new(),
            recent_keys: 0,
            complete_after: revision,
        }
    }

    /// After opening at `revision`: remembers the stored batches up to it, as far back as the
    /// bound allows, so that forms filled before a restart can still be checked.
    fn reopened<P: Copy>(revision: u64, batches: &[Batch<P>]) -> Self {
        let from = revision.saturating_sub(RECENT_BATCHES as u64);
        let mut w = Writer::new(revision);
        w.complete_after = from;
        for b in batches
            .iter()
            .filter(|b| b.revision > from && b.revision <= revision)
        {
            w.remember(b.revision, &b.mutations);
        }
        w.last = revision;
        w
    }

    /// The revision for a batch planned on `current`.
    pub(crate) fn next_revision(&self, current: u64) -> Result<u64, Error> {
        // Stores keep revisions in signed 64-bit integers.
        self.last
            .max(current)
            .checked_add(1)
            .filter(|r| i64::try_from(*r).is_ok())
            .ok_or_else(|| Error::storage("the revision numbers are exhausted"))
    }

    /// Remembers what the batch stored as `revision` wrote. A batch writing more objects than
    /// are remembered in all (a bulk load) is not kept: changes based on a revision before it
    /// are then refused as too old to check, which is the safe side.
    pub(crate) fn remember<P: Copy>(&mut self, revision: u64, mutations: &[Mutation<P>]) {
        self.last = self.last.max(revision);
        if mutations.len() > RECENT_KEYS {
            self.recent.clear();
            self.recent_keys = 0;
            self.complete_after = revision;
            return;
        }
        self.recent_keys += mutations.len();
        self.recent
            .push_back((revision, mutations.iter().map(Mutation::key).collect()));
        while self.recent.len() > RECENT_BATCHES || self.recent_keys > RECENT_KEYS {
            let Some((dropped, keys)) = self.recent.pop_front() else {
                break;
            };
            self.recent_keys -= keys.len();
            self.complete_after = dropped;
        }
    }

    /// What every remembered batch after `based_on` wrote, for a write based on it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Conflict`] if `based_on` is older than what is remembered.
    pub(crate) fn since(&self, based_on: u64) -> Result<Vec<Written>, Error> {
        if based_on < self.complete_after {
            return Err(Error::too_old(based_on, self.complete_after));
        }
        Ok(self
            .recent
            .iter()
            .filter(|(r, _)| *r > based_on)
            .cloned()
            .collect())
    }
}

/// The objects one batch wrote: its revision and their keys.
pub(crate) type Written = (u64, Box<[Key]>);

/// What `batches` wrote.
pub(crate) fn written_by<P: Copy>(batches: &[Batch<P>]) -> Vec<Written> {
    batches
        .iter()
        .map(|b| (b.revision, b.mutations.iter().map(Mutation::key).collect()))
        .collect()
}

/// Refuses with [`ErrorKind::Conflict`] if one of the `prior` batches wrote one of `written`.
pub(crate) fn check_written(prior: &[Written], written: &HashSet<Key>) -> Result<(), Error> {
    for (revision, keys) in prior {
        if let Some(key) = keys.iter().find(|k| written.contains(k)) {
            return Err(Error::conflict(key, *revision));
        }
    }
    Ok(())
}

/// The authorization engine: many accounts, answered from memory.
///
/// `Engine` is `Send + Sync`; share it behind an `Arc`. Checks read an immutable snapshot, so a
/// reader never waits on a writer, and a writer publishes a batch all at once.
///
/// See the [crate documentation](crate) for a first example.
#[derive(Debug)]
pub struct Engine<P: Catalog, S: Storage<P> = Volatile> {
    pub(crate) current: ArcSwap<Index<P>>,
    pub(crate) storage: S,
    /// Held by the one writer at a time.
    pub(crate) writer: Mutex<Writer>,
    pub(crate) audit: Arc<dyn AuditSink<P>>,
    /// Signalled (under its mutex) after every publish, for [`Engine::at_least`].
    published: (Mutex<()>, Condvar),
}

impl<P: Catalog> Engine<P, Volatile> {
    /// An empty engine on the in-memory default ([`Volatile`]).
    pub fn new() -> Self {
        Engine {
            current: ArcSwap::from_pointee(Index::empty()),
            storage: Volatile,
            writer: Mutex::new(Writer::new(0)),
            audit: Arc::new(MemoryAudit::new()),
            published: (Mutex::new(()), Condvar::new()),
        }
    }
}

impl<P: Catalog> Default for Engine<P, Volatile> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Catalog, S: Storage<P>> Engine<P, S> {
    /// Opens an engine on `storage`, loading every record it holds.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if loading fails; any other kind if the
    /// stored records break a rule (then the store is corrupt or was written by hand).
    pub fn open(storage: S) -> Result<Self, Error> {
        let loaded = storage.load()?;
        let recent =
            storage.changes_since(loaded.revision.saturating_sub(RECENT_BATCHES as u64))?;
        let mut index = Index::empty();
        index.apply(&loaded.records)?;
        index.revision = loaded.revision;
        index.shrink();
        Ok(Engine {
            current: ArcSwap::from_pointee(index),
            storage,
            writer: Mutex::new(Writer::reopened(loaded.revision, &recent)),
            audit: Arc::new(MemoryAudit::new()),
            published: (Mutex::new(()), Condvar::new()),
        })
    }

    /// Sends audit records (R19) to `sink` instead of the default in-memory log.
    #[must_use]
    pub fn with_audit(mut self, sink: Arc<dyn AuditSink<P>>) -> Self {
        self.audit = sink;
        self
    }

    /// Whether `user` may do `permission` on `resource`. The hot path: no allocation, no lock.
    ///
    /// Deny by default: an unknown or disabled user, an unknown store, an empty permission, a
    /// resource of another account, anything not granted: `false` (R1, R2).
    #[inline]
    pub fn can<R: Resource + ?Sized>(&self, user: UserId, permission: P, resource: &R) -> bool {
        self.current.load().allows(user, permission, resource)
    }

    /// Like [`can`](Self::can), with the reason: which grant allowed, or why not.
    #[inline]
    pub fn check<R: Resource + ?Sized>(
        &self,
        user: UserId,
        permission: P,
        resource: &R,
    ) -> Decision {
        decide(&self.current.load(), user, permission, resource)
    }

    /// Every grant considered for this check and what each said, for an admin screen. Its
    /// decision equals [`check`](Self::check)'s.
    pub fn explain<R: Resource + ?Sized>(
        &self,
        user: UserId,
        permission: P,
        resource: &R,
    ) -> Explanation<P> {
        self.current.load().explain(user, permission, resource)
    }

    /// Where `user` may use `permission`: per dimension nothing, everything, or a set of ids,
    /// ready for a SQL `WHERE` ([`ScopeFor::to_sql`]). Agrees with [`can`](Self::can) (R21).
    pub fn scope_for(&self, user: UserId, permission: P) -> ScopeFor {
        self.current.load().scope_for(user, permission)
    }

    /// The users who may use `permission` on `resource`, in ascending id order (R21). For a
    /// store-scoped resource only the users holding a grant at that store or at all stores are
    /// examined, never every user.
    pub fn who_can<R: Resource + ?Sized>(&self, permission: P, resource: &R) -> Vec<UserId> {
        self.current.load().who_can(permission, resource)
    }

    /// One user and permission against many resources (a list page of orders): the user is
    /// looked up once. Equals calling [`can`](Self::can) for each resource.
    pub fn can_each<R: Resource>(&self, user: UserId, permission: P, resources: &[R]) -> Vec<bool> {
        can_each(&self.current.load(), user, permission, resources)
    }

    /// Many checks on one consistent state, their user lookups overlapped. Equals calling
    /// [`can`](Self::can) for each.
    pub fn can_many<R: Resource>(&self, checks: &[(UserId, P, R)]) -> Vec<bool> {
        can_many(&self.current.load(), checks)
    }

    /// The current snapshot, for many checks or reads against one consistent state.
    pub fn snapshot(&self) -> Snapshot<P> {
        Snapshot(self.current.load_full())
    }

    /// The revision of the last accepted batch.
    pub fn revision(&self) -> u64 {
        self.current.load().revision
    }

    /// The storage backend.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Applies a batch of record-level writes **without authorizing anyone**: for bootstrap,
    /// migrations and tests. Every model invariant is still checked (references inside one
    /// account, R11 owner, R12 seats, R16 usernames). All or nothing: on `Err`, memory and
    /// storage are as before. Returns the new revision.
    ///
    /// # Errors
    ///
    /// The first broken rule, by kind ([`ErrorKind`](crate::ErrorKind));
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend refused the batch; or
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) if another engine sharing the
    /// storage wrote one of the same objects first. (If it wrote only other objects, this
    /// engine catches up and applies the batch on the new state.)
    pub fn unchecked_apply<I>(&self, batch: I) -> Result<u64, Error>
    where
        I: IntoIterator<Item = Mutation<P>>,
    {
        let batch: Vec<Mutation<P>> = batch.into_iter().collect();
        let written: HashSet<Key> = batch.iter().map(Mutation::key).collect();
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        // What other engines store while this batch waits is checked against it.
        let mut prior: Vec<Written> = Vec::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            check_written(&prior, &written)?;
            let current = self.current.load_full();
            let mut next = Index::clone(&current);
            next.apply(&batch)?;
            let revision = w.next_revision(current.revision)?;
            next.revision = revision;
            let commit = Commit {
                base: current.revision,
                revision,
                mutations: &batch,
                audit: &[],
            };
            // INVARIANT: storage accepts the batch before readers can see it.
            match self.storage.commit(&commit) {
                Ok(()) => {
                    w.remember(revision, &batch);
                    self.publish(next);
                    return Ok(revision);
                }
                Err(err) if err.kind() == ErrorKind::Conflict && attempt < MAX_ATTEMPTS => {
                    // Another engine went first: catch up; the check above decides whether
                    // this batch still applies.
                    prior.extend(written_by(&self.catch_up(&mut w)?));
                }
                Err(err) if err.kind() == ErrorKind::OutcomeUnknown => {
                    return if self.stored_anyway(&mut w, revision, &batch) {
                        Ok(revision)
                    } else {
                        Err(err)
                    };
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Reads every batch other engines stored since this one's revision and publishes them.
    /// Returns the revision now shown. A follower ([`follow`](Self::follow)) calls this
    /// whenever the storage reports a change; call it directly to catch up at once.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Storage`](crate::ErrorKind::Storage) if the backend cannot be read; any
    /// other kind if a stored batch breaks a rule here (engines sharing a store must use the
    /// same catalog). The engine is then unchanged.
    pub fn sync(&self) -> Result<u64, Error> {
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.catch_up(&mut w)?;
        Ok(self.current.load().revision)
    }

    /// A snapshot at revision `revision` or later: read your own writes across replicas, as
    /// with a Zanzibar zookie. Waits up to `timeout` for a follower (or [`sync`](Self::sync))
    /// to bring the revision in; never touches storage itself.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Behind`](crate::ErrorKind::Behind) if the revision has not arrived in time.
    pub fn at_least(&self, revision: u64, timeout: Duration) -> Result<Snapshot<P>, Error> {
        let deadline = Instant::now() + timeout.min(LONGEST_WAIT);
        let (lock, cv) = &self.published;
        let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let snapshot = self.snapshot();
            if snapshot.revision() >= revision {
                return Ok(snapshot);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::behind(snapshot.revision(), revision));
            }
            guard = cv
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Starts a background thread that keeps this engine up to date with what other engines
    /// sharing its storage write: it waits for the storage to report a change
    /// ([`Storage::wait_for_change`]: PostgreSQL's LISTEN/NOTIFY, a memory store's condition
    /// variable) and then [`sync`](Self::sync)s; it also syncs every `poll` whatever the
    /// storage reports, so a missed notification (a dropped connection, say) is made up by the
    /// same catch-up read. Stops (within a tenth of a second) when the [`Follower`] is dropped.
    pub fn follow(self: &Arc<Self>, poll: Duration) -> Follower
    where
        S: 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let engine = Arc::clone(self);
        let thread = {
            let (stop, error) = (Arc::clone(&stop), Arc::clone(&error));
            std::thread::Builder::new()
                .name("shopguard-follower".to_owned())
                .spawn(move || {
                    let poll = poll.max(Duration::from_millis(1));
                    let slice = poll.min(FOLLOW_SLICE);
                    let mut synced = Instant::now();
                    let mut backoff = slice;
                    while !stop.load(Ordering::Acquire) {
                        let seen = engine.revision();
                        let outcome =
                            engine
                                .storage
                                .wait_for_change(seen, slice)
                                .and_then(|woke| {
                                    // A reported change, or the poll interval is up: read.
                                    if woke || synced.elapsed() >= poll {
                                        synced = Instant::now();
                                        engine.sync().map(|_| ())
                                    } else {
                                        Ok(())
                                    }
                                });
                        match outcome {
                            Ok(()) => backoff = slice,
                            Err(err) => {
                                *error.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
                                // Failing again and again: wait longer each time, up to `poll`,
                                // in slices, so that a drop still stops the thread promptly.
                                let until = Instant::now() + backoff;
                                while Instant::now() < until && !stop.load(Ordering::Acquire) {
                                    std::thread::sleep(slice);
                                }
                                backoff = (backoff * 2).min(poll);
                            }
                        }
                    }
                })
        };
        Follower {
            stop,
            thread: thread.ok(),
            error,
        }
    }

    /// Publishes `next` to readers and wakes [`at_least`](Self::at_least) waiters.
    pub(crate) fn publish(&self, next: Index<P>) {
        self.current.store(Arc::new(next));
        let (lock, cv) = &self.published;
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        cv.notify_all();
    }

    /// Applies every batch stored after the current revision. Called with the writer lock.
    pub(crate) fn catch_up(&self, w: &mut Writer) -> Result<Vec<Batch<P>>, Error> {
        let current = self.current.load_full();
        let missed = self.storage.changes_since(current.revision)?;
        let Some(end) = missed.last().map(|b| b.revision) else {
            return Ok(missed);
        };
        let mut next = Index::clone(&current);
        let mut pending = Pending::default();
        for batch in &missed {
            next.mutate(&batch.mutations, &mut pending)?;
        }
        next.settle(&pending)?;
        next.revision = end;
        for batch in &missed {
            w.remember(batch.revision, &batch.mutations);
        }
        self.publish(next);
        Ok(missed)
    }

    /// After storage could not say whether it stored the batch of `revision`
    /// ([`ErrorKind::OutcomeUnknown`]): whether it was stored all the same. If so, the
    /// catch-up read has published it. A batch with the same revision and the same mutations
    /// is this one, or one with exactly its effect.
    pub(crate) fn stored_anyway(
        &self,
        w: &mut Writer,
        revision: u64,
        mutations: &[Mutation<P>],
    ) -> bool {
        self.catch_up(w).is_ok_and(|missed| {
            missed
                .iter()
                .any(|b| b.revision == revision && b.mutations == mutations)
        })
    }
}

/// The background thread of [`Engine::follow`]. Dropping it stops the thread.
#[derive(Debug)]
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    error: Arc<Mutex<Option<Error>>>,
}

impl Follower {
    /// The last error the follower met (storage unreachable, …), taken out; it keeps trying.
    pub fn take_error(&self) -> Option<Error> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Whether the thread is running (it could not be started if the system refused a thread).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ignored = thread.join();
        }
    }
}

#[inline]
fn decide<P: Catalog, R: Resource + ?Sized>(
    index: &Index<P>,
    user: UserId,
    permission: P,
    resource: &R,
) -> Decision {
    match index.evaluate(user, permission, resource) {
        Ok(a) => Decision::Allow(a),
        Err(r) => Decision::Deny(r),
    }
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
        let users: [Option<&User>; CHUNK] =
            core::array::from_fn(|k| chunk.get(k).and_then(|(u, _, _)| index.users.get(u)));
        for ((_, permission, resource), user) in chunk.iter().zip(users) {
            let allowed = user.is_some_and(|u| {
                index.prepare_found(u, *permission).is_ok_and(|asker| {
                    index
                        .evaluate_prepared::<false, R>(&asker, resource)
                        .is_ok()
                })
            });
            out.push(allowed);
        }
    }
    out
}

/// One consistent, immutable state of the engine.
///
/// Cheap to clone (an `Arc`). Checks on a snapshot skip even the engine's lock-free load.
#[derive(Debug)]
pub struct Snapshot<P>(Arc<Index<P>>);

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
    pub fn can<R: Resource + ?Sized>(&self, user: UserId, permission: P, resource: &R) -> bool {
        self.0.allows(user, permission, resource)
    }

    /// See [`Engine::check`].
    #[inline]
    pub fn check<R: Resource + ?Sized>(
        &self,
        user: UserId,
        permission: P,
        resource: &R,
    ) -> Decision {
        decide(&self.0, user, permission, resource)
    }

    /// See [`Engine::explain`].
    pub fn explain<R: Resource + ?Sized>(
        &self,
        user: UserId,
        permission: P,
        resource: &R,
    ) -> Explanation<P> {
        self.0.explain(user, permission, resource)
    }

    /// See [`Engine::scope_for`].
    pub fn scope_for(&self, user: UserId, permission: P) -> ScopeFor {
        self.0.scope_for(user, permission)
    }

    /// See [`Engine::who_can`].
    pub fn who_can<R: Resource + ?Sized>(&self, permission: P, resource: &R) -> Vec<UserId> {
        self.0.who_can(permission, resource)
    }

    /// See [`Engine::can_each`].
    pub fn can_each<R: Resource>(&self, user: UserId, permission: P, resources: &[R]) -> Vec<bool> {
        can_each(&self.0, user, permission, resources)
    }

    /// See [`Engine::can_many`].
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
        self.0
            .users
            .sorted()
            .into_iter()
            .filter(move |u| u.account() == account)
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
        self.roles(account).find(|r| r.answers_to(name))
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

    /// The source of `account` with this external id (ASCII case ignored).
    pub fn source_named(&self, account: AccountId, external_id: &str) -> Option<&Source> {
        self.0
            .sources
            .values()
            .find(|s| s.account() == account && s.external_id().eq_ignore_ascii_case(external_id))
    }

    /// A sales channel.
    pub fn channel(&self, id: ChannelId) -> Option<&Channel> {
        self.0.channels.get(&id)
    }
}
