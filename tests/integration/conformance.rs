//! The storage conformance suite: the same tests, unchanged, against every backend — memory,
//! SQLite (feature `sqlite`) and PostgreSQL (feature `postgres`; the server named by
//! `SHOPGUARD_PG`, which `.ci/run` starts). A backend that is compiled in but cannot be
//! reached fails its tests; nothing is skipped.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use shopguard::audit::Object;
use shopguard::catalog::oms::{self, Oms};
use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::{MemoryStorage, Storage};
use shopguard::{
    Access, Account, AccountId, Change, Channel, ChannelId, Engine, ErrorKind, Event, Grant,
    Mutation, OnSource, OnStore, RoleId, Snapshot, Source, SourceId, Store, StoreId, User, UserId,
};

mod trail;

/// How a test gets at a backend: an empty store per test, and any number of handles on it
/// (a restart, or another replica).
pub(crate) trait Backend {
    /// The storage type.
    type S: Storage<Pos> + 'static;
    /// The storage type for the OMS catalog (sources and sales channels).
    type O: Storage<Oms> + 'static;
    /// An empty store, private to the test called `name`.
    fn fresh(name: &str) -> Self;
    /// A new handle on the same store.
    fn open(&self) -> Self::S;
    /// A new handle on the same store, for the OMS catalog: a test uses one catalog or the
    /// other on a store, never both.
    fn open_oms(&self) -> Self::O;
    /// The next commit through `handle` fails after `n` writes, mid-batch.
    fn fail_next_commit_after(handle: &Self::S, n: usize);
    /// The handle's connections drop (where it has any).
    fn drop_connections(handle: &Self::S);
}

/// Every backend shares one `MemoryStorage` through an `Arc`.
pub(crate) struct MemoryBackend(Arc<MemoryStorage<Pos>>, Arc<MemoryStorage<Oms>>);

impl Backend for MemoryBackend {
    type S = Arc<MemoryStorage<Pos>>;
    type O = Arc<MemoryStorage<Oms>>;
    fn fresh(_name: &str) -> Self {
        MemoryBackend(
            Arc::new(MemoryStorage::new()),
            Arc::new(MemoryStorage::new()),
        )
    }
    fn open(&self) -> Self::S {
        Arc::clone(&self.0)
    }
    fn open_oms(&self) -> Self::O {
        Arc::clone(&self.1)
    }
    fn fail_next_commit_after(handle: &Self::S, n: usize) {
        handle.fail_next_commit_after(n);
    }
    fn drop_connections(_handle: &Self::S) {}
}

#[cfg(feature = "sqlite")]
pub(crate) struct SqliteBackend(std::path::PathBuf);

