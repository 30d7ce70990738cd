//! `AsyncEngine` (feature `tokio`): a write waiting on a slow database leaves a
//! `current_thread` runtime free to run its other tasks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shopguard::audit::AuditRecord;
use shopguard::catalog::pos::{self, Pos};
use shopguard::storage::{Batch, Commit, Loaded, MemoryStorage, Storage};
use shopguard::{
    Access, Account, AccountId, AsyncEngine, Change, Engine, Error, Grant, Mutation, RoleId, User,
    UserId,
};

/// How long a slow commit takes.
const COMMIT: Duration = Duration::from_millis(400);

/// A store whose commits take [`COMMIT`], once `slow` is set: a database under load.
#[derive(Debug)]
struct Slow {
    inner: MemoryStorage<Pos>,
    slow: AtomicBool,
}

impl Storage<Pos> for Slow {
    fn load(&self) -> Result<Loaded<Pos>, Error> {
        self.inner.load()
    }
    fn commit(&self, commit: &Commit<'_, Pos>) -> Result<(), Error> {
        if self.slow.load(Ordering::SeqCst) {
            std::thread::sleep(COMMIT);
        }
        self.inner.commit(commit)
    }
    fn changes_since(&self, revision: u64) -> Result<Vec<Batch<Pos>>, Error> {
        self.inner.changes_since(revision)
    }
    fn record_refused(&self, records: &[AuditRecord<Pos>]) -> Result<(), Error> {
        self.inner.record_refused(records)
    }
    fn audit_records(&self) -> Result<Vec<AuditRecord<Pos>>, Error> {
        self.inner.audit_records()
    }
}

fn shop() -> (Arc<Engine<Pos>>, Arc<Slow>) {
    let store = Arc::new(Slow {
        inner: MemoryStorage::new(),
        slow: AtomicBool::new(false),
    });
    let engine = Engine::open(Arc::clone(&store)).unwrap();
    let shop = AccountId::new(1);
    engine
        .unchecked_apply([
            Mutation::PutAccount(Account::new(shop, "Corner Shop")),
            Mutation::PutRole(pos::admin(RoleId::new(1), shop)),
            Mutation::PutUser(
                User::new(UserId::new(1), shop, "owner", "owner@shop.example")
                    .with_owner(true)
                    .with_grant(Grant::new(RoleId::new(1), Access::All))
                    .with_sources(Access::All)
                    .with_channels(Access::All),
            ),
        ])
        .unwrap();
    store.slow.store(true, Ordering::SeqCst);
    (Arc::new(engine), store)
}

fn invite(id: u64) -> Change<Pos> {
    Change::CreateUser(
        User::new(
            UserId::new(id),
            AccountId::new(1),
            &format!("u{id}"),
            &format!("u{id}@shop.example"),
        )
        .with_grant(Grant::new(RoleId::new(1), Access::All)),
    )
}

/// Runs `write` on a `current_thread` runtime beside a task ticking every 2 ms; returns the
/// longest the ticker waited between two ticks while the write ran, and how many ticks it got.
fn longest_gap_during<F: std::future::Future<Output = ()>>(
    write: impl FnOnce() -> F,
) -> (Duration, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let ticks = Arc::new(Mutex::new(vec![Instant::now()]));
        let done = Arc::new(AtomicBool::new(false));
        let ticker = tokio::spawn({
            let (ticks, done) = (Arc::clone(&ticks), Arc::clone(&done));
            async move {
                while !done.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    ticks.lock().unwrap().push(Instant::now());
                }
            }
        });
        // Let the ticker start.
        tokio::time::sleep(Duration::from_millis(10)).await;
        write().await;
        done.store(true, Ordering::SeqCst);
        ticker.await.unwrap();
        let ticks = ticks.lock().unwrap();
        let gap = ticks.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        (gap, ticks.len())
    })
}

