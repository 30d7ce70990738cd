//! A per-thread reader that keeps its snapshot between checks.

use core::fmt;
use std::sync::Arc;

use arc_swap::{ArcSwap, Cache};

use crate::engine::decision::Decision;
use crate::engine::index::Index;
use crate::engine::key::{UserKey, UserRef};
use crate::engine::resource::Resource;
use crate::engine::{Core, Engine, Snapshot, decide};
use crate::model::ids::UserId;
use crate::model::permission::Catalog;

/// Checks for one thread, against the engine's current state, without loading it each time.
///
/// [`Engine::can`](crate::Engine::can) loads the current snapshot on every call (lock-free, but
/// several atomic operations). A `Reader` keeps the snapshot it last used and, on each check,
/// compares it with the engine's current one in a single atomic read; only after a write does it
/// load the new one. Its answers are always those of the engine's current state, exactly as
/// `Engine::can` would give them.
///
/// Make one per worker thread or per long-running task and keep it; its methods take
/// `&mut self`. Until its next check it holds on to the snapshot it last used, so an idle
/// reader keeps an old state's memory alive: drop readers that go idle for long.
///
/// ```
/// use shopguard::catalog::pos::{self, Pos};
/// use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, OnStore, RoleId};
/// use shopguard::{Store, StoreId, User, UserId};
///
/// let (shop, outlet, ana) = (AccountId::new(1), StoreId::new(10), UserId::new(2));
/// let ana_record = User::new(ana, shop, "ana", "ana@example.com")
///     .with_grant(Grant::new(RoleId::new(3), Access::specific([outlet])));
/// let engine = Engine::<Pos>::new();
/// engine.unchecked_apply([
///     Mutation::PutAccount(Account::new(shop, "Corner Shop").with_seat_limit(5)),
///     Mutation::PutStore(Store::new(outlet, shop, "High Street")),
///     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
///     Mutation::PutRole(pos::cashier(RoleId::new(3), shop)),
///     Mutation::PutUser(
///         User::new(UserId::new(1), shop, "owner", "owner@example.com")
///             .with_owner(true)
///             .with_grant(Grant::new(RoleId::new(1), Access::All)),
///     ),
///     Mutation::PutUser(ana_record.clone()),
/// ])?;
///
/// let mut reader = engine.reader();
/// let key = engine.user_key(ana).ok_or("ana has no key")?;
/// let till = OnStore(shop, outlet);
/// assert!(reader.can(key, Pos::SELL, &till));
///
/// // A write is seen by the reader's next check.
/// engine.unchecked_apply([Mutation::PutUser(ana_record.with_enabled(false))])?;
/// assert!(!reader.can(key, Pos::SELL, &till));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader<'e, P> {
    cache: Cache<&'e ArcSwap<Index<P>>, Arc<Index<P>>>,
}

impl<'e, P: Catalog> Reader<'e, P> {
    pub(crate) fn new(current: &'e ArcSwap<Index<P>>) -> Self {
        Reader {
            cache: Cache::new(current),
        }
    }

    /// See [`Engine::can`](crate::Engine::can).
    #[inline]
    pub fn can<U: UserRef, R: Resource + ?Sized>(
        &mut self,
        user: U,
        permission: P,
        resource: &R,
    ) -> bool {
        self.cache.load().allows(user, permission, resource)
    }

    /// See [`Engine::check`](crate::Engine::check).
    #[inline]
    pub fn check<U: UserRef, R: Resource + ?Sized>(
        &mut self,
        user: U,
        permission: P,
        resource: &R,
    ) -> Decision {
        decide(self.cache.load(), user, permission, resource)
    }

    /// See [`Engine::user_key`](crate::Engine::user_key).
    pub fn user_key(&mut self, user: UserId) -> Option<UserKey> {
        self.cache.load().users.key(user)
    }

    /// The engine's current snapshot.
    pub fn snapshot(&mut self) -> Snapshot<P> {
        Snapshot(Arc::clone(self.cache.load()))
    }
}

impl<P> fmt::Debug for Reader<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

/// A [`Reader`] that owns its engine's `Arc`: for an engine kept in an `Arc` (a web service's
/// router state), a reader that is `'static` and `Send`, so a worker thread or a task can keep
/// one. Its answers are those of the engine's current state, as [`Reader`]'s are.
///
/// ```
/// use std::sync::Arc;
/// use shopguard::catalog::pos::{self, Pos};
/// use shopguard::{Access, Account, AccountId, Engine, Grant, Mutation, OnStore, RoleId};
/// use shopguard::{SharedReader, Store, StoreId, User, UserId};
///
/// let (shop, outlet) = (AccountId::new(1), StoreId::new(10));
/// let engine = Arc::new(Engine::<Pos>::new());
/// engine.unchecked_apply([
///     Mutation::PutAccount(Account::new(shop, "Corner Shop")),
///     Mutation::PutStore(Store::new(outlet, shop, "High Street")),
///     Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
///     Mutation::PutUser(User::new(UserId::new(1), shop, "owner", "owner@example.com")
///         .with_owner(true).with_grant(Grant::new(RoleId::new(1), Access::All))),
/// ])?;
/// let mut reader = SharedReader::new(Arc::clone(&engine));
/// let worker = std::thread::spawn(move || reader.can(UserId::new(1), Pos::SELL, &OnStore(shop, outlet)));
/// assert!(worker.join().map_err(|_| "the worker panicked")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedReader<P: Catalog> {
    cache: Cache<Current<P>, Arc<Index<P>>>,
}

/// The engine's current index. The engine's `Arc` is kept so that the engine (and the
/// follower it may run) lives as long as the reader; the index is reached through its core.
struct Current<P: Catalog> {
    _engine: Arc<Engine<P>>,
    core: Arc<Core<P>>,
}

impl<P: Catalog> core::ops::Deref for Current<P> {
    type Target = ArcSwap<Index<P>>;
    fn deref(&self) -> &Self::Target {
        &self.core.current
    }
}

impl<P: Catalog> SharedReader<P> {
    /// A reader of `engine`.
    pub fn new(engine: Arc<Engine<P>>) -> Self {
        let core = Arc::clone(&engine.core);
        SharedReader {
            cache: Cache::new(Current {
                _engine: engine,
                core,
            }),
        }
    }

    /// See [`Engine::can`].
    #[inline]
    pub fn can<U: UserRef, R: Resource + ?Sized>(
        &mut self,
        user: U,
        permission: P,
        resource: &R,
    ) -> bool {
        self.cache.load().allows(user, permission, resource)
    }

    /// See [`Engine::check`].
    #[inline]
    pub fn check<U: UserRef, R: Resource + ?Sized>(
        &mut self,
        user: U,
        permission: P,
        resource: &R,
    ) -> Decision {
        decide(self.cache.load(), user, permission, resource)
    }

    /// See [`Engine::user_key`].
    pub fn user_key(&mut self, user: UserId) -> Option<UserKey> {
        self.cache.load().users.key(user)
    }

    /// The engine's current snapshot.
    pub fn snapshot(&mut self) -> Snapshot<P> {
        Snapshot(Arc::clone(self.cache.load()))
    }
}

impl<P: Catalog> fmt::Debug for SharedReader<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedReader").finish_non_exhaustive()
    }
}