#[cfg(feature = "sqlite")]
impl Backend for SqliteBackend {
    type S = shopguard::storage::SqliteStorage;
    type O = shopguard::storage::SqliteStorage;
    fn open_oms(&self) -> Self::O {
        shopguard::storage::SqliteStorage::open(&self.0).unwrap()
    }
    fn fresh(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("shopguard-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        SqliteBackend(path)
    }
    fn open(&self) -> Self::S {
        shopguard::storage::SqliteStorage::open(&self.0).unwrap()
    }
    fn fail_next_commit_after(handle: &Self::S, n: usize) {
        handle.fail_next_commit_after(n);
    }
    fn drop_connections(_handle: &Self::S) {}
}

#[cfg(feature = "postgres")]
pub(crate) struct PgBackend {
    url: String,
    schema: String,
}

/// The server the PostgreSQL tests use. Missing is a failure, not a skip.
#[cfg(feature = "postgres")]
pub(crate) fn pg_url() -> String {
    std::env::var("SHOPGUARD_PG").unwrap_or_else(|_| {
        panic!(
            "the `postgres` feature is on, so its tests need a server: set SHOPGUARD_PG to a \
             connection string (`.ci/postgres` starts one and prints it)"
        )
    })
}

#[cfg(feature = "postgres")]
impl Backend for PgBackend {
    type S = shopguard::storage::PgStorage;
    type O = shopguard::storage::PgStorage;
    fn open_oms(&self) -> Self::O {
        shopguard::storage::PgStorage::connect(&self.url, &self.schema).unwrap()
    }
    fn fresh(name: &str) -> Self {
        let url = pg_url();
        let schema = format!("t_{name}");
        let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .unwrap();
        PgBackend { url, schema }
    }
    fn open(&self) -> Self::S {
        shopguard::storage::PgStorage::connect(&self.url, &self.schema).unwrap()
    }
    fn fail_next_commit_after(handle: &Self::S, n: usize) {
        handle.fail_next_commit_after(n);
    }
    fn drop_connections(handle: &Self::S) {
        handle.drop_connections().unwrap();
    }
}

const SHOP: AccountId = AccountId::new(1);
const NORTH: StoreId = StoreId::new(10);
const SOUTH: StoreId = StoreId::new(11);
const ADMIN: RoleId = RoleId::new(1);
const MANAGER: RoleId = RoleId::new(2);
const CASHIER: RoleId = RoleId::new(3);
const OWNER: UserId = UserId::new(1);
const ADMIN_2: UserId = UserId::new(2);
const ADMIN_3: UserId = UserId::new(3);
const ANA: UserId = UserId::new(4);
const SEATS: u32 = 8;

fn world() -> Vec<Mutation<Pos>> {
    let admin = |id: UserId, name: &str| {
        User::new(id, SHOP, name, &format!("{name}@shop.example"))
            .with_grant(Grant::new(ADMIN, Access::All))
    };
    vec![
        Mutation::PutAccount(Account::new(SHOP, "Corner Shop").with_seat_limit(SEATS)),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutStore(Store::new(SOUTH, SHOP, "South")),
        Mutation::PutRole(pos::admin(ADMIN, SHOP)),
        Mutation::PutRole(pos::manager(MANAGER, SHOP)),
        Mutation::PutRole(pos::cashier(CASHIER, SHOP)),
        Mutation::PutUser(admin(OWNER, "owner").with_owner(true)),
        Mutation::PutUser(admin(ADMIN_2, "second")),
        Mutation::PutUser(admin(ADMIN_3, "third")),
        Mutation::PutUser(cashier(ANA, "ana", NORTH)),
    ]
}

fn cashier(id: UserId, name: &str, store: StoreId) -> User {
    User::new(id, SHOP, name, &format!("{name}@shop.example"))
        .with_grant(Grant::new(CASHIER, Access::specific([store])))
}

/// Everything observable about a snapshot, in id order.
fn state(s: &Snapshot<Pos>) -> String {
    let mut out = format!("revision {}\n", s.revision());
    for a in s.accounts() {
        out += &format!("{a:?}\n");
        let mut stores: Vec<_> = s.stores(a.id()).collect();
        stores.sort_by_key(|x| x.id());
        let mut roles: Vec<_> = s.roles(a.id()).collect();
        roles.sort_by_key(|x| x.id());
        out += &format!("{stores:?}\n{roles:?}\n");
        for u in s.users(a.id()) {
            out += &format!("{u:?}\n");
        }
    }
    // Decisions too, not just records.
    for user in 1..=40 {
        for store in [NORTH, SOUTH] {
            for p in [Pos::SELL, Pos::VIEW_REPORTS, Pos::MANAGE_USERS] {
                let allowed = s.can(UserId::new(user), p, &OnStore(SHOP, store));
                out.push(if allowed { '1' } else { '0' });
            }
        }
    }
    out
}

/// An engine that reads what others stored only when a test says so (or when it writes), so
/// that the tests of races between replicas decide who is behind.
fn open_engine<B: Backend>(b: &B) -> Engine<Pos> {
    Engine::open_unfollowed(b.open()).unwrap()
}

fn bootstrapped<B: Backend>(name: &str) -> (B, Engine<Pos>) {
    let b = B::fresh(name);
    let e = open_engine(&b);
    e.unchecked_apply(world()).unwrap();
    (b, e)
}

/// [`bootstrapped`], with a handle on the engine's own storage for its test hooks.
fn bootstrapped_with_handle<B: Backend>(name: &str) -> (B, Engine<Pos>, Arc<B::S>) {
    let b = B::fresh(name);
    let handle = Arc::new(b.open());
    let e = Engine::open_unfollowed(Arc::clone(&handle)).unwrap();
    e.unchecked_apply(world()).unwrap();
    (b, e, handle)
}

fn enabled_users(s: &Snapshot<Pos>) -> usize {
    s.users(SHOP).filter(|u| u.is_enabled()).count()
}

/// A stored JSON document as releases before permission names wrote it: every permission list
/// (`"permissions":["SELL",…]`) back to its bit mask (`"permissions":255`). Returns the new
/// document and how many lists it turned into masks.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn with_masks(body: &str) -> (String, usize) {
    fn walk(v: &mut serde_json::Value, n: &mut usize) {
        match v {
            serde_json::Value::Object(fields) => {
                for (name, x) in fields.iter_mut() {
                    if name == "permissions" && x.is_array() {
                        let p: Pos = serde_json::from_value(x.clone()).unwrap();
                        *x = serde_json::json!(p.bits());
                        *n += 1;
                    } else {
                        walk(x, n);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|x| walk(x, n)),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
    let mut n = 0;
    walk(&mut v, &mut n);
    (v.to_string(), n)
}

/// A store whose rows were written with permission masks (`"permissions":255`) opens to the
/// same state, audit included, and takes new writes, which name their permissions.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn old_masks_still_load<B: Backend>(name: &str, rewrite: impl Fn(&B) -> usize) {
    let (b, e) = bootstrapped::<B>(name);
    e.apply(OWNER, Change::DisableUser(ANA)).unwrap();
    let narrower = pos::cashier(CASHIER, SHOP).with_permissions(Pos::SELL | Pos::OPEN_REGISTER);
    e.apply(OWNER, Change::UpdateRole(narrower)).unwrap();
    let before = state(&e.snapshot());
    let audit = format!("{:?}", e.storage().audit_records().unwrap());
    drop(e);
    // Every role row, every batch that puts a role, every audit record holding one.
    assert!(
        rewrite(&b) >= 3 + 2,
        "too few permission lists were rewritten"
    );
    let e = open_engine(&b);
    assert_eq!(state(&e.snapshot()), before);
    assert_eq!(format!("{:?}", e.storage().audit_records().unwrap()), audit);
    // A follower reads the old batches too.
    assert_eq!(e.storage().changes_since(0).unwrap().len(), 3);
    e.apply(OWNER, Change::EnableUser(ANA)).unwrap();
    let after = state(&e.snapshot());
    drop(e);
    assert_eq!(state(&open_engine(&b).snapshot()), after);
}

pub(crate) fn round_trip<B: Backend>(name: &str) {
    let (b, e) = bootstrapped::<B>(name);
    e.apply(
        OWNER,
        Change::CreateUser(cashier(UserId::new(10), "bo", SOUTH)),
    )
    .unwrap();
    e.apply(
        ADMIN_2,
        Change::RenameRole {
            role: MANAGER,
            name: "Shift lead".to_owned(),
        },
    )
    .unwrap();
    e.apply(OWNER, Change::DisableUser(ANA)).unwrap();
    e.apply(OWNER, Change::DeleteUser(UserId::new(10))).unwrap();
    let reopened = open_engine(&b);
    assert_eq!(reopened.revision(), e.revision());
    assert_eq!(state(&reopened.snapshot()), state(&e.snapshot()));
    // The old name still finds the role after the round trip (R14).
    assert_eq!(
        reopened
            .snapshot()
            .role_named(SHOP, "Manager")
            .map(|r| r.id()),
        Some(MANAGER)
    );
}

pub(crate) fn restart<B: Backend>(name: &str) {
    let (b, e) = bootstrapped::<B>(name);
    e.apply(
        OWNER,
        Change::CreateUser(cashier(UserId::new(10), "bo", SOUTH)),
    )
    .unwrap();
    let before = state(&e.snapshot());
    let revision = e.revision();
    drop(e);
    let e = open_engine(&b);
    assert_eq!(state(&e.snapshot()), before);
    // Writing goes on from where it was.
    let applied = e
        .apply(OWNER, Change::DisableUser(UserId::new(10)))
        .unwrap();
    assert!(applied.revision() > revision);
    let after = state(&e.snapshot());
    drop(e);
    assert_eq!(state(&open_engine(&b).snapshot()), after);
}

pub(crate) fn atomic_batches<B: Backend>(name: &str) {
    let (b, e) = bootstrapped::<B>(name);
    let handle = b.open();
    let before = handle.load().unwrap();
    // The last change of the batch is refused (a taken username): nothing of it is stored.
    let err = e
        .apply_all(
            OWNER,
            vec![
                Change::CreateUser(cashier(UserId::new(10), "bo", SOUTH)),
                Change::DisableUser(ANA),
                Change::CreateUser(cashier(UserId::new(11), "bo", NORTH)),
            ],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Duplicate);
    let after = handle.load().unwrap();
    assert_eq!(after.revision, before.revision);
    assert_eq!(after.records, before.records);
    assert!(handle.changes_since(before.revision).unwrap().is_empty());
    // The same batch, fixed, is stored whole as one revision.
    let applied = e
        .apply_all(
            OWNER,
            vec![
                Change::CreateUser(cashier(UserId::new(10), "bo", SOUTH)),
                Change::DisableUser(ANA),
                Change::CreateUser(cashier(UserId::new(11), "cy", NORTH)),
            ],
        )
        .unwrap();
    let batches = handle.changes_since(before.revision).unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].revision, applied.revision());
    assert_eq!(batches[0].mutations.len(), 3);
    let reopened = open_engine(&b);
    assert_eq!(state(&reopened.snapshot()), state(&e.snapshot()));
    // The batch's audit records were stored with it, naming its revision.
    let audit = handle.audit_records().unwrap();
    let applied_records: Vec<_> = audit
        .iter()
        .filter(|r| {
            r.outcome
                == shopguard::audit::Outcome::Applied {
                    revision: applied.revision(),
                }
        })
        .collect();
    assert_eq!(applied_records.len(), 3);
}

pub(crate) fn refused_change_leaves_nothing<B: Backend>(name: &str) {
    let (b, e) = bootstrapped::<B>(name);
    let handle = b.open();
    let before = handle.load().unwrap();
    let memory = state(&e.snapshot());
    // A cashier may not create users (R9).
    let err = e
        .apply(
            ANA,
            Change::CreateUser(cashier(UserId::new(10), "bo", NORTH)),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotPermitted);
    let after = handle.load().unwrap();
    assert_eq!(
        (after.revision, after.records),
        (before.revision, before.records)
    );
    assert_eq!(state(&e.snapshot()), memory);
    // The attempt is in the stored audit trail, as refused (R19).
    let audit = handle.audit_records().unwrap();
    let last = audit.last().unwrap();
    assert_eq!(last.actor.user(), Some(ANA));
    assert!(!last.outcome.is_applied());
}

pub(crate) fn fault_mid_batch<B: Backend>(name: &str) {
    let (b, e, hooks) = bootstrapped_with_handle::<B>(name);
    let handle = b.open();
    let before = handle.load().unwrap();
    let memory = state(&e.snapshot());
    let batch = || {
        vec![
            Change::CreateUser(cashier(UserId::new(10), "bo", SOUTH)),
            Change::CreateUser(cashier(UserId::new(11), "cy", NORTH)),
            Change::DisableUser(ANA),
        ]
    };
    B::fail_next_commit_after(&hooks, 2);
    let err = e.apply_all(OWNER, batch()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    // Nothing half applied: not in memory, not in storage.
    assert_eq!(state(&e.snapshot()), memory);
    let after = handle.load().unwrap();
    assert_eq!(
        (after.revision, &after.records),
        (before.revision, &before.records)
    );
    assert_eq!(state(&open_engine(&b).snapshot()), memory);
    let audit = handle.audit_records().unwrap();
    // The bootstrap aside (R19: recorded under its system name), nothing is recorded applied.
    assert_eq!(audit[0].actor.system(), Some("unchecked_apply"));
    assert!(audit[1..].iter().all(|r| !r.outcome.is_applied()));
    // The engine recovers (reconnecting where there is a connection) and the batch goes in.
    let applied = e.apply_all(OWNER, batch()).unwrap();
    assert!(applied.revision() > before.revision);
    assert_eq!(state(&open_engine(&b).snapshot()), state(&e.snapshot()));
    // And after the connections drop.
    B::drop_connections(&hooks);
    e.apply(OWNER, Change::EnableUser(ANA)).unwrap();
    assert_eq!(state(&open_engine(&b).snapshot()), state(&e.snapshot()));
}

pub(crate) fn concurrent_writers<B: Backend + Sync>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let a = Arc::new(a);
    let other = Arc::new(open_engine(&b));
    // Two replicas create different users at the same time: every change lands, each once,
    // each replica catching up and planning again when the other went first.
    let writers: Vec<_> = [(Arc::clone(&a), 100_u64), (Arc::clone(&other), 200)]
        .into_iter()
        .map(|(engine, first)| {
            thread::spawn(move || {
                let mut revisions = Vec::new();
                for k in 0..3 {
                    let id = UserId::new(first + k);
                    let name = format!("u{}", first + k);
                    let user = cashier(id, &name, NORTH).with_enabled(false);
                    revisions.push(
                        engine
                            .apply(OWNER, Change::CreateUser(user))
                            .unwrap()
                            .revision(),
                    );
                }
                revisions
            })
        })
        .collect();
    let mut revisions: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    revisions.sort_unstable();
    revisions.dedup();
    assert_eq!(revisions.len(), 6, "every change got its own revision");
    a.sync().unwrap();
    other.sync().unwrap();
    assert_eq!(state(&a.snapshot()), state(&other.snapshot()));
    assert_eq!(state(&open_engine(&b).snapshot()), state(&a.snapshot()));
    assert_eq!(a.snapshot().users(SHOP).count(), 4 + 6);
}

pub(crate) fn conflicting_edits<B: Backend>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let other = open_engine(&b);
    // Both admins start from the same state and edit the same user.
    a.apply(OWNER, Change::UpdateUser(cashier(ANA, "ana", SOUTH)))
        .unwrap();
    let err = other
        .apply(
            ADMIN_2,
            Change::UpdateUser(cashier(ANA, "ana", NORTH).with_email("ana@elsewhere.example")),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(err.revision(), Some(a.revision()));
    // The loser caught up, and nothing of its change was written anywhere.
    assert_eq!(state(&other.snapshot()), state(&a.snapshot()));
    assert_eq!(state(&open_engine(&b).snapshot()), state(&a.snapshot()));
    let ana = other.snapshot().user(ANA).unwrap().clone();
    assert_eq!(ana.email(), "ana@shop.example");
    assert!(other.can(ANA, Pos::SELL, &OnStore(SHOP, SOUTH)));
    // A change to another object, made from the same stale state, is planned again and lands.
    let stale = open_engine(&b);
    a.apply(OWNER, Change::DisableUser(ANA)).unwrap();
    stale
        .apply(
            OWNER,
            Change::CreateUser(cashier(UserId::new(10), "bo", NORTH)),
        )
        .unwrap();
    assert_eq!(state(&stale.snapshot()), state(&open_engine(&b).snapshot()));
}

pub(crate) fn seat_limit_across_replicas<B: Backend>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let other = open_engine(&b);
    // Fill all but one seat.
    let free = SEATS as usize - enabled_users(&a.snapshot());
    for k in 0..free - 1 {
        let id = UserId::new(100 + k as u64);
        a.apply(
            OWNER,
            Change::CreateUser(cashier(id, &format!("f{k}"), NORTH)),
        )
        .unwrap();
    }
    // The other replica has not seen those; both now take the last seat.
    a.apply(
        OWNER,
        Change::CreateUser(cashier(UserId::new(50), "x", NORTH)),
    )
    .unwrap();
    let err = other
        .apply(
            ADMIN_2,
            Change::CreateUser(cashier(UserId::new(51), "y", SOUTH)),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeatLimit, "{err}");
    let reloaded = open_engine(&b);
    assert_eq!(enabled_users(&reloaded.snapshot()), SEATS as usize);
}

pub(crate) fn single_owner_across_replicas<B: Backend>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let other = open_engine(&b);
    a.apply(OWNER, Change::TransferOwnership { to: ADMIN_2 })
        .unwrap();
    // The stale replica still thinks OWNER owns the account.
    let err = other
        .apply(OWNER, Change::TransferOwnership { to: ADMIN_3 })
        .unwrap_err();
    // Its commit loses the race; planned again on the caught-up state, the transfer is refused
    // because OWNER no longer owns the account (R11).
    assert_eq!(err.kind(), ErrorKind::NotPermitted, "{err}");
    assert_eq!(other.revision(), a.revision());
    let reloaded = open_engine(&b);
    let owners: Vec<UserId> = reloaded
        .snapshot()
        .users(SHOP)
        .filter(|u| u.is_owner())
        .map(|u| u.id())
        .collect();
    assert_eq!(owners, vec![ADMIN_2]);
}