#[test]
fn an_async_write_leaves_a_current_thread_runtime_free_during_a_slow_commit() {
    let (engine, _store) = shop();
    let writes = AsyncEngine::new(Arc::clone(&engine));
    let start = Instant::now();
    let (gap, ticks) = longest_gap_during(|| async {
        let applied = writes.apply(UserId::new(1), invite(2)).await.unwrap();
        assert_eq!(applied.revision(), 2);
    });
    let took = start.elapsed();
    eprintln!("async write: {took:?}, longest gap between 2 ms ticks {gap:?}, {ticks} ticks");
    assert!(took >= COMMIT);
    // The timer kept ticking while the commit slept on the blocking pool.
    assert!(gap < Duration::from_millis(100), "{gap:?}");
    assert!(ticks >= 40, "{ticks}");
    assert!(engine.snapshot().user(UserId::new(2)).is_some());
}

/// The control: the engine's blocking call on the runtime's one thread stops the timer for
/// the whole commit, which is what the test above would see if the async API blocked.
#[test]
fn a_blocking_write_on_the_runtime_thread_stops_its_timer() {
    let (engine, _store) = shop();
    let (gap, _) = longest_gap_during(|| async {
        engine.apply(UserId::new(1), invite(2)).unwrap();
    });
    assert!(gap >= COMMIT, "{gap:?}");
}

#[test]
fn every_async_write_gives_what_the_blocking_call_gives() {
    let (engine, store) = shop();
    store.slow.store(false, Ordering::SeqCst);
    let writes = AsyncEngine::new(Arc::clone(&engine));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = writes
            .apply_all(UserId::new(1), vec![invite(2), invite(3)])
            .await;
        assert_eq!(a.unwrap().events().len(), 2);
        let stale = writes
            .apply_based_on(UserId::new(1), 1, vec![Change::DisableUser(UserId::new(2))])
            .await
            .unwrap_err();
        assert_eq!(stale.kind(), shopguard::ErrorKind::Conflict);
        let refused = writes.apply(UserId::new(99), invite(4)).await.unwrap_err();
        assert_eq!(refused.kind(), shopguard::ErrorKind::InvalidActor);
        let seen = writes
            .at_least(engine.revision(), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(seen.revision(), engine.revision());
        // The store reads its audit through the default `audit_query`: newest first, the
        // unknown actor's attempt in no account.
        let query = shopguard::audit::AuditQuery::new(AccountId::new(1)).limit(2);
        let page = writes.query_audit(query.clone()).await.unwrap();
        assert_eq!(page, engine.query_audit(&query).unwrap());
        let changes: Vec<_> = page.entries.iter().map(|e| &e.record.change).collect();
        assert_eq!(changes, [&Change::DisableUser(UserId::new(2)), &invite(3)]);
        assert!(page.next.is_some());
        // The engine it writes to, and ids from its store: new, distinct, and not handed out
        // again by the blocking call (found by mutation testing).
        assert!(Arc::ptr_eq(writes.engine(), &engine));
        let ids: Vec<UserId> = writes.next_ids(3).await.unwrap();
        let more: Vec<UserId> = engine.next_ids(3).unwrap();
        let mut all: Vec<UserId> = ids.iter().chain(&more).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 6, "{ids:?} {more:?}");
        assert!(all.iter().all(|id| engine.snapshot().user(*id).is_none()));
    });
}

#[cfg(feature = "csv")]
#[test]
fn an_async_upload_applies_the_file() {
    let (engine, store) = shop();
    store.slow.store(false, Ordering::SeqCst);
    let writes = AsyncEngine::new(Arc::clone(&engine));
    let file = "Username,E-mail,Enabled,Timezone,Role,Stores,Action\n\
                ana,ana@shop.example,1,UTC,Admin,All,Create\n";
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut next = 10;
    let up = rt
        .block_on(writes.upload_users_csv(
            UserId::new(1),
            file.as_bytes().to_vec(),
            shopguard::import::CsvLimits::default(),
            move || {
                next += 1;
                UserId::new(next)
            },
        ))
        .unwrap();
    assert_eq!(up.created(), 1);
    assert_eq!(
        engine.snapshot().user(UserId::new(11)).map(User::username),
        Some("ana")
    );
}