pub(crate) fn seat_race<B: Backend>(name: &str)
where
    B::S: Send + Sync,
{
    let (b, a) = bootstrapped::<B>(name);
    let other = open_engine(&b);
    let free = SEATS as usize - enabled_users(&a.snapshot());
    // Two replicas, one thread each, race to add three enabled users each: only the free seats
    // are taken, whoever gets them, and every other attempt is refused by the seat limit.
    let outcomes: Vec<Result<u64, ErrorKind>> = thread::scope(|scope| {
        let runs: Vec<_> = [(&a, 100_u64), (&other, 200)]
            .into_iter()
            .map(|(engine, first)| {
                scope.spawn(move || {
                    (first..first + 3)
                        .map(|id| {
                            let user = cashier(UserId::new(id), &format!("s{id}"), NORTH);
                            engine
                                .apply(ADMIN_2, Change::CreateUser(user))
                                .map(|applied| applied.revision())
                                .map_err(|e| e.kind())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
    });
    let taken = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(taken, free, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o.is_ok() || *o == Err(ErrorKind::SeatLimit)),
        "{outcomes:?}"
    );
    assert_eq!(enabled_users(&open_engine(&b).snapshot()), SEATS as usize);
}

pub(crate) fn stale_forms<B: Backend>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let other = open_engine(&b);
    // An admin opens ana's edit form on the second replica.
    let form = other.snapshot();
    let ana = form.user(ANA).unwrap().clone();
    // Meanwhile ana is disabled on the first replica, and the second catches up (a follower).
    a.apply(OWNER, Change::DisableUser(ANA)).unwrap();
    other.sync().unwrap();
    // Submitting the stale form would re-enable her: refused, based on the form's revision.
    let err = other
        .apply_based_on(
            ADMIN_2,
            form.revision(),
            vec![Change::UpdateUser(
                ana.clone().with_email("ana@new.example"),
            )],
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(!other.snapshot().user(ANA).unwrap().is_enabled());
    // A form on another object, as old, goes through.
    other
        .apply_based_on(ADMIN_2, form.revision(), vec![Change::DisableUser(ADMIN_3)])
        .unwrap();
    // A form filled on a replica that is ahead: this one reads up to it first.
    let ahead = a.apply(OWNER, Change::EnableUser(ANA)).unwrap();
    let lagging = open_engine(&b);
    a.apply(OWNER, Change::EnableUser(ADMIN_3)).unwrap();
    let fresh = a.snapshot();
    assert!(fresh.revision() > ahead.revision());
    let applied = lagging
        .apply_based_on(
            OWNER,
            fresh.revision(),
            vec![Change::UpdateUser(
                fresh
                    .user(ANA)
                    .unwrap()
                    .clone()
                    .with_email("ana@new.example"),
            )],
        )
        .unwrap();
    assert!(applied.revision() > fresh.revision());
    assert_eq!(
        state(&lagging.snapshot()),
        state(&open_engine(&b).snapshot())
    );
}

/// A backend that never reports changes, as if every notification were lost.
#[derive(Debug)]
struct Deaf<S>(S);

impl<S: Storage<Pos>> Storage<Pos> for Deaf<S> {
    fn load(&self) -> Result<shopguard::storage::Loaded<Pos>, shopguard::Error> {
        self.0.load()
    }
    fn commit(&self, commit: &shopguard::storage::Commit<'_, Pos>) -> Result<(), shopguard::Error> {
        self.0.commit(commit)
    }
    fn changes_since(
        &self,
        revision: u64,
    ) -> Result<Vec<shopguard::storage::Batch<Pos>>, shopguard::Error> {
        self.0.changes_since(revision)
    }
    fn record_refused(
        &self,
        records: &[shopguard::audit::AuditRecord<Pos>],
    ) -> Result<(), shopguard::Error> {
        self.0.record_refused(records)
    }
    fn audit_records(&self) -> Result<Vec<shopguard::audit::AuditRecord<Pos>>, shopguard::Error> {
        self.0.audit_records()
    }
}

pub(crate) fn followers_poll_when_notifications_are_lost<B: Backend>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let other = Arc::new(Engine::<Pos>::open(Deaf(b.open())).unwrap());
    let follower = other.follow(Duration::from_millis(50));
    let applied = a.apply(OWNER, Change::DisableUser(ANA)).unwrap();
    let seen = other
        .at_least(applied.revision(), Duration::from_secs(10))
        .unwrap();
    assert_eq!(state(&seen), state(&a.snapshot()));
    // A follower with a long poll interval still stops promptly when dropped (bounded wait).
    let slow = other.follow(Duration::from_secs(600));
    // Let it get into its wait first.
    thread::sleep(Duration::from_millis(300));
    let (done, waited) = std::sync::mpsc::channel();
    thread::spawn(move || {
        drop(slow);
        let _ = done.send(());
    });
    waited
        .recv_timeout(Duration::from_secs(30))
        .expect("dropping a follower must not wait for its poll interval");
    drop(follower);
}

/// An engine opened on a store that other engines may write (SQLite, PostgreSQL) follows it by
/// itself: a cashier disabled through another engine is denied here within the documented
/// bound (a second, the poll interval; usually milliseconds), with no call to `sync`. A memory
/// store lives in one process: engines sharing one follow only when asked. An engine opened
/// unfollowed stays behind until it syncs.
pub(crate) fn shared_stores_are_followed_by_default<B: Backend>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let handle = Arc::new(b.open());
    let shared = handle.is_shared();
    let other = Engine::<Pos>::open(Arc::clone(&handle)).unwrap();
    let fixed = Engine::<Pos>::open_unfollowed(b.open()).unwrap();
    assert_eq!(other.is_following(), shared);
    assert!(!fixed.is_following());
    let till = OnStore(SHOP, NORTH);
    assert!(other.can(ANA, Pos::SELL, &till));
    let applied = a.apply(OWNER, Change::DisableUser(ANA)).unwrap();
    let stored = std::time::Instant::now();
    if shared {
        // Polled, as a request handler would ask: no call that reads the store.
        while other.can(ANA, Pos::SELL, &till) {
            assert!(
                stored.elapsed() < Duration::from_secs(10),
                "the disable was never seen"
            );
            thread::sleep(Duration::from_millis(1));
        }
        let took = stored.elapsed();
        // The documented second, with room for a busy machine.
        assert!(took < Duration::from_secs(3), "seen after {took:?}");
        assert_eq!(other.revision(), applied.revision());
        assert!(other.follow_error().is_none());
    } else {
        thread::sleep(Duration::from_millis(50));
        assert!(other.can(ANA, Pos::SELL, &till));
        other.sync().unwrap();
        assert!(!other.can(ANA, Pos::SELL, &till));
    }
    // Unfollowed: behind until it syncs.
    assert!(fixed.can(ANA, Pos::SELL, &till));
    let err = fixed
        .at_least(applied.revision(), Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Behind);
    assert_eq!(fixed.sync().unwrap(), applied.revision());
    assert!(!fixed.can(ANA, Pos::SELL, &till));
    // A following engine keeps following through later batches, and stops when dropped.
    let applied = a.apply(OWNER, Change::EnableUser(ANA)).unwrap();
    if shared {
        let seen = other
            .at_least(applied.revision(), Duration::from_secs(10))
            .unwrap();
        assert!(seen.can(ANA, Pos::SELL, &till));
    }
    // Dropped, the engine lets go of its store: the follower's thread ends with its wait.
    drop(other);
    let dropped = std::time::Instant::now();
    while Arc::strong_count(&handle) > 1 {
        assert!(
            dropped.elapsed() < Duration::from_secs(10),
            "the follower still holds the store"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// `Engine::next_id` across engines and processes sharing a store: ids start above every id
/// stored (the host's own included, even one written by an engine this one has not heard
/// from), racing engines — each on its own handle, as separate processes would be — never get
/// the same id, kinds count apart, and a restart continues above everything handed out.
pub(crate) fn allocated_ids_never_collide<B: Backend>(name: &str)
where
    B::S: Send + Sync,
{
    let (b, a) = bootstrapped::<B>(name);
    let first: UserId = a.next_id().unwrap();
    assert!(first > ANA, "{first:?}");
    // A host's own id, stored by an engine `a` has not heard from.
    let other = open_engine(&b);
    let own = UserId::new(500);
    other
        .apply(
            OWNER,
            Change::CreateUser(cashier(own, "own", NORTH).with_enabled(false)),
        )
        .unwrap();
    let next: UserId = a.next_id().unwrap();
    assert!(next > own, "{next:?}");
    // Racing engines, one thread each, single ids and blocks mixed.
    let engines: Vec<Engine<Pos>> = (0..4).map(|_| open_engine(&b)).collect();
    let mut ids: Vec<u64> = thread::scope(|scope| {
        let runs: Vec<_> = engines
            .iter()
            .map(|e| {
                scope.spawn(move || {
                    let mut got = Vec::new();
                    for k in 0..40 {
                        if k % 5 == 0 {
                            let block: Vec<UserId> = e.next_ids(3).unwrap();
                            assert!(block.windows(2).all(|w| w[1].get() == w[0].get() + 1));
                            got.extend(block.iter().map(|u| u.get()));
                        } else {
                            got.push(e.next_id::<UserId>().unwrap().get());
                        }
                    }
                    got
                })
            })
            .collect();
        runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
    });
    let handed = ids.len();
    assert_eq!(handed, 4 * (32 + 8 * 3));
    ids.extend([first.get(), next.get()]);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), handed + 2, "two allocations got the same id");
    assert!(ids.iter().all(|&id| id > ANA.get()));
    // Kinds are counted apart: the first role id is above the stored roles only.
    let role: RoleId = a.next_id().unwrap();
    assert!(role > CASHIER && role.get() < 100, "{role:?}");
    // An allocated id is an ordinary id.
    let bo: UserId = a.next_id().unwrap();
    a.apply(
        OWNER,
        Change::CreateUser(cashier(bo, "bo", NORTH).with_enabled(false)),
    )
    .unwrap();
    // A restart continues above everything handed out, removed objects included.
    a.apply(OWNER, Change::DeleteUser(bo)).unwrap();
    let top = ids.last().copied().unwrap().max(bo.get());
    drop((a, other, engines));
    let again = open_engine(&b);
    let after: UserId = again.next_id().unwrap();
    assert!(after.get() > top, "{after:?} after {top}");
}

pub(crate) fn lagging_replica_writes<B: Backend>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let lagging = open_engine(&b);
    // A form opened before a restart can still be checked after it.
    let form = a.snapshot();
    let ana = form.user(ANA).unwrap().clone();
    // Far more batches than the engine remembers happen elsewhere.
    for i in 0..1_100 {
        let change = if i % 2 == 0 {
            Change::DisableUser(ADMIN_3)
        } else {
            Change::EnableUser(ADMIN_3)
        };
        a.apply(OWNER, change).unwrap();
    }
    // A plain write on the lagging replica catches up and lands.
    lagging
        .apply(
            OWNER,
            Change::CreateUser(cashier(UserId::new(10), "bo", NORTH)),
        )
        .unwrap();
    assert_eq!(
        state(&lagging.snapshot()),
        state(&open_engine(&b).snapshot())
    );
    // A form based on a revision older than what is remembered is refused, not applied.
    let err = lagging
        .apply_based_on(ADMIN_2, form.revision(), vec![Change::UpdateUser(ana)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

pub(crate) fn forms_survive_a_restart<B: Backend>(name: &str) {
    let (b, e) = bootstrapped::<B>(name);
    let form = e.snapshot();
    let ana = form.user(ANA).unwrap().clone();
    e.apply(OWNER, Change::DisableUser(ADMIN_3)).unwrap();
    drop(e);
    let e = open_engine(&b);
    // Unchanged since the form: goes through after the restart.
    e.apply_based_on(
        OWNER,
        form.revision(),
        vec![Change::UpdateUser(
            ana.clone().with_email("ana@new.example"),
        )],
    )
    .unwrap();
    drop(e);
    let e = open_engine(&b);
    // The same stale form again: ana changed since, also across the restart.
    let err = e
        .apply_based_on(OWNER, form.revision(), vec![Change::UpdateUser(ana)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(e.snapshot().user(ANA).unwrap().email(), "ana@new.example");
}

pub(crate) fn followers_and_revisions<B: Backend>(name: &str) {
    let (b, a) = bootstrapped::<B>(name);
    let hooks = Arc::new(b.open());
    let other = Arc::new(Engine::<Pos>::open_unfollowed(Arc::clone(&hooks)).unwrap());
    // Without a follower the other replica stays behind, and says so.
    let applied = a.apply(OWNER, Change::DisableUser(ANA)).unwrap();
    let err = other
        .at_least(applied.revision(), Duration::from_millis(20))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Behind);
    assert!(other.can(ANA, Pos::SELL, &OnStore(SHOP, NORTH)));
    // A follower brings it in.
    let follower = other.follow(Duration::from_millis(50));
    let seen = other
        .at_least(applied.revision(), Duration::from_secs(10))
        .unwrap();
    assert!(!seen.can(ANA, Pos::SELL, &OnStore(SHOP, NORTH)));
    // Even after the follower's connections drop, later changes arrive.
    B::drop_connections(&hooks);
    let applied = a.apply(OWNER, Change::EnableUser(ANA)).unwrap();
    let seen = other
        .at_least(applied.revision(), Duration::from_secs(10))
        .unwrap();
    assert!(seen.can(ANA, Pos::SELL, &OnStore(SHOP, NORTH)));
    assert_eq!(state(&seen), state(&a.snapshot()));
    drop(follower);
}

pub(crate) fn inside_tokio<B: Backend>(name: &str)
where
    B::S: Send + Sync,
{
    let (b, e) = bootstrapped::<B>(name);
    let e = Arc::new(e);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let revision = runtime.block_on(async {
        // The documented way: blocking writes on the blocking pool.
        let engine = Arc::clone(&e);
        let applied =
            tokio::task::spawn_blocking(move || engine.apply(OWNER, Change::DisableUser(ANA)))
                .await
                .unwrap()
                .unwrap();
        // Called straight from a task it blocks that worker for a moment, and must not panic.
        let engine = Arc::clone(&e);
        tokio::spawn(async move { engine.apply(OWNER, Change::EnableUser(ANA)) })
            .await
            .unwrap()
            .unwrap();
        // Checks never wait on storage.
        assert!(e.can(ANA, Pos::SELL, &OnStore(SHOP, NORTH)));
        applied.revision()
    });
    assert!(revision > 1);
    assert_eq!(state(&open_engine(&b).snapshot()), state(&e.snapshot()));
}

/// Issue 17: opening, renaming and closing an outlet and lowering the plan are stored,
/// audited in the storage's own audit, replicated to a follower and kept across a restart.
pub(crate) fn outlets_and_plan<B: Backend>(name: &str) {
    let (b, e) = bootstrapped::<B>(name);
    let other = Arc::new(open_engine(&b));
    let follower = other.follow(Duration::from_millis(50));
    let harbour = StoreId::new(12);
    let bo = UserId::new(10);
    e.apply(
        OWNER,
        Change::CreateStore(Store::new(harbour, SHOP, "Harbour")),
    )
    .unwrap();
    e.apply(
        ADMIN_2,
        Change::UpdateStore(Store::new(harbour, SHOP, "Harbour Road")),
    )
    .unwrap();
    e.apply(OWNER, Change::CreateUser(cashier(bo, "bo", harbour)))
        .unwrap();
    let err = e
        .apply(
            ANA,
            Change::CreateStore(Store::new(StoreId::new(13), SHOP, "Kiosk")),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotPermitted);
    let err = e.apply(OWNER, Change::DeleteStore(harbour)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InUse, "{err}");
    e.apply(OWNER, Change::DeleteStore(SOUTH)).unwrap();
    // Five enabled users; a plan of three by default is refused, then applied by disabling
    // the two newest (bo, then ana), never the owner.
    let err = e
        .apply(
            OWNER,
            Change::SetSeatLimit {
                limit: Some(3),
                disable_excess: false,
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SeatLimit);
    let applied = e
        .apply(
            OWNER,
            Change::SetSeatLimit {
                limit: Some(3),
                disable_excess: true,
            },
        )
        .unwrap();
    assert_eq!(
        applied.events(),
        [Event::DisabledBySeatLimit {
            users: vec![bo, ANA]
        }]
    );
    assert_eq!(enabled_users(&e.snapshot()), 3);
    // Replicated, and durable.
    let seen = other
        .at_least(applied.revision(), Duration::from_secs(10))
        .unwrap();
    assert_eq!(state(&seen), state(&e.snapshot()));
    assert!(seen.store(harbour).is_some() && seen.store(SOUTH).is_none());
    drop(follower);
    assert_eq!(state(&open_engine(&b).snapshot()), state(&e.snapshot()));
    // The storage's own audit holds every attempt, decoded back with its objects; the
    // bootstrap first, under its system name (R19).
    let stored = e.storage().audit_records().unwrap();
    assert_eq!(stored[0].actor.system(), Some("unchecked_apply"));
    assert_eq!(stored[0].account, Some(SHOP));
    let applied_change = |c: &Change<Pos>| {
        stored
            .iter()
            .find(|r| &r.change == c && r.outcome.is_applied())
            .unwrap_or_else(|| panic!("no applied record of {c:?}"))
    };
    let opened = applied_change(&Change::CreateStore(Store::new(harbour, SHOP, "Harbour")));
    assert_eq!(
        opened.after,
        [Object::Store(Store::new(harbour, SHOP, "Harbour"))]
    );
    let closed = applied_change(&Change::DeleteStore(SOUTH));
    assert_eq!(
        closed.before,
        [Object::Store(Store::new(SOUTH, SHOP, "South"))]
    );
    let plan = applied_change(&Change::SetSeatLimit {
        limit: Some(3),
        disable_excess: true,
    });
    let disabled: Vec<UserId> = plan
        .after
        .iter()
        .filter_map(|o| match o {
            Object::User(u) if !u.is_enabled() => Some(u.id()),
            _ => None,
        })
        .collect();
    assert_eq!(disabled, [ANA, bo]);
    assert!(
        stored
            .iter()
            .any(|r| r.change == Change::DeleteStore(harbour) && !r.outcome.is_applied())
    );
}

const WAREHOUSE: SourceId = SourceId::new(20);
const WEB: ChannelId = ChannelId::new(30);

/// The sources and sales channels of an OMS account, for comparing replicas.
fn oms_state(s: &Snapshot<Oms>) -> String {
    let sources: Vec<_> = s.sources(SHOP).collect();
    let channels: Vec<_> = s.channels(SHOP).collect();
    format!("revision {}\n{sources:?}\n{channels:?}", s.revision())
}

/// Issue 17: sources and sales channels created, edited and deleted through changes on the
/// OMS catalog are stored, audited, replicated and kept across a restart.
pub(crate) fn sources_and_channels<B: Backend>(name: &str) {
    let b = B::fresh(name);
    let e = Engine::<Oms>::open(b.open_oms()).unwrap();
    let assistant = UserId::new(2);
    e.unchecked_apply([
        Mutation::PutAccount(Account::new(SHOP, "Acme")),
        Mutation::PutStore(Store::new(NORTH, SHOP, "North")),
        Mutation::PutRole(oms::administrator(ADMIN, SHOP)),
        Mutation::PutRole(oms::store_assistant(CASHIER, SHOP)),
        Mutation::PutUser(
            User::new(OWNER, SHOP, "owner", "owner@shop.example")
                .with_owner(true)
                .with_grant(Grant::new(ADMIN, Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
        Mutation::PutUser(
            User::new(assistant, SHOP, "assistant", "assistant@shop.example")
                .with_grant(Grant::new(CASHIER, Access::All))
                .with_sources(Access::All)
                .with_channels(Access::All),
        ),
    ])
    .unwrap();
    let other = Arc::new(Engine::<Oms>::open(b.open_oms()).unwrap());
    let follower = other.follow(Duration::from_millis(50));
    let outlet = SourceId::new(21);
    e.apply_all(
        OWNER,
        vec![
            Change::CreateSource(Source::new(WAREHOUSE, SHOP, "WAREHOUSE")),
            Change::CreateSource(Source::new(outlet, SHOP, "north-store")),
            Change::CreateChannel(Channel::new(WEB, SHOP, "Web")),
        ],
    )
    .unwrap();
    // R3: all sources reach the new ones at once.
    assert!(e.can(
        assistant,
        Oms::MANAGE_SHIP_FROM_STORE_ORDERS,
        &OnSource(SHOP, outlet)
    ));
    let err = e
        .apply(assistant, Change::DeleteSource(WAREHOUSE))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotPermitted);
    e.apply(
        OWNER,
        Change::UpdateSource(Source::new(outlet, SHOP, "north-shop")),
    )
    .unwrap();
    e.apply(
        OWNER,
        Change::UpdateChannel(Channel::new(WEB, SHOP, "Webshop")),
    )
    .unwrap();
    let applied = e.apply(OWNER, Change::DeleteSource(WAREHOUSE)).unwrap();
    let seen = other
        .at_least(applied.revision(), Duration::from_secs(10))
        .unwrap();
    assert_eq!(oms_state(&seen), oms_state(&e.snapshot()));
    assert_eq!(
        seen.source(outlet).map(|s| s.external_id().to_owned()),
        Some("north-shop".to_owned())
    );
    drop(follower);
    let reopened = Engine::<Oms>::open(b.open_oms()).unwrap();
    assert_eq!(oms_state(&reopened.snapshot()), oms_state(&e.snapshot()));
    let stored = e.storage().audit_records().unwrap();
    let renamed = stored
        .iter()
        .find(|r| r.change == Change::UpdateChannel(Channel::new(WEB, SHOP, "Webshop")))
        .unwrap();
    assert_eq!(
        (renamed.before.as_slice(), renamed.after.as_slice()),
        (
            &[Object::Channel(Channel::new(WEB, SHOP, "Web"))][..],
            &[Object::Channel(Channel::new(WEB, SHOP, "Webshop"))][..]
        )
    );
    assert!(
        stored
            .iter()
            .any(|r| r.change == Change::DeleteSource(WAREHOUSE) && !r.outcome.is_applied())
    );
}

// Partitioned replicas: a second account beside `world()`'s, with ids of its own.
const OTHER: AccountId = AccountId::new(2);
const OTHER_NORTH: StoreId = StoreId::new(120);
const OTHER_SOUTH: StoreId = StoreId::new(121);
const OTHER_ADMIN: RoleId = RoleId::new(101);
const OTHER_CASHIER: RoleId = RoleId::new(103);
const OTHER_OWNER: UserId = UserId::new(101);
const OTHER_ADMIN_2: UserId = UserId::new(102);
const OTHER_BEA: UserId = UserId::new(104);
/// Every store id the partition tests use, in both accounts and created later.
const ALL_STORES: [StoreId; 7] = [
    NORTH,
    SOUTH,
    OTHER_NORTH,
    OTHER_SOUTH,
    StoreId::new(30),
    StoreId::new(31),
    StoreId::new(32),
];

fn other_world() -> Vec<Mutation<Pos>> {
    let admin = |id: UserId, name: &str| {
        User::new(id, OTHER, name, &format!("{name}@other.example"))
            .with_grant(Grant::new(OTHER_ADMIN, Access::All))
    };
    vec![
        Mutation::PutAccount(Account::new(OTHER, "Other Shop").with_seat_limit(SEATS)),
        Mutation::PutStore(Store::new(OTHER_NORTH, OTHER, "North")),
        Mutation::PutStore(Store::new(OTHER_SOUTH, OTHER, "South")),
        Mutation::PutRole(pos::admin(OTHER_ADMIN, OTHER)),
        Mutation::PutRole(pos::manager(RoleId::new(102), OTHER)),
        Mutation::PutRole(pos::cashier(OTHER_CASHIER, OTHER)),
        Mutation::PutUser(admin(OTHER_OWNER, "o-owner").with_owner(true)),
        Mutation::PutUser(admin(OTHER_ADMIN_2, "o-second")),
        Mutation::PutUser(admin(UserId::new(103), "o-third")),
        Mutation::PutUser(
            User::new(OTHER_BEA, OTHER, "o-bea", "o-bea@other.example")
                .with_grant(Grant::new(OTHER_CASHIER, Access::specific([OTHER_NORTH]))),
        ),
    ]
}

/// A cashier of `account` at its first store.
fn cashier_of(account: AccountId, id: UserId, name: &str) -> User {
    let (role, store) = if account == SHOP {
        (CASHIER, NORTH)
    } else {
        (OTHER_CASHIER, OTHER_NORTH)
    };
    User::new(
        id,
        account,
        name,
        &format!("{name}@{}.example", account.get()),
    )
    .with_grant(Grant::new(role, Access::specific([store])))
}

/// Everything observable about one account in a snapshot: its records, and every decision
/// (with its reason) and `who_can` answer for `users` on every store id of [`ALL_STORES`].
///
/// A user of another account (or of none) is denied on both kinds of replica, for reasons that
/// may differ: the full one knows the user (`WrongAccount`, `UserDisabled`), the partitioned one
/// does not (`UnknownUser`). For such users only the decision is written.
fn account_view(s: &Snapshot<Pos>, account: AccountId, users: &[UserId]) -> String {
    let mut out = format!("revision {}\n{:?}\n", s.revision(), s.account(account));
    let mut stores: Vec<_> = s.stores(account).collect();
    stores.sort_by_key(|x| x.id());
    let mut roles: Vec<_> = s.roles(account).collect();
    roles.sort_by_key(|x| x.id());
    out += &format!("{stores:?}\n{roles:?}\n");
    for u in s.users(account) {
        out += &format!("{u:?}\n");
    }
    for store in ALL_STORES {
        let at = OnStore(account, store);
        for p in [Pos::SELL, Pos::VIEW_REPORTS, Pos::MANAGE_USERS] {
            out += &format!("{store:?} {p:?}: {:?}\n", s.who_can(p, &at));
            for &user in users {
                let decision = if s.user(user).is_some_and(|u| u.account() == account) {
                    // `can` too: it reads the quick path, which a catch-up must refresh.
                    format!("{:?} {}", s.check(user, p, &at), s.can(user, p, &at))
                } else {
                    format!("not a user of this account: {}", s.can(user, p, &at))
                };
                out += &format!("{user:?} {decision}\n");
            }
        }
    }
    out
}

/// A partitioned replica holds nothing of `account`, and denies its users everything.
#[track_caller]
fn knows_nothing_of(s: &Snapshot<Pos>, account: AccountId, users: &[UserId]) {
    assert!(s.account(account).is_none());
    assert_eq!(s.stores(account).count(), 0);
    assert_eq!(s.roles(account).count(), 0);
    assert_eq!(s.users(account).count(), 0);
    for &user in users {
        assert!(s.user(user).is_none(), "{user:?}");
        for store in ALL_STORES {
            assert!(!s.can(user, Pos::SELL, &OnStore(account, store)));
        }
    }
}

fn user_ids(s: &Snapshot<Pos>, account: AccountId) -> Vec<UserId> {
    s.users(account).map(User::id).collect()
}

/// A replica opened for `SHOP` answers exactly like a full one for `SHOP`'s users and
/// resources, before and after the writer applies batches touching both accounts, knows nothing
/// of `OTHER`, takes no writes, and reopens to the same state.
pub(crate) fn partitioned_replicas<B: Backend>(name: &str) {
    let (b, writer) = bootstrapped::<B>(name);
    writer.unchecked_apply(other_world()).unwrap();
    let shop_only = Engine::open_for(b.open(), [SHOP]).unwrap();
    let other_only = Engine::open_for(b.open(), [OTHER]).unwrap();
    assert!(shop_only.is_partitioned() && shop_only.serves(SHOP) && !shop_only.serves(OTHER));
    assert!(!writer.is_partitioned() && writer.serves(OTHER));
    let compare = |part: &Engine<Pos>, mine: AccountId, theirs: AccountId| {
        let full = writer.snapshot();
        let mut users = user_ids(&full, mine);
        users.extend(user_ids(&full, theirs));
        users.push(UserId::new(999));
        let snapshot = part.snapshot();
        assert_eq!(
            account_view(&snapshot, mine, &users),
            account_view(&full, mine, &users)
        );
        knows_nothing_of(&snapshot, theirs, &user_ids(&full, theirs));
    };
    compare(&shop_only, SHOP, OTHER);
    compare(&other_only, OTHER, SHOP);

    // Batches touching both accounts, one batch touching only the other account, and a user id
    // deleted in one account and created again in the other.
    let bo = UserId::new(10);
    writer
        .apply(OWNER, Change::CreateUser(cashier_of(SHOP, bo, "bo")))
        .unwrap();
    writer
        .apply(OTHER_OWNER, Change::DisableUser(OTHER_BEA))
        .unwrap();
    writer
        .unchecked_apply([
            Mutation::PutStore(Store::new(StoreId::new(30), SHOP, "East")),
            Mutation::PutStore(Store::new(StoreId::new(31), OTHER, "East")),
            Mutation::PutUser(cashier_of(OTHER, UserId::new(11), "cy")),
            Mutation::RemoveStore(OTHER_SOUTH),
        ])
        .unwrap();
    writer.apply(OWNER, Change::DeleteUser(bo)).unwrap();
    writer
        .apply(
            OTHER_ADMIN_2,
            Change::CreateUser(cashier_of(OTHER, bo, "bo")),
        )
        .unwrap();
    writer.apply(OWNER, Change::DisableUser(ANA)).unwrap();
    writer
        .unchecked_apply([
            Mutation::RemoveUser(bo),
            Mutation::PutUser(cashier_of(SHOP, bo, "bo-again")),
            Mutation::RemoveStore(StoreId::new(31)),
        ])
        .unwrap();
    let revision = writer.revision();
    assert_eq!(shop_only.sync().unwrap(), revision);
    assert_eq!(other_only.sync().unwrap(), revision);
    compare(&shop_only, SHOP, OTHER);
    compare(&other_only, OTHER, SHOP);
    assert!(shop_only.can(bo, Pos::SELL, &OnStore(SHOP, NORTH)));
    assert!(other_only.snapshot().user(bo).is_none());

    // No writes, not even to its own accounts; nothing stored, nothing audited.
    let audited = b.open().audit_records().unwrap().len();
    let err = shop_only.apply(OWNER, Change::EnableUser(ANA)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReadOnly, "{err}");
    let err = shop_only
        .unchecked_apply([Mutation::RemoveUser(ANA)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReadOnly, "{err}");
    let err = shop_only
        .dry_run(OWNER, &[Change::EnableUser(ANA)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReadOnly, "{err}");
    assert_eq!(b.open().load().unwrap().revision, revision);
    assert_eq!(b.open().audit_records().unwrap().len(), audited);

    // Reopened, the same answers.
    let reopened = Engine::open_for(b.open(), [SHOP]).unwrap();
    compare(&reopened, SHOP, OTHER);
    // A follower keeps one current, through batches of either account.
    let followed = Arc::new(Engine::open_for(b.open(), [SHOP]).unwrap());
    let follower = followed.follow(Duration::from_millis(50));
    writer
        .apply(OTHER_OWNER, Change::EnableUser(OTHER_BEA))
        .unwrap();
    writer.apply(OWNER, Change::EnableUser(ANA)).unwrap();
    followed
        .at_least(writer.revision(), Duration::from_secs(10))
        .unwrap();
    assert!(follower.take_error().is_none());
    drop(follower);
    compare(&followed, SHOP, OTHER);
    // Opened for both, a replica answers like the full one for both.
    let both = Engine::open_for(b.open(), [SHOP, OTHER]).unwrap();
    let users: Vec<UserId> = (1..=12).chain(101..=104).map(UserId::new).collect();
    for account in [SHOP, OTHER] {
        assert_eq!(
            account_view(&both.snapshot(), account, &users),
            account_view(&writer.snapshot(), account, &users)
        );
    }
}

macro_rules! conformance {
    ($module:ident, $backend:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn round_trip() {
                super::round_trip::<$backend>(concat!(stringify!($module), "_round_trip"));
            }
            #[test]
            fn restart() {
                super::restart::<$backend>(concat!(stringify!($module), "_restart"));
            }
            #[test]
            fn atomic_batches() {
                super::atomic_batches::<$backend>(concat!(stringify!($module), "_atomic"));
            }
            #[test]
            fn refused_change_leaves_nothing() {
                super::refused_change_leaves_nothing::<$backend>(concat!(
                    stringify!($module),
                    "_refused"
                ));
            }
            #[test]
            fn fault_mid_batch() {
                super::fault_mid_batch::<$backend>(concat!(stringify!($module), "_fault"));
            }
            #[test]
            fn concurrent_writers() {
                super::concurrent_writers::<$backend>(concat!(stringify!($module), "_concurrent"));
            }
            #[test]
            fn shared_stores_are_followed_by_default() {
                super::shared_stores_are_followed_by_default::<$backend>(concat!(
                    stringify!($module),
                    "_followed"
                ));
            }
            #[test]
            fn allocated_ids_never_collide() {
                super::allocated_ids_never_collide::<$backend>(concat!(
                    stringify!($module),
                    "_ids"
                ));
            }
            #[test]
            fn conflicting_edits() {
                super::conflicting_edits::<$backend>(concat!(stringify!($module), "_conflict"));
            }
            #[test]
            fn r12_seat_limit_across_replicas() {
                super::seat_limit_across_replicas::<$backend>(concat!(
                    stringify!($module),
                    "_seats"
                ));
            }
            #[test]
            fn r11_single_owner_across_replicas() {
                super::single_owner_across_replicas::<$backend>(concat!(
                    stringify!($module),
                    "_owner"
                ));
            }
            #[test]
            fn r12_seat_race_between_replicas() {
                super::seat_race::<$backend>(concat!(stringify!($module), "_seat_race"));
            }
            #[test]
            fn stale_forms() {
                super::stale_forms::<$backend>(concat!(stringify!($module), "_stale"));
            }
            #[test]
            fn followers_poll_when_notifications_are_lost() {
                super::followers_poll_when_notifications_are_lost::<$backend>(concat!(
                    stringify!($module),
                    "_deaf"
                ));
            }
            #[test]
            fn lagging_replica_writes() {
                super::lagging_replica_writes::<$backend>(concat!(stringify!($module), "_lagging"));
            }
            #[test]
            fn forms_survive_a_restart() {
                super::forms_survive_a_restart::<$backend>(concat!(
                    stringify!($module),
                    "_forms_restart"
                ));
            }
            #[test]
            fn followers_and_revisions() {
                super::followers_and_revisions::<$backend>(concat!(stringify!($module), "_follow"));
            }
            #[test]
            fn outlets_and_plan() {
                super::outlets_and_plan::<$backend>(concat!(stringify!($module), "_outlets"));
            }
            #[test]
            fn sources_and_channels() {
                super::sources_and_channels::<$backend>(concat!(stringify!($module), "_sources"));
            }
            #[test]
            fn partitioned_replicas_answer_like_a_full_one_for_their_accounts() {
                super::partitioned_replicas::<$backend>(concat!(stringify!($module), "_part"));
            }
            #[test]
            fn inside_tokio() {
                super::inside_tokio::<$backend>(concat!(stringify!($module), "_tokio"));
            }
            #[test]
            fn audit_pages_match_the_reference_while_writing() {
                super::trail::audit_pages_match_the_reference_while_writing::<$backend>(concat!(
                    stringify!($module),
                    "_audit_pages"
                ));
            }
            #[test]
            fn audit_cursors_are_bound_to_their_query() {
                super::trail::audit_cursors_are_bound_to_their_query::<$backend>(concat!(
                    stringify!($module),
                    "_audit_cursors"
                ));
            }
            #[test]
            fn pruning_keeps_followers_right() {
                super::trail::pruning_keeps_followers_right::<$backend>(concat!(
                    stringify!($module),
                    "_pruning"
                ));
            }
        }
    };
}

conformance!(memory, MemoryBackend);
#[cfg(feature = "sqlite")]
conformance!(sqlite, SqliteBackend);
#[cfg(feature = "postgres")]
conformance!(postgres, PgBackend);

#[cfg(feature = "sqlite")]
mod sqlite_schema {
    use super::*;
    use shopguard::storage::SqliteStorage;

    #[test]
    fn a_new_file_gets_the_current_schema_version_and_reopening_keeps_it() {
        let b = SqliteBackend::fresh("schema_version");
        let s = b.open();
        assert_eq!(s.schema_version().unwrap(), 3);
        drop(s);
        assert_eq!(b.open().schema_version().unwrap(), 3);
    }

    /// A file of schema version 2 (before id sequences) is migrated on open, keeps its
    /// records, and allocates above them.
    #[test]
    fn a_file_of_version_2_is_migrated_and_allocates_above_its_records() {
        let b = SqliteBackend::fresh("schema_v2");
        let e = open_engine(&b);
        e.unchecked_apply(world()).unwrap();
        let before = state(&e.snapshot());
        drop(e);
        let conn = rusqlite::Connection::open(&b.0).unwrap();
        conn.execute_batch(
            "DROP TABLE shopguard_sequence;
             UPDATE shopguard_meta SET value = 2 WHERE name = 'schema_version';",
        )
        .unwrap();
        let e = open_engine(&b);
        assert_eq!(state(&e.snapshot()), before);
        let id: UserId = e.next_id().unwrap();
        assert_eq!(id, UserId::new(ANA.get() + 1));
        assert_eq!(b.open().schema_version().unwrap(), 3);
    }

    #[test]
    fn a_file_from_a_newer_release_is_refused_untouched() {
        let b = SqliteBackend::fresh("schema_newer");
        drop(b.open());
        let conn = rusqlite::Connection::open(&b.0).unwrap();
        conn.execute(
            "UPDATE shopguard_meta SET value = 99 WHERE name = 'schema_version'",
            [],
        )
        .unwrap();
        let err = SqliteStorage::open(&b.0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(err.to_string().contains("storage failed"));
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("schema version 99"), "{source}");
        let version: i64 = conn
            .query_row(
                "SELECT value FROM shopguard_meta WHERE name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, 99);
    }

    #[test]
    fn a_corrupt_head_revision_is_refused_on_open() {
        let b = SqliteBackend::fresh("corrupt_head");
        open_engine(&b).unchecked_apply(world()).unwrap();
        let conn = rusqlite::Connection::open(&b.0).unwrap();
        conn.execute(
            "UPDATE shopguard_meta SET value = -1 WHERE name = 'head'",
            [],
        )
        .unwrap();
        let err = Engine::<Pos>::open(b.open()).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("corrupt stored revision -1"), "{source}");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_storage_error() {
        let b = SqliteBackend::fresh("not_a_db");
        std::fs::write(&b.0, b"name,email\nana,ana@example.com\n".repeat(200)).unwrap();
        let err = SqliteStorage::open(&b.0).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
    }

    #[test]
    fn a_corrupt_stored_record_is_reported_and_loads_nothing() {
        let b = SqliteBackend::fresh("corrupt");
        let e = open_engine(&b);
        e.unchecked_apply(world()).unwrap();
        drop(e);
        let conn = rusqlite::Connection::open(&b.0).unwrap();
        // A role whose permission mask has bits no catalog flag has.
        conn.execute(
            "UPDATE shopguard_object
             SET body = json_set(body, '$.PutRole.permissions', 1048576)
             WHERE kind = 4 AND id = 3",
            [],
        )
        .unwrap();
        let changed: i64 = conn
            .query_row(
                "SELECT count(*) FROM shopguard_object WHERE body LIKE '%1048576%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(changed, 1);
        let err = Engine::<Pos>::open(b.open()).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("cannot decode stored object"), "{source}");
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_rows_with_permission_masks_still_load() {
    old_masks_still_load::<SqliteBackend>("old_masks", |b| {
        let conn = rusqlite::Connection::open(&b.0).unwrap();
        let mut n = 0;
        for (table, column, key) in [
            ("shopguard_object", "body", "rowid"),
            ("shopguard_batch", "mutations", "revision"),
            ("shopguard_audit", "record", "seq"),
        ] {
            let rows: Vec<(i64, String)> = conn
                .prepare(&format!("SELECT {key}, {column} FROM {table}"))
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for (k, body) in rows {
                let (old, changed) = with_masks(&body);
                if changed > 0 {
                    assert!(old.contains("\"permissions\":"), "{old}");
                    conn.execute(
                        &format!("UPDATE {table} SET {column} = ?1 WHERE {key} = ?2"),
                        rusqlite::params![old, k],
                    )
                    .unwrap();
                    n += changed;
                }
            }
        }
        // The admin role holds every permission of the catalog: its old row reads 255.
        let admin: String = conn
            .query_row(
                "SELECT body FROM shopguard_object WHERE kind = 4 AND id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            admin.contains(&format!("\"permissions\":{}", Pos::all().bits())),
            "{admin}"
        );
        n
    });
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_rows_with_permission_masks_still_load() {
    old_masks_still_load::<PgBackend>("old_masks", |b| {
        let mut client = ::postgres::Client::connect(&b.url, ::postgres::NoTls).unwrap();
        let mut n = 0;
        for (table, column, key) in [
            ("shopguard_object", "body", "ctid"),
            ("shopguard_batch", "mutations", "ctid"),
            ("shopguard_audit", "record", "ctid"),
        ] {
            let rows = client
                .query(
                    &format!(
                        "SELECT {key}::text, {column}::text FROM {}.{table}",
                        b.schema
                    ),
                    &[],
                )
                .unwrap();
            for row in rows {
                let (k, body): (String, String) = (row.get(0), row.get(1));
                let (old, changed) = with_masks(&body);
                if changed > 0 {
                    client
                        .execute(
                            &format!(
                                "UPDATE {}.{table} SET {column} = $1::text::jsonb
                                 WHERE {key} = $2::text::tid",
                                b.schema
                            ),
                            &[&old, &k],
                        )
                        .unwrap();
                    n += changed;
                }
            }
        }
        n
    });
}

#[cfg(feature = "postgres")]
mod postgres_schema {
    use super::*;
    use shopguard::storage::PgStorage;

    #[test]
    fn a_new_schema_gets_the_current_version_and_a_newer_one_is_refused() {
        let b = PgBackend::fresh("schema_version");
        let s = b.open();
        assert_eq!(s.schema_version().unwrap(), 3);
        drop(s);
        let mut client = ::postgres::Client::connect(&b.url, ::postgres::NoTls).unwrap();
        client
            .batch_execute(&format!(
                "UPDATE {}.shopguard_meta SET value = 99 WHERE name = 'schema_version'",
                b.schema
            ))
            .unwrap();
        let err = PgStorage::connect(&b.url, &b.schema).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("schema version 99"), "{source}");
    }

    /// A schema of version 2 (before id sequences) is migrated on connect, keeps its records,
    /// and allocates above them.
    #[test]
    fn a_schema_of_version_2_is_migrated_and_allocates_above_its_records() {
        let b = PgBackend::fresh("schema_v2");
        let e = open_engine(&b);
        e.unchecked_apply(world()).unwrap();
        let before = state(&e.snapshot());
        drop(e);
        let mut client = ::postgres::Client::connect(&b.url, ::postgres::NoTls).unwrap();
        client
            .batch_execute(&format!(
                "DROP TABLE {s}.shopguard_sequence;
                 UPDATE {s}.shopguard_meta SET value = 2 WHERE name = 'schema_version';",
                s = b.schema
            ))
            .unwrap();
        let e = open_engine(&b);
        assert_eq!(state(&e.snapshot()), before);
        let id: UserId = e.next_id().unwrap();
        assert_eq!(id, UserId::new(ANA.get() + 1));
        assert_eq!(b.open().schema_version().unwrap(), 3);
    }

    #[test]
    fn bad_parameters_are_typed_errors() {
        let url = pg_url();
        for schema in [
            "",
            "Upper",
            "1st",
            "semi;colon",
            "a-b",
            "pg_mine",
            &"x".repeat(41),
        ] {
            let err = PgStorage::connect(&url, schema).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{schema:?}");
            assert_eq!(err.field(), Some("schema"));
        }
        let err = PgStorage::connect("host=127.0.0.1 port=notaport", "s").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        // Reserved words are fine: every name is quoted.
        let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        client
            .batch_execute("DROP SCHEMA IF EXISTS \"user\" CASCADE")
            .unwrap();
        let s = PgStorage::connect(&url, "user").unwrap();
        assert_eq!(s.schema_version().unwrap(), 3);
        // Nothing listens on port 1.
        let err = PgStorage::connect("host=127.0.0.1 port=1 connect_timeout=2", "s").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
    }

    /// A TCP proxy in front of the server. Once armed, at the first client packet holding a
    /// `COMMIT` it cuts the client off: after forwarding the packet (the server commits, the
    /// answer is lost) or without (the server never hears it).
    struct CommitCutter {
        port: u16,
        armed: Arc<std::sync::atomic::AtomicBool>,
        fired: Arc<std::sync::atomic::AtomicBool>,
    }

    impl CommitCutter {
        fn start(upstream: u16, forward: bool) -> Self {
            use std::io::{Read, Write};
            use std::net::{Shutdown, TcpListener, TcpStream};
            use std::sync::atomic::{AtomicBool, Ordering};

            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let armed = Arc::new(AtomicBool::new(false));
            let fired = Arc::new(AtomicBool::new(false));
            let (armed2, fired2) = (Arc::clone(&armed), Arc::clone(&fired));
            thread::spawn(move || {
                for client in listener.incoming() {
                    let Ok(mut client) = client else { return };
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    let (mut client_r, mut server_w) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let (armed, fired) = (Arc::clone(&armed2), Arc::clone(&fired2));
                    // Set when the COMMIT is cut: from then on nothing reaches the client.
                    let cut = Arc::new(AtomicBool::new(false));
                    let cut2 = Arc::clone(&cut);
                    thread::spawn(move || {
                        let mut buf = vec![0_u8; 64 * 1024];
                        loop {
                            let n = match client_r.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let chunk = &buf[..n];
                            let is_commit = chunk.windows(6).any(|w| w == b"COMMIT");
                            if is_commit && armed.swap(false, Ordering::SeqCst) {
                                cut.store(true, Ordering::SeqCst);
                                if forward {
                                    let _ = server_w.write_all(chunk);
                                    // Let the server read it before the client is cut off:
                                    // the answer is what gets lost.
                                    thread::sleep(Duration::from_millis(100));
                                }
                                fired.store(true, Ordering::SeqCst);
                                let _ = client_r.shutdown(Shutdown::Both);
                                // The server side stays open: its backend lives on until the
                                // client asks for it to be ended.
                                return;
                            }
                            if server_w.write_all(chunk).is_err() {
                                break;
                            }
                        }
                        let _ = server_w.shutdown(Shutdown::Both);
                    });
                    thread::spawn(move || {
                        let mut buf = vec![0_u8; 64 * 1024];
                        loop {
                            let n = match server.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if cut2.load(Ordering::SeqCst) || client.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    });
                }
            });
            CommitCutter { port, armed, fired }
        }
    }

    /// The connection string with another port.
    fn through(url: &str, port: u16) -> String {
        assert!(
            !url.contains("://"),
            "this test needs a key=value SHOPGUARD_PG, not a URL"
        );
        let mut parts: Vec<String> = url
            .split_whitespace()
            .filter(|p| !p.starts_with("port=") && !p.starts_with("host="))
            .map(str::to_owned)
            .collect();
        parts.push("host=127.0.0.1".to_owned());
        parts.push(format!("port={port}"));
        parts.join(" ")
    }

    fn server_port(url: &str) -> u16 {
        url.split_whitespace()
            .find_map(|p| p.strip_prefix("port="))
            .map_or(5432, |p| p.parse().unwrap())
    }

    #[test]
    fn a_commit_whose_connection_drops_is_resolved_by_asking_the_server() {
        use std::sync::atomic::Ordering;
        let b = PgBackend::fresh("in_doubt");
        open_engine(&b).unchecked_apply(world()).unwrap();
        for forward in [true, false] {
            let cutter = CommitCutter::start(server_port(&b.url), forward);
            let url = through(&b.url, cutter.port);
            let e = Engine::<Pos>::open(PgStorage::connect(&url, &b.schema).unwrap()).unwrap();
            let before = e.revision();
            let change = if forward {
                Change::DisableUser(ANA)
            } else {
                Change::EnableUser(ANA)
            };
            cutter.armed.store(true, Ordering::SeqCst);
            let outcome = e.apply(OWNER, change);
            assert!(
                cutter.fired.load(Ordering::SeqCst),
                "the proxy never cut a COMMIT"
            );
            let stored = open_engine(&b);
            if forward {
                // The server committed; its answer was lost. Asked afterwards, it says so.
                let applied = outcome.unwrap();
                assert_eq!(stored.revision(), applied.revision());
                assert!(!stored.snapshot().user(ANA).unwrap().is_enabled());
            } else {
                // The server never got the COMMIT: the old session is ended, nothing stored.
                let err = outcome.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
                assert_eq!(stored.revision(), before);
                assert!(!stored.snapshot().user(ANA).unwrap().is_enabled());
            }
            assert_eq!(state(&e.snapshot()), state(&stored.snapshot()));
        }
    }

    #[test]
    fn replicas_starting_together_migrate_once() {
        let b = PgBackend::fresh("start_together");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (url, schema) = (b.url.clone(), b.schema.clone());
                thread::spawn(move || PgStorage::connect(&url, &schema).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        assert_eq!(b.open().schema_version().unwrap(), 3);
    }
}

#[test]
fn a_change_based_on_a_revision_before_a_bulk_load_is_refused_as_too_old() {
    let e = Engine::<Pos>::new();
    e.unchecked_apply(world()).unwrap();
    let form = e.snapshot();
    // A bulk load writes more objects than the engine remembers (disabled staff: no seats).
    e.unchecked_apply((1_000..21_000).map(|id| {
        Mutation::PutUser(cashier(UserId::new(id), &format!("bulk{id}"), NORTH).with_enabled(false))
    }))
    .unwrap();
    let change = || vec![Change::DisableUser(ANA)];
    let err = e
        .apply_based_on(OWNER, form.revision(), change())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.to_string().contains("cannot tell what changed"),
        "{err}"
    );
    assert!(e.snapshot().user(ANA).unwrap().is_enabled());
    // Based on the state after the load, the same change goes through.
    e.apply_based_on(OWNER, e.revision(), change()).unwrap();
    assert!(!e.snapshot().user(ANA).unwrap().is_enabled());
}

#[cfg(feature = "postgres-tls")]
mod postgres_tls {
    use super::*;
    use shopguard::storage::{PgStorage, PgTls};

    /// The test server's certificate (`.ci/postgres` writes it). Missing is a failure.
    fn test_ca() -> Vec<u8> {
        let path = std::env::var("SHOPGUARD_PG_CA").unwrap_or_else(|_| {
            panic!(
                "the `postgres-tls` feature is on, so its tests need the server's certificate: \
                 set SHOPGUARD_PG_CA (`.ci/postgres` writes it to /tmp/shopguard-pg/server.crt)"
            )
        });
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    /// How many of the connections named after `schema` are encrypted, and how many there are.
    fn encrypted(url: &str, schema: &str) -> (i64, i64) {
        let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*)
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                 WHERE a.application_name LIKE $1",
                &[&format!("shopguard-{schema}-%")],
            )
            .unwrap();
        (row.get(0), row.get(1))
    }

    #[test]
    fn an_engine_over_tls_works_and_every_connection_is_encrypted() {
        let b = PgBackend::fresh("tls");
        let tls = PgTls::with_root_certificate(&test_ca()).unwrap();
        let storage = PgStorage::connect_tls(&b.url, &b.schema, &tls).unwrap();
        let e = Arc::new(Engine::<Pos>::open(storage).unwrap());
        e.unchecked_apply(world()).unwrap();
        let applied = e.apply(OWNER, Change::DisableUser(ANA)).unwrap();
        // Give the listener a moment to connect, then count: worker and listener, both TLS.
        let follower = e.follow(Duration::from_millis(50));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut seen = encrypted(&b.url, &b.schema);
        while seen.1 < 2 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
            seen = encrypted(&b.url, &b.schema);
        }
        assert_eq!(seen, (2, 2));
        drop(follower);
        // Plain handles read what went over TLS.
        let plain = open_engine(&b);
        assert_eq!(plain.revision(), applied.revision());
        assert_eq!(state(&plain.snapshot()), state(&e.snapshot()));
    }

    #[test]
    fn an_untrusted_server_certificate_is_refused() {
        let b = PgBackend::fresh("tls_untrusted");
        // The test server's certificate is self-signed: the system's roots do not vouch for it.
        let tls = PgTls::system_roots().unwrap();
        let err = PgStorage::connect_tls(&b.url, &b.schema, &tls).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("certificate"), "{source}");
    }

    #[test]
    fn tls_settings_are_checked() {
        let err = PgTls::with_root_certificate(b"not a certificate").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.field(), Some("root certificate"));
        // Asking for TLS without a TLS connector fails closed instead of going in the clear.
        let url = format!("{} sslmode=require", pg_url());
        let err = PgStorage::connect(&url, "t_tls_required").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
    }
}

/// Two replicas on one store, driven by random changes from random admins, with random
/// catch-ups in between, so that most writes start from a stale state. After every step the
/// rules hold on every replica; at the end both replicas, a fresh engine loading the store and
/// a fresh engine replaying the store's batches one by one all show the same state.
mod replica_props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        Apply {
            on_b: bool,
            actor: usize,
            kind: u8,
            target: usize,
        },
        Sync {
            on_b: bool,
        },
    }

    const ACTORS: [UserId; 4] = [OWNER, ADMIN_2, ADMIN_3, ANA];
    /// Users the changes name: the world's, and three that may be created.
    const TARGETS: [u64; 7] = [1, 2, 3, 4, 10, 11, 12];

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (any::<bool>(), 0..ACTORS.len(), 0_u8..6, 0..TARGETS.len()).prop_map(
                |(on_b, actor, kind, target)| Step::Apply { on_b, actor, kind, target }
            ),
            1 => any::<bool>().prop_map(|on_b| Step::Sync { on_b }),
        ]
    }

    fn change(engine: &Engine<Pos>, kind: u8, target: u64) -> Change<Pos> {
        let id = UserId::new(target);
        match kind {
            0 => Change::DisableUser(id),
            1 => Change::EnableUser(id),
            2 => Change::CreateUser(cashier(id, &format!("user{target}"), NORTH)),
            3 => Change::TransferOwnership { to: id },
            4 => match engine.snapshot().user(id) {
                // An edit of what this replica shows now: a new e-mail.
                Some(u) => Change::UpdateUser(
                    u.clone()
                        .with_email(&format!("u{target}.{}@shop.example", engine.revision())),
                ),
                None => Change::DeleteUser(id),
            },
            _ => Change::DeleteUser(id),
        }
    }

    /// R11 and R12 on one replica's view.
    fn rules_hold(s: &Snapshot<Pos>) -> Result<(), TestCaseError> {
        let owners: Vec<&User> = s.users(SHOP).filter(|u| u.is_owner()).collect();
        prop_assert_eq!(owners.len(), 1, "exactly one owner");
        prop_assert!(owners[0].is_enabled(), "the owner is enabled");
        prop_assert!(enabled_users(s) <= SEATS as usize, "seat limit");
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn replicas_converge_and_keep_the_rules(steps in proptest::collection::vec(step(), 1..40)) {
            let store = Arc::new(MemoryStorage::<Pos>::new());
            let a = Engine::open(Arc::clone(&store)).unwrap();
            a.unchecked_apply(world()).unwrap();
            let b = Engine::open(Arc::clone(&store)).unwrap();
            let mut last_revision = a.revision();
            for step in &steps {
                match *step {
                    Step::Apply { on_b, actor, kind, target } => {
                        let engine = if on_b { &b } else { &a };
                        let before = store.load().unwrap().revision;
                        let change = change(engine, kind, TARGETS[target]);
                        match engine.apply(ACTORS[actor], change) {
                            Ok(applied) => {
                                // Stored as the next revision of the store, never reused.
                                prop_assert!(applied.revision() > last_revision);
                                last_revision = applied.revision();
                                prop_assert_eq!(store.load().unwrap().revision, applied.revision());
                                prop_assert_eq!(engine.revision(), applied.revision());
                            }
                            Err(_) => {
                                // Refused: nothing stored.
                                prop_assert_eq!(store.load().unwrap().revision, before);
                            }
                        }
                    }
                    Step::Sync { on_b } => {
                        let engine = if on_b { &b } else { &a };
                        engine.sync().unwrap();
                        prop_assert_eq!(engine.revision(), store.load().unwrap().revision);
                    }
                }
                rules_hold(&a.snapshot())?;
                rules_hold(&b.snapshot())?;
            }
            a.sync().unwrap();
            b.sync().unwrap();
            let loaded = Engine::open(Arc::clone(&store)).unwrap();
            // Replaying every stored batch in order on an empty engine gives the same state.
            let replayed = Engine::<Pos>::new();
            for batch in store.changes_since(0).unwrap() {
                replayed.unchecked_apply(batch.mutations).unwrap();
            }
            let want = state(&loaded.snapshot());
            prop_assert_eq!(state(&a.snapshot()), want.clone());
            prop_assert_eq!(state(&b.snapshot()), want.clone());
            // The replay numbers its batches 1, 2, …: compare everything but the revision line.
            let strip = |s: String| s.lines().skip(1).collect::<Vec<_>>().join("\n");
            prop_assert_eq!(strip(state(&replayed.snapshot())), strip(want));
            rules_hold(&loaded.snapshot())?;
        }
    }

    #[derive(Clone, Debug)]
    enum PartStep {
        /// A change by an actor of `SHOP` (or `OTHER`) on the one full writer.
        Apply {
            other: bool,
            actor: usize,
            kind: u8,
            target: usize,
        },
        /// A store put into (or removed from) an account, bypassing authorization.
        Store {
            other: bool,
            remove: bool,
            store: usize,
        },
        /// A partitioned replica catches up.
        Sync { other: bool },
        /// A partitioned replica is opened again.
        Reopen { other: bool },
    }

    const PART_ACTORS: [[UserId; 3]; 2] = [
        [OWNER, ADMIN_2, ANA],
        [OTHER_OWNER, OTHER_ADMIN_2, OTHER_BEA],
    ];
    /// Users the changes name, shared by both accounts: an id deleted in one may be created
    /// in the other.
    const PART_TARGETS: [u64; 10] = [2, 3, 4, 102, 103, 104, 10, 11, 12, 13];
    /// The stores the store steps put or remove, in either account.
    const PART_STORES: [u64; 3] = [30, 31, 32];

    fn part_step() -> impl Strategy<Value = PartStep> {
        prop_oneof![
            4 => (any::<bool>(), 0..3_usize, 0_u8..5, 0..PART_TARGETS.len()).prop_map(
                |(other, actor, kind, target)| PartStep::Apply { other, actor, kind, target }
            ),
            1 => (any::<bool>(), any::<bool>(), 0..PART_STORES.len())
                .prop_map(|(other, remove, store)| PartStep::Store { other, remove, store }),
            2 => any::<bool>().prop_map(|other| PartStep::Sync { other }),
            1 => any::<bool>().prop_map(|other| PartStep::Reopen { other }),
        ]
    }

    fn part_change(engine: &Engine<Pos>, account: AccountId, kind: u8, target: u64) -> Change<Pos> {
        let id = UserId::new(target);
        match kind {
            0 => Change::DisableUser(id),
            1 => Change::EnableUser(id),
            2 => Change::CreateUser(cashier_of(account, id, &format!("user{target}"))),
            3 => match engine.snapshot().user(id) {
                Some(u) => Change::UpdateUser(
                    u.clone()
                        .with_email(&format!("u{target}.{}@edit.example", engine.revision())),
                ),
                None => Change::DeleteUser(id),
            },
            _ => Change::DeleteUser(id),
        }
    }

    /// A partitioned replica for `mine` answers like the full writer for `mine`, and holds
    /// nothing of `theirs`.
    fn part_agrees(
        part: &Engine<Pos>,
        writer: &Engine<Pos>,
        mine: AccountId,
        theirs: AccountId,
    ) -> Result<(), TestCaseError> {
        let full = writer.snapshot();
        let users: Vec<UserId> = (1..=4)
            .chain(10..=13)
            .chain(101..=104)
            .map(UserId::new)
            .collect();
        let snapshot = part.snapshot();
        prop_assert_eq!(snapshot.revision(), full.revision());
        prop_assert_eq!(
            account_view(&snapshot, mine, &users),
            account_view(&full, mine, &users)
        );
        prop_assert!(snapshot.account(theirs).is_none());
        prop_assert_eq!(snapshot.users(theirs).count(), 0);
        prop_assert_eq!(snapshot.stores(theirs).count(), 0);
        for u in full.users(theirs) {
            prop_assert!(snapshot.user(u.id()).is_none());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn partitioned_replicas_follow_their_accounts_only(
            steps in proptest::collection::vec(part_step(), 1..40)
        ) {
            let store = Arc::new(MemoryStorage::<Pos>::new());
            let writer = Engine::open(Arc::clone(&store)).unwrap();
            writer.unchecked_apply(world()).unwrap();
            writer.unchecked_apply(other_world()).unwrap();
            let accounts = [SHOP, OTHER];
            let mut parts = [
                Engine::open_for(Arc::clone(&store), [SHOP]).unwrap(),
                Engine::open_for(Arc::clone(&store), [OTHER]).unwrap(),
            ];
            for step in &steps {
                match *step {
                    PartStep::Apply { other, actor, kind, target } => {
                        let account = accounts[usize::from(other)];
                        let change = part_change(&writer, account, kind, PART_TARGETS[target]);
                        let _ = writer.apply(PART_ACTORS[usize::from(other)][actor], change);
                    }
                    PartStep::Store { other, remove, store } => {
                        let id = StoreId::new(PART_STORES[store]);
                        let m = if remove {
                            Mutation::RemoveStore(id)
                        } else {
                            let account = accounts[usize::from(other)];
                            Mutation::PutStore(Store::new(id, account, "Pop-up"))
                        };
                        // Refused when the id is another account's or still in use.
                        let _ = writer.unchecked_apply([m]);
                    }
                    PartStep::Sync { other } => {
                        let i = usize::from(other);
                        prop_assert_eq!(parts[i].sync().unwrap(), writer.revision());
                        part_agrees(&parts[i], &writer, accounts[i], accounts[1 - i])?;
                    }
                    PartStep::Reopen { other } => {
                        let i = usize::from(other);
                        parts[i] = Engine::open_for(Arc::clone(&store), [accounts[i]]).unwrap();
                        part_agrees(&parts[i], &writer, accounts[i], accounts[1 - i])?;
                    }
                }
            }
            for i in 0..2 {
                parts[i].sync().unwrap();
                part_agrees(&parts[i], &writer, accounts[i], accounts[1 - i])?;
            }
        }
    }
}
